//! Runs: stretches of a local section that one loop can compute. `mpcc` groups the
//! gates of a section by level and shape, so 10^5 comparisons give a few hundred runs of
//! 10^5 gates each; the VM finds them once, when it loads the program, and a protocol
//! computes each with one tight loop instead of dispatching on every gate.

use mpc_bytecode::{Gate, WireKind};

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
}

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
/// gate in order. A run of one gate is a gate that continues nothing.
pub fn find_runs(gates: &[Gate], first_wire: usize, kinds: &[WireKind]) -> Vec<Run> {
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
        });
        start += len;
    }
    runs
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
        let runs = find_runs(&gates, 8, &kinds);
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
        let runs = find_runs(&gates, 3, &kinds);
        assert_eq!(runs.iter().map(|r| r.len).collect::<Vec<_>>(), vec![2, 1]);

        kinds[1] = WireKind::Public;
        let runs = find_runs(&gates[..2], 3, &kinds);
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
        let runs = find_runs(&gates, 0, &[]);
        assert_eq!(runs.iter().map(|r| r.len).collect::<Vec<_>>(), vec![3, 2]);
    }
}
