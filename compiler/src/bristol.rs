//! Bristol Fashion circuits, in and out.
//!
//! Bristol Fashion is the text format of the circuits published with SCALE-MAMBA and on
//! the "Bristol Fashion MPC circuits" page, read by emp-toolkit, MP-SPDZ and others:
//!
//! ```text
//! 6 11                    gates, wires
//! 2 2 2                   input values and their widths (wires = bits)
//! 1 3                     output values and their widths
//!
//! 2 1 0 2 4 XOR           inputs, outputs, input wires, output wires, operation
//! 2 1 1 3 5 AND
//! 1 1 5 6 INV
//! 1 1 1 7 EQ              wire 7 := the constant 1 (the "input" is the constant)
//! 1 1 4 8 EQW             wire 8 := wire 4
//! 4 2 0 1 6 7 9 10 MAND   several ANDs at once: 9 := 0 & 6, 10 := 1 & 7
//! ```
//!
//! Input values occupy the first wires, first value first; the outputs are the last
//! wires. Gates run in file order and a wire must be assigned before a gate reads it.
//!
//! **In** ([`import`]): input value `i` becomes one secret `sbool[w_i]` supplied by
//! party `i`, bit `k` being wire `k` of the value; output value `k` becomes the output
//! `out<k>`, a list of `w_k` bools in wire order. Each wire is a 1-bit Boolean wire of
//! the circuit IR (nothing is packed into words), so one Bristol AND is one AND of
//! `mpcc stats` and the AND-depth is its `depth`. The parser never trusts a count
//! before the file has shown the data behind it: a header claiming 10^12 wires or
//! gates is an error, not an allocation.
//!
//! **Out** ([`export`]): input value `j` of the file is the `j`-th input descriptor of
//! the program (the `j`-th `input(...)` the unrolled program reads, whatever its
//! party, public ones included since the format has no public values); output value
//! `k` is the `k`-th `output(...)`. A value's wires are its scalar elements in storage
//! order (row-major), each least significant bit first: 1 wire for a bool, `w` for a
//! `w`-bit integer, 64 for a fixed-point number (its stored integer). Output names and
//! recipients have no place in the format. Every gate of the optimized circuit is
//! rewritten with 1-bit XOR, AND and INV (EQ for constants, EQW to copy a wire into the
//! output block): Boolean words bit by bit, shifts and bit extraction as rewiring, the
//! conversions between arithmetic and Boolean sharing as nothing at all (a Bristol value
//! is already bits), `reveal` as the value itself, and integer `+ - *` as Boolean
//! circuits (parallel-prefix adders of AND-depth ⌈log2 64⌉ + 1, Wallace-tree
//! multipliers).
//!
//! A program whose secret work is Boolean (`sbool` values, `bits`, `from_bits`, bitwise
//! operators on them) exports with the AND count and depth `mpcc stats` reports, minus
//! any AND lane whose operand bit is a known constant (stats count a word AND by its
//! width). Conversions cost nothing in the file; arithmetic, free or one
//! multiplication under rep3, costs its Boolean circuit.

use std::fmt::Write as _;

use mpc_bytecode::{Domain, Gate, InputDesc, OutputDesc, Scalar, ValueType, WireId};

use crate::circuit::{Circuit, CircuitBuilder};
use crate::diagnostics::Diagnostic;
use crate::opt;
use crate::source::{FileId, SourceMap, Span};

/// Largest Bristol file read, in bytes (spans are 32-bit offsets).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Most wires a file may declare: the bytecode's limit on wires.
pub const MAX_WIRES: u64 = mpc_bytecode::format::MAX_WIRES;

/// Most gates of the Boolean form of an exported program (about 1 GiB while building).
pub const MAX_EXPORT_GATES: usize = 1 << 24;

/// A wire of the file that no gate has assigned yet.
const UNSET: u32 = u32::MAX;

// ---------------------------------------------------------------------------------
// In
// ---------------------------------------------------------------------------------

/// One gate of the file, its wires already checked to be below the wire count.
#[derive(Copy, Clone, Debug)]
enum FileGate {
    Xor(u32, u32, u32),
    And(u32, u32, u32),
    Inv(u32, u32),
    Const(bool, u32),
    Copy(u32, u32),
    /// `n` ANDs whose `2n` operands and `n` results start at `at` in the side table.
    Mand {
        at: usize,
        n: usize,
    },
}

impl FileGate {
    fn outputs(&self) -> u64 {
        match *self {
            FileGate::Mand { n, .. } => n as u64,
            _ => 1,
        }
    }
}

/// A parsed file: header and gates, every wire number in range.
struct Parsed {
    wires: u64,
    wires_span: Span,
    inputs: Vec<u32>,
    outputs: Vec<u32>,
    outputs_span: Span,
    gates: Vec<FileGate>,
    spans: Vec<Span>,
    mand: Vec<u32>,
}

/// Whitespace-separated tokens with their places. The format is token-based (as the
/// SCALE-MAMBA reader is), so a gate may even span lines; diagnostics still point at
/// the line of the offending token.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    file: FileId,
    last: Span,
}

impl<'a> Tokens<'a> {
    fn next(&mut self) -> Option<(&'a str, Span)> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        if self.pos == bytes.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < bytes.len() && !bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        self.last = Span::new(self.file, start, self.pos);
        // Splitting at ASCII bytes keeps UTF-8 boundaries.
        Some((&self.text[start..self.pos], self.last))
    }

    /// The next token as a number; `what` names it in the error (a closure, so that
    /// the message costs nothing on the way to success).
    fn number(&mut self, what: impl FnOnce() -> String) -> Result<(u64, Span), Diagnostic> {
        match self.next() {
            None => Err(Diagnostic::error(
                format!("the file ends where {} should be", what()),
                self.last,
            )
            .with_label("the last token")),
            Some((tok, span)) => match tok.parse::<u64>() {
                Ok(n) => Ok((n, span)),
                Err(_) if tok.bytes().all(|b| b.is_ascii_digit()) => Err(Diagnostic::error(
                    format!("{} is too large: `{}`", what(), short(tok)),
                    span,
                )),
                Err(_) => Err(Diagnostic::error(
                    format!("expected {} (a number), found `{}`", what(), short(tok)),
                    span,
                )),
            },
        }
    }
}

/// A token cut to a length fit for a message.
fn short(tok: &str) -> String {
    if tok.chars().count() <= 20 {
        tok.to_string()
    } else {
        format!("{}…", tok.chars().take(20).collect::<String>())
    }
}

/// Reads the widths line of the inputs or the outputs: a count, then that many widths
/// whose sum may not exceed the wire count.
fn widths(t: &mut Tokens<'_>, kind: &str, wires: u64) -> Result<(Vec<u32>, u64, Span), Diagnostic> {
    let (count, count_span) = t.number(|| format!("the number of {kind} values"))?;
    if kind == "input" && count > u64::from(mpc_bytecode::format::MAX_PARTIES) {
        return Err(Diagnostic::error(
            format!(
                "{count} input values: each comes from its own party, and a run has at most {} parties",
                mpc_bytecode::format::MAX_PARTIES
            ),
            count_span,
        ));
    }
    let mut list = Vec::new();
    let mut total = 0u64;
    let mut span = count_span;
    for i in 0..count {
        let (w, w_span) = t.number(|| format!("the width of {kind} value {i}"))?;
        total = total.saturating_add(w);
        if total > wires {
            return Err(Diagnostic::error(
                format!("the {kind} values need more wires than the {wires} the header declares"),
                w_span,
            ));
        }
        // total <= wires <= MAX_WIRES < 2^32.
        list.push(w as u32);
        span = count_span.to(w_span);
    }
    Ok((list, total, span))
}

fn parse(file: FileId, text: &str) -> Result<Parsed, Diagnostic> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            format!("the file exceeds the limit of {MAX_FILE_BYTES} bytes"),
            Span::new(file, 0, 0),
        ));
    }
    let mut t = Tokens {
        text,
        pos: 0,
        file,
        last: Span::new(file, 0, 0),
    };
    let (gate_count, gates_span) = t.number(|| "the number of gates".into())?;
    let (wires, wires_span) = t.number(|| "the number of wires".into())?;
    if wires > MAX_WIRES {
        return Err(Diagnostic::error(
            format!("{wires} wires exceed the limit of {MAX_WIRES}"),
            wires_span,
        ));
    }
    if gate_count > MAX_WIRES {
        return Err(Diagnostic::error(
            format!("{gate_count} gates exceed the limit of {MAX_WIRES}"),
            gates_span,
        ));
    }
    let (inputs, input_bits, _) = widths(&mut t, "input", wires)?;
    let (outputs, _, outputs_span) = widths(&mut t, "output", wires)?;

    // Grown as gates arrive: the header's count is only a claim.
    let mut gates = Vec::new();
    let mut spans = Vec::new();
    let mut mand = Vec::new();
    let mut listed: Vec<(u64, Span)> = Vec::new();
    for g in 0..gate_count {
        let gate_no = g + 1;
        let (nin, first) = t.number(|| format!("the input count of gate {gate_no}"))?;
        let (nout, _) = t.number(|| format!("the output count of gate {gate_no}"))?;
        listed.clear();
        // Each wire number is a real token, so this loop allocates in proportion to
        // the file, whatever the counts claim.
        for _ in 0..nin.saturating_add(nout) {
            let wire = t.number(|| format!("a wire of gate {gate_no}")).map_err(|d| {
                d.with_help(format!(
                    "gate {gate_no} announces {nin} input and {nout} output wires: the counts say how many wire numbers come before the operation"
                ))
            })?;
            listed.push(wire);
        }
        let (op, op_span) = t.next().ok_or_else(|| {
            Diagnostic::error(
                format!("the file ends where the operation of gate {gate_no} should be"),
                t.last,
            )
        })?;
        let span = first.to(op_span);
        let shape = |ins: &str, outs: &str| {
            Diagnostic::error(
                format!("gate {gate_no}: `{op}` takes {ins} and {outs}, not {nin} and {nout}"),
                span,
            )
        };
        // EQ's operand is a constant, not a wire: every other listed number is a wire.
        let wires_from = usize::from(op == "EQ");
        if let Some(&(w, w_span)) = listed[wires_from.min(listed.len())..]
            .iter()
            .find(|(w, _)| *w >= wires)
        {
            return Err(Diagnostic::error(
                format!(
                    "wire {w} is out of range: the header declares {wires} wires (0 to {})",
                    wires.saturating_sub(1)
                ),
                w_span,
            ));
        }
        let w = |i: usize| listed[i].0 as u32;
        let gate = match op {
            "XOR" | "AND" if (nin, nout) != (2, 1) => {
                return Err(shape("2 input wires", "1 output wire"))
            }
            "XOR" => FileGate::Xor(w(0), w(1), w(2)),
            "AND" => FileGate::And(w(0), w(1), w(2)),
            "INV" | "NOT" | "EQW" if (nin, nout) != (1, 1) => {
                return Err(shape("1 input wire", "1 output wire"))
            }
            "INV" | "NOT" => FileGate::Inv(w(0), w(1)),
            "EQW" => FileGate::Copy(w(0), w(1)),
            "EQ" if (nin, nout) != (1, 1) => return Err(shape("1 constant", "1 output wire")),
            "EQ" => match listed[0].0 {
                0 | 1 => FileGate::Const(listed[0].0 == 1, w(1)),
                c => {
                    return Err(Diagnostic::error(
                        format!("gate {gate_no}: `EQ` assigns a constant, 0 or 1, not {c}"),
                        listed[0].1,
                    ))
                }
            },
            "MAND" if nout == 0 || nout.checked_mul(2) != Some(nin) => {
                return Err(shape("2n input wires", "n output wires (n ≥ 1)"))
            }
            "MAND" => {
                let at = mand.len();
                mand.extend(listed.iter().map(|&(w, _)| w as u32));
                FileGate::Mand {
                    at,
                    n: nout as usize,
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    format!("gate {gate_no}: unknown operation `{}`", short(op)),
                    op_span,
                )
                .with_help("Bristol Fashion gates are XOR, AND, INV, EQ, EQW and MAND"))
            }
        };
        gates.push(gate);
        spans.push(span);
    }
    if let Some((tok, span)) = t.next() {
        return Err(Diagnostic::error(
            format!(
                "unexpected `{}` after the last gate: the header announces {gate_count} gates",
                short(tok)
            ),
            span,
        ));
    }
    // Every wire past the inputs is assigned by some gate (the outputs, the last wires,
    // must be), so the wire table can be sized by what the file holds, not by the claim.
    let assignable = input_bits + gates.iter().map(FileGate::outputs).sum::<u64>();
    if wires > assignable {
        return Err(Diagnostic::error(
            format!(
                "the header declares {wires} wires, but the inputs and gates assign at most {assignable}"
            ),
            wires_span,
        ));
    }
    Ok(Parsed {
        wires,
        wires_span,
        inputs,
        outputs,
        outputs_span,
        gates,
        spans,
        mand,
    })
}

fn bool_array(len: u32) -> ValueType {
    ValueType::Array(Box::new(ValueType::Scalar(Scalar::Bool)), len)
}

/// Reads the Bristol Fashion file `file` of `sources` as a circuit: input value `i` is a
/// secret `sbool[w_i]` of party `i`, outputs are `out0`, `out1`, … (see the module
/// docs). Errors point at the offending token.
pub fn import(sources: &SourceMap, file: FileId) -> Result<Circuit, Vec<Diagnostic>> {
    import_lanes(sources, file, 1)
}

/// The most instances [`import_lanes`] evaluates side by side.
pub const MAX_LANES: u32 = 1 << 16;

/// [`import`] for `lanes` instances of the circuit evaluated side by side (bit-sliced:
/// each wire is a word holding up to 64 instances): input value `i` is an
/// `sbool[lanes][w_i]` of party `i` and output `k` an `sbool[lanes][w_k]`, instance `j`
/// in row `j`. The ANDs are those of one instance times `lanes`, in the same rounds.
pub fn import_lanes(
    sources: &SourceMap,
    file: FileId,
    lanes: u32,
) -> Result<Circuit, Vec<Diagnostic>> {
    let parsed = parse(file, &sources.get(file).text).map_err(|d| vec![d])?;
    if !(1..=MAX_LANES).contains(&lanes) {
        let span = parsed.wires_span;
        return Err(vec![Diagnostic::error(
            format!("the number of lanes must be between 1 and {MAX_LANES}, not {lanes}"),
            span,
        )]);
    }
    build(&parsed, lanes).map_err(|d| vec![d])
}

/// The lanes of each word: groups of up to 64 instances.
fn lane_groups(lanes: u32) -> impl Iterator<Item = (u32, u8)> {
    (0..lanes.div_ceil(64)).map(move |g| (g * 64, (lanes - g * 64).min(64) as u8))
}

fn build(p: &Parsed, lanes: u32) -> Result<Circuit, Diagnostic> {
    let mut b = CircuitBuilder::new();
    for (party, &width) in p.inputs.iter().enumerate() {
        let ty = if lanes == 1 {
            bool_array(width)
        } else {
            ValueType::Array(Box::new(bool_array(width)), lanes)
        };
        b.declare_input(InputDesc {
            party: party as u32,
            name: format!("in{party}"),
            ty,
            public: false,
        });
    }
    let groups: Vec<Vec<WireId>> = lane_groups(lanes)
        .map(|(first, width)| build_group(p, &mut b, first, width))
        .collect::<Result<_, _>>()?;
    // Each group's words of the output bits, all outputs back to back.
    let mut next = 0;
    for (k, &width) in p.outputs.iter().enumerate() {
        let bits = next..next + width as usize;
        next += width as usize;
        let mut wires = Vec::with_capacity(width as usize * lanes as usize);
        for ((_, group_width), words) in lane_groups(lanes).zip(&groups) {
            for lane in 0..group_width {
                for &word in &words[bits.clone()] {
                    wires.push(if lanes == 1 {
                        word
                    } else {
                        b.push(Gate::Shr(word, lane, 1))
                    });
                }
            }
        }
        let ty = if lanes == 1 {
            bool_array(width)
        } else {
            ValueType::Array(Box::new(bool_array(width)), lanes)
        };
        b.declare_output(OutputDesc {
            name: format!("out{k}"),
            ty,
            to: vec![],
            wires,
        });
    }
    Ok(b.finish())
}

/// One copy of the circuit on words of `width` lanes, instances `first..first + width`:
/// the wire of every output bit, in the order of the file's last wires.
fn build_group(
    p: &Parsed,
    b: &mut CircuitBuilder,
    first: u32,
    width: u8,
) -> Result<Vec<WireId>, Diagnostic> {
    // parse() checked that the wires fit what the file assigns.
    let mut table = vec![UNSET; p.wires as usize];
    let mut next = 0usize;
    for (party, &bits) in p.inputs.iter().enumerate() {
        for bit in 0..bits {
            // Instance j's bit is element [j][bit], at j * bits + bit; lane j - first of
            // the word.
            let mut word = None;
            for lane in 0..width {
                let index = (first + u32::from(lane)) * bits + bit;
                let input = b.push(Gate::Input {
                    party: party as u32,
                    index,
                    domain: Domain::Bool,
                });
                let placed = if lane == 0 {
                    input
                } else {
                    b.push(Gate::Shl(input, lane, width))
                };
                word = Some(match word {
                    None => placed,
                    Some(w) => b.push(Gate::Xor(w, placed, width)),
                });
            }
            table[next] = word.map_or(UNSET, |w| w.0);
            next += 1;
        }
    }
    let w = width;
    let ones = mpc_bytecode::mask(w);
    for (gate, &span) in p.gates.iter().zip(&p.spans) {
        b.set_place(span);
        let read = |table: &[u32], w: u32| match table[w as usize] {
            UNSET => Err(Diagnostic::error(
                format!("wire {w} is read before any gate assigns it"),
                span,
            )),
            id => Ok(WireId(id)),
        };
        match *gate {
            FileGate::Xor(x, y, out) => {
                let g = Gate::Xor(read(&table, x)?, read(&table, y)?, w);
                table[out as usize] = b.push(g).0;
            }
            FileGate::And(x, y, out) => {
                let g = Gate::And(read(&table, x)?, read(&table, y)?, w);
                table[out as usize] = b.push(g).0;
            }
            FileGate::Inv(x, out) => {
                let g = Gate::Not(read(&table, x)?, w);
                table[out as usize] = b.push(g).0;
            }
            FileGate::Const(c, out) => {
                table[out as usize] = b.constant(if c { ones } else { 0 }).0;
            }
            FileGate::Copy(x, out) => table[out as usize] = read(&table, x)?.0,
            FileGate::Mand { at, n } => {
                // All operands are read before any result is written, as one gate.
                let ops = &p.mand[at..at + 2 * n];
                let results = &p.mand[at + 2 * n..at + 3 * n];
                let mut ands = Vec::with_capacity(n);
                for k in 0..n {
                    ands.push(Gate::And(
                        read(&table, ops[k])?,
                        read(&table, ops[n + k])?,
                        w,
                    ));
                }
                for (g, &out) in ands.into_iter().zip(results) {
                    table[out as usize] = b.push(g).0;
                }
            }
        }
    }
    let out_bits: u64 = p.outputs.iter().map(|&w| u64::from(w)).sum();
    let mut next = (p.wires - out_bits) as usize;
    let mut words = Vec::with_capacity(out_bits as usize);
    for (k, &width) in p.outputs.iter().enumerate() {
        for bit in 0..width {
            match table[next] {
                UNSET => {
                    return Err(Diagnostic::error(
                        format!("output wire {next} (bit {bit} of output {k}) is never assigned"),
                        p.outputs_span,
                    )
                    .with_secondary(p.wires_span, "the outputs are the last wires"))
                }
                id => words.push(WireId(id)),
            }
            next += 1;
        }
    }
    Ok(words)
}

// ---------------------------------------------------------------------------------
// Out
// ---------------------------------------------------------------------------------

/// Why a circuit cannot be written in Bristol Fashion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportError(pub String);

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExportError {}

/// The circuit as a Bristol Fashion file (see the module docs for the mapping).
pub fn export(c: &Circuit) -> Result<String, ExportError> {
    let bits = boolean_form(c)?;
    // The same passes the importer runs, so that reading the file back gives the same
    // circuit, and the same figures.
    let bits = opt::run_pipeline(bits, &opt::default_pipeline()).map_err(ExportError)?;
    write(&bits)
}

/// Where an input element of the program lands in the file.
#[derive(Copy, Clone)]
struct Slot {
    value: u32,
    offset: u32,
    scalar: Scalar,
}

/// The program's inputs as Bristol input values: for each party, its flattened input
/// elements in `Input` index order; and the width of each value.
struct Layout {
    slots: Vec<Vec<Slot>>,
    widths: Vec<u32>,
}

impl Layout {
    fn of(c: &Circuit) -> Result<Layout, ExportError> {
        let elements: u64 = c
            .inputs
            .iter()
            .map(|d| d.ty.element_count().unwrap_or(u64::MAX))
            .fold(0, u64::saturating_add);
        if elements > MAX_EXPORT_GATES as u64 {
            return Err(ExportError(format!(
                "the program reads {elements} input elements, more than the {MAX_EXPORT_GATES} an export may have"
            )));
        }
        let parties = c
            .inputs
            .iter()
            .map(|d| d.party as usize + 1)
            .max()
            .unwrap_or(0);
        let mut slots = vec![Vec::new(); parties];
        let mut widths = Vec::with_capacity(c.inputs.len());
        for (value, desc) in c.inputs.iter().enumerate() {
            let mut offset = 0u32;
            let party = &mut slots[desc.party as usize];
            desc.ty.for_each_scalar(&mut |scalar| {
                party.push(Slot {
                    value: value as u32,
                    offset,
                    scalar,
                });
                // At most 2^24 elements of at most 64 bits: no overflow.
                offset += u32::from(scalar.bits());
            });
            widths.push(offset);
        }
        Ok(Layout { slots, widths })
    }
}

/// Builds 1-bit gates, folding constants first so that no gate reads a constant.
struct Bits {
    b: CircuitBuilder,
    zero: WireId,
    one: WireId,
}

impl Bits {
    fn constant(&self, w: WireId) -> Option<bool> {
        self.b.const_value(w).map(|v| v & 1 == 1)
    }

    fn not(&mut self, a: WireId) -> WireId {
        match self.constant(a) {
            Some(v) => self.bit(!v),
            None => self.b.push(Gate::Not(a, 1)),
        }
    }

    fn bit(&self, v: bool) -> WireId {
        if v {
            self.one
        } else {
            self.zero
        }
    }

    fn xor(&mut self, a: WireId, b: WireId) -> WireId {
        match (self.constant(a), self.constant(b)) {
            (Some(x), Some(y)) => self.bit(x ^ y),
            (Some(false), None) => b,
            (None, Some(false)) => a,
            (Some(true), None) => self.not(b),
            (None, Some(true)) => self.not(a),
            (None, None) => self.b.push(Gate::Xor(a, b, 1)),
        }
    }

    fn and(&mut self, a: WireId, b: WireId) -> WireId {
        match (self.constant(a), self.constant(b)) {
            (Some(false), _) | (_, Some(false)) => self.zero,
            (Some(true), _) => b,
            (_, Some(true)) => a,
            (None, None) => self.b.push(Gate::And(a, b, 1)),
        }
    }

    /// `x + y + carry_in` on 64-bit words, Sklansky parallel prefix: AND-depth 1 for the
    /// generate bits and one per level, 7 in all; high bits nobody reads are removed
    /// later with the other dead gates.
    fn add(&mut self, x: &[WireId], y: &[WireId], carry_in: WireId) -> Vec<WireId> {
        let n = x.len();
        if n == 0 {
            return Vec::new();
        }
        let p: Vec<WireId> = (0..n).map(|i| self.xor(x[i], y[i])).collect();
        let mut g: Vec<WireId> = (0..n).map(|i| self.and(x[i], y[i])).collect();
        // The carry-in generates at bit 0 when bit 0 propagates it; a bit's generate and
        // propagate are disjoint, so OR is XOR here and below.
        let enters = self.and(p[0], carry_in);
        g[0] = self.xor(g[0], enters);
        let mut group_p = p.clone();
        let mut half = 1;
        while half < n {
            for i in (0..n).filter(|i| i & half != 0) {
                let mid = i & !(half - 1);
                let j = mid - 1;
                let through = self.and(group_p[i], g[j]);
                g[i] = self.xor(g[i], through);
                // Groups reaching bit 0 are complete: their propagate is never read.
                if mid >= 2 * half {
                    group_p[i] = self.and(group_p[i], group_p[j]);
                }
            }
            half *= 2;
        }
        (0..n)
            .map(|i| {
                let carry = if i == 0 { carry_in } else { g[i - 1] };
                self.xor(p[i], carry)
            })
            .collect()
    }

    /// `(a, b, c)` to `(sum, carry)` with one AND: `carry = ((a ^ c) & (b ^ c)) ^ c`.
    fn full_add(&mut self, a: WireId, b: WireId, c: WireId) -> (WireId, WireId) {
        let ac = self.xor(a, c);
        let bc = self.xor(b, c);
        let sum = self.xor(ac, b);
        let both = self.and(ac, bc);
        (sum, self.xor(both, c))
    }

    /// The low 64 bits of `x * y`: partial products, a Wallace tree of full adders down
    /// to two rows, then one prefix adder.
    fn mul(&mut self, x: &[WireId], y: &[WireId]) -> Vec<WireId> {
        let n = x.len();
        let mut columns: Vec<Vec<WireId>> = vec![Vec::new(); n];
        for (i, &xi) in x.iter().enumerate() {
            for (j, &yj) in y.iter().enumerate().take(n - i) {
                let pp = self.and(xi, yj);
                if pp != self.zero {
                    columns[i + j].push(pp);
                }
            }
        }
        // Each stage turns every three bits of a column into a sum there and a carry in
        // the next column; it ends because every full adder removes a bit.
        while columns.iter().any(|c| c.len() > 2) {
            let mut next: Vec<Vec<WireId>> = vec![Vec::new(); n];
            for k in 0..n {
                let column = std::mem::take(&mut columns[k]);
                let mut triples = column.chunks_exact(3);
                for t in &mut triples {
                    let (sum, carry) = self.full_add(t[0], t[1], t[2]);
                    if sum != self.zero {
                        next[k].push(sum);
                    }
                    if k + 1 < n && carry != self.zero {
                        next[k + 1].push(carry);
                    }
                }
                next[k].extend_from_slice(triples.remainder());
            }
            columns = next;
        }
        let row = |r: usize| -> Vec<WireId> {
            columns
                .iter()
                .map(|c| c.get(r).copied().unwrap_or(self.zero))
                .collect()
        };
        let (r0, r1) = (row(0), row(1));
        self.add(&r0, &r1, self.zero)
    }
}

/// Bit `i` of a value stored as its low bits (higher bits are zero).
fn bit_of(v: &[WireId], i: usize, zero: WireId) -> WireId {
    v.get(i).copied().unwrap_or(zero)
}

/// The low `n` bits of a value.
fn low(v: &[WireId], n: usize, zero: WireId) -> Vec<WireId> {
    (0..n).map(|i| bit_of(v, i, zero)).collect()
}

/// The circuit with every wire split into 1-bit wires and every gate rewritten with
/// 1-bit XOR, AND and NOT: input value `j` is party `j`'s `sbool[w_j]`, each output an
/// `sbool[w]` list, as [`import`] builds them from a file.
pub fn boolean_form(c: &Circuit) -> Result<Circuit, ExportError> {
    let layout = Layout::of(c)?;
    let mut b = CircuitBuilder::new();
    let zero = b.constant(0);
    let one = b.constant(1);
    let mut bits = Bits { b, zero, one };
    for (value, &width) in layout.widths.iter().enumerate() {
        bits.b.declare_input(InputDesc {
            party: value as u32,
            name: c.inputs[value].name.clone(),
            ty: bool_array(width),
            public: false,
        });
    }
    // Values are freed after their last reader, so memory follows the live values.
    let mut last_use = vec![usize::MAX; c.gates.len()];
    for (i, gate) in c.gates.iter().enumerate() {
        for w in gate.operands() {
            last_use[w.index()] = i;
        }
    }
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        last_use[w.index()] = usize::MAX;
    }
    let mut values: Vec<Vec<WireId>> = Vec::with_capacity(c.gates.len());
    for (i, gate) in c.gates.iter().enumerate() {
        let mut v = blast(&mut bits, gate, &values, &layout)?;
        while v.last() == Some(&zero) {
            v.pop();
        }
        values.push(v);
        for w in gate.operands() {
            if last_use[w.index()] == i {
                values[w.index()] = Vec::new();
            }
        }
        if bits.b.len() > MAX_EXPORT_GATES {
            return Err(ExportError(format!(
                "the Boolean form of the program has more than {MAX_EXPORT_GATES} gates"
            )));
        }
    }
    for out in &c.outputs {
        let mut scalars = Vec::with_capacity(out.wires.len());
        out.ty.for_each_scalar(&mut |s| scalars.push(s));
        if scalars.len() != out.wires.len() {
            return Err(ExportError(format!(
                "output `{}` has {} wires for {} elements",
                out.name,
                out.wires.len(),
                scalars.len()
            )));
        }
        let mut wires = Vec::new();
        for (s, w) in scalars.iter().zip(&out.wires) {
            wires.extend(low(&values[w.index()], usize::from(s.bits()), zero));
        }
        let width = u32::try_from(wires.len())
            .map_err(|_| ExportError(format!("output `{}` is too wide", out.name)))?;
        bits.b.declare_output(OutputDesc {
            name: out.name.clone(),
            ty: bool_array(width),
            to: vec![],
            wires,
        });
    }
    Ok(bits.b.finish())
}

/// The bits of one gate's result, least significant first.
fn blast(
    bits: &mut Bits,
    gate: &Gate,
    values: &[Vec<WireId>],
    layout: &Layout,
) -> Result<Vec<WireId>, ExportError> {
    let zero = bits.zero;
    let v = |w: WireId| values[w.index()].as_slice();
    let word = |w: WireId, n: u8| low(v(w), usize::from(n.min(64)), zero);
    Ok(match *gate {
        Gate::Const(c) => (0..64).map(|i| bits.bit(c >> i & 1 == 1)).collect(),
        Gate::Input { party, index, .. } | Gate::PublicInput { party, index } => {
            let slot = layout
                .slots
                .get(party as usize)
                .and_then(|s| s.get(index as usize))
                .copied()
                .ok_or_else(|| ExportError(format!("input p{party}[{index}] is not declared")))?;
            (0..u32::from(slot.scalar.bits()))
                .map(|k| {
                    bits.b.push(Gate::Input {
                        party: slot.value,
                        index: slot.offset + k,
                        domain: Domain::Bool,
                    })
                })
                .collect()
        }
        Gate::Add(x, y) => bits.add(&word(x, 64), &word(y, 64), zero),
        Gate::Sub(x, y) => {
            let not_y: Vec<WireId> = word(y, 64).into_iter().map(|b| bits.not(b)).collect();
            bits.add(&word(x, 64), &not_y, bits.one)
        }
        Gate::Neg(x) => {
            let not_x: Vec<WireId> = word(x, 64).into_iter().map(|b| bits.not(b)).collect();
            bits.add(&not_x, &[zero; 64], bits.one)
        }
        // A product left as additive terms is, in the clear, the product.
        Gate::Mul(x, y) | Gate::MulLocal(x, y) => bits.mul(&word(x, 64), &word(y, 64)),
        Gate::Trunc(x, k) => {
            let x = word(x, 64);
            (0..64).map(|i| x[(i + usize::from(k)).min(63)]).collect()
        }
        Gate::Xor(x, y, w) => {
            let (x, y) = (word(x, w), word(y, w));
            x.iter().zip(&y).map(|(&a, &b)| bits.xor(a, b)).collect()
        }
        Gate::And(x, y, w) => {
            let (x, y) = (word(x, w), word(y, w));
            x.iter().zip(&y).map(|(&a, &b)| bits.and(a, b)).collect()
        }
        Gate::Not(x, w) => word(x, w).into_iter().map(|b| bits.not(b)).collect(),
        Gate::Shl(x, k, w) => {
            let k = usize::from(k);
            (0..usize::from(w.min(64)))
                .map(|i| {
                    if i >= k {
                        bit_of(v(x), i - k, zero)
                    } else {
                        zero
                    }
                })
                .collect()
        }
        Gate::Shr(x, k, w) => (0..usize::from(w.min(64)))
            .map(|i| bit_of(v(x), i + usize::from(k), zero))
            .collect(),
        Gate::Sar(x, k, w) => {
            let w = usize::from(w.clamp(1, 64));
            (0..w)
                .map(|i| bit_of(v(x), (i + usize::from(k)).min(w - 1), zero))
                .collect()
        }
        Gate::Broadcast(x, w) => vec![bit_of(v(x), 0, zero); usize::from(w.min(64))],
        Gate::A2B(x, w) | Gate::PairA2B(x, w) => word(x, w),
        // In the clear a sharing is its component 0 and the others are zero (gate.rs).
        Gate::SplitA2B(x, k, w) | Gate::SplitB2A(x, k, w) => {
            if k == 0 {
                word(x, w)
            } else {
                Vec::new()
            }
        }
        Gate::B2A(x) | Gate::Open(x) | Gate::Reshare(x) => v(x).to_vec(),
        // Component 2 is zero in the clear, so the pair's AND with it is too.
        Gate::PairAnd(..) => Vec::new(),
        Gate::PairEq(x, w) => {
            let x = word(x, w);
            x.chunks(2)
                .map(|pair| {
                    let zeros: Vec<WireId> = pair.iter().map(|&b| bits.not(b)).collect();
                    match zeros[..] {
                        [lo, hi] => bits.and(lo, hi),
                        [lo] => lo,
                        _ => unreachable!("chunks of one or two"),
                    }
                })
                .collect()
        }
        Gate::MulBit(c, x) => {
            let c = bit_of(v(c), 0, zero);
            word(x, 64).into_iter().map(|b| bits.and(c, b)).collect()
        }
        Gate::Pext(x, mask) => (0..64)
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| bit_of(v(x), i, zero))
            .collect(),
        // Gates added to the instruction set later land here, with a clear message,
        // until they get a Bristol form.
        #[allow(unreachable_patterns)]
        ref other => {
            return Err(ExportError(format!(
                "the `{}` gate has no Bristol Fashion form yet",
                other.mnemonic()
            )))
        }
    })
}

/// Writes a circuit of 1-bit gates (as [`boolean_form`] and [`import`] build them) as a
/// Bristol Fashion file. Gates that produce an output bit write straight into the
/// output block (the last wires); an output bit that is an input, a constant or a
/// repeat gets an `EQW`/`EQ` copy there.
pub fn write(c: &Circuit) -> Result<String, ExportError> {
    let bug = |msg: String| Err(ExportError(format!("cannot write the circuit: {msg}")));
    let mut input_base = Vec::with_capacity(c.inputs.len());
    let mut input_bits = 0u64;
    for (j, desc) in c.inputs.iter().enumerate() {
        if desc.party as usize != j {
            return bug(format!("input {j} comes from party {}", desc.party));
        }
        input_base.push(input_bits);
        input_bits += desc.ty.element_count().unwrap_or(0);
    }
    let out_wires: Vec<WireId> = c
        .outputs
        .iter()
        .flat_map(|o| o.wires.iter().copied())
        .collect();
    let out_bits = out_wires.len() as u64;

    // Which output bit each gate writes directly, and the copies the others need.
    const NONE: u64 = u64::MAX;
    let mut direct = vec![NONE; c.gates.len()];
    let mut copies = Vec::new();
    for (t, &w) in out_wires.iter().enumerate() {
        let is_logic = matches!(
            c.gates[w.index()],
            Gate::Xor(..) | Gate::And(..) | Gate::Not(..)
        );
        if is_logic && direct[w.index()] == NONE {
            direct[w.index()] = t as u64;
        } else {
            copies.push((t as u64, w));
        }
    }
    let mut constant_read = vec![false; c.gates.len()];
    for gate in &c.gates {
        for w in gate.operands() {
            constant_read[w.index()] |= matches!(c.gates[w.index()], Gate::Const(_));
        }
    }
    let logic = c
        .gates
        .iter()
        .filter(|g| matches!(g, Gate::Xor(..) | Gate::And(..) | Gate::Not(..)))
        .count() as u64;
    let constants = constant_read.iter().filter(|&&r| r).count() as u64;
    let gate_count = logic + constants + copies.len() as u64;
    let wires = input_bits + gate_count;
    let out_start = wires - out_bits;

    // Writing into a String cannot fail: the `let _ = writeln!` below lose nothing.
    let mut text = String::with_capacity(24 * gate_count as usize + 64);
    let list = |ws: Vec<u64>| {
        let mut s = ws.len().to_string();
        for w in ws {
            let _ = write!(s, " {w}");
        }
        s
    };
    let widths =
        |tys: Vec<&ValueType>| list(tys.iter().map(|t| t.element_count().unwrap_or(0)).collect());
    let _ = writeln!(text, "{gate_count} {wires}");
    let _ = writeln!(text, "{}", widths(c.inputs.iter().map(|d| &d.ty).collect()));
    let _ = writeln!(
        text,
        "{}",
        widths(c.outputs.iter().map(|o| &o.ty).collect())
    );
    text.push('\n');

    let mut number = vec![0u64; c.gates.len()];
    let mut next = input_bits;
    for (i, gate) in c.gates.iter().enumerate() {
        let mut fresh = || {
            if direct[i] != NONE {
                out_start + direct[i]
            } else {
                next += 1;
                next - 1
            }
        };
        match *gate {
            Gate::Input {
                party,
                index,
                domain: Domain::Bool,
            } if u64::from(index)
                < c.inputs
                    .get(party as usize)
                    .and_then(|d| d.ty.element_count())
                    .unwrap_or(0) =>
            {
                number[i] = input_base[party as usize] + u64::from(index);
            }
            // Constants only outputs read are written with their copies below.
            Gate::Const(_) if !constant_read[i] => {}
            Gate::Const(v @ (0 | 1)) => {
                number[i] = fresh();
                let _ = writeln!(text, "1 1 {v} {} EQ", number[i]);
            }
            Gate::Xor(a, b, 1) | Gate::And(a, b, 1) => {
                let op = if matches!(gate, Gate::Xor(..)) {
                    "XOR"
                } else {
                    "AND"
                };
                let (a, b) = (number[a.index()], number[b.index()]);
                number[i] = fresh();
                let _ = writeln!(text, "2 1 {a} {b} {} {op}", number[i]);
            }
            Gate::Not(a, 1) => {
                let a = number[a.index()];
                number[i] = fresh();
                let _ = writeln!(text, "1 1 {a} {} INV", number[i]);
            }
            other => return bug(format!("w{i} = {other} is not a 1-bit gate")),
        }
    }
    for (t, w) in copies {
        let to = out_start + t;
        match c.gates[w.index()] {
            Gate::Const(v @ (0 | 1)) => {
                let _ = writeln!(text, "1 1 {v} {to} EQ");
            }
            Gate::Const(v) => return bug(format!("output bit {t} is the constant {v}")),
            _ => {
                let _ = writeln!(text, "1 1 {} {to} EQW", number[w.index()]);
            }
        }
    }
    if next != out_start {
        return bug(format!(
            "{next} wires numbered before the outputs, expected {out_start}"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics;
    use crate::interp;

    fn sources(text: &str) -> (SourceMap, FileId) {
        let mut s = SourceMap::default();
        let f = s.add("c.txt", None, text.to_string());
        (s, f)
    }

    fn import_text(text: &str) -> Result<Circuit, String> {
        let (s, f) = sources(text);
        import(&s, f).map_err(|d| diagnostics::render(&s, &d))
    }

    /// The outputs of a 1-bit circuit for inputs given as bit lists, one per value.
    fn run_bits(c: &Circuit, inputs: &[Vec<bool>]) -> Vec<Vec<bool>> {
        let raw: Vec<Vec<u64>> = inputs
            .iter()
            .map(|v| v.iter().map(|&b| u64::from(b)).collect())
            .collect();
        interp::outputs(c, &raw)
            .expect("evaluates")
            .into_iter()
            .map(|o| o.into_iter().map(|v| v & 1 == 1).collect())
            .collect()
    }

    fn to_bits(x: u64, n: usize) -> Vec<bool> {
        (0..n).map(|i| x >> i & 1 == 1).collect()
    }

    fn from_bits(bits: &[bool]) -> u64 {
        bits.iter()
            .enumerate()
            .fold(0, |acc, (i, &b)| acc | (u64::from(b) << i))
    }

    /// Every gate kind once: out0 = [a0 ^ b0, a0 & b1, !a1, 1, a1, a0 & b0, a1 & b1] (the
    /// last two from one MAND), out1 = [b0] (an input copied into the output block).
    const SMALL: &str = "\
7 12
2 2 2
2 7 1

2 1 0 2 4 XOR
2 1 0 3 5 AND
1 1 1 6 INV
1 1 1 7 EQ
1 1 1 8 EQW
4 2 0 1 2 3 9 10 MAND
1 1 2 11 EQW
";

    #[test]
    fn the_module_example_reads() {
        let example = "6 11\n2 2 2\n1 3\n\n2 1 0 2 4 XOR\n2 1 1 3 5 AND\n1 1 5 6 INV\n\
                       1 1 1 7 EQ\n1 1 4 8 EQW\n4 2 0 1 6 7 9 10 MAND\n";
        let c = import_text(example).unwrap();
        // a = [1, 1], b = [1, 0]: [a0 ^ b0, a0 & !(a1 & b1), a1 & 1].
        let got = run_bits(&c, &[vec![true, true], vec![true, false]]);
        assert_eq!(got, vec![vec![false, true, true]]);
    }

    #[test]
    fn every_gate_kind_evaluates() {
        let c = import_text(SMALL).unwrap();
        for a in 0..4u64 {
            for b in 0..4u64 {
                let got = run_bits(&c, &[to_bits(a, 2), to_bits(b, 2)]);
                let (a0, a1, b0, b1) = (a & 1, a >> 1, b & 1, b >> 1);
                let expected = [a0 ^ b0, a0 & b1, 1 - a1, 1, a1, a0 & b0, a1 & b1];
                let expected: Vec<bool> = expected.iter().map(|&v| v == 1).collect();
                assert_eq!(got, vec![expected, vec![b0 == 1]], "a={a} b={b}");
            }
        }
        assert_eq!(c.inputs.len(), 2);
        assert_eq!(c.inputs[1].party, 1);
        assert_eq!(c.inputs[1].ty, bool_array(2));
        assert_eq!(c.outputs[0].name, "out0");
        assert_eq!(c.outputs[0].ty, bool_array(7));
    }

    #[test]
    fn malformed_files_are_errors_with_their_line() {
        let cases: &[(&str, &str, &str)] = &[
            ("", "ends where the number of gates", "c.txt:1"),
            ("1 3\n1 2\n1 1\n2 1 0 1 2 XOR\n", "", ""),
            (
                "x 3\n",
                "expected the number of gates (a number), found `x`",
                "c.txt:1",
            ),
            (
                "1 3\n1 2\n1 1\n\n2 1 0 1 2 NAND\n",
                "unknown operation `NAND`",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n2 1 0 7 2 XOR\n",
                "wire 7 is out of range",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n2 1 0 2 2 XOR\n",
                "wire 2 is read before",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n1 1 0 2 XOR\n",
                "`XOR` takes 2 input wires",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n1 1 5 2 EQ\n",
                "constant, 0 or 1, not 5",
                "c.txt:5",
            ),
            (
                "2 4\n1 2\n1 1\n\n2 1 0 1 2 XOR\n",
                "ends where the input count of gate 2",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n2 1 0 1 2 XOR\n1\n",
                "unexpected `1` after the last gate",
                "c.txt:6",
            ),
            (
                "1 4\n1 2\n1 1\n\n3 1 0 1 2 3 MAND\n",
                "`MAND` takes 2n input wires",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n3 1 0 1 2 XOR\n",
                "the counts say how many",
                "c.txt:5",
            ),
            (
                "1 3\n1 2\n1 1\n\n2 1 0 1\n",
                "ends where a wire of gate 1",
                "c.txt:5",
            ),
            (
                "1 3\n1 4\n1 1\n",
                "input values need more wires than the 3",
                "c.txt:2",
            ),
            (
                "1 3\n1 2\n1 1\n\n2 1 0 1 1 XOR\n",
                "output wire 2 (bit 0 of output 0) is never assigned",
                "c.txt:3",
            ),
            (
                "1 1000000000000\n1 2\n1 1\n",
                "wires exceed the limit",
                "c.txt:1",
            ),
            (
                "1000000000000 3\n1 2\n1 1\n",
                "gates exceed the limit",
                "c.txt:1",
            ),
            (
                "1 2000000000\n1 2\n1 1\n\n2 1 0 1 1999999999 XOR\n",
                "declares 2000000000 wires, but the inputs and gates assign at most 3",
                "c.txt:1",
            ),
            ("1 3\n99999999999999999999999 2\n", "too large", "c.txt:2"),
            ("1 3\n70000 2\n", "at most 65536 parties", "c.txt:2"),
        ];
        for (text, needle, line) in cases {
            match import_text(text) {
                Ok(_) => assert!(needle.is_empty(), "accepted:\n{text}"),
                Err(e) => {
                    assert!(!needle.is_empty(), "rejected:\n{text}\n{e}");
                    assert!(e.contains(needle), "{text}\nlacks {needle:?}:\n{e}");
                    assert!(e.contains(line), "{text}\nlacks {line}:\n{e}");
                }
            }
        }
    }

    #[test]
    fn no_byte_string_panics() {
        let base = "3 6\n2 1 1\n1 2\n\n2 1 0 1 2 AND\n1 1 2 4 INV\n4 2 0 1 2 4 3 5 MAND\n";
        import_text(base).expect("the base file is valid");
        let bytes = base.as_bytes();
        for len in 0..bytes.len() {
            let _ = import_text(&base[..len]);
        }
        for i in 0..bytes.len() {
            for replacement in ["", "9", "0", " ", "\n", "4294967295", "-", "MAND", "é"] {
                let mut text = base[..i].to_string();
                text.push_str(replacement);
                text.push_str(&base[i + 1..]);
                let _ = import_text(&text);
            }
        }
    }

    /// A circuit of word-level gates on two 64-bit arithmetic inputs and an 8-bit one.
    fn word_circuit(build: impl Fn(&mut CircuitBuilder, WireId, WireId) -> WireId) -> Circuit {
        let mut b = CircuitBuilder::new();
        let ty = |bits, signed| ValueType::Scalar(Scalar::Int { bits, signed });
        for (party, name) in [(0, "x"), (1, "y")] {
            b.declare_input(InputDesc {
                party,
                name: name.into(),
                ty: ty(64, true),
                public: false,
            });
        }
        let x = b.test_input(0, 0);
        let y = b.test_input(1, 0);
        let r = build(&mut b, x, y);
        b.declare_output(OutputDesc {
            name: "r".into(),
            ty: ty(64, false),
            to: vec![],
            wires: vec![r],
        });
        b.finish()
    }

    const SAMPLES: [u64; 8] = [
        0,
        1,
        u64::MAX,
        0x8000_0000_0000_0000,
        0x1234_5678_9abc_def0,
        0xfedc_ba98_7654_3210,
        0x7fff_ffff_ffff_ffff,
        0xdead_beef,
    ];

    /// The circuit, its Boolean form and the form written and read back agree.
    fn same_values(c: &Circuit) {
        let form = boolean_form(c).expect("exports");
        let text = export(c).expect("exports");
        let back = import_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for &x in &SAMPLES {
            for &y in &SAMPLES {
                let expected = interp::outputs(c, &[vec![x], vec![y]]).unwrap()[0][0];
                let inputs = [to_bits(x, 64), to_bits(y, 64)];
                for (what, circuit) in [("boolean form", &form), ("file", &back)] {
                    let got = from_bits(&run_bits(circuit, &inputs)[0]);
                    assert_eq!(got, expected, "{what}: x={x:#x} y={y:#x}");
                }
            }
        }
    }

    #[test]
    fn arithmetic_and_word_gates_keep_their_values() {
        same_values(&word_circuit(|b, x, y| b.push(Gate::Add(x, y))));
        same_values(&word_circuit(|b, x, y| b.push(Gate::Sub(x, y))));
        same_values(&word_circuit(|b, x, _| b.push(Gate::Neg(x))));
        same_values(&word_circuit(|b, x, y| b.push(Gate::Mul(x, y))));
        same_values(&word_circuit(|b, x, _| {
            let k = b.constant(0x1_0000_0003);
            b.push(Gate::Mul(x, k))
        }));
        same_values(&word_circuit(|b, x, _| b.push(Gate::Trunc(x, 16))));
        same_values(&word_circuit(|b, x, y| {
            let (bx, by) = (b.push(Gate::A2B(x, 64)), b.push(Gate::A2B(y, 64)));
            let and = b.push(Gate::And(bx, by, 40));
            let sar = b.push(Gate::Sar(and, 3, 40));
            let shl = b.push(Gate::Shl(sar, 5, 50));
            let not = b.push(Gate::Not(shl, 60));
            let shr = b.push(Gate::Shr(not, 7, 64));
            let pext = b.push(Gate::Pext(shr, 0x00ff_00ff_0f0f_3333));
            let top = b.push(Gate::Shr(by, 63, 1));
            let spread = b.push(Gate::Broadcast(top, 64));
            let mixed = b.push(Gate::Xor(pext, spread, 64));
            b.push(Gate::B2A(mixed))
        }));
        same_values(&word_circuit(|b, x, y| {
            let parts = [0, 1, 2].map(|k| b.push(Gate::SplitA2B(x, k, 64)));
            let t = b.push(Gate::Xor(parts[0], parts[1], 64));
            let t = b.push(Gate::Xor(t, parts[2], 64));
            let pair = b.push(Gate::PairA2B(y, 32));
            let t = b.push(Gate::Xor(t, pair, 64));
            let back = b.push(Gate::SplitB2A(t, 0, 48));
            let open = b.push(Gate::Open(back));
            b.push(Gate::Add(open, y))
        }));
    }

    #[test]
    fn a_64_bit_adder_has_logarithmic_depth() {
        let form = boolean_form(&word_circuit(|b, x, y| b.push(Gate::Add(x, y)))).unwrap();
        let form = opt::run_pipeline(form, &opt::default_pipeline()).unwrap();
        let stats = crate::circuit::Stats::of(&form, 0);
        assert_eq!(stats.depth, 7, "generate 1 + six prefix levels");
        assert!(stats.and_gates < 450, "{} ANDs", stats.and_gates);
    }

    #[test]
    fn written_files_read_back_to_the_same_figures() {
        let c = word_circuit(|b, x, y| b.push(Gate::Mul(x, y)));
        let text = export(&c).unwrap();
        let back = import_text(&text).unwrap();
        let back = opt::run_pipeline(back, &opt::default_pipeline()).unwrap();
        let form = opt::run_pipeline(boolean_form(&c).unwrap(), &opt::default_pipeline()).unwrap();
        let (a, b) = (
            crate::circuit::Stats::of(&form, 0),
            crate::circuit::Stats::of(&back, 0),
        );
        assert_eq!((a.and_gates, a.depth), (b.and_gates, b.depth));
        let ands = text.lines().filter(|l| l.ends_with(" AND")).count() as u64;
        assert_eq!(ands, a.and_gates);
    }
}
