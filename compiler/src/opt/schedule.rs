//! Scheduling into rounds: a gate's round is the number of interactive gates on the
//! longest path to it. Local gates of depth `d` run in round `d` before its batch;
//! interactive gates of depth `d` form the batch of round `d - 1`. Wires are renumbered
//! in execution order, as the bytecode requires.
//!
//! Within a section, gates are grouped so that the VM finds long runs of one operation
//! whose operands advance by fixed strides (10^5 comparisons become a few hundred runs
//! of 10^5 gates rather than 10^5 copies of one comparison): local gates by their level
//! inside the section, then by their shape (the gate without its operands), each in
//! first-appearance order; the gates of a batch, which are independent, by shape.

use mpc_bytecode::{Gate, OutputDesc, Round, WireId};
use rustc_hash::FxHashMap;

use crate::circuit::Circuit;

/// The order to run the gates of one section in (indices into `gates`): by `level`,
/// then by shape in order of first appearance; stable, so equal gates keep their order.
/// Levels must be consistent with the dependencies among the gates (a gate's level
/// above its operands' in the section), so every order this gives is topological.
fn grouped_order(gates: &[usize], c: &Circuit, level: &[u32]) -> Vec<usize> {
    let mut shapes: FxHashMap<Gate, u32> = FxHashMap::default();
    let keys: Vec<(u32, u32)> = gates
        .iter()
        .map(|&i| {
            let next = shapes.len() as u32;
            let group = *shapes.entry(c.gates[i].shape()).or_insert(next);
            (level[i], group)
        })
        .collect();
    if keys.is_sorted() {
        return gates.to_vec();
    }
    let mut order: Vec<usize> = (0..gates.len()).collect();
    order.sort_by_key(|&k| keys[k]);
    order.into_iter().map(|k| gates[k]).collect()
}

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
    // The gates of each section (local, then interactive, of each round), and each
    // local gate's level within its section: 0 when it reads nothing of the section.
    let mut sections: Vec<Vec<usize>> = vec![Vec::new(); round_count * 2];
    let mut level = vec![0u32; c.gates.len()];
    for i in 0..c.gates.len() {
        let (r, interactive) = slot(i);
        if !interactive {
            level[i] = c.gates[i]
                .operands()
                .filter(|w| slot(w.index()) == (r, false))
                .map(|w| level[w.index()] + 1)
                .max()
                .unwrap_or(0);
        }
        sections[2 * r + usize::from(interactive)].push(i);
    }
    // The new number of each wire: its position in execution order.
    let mut remap = vec![WireId(0); c.gates.len()];
    let mut rounds: Vec<Round> = (0..round_count).map(|_| Round::default()).collect();
    let mut next = 0u32;
    for (k, section) in sections.iter().enumerate() {
        let mut order = grouped_order(section, c, &level);
        // Within a level, the gates of one shape by where their operands now are, so
        // that copies of one computation form runs whose operands move by fixed strides
        // (the signs of x[i] and y[i], read one pair after another, become one run over
        // the x and one over the y). A level's operands come from earlier levels and
        // sections, which are numbered by then.
        let mut start = 0;
        while start < order.len() {
            let first = order[start];
            let same = |&i: &usize| {
                level[i] == level[first] && c.gates[i].shape() == c.gates[first].shape()
            };
            let end = start + order[start..].iter().take_while(|i| same(i)).count();
            let operands_at = |&i: &usize| {
                let mut at = c.gates[i].operands().map(|w| remap[w.index()].0);
                (at.next(), at.next())
            };
            // Most groups are in order already (one copy after the other).
            if !order[start..end].is_sorted_by_key(operands_at) {
                order[start..end].sort_by_key(operands_at);
            }
            for &i in &order[start..end] {
                remap[i] = WireId(next);
                next += 1;
            }
            start = end;
        }
        let gates = order.iter().map(|&i| c.gates[i]);
        if k % 2 == 0 {
            rounds[k / 2].local.extend(gates);
        } else {
            rounds[k / 2].interactive.extend(gates);
        }
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

    #[test]
    fn copies_of_one_gate_read_their_operands_in_order() {
        // The signs of x[i] and y[i] are taken pair by pair; they run as one stretch
        // over the x and one over the y.
        let text = "x = input(sint[4], party=0)\ny = input(sint[4], party=1)\noutput([x[i] < y[i] for i in range(4)])\n";
        let compiled = crate::compile_str("t.mpc", text, &Default::default())
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let signs: Vec<u32> = (compiled.program.rounds[0].local.iter())
            .filter_map(|g| match *g {
                Gate::Shr(a, 63, 1) => Some(a.0),
                _ => None,
            })
            .collect();
        assert_eq!(signs.len(), 8, "{signs:?}");
        assert!(signs.is_sorted(), "{signs:?}");
    }
}
