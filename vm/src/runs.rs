//! Runs: stretches of a local section that one loop can compute. `mpcc` groups the
//! gates of a section by level and shape, so 10^5 comparisons give a few hundred runs of
//! 10^5 gates each; the VM finds them once, when it loads the program, and a protocol
//! computes each with one tight loop instead of dispatching on every gate.
//!
//! Runs of as many gates, where gate `j` of each reads only gate `j` of the ones before
//! it (or wires computed before them all), go *in step*: a protocol may compute them a
//! block of lanes at a time, so that what one run writes is still in the cache when the
//! next one reads it.
//!
//! A sum of products (an inner product, a row of a matrix product) is one run too: its
//! local products and the tree of additions over them, when nothing else reads the
//! products or the partial sums, so that one loop can add up the products without
//! storing any of them.

use mpc_bytecode::{Gate, WireId, WireKind};

/// Gates `start..start + len` of a section: the same operation with the same immediates,
/// whose operands advance by `strides` from one gate to the next (for inputs, the input
/// index advances by one), which read only wires computed before the run, and whose
/// operands are public or secret alike. Their results are independent of each other.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The first gate's position in its section.
    pub start: usize,
    /// The number of gates.
    pub len: usize,
    /// How far each operand moves from one gate to the next.
    pub strides: [i64; 2],
    /// Whether the run is a sum of products: its first `(len + 1) / 2` gates are
    /// `MulLocal`s of two secrets (`strides` applies to them) and the others `Add`s that
    /// add up the products into the run's last wire. Each product and partial sum is read
    /// once, by one of these `Add`s, and by nothing else in the program, so a protocol
    /// may compute the last wire alone and leave the others unset.
    pub sum_of_products: bool,
    /// Whether the next run goes in step with this one: it has as many gates, and each
    /// of its operands either was computed before the stretch of runs in step that this
    /// one belongs to, or is, for its gate `j`, gate `j` of a run of that stretch.
    pub in_step_with_next: bool,
}

/// The fewest gates of runs worth computing in step: below this, a run's results stay
/// in the cache anyway.
const MIN_IN_STEP: usize = 4096;

/// The operands of a gate as signed positions (unused ones are 0).
fn positions(gate: &Gate) -> [i64; 2] {
    let mut out = [0i64; 2];
    for (slot, w) in out.iter_mut().zip(gate.operands()) {
        *slot = i64::from(w.0);
    }
    out
}

/// How `next` continues a run that `gate` is in, as the strides of its operands, or
/// `None` if it cannot (constants never do: their values differ).
fn step(gate: &Gate, next: &Gate) -> Option<[i64; 2]> {
    match (*gate, *next) {
        (Gate::Const(_), _) | (Gate::PublicInput { .. }, _) => None,
        (
            Gate::Input {
                party,
                index,
                domain,
            },
            Gate::Input {
                party: p,
                index: i,
                domain: d,
            },
        ) => (party == p && domain == d && index.checked_add(1) == Some(i)).then_some([1, 0]),
        _ if gate.shape() == next.shape() => {
            let (a, b) = (positions(gate), positions(next));
            Some([b[0] - a[0], b[1] - a[1]])
        }
        _ => None,
    }
}

/// Which operands of a gate are public, for the uniformity of a run.
fn publicity(gate: &Gate, kinds: &[WireKind]) -> [bool; 2] {
    let mut out = [false; 2];
    for (slot, w) in out.iter_mut().zip(gate.operands()) {
        *slot = kinds.get(w.index()).is_some_and(|k| k.is_public());
    }
    out
}

/// The runs of a section whose first gate computes wire `first_wire`, covering every
/// gate in order, in a program whose wires are of `kinds` and read as often as `reads`
/// says (as `Outline` gives them). A run of one gate is a gate that continues nothing.
pub fn find_runs(gates: &[Gate], first_wire: usize, kinds: &[WireKind], reads: &[u8]) -> Vec<Run> {
    let runs = find_strided_runs(gates, first_wire, kinds);
    let mut runs = merge_sums_of_products(runs, gates, first_wire, kinds, reads);
    mark_steps(&mut runs, gates, first_wire);
    runs
}

/// Sets [`Run::in_step_with_next`].
fn mark_steps(runs: &mut [Run], gates: &[Gate], first_wire: usize) {
    let mut stretch = 0;
    for i in 1..runs.len() {
        let (before, run) = (&runs[stretch..i], &runs[i]);
        let wire_of = |r: &Run| (first_wire + r.start) as i64;
        let stretch_start = wire_of(&before[0]);
        let lanes = run.len as i64;
        let in_step = |(w, stride): (WireId, i64)| {
            let (lo, hi) = (i64::from(w.0), i64::from(w.0) + stride * (lanes - 1));
            lo.max(hi) < stretch_start
                || stride == 1 && before.iter().any(|r| wire_of(r) == i64::from(w.0))
        };
        let alike = |r: &Run| r.len == run.len && r.len >= MIN_IN_STEP && !r.sum_of_products;
        if alike(&runs[i - 1])
            && alike(run)
            && gates[run.start].operands().zip(run.strides).all(in_step)
        {
            runs[i - 1].in_step_with_next = true;
        } else {
            stretch = i;
        }
    }
}

/// The runs of one operation each.
fn find_strided_runs(gates: &[Gate], first_wire: usize, kinds: &[WireKind]) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < gates.len() {
        let first = &gates[start];
        // Every operand of the run must come before its first gate, so that its results
        // do not depend on each other and can be computed in any order.
        let limit = (first_wire + start) as i64;
        let in_range = |g: &Gate| {
            let p = positions(g);
            g.operands().count() == 0 || p.iter().take(g.operands().count()).all(|&w| w < limit)
        };
        let mut len = 1;
        let mut strides = [0, 0];
        if in_range(first) {
            if let Some(s) = gates.get(start + 1).and_then(|next| step(first, next)) {
                strides = s;
                let kinds_of_first = publicity(first, kinds);
                while let Some(next) = gates.get(start + len) {
                    let continues = step(&gates[start + len - 1], next) == Some(strides)
                        && in_range(next)
                        && publicity(next, kinds) == kinds_of_first;
                    if !continues {
                        break;
                    }
                    len += 1;
                }
            }
        }
        if len == 1 {
            strides = [0, 0];
        }
        runs.push(Run {
            start,
            len,
            strides,
            sum_of_products: false,
            in_step_with_next: false,
        });
        start += len;
    }
    runs
}

/// Merges each run of `MulLocal` gates with the runs after it when they add up its
/// products (see [`Run::sum_of_products`]).
fn merge_sums_of_products(
    runs: Vec<Run>,
    gates: &[Gate],
    first_wire: usize,
    kinds: &[WireKind],
    reads: &[u8],
) -> Vec<Run> {
    let mut merged = Vec::with_capacity(runs.len());
    let mut i = 0;
    while i < runs.len() {
        let run = runs[i];
        let end = sum_end(gates, &run, first_wire, kinds, reads);
        // The sum must end where a run does: a run that went on past it would be cut.
        let last = end.and_then(|end| {
            let ends = runs[i + 1..].iter().map(|r| r.start + r.len);
            ends.take_while(|&e| e <= end).position(|e| e == end)
        });
        match (end, last) {
            (Some(end), Some(last)) => {
                merged.push(Run {
                    len: end - run.start,
                    sum_of_products: true,
                    ..run
                });
                i += last + 2;
            }
            _ => {
                merged.push(run);
                i += 1;
            }
        }
    }
    merged
}

/// Where the sum of the products of `run` ends, if `run` is a run of `n` products of
/// two secrets and the `n - 1` gates after it are `Add`s, each of two wires from the
/// first product on that nothing else reads. Then each of these `Add`s reads two of the
/// `2n - 1` products and partial sums, and no wire is read twice: one wire is left
/// unread, the last (nothing after it reads it), and it holds the sum of the products.
fn sum_end(
    gates: &[Gate],
    run: &Run,
    first_wire: usize,
    kinds: &[WireKind],
    reads: &[u8],
) -> Option<usize> {
    let Gate::MulLocal(a, b) = gates[run.start] else {
        return None;
    };
    let secret = |w: WireId| kinds.get(w.index()).is_some_and(|k| !k.is_public());
    if run.len < 2 || !secret(a) || !secret(b) {
        return None;
    }
    let first_product = first_wire + run.start;
    let end = run.start + 2 * run.len - 1;
    let read_once_here = |w: WireId| w.index() >= first_product && reads.get(w.index()) == Some(&1);
    let adds = gates.get(run.start + run.len..end)?;
    adds.iter()
        .all(|gate| matches!(*gate, Gate::Add(x, y) if read_once_here(x) && read_once_here(y)))
        .then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpc_bytecode::WireId;

    const SECRET: WireKind = WireKind::Arith;

    fn w(i: u32) -> WireId {
        WireId(i)
    }

    #[test]
    fn strided_gates_of_one_shape_form_runs() {
        // Wires 0..8 exist; the section starts at wire 8.
        let gates = vec![
            Gate::Add(w(0), w(4)),
            Gate::Add(w(1), w(5)),
            Gate::Add(w(2), w(6)),
            Gate::Xor(w(0), w(2), 8),
            Gate::Xor(w(2), w(4), 8),
            Gate::Xor(w(4), w(6), 8),
            // Reads the previous gate's result: it starts a run of its own.
            Gate::Shr(w(13), 1, 7),
            Gate::Const(1),
            Gate::Const(2),
        ];
        let kinds = vec![SECRET; 20];
        let runs = find_runs(&gates, 8, &kinds, &[1; 20]);
        let spans: Vec<(usize, usize, [i64; 2])> =
            runs.iter().map(|r| (r.start, r.len, r.strides)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 3, [1, 1]),
                (3, 3, [2, 2]),
                (6, 1, [0, 0]),
                (7, 1, [0, 0]),
                (8, 1, [0, 0])
            ]
        );
    }

    #[test]
    fn a_run_stops_where_it_would_read_itself_or_mix_public_and_secret() {
        let gates = vec![
            Gate::Neg(w(0)),
            Gate::Neg(w(1)),
            // Wire 3 is the first gate of this section: a chain, not a run.
            Gate::Neg(w(3)),
        ];
        let mut kinds = vec![SECRET; 8];
        let runs = find_runs(&gates, 3, &kinds, &[1; 8]);
        assert_eq!(runs.iter().map(|r| r.len).collect::<Vec<_>>(), vec![2, 1]);

        kinds[1] = WireKind::Public;
        let runs = find_runs(&gates[..2], 3, &kinds, &[1; 8]);
        assert_eq!(runs.iter().map(|r| r.len).collect::<Vec<_>>(), vec![1, 1]);
    }

    #[test]
    fn consecutive_inputs_of_one_party_form_a_run() {
        let input = |party, index| Gate::Input {
            party,
            index,
            domain: mpc_bytecode::Domain::Arith,
        };
        let gates = vec![
            input(0, 0),
            input(0, 1),
            input(0, 2),
            input(1, 0),
            input(1, 1),
        ];
        let runs = find_runs(&gates, 0, &[], &[]);
        assert_eq!(runs.iter().map(|r| r.len).collect::<Vec<_>>(), vec![3, 2]);
    }

    /// The gates of `x0*y0 + x1*y1 + x2*y2 + x3*y3` with the inputs in wires 0..8: four
    /// products (wires 8..12), then a tree of sums (12, 13, and the sum in 14).
    fn inner_product() -> Vec<Gate> {
        vec![
            Gate::MulLocal(w(0), w(4)),
            Gate::MulLocal(w(1), w(5)),
            Gate::MulLocal(w(2), w(6)),
            Gate::MulLocal(w(3), w(7)),
            Gate::Add(w(8), w(9)),
            Gate::Add(w(10), w(11)),
            Gate::Add(w(12), w(13)),
        ]
    }

    /// How often each of the wires of `gates` (from wire 8) and the 8 before is read,
    /// with the last wire read once more (by a reshare).
    fn reads_of(gates: &[Gate]) -> Vec<u8> {
        let mut reads = vec![0u8; 8 + gates.len()];
        for w in gates.iter().flat_map(|g| g.operands()) {
            reads[w.index()] = (reads[w.index()] + 1).min(2);
        }
        reads[7 + gates.len()] = 1;
        reads
    }

    fn spans(runs: &[Run]) -> Vec<(usize, usize, bool)> {
        runs.iter()
            .map(|r| (r.start, r.len, r.sum_of_products))
            .collect()
    }

    #[test]
    fn products_added_up_by_a_tree_form_one_run() {
        let gates = inner_product();
        let kinds = vec![SECRET; 8 + gates.len()];
        let runs = find_runs(&gates, 8, &kinds, &reads_of(&gates));
        assert_eq!(spans(&runs), vec![(0, 7, true)]);
        assert_eq!(runs[0].strides, [1, 1]);
    }

    #[test]
    fn a_sum_whose_parts_are_read_elsewhere_is_computed_gate_by_gate() {
        let gates = inner_product();
        let kinds = vec![SECRET; 8 + gates.len()];
        let unmerged = vec![(0, 4, false), (4, 2, false), (6, 1, false)];
        // A product read by a later gate or an output.
        let mut reads = reads_of(&gates);
        reads[9] = 2;
        assert_eq!(spans(&find_runs(&gates, 8, &kinds, &reads)), unmerged);
        // A partial sum read twice: the tree adds it to itself.
        let mut twice = gates.clone();
        twice[6] = Gate::Add(w(12), w(12));
        let runs = find_runs(&twice, 8, &kinds, &reads_of(&twice));
        assert!(runs.iter().all(|r| !r.sum_of_products));
        // One addition short of the whole sum.
        let short = &gates[..6];
        assert!(find_runs(short, 8, &kinds, &reads_of(short))
            .iter()
            .all(|r| !r.sum_of_products));
        // A product of a public value is no sum of products of secrets.
        let mut public = kinds.clone();
        public[0..4].fill(WireKind::Public);
        assert_eq!(
            spans(&find_runs(&gates, 8, &public, &reads_of(&gates))),
            unmerged
        );
    }

    #[test]
    fn a_sum_that_ends_inside_a_run_is_not_merged() {
        // The last addition of the sum and the unrelated one after it form one run.
        let mut gates = inner_product();
        gates.push(Gate::Add(w(0), w(1)));
        let kinds = vec![SECRET; 8 + gates.len()];
        let runs = find_runs(&gates, 8, &kinds, &reads_of(&gates));
        assert_eq!(
            spans(&runs),
            vec![(0, 4, false), (4, 2, false), (6, 2, false)]
        );
    }

    #[test]
    fn the_compiler_s_inner_product_is_one_run() {
        let n = 1000;
        let text = format!("x = input(sint[{n}], party=0)\ny = input(sint[{n}], party=1)\noutput(sum([x[i] * y[i] for i in range({n})]))\n");
        let compiled = mpc_compiler::compile_str("ip.mpc", &text, &Default::default())
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let program = &compiled.program;
        let outline = program.outline();
        let local = &program.rounds[0].local;
        let runs = find_runs(local, 0, &outline.kinds, &outline.reads);
        let sums: Vec<_> = runs.iter().filter(|r| r.sum_of_products).collect();
        assert_eq!(sums.len(), 1, "{runs:?}");
        assert_eq!(sums[0].len, 2 * n - 1);
    }

    /// Runs of `MIN_IN_STEP` additions from wire 0 on: the section starts at wire
    /// `4 * MIN_IN_STEP` (wires below it hold inputs).
    fn in_step(operands: &[(u32, u32)]) -> Vec<bool> {
        let n = MIN_IN_STEP as u32;
        let first = 4 * n;
        let gates: Vec<Gate> = operands
            .iter()
            .flat_map(|&(a, b)| (0..n).map(move |j| Gate::Add(w(a + j), w(b + j))))
            .collect();
        let kinds = vec![SECRET; first as usize + gates.len()];
        let reads = vec![1; kinds.len()];
        let runs = find_runs(&gates, first as usize, &kinds, &reads);
        assert_eq!(runs.len(), operands.len());
        runs.iter().map(|r| r.in_step_with_next).collect()
    }

    #[test]
    fn runs_that_read_the_same_lane_of_each_other_go_in_step() {
        let n = MIN_IN_STEP as u32;
        let (inputs, section) = (0, 4 * n);
        // Run 1 reads lane j of run 0 and of the inputs; run 2 lane j of runs 0 and 1.
        assert_eq!(
            in_step(&[(inputs, n), (section, 2 * n), (section, section + n)]),
            [true, true, false]
        );
        // Run 2 reads lane j + 1 of run 0 (lane 0 of run 1 at its end): the stretch
        // ends before it, and run 3 goes in step with run 2.
        assert_eq!(
            in_step(&[
                (inputs, n),
                (section, inputs),
                (section + 1, inputs),
                (section + 2 * n, section)
            ]),
            [true, false, true, false]
        );
        // Run 1's lanes go from before the section into it.
        assert_eq!(in_step(&[(inputs, n), (3 * n + 1, inputs)]), [false, false]);
    }
}
