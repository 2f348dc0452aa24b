//! `boolean-io`: inputs and outputs in the domain the program uses them in. An integer
//! input whose bits the program asks for (`bits(x)`, bitwise operators, the sign in a
//! comparison) is shared bitwise by its owner too, or only bitwise when nothing else
//! reads it; an output computed in bits (`from_bits`) is opened bitwise. Neither pays
//! for an arithmetic↔Boolean conversion. Programs written on bits, such as AES and
//! SHA-256, then cost exactly their AND circuit.

use mpc_bytecode::{Domain, Gate, WireId};

use crate::circuit::{Circuit, CircuitBuilder};

/// Runs the pass.
pub fn run(c: Circuit) -> Circuit {
    let n = c.gates.len();
    // Which wires are converted to bits, and which are read otherwise.
    let (mut to_bits, mut read_otherwise) = (vec![false; n], vec![false; n]);
    for gate in &c.gates {
        let uses = if matches!(gate, Gate::A2B(..)) {
            &mut to_bits
        } else {
            &mut read_otherwise
        };
        for w in gate.operands() {
            uses[w.index()] = true;
        }
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        read_otherwise[w.index()] = true;
    }
    let shared_bitwise = |i: usize| {
        matches!(
            c.gates[i],
            Gate::Input {
                domain: Domain::Arith,
                ..
            }
        ) && to_bits[i]
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
    if !any_output && !(0..n).any(shared_bitwise) {
        return c;
    }
    let widths = input_widths(&c);
    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = Vec::with_capacity(n);
    // The Boolean input gate of each input shared bitwise.
    let mut bits_of: Vec<Option<WireId>> = vec![None; n];
    // Inputs read in both domains whose Boolean gates are still to come: they follow the
    // block of input gates they are in, so that each domain's elements stay consecutive.
    let mut both_pending: Vec<(usize, u32, u32)> = Vec::new();
    for (i, gate) in c.gates.iter().enumerate() {
        if !matches!(gate, Gate::Input { .. }) {
            for (j, party, index) in both_pending.drain(..) {
                b.set_place(c.places[c.origins[j] as usize]);
                bits_of[j] = Some(boolean_input(&mut b, party, index, widths[j]));
            }
        }
        b.set_place(c.places[c.origins[i] as usize]);
        let converted = match *gate {
            Gate::A2B(x, w) => bits_of[x.index()].map(|bits| (bits, w)),
            _ => None,
        };
        let new = match (*gate, converted) {
            // Its input is already bits: keep the bits the conversion asked for.
            (_, Some((bits, w))) => b.push(Gate::Shr(bits, 0, w)),
            (Gate::Input { party, index, .. }, None) if shared_bitwise(i) => {
                if read_otherwise[i] {
                    both_pending.push((i, party, index));
                    b.push(*gate)
                } else {
                    let bits = boolean_input(&mut b, party, index, widths[i]);
                    bits_of[i] = Some(bits);
                    bits
                }
            }
            (other, _) => b.push_copy(other.map_operands(|w| remap[w.index()]), c.widths[i]),
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

/// A Boolean input gate for element `index` of `party`'s inputs, `width` bits wide.
fn boolean_input(b: &mut CircuitBuilder, party: u32, index: u32, width: u8) -> WireId {
    let w = b.push(Gate::Input {
        party,
        index,
        domain: Domain::Bool,
    });
    b.set_width(w, width);
    w
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

    #[test]
    fn inputs_read_both_ways_are_shared_both_ways_domain_by_domain() {
        let sint = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: true,
        });
        let mut b = CircuitBuilder::new();
        b.declare_input(InputDesc {
            party: 0,
            name: "x".into(),
            ty: ValueType::Array(Box::new(sint.clone()), 2),
            public: false,
        });
        let x = [b.test_input(0, 0), b.test_input(0, 1)];
        // Their sum, and whether their signs differ.
        let sum = b.push(Gate::Add(x[0], x[1]));
        let signs = x.map(|x| {
            let bits = b.push(Gate::A2B(x, 64));
            b.push(Gate::Shr(bits, 63, 1))
        });
        let differ = b.push(Gate::Xor(signs[0], signs[1], 1));
        for (name, ty, wire) in [
            ("sum", sint, sum),
            ("differ", ValueType::Scalar(Scalar::Bool), differ),
        ] {
            b.declare_output(OutputDesc {
                name: name.into(),
                ty,
                to: vec![],
                wires: vec![wire],
            });
        }
        let before = b.finish();
        let after = crate::opt::dead_gates::run(run(before.clone()));
        let inputs: Vec<_> = after
            .gates
            .iter()
            .filter_map(|g| match *g {
                Gate::Input { index, domain, .. } => Some((index, domain)),
                _ => None,
            })
            .collect();
        // Each domain's elements in order, so that the VM places them as one run.
        assert_eq!(
            inputs,
            [
                (0, Domain::Arith),
                (1, Domain::Arith),
                (0, Domain::Bool),
                (1, Domain::Bool)
            ]
        );
        assert!(
            !after.gates.iter().any(|g| matches!(g, Gate::A2B(..))),
            "{}",
            after.display()
        );
        for x in [[5, (-3i64) as u64], [u64::MAX, 1 << 63]] {
            let inputs = [x.to_vec()];
            assert_eq!(
                interp::outputs(&before, &inputs),
                interp::outputs(&after, &inputs)
            );
        }
    }
}
