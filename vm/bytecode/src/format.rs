//! The bytecode file: `MPCB`, a little-endian `u16` format version, then a bincode
//! [`Header`] and the bincode [`Round`]s of the body. The header carries a SHA-256 of the
//! encoded body. This module is the only place that knows the encoding.
//!
//! [`Program::decode`] accepts any byte string: it returns an error, never panics, and
//! allocates in proportion to the input's length, for every input.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gate::{Domain, Gate, WireId, WireKind};
use crate::types::{Scalar, ValueType};

/// The first bytes of every bytecode file.
pub const MAGIC: [u8; 4] = *b"MPCB";
/// The version of the encoding written by this crate.
pub const FORMAT_VERSION: u16 = 1;
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
    /// only uses their bits.
    pub domain: Domain,
}

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
    Trailing(usize),
    /// A field breaks an invariant.
    #[error("invalid bytecode: {0}")]
    Invalid(String),
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
        let rest = bytes.strip_prefix(&MAGIC).ok_or(FormatError::NotBytecode)?;
        let (version, rest) = rest
            .split_first_chunk::<2>()
            .ok_or(FormatError::NotBytecode)?;
        let version = u16::from_le_bytes(*version);
        if version != FORMAT_VERSION {
            return Err(FormatError::Version {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        // bincode allocates a string's claimed length before reading it; the limit keeps a
        // hostile length from aborting the process (it is the same encoding as `config()`).
        let header_config = bincode::config::standard().with_limit::<MAX_HEADER_BYTES>();
        let (header, used): (Header, usize) =
            bincode::serde::decode_from_slice(rest, header_config)
                .map_err(|e| FormatError::Decode(format!("header: {e}")))?;
        let body = &rest[used..];
        if body_hash(body) != header.body_hash {
            return Err(FormatError::Hash);
        }
        if u64::from(header.num_rounds) > body.len() as u64 {
            return Err(invalid("more rounds than the body can hold"));
        }
        let mut rounds = Vec::with_capacity(header.num_rounds as usize);
        let mut offset = 0;
        for r in 0..header.num_rounds {
            let (mut round, used): (Round, usize) =
                bincode::serde::decode_from_slice(&body[offset..], config())
                    .map_err(|e| FormatError::Decode(format!("round {}: {e}", r + 1)))?;
            // bincode also reads an integer written in more bytes than it needs. Such a
            // body decodes to a program whose own encoding (and so hash) differs, so it
            // is refused: one program, one encoding, one hash (found by fuzzing).
            if encoded_len(&round)? != used {
                return Err(FormatError::Decode(format!(
                    "round {}: not in canonical form",
                    r + 1
                )));
            }
            offset += used;
            // The decoder grows each list by doubling: give back what a large round
            // does not use (up to half of its size).
            round.local.shrink_to_fit();
            round.interactive.shrink_to_fit();
            rounds.push(round);
        }
        if offset != body.len() {
            return Err(FormatError::Trailing(body.len() - offset));
        }
        let program = Program { header, rounds };
        program.validate()?;
        Ok(program)
    }

    /// The smallest number of parties that can run the program.
    pub fn min_parties(&self) -> u32 {
        let inputs = self.header.inputs.iter().map(|i| i.party);
        let outputs = self
            .header
            .outputs
            .iter()
            .flat_map(|o| o.to.iter().copied());
        inputs.chain(outputs).max().map_or(1, |p| p + 1)
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
        let mut kinds: Vec<WireKind> = Vec::with_capacity(self.header.num_wires as usize);
        for gate in self
            .rounds
            .iter()
            .flat_map(|r| r.local.iter().chain(&r.interactive))
        {
            let kind = gate.result_kind(|w| kinds[w.index()]);
            kinds.push(kind);
        }
        kinds
    }

    /// For each party, its flattened input elements: type, visibility and how a secret
    /// one is shared (as its `Input` gate says; an element no gate reads is shared in
    /// its type's natural domain).
    pub fn input_layout(&self) -> Vec<Vec<InputSlot>> {
        let mut layout: Vec<Vec<InputSlot>> = vec![Vec::new(); self.min_parties() as usize];
        for input in &self.header.inputs {
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
                    domain,
                });
            });
        }
        for gate in self.rounds.iter().flat_map(|r| &r.local) {
            if let Gate::Input {
                party,
                index,
                domain,
            } = *gate
            {
                if let Some(slot) = layout
                    .get_mut(party as usize)
                    .and_then(|l| l.get_mut(index as usize))
                {
                    slot.domain = domain;
                }
            }
        }
        layout
    }

    /// Checks every invariant the executor relies on.
    pub fn validate(&self) -> Result<(), FormatError> {
        let h = &self.header;
        if h.num_wires > MAX_WIRES {
            return Err(invalid(format!(
                "{} wires exceed the limit of {MAX_WIRES}",
                h.num_wires
            )));
        }
        if h.num_rounds as usize != self.rounds.len() {
            return Err(invalid("round count does not match the body"));
        }
        let gates: u64 = self
            .rounds
            .iter()
            .map(|r| (r.local.len() + r.interactive.len()) as u64)
            .sum();
        if gates != h.num_wires {
            return Err(invalid("wire count does not match the body"));
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
        // Before `input_layout`, which sizes a table by the largest party id named anywhere.
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
        let layout = self.input_layout();
        let mut kinds: Vec<WireKind> = Vec::with_capacity(h.num_wires as usize);
        for (r, round) in self.rounds.iter().enumerate() {
            let batch_start = kinds.len() + round.local.len();
            for (section, interactive) in [(&round.local, false), (&round.interactive, true)] {
                for gate in section {
                    let here = kinds.len();
                    let wire_error =
                        |msg: &str| invalid(format!("round {}, wire w{here}: {msg}", r + 1));
                    let limit = if interactive { batch_start } else { here };
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
                    match *gate {
                        Gate::Input {
                            party,
                            index,
                            domain,
                        } => {
                            let slot = layout
                                .get(party as usize)
                                .and_then(|l| l.get(index as usize));
                            match slot {
                                // A `bool` is always shared bitwise; an integer either way.
                                Some(slot)
                                    if !slot.public
                                        && (slot.scalar != Scalar::Bool
                                            || domain == Domain::Bool) => {}
                                _ => {
                                    return Err(wire_error(
                                        "input gate does not match the declared inputs",
                                    ))
                                }
                            }
                        }
                        Gate::PublicInput { party, index } => {
                            let slot = layout
                                .get(party as usize)
                                .and_then(|l| l.get(index as usize));
                            if !matches!(slot, Some(slot) if slot.public) {
                                return Err(wire_error(
                                    "public input gate does not match the declared inputs",
                                ));
                            }
                        }
                        _ => {}
                    }
                    if gate.is_interactive(|w| kinds[w.index()]) != interactive {
                        return Err(wire_error(if interactive {
                            "local gate in the interactive batch"
                        } else {
                            "interactive gate among the local gates"
                        }));
                    }
                    let kind = gate.result_kind(|w| kinds[w.index()]);
                    kinds.push(kind);
                }
            }
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
        Ok(())
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

fn body_hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
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
}
