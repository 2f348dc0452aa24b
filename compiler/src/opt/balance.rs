//! `balance`: tree-height reduction. A chain of secret products written step by step — `acc = acc * x[i]` in a loop — has one round per step; when
//! the intermediate results are used nowhere else, the same product is computed as a
//! balanced tree, one round per level: 1024 factors take 10 rounds instead of 1023.
//! Products in Z_2^64 are associative and commutative, so the value is the same.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mpc_bytecode::{Gate, WireId};

use crate::circuit::{Circuit, CircuitBuilder};

/// The operands of gate `i` if it is a product of two secrets.
fn op_of(c: &Circuit, i: usize) -> Option<(WireId, WireId)> {
    if !c.is_interactive(i) {
        return None;
    }
    match c.gates[i] {
        Gate::Mul(a, b) => Some((a, b)),
        // AND chains are left as written for now: rebalancing them is not yet stable
        // under a second run, which reading back an exported Bristol file relies on.
        _ => None,
    }
}

/// Runs the pass.
pub fn run(c: Circuit) -> Circuit {
    let n = c.gates.len();
    let mut uses = vec![0u32; n];
    for gate in &c.gates {
        gate.operands().for_each(|w| uses[w.index()] += 1);
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        uses[w.index()] += 2;
    }
    // A node is inner when its only user is another product: it is then
    // computed as part of that user's tree, not on its own.
    let mut inner = vec![false; n];
    for i in 0..n {
        if let Some((a, b)) = op_of(&c, i) {
            for w in [a, b] {
                let j = w.index();
                if uses[j] == 1 && op_of(&c, j).is_some() {
                    inner[j] = true;
                }
            }
        }
    }
    // Only chains longer than their balanced height gain anything.
    let mut deep = false;
    let mut chain = vec![0u32; n];
    for i in 0..n {
        if let Some((a, b)) = op_of(&c, i) {
            let part = |w: WireId| {
                if inner[w.index()] {
                    chain[w.index()]
                } else {
                    0
                }
            };
            chain[i] = 1 + part(a).max(part(b));
            deep |= chain[i] > 2;
        }
    }
    if !deep {
        return c;
    }
    let depths = c.depths();
    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = Vec::with_capacity(n);
    for (i, gate) in c.gates.iter().enumerate() {
        b.set_place(c.places[c.origins[i] as usize]);
        let new = match op_of(&c, i) {
            // Inner nodes are rebuilt with their root; their old wire is never read.
            Some(_) if inner[i] => WireId(u32::MAX),
            Some(_) => {
                let mut leaves = Vec::new();
                collect_leaves(&c, &inner, i, &mut leaves);
                // Combine the two earliest-ready operands first (as Huffman merges the
                // lightest): this minimizes the tree's depth given when each leaf is
                // ready, so a leaf that arrives late is not pushed further down, and
                // the result is never deeper than the chain.
                let mut ready: BinaryHeap<Reverse<(u32, usize, WireId)>> = leaves
                    .into_iter()
                    .enumerate()
                    .map(|(order, w)| Reverse((depths[w.index()], order, remap[w.index()])))
                    .collect();
                let mut order = ready.len();
                while ready.len() > 1 {
                    let (Some(Reverse((dl, _, l))), Some(Reverse((dr, _, r)))) =
                        (ready.pop(), ready.pop())
                    else {
                        unreachable!("two entries")
                    };
                    let joined = b.push(Gate::Mul(l, r));
                    ready.push(Reverse((dl.max(dr) + 1, order, joined)));
                    order += 1;
                }
                ready
                    .pop()
                    .map_or_else(|| b.constant(0), |Reverse((_, _, w))| w)
            }
            None => b.push_copy(gate.map_operands(|w| remap[w.index()]), c.widths[i]),
        };
        remap.push(new);
    }
    b.finish_rebuilt(c.inputs, c.outputs, &remap)
}

/// The operands of the tree rooted at `i` that are not inner nodes, left to right.
fn collect_leaves(c: &Circuit, inner: &[bool], root: usize, leaves: &mut Vec<WireId>) {
    // An explicit stack: chains can be a million long.
    let mut stack = vec![WireId::from_index(root)];
    while let Some(w) = stack.pop() {
        match op_of(c, w.index()) {
            Some((a, b)) if w.index() == root || inner[w.index()] => {
                stack.push(b);
                stack.push(a);
            }
            _ => leaves.push(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;
    use mpc_bytecode::{OutputDesc, Scalar, ValueType};

    #[test]
    fn a_product_chain_becomes_a_balanced_tree() {
        let mut b = CircuitBuilder::new();
        let xs: Vec<WireId> = (0..16).map(|i| b.test_input(0, i)).collect();
        let mut acc = xs[0];
        for x in &xs[1..] {
            acc = b.push(Gate::Mul(acc, *x));
        }
        // A chain whose middle is also an output keeps that value.
        let ty = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: true,
        });
        b.declare_output(OutputDesc {
            name: "p".into(),
            ty,
            to: vec![],
            wires: vec![acc],
        });
        let before = b.finish();
        assert_eq!(before.depths().into_iter().max(), Some(15));
        let after = crate::opt::dead_gates::run(run(before.clone()));
        assert_eq!(after.depths().into_iter().max(), Some(4));
        let inputs = [(1..=16).collect::<Vec<u64>>()];
        assert_eq!(
            interp::outputs(&before, &inputs),
            interp::outputs(&after, &inputs)
        );
    }
}
