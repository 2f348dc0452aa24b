//! `balance`: tree-height reduction. A chain of secret products or ANDs written step by
//! step — `acc = acc * x[i]` or `acc = acc & b[i]` in a loop — has one round per step;
//! when the intermediate results are used nowhere else, the same product is computed as
//! a balanced tree, one round per level: 1024 factors take 10 rounds instead of 1023.
//! Products in Z_2^64 and ANDs of words of one width are associative and commutative,
//! so the value is the same.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mpc_bytecode::{Gate, WireId};

use crate::circuit::{Circuit, CircuitBuilder};

/// The associative operation of a tree: a product, or an AND of words of one width.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Op {
    Mul,
    And(u8),
}

impl Op {
    fn gate(self, a: WireId, b: WireId) -> Gate {
        match self {
            Op::Mul => Gate::Mul(a, b),
            Op::And(w) => Gate::And(a, b, w),
        }
    }
}

/// The operation and operands of gate `i` if it is a product or an AND of two secrets.
fn op_of(c: &Circuit, i: usize) -> Option<(Op, WireId, WireId)> {
    if !c.is_interactive(i) {
        return None;
    }
    match c.gates[i] {
        Gate::Mul(a, b) => Some((Op::Mul, a, b)),
        Gate::And(a, b, w) => Some((Op::And(w), a, b)),
        _ => None,
    }
}

/// The operands of gate `j` if it continues a tree of operation `op`.
fn same_op(c: &Circuit, j: usize, op: Op) -> Option<(WireId, WireId)> {
    op_of(c, j).and_then(|(o, a, b)| (o == op).then_some((a, b)))
}

/// Runs the pass: rebalances until that no longer lowers the depth or the count of
/// nonlinear gates. One rebalancing can expose more (a leaf's own tree got shallower,
/// or two trees now share a pair); stopping at the fixed point makes a second run a
/// no-op, which reading back an exported Bristol file relies on.
pub fn run(c: Circuit) -> Circuit {
    const MAX_ROUNDS: usize = 8;
    let figures = |c: &Circuit| {
        let nonlinear = (0..c.gates.len()).filter(|&i| c.is_interactive(i)).count();
        (c.depths().into_iter().max().unwrap_or(0), nonlinear)
    };
    let mut best = c;
    let mut best_figures = None;
    for _ in 0..MAX_ROUNDS {
        let Some(next) = rebalance(&best) else {
            break;
        };
        let before = *best_figures.get_or_insert_with(|| figures(&best));
        let after = figures(&next);
        if after >= before {
            break;
        }
        (best, best_figures) = (next, Some(after));
    }
    best
}

/// One rebalancing, or `None` when no chain is deep enough to gain from it.
fn rebalance(c: &Circuit) -> Option<Circuit> {
    let n = c.gates.len();
    // Dead users do not count: lowering leaves some (`!!x` folds to `x`, but the
    // first `!x` stays until dead-gate elimination).
    let live = super::dead_gates::live_gates(c);
    let mut uses = vec![0u32; n];
    for (gate, _) in c.gates.iter().zip(&live).filter(|(_, live)| **live) {
        gate.operands().for_each(|w| uses[w.index()] += 1);
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        uses[w.index()] += 2;
    }
    // A node is inner when its only user is a gate of the same operation: it is then
    // computed as part of that user's tree, not on its own.
    let mut inner = vec![false; n];
    for i in (0..n).filter(|&i| live[i]) {
        if let Some((op, a, b)) = op_of(c, i) {
            for w in [a, b] {
                let j = w.index();
                if uses[j] == 1 && same_op(c, j, op).is_some() {
                    inner[j] = true;
                }
            }
        }
    }
    // Only chains longer than their balanced height gain anything.
    let mut deep = false;
    let mut chain = vec![0u32; n];
    for i in 0..n {
        if let Some((_, a, b)) = op_of(c, i) {
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
        return None;
    }
    let depths = c.depths();
    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = Vec::with_capacity(n);
    for (i, gate) in c.gates.iter().enumerate() {
        b.set_place(c.places[c.origins[i] as usize]);
        let new = match op_of(c, i) {
            // Dead gates may read inner nodes; nothing reads them.
            _ if !live[i] => WireId(u32::MAX),
            // Inner nodes are rebuilt with their root; their old wire is never read.
            Some(_) if inner[i] => WireId(u32::MAX),
            Some((op, _, _)) => {
                let mut leaves = Vec::new();
                collect_leaves(c, &inner, i, op, &mut leaves);
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
                    let joined = b.push(op.gate(l, r));
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
    Some(b.finish_rebuilt(c.inputs.clone(), c.outputs.clone(), &remap))
}

/// The operands of the tree rooted at `i` that are not inner nodes, left to right.
fn collect_leaves(c: &Circuit, inner: &[bool], root: usize, op: Op, leaves: &mut Vec<WireId>) {
    // An explicit stack: chains can be a million long.
    let mut stack = vec![WireId::from_index(root)];
    while let Some(w) = stack.pop() {
        match same_op(c, w.index(), op) {
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
