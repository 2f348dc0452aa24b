//! `boolean-io`: inputs and outputs in the domain the program uses them in. An integer
//! input that is only ever converted to bits (`bits(x)`, bitwise operators) is shared
//! bitwise from the start, and an output computed in bits (`from_bits`) is opened
//! bitwise, so neither pays for an arithmetic↔Boolean conversion. Programs written on
//! bits, such as AES and SHA-256, then cost exactly their AND circuit.

use mpc_bytecode::{Domain, Gate, WireId};

use crate::circuit::{Circuit, CircuitBuilder};

/// Runs the pass.
pub fn run(c: Circuit) -> Circuit {
    let n = c.gates.len();
    // An input qualifies when every use is a conversion to bits.
    let mut only_bits = vec![true; n];
    for gate in &c.gates {
        let to_bits = matches!(gate, Gate::A2B(..));
        for w in gate.operands() {
            only_bits[w.index()] &= to_bits;
        }
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        only_bits[w.index()] = false;
    }
    let boolean_input = |i: usize| {
        matches!(
            c.gates[i],
            Gate::Input {
                domain: Domain::Arith,
                ..
            }
        ) && only_bits[i]
            && !c.kinds[i].is_public()
    };
    let opened_bits = |w: WireId| match c.gates[w.index()] {
        Gate::B2A(y) if !c.kinds[y.index()].is_public() => Some(y),
        _ => None,
    };
    let any_output = c
        .outputs
        .iter()
        .flat_map(|o| &o.wires)
        .any(|w| opened_bits(*w).is_some());
    if !any_output && !(0..n).any(boolean_input) {
        return c;
    }
    let widths = input_widths(&c);
    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = Vec::with_capacity(n);
    for (i, gate) in c.gates.iter().enumerate() {
        b.set_place(c.places[c.origins[i] as usize]);
        let new = match *gate {
            Gate::Input { party, index, .. } if boolean_input(i) => {
                let w = b.push(Gate::Input {
                    party,
                    index,
                    domain: Domain::Bool,
                });
                b.set_width(w, widths[i]);
                w
            }
            // Its input is already bits: keep the bits the conversion asked for.
            Gate::A2B(x, w) if boolean_input(x.index()) => {
                b.push(Gate::Shr(remap[x.index()], 0, w))
            }
            other => b.push_copy(other.map_operands(|w| remap[w.index()]), c.widths[i]),
        };
        remap.push(new);
    }
    // An output computed in bits reads the bits, not their conversion.
    let outputs = c
        .outputs
        .into_iter()
        .map(|o| o.map_wires(|w| opened_bits(w).unwrap_or(w)))
        .collect();
    b.finish_rebuilt(c.inputs, outputs, &remap)
}

/// The width in bits of each input gate's type (zero for other gates).
fn input_widths(c: &Circuit) -> Vec<u8> {
    let mut per_party: Vec<Vec<u8>> = Vec::new();
    for input in &c.inputs {
        let party = input.party as usize;
        if per_party.len() <= party {
            per_party.resize(party + 1, Vec::new());
        }
        input
            .ty
            .for_each_scalar(&mut |s| per_party[party].push(s.bits()));
    }
    c.gates
        .iter()
        .map(|g| match *g {
            Gate::Input { party, index, .. } => per_party
                .get(party as usize)
                .and_then(|p| p.get(index as usize))
                .copied()
                .unwrap_or(64),
            _ => 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;
    use mpc_bytecode::{InputDesc, OutputDesc, Scalar, ValueType};

    #[test]
    fn bitwise_inputs_and_outputs_skip_their_conversions() {
        let u8t = ValueType::Scalar(Scalar::Int {
            bits: 8,
            signed: false,
        });
        let mut b = CircuitBuilder::new();
        for party in 0..2 {
            b.declare_input(InputDesc {
                party,
                name: format!("x{party}"),
                ty: u8t.clone(),
                public: false,
            });
        }
        let x = b.test_input(0, 0);
        let y = b.test_input(1, 0);
        let (bx, by) = (b.push(Gate::A2B(x, 8)), b.push(Gate::A2B(y, 8)));
        let and = b.push(Gate::And(bx, by, 8));
        let out = b.push(Gate::B2A(and));
        b.declare_output(OutputDesc {
            name: "r".into(),
            ty: u8t,
            to: vec![],
            wires: vec![out],
        });
        let before = b.finish();
        let after = crate::opt::dead_gates::run(run(before.clone()));
        assert!(
            !after
                .gates
                .iter()
                .any(|g| matches!(g, Gate::A2B(..) | Gate::B2A(_))),
            "{}",
            after.display()
        );
        let inputs = [vec![0b1100_1010], vec![0b1010_0110]];
        assert_eq!(
            interp::outputs(&before, &inputs),
            interp::outputs(&after, &inputs)
        );
    }
}
