//! Cost attribution: for each source line, the communicating gates it creates and the
//! rounds of the critical path that pass through it — which line makes a program slow.
//!
//! A gate belongs to the line of the statement that created it (inside an inlined
//! function, the function's own line; the standard library's lines are named as
//! `<stdlib>/module.mpc`). A communicating gate is *critical* when it lies on a longest
//! chain of communicating gates from an input to an output; the line is credited with
//! each round (depth level) at which one of its gates is critical. Parallel critical
//! gates of several lines credit each of them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::circuit::{Circuit, Cost};
use crate::source::SourceMap;

/// The cost of one source line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineCost {
    /// The file, as diagnostics name it.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// Secret ANDs, counted in bits.
    pub and_gates: u64,
    /// Secret products (and reshared sums of products).
    pub mul_gates: u64,
    /// Everything that communicates (ANDs in bits, products, reshares, openings).
    pub nonlinear: u64,
    /// Rounds of the critical path with a gate of this line.
    pub critical_rounds: u64,
    /// The line's text, trimmed.
    pub source: String,
}

/// The lines that create communicating gates or lie on the critical path, in file and
/// line order.
pub fn by_line(c: &Circuit, sources: &SourceMap) -> Vec<LineCost> {
    let n = c.gates.len();
    let interactive: Vec<bool> = (0..n).map(|i| c.is_interactive(i)).collect();
    let depth = c.depths();
    // Height: communicating gates after each wire on its longest way to an output.
    let mut height = vec![0u32; n];
    for i in (0..n).rev() {
        let below = height[i] + u32::from(interactive[i]);
        for w in c.gates[i].operands() {
            height[w.index()] = height[w.index()].max(below);
        }
    }
    let total = depth.iter().copied().max().unwrap_or(0);
    // Wires that reach an output: the others are dead and credit nothing.
    let mut live = vec![false; n];
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        live[w.index()] = true;
    }
    for i in (0..n).rev() {
        if live[i] {
            c.gates[i].operands().for_each(|w| live[w.index()] = true);
        }
    }
    struct Acc {
        and_gates: u64,
        mul_gates: u64,
        nonlinear: u64,
        critical: std::collections::BTreeSet<u32>,
    }
    let mut lines: BTreeMap<(u32, usize), Acc> = BTreeMap::new();
    for i in 0..n {
        if !interactive[i] || !live[i] {
            continue;
        }
        let span = c.places[c.origins[i] as usize];
        let line = sources.line_of(span);
        let acc = lines.entry((span.file.0, line)).or_insert(Acc {
            and_gates: 0,
            mul_gates: 0,
            nonlinear: 0,
            critical: Default::default(),
        });
        let cost = Cost::of_interactive(&c.gates[i]);
        acc.and_gates += cost.and_gates;
        acc.mul_gates += cost.mul_gates;
        acc.nonlinear += cost.nonlinear();
        if depth[i] + height[i] == total {
            acc.critical.insert(depth[i]);
        }
    }
    lines
        .into_iter()
        .map(|((file, line), acc)| {
            let f = sources.get(crate::source::FileId(file));
            let source = f
                .text
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or("")
                .trim()
                .to_string();
            LineCost {
                file: f.name.clone(),
                line,
                and_gates: acc.and_gates,
                mul_gates: acc.mul_gates,
                nonlinear: acc.nonlinear,
                critical_rounds: acc.critical.len() as u64,
                source,
            }
        })
        .collect()
}

/// The table `mpcc stats --by-line` prints.
pub fn render(costs: &[LineCost], depth: u64) -> String {
    let mut out = format!(
        "{:<28} {:>11} {:>10} {:>9}  source\n",
        "line", "nonlinear", "ANDs", "critical"
    );
    for c in costs {
        let place = format!("{}:{}", c.file, c.line);
        out.push_str(&format!(
            "{place:<28} {:>11} {:>10} {:>9}  {}\n",
            c.nonlinear, c.and_gates, c.critical_rounds, c.source
        ));
    }
    out.push_str(&format!(
        "critical path: {depth} rounds (a round shared by parallel lines counts for each)\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use crate::{compile_str, Options};

    #[test]
    fn the_slow_line_is_named() {
        let program = "a = input(sint, party=0)\nb = input(sint, party=1)\nc = a * b\nd = c > a\nfast = a + b\noutput(d)\noutput(fast)\n";
        let compiled = compile_str("p.mpc", program, &Options::default()).expect("compiles");
        let costs = super::by_line(&compiled.circuit, &compiled.sources);
        let line = |n: usize| costs.iter().find(|c| c.line == n);
        assert_eq!(
            line(3).map(|c| (c.mul_gates, c.critical_rounds)),
            Some((1, 1)),
            "{costs:?}"
        );
        let compare = line(4).expect("the comparison communicates");
        assert!(
            compare.and_gates > 0 && compare.critical_rounds == compiled.stats().depth - 1,
            "{costs:?}"
        );
        assert!(line(5).is_none(), "an addition is free");
        assert_eq!(compare.source, "d = c > a");
    }

    #[test]
    fn the_lines_add_up_to_the_whole_program() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/auction.mpc");
        let compiled =
            crate::compile_file(std::path::Path::new(path), &Options::default()).expect("compiles");
        let costs = super::by_line(&compiled.circuit, &compiled.sources);
        let stats = compiled.stats();
        let sum = |f: fn(&super::LineCost) -> u64| costs.iter().map(f).sum::<u64>();
        assert_eq!(
            (
                sum(|c| c.nonlinear),
                sum(|c| c.and_gates),
                sum(|c| c.mul_gates)
            ),
            (stats.nonlinear, stats.and_gates, stats.mul_gates)
        );
    }
}
