//! The bytecode file: `MPCB`, a little-endian `u16` format version, then a bincode
//! [`Header`] and the bincode [`Round`]s of the body. The header carries a SHA-256 of the
//! encoded body. This module is the only place that knows the encoding.
//!
//! [`Program::decode`] accepts any byte string: it returns an error, never panics, and
//! allocates in proportion to the input's length, for every input. [`RoundReader`]
//! reads and checks a file a round at a time, which is what `decode` does too, and can
//! keep a [`BodyIndex`] to read the checked rounds again later.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gate::{Domain, Gate, WireId, WireKind};
use crate::types::{Scalar, ValueType};

/// The first bytes of every bytecode file.
pub const MAGIC: [u8; 4] = *b"MPCB";
/// The version of the encoding written by this crate. Version 2: an input element that
/// gates read in both domains is shared in both (version 1 shared it in one).
pub const FORMAT_VERSION: u16 = 2;
/// Most wires (gates) a program may have.
pub const MAX_WIRES: u64 = 1 << 31;
/// Most parties a program may name.
pub const MAX_PARTIES: u32 = 1 << 16;
/// Most input elements a program may read, over all its inputs and parties. Loading a
/// program builds a table with an entry per element ([`Program::input_layout`]), so
/// this bound keeps a small file from asking for gigabytes (found by fuzzing: a 7 KB
/// file declaring an input of 2^31 elements did).
pub const MAX_INPUT_ELEMENTS: u64 = 1 << 24;
/// Most bytes the decoded header may take in memory.
pub const MAX_HEADER_BYTES: usize = 1 << 28;

/// What a program needs to know before its first round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The version of `mpcc` that wrote the file.
    pub compiler_version: String,
    /// The protocol the circuit was compiled for (`"any"` when it suits every protocol).
    pub target: String,
    /// SHA-256 of the encoded body.
    pub body_hash: [u8; 32],
    /// Total number of gates in the body.
    pub num_wires: u64,
    /// Number of rounds in the body.
    pub num_rounds: u32,
    /// Inputs in the order each party supplies them.
    pub inputs: Vec<InputDesc>,
    /// Outputs in program order.
    pub outputs: Vec<OutputDesc>,
}

impl Header {
    /// A header for these inputs and outputs; [`Program::new`] fills in the counts and
    /// the body hash.
    pub fn new(
        compiler_version: impl Into<String>,
        target: impl Into<String>,
        inputs: Vec<InputDesc>,
        outputs: Vec<OutputDesc>,
    ) -> Header {
        Header {
            compiler_version: compiler_version.into(),
            target: target.into(),
            body_hash: [0; 32],
            num_wires: 0,
            num_rounds: 0,
            inputs,
            outputs,
        }
    }
}

/// One `input(...)` call of the program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDesc {
    /// The supplying party.
    pub party: u32,
    /// A name for error messages (the variable it was assigned to, or `in<k>`).
    pub name: String,
    /// The value's type (its scalars' public names; `public` tells the visibility).
    pub ty: ValueType,
    /// Whether the value becomes known to every party.
    pub public: bool,
}

/// One `output(...)` of the program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDesc {
    /// Unique name.
    pub name: String,
    /// The value's type.
    pub ty: ValueType,
    /// The parties that learn it; empty means every party.
    pub to: Vec<u32>,
    /// One wire per scalar element, in storage order.
    pub wires: Vec<WireId>,
}

impl OutputDesc {
    /// The same output reading other wires.
    pub fn map_wires(mut self, mut f: impl FnMut(WireId) -> WireId) -> OutputDesc {
        self.wires.iter_mut().for_each(|w| *w = f(*w));
        self
    }

    /// Whether `party` learns this output.
    pub fn is_for(&self, party: u32) -> bool {
        self.to.is_empty() || self.to.contains(&party)
    }
}

/// One communication round: local gates, then one batch of interactive gates whose
/// operands all come from before the batch. Wires are numbered in execution order, so
/// the gates of round `r` produce a contiguous range of wires.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// Gates computed without communication.
    pub local: Vec<Gate>,
    /// Gates computed together with one message per peer.
    pub interactive: Vec<Gate>,
}

/// One flattened input element of a party.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InputSlot {
    /// Its type.
    pub scalar: Scalar,
    /// Whether it becomes known to every party.
    pub public: bool,
    /// How it is shared when secret: integers may be shared bitwise when the program
    /// uses their bits, and in both domains when it uses both.
    pub domains: Domains,
}

impl InputSlot {
    /// Whether the element is held in `domain`: a public one is held as its value, and
    /// the executor reads it from the arithmetic domain's registers.
    pub fn held_in(&self, domain: Domain) -> bool {
        if self.public {
            domain == Domain::Arith
        } else {
            self.domains.contains(domain)
        }
    }

    /// The domains it is held in, arithmetic first: the order in which an element's
    /// registers are made and its messages sent.
    pub fn held(self) -> impl Iterator<Item = Domain> {
        [Domain::Arith, Domain::Bool]
            .into_iter()
            .filter(move |&d| self.held_in(d))
    }
}

/// The domains a secret input element is shared in: one or both.
#[derive(Copy, Clone, Debug)]
pub struct Domains(u8);

impl Domains {
    const ARITH: u8 = 1;
    const BOOL: u8 = 2;
    /// Set once an input gate has named a domain: before, the domain is the type's
    /// natural one, which the first gate replaces.
    const READ: u8 = 4;

    fn bit(domain: Domain) -> u8 {
        match domain {
            Domain::Arith => Self::ARITH,
            Domain::Bool => Self::BOOL,
        }
    }

    /// Only `domain`.
    pub fn only(domain: Domain) -> Domains {
        Domains(Self::bit(domain))
    }

    /// Whether `domain` is one of them.
    pub fn contains(self, domain: Domain) -> bool {
        self.0 & Self::bit(domain) != 0
    }

    /// The domains, arithmetic first: the order in which an element's sharings are drawn
    /// and sent.
    pub fn iter(self) -> impl Iterator<Item = Domain> {
        [Domain::Arith, Domain::Bool]
            .into_iter()
            .filter(move |&d| self.contains(d))
    }

    /// These domains after an input gate reads the element in `domain`.
    fn read_in(self, domain: Domain) -> Domains {
        let before = if self.0 & Self::READ == 0 { 0 } else { self.0 };
        Domains(before | Self::bit(domain) | Self::READ)
    }
}

impl PartialEq for Domains {
    fn eq(&self, other: &Domains) -> bool {
        let both = Self::ARITH | Self::BOOL;
        self.0 & both == other.0 & both
    }
}

impl Eq for Domains {}

/// A decoded and validated program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The header.
    pub header: Header,
    /// The body.
    pub rounds: Vec<Round>,
}

/// Why bytes are not a valid program.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file does not start with `MPCB`.
    #[error("not an mpc bytecode file (bad magic number)")]
    NotBytecode,
    /// Written by an incompatible version.
    #[error("bytecode format version {found} is not supported (this build reads version {supported}); recompile the program")]
    Version {
        /// The version in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// bincode could not decode a structure.
    #[error("corrupt bytecode: {0}")]
    Decode(String),
    /// The body does not match the hash in the header.
    #[error("corrupt bytecode: the body does not match its hash")]
    Hash,
    /// Bytes left after the last round.
    #[error("corrupt bytecode: {0} unexpected bytes after the last round")]
    Trailing(u64),
    /// A field breaks an invariant.
    #[error("invalid bytecode: {0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("cannot read bytecode: {0}")]
    Read(std::io::Error),
    /// The file read again with a [`BodyIndex`] is not the file that was checked.
    #[error("the bytecode file changed after it was checked")]
    Changed,
    /// Encoding failed.
    #[error("cannot encode bytecode: {0}")]
    Encode(String),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

impl Program {
    /// Builds a program from its parts, filling in the counts and the body hash.
    pub fn new(mut header: Header, rounds: Vec<Round>) -> Result<Self, FormatError> {
        header.num_rounds = u32::try_from(rounds.len()).map_err(|_| invalid("too many rounds"))?;
        header.num_wires = rounds
            .iter()
            .map(|r| (r.local.len() + r.interactive.len()) as u64)
            .sum();
        let mut hasher = Sha256::new();
        write_body(&rounds, &mut hasher)?;
        header.body_hash = hasher.finalize().into();
        let program = Program { header, rounds };
        program.validate()?;
        Ok(program)
    }

    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Writes the file's bytes to `w` without building them in memory first.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> Result<(), FormatError> {
        let io_error = |e: std::io::Error| FormatError::Encode(e.to_string());
        w.write_all(&MAGIC).map_err(io_error)?;
        w.write_all(&FORMAT_VERSION.to_le_bytes())
            .map_err(io_error)?;
        bincode::serde::encode_into_std_write(&self.header, w, config())
            .map_err(|e| FormatError::Encode(e.to_string()))?;
        write_body(&self.rounds, w)
    }

    /// Decodes and validates a file's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        Program::read_from(bytes)
    }

    /// Reads, decodes and validates a file from `source`, without holding its bytes.
    pub fn read_from(source: impl std::io::Read) -> Result<Self, FormatError> {
        let mut reader = RoundReader::new(source)?;
        let mut rounds = Vec::new();
        while let Some(mut round) = reader.next_round()? {
            // The decoder grows each list by doubling: give back what a large round
            // does not use (up to half of its size).
            round.local.shrink_to_fit();
            round.interactive.shrink_to_fit();
            rounds.push(round);
        }
        let header = reader.finish()?.header;
        Ok(Program { header, rounds })
    }

    /// The smallest number of parties that can run the program.
    pub fn min_parties(&self) -> u32 {
        self.header.min_parties()
    }

    /// Number of rounds that send messages.
    pub fn communication_rounds(&self) -> usize {
        let interactive = self
            .rounds
            .iter()
            .filter(|r| !r.interactive.is_empty())
            .count();
        // Secret outputs are opened after the last round, in one more exchange.
        interactive + usize::from(self.has_secret_outputs())
    }

    fn has_secret_outputs(&self) -> bool {
        let kinds = self.wire_kinds();
        self.header
            .outputs
            .iter()
            .flat_map(|o| &o.wires)
            .any(|w| !kinds[w.index()].is_public())
    }

    /// The kind of every wire, in order.
    pub fn wire_kinds(&self) -> Vec<WireKind> {
        self.outline().kinds
    }

    /// For each party, its flattened input elements (see [`Outline::layout`]).
    pub fn input_layout(&self) -> Vec<Vec<InputSlot>> {
        // Only local gates read inputs; the wire kinds are not needed.
        let mut outline = Outline::new(&self.header);
        for (r, round) in self.rounds.iter().enumerate() {
            round
                .local
                .iter()
                .for_each(|gate| outline.note_input(r, gate));
        }
        outline.layout
    }

    /// What a run needs to know before the first round, without checking anything: the
    /// program must be valid.
    pub fn outline(&self) -> Outline {
        let mut outline = Outline::new(&self.header);
        for (r, round) in self.rounds.iter().enumerate() {
            outline.note_round(round);
            for gate in round.local.iter().chain(&round.interactive) {
                outline.push(r, gate);
            }
        }
        outline.note_outputs(&self.header);
        outline
    }

    /// Checks every invariant the executor relies on.
    pub fn validate(&self) -> Result<(), FormatError> {
        let mut validator = Validator::new(&self.header)?;
        for round in &self.rounds {
            validator.round(round)?;
        }
        validator.finish(&self.header).map(drop)
    }
}

impl Header {
    /// The smallest number of parties that can run the program.
    pub fn min_parties(&self) -> u32 {
        let inputs = self.inputs.iter().map(|i| i.party);
        let outputs = self.outputs.iter().flat_map(|o| o.to.iter().copied());
        inputs.chain(outputs).max().map_or(1, |p| p + 1)
    }
}

/// What a run needs to know of a program before its first round, besides the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outline {
    /// The kind of every wire, in order.
    pub kinds: Vec<WireKind>,
    /// For each party, its flattened input elements: type, visibility and how a secret
    /// one is shared (in the domains its `Input` gates name; an element no gate reads is
    /// shared in its type's natural domain).
    pub layout: Vec<Vec<InputSlot>>,
    /// The last round (counted from 0) with an input gate, if any.
    pub last_input_round: Option<usize>,
    /// How many times each wire is read, by gates and by outputs: 0, 1, or 2 for two or
    /// more. A wire read once by a gate that consumes it need never be stored.
    pub reads: Vec<u8>,
    /// The wires of the last round's interactive batch (empty without rounds).
    pub last_batch: Range<usize>,
}

impl Outline {
    /// The outline of a program with no gates yet.
    fn new(header: &Header) -> Outline {
        let mut layout: Vec<Vec<InputSlot>> = vec![Vec::new(); header.min_parties() as usize];
        for input in &header.inputs {
            let slots = &mut layout[input.party as usize];
            input.ty.for_each_scalar(&mut |scalar| {
                let domain = if scalar == Scalar::Bool {
                    Domain::Bool
                } else {
                    Domain::Arith
                };
                slots.push(InputSlot {
                    scalar,
                    public: input.public,
                    domains: Domains::only(domain),
                });
            });
        }
        Outline {
            kinds: Vec::new(),
            layout,
            last_input_round: None,
            reads: Vec::new(),
            last_batch: 0..0,
        }
    }

    /// Notes the sections of the round whose gates come next.
    fn note_round(&mut self, round: &Round) {
        let start = self.kinds.len() + round.local.len();
        self.last_batch = start..start + round.interactive.len();
    }

    /// Adds the next gate, from round `round`.
    fn push(&mut self, round: usize, gate: &Gate) {
        self.note_input(round, gate);
        let kinds = &self.kinds;
        let kind = gate.result_kind(|w| kinds[w.index()]);
        self.kinds.push(kind);
        gate.operands().for_each(|w| self.note_read(w));
        self.reads.push(0);
    }

    /// Counts the reads of the program's outputs, after its last gate.
    fn note_outputs(&mut self, header: &Header) {
        for w in header.outputs.iter().flat_map(|o| &o.wires) {
            self.note_read(*w);
        }
    }

    fn note_read(&mut self, w: WireId) {
        let reads = &mut self.reads[w.index()];
        *reads = (*reads + 1).min(2);
    }

    /// What an input gate of round `round` tells of the input layout.
    fn note_input(&mut self, round: usize, gate: &Gate) {
        match *gate {
            Gate::Input {
                party,
                index,
                domain,
            } => {
                if let Some(slot) = self
                    .layout
                    .get_mut(party as usize)
                    .and_then(|l| l.get_mut(index as usize))
                {
                    slot.domains = slot.domains.read_in(domain);
                }
                self.last_input_round = Some(round);
            }
            Gate::PublicInput { .. } => self.last_input_round = Some(round),
            _ => {}
        }
    }
}

/// Checks a program a round at a time, so that a file can be checked whole without
/// holding it decoded ([`RoundReader`] uses it; so does [`Program::validate`]).
#[derive(Debug)]
pub struct Validator {
    num_wires: u64,
    num_rounds: u32,
    rounds: u32,
    outline: Outline,
}

impl Validator {
    /// Checks what can be checked of `header` alone.
    pub fn new(h: &Header) -> Result<Validator, FormatError> {
        if h.num_wires > MAX_WIRES {
            return Err(invalid(format!(
                "{} wires exceed the limit of {MAX_WIRES}",
                h.num_wires
            )));
        }
        let mut total_inputs = 0u64;
        for input in &h.inputs {
            if input.party >= MAX_PARTIES {
                return Err(invalid(format!(
                    "input `{}` names party {}",
                    input.name, input.party
                )));
            }
            let n = input
                .ty
                .element_count()
                .ok_or_else(|| invalid("input too large"))?;
            total_inputs += n;
            if total_inputs > MAX_INPUT_ELEMENTS {
                return Err(invalid(format!(
                    "inputs of more than {MAX_INPUT_ELEMENTS} elements in all"
                )));
            }
        }
        // Before the outline, which sizes a table by the largest party id named anywhere.
        if let Some(out) = h
            .outputs
            .iter()
            .find(|o| o.to.iter().any(|&p| p >= MAX_PARTIES))
        {
            return Err(invalid(format!(
                "output `{}` names a party out of range",
                out.name
            )));
        }
        Ok(Validator {
            num_wires: h.num_wires,
            num_rounds: h.num_rounds,
            rounds: 0,
            outline: Outline::new(h),
        })
    }

    /// The kind of every wire of the rounds checked so far.
    pub fn kinds(&self) -> &[WireKind] {
        &self.outline.kinds
    }

    /// Checks the next round.
    pub fn round(&mut self, round: &Round) -> Result<(), FormatError> {
        let r = self.rounds as usize;
        let gates = (round.local.len() + round.interactive.len()) as u64;
        if self.rounds == self.num_rounds {
            return Err(invalid("round count does not match the body"));
        }
        if self.outline.kinds.len() as u64 + gates > self.num_wires {
            return Err(invalid("wire count does not match the body"));
        }
        self.rounds += 1;
        self.outline.note_round(round);
        let batch_start = self.outline.last_batch.start;
        for (section, interactive) in [(&round.local, false), (&round.interactive, true)] {
            for gate in section {
                self.gate(r, gate, interactive.then_some(batch_start))?;
                self.outline.push(r, gate);
            }
        }
        Ok(())
    }

    /// Checks one gate of round `r` (counted from 0); `batch_start` is the first wire of
    /// its round's interactive batch when the gate is in it.
    fn gate(&self, r: usize, gate: &Gate, batch_start: Option<usize>) -> Result<(), FormatError> {
        let kinds = &self.outline.kinds;
        let layout = &self.outline.layout;
        let here = kinds.len();
        let wire_error = |msg: &str| invalid(format!("round {}, wire w{here}: {msg}", r + 1));
        let limit = batch_start.unwrap_or(here);
        if gate.operands().any(|w| w.index() >= limit) {
            return Err(wire_error("operand not computed before it is used"));
        }
        let (width, shift) = gate.widths_and_shifts();
        if width.is_some_and(|w| !(1..=64).contains(&w))
            || shift.is_some_and(|k| k >= 64)
            || gate.component().is_some_and(|k| k >= 3)
        {
            return Err(wire_error("width, shift or share component out of range"));
        }
        let expected = gate.operand_domain();
        let domain_ok = gate
            .operands()
            .enumerate()
            .all(|(i, w)| expected.accepts(kinds[w.index()], gate, i));
        let additive_product = matches!(*gate, Gate::Mul(a, b)
            if kinds[a.index()] == WireKind::Additive && !kinds[b.index()].is_public()
                || kinds[b.index()] == WireKind::Additive && !kinds[a.index()].is_public());
        if !domain_ok || additive_product {
            return Err(wire_error("operand in the wrong domain"));
        }
        let slot = |party: u32, index: u32| {
            layout
                .get(party as usize)
                .and_then(|l| l.get(index as usize))
        };
        match *gate {
            Gate::Input {
                party,
                index,
                domain,
            } => match slot(party, index) {
                // A `bool` is always shared bitwise; an integer either way.
                Some(slot)
                    if !slot.public && (slot.scalar != Scalar::Bool || domain == Domain::Bool) => {}
                _ => return Err(wire_error("input gate does not match the declared inputs")),
            },
            Gate::PublicInput { party, index } if !matches!(slot(party, index), Some(slot) if slot.public) =>
            {
                return Err(wire_error(
                    "public input gate does not match the declared inputs",
                ));
            }
            _ => {}
        }
        let interactive = batch_start.is_some();
        if gate.is_interactive(|w| kinds[w.index()]) != interactive {
            return Err(wire_error(if interactive {
                "local gate in the interactive batch"
            } else {
                "interactive gate among the local gates"
            }));
        }
        Ok(())
    }

    /// Checks what can only be checked at the end, against `h`, the header the validator
    /// was made from; returns the program's outline.
    pub fn finish(mut self, h: &Header) -> Result<Outline, FormatError> {
        if self.rounds != self.num_rounds {
            return Err(invalid("round count does not match the body"));
        }
        let kinds = &self.outline.kinds;
        if kinds.len() as u64 != self.num_wires {
            return Err(invalid("wire count does not match the body"));
        }
        let mut names = std::collections::HashSet::new();
        for out in &h.outputs {
            if !names.insert(out.name.as_str()) {
                return Err(invalid(format!("two outputs are named `{}`", out.name)));
            }
            if out.ty.element_count() != Some(out.wires.len() as u64) {
                return Err(invalid(format!(
                    "output `{}` has the wrong number of wires",
                    out.name
                )));
            }
            if out
                .wires
                .iter()
                .any(|w| kinds.get(w.index()) == Some(&WireKind::Additive))
            {
                return Err(invalid(format!(
                    "output `{}` reads unreshared additive terms",
                    out.name
                )));
            }
            if out.wires.iter().any(|w| w.index() >= kinds.len()) {
                return Err(invalid(format!(
                    "output `{}` reads a wire that does not exist",
                    out.name
                )));
            }
        }
        self.outline.note_outputs(h);
        self.outline.kinds.shrink_to_fit();
        self.outline.reads.shrink_to_fit();
        Ok(self.outline)
    }
}

/// Reads a bytecode file a round at a time, checking each round as it comes, so that
/// a large file is never held whole, encoded or decoded. [`RoundReader::finish`] checks
/// the rest: the end of the file and the body's hash. Memory stays in proportion to the
/// largest round, and to the input's length for any input.
pub struct RoundReader<R> {
    source: BodySource<R>,
    header: Header,
    validator: Validator,
    rounds_read: u32,
    /// With [`RoundReader::keep_index`]: the index so far, and where the current
    /// stretch of rounds began (byte offset, rounds before it).
    index: Option<(BodyIndex, u64, u32)>,
}

impl<R: std::io::Read> RoundReader<R> {
    /// Reads and checks the magic number, the format version and the header.
    pub fn new(source: R) -> Result<Self, FormatError> {
        let mut source = BodySource::new(source);
        let mut prefix = [0u8; 6];
        bincode::de::read::Reader::read(&mut source, &mut prefix).map_err(|e| match e {
            bincode::error::DecodeError::Io { inner, .. } => FormatError::Read(inner),
            _ => FormatError::NotBytecode,
        })?;
        if prefix[..4] != MAGIC {
            return Err(FormatError::NotBytecode);
        }
        let version = u16::from_le_bytes([prefix[4], prefix[5]]);
        if version != FORMAT_VERSION {
            return Err(FormatError::Version {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        // bincode allocates a string's claimed length before reading it; the limit keeps a
        // hostile length from aborting the process (it is the same encoding as `config()`).
        let header_config = bincode::config::standard().with_limit::<MAX_HEADER_BYTES>();
        let header: Header = bincode::serde::decode_from_reader(&mut source, header_config)
            .map_err(|e| decode_error("header", e))?;
        source.start_body();
        let validator = Validator::new(&header)?;
        Ok(RoundReader {
            source,
            header,
            validator,
            rounds_read: 0,
            index: None,
        })
    }

    /// Makes [`RoundReader::finish`] return a [`BodyIndex`], to read the rounds again
    /// from the same file. Call it before reading the first round.
    pub fn keep_index(&mut self) {
        let start = self.source.consumed;
        let index = BodyIndex {
            start,
            stretches: Vec::new(),
        };
        self.source.stretch = Some(Sha256::new());
        self.index = Some((index, start, 0));
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The kind of every wire of the rounds read so far.
    pub fn kinds(&self) -> &[WireKind] {
        self.validator.kinds()
    }

    /// The next round, decoded and checked; `None` after the last one.
    pub fn next_round(&mut self) -> Result<Option<Round>, FormatError> {
        if self.rounds_read == self.header.num_rounds {
            return Ok(None);
        }
        let round = self.decode_round().map_err(|e| self.blame_corruption(e))?;
        self.rounds_read += 1;
        if let Some((index, start, rounds_before)) = &mut self.index {
            let len = self.source.consumed - *start;
            if len >= BodyIndex::STRETCH_BYTES || self.rounds_read == self.header.num_rounds {
                index.stretches.push(Stretch {
                    rounds: self.rounds_read - *rounds_before,
                    len,
                    hash: self.source.end_stretch(),
                });
                (*start, *rounds_before) = (self.source.consumed, self.rounds_read);
            }
        }
        Ok(Some(round))
    }

    fn decode_round(&mut self) -> Result<Round, FormatError> {
        let r = self.rounds_read + 1;
        let before = self.source.consumed;
        let round: Round = bincode::serde::decode_from_reader(&mut self.source, config())
            .map_err(|e| decode_error(&format!("round {r}"), e))?;
        // bincode also reads an integer written in more bytes than it needs. Such a body
        // decodes to a program whose own encoding (and so hash) differs, so it is refused:
        // one program, one encoding, one hash (found by fuzzing).
        if encoded_len(&round)? as u64 != self.source.consumed - before {
            return Err(FormatError::Decode(format!(
                "round {r}: not in canonical form"
            )));
        }
        self.validator.round(&round)?;
        Ok(round)
    }

    /// A body that does not match its hash is corrupt, whatever else is wrong with it:
    /// say so rather than name the first symptom.
    fn blame_corruption(&mut self, error: FormatError) -> FormatError {
        if matches!(error, FormatError::Read(_)) {
            return error;
        }
        match self.source.hash_to_end() {
            Ok((hash, _)) if hash != self.header.body_hash => FormatError::Hash,
            Ok(_) => error,
            Err(e) => FormatError::Read(e),
        }
    }

    /// Reads and checks the rounds not read yet, checks that the file ends after the
    /// last one and that the body matches its hash, and returns the header, the
    /// program's outline, and the index if it was kept.
    pub fn finish(mut self) -> Result<Checked, FormatError> {
        while self.next_round()?.is_some() {}
        let (hash, trailing) = self.source.hash_to_end().map_err(FormatError::Read)?;
        if hash != self.header.body_hash {
            return Err(FormatError::Hash);
        }
        if trailing != 0 {
            return Err(FormatError::Trailing(trailing));
        }
        let outline = self.validator.finish(&self.header)?;
        Ok(Checked {
            header: self.header,
            outline,
            index: self.index.map(|(index, ..)| index),
        })
    }
}

/// A file read whole and found valid by [`RoundReader`].
#[derive(Debug)]
pub struct Checked {
    /// The header.
    pub header: Header,
    /// The program's outline.
    pub outline: Outline,
    /// Where the rounds lie in the file, if [`RoundReader::keep_index`] was called.
    pub index: Option<BodyIndex>,
}

/// Where the rounds of a checked file lie, in stretches of whole rounds with the SHA-256
/// of each, so that the rounds can be read again later without checking them again:
/// bytes that hash the same are the bytes that were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyIndex {
    /// The offset of the body in the file.
    start: u64,
    stretches: Vec<Stretch>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stretch {
    rounds: u32,
    len: u64,
    hash: [u8; 32],
}

impl BodyIndex {
    /// A stretch ends with the first round that makes it this long: a stretch is read
    /// whole, and its hash kept, so this bounds both the memory it takes to read one
    /// and the size of the index (32 bytes per MiB of bytecode).
    const STRETCH_BYTES: u64 = 1 << 20;

    /// The rounds of `file`, the file the index was made from, read again in order.
    /// Each stretch is checked against its hash before its rounds are decoded; a file
    /// that changed gives [`FormatError::Changed`].
    pub fn rounds<R: std::io::Read>(&self, file: R) -> IndexedRounds<'_, R> {
        IndexedRounds {
            file,
            index: self,
            skipped_head: false,
            next_stretch: 0,
            bytes: Vec::new(),
            at: 0,
            rounds_left: 0,
        }
    }
}

/// The rounds of a file, read again with a [`BodyIndex`].
pub struct IndexedRounds<'a, R> {
    file: R,
    index: &'a BodyIndex,
    skipped_head: bool,
    next_stretch: usize,
    /// The current stretch, decoded up to `at`, with `rounds_left` rounds after that.
    bytes: Vec<u8>,
    at: usize,
    rounds_left: u32,
}

impl<R: std::io::Read> IndexedRounds<'_, R> {
    fn next_round(&mut self) -> Result<Option<Round>, FormatError> {
        use std::io::Read as _;
        if !self.skipped_head {
            let head = self.index.start;
            let skipped = std::io::copy(&mut (&mut self.file).take(head), &mut std::io::sink())
                .map_err(FormatError::Read)?;
            if skipped != head {
                return Err(FormatError::Changed);
            }
            self.skipped_head = true;
        }
        while self.rounds_left == 0 {
            let Some(stretch) = self.index.stretches.get(self.next_stretch) else {
                return Ok(None);
            };
            self.next_stretch += 1;
            self.bytes.clear();
            let read = (&mut self.file)
                .take(stretch.len)
                .read_to_end(&mut self.bytes)
                .map_err(FormatError::Read)?;
            if read as u64 != stretch.len || Sha256::digest(&self.bytes)[..] != stretch.hash {
                return Err(FormatError::Changed);
            }
            self.at = 0;
            self.rounds_left = stretch.rounds;
        }
        // These bytes were decoded and checked before.
        let (round, used): (Round, usize) =
            bincode::serde::decode_from_slice(&self.bytes[self.at..], config())
                .map_err(|_| FormatError::Changed)?;
        self.at += used;
        self.rounds_left -= 1;
        Ok(Some(round))
    }
}

impl<R: std::io::Read> Iterator for IndexedRounds<'_, R> {
    type Item = Result<Round, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_round().transpose()
    }
}

fn decode_error(what: &str, e: bincode::error::DecodeError) -> FormatError {
    match e {
        bincode::error::DecodeError::Io { inner, .. } => FormatError::Read(inner),
        e => FormatError::Decode(format!("{what}: {e}")),
    }
}

/// A buffered reader that hashes the body as it goes, in whole blocks rather than in the
/// few bytes at a time bincode asks for.
struct BodySource<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Bytes `pos..len` of `buf` are read from `inner` but not consumed.
    pos: usize,
    len: usize,
    /// Whether the body has started; bytes `hashed..pos` are consumed body bytes not
    /// hashed yet.
    hashing: bool,
    hashed: usize,
    hasher: Sha256,
    /// When the rounds are indexed, the hash of the body bytes since the current
    /// stretch of rounds began.
    stretch: Option<Sha256>,
    /// Bytes consumed since the start.
    consumed: u64,
}

impl<R: std::io::Read> BodySource<R> {
    const BLOCK: usize = 1 << 20;

    fn new(inner: R) -> Self {
        BodySource {
            inner,
            buf: vec![0; Self::BLOCK].into_boxed_slice(),
            pos: 0,
            len: 0,
            hashing: false,
            hashed: 0,
            hasher: Sha256::new(),
            stretch: None,
            consumed: 0,
        }
    }

    fn start_body(&mut self) {
        self.hashing = true;
        self.hashed = self.pos;
    }

    fn hash_consumed(&mut self) {
        if self.hashing {
            let consumed = &self.buf[self.hashed..self.pos];
            self.hasher.update(consumed);
            if let Some(stretch) = &mut self.stretch {
                stretch.update(consumed);
            }
        }
        self.hashed = self.pos;
    }

    /// The hash of the body bytes consumed since the last call (or since indexing
    /// started).
    fn end_stretch(&mut self) -> [u8; 32] {
        self.hash_consumed();
        let stretch = self.stretch.replace(Sha256::new());
        stretch.unwrap_or_default().finalize().into()
    }

    /// Moves the unconsumed bytes to the front and reads more after them; returns how
    /// many were read (0 at the end of the input).
    fn refill(&mut self) -> std::io::Result<usize> {
        self.hash_consumed();
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        self.hashed = 0;
        loop {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(n) => {
                    self.len += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Hashes everything left, consumed or not; returns the body's hash and the number
    /// of bytes that were not consumed.
    fn hash_to_end(&mut self) -> std::io::Result<([u8; 32], u64)> {
        let mut left = (self.len - self.pos) as u64;
        self.pos = self.len;
        loop {
            let read = self.refill()?;
            if read == 0 {
                break;
            }
            left += read as u64;
            self.pos = self.len;
        }
        self.hash_consumed();
        Ok((std::mem::take(&mut self.hasher).finalize().into(), left))
    }
}

impl<R: std::io::Read> bincode::de::read::Reader for BodySource<R> {
    fn read(&mut self, out: &mut [u8]) -> Result<(), bincode::error::DecodeError> {
        let mut filled = 0;
        while filled < out.len() {
            if self.pos == self.len {
                let read = self
                    .refill()
                    .map_err(|inner| bincode::error::DecodeError::Io {
                        inner,
                        additional: out.len() - filled,
                    })?;
                if read == 0 {
                    return Err(bincode::error::DecodeError::UnexpectedEnd {
                        additional: out.len() - filled,
                    });
                }
            }
            let n = (out.len() - filled).min(self.len - self.pos);
            out[filled..filled + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            filled += n;
        }
        self.consumed += out.len() as u64;
        Ok(())
    }

    fn peek_read(&mut self, n: usize) -> Option<&[u8]> {
        self.buf[self.pos..self.len].get(..n)
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.consumed += n as u64;
    }
}

fn write_body(rounds: &[Round], w: &mut impl std::io::Write) -> Result<(), FormatError> {
    for round in rounds {
        bincode::serde::encode_into_std_write(round, w, config())
            .map_err(|e| FormatError::Encode(e.to_string()))?;
    }
    Ok(())
}

/// The length of a round's encoding, without building it.
fn encoded_len(round: &Round) -> Result<usize, FormatError> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(round, &mut size, config())
        .map_err(|e| FormatError::Encode(e.to_string()))?;
    Ok(size.bytes_written)
}

/// The hash as lowercase hex, as `mpcvm info` prints it.
pub fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINT: ValueType = ValueType::Scalar(Scalar::Int {
        bits: 64,
        signed: true,
    });

    /// `output(a * b + 1)` with `a` from party 0 and `b` from party 1.
    fn sample() -> Program {
        let input = |party| InputDesc {
            party,
            name: format!("x{party}"),
            ty: SINT,
            public: false,
        };
        let output = OutputDesc {
            name: "out0".into(),
            ty: SINT,
            to: vec![],
            wires: vec![WireId(4)],
        };
        let header = Header::new("test", "any", vec![input(0), input(1)], vec![output]);
        let arith = Domain::Arith;
        let rounds = vec![
            Round {
                local: vec![
                    Gate::Input {
                        party: 0,
                        index: 0,
                        domain: arith,
                    },
                    Gate::Input {
                        party: 1,
                        index: 0,
                        domain: arith,
                    },
                    Gate::Const(1),
                ],
                interactive: vec![Gate::Mul(WireId(0), WireId(1))],
            },
            Round {
                local: vec![Gate::Add(WireId(3), WireId(2))],
                interactive: vec![],
            },
        ];
        Program::new(header, rounds).expect("sample is valid")
    }

    #[test]
    fn round_trips() {
        let p = sample();
        let bytes = p.encode().unwrap();
        assert_eq!(Program::decode(&bytes).unwrap(), p);
        assert_eq!(p.min_parties(), 2);
        assert_eq!(p.communication_rounds(), 2);
    }

    #[test]
    fn wrong_magic_and_version_are_named() {
        let mut bytes = sample().encode().unwrap();
        bytes[4] = 9;
        assert!(matches!(
            Program::decode(&bytes),
            Err(FormatError::Version { found: 9, .. })
        ));
        assert!(matches!(
            Program::decode(b"ELF\x7f...."),
            Err(FormatError::NotBytecode)
        ));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error_not_a_panic() {
        let bytes = sample().encode().unwrap();
        for len in 0..bytes.len() {
            assert!(
                Program::decode(&bytes[..len]).is_err(),
                "truncated at {len}"
            );
        }
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80, 0xff] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                // Header fields outside the hash may still decode to a valid program;
                // what matters is that no byte string panics.
                let _ = Program::decode(&flipped);
            }
        }
    }

    #[test]
    fn an_interactive_gate_reading_its_own_batch_is_rejected() {
        let mut p = sample();
        p.rounds[0]
            .interactive
            .push(Gate::Mul(WireId(3), WireId(0)));
        p.header.num_wires += 1;
        let err = p.validate().unwrap_err().to_string();
        assert!(err.contains("operand not computed"), "{err}");
    }

    #[test]
    fn a_product_of_secrets_among_local_gates_is_rejected() {
        let mut p = sample();
        let mul = p.rounds[0].interactive.pop().unwrap();
        p.rounds[0].local.push(mul);
        let err = p.validate().unwrap_err().to_string();
        assert!(
            err.contains("interactive gate among the local gates"),
            "{err}"
        );
    }

    #[test]
    fn an_output_to_a_huge_party_id_is_rejected_not_a_panic() {
        let mut p = sample();
        p.header.outputs[0].to = vec![u32::MAX];
        let err = p.validate().unwrap_err().to_string();
        assert!(err.contains("party out of range"), "{err}");
    }

    #[test]
    fn inputs_must_match_their_declaration() {
        let mut p = sample();
        p.rounds[0].local[0] = Gate::Input {
            party: 0,
            index: 5,
            domain: Domain::Arith,
        };
        assert!(p.validate().is_err());
        p.rounds[0].local[0] = Gate::PublicInput { party: 0, index: 0 };
        assert!(p.validate().is_err());
    }

    #[test]
    fn an_element_read_in_both_domains_is_shared_in_both() {
        let mut p = sample();
        let arith = Domains::only(Domain::Arith);
        assert_eq!(p.input_layout()[0][0].domains, arith);
        // Party 0's element read bitwise too, by a later round.
        let bitwise = Gate::Input {
            party: 0,
            index: 0,
            domain: Domain::Bool,
        };
        let mut rounds = p.rounds.clone();
        rounds[1].local.push(bitwise);
        p = Program::new(p.header, rounds).expect("a later input gate may read an element again");
        let layout = p.input_layout();
        let both: Vec<Domain> = layout[0][0].domains.iter().collect();
        assert_eq!(both, [Domain::Arith, Domain::Bool]);
        assert_eq!(layout[1][0].domains, arith);
        assert_eq!(p.outline().layout, layout);
        // Read bitwise alone, it is shared bitwise alone.
        p.rounds[0].local[0] = bitwise;
        assert_eq!(p.input_layout()[0][0].domains, Domains::only(Domain::Bool));
    }

    /// `rounds` rounds of `width` additions then `width` products, on two input arrays:
    /// large enough, with enough rounds, to span several indexed stretches.
    fn wide(width: u32, rounds: u32) -> Program {
        let array = ValueType::Array(Box::new(SINT), width);
        let input = |party| InputDesc {
            party,
            name: format!("x{party}"),
            ty: array.clone(),
            public: false,
        };
        let inputs = |party| {
            (0..width).map(move |index| Gate::Input {
                party,
                index,
                domain: Domain::Arith,
            })
        };
        let mut body = vec![Round {
            local: inputs(0).chain(inputs(1)).collect(),
            interactive: vec![],
        }];
        let (x, y) = (0, width);
        let mut acc = x;
        let mut next = 2 * width;
        for _ in 0..rounds {
            let local = (0..width).map(|i| Gate::Add(WireId(acc + i), WireId(x + i)));
            let sums = next;
            let interactive = (0..width).map(|i| Gate::Mul(WireId(sums + i), WireId(y + i)));
            body.push(Round {
                local: local.collect(),
                interactive: interactive.collect(),
            });
            acc = next + width;
            next += 2 * width;
        }
        let output = OutputDesc {
            name: "out".into(),
            ty: array.clone(),
            to: vec![0],
            wires: (acc..acc + width).map(WireId).collect(),
        };
        let header = Header::new("test", "any", vec![input(0), input(1)], vec![output]);
        Program::new(header, body).expect("wide is valid")
    }

    #[test]
    fn read_again_with_its_index_a_file_gives_the_rounds_it_was_checked_with() {
        let p = wide(3000, 30);
        let bytes = p.encode().unwrap();
        let mut reader = RoundReader::new(&bytes[..]).unwrap();
        reader.keep_index();
        let mut first_reading = Vec::new();
        while let Some(round) = reader.next_round().unwrap() {
            first_reading.push(round);
        }
        assert_eq!(first_reading, p.rounds);
        let checked = reader.finish().unwrap();
        assert_eq!(checked.header, p.header);
        assert_eq!(checked.outline, p.outline());
        assert_eq!(checked.outline.last_input_round, Some(0));
        let index = checked.index.expect("the index was kept");
        assert!(
            index.stretches.len() > 1,
            "{} stretches",
            index.stretches.len()
        );

        let again: Vec<Round> = index.rounds(&bytes[..]).map(Result::unwrap).collect();
        assert_eq!(again, p.rounds);

        // The header is not read again (the one read first stands), so only its length
        // matters; a byte changed in a round is noticed.
        let mut changed = bytes.clone();
        changed[10] ^= 1;
        let again: Vec<Round> = index.rounds(&changed[..]).map(Result::unwrap).collect();
        assert_eq!(again, p.rounds);
        for at in [bytes.len() / 2, bytes.len() - 1] {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            let result: Result<Vec<Round>, _> = index.rounds(&changed[..]).collect();
            assert!(matches!(result, Err(FormatError::Changed)), "byte {at}");
        }
        let cut: Result<Vec<Round>, _> = index.rounds(&bytes[..bytes.len() - 1]).collect();
        assert!(matches!(cut, Err(FormatError::Changed)));
    }

    #[test]
    fn reading_from_a_stream_gives_what_decoding_gives() {
        let p = wide(300, 4);
        let bytes = p.encode().unwrap();
        assert_eq!(Program::read_from(&bytes[..]).unwrap(), p);
        assert_eq!(Program::decode(&bytes).unwrap(), p);
    }

    #[test]
    fn a_corrupt_round_is_called_corrupt_not_invalid() {
        let p = sample();
        let mut bytes = p.encode().unwrap();
        // The last round's only gate, `Add(w3, w2)`, made to read a wire not computed yet.
        let at = bytes.iter().rposition(|&b| b == 3).unwrap();
        bytes[at] = 9;
        assert!(matches!(Program::decode(&bytes), Err(FormatError::Hash)));
        // The same program with its hash made to match is refused as invalid.
        let mut forged = p;
        forged.rounds[1].local[0] = Gate::Add(WireId(9), WireId(2));
        let mut body = Vec::new();
        write_body(&forged.rounds, &mut body).unwrap();
        forged.header.body_hash = Sha256::digest(&body).into();
        let err = Program::decode(&forged.encode().unwrap()).unwrap_err();
        assert!(err.to_string().contains("operand not computed"), "{err}");
    }

    #[test]
    fn bytes_after_the_last_round_are_counted() {
        let mut p = sample();
        let mut body = Vec::new();
        write_body(&p.rounds, &mut body).unwrap();
        body.extend_from_slice(b"xyz");
        p.header.body_hash = Sha256::digest(&body).into();
        let mut bytes = p.encode().unwrap();
        bytes.extend_from_slice(b"xyz");
        assert!(matches!(
            Program::decode(&bytes),
            Err(FormatError::Trailing(3))
        ));
    }
}
