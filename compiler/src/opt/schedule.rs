//! Scheduling into rounds: a gate's round is the number of interactive gates on the
//! longest path to it. Local gates of depth `d` run in round `d` before its batch;
//! interactive gates of depth `d` form the batch of round `d - 1`. Within a section
//! gates keep their topological order, and wires are renumbered in execution order, as
//! the bytecode requires.

use mpc_bytecode::{OutputDesc, Round, WireId};

use crate::circuit::Circuit;

/// The rounds of `c` and its outputs with their wires renumbered to match.
pub fn schedule(c: &Circuit) -> (Vec<Round>, Vec<OutputDesc>) {
    let depths = c.depths();
    let round_count = c
        .gates
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if c.is_interactive(i) {
                depths[i]
            } else {
                depths[i] + 1
            }
        })
        .max()
        .unwrap_or(0) as usize;
    // (round, interactive?) of each gate; interactive gates of depth d go to round d - 1.
    let slot = |i: usize| -> (usize, bool) {
        if c.is_interactive(i) {
            (depths[i] as usize - 1, true)
        } else {
            (depths[i] as usize, false)
        }
    };
    let mut rounds: Vec<Round> = (0..round_count).map(|_| Round::default()).collect();
    let mut order: Vec<(usize, bool)> = Vec::with_capacity(c.gates.len());
    for i in 0..c.gates.len() {
        let (r, interactive) = slot(i);
        order.push((r, interactive));
        let section = if interactive {
            &mut rounds[r].interactive
        } else {
            &mut rounds[r].local
        };
        section.push(c.gates[i]);
    }
    // The new number of each wire: its position in execution order.
    let mut starts = Vec::with_capacity(round_count * 2);
    let mut next = 0u32;
    for round in &rounds {
        starts.push(next);
        next += round.local.len() as u32;
        starts.push(next);
        next += round.interactive.len() as u32;
    }
    let mut remap = vec![WireId(0); c.gates.len()];
    for (i, &(r, interactive)) in order.iter().enumerate() {
        let section = 2 * r + usize::from(interactive);
        remap[i] = WireId(starts[section]);
        starts[section] += 1;
    }
    for round in &mut rounds {
        for gate in round.local.iter_mut().chain(round.interactive.iter_mut()) {
            *gate = gate.map_operands(|w| remap[w.index()]);
        }
    }
    let outputs = c
        .outputs
        .iter()
        .map(|o| o.clone().map_wires(|w| remap[w.index()]))
        .collect();
    (rounds, outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::CircuitBuilder;
    use mpc_bytecode::{Gate, Header, OutputDesc, Program, Scalar, ValueType};

    #[test]
    fn products_wait_for_their_operands_and_wires_follow_execution_order() {
        // out = (x * y + 1) * x: two rounds of multiplication, then opening.
        let mut b = CircuitBuilder::new();
        let x = b.test_input(0, 0);
        let y = b.test_input(1, 0);
        let xy = b.push(Gate::Mul(x, y));
        let one = b.constant(1);
        let plus = b.push(Gate::Add(xy, one));
        let out = b.push(Gate::Mul(plus, x));
        let ty = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: true,
        });
        b.declare_output(OutputDesc {
            name: "out".into(),
            ty: ty.clone(),
            to: vec![],
            wires: vec![out],
        });
        let c = b.finish();
        let (rounds, outputs) = schedule(&c);
        let sections: Vec<(Vec<&str>, Vec<&str>)> = rounds
            .iter()
            .map(|r| {
                let names = |gates: &[Gate]| gates.iter().map(Gate::mnemonic).collect::<Vec<_>>();
                (names(&r.local), names(&r.interactive))
            })
            .collect();
        assert_eq!(
            sections,
            vec![
                (vec!["input", "input", "const"], vec!["mul"]),
                (vec!["add"], vec!["mul"])
            ]
        );
        // The renumbered program passes the loader's checks (operands before users,
        // batches reading only earlier wires).
        let input = |party| mpc_bytecode::InputDesc {
            party,
            name: "v".into(),
            ty: ty.clone(),
            public: false,
        };
        // `outputs` already reads the renumbered wires.
        let header = Header::new("test", "any", vec![input(0), input(1)], outputs);
        Program::new(header, rounds).expect("valid bytecode");
    }
}
