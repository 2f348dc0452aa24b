//! `expand-conversions`: rewrites the conversions between arithmetic and Boolean sharing
//! (and fixed-point truncation) into the gates three-party replicated sharing (rep3)
//! computes directly: local share splits, products and ANDs. Every remaining round is
//! then a batch of multiplications, ANDs and openings, and the depth `mpcc stats`
//! reports is the number of rounds the parties run.
//!
//! - `A2B(x, w)`: the three arithmetic share components, each known to two parties, are
//!   Boolean-shared locally and added: one carry-save level (one AND) and a parallel
//!   prefix adder (⌈log2 w⌉ + 1 ANDs): depth ⌈log2 w⌉ + 2.
//! - `B2A(y)`: each bit times its place value is one bit injection (`MulBit`): depth 1,
//!   and the same traffic as the two products per bit that `b0 ⊕ b1 ⊕ b2` would take.
//! - `Trunc(x, k)`: exact, as `B2A(Sar(A2B(x), k))`.
//!
//! In the clear a value is its component 0 and the other components are zero, so the
//! expanded circuit computes the same values in every protocol.

use mpc_bytecode::{Gate, WireId};

use crate::circuit::{Circuit, CircuitBuilder};
use crate::lower::bits;

/// Runs the pass.
pub fn run(c: Circuit) -> Circuit {
    let expands = |(i, g): (usize, &Gate)| {
        matches!(g, Gate::A2B(..) | Gate::B2A(_) | Gate::Trunc(..)) && !c.kinds[i].is_public()
    };
    if !c.gates.iter().enumerate().any(expands) {
        return c;
    }
    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = Vec::with_capacity(c.gates.len());
    for (i, gate) in c.gates.iter().enumerate() {
        b.set_place(c.places[c.origins[i] as usize]);
        let gate = gate.map_operands(|w| remap[w.index()]);
        let secret = |w: WireId| !b.kind(w).is_public();
        let new = match gate {
            Gate::A2B(x, w) if secret(x) => a2b(&mut b, x, w),
            Gate::B2A(y) if secret(y) => {
                let w = b.width(y);
                b2a(&mut b, y, w)
            }
            Gate::Trunc(x, k) if secret(x) => {
                let bits = a2b(&mut b, x, 64);
                let shifted = b.push(Gate::Sar(bits, k, 64));
                b2a(&mut b, shifted, 64)
            }
            other => b.push_copy(other, c.widths[i]),
        };
        remap.push(new);
    }
    b.finish_rebuilt(c.inputs, c.outputs, &remap)
}

/// The low `w` bits of a secret arithmetic value as a Boolean word.
fn a2b(b: &mut CircuitBuilder, x: WireId, w: u8) -> WireId {
    let [s0, s1, s2] = [0, 1, 2].map(|k| b.push(Gate::SplitA2B(x, k, w)));
    // Carry-save: s0 + s1 + s2 = sum + 2·majority, bit by bit.
    let t = b.push(Gate::Xor(s0, s1, w));
    let sum = b.push(Gate::Xor(t, s2, w));
    let x0 = b.push(Gate::Xor(s0, s2, w));
    let x1 = b.push(Gate::Xor(s1, s2, w));
    let both = b.push(Gate::And(x0, x1, w));
    let majority = b.push(Gate::Xor(both, s2, w));
    let carry = b.push(Gate::Shl(majority, 1, w));
    let zero = b.constant(0);
    bits::add(b, sum, carry, zero, w).0
}

/// A secret `w`-bit Boolean word as an arithmetic value (zero above bit `w`).
fn b2a(b: &mut CircuitBuilder, y: WireId, w: u8) -> WireId {
    let terms: Vec<WireId> = (0..w)
        .map(|i| {
            let bit = b.push(Gate::Shr(y, i, 1));
            let place = b.constant(1u64 << i);
            b.push(Gate::MulBit(bit, place))
        })
        .collect();
    let mut level = terms;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => b.push(Gate::Add(*l, *r)),
                [single] => *single,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level.pop().unwrap_or_else(|| b.constant(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;
    use mpc_bytecode::{OutputDesc, Scalar, ValueType};

    fn circuit(build: impl Fn(&mut CircuitBuilder, WireId) -> WireId) -> Circuit {
        let mut b = CircuitBuilder::new();
        let x = b.test_input(0, 0);
        let out = build(&mut b, x);
        let ty = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: false,
        });
        b.declare_output(OutputDesc {
            name: "r".into(),
            ty,
            to: vec![],
            wires: vec![out],
        });
        b.finish()
    }

    fn same_results(c: &Circuit) {
        let expanded = run(c.clone());
        assert!(!expanded.gates.iter().enumerate().any(|(i, g)| matches!(
            g,
            Gate::A2B(..) | Gate::B2A(_) | Gate::Trunc(..)
        ) && !expanded.kinds[i]
            .is_public()));
        for x in [
            0u64,
            1,
            2,
            0x8000_0000_0000_0000,
            u64::MAX,
            0x1234_5678_9abc_def0,
            (-5i64 << 16) as u64 | 7,
        ] {
            let before = interp::outputs(c, &[vec![x]]).expect("evaluates");
            let after = interp::outputs(&expanded, &[vec![x]]).expect("evaluates");
            assert_eq!(before, after, "x = {x:#x}");
        }
    }

    #[test]
    fn conversions_keep_their_values() {
        same_results(&circuit(|b, x| {
            let bits = b.push(Gate::A2B(x, 64));
            b.push(Gate::B2A(bits))
        }));
        same_results(&circuit(|b, x| {
            let bits = b.push(Gate::A2B(x, 13));
            let flipped = b.push(Gate::Not(bits, 13));
            b.push(Gate::B2A(flipped))
        }));
        same_results(&circuit(|b, x| b.push(Gate::Trunc(x, 16))));
    }

    #[test]
    fn conversion_depth_is_logarithmic() {
        let c = run(circuit(|b, x| b.push(Gate::A2B(x, 64))));
        assert_eq!(
            c.depths().into_iter().max(),
            Some(8),
            "carry-save 1 + prefix adder 7"
        );
        let c = run(circuit(|b, x| {
            let bit = b.push(Gate::A2B(x, 1));
            b.push(Gate::B2A(bit))
        }));
        // One bit has no carries: its A2B is local, and the injection takes one round.
        assert_eq!(c.depths().into_iter().max(), Some(1));
    }
}
