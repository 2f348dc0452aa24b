//! `pack-lanes`: copies of one narrow Boolean computation side by side in one word. A
//! carry tree halves its words level by level, so below 32 bits most of each word is
//! empty, and 10^5 comparisons run 10^5 copies of the same narrow gates. This pass lays
//! `k` independent copies out in lanes of one word (copy `j` in bits `j·L..(j+1)·L` of
//! a word whose lanes are `L` bits wide) and computes each gate once for all `k`: the
//! ANDs send the same bits in fewer, longer words, and every other gate runs `k` times
//! less often. The rounds and the bits sent stay the same.
//!
//! A *region* is a connected set of packable gates: secret Boolean `And`, `Xor`, `Not`,
//! `Pext` and `Shr` on words at most [`LANE_MAX`] bits wide whose lanes line up (an
//! `And` or `Xor` of two words as wide as its result, say). Its *entries* are the words
//! it reads from outside, its *exits* its words read outside it. Regions with the same
//! gates, entries and exits, in the same order, are copies. Copies are packed `k` at a
//! time when none of them can read another's results (every entry of each comes before
//! every exit of each, by longest path from the inputs) and packing saves gates: the
//! entries are shifted into their lanes (`Shl`, `Xor`), each gate runs once on the
//! packed words (`Shr` becomes the `Pext` that takes the same bits from every lane),
//! and the exits are shifted back out (`Shr`). The circuit is rebuilt in order of
//! longest path, which is topological, with each chunk of copies right after its
//! entries.
//!
//! A word of two packed 16-bit lanes is narrow again, so the pass repeats on its own
//! result (three times at most): the last levels of 10^5 carry trees run eight to a
//! word.

use mpc_bytecode::{mask, Gate, WireId, WireKind};
use petgraph::unionfind::UnionFind;
use rustc_hash::FxHashMap;

use crate::circuit::{Circuit, CircuitBuilder};

/// The widest lanes packed: two to a word.
pub const LANE_MAX: u8 = 32;

/// Runs the pass.
pub fn run(mut c: Circuit) -> Circuit {
    for _ in 0..3 {
        match pack_once(&c) {
            Some(packed) => c = packed,
            None => break,
        }
    }
    c
}

/// One packing of the circuit's copies, or `None` if none is worth packing.
fn pack_once(c: &Circuit) -> Option<Circuit> {
    let n = c.gates.len();
    let packable: Vec<bool> = (0..n).map(|i| packable(c, i)).collect();
    if !packable.iter().any(|&p| p) {
        return None;
    }
    let regions = regions(c, &packable);
    let level = levels(c);
    let (shapes, chunks) = chunks(c, &regions, &level);
    if chunks.is_empty() {
        return None;
    }
    let mut in_chunk = vec![false; n];
    for chunk in &chunks {
        for copy in &chunk.copies {
            for &g in &regions.members[copy.region] {
                in_chunk[g as usize] = true;
            }
        }
    }
    // By longest path, which is a topological order; each chunk right after its
    // entries, and so before its exits' readers, whose paths are longer.
    enum Step {
        Chunk(usize),
        Gate(usize),
    }
    let chunk_steps = (chunks.iter().enumerate())
        .map(|(k, chunk)| ((chunk.last_entry_level + 1, 0), Step::Chunk(k)));
    let gate_steps = (0..n)
        .filter(|&i| !in_chunk[i])
        .map(|i| ((level[i], 1), Step::Gate(i)));
    let mut steps: Vec<((u32, u32), Step)> = chunk_steps.chain(gate_steps).collect();
    // Stable: gates of one level keep their order.
    steps.sort_by_key(|&(key, _)| key);

    let mut b = CircuitBuilder::with_goal(c.goal);
    let mut remap: Vec<WireId> = vec![WireId(0); n];
    for (_, step) in steps {
        match step {
            Step::Gate(i) => {
                b.set_place(c.places[c.origins[i] as usize]);
                let gate = c.gates[i].map_operands(|w| remap[w.index()]);
                remap[i] = b.push_copy_unchecked(gate, c.widths[i]);
            }
            Step::Chunk(k) => {
                let chunk = &chunks[k];
                emit_chunk(c, &regions, &shapes[chunk.shape], chunk, &mut b, &mut remap);
            }
        }
    }
    Some(b.finish_rebuilt(c.inputs.clone(), c.outputs.clone(), &remap))
}

/// Whether gate `i` may be computed in lanes: a secret Boolean operation on secret
/// Boolean words at most [`LANE_MAX`] bits wide whose lanes line up with its result's.
fn packable(c: &Circuit, i: usize) -> bool {
    let bool_word = |w: WireId| c.kinds[w.index()] == WireKind::Bool;
    let width = |w: WireId| c.widths[w.index()];
    let own = c.widths[i];
    if c.kinds[i] != WireKind::Bool || own == 0 || own > LANE_MAX {
        return false;
    }
    match c.gates[i] {
        Gate::And(a, b, _) | Gate::Xor(a, b, _) => {
            bool_word(a) && bool_word(b) && width(a) == own && width(b) == own
        }
        Gate::Not(a, w) => bool_word(a) && width(a) == w && own == w,
        Gate::Pext(a, m) => {
            bool_word(a)
                && width(a) <= LANE_MAX
                && m >> width(a) == 0
                && m.count_ones() == u32::from(own)
        }
        Gate::Shr(a, k, _) => bool_word(a) && width(a) <= LANE_MAX && k + own <= width(a),
        _ => false,
    }
}

/// The regions of a circuit: each one's gates in order, and for each gate the region
/// it is in.
struct Regions {
    members: Vec<Vec<u32>>,
    /// `u32::MAX` for a gate in no region.
    region_of: Vec<u32>,
}

/// The connected sets of packable gates, each joined through the words one reads of
/// another.
fn regions(c: &Circuit, packable: &[bool]) -> Regions {
    let n = c.gates.len();
    let mut sets = UnionFind::<u32>::new(n);
    for i in (0..n).filter(|&i| packable[i]) {
        for w in c.gates[i].operands().filter(|w| packable[w.index()]) {
            sets.union(i as u32, w.0);
        }
    }
    // Regions numbered in the order of their first gates.
    let mut members: Vec<Vec<u32>> = Vec::new();
    let mut region_of = vec![u32::MAX; n];
    let mut region_of_set = vec![u32::MAX; n];
    for i in (0..n).filter(|&i| packable[i]) {
        let set = sets.find_mut(i as u32) as usize;
        if region_of_set[set] == u32::MAX {
            region_of_set[set] = members.len() as u32;
            members.push(Vec::new());
        }
        region_of[i] = region_of_set[set];
        members[region_of[i] as usize].push(i as u32);
    }
    Regions { members, region_of }
}

/// The number of gates on the longest path from a gate without operands to each gate.
fn levels(c: &Circuit) -> Vec<u32> {
    let mut level = vec![0u32; c.gates.len()];
    for (i, gate) in c.gates.iter().enumerate() {
        level[i] = gate
            .operands()
            .map(|w| level[w.index()] + 1)
            .max()
            .unwrap_or(0);
    }
    level
}

/// A region's shape: its gates with each operand numbered as a gate of the region (from
/// 0) or as an entry (from [`ENTRY`]), the words' widths, and which gates are exits.
/// Copies have equal shapes.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Shape {
    gates: Vec<Gate>,
    widths: Vec<u8>,
    entry_widths: Vec<u8>,
    exits: Vec<bool>,
}

const ENTRY: u32 = 1 << 31;

impl Shape {
    /// The widest lane its words need.
    fn lane(&self) -> u8 {
        let words = self.widths.iter().chain(&self.entry_widths);
        words.copied().max().unwrap_or(1)
    }

    /// Whether packing `copies` copies takes fewer gates than computing them apart: the
    /// gates once, each entry shifted into `copies - 1` lanes and each exit out of
    /// `copies` lanes, against the gates `copies` times.
    fn saves_gates(&self, copies: usize) -> bool {
        if copies < 2 {
            return false;
        }
        let exits = self.exits.iter().filter(|&&e| e).count();
        let packed = self.gates.len() + 2 * (copies - 1) * self.entry_widths.len() + copies * exits;
        packed < copies * self.gates.len()
    }
}

/// One copy of a shape: its region, its entries in the shape's order, and the longest
/// paths to its latest entry and to its earliest exit.
struct Copy {
    region: usize,
    entries: Vec<WireId>,
    last_entry_level: u32,
    first_exit_level: u32,
}

/// The shape of region `r` and the copy it is.
fn shape_of(
    c: &Circuit,
    regions: &Regions,
    r: usize,
    read_outside: &[bool],
    level: &[u32],
) -> (Shape, Copy) {
    let members = &regions.members[r];
    let mut entries: Vec<WireId> = Vec::new();
    let mut position: FxHashMap<u32, u32> = FxHashMap::default();
    let mut gates = Vec::with_capacity(members.len());
    for (p, &g) in members.iter().enumerate() {
        let gate = c.gates[g as usize].map_operands(|w| match position.get(&w.0) {
            Some(&at) => WireId(at),
            None => {
                let at = entries.iter().position(|&e| e == w).unwrap_or_else(|| {
                    entries.push(w);
                    entries.len() - 1
                });
                WireId(ENTRY | at as u32)
            }
        });
        gates.push(gate);
        position.insert(g, p as u32);
    }
    let shape = Shape {
        gates,
        widths: members.iter().map(|&g| c.widths[g as usize]).collect(),
        entry_widths: entries.iter().map(|e| c.widths[e.index()]).collect(),
        exits: members.iter().map(|&g| read_outside[g as usize]).collect(),
    };
    let copy = Copy {
        region: r,
        last_entry_level: entries.iter().map(|e| level[e.index()]).max().unwrap_or(0),
        first_exit_level: (members.iter())
            .filter(|&&g| read_outside[g as usize])
            .map(|&g| level[g as usize])
            .min()
            .unwrap_or(u32::MAX),
        entries,
    };
    (shape, copy)
}

/// Copies of one shape packed together, in lane order.
struct Chunk {
    shape: usize,
    copies: Vec<Copy>,
    /// The longest path to any entry of any copy.
    last_entry_level: u32,
}

/// The shapes, and the chunks worth packing: copies of one shape, as many as fit in a
/// word, none of which can depend on another.
fn chunks(c: &Circuit, regions: &Regions, level: &[u32]) -> (Vec<Shape>, Vec<Chunk>) {
    let n = c.gates.len();
    let mut read_outside = vec![false; n];
    for (i, gate) in c.gates.iter().enumerate() {
        if regions.region_of[i] == u32::MAX {
            gate.operands().for_each(|w| read_outside[w.index()] = true);
        }
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        read_outside[w.index()] = true;
    }
    // The copies of each shape, in the order of their first gates.
    let mut index: FxHashMap<Shape, usize> = FxHashMap::default();
    let mut shapes: Vec<Shape> = Vec::new();
    let mut copies: Vec<Vec<Copy>> = Vec::new();
    for r in 0..regions.members.len() {
        let (shape, copy) = shape_of(c, regions, r, &read_outside, level);
        match index.get(&shape) {
            Some(&s) => copies[s].push(copy),
            None => {
                index.insert(shape.clone(), shapes.len());
                shapes.push(shape);
                copies.push(vec![copy]);
            }
        }
    }
    let mut chunks = Vec::new();
    for (s, copies) in copies.into_iter().enumerate() {
        let per_word = 64 / usize::from(shapes[s].lane());
        let mut open: Vec<Copy> = Vec::new();
        let mut close = |open: &mut Vec<Copy>| {
            if shapes[s].saves_gates(open.len()) {
                let last_entry_level = open.iter().map(|c| c.last_entry_level).max();
                chunks.push(Chunk {
                    shape: s,
                    copies: std::mem::take(open),
                    last_entry_level: last_entry_level.unwrap_or(0),
                });
            }
            open.clear();
        };
        for copy in copies {
            if copy.last_entry_level >= copy.first_exit_level {
                continue; // it may read its own results on the way in: it stays apart
            }
            // Every entry of each copy comes before every exit of each (by longest path),
            // so that no copy reads another's results, or its own, on the way in.
            let all = || open.iter().chain([&copy]);
            let last_entry = all().map(|c| c.last_entry_level).max();
            let first_exit = all().map(|c| c.first_exit_level).min();
            if last_entry >= first_exit {
                close(&mut open);
            }
            open.push(copy);
            if open.len() == per_word {
                close(&mut open);
            }
        }
        close(&mut open);
    }
    (shapes, chunks)
}

/// Computes the copies of `chunk` in lanes, and maps each of their gates to its word:
/// an exit to its own lane, the others to the packed word (which nothing outside reads).
fn emit_chunk(
    c: &Circuit,
    regions: &Regions,
    shape: &Shape,
    chunk: &Chunk,
    b: &mut CircuitBuilder,
    remap: &mut [WireId],
) {
    let k = chunk.copies.len() as u8;
    let spread = |m: u64, lane: u8| (0..k).fold(0u64, |all, j| all | m << (j * lane));
    let entries: Vec<WireId> = (shape.entry_widths.iter().enumerate())
        .map(|(e, &lane)| {
            let own = |j: u8| remap[chunk.copies[usize::from(j)].entries[e].index()];
            (1..k).fold(own(0), |packed, j| {
                let shifted = b.push(Gate::Shl(own(j), j * lane, k * lane));
                b.push(Gate::Xor(packed, shifted, k * lane))
            })
        })
        .collect();
    let mut packed: Vec<WireId> = Vec::with_capacity(shape.gates.len());
    let first = &regions.members[chunk.copies[0].region];
    for (p, (&gate, &lane)) in shape.gates.iter().zip(&shape.widths).enumerate() {
        b.set_place(c.places[c.origins[first[p] as usize] as usize]);
        // An operand's packed word and the width of its lanes.
        let operand = |w: WireId| match w.0 {
            e if e & ENTRY != 0 => {
                let e = (e ^ ENTRY) as usize;
                (entries[e], shape.entry_widths[e])
            }
            at => (packed[at as usize], shape.widths[at as usize]),
        };
        let word = |w: WireId| operand(w).0;
        let gate = match gate {
            Gate::And(x, y, _) => Gate::And(word(x), word(y), k * lane),
            Gate::Xor(x, y, _) => Gate::Xor(word(x), word(y), k * lane),
            Gate::Not(x, _) => Gate::Not(word(x), k * lane),
            Gate::Pext(x, m) => {
                let (x, from) = operand(x);
                Gate::Pext(x, spread(m, from))
            }
            Gate::Shr(x, s, _) => {
                let (x, from) = operand(x);
                Gate::Pext(x, spread(mask(lane) << s, from))
            }
            other => other.map_operands(word),
        };
        packed.push(b.push(gate));
        for (j, copy) in chunk.copies.iter().enumerate() {
            let own = regions.members[copy.region][p] as usize;
            remap[own] = if shape.exits[p] {
                b.push(Gate::Shr(packed[p], j as u8 * lane, lane))
            } else {
                packed[p]
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;

    /// The circuit of `text` after the passes before this one.
    fn before_packing(text: &str) -> Circuit {
        let before = crate::opt::default_pipeline()
            .into_iter()
            .take_while(|pass| pass.name != "pack-lanes");
        crate::opt::run_pipeline(
            super::super::snapshots_tests::elaborate(text),
            &before.collect::<Vec<_>>(),
        )
        .expect("passes run")
    }

    /// Values near each other and at the ends of every width.
    fn values(n: usize, seed: u64) -> Vec<u64> {
        let mut state = seed;
        (0..n)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match i % 4 {
                    0 => 1 << 63 | state >> 60,
                    1 => u64::MAX - (state >> 61),
                    2 => state >> 62,
                    _ => state,
                }
            })
            .collect()
    }

    /// Packs `text`'s circuit and checks that it has the same depth and the same outputs
    /// on a few inputs; returns its AND gates before and after.
    fn packs_with_the_same_results(text: &str, inputs_per_party: usize) -> (usize, usize) {
        let before = before_packing(text);
        let after = run(before.clone());
        after.verify().expect("a valid circuit");
        let depth = |c: &Circuit| c.depths().into_iter().max();
        assert_eq!(depth(&after), depth(&before), "packing adds no rounds");
        for seed in 0..4 {
            let inputs: Vec<Vec<u64>> = (0..2)
                .map(|p| values(inputs_per_party, seed * 2 + p))
                .collect();
            assert_eq!(
                interp::outputs(&after, &inputs),
                interp::outputs(&before, &inputs),
                "inputs {inputs:?}"
            );
        }
        let ands = |c: &Circuit| {
            c.gates
                .iter()
                .filter(|g| matches!(g, Gate::And(..)))
                .count()
        };
        (ands(&before), ands(&after))
    }

    #[test]
    fn independent_comparisons_share_words_and_keep_their_results() {
        // Nine copies, so that the last word of each width is partly empty; 8-bit
        // values make narrower trees.
        let text = "x = input(sint[9], party=0)\ny = input(sint[9], party=1)\na = input(suint8[9], party=0)\nb = input(suint8[9], party=1)\noutput([x[i] < y[i] for i in range(9)], name=\"lt\")\noutput([x[i] == y[i] for i in range(9)], name=\"eq\")\noutput([a[i] >= b[i] for i in range(9)], name=\"ge\")\n";
        let (before, after) = packs_with_the_same_results(text, 18);
        eprintln!("{before} ANDs became {after}");
        assert!(after * 4 < before * 3, "{before} ANDs became {after}");
    }

    #[test]
    fn comparisons_that_read_earlier_results_are_packed_only_with_independent_ones() {
        // Each step's comparison reads the previous maximum: those never share a word.
        // The comparisons with `y` do not depend on one another, nor on the chain.
        let text = "x = input(sint[6], party=0)\ny = input(sint[6], party=1)\nm = x[0]\nfor i in range(1, 6):\n    m = max(m, x[i])\noutput(m, name=\"max\")\noutput([x[i] < y[i] for i in range(6)], name=\"lt\")\noutput([m < y[i] for i in range(6)], name=\"above\")\n";
        let (before, after) = packs_with_the_same_results(text, 6);
        eprintln!("{before} ANDs became {after}");
        assert!(after < before, "{before} ANDs became {after}");
    }
}
