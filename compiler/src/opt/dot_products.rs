//! `fuse-dot-products`: a sum of secret products (a dot product, a matrix entry) is
//! computed as additive terms — each party multiplies its shares locally
//! (`MulLocal`) and adds — and reshared once at the root of the sum (`Reshare`). The
//! sum then costs one round and one word per party instead of one word per product.
//!
//! A product joins a sum when the sum is its only user; a sum (`Add`/`Sub`) becomes
//! additive when one of its operands is such a product or such a sum. A sum whose
//! result is used anywhere else (or is an output) is a root and is reshared.

use mpc_bytecode::{Gate, WireId};

use crate::circuit::{Circuit, CircuitBuilder};

/// Runs the pass.
pub fn run(c: Circuit) -> Circuit {
    let n = c.gates.len();
    let mut uses = vec![0u32; n];
    let mut user = vec![u32::MAX; n];
    for (i, gate) in c.gates.iter().enumerate() {
        for w in gate.operands() {
            uses[w.index()] += 1;
            user[w.index()] = i as u32;
        }
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        // An output is a use that is not a sum.
        uses[w.index()] += 2;
    }
    let secret_product = |i: usize| c.is_interactive(i) && matches!(c.gates[i], Gate::Mul(..));
    // Forward: a sum is additive when an operand is a single-use product or additive sum.
    let mut additive = vec![false; n];
    for i in 0..n {
        if let Gate::Add(a, b) | Gate::Sub(a, b) = c.gates[i] {
            let feeds = |w: WireId| {
                uses[w.index()] == 1 && (secret_product(w.index()) || additive[w.index()])
            };
            additive[i] = !c.kinds[i].is_public() && (feeds(a) || feeds(b));
        }
    }
    if !additive.contains(&true) {
        return c;
    }
    // A wire stays additive when its only user is an additive sum.
    let absorbed = |w: usize| uses[w] == 1 && user[w] != u32::MAX && additive[user[w] as usize];
    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = Vec::with_capacity(n);
    for (i, gate) in c.gates.iter().enumerate() {
        b.set_place(c.places[c.origins[i] as usize]);
        let gate = gate.map_operands(|w| remap[w.index()]);
        // The circuit is already simplified and shared: copying needs no hashing.
        let new = match gate {
            Gate::Mul(x, y) if secret_product(i) && absorbed(i) => {
                b.push_unchecked(Gate::MulLocal(x, y))
            }
            _ if additive[i] && !absorbed(i) => {
                let terms = b.push_unchecked(gate);
                b.push_unchecked(Gate::Reshare(terms))
            }
            other => {
                let w = b.push_unchecked(other);
                b.set_width(w, c.widths[i]);
                w
            }
        };
        remap.push(new);
    }
    b.finish_rebuilt(c.inputs, c.outputs, &remap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;
    use mpc_bytecode::{OutputDesc, Scalar, ValueType, WireKind};

    #[test]
    fn a_dot_product_is_reshared_once() {
        let mut b = CircuitBuilder::new();
        let xs: Vec<WireId> = (0..4).map(|i| b.test_input(0, i)).collect();
        let ys: Vec<WireId> = (0..4).map(|i| b.test_input(1, i)).collect();
        let products: Vec<WireId> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| b.push(Gate::Mul(*x, *y)))
            .collect();
        let left = b.push(Gate::Add(products[0], products[1]));
        let right = b.push(Gate::Sub(products[2], products[3]));
        let total = b.push(Gate::Add(left, right));
        // A product used twice stays a product.
        let shared = b.push(Gate::Mul(xs[0], ys[1]));
        let doubled = b.push(Gate::Add(shared, shared));
        let ty = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: true,
        });
        for (name, w) in [("dot", total), ("twice", doubled)] {
            b.declare_output(OutputDesc {
                name: name.into(),
                ty: ty.clone(),
                to: vec![],
                wires: vec![w],
            });
        }
        let before = b.finish();
        let after = run(before.clone());
        let count = |c: &Circuit, m: &str| c.gates.iter().filter(|g| g.mnemonic() == m).count();
        assert_eq!(
            (
                count(&after, "mul_local"),
                count(&after, "reshare"),
                count(&after, "mul")
            ),
            (4, 1, 1)
        );
        assert!(after
            .outputs
            .iter()
            .flat_map(|o| &o.wires)
            .all(|w| after.kinds[w.index()] != WireKind::Additive));
        assert_eq!(after.depths().into_iter().max(), Some(1));
        let inputs = [vec![1, 2, 3, 4], vec![5, 6, 7, 8]];
        assert_eq!(
            interp::outputs(&before, &inputs),
            interp::outputs(&after, &inputs)
        );
    }
}
