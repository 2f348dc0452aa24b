//! The executor, the traits it drives, and the `clear` protocol.
//!
//! The executor ([`execute`]) walks a program's rounds in order. In each round it
//! computes the local gates one by one, then hands the round's whole interactive batch to
//! the protocol in one call, and after the last round it opens every output to the
//! parties the program names. It knows nothing of any protocol: a [`Protocol`] says what
//! a share is and how gates act on shares, and a protocol that talks to other parties
//! does so through a [`Transport`] it owns.
//!
//! Registers: one per wire, indexed by wire id, in one flat `Vec<P::Share>`. Whether a
//! wire is public or secret is fixed by the program (`Program::wire_kinds`), so a
//! register carries no tag: a public wire's register holds the value itself, stored as
//! the protocol chooses ([`Protocol::hold_public`]). The executor evaluates every gate
//! whose operands are all public itself, with `Gate::eval_clear`, and calls the protocol
//! only for gates that touch a secret.
//!
//! Local gates within a round may read one another, so they run in order; an
//! interactive batch only reads wires from before it, so a protocol may spread it over
//! threads (the clear protocol does above [`PARALLEL_BATCH`] gates).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use mpc_bytecode::{Domain, Gate, Header, InputSlot, Outline, Program, Round, WireId, WireKind};
use rayon::prelude::*;

use crate::io::render_output;
use crate::runs::{find_runs, Run};
use crate::stream::StreamedProgram;

/// Why a run failed. Every message is one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    /// A run with zero parties.
    #[error("a run needs at least one party")]
    NoParties,
    /// The program names a party the run does not have.
    #[error("{item} names party {party}, but the run has {parties} part{} (ids 0 to {})", plural_y(*.parties), .parties.saturating_sub(1))]
    PartyOutOfRange {
        /// What names the party (``input `b` `` or ``output `max` ``).
        item: String,
        /// The party id.
        party: u32,
        /// The number of parties in the run.
        parties: u32,
    },
    /// More parties than a program can name.
    #[error("a run has at most {max} parties, not {parties}", max = mpc_bytecode::format::MAX_PARTIES)]
    TooManyParties {
        /// The number asked for.
        parties: u32,
    },
    /// The number of input lists is not the number of parties.
    #[error("inputs were given for {given} part{}, but the run has {parties}", plural_y(*.given as u32))]
    InputLists {
        /// Input lists given.
        given: usize,
        /// Parties in the run.
        parties: u32,
    },
    /// A party supplies a different number of flat input values than the program reads.
    #[error("party {party} supplies {supplied} input value(s), but the program reads {expected} from it")]
    InputCount {
        /// The party.
        party: u32,
        /// Values supplied.
        supplied: usize,
        /// Values the program reads.
        expected: usize,
    },
    /// A protocol name that is not known.
    #[error("unknown protocol `{0}` (available: rep3, clear)")]
    UnknownProtocol(String),
    /// A protocol that is planned but not available in this version.
    #[error("not available: {0}")]
    ProtocolNotImplemented(String),
    /// A peer disconnected, timed out or sent something malformed.
    #[error("party {party}: {reason}")]
    Peer {
        /// The peer.
        party: u32,
        /// What went wrong.
        reason: String,
    },
    /// TLS cannot be set up: a certificate or key that cannot be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The protocol cannot compute something the program asks for.
    #[error("protocol {protocol} cannot run this program: {reason}")]
    Unsupported {
        /// The protocol's name.
        protocol: &'static str,
        /// What it cannot compute.
        reason: String,
    },
    /// A streamed bytecode file could not be read again as it was first read.
    #[error("`{path}` changed or became unreadable while it ran: {reason}")]
    Reread {
        /// The file.
        path: String,
        /// What differs, or why it cannot be read.
        reason: String,
    },
    /// A protocol broke its contract with the executor (a bug, not a user error).
    #[error("internal error in protocol `{protocol}`: {reason}")]
    Protocol {
        /// The protocol's name.
        protocol: &'static str,
        /// What went wrong.
        reason: String,
    },
}

fn plural_y(n: u32) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

/// One operand of a local gate, as a protocol sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operand<S> {
    /// A value every party knows.
    Public(u64),
    /// This party's share of a secret value.
    Secret(S),
}

/// The secret elements of one output, to be opened to the parties that learn it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputOpening<'a> {
    /// The parties that learn the output; empty means every party.
    pub to: &'a [u32],
    /// The output's secret elements in storage order (public elements are left out: the
    /// executor fills them in), each as its wire and the bits of its value that matter
    /// (its type's width): an n-bit result is its value's low n bits, in either domain,
    /// so a protocol need open no more.
    pub secrets: Vec<(WireId, u8)>,
}

/// Who learns the outputs, as the last round's batch sees it: worked out from the program
/// before the clock starts, for a protocol that opens outputs with the last round
/// ([`Protocol::last_interactive`]). Parties are sets of bits, bit `p` for party `p`; an
/// output to every party has every bit set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutputs {
    /// For each gate of the batch, the parties that learn its wire; 0 if it is no output.
    pub learners: Vec<u8>,
    /// For each party, the bits of its outputs' secret elements computed before the
    /// batch.
    pub before: [usize; 8],
    /// For each output with secret elements in the batch, its parties and those
    /// elements' bits.
    pub in_batch: Vec<(u8, usize)>,
    /// The parties that learn each gate of the batch, if every gate has the same.
    pub uniform_learners: Option<u8>,
    /// Whether every output in the batch is a product or an AND (`Mul`, `Reshare`,
    /// `And`), which the executor finds once the batch's gates are at hand.
    pub products_only: bool,
}

impl BatchOutputs {
    /// Where `openings` stand with respect to the batch of wires `batch`; `None` if one
    /// names a party that has no bit.
    pub(crate) fn of(openings: &[OutputOpening<'_>], batch: Range<usize>) -> Option<Self> {
        let mut outputs = BatchOutputs {
            learners: vec![0; batch.len()],
            ..BatchOutputs::default()
        };
        for o in openings {
            let mut set = if o.to.is_empty() { u8::MAX } else { 0 };
            for &p in o.to {
                set |= 1u8.checked_shl(p)?;
            }
            let mut in_batch = 0;
            for &(w, bits) in &o.secrets {
                let bits = usize::from(bits);
                match w.index().checked_sub(batch.start) {
                    Some(k) => {
                        outputs.learners[k] |= set;
                        in_batch += bits;
                    }
                    None => {
                        for (p, before) in outputs.before.iter_mut().enumerate() {
                            if set & 1 << p != 0 {
                                *before += bits;
                            }
                        }
                    }
                }
            }
            if in_batch > 0 {
                outputs.in_batch.push((set, in_batch));
            }
        }
        let first = outputs.learners.first().copied().unwrap_or(0);
        outputs.uniform_learners = outputs
            .learners
            .iter()
            .all(|&l| l == first)
            .then_some(first);
        Some(outputs)
    }

    /// Notes the gates of the batch.
    pub(crate) fn note_gates(&mut self, gates: &[Gate]) {
        let product = |(gate, &learners): (&Gate, &u8)| {
            learners == 0 || matches!(gate, Gate::Mul(..) | Gate::Reshare(_) | Gate::And(..))
        };
        self.products_only = gates.iter().zip(&self.learners).all(product);
    }
}

/// For each output in program order, its raw values if this party learns it.
pub type RawOutputs = Vec<Option<Vec<u64>>>;

/// A way of computing on secret values, from the point of view of one party (or, for
/// simulation, of an observer who sees all of them).
///
/// A secret wire is *arithmetic* (shared over Z_2^64) or *Boolean* (a word of `w` bits
/// shared bitwise); `Program::wire_kinds` says which, and the program's validation
/// guarantees every gate gets operands of the domain it needs. A `bool` input element is
/// shared in the Boolean domain, every other scalar in the arithmetic domain.
pub trait Protocol {
    /// This party's share of one secret value. Also holds public values in registers
    /// (see [`Protocol::hold_public`]).
    type Share: Copy + Default + Send + Sync;

    /// The protocol's name, as `--protocol` spells it.
    fn name(&self) -> &'static str;

    /// How a public value is kept in a register. This need not be a sharing of it: the
    /// executor reads it back with [`Protocol::held_public`] and never passes such a
    /// register to the protocol as a share.
    fn hold_public(value: u64) -> Self::Share;

    /// The public value kept in a register by [`Protocol::hold_public`].
    fn held_public(register: Self::Share) -> u64;

    /// Shares the inputs of every party, before the first round. `layout[p]` lists the
    /// type, visibility and sharing domains of each flat input element of party `p`;
    /// `mine` holds this party's raw values. Returns a register per element, per party
    /// and domain it is held in ([`InputSlot::held_in`]): a share of a secret element in
    /// that domain, the value of a public one.
    fn share_inputs(
        &mut self,
        layout: &[Vec<InputSlot>],
        mine: &[u64],
    ) -> Result<SharedInputs<Self::Share>, VmError>;

    /// Waits until every party has got this far: once the inputs are in place, so that
    /// the parties start the online phase together and its time does not include waiting
    /// for a peer still unpacking its input shares, and once after the outputs are open.
    /// The default (a protocol without peers) returns at once.
    fn synchronize(&mut self) -> Result<(), VmError> {
        Ok(())
    }

    /// Computes a local gate with at least one secret operand (never `Const`, `Input` or
    /// `PublicInput`). Unary gates get `Operand::Public(0)` as `b`.
    fn local(&self, gate: &Gate, a: Operand<Self::Share>, b: Operand<Self::Share>) -> Self::Share;

    /// Computes one round's local gates in order: `registers` has a register for every
    /// wire of the program, those below `first` (the first gate's wire) computed, and
    /// `gates[i]` goes to `registers[first + i]`, except that input gates are in place
    /// already. The default calls [`Protocol::local`] for each gate that touches a
    /// secret; a protocol may override it with a tighter loop.
    ///
    /// `runs` splits `gates` into [`Run`]s, which a protocol may compute a loop at a time.
    fn local_section(
        &self,
        gates: &[Gate],
        runs: &[Run],
        kinds: &[WireKind],
        registers: &mut [Self::Share],
        first: usize,
    ) where
        Self: Sized,
    {
        let _ = runs;
        for (wire, gate) in (first..).zip(gates) {
            if let Some(value) = local_value(self, gate, kinds, &registers[..wire]) {
                registers[wire] = value;
            }
        }
    }

    /// Computes one round's interactive gates together: products and ANDs of two
    /// secrets, truncations, conversions (`A2B`, `B2A`) and openings (`Open`, whose
    /// result is public and goes in a register by [`Protocol::hold_public`]). Every
    /// operand is secret and indexes `registers`, which holds every wire before the
    /// batch; the result of `gates[i]` goes to `out[i]`. A protocol should send one
    /// message per peer for the whole batch.
    fn interactive(
        &mut self,
        gates: &[Gate],
        registers: &[Self::Share],
        kinds: &[WireKind],
        out: &mut [Self::Share],
    ) -> Result<(), VmError>;

    /// Computes the last round's batch, as [`Protocol::interactive`] does, and may open
    /// `openings` (as [`Protocol::open_outputs`] would after it) in the same exchange, a
    /// round trip fewer: returns the opened outputs if it did, `None` if the executor
    /// must still call [`Protocol::open_outputs`]. When it opened them, the registers of
    /// the batch's secret wires may hold something else than their shares: nothing reads
    /// them after the last round. `in_batch` says who learns what of the batch, unless
    /// an output names a party it has no bit for. The default only computes the batch.
    fn last_interactive(
        &mut self,
        gates: &[Gate],
        registers: &[Self::Share],
        kinds: &[WireKind],
        out: &mut [Self::Share],
        openings: &[OutputOpening<'_>],
        in_batch: Option<&BatchOutputs>,
    ) -> Result<Option<RawOutputs>, VmError> {
        let _ = (openings, in_batch);
        self.interactive(gates, registers, kinds, out)
            .map(|()| None)
    }

    /// Opens the outputs after the last round, each to the parties it names, in one
    /// exchange; `registers` holds every wire, whose domains `kinds` gives. Returns, per
    /// opening, the values of its secret elements if this party learns them.
    fn open_outputs(
        &mut self,
        openings: &[OutputOpening<'_>],
        registers: &[Self::Share],
        kinds: &[WireKind],
    ) -> Result<RawOutputs, VmError>;
}

/// Carries a party's messages to its peers, one framed message per peer per exchange
/// (one exchange per round, whatever the number of gates in it).
pub trait Transport {
    /// This party's id.
    fn party(&self) -> u32;

    /// The number of parties, this one included.
    fn parties(&self) -> u32;

    /// Sends `outgoing[p]` to every peer `p` (the entry for this party is ignored) and
    /// returns the message each peer sent this party in the same exchange (an empty one
    /// for this party). A lost or misbehaving peer is a [`VmError::Peer`].
    fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError>;

    /// An empty buffer to write an outgoing message of `len` bytes in, perhaps one that
    /// [`Transport::recycle`] gave back. The default allocates one.
    fn buffer(&mut self, len: usize) -> Vec<u8> {
        Vec::with_capacity(len)
    }

    /// Gives back the buffer of a message sent or received, which the caller is done
    /// with, for later messages. The default drops it.
    fn recycle(&mut self, buffer: Vec<u8>) {
        drop(buffer);
    }
}

/// Runs `program` with `protocol` for one party whose raw inputs are `my_inputs`, and
/// returns the outputs this party learns.
///
/// `program` must be valid (as `Program::decode` and `Program::new` return it): wires
/// are indexed without further checks, so an unvalidated program may panic.
pub fn execute<P: Protocol>(
    program: &Program,
    protocol: &mut P,
    my_inputs: &[u64],
) -> Result<RawOutputs, VmError> {
    execute_timed(
        program,
        protocol,
        my_inputs,
        &mut RunStats::default(),
        &mut |_| {},
    )
}

/// [`execute`], recording the time of each phase in `stats` and calling `on_round` with
/// the number of rounds done after each one.
pub fn execute_timed<P: Protocol>(
    program: &Program,
    protocol: &mut P,
    my_inputs: &[u64],
    stats: &mut RunStats,
    on_round: &mut dyn FnMut(usize),
) -> Result<RawOutputs, VmError> {
    let outline = program.outline();
    // Every round's runs are found before the clock starts.
    let mut first_wire = 0;
    let rounds: Vec<ReadyRound> = program
        .rounds
        .iter()
        .map(|round| {
            let ready = ReadyRound::new(Cow::Borrowed(round), first_wire, &outline);
            first_wire += round.local.len() + round.interactive.len();
            ready
        })
        .collect();
    let rounds = rounds.into_iter().map(Ok);
    execute_rounds(
        &program.header,
        &outline,
        rounds,
        protocol,
        my_inputs,
        stats,
        on_round,
    )
}

/// One round of a program, ready to run: its gates, the wire its first gate computes,
/// and the runs of its local section.
#[derive(Clone, Debug)]
pub struct ReadyRound<'a> {
    /// The gates.
    pub round: Cow<'a, Round>,
    /// The wire of the first local gate.
    pub first_wire: usize,
    /// The runs of the local section.
    pub runs: Vec<Run>,
}

impl<'a> ReadyRound<'a> {
    /// Prepares `round`, whose first gate computes `first_wire`, of a program of this
    /// `outline`.
    pub fn new(round: Cow<'a, Round>, first_wire: usize, outline: &Outline) -> Self {
        let runs = find_runs(&round.local, first_wire, &outline.kinds, &outline.reads);
        ReadyRound {
            round,
            first_wire,
            runs,
        }
    }
}

/// Runs the program of `header` and `outline` whose rounds `rounds` yields in order (as
/// [`execute_timed`] does for a whole program). A round that cannot be had ends the run
/// with its error; after the last round, `rounds` must end.
///
/// The rounds must be those of a valid program with exactly this outline: wires are
/// indexed without further checks.
pub fn execute_rounds<'a, P: Protocol>(
    header: &Header,
    outline: &Outline,
    mut rounds: impl Iterator<Item = Result<ReadyRound<'a>, VmError>>,
    protocol: &mut P,
    my_inputs: &[u64],
    stats: &mut RunStats,
    on_round: &mut dyn FnMut(usize),
) -> Result<RawOutputs, VmError> {
    let kinds = &outline.kinds;
    let layout = &outline.layout;
    // One register per wire, every page touched before the clock starts: faulting fresh
    // memory in while computing costs more than the arithmetic of a large round.
    // (`vec![x; n]` would only reserve zeroed pages; `resize` writes them.)
    let mut registers: Vec<P::Share> = Vec::with_capacity(kinds.len());
    registers.resize(kinds.len(), P::Share::default());
    // What to open is known from the program: worked out before the clock starts.
    let outputs = &header.outputs;
    let openings: Vec<_> = outputs
        .iter()
        .map(|out| {
            // `Program::validate` checked that the type has one scalar per wire.
            let mut secrets = Vec::with_capacity(out.wires.len());
            let mut wires = out.wires.iter();
            out.ty.for_each_scalar(&mut |scalar| {
                if let Some(&w) = wires.next() {
                    if !kinds[w.index()].is_public() {
                        secrets.push((w, scalar.bits()));
                    }
                }
            });
            OutputOpening {
                to: &out.to,
                secrets,
            }
        })
        .collect();
    let mut in_last_batch = BatchOutputs::of(&openings, outline.last_batch.clone());
    let started = std::time::Instant::now();
    let inputs = protocol
        .share_inputs(layout, my_inputs)
        .map_err(during("input sharing"))?;
    if !inputs.fits(layout) {
        return Err(protocol_bug(
            protocol,
            "shared inputs do not match the input layout",
        ));
    }
    // Each round's inputs go in place before it runs, the first round's before the clock
    // starts; the shares are kept no longer than the last round that reads them.
    let mut inputs = Some(inputs);
    let mut next = rounds.next().transpose()?;
    let total = header.num_rounds as usize;
    // What the last round's batch computes is noted as soon as the round is at hand: for
    // a program of one round, before the clock starts.
    let note_if_last =
        |index: usize, next: &Option<ReadyRound>, outputs: &mut Option<BatchOutputs>| {
            if let (Some(outputs), Some(ready)) = (outputs, next) {
                if index + 1 == total {
                    outputs.note_gates(&ready.round.interactive);
                }
            }
        };
    note_if_last(0, &next, &mut in_last_batch);
    let mut place = |index: usize, ready: &ReadyRound, registers: &mut [P::Share]| {
        if let Some(shares) = &inputs {
            place_inputs(ready, shares, registers);
        }
        if outline.last_input_round.is_none_or(|last| index >= last) {
            inputs = None;
        }
    };
    if let Some(first) = &next {
        place(0, first, &mut registers);
    }
    protocol.synchronize().map_err(during("input sharing"))?;
    stats.input_s = started.elapsed().as_secs_f64();
    let online = std::time::Instant::now();

    let mut opened_early = None;
    for index in 0..total {
        let ready = next.take().ok_or_else(|| {
            protocol_bug(
                protocol,
                &format!("the program's rounds ended after {index} of {total}"),
            )
        })?;
        if index > 0 {
            place(index, &ready, &mut registers);
        }
        let (round, first) = (&*ready.round, ready.first_wire);
        protocol.local_section(&round.local, &ready.runs, kinds, &mut registers, first);
        let wire = first + round.local.len();
        if !round.interactive.is_empty() {
            let (before, rest) = registers.split_at_mut(wire);
            let batch = &mut rest[..round.interactive.len()];
            let gates = &round.interactive;
            let result = if index + 1 == total {
                let in_batch = in_last_batch.as_ref();
                protocol
                    .last_interactive(gates, before, kinds, batch, &openings, in_batch)
                    .map(|opened| opened_early = opened)
            } else {
                protocol.interactive(gates, before, kinds, batch)
            };
            result.map_err(|e| during(&format!("round {} of {total}", index + 1))(e))?;
        }
        drop(ready);
        on_round(index + 1);
        next = rounds.next().transpose()?;
        note_if_last(index + 1, &next, &mut in_last_batch);
    }
    if next.is_some() {
        return Err(protocol_bug(
            protocol,
            "the program has more rounds than it says",
        ));
    }

    let opening = std::time::Instant::now();
    let opened = match opened_early {
        Some(opened) => opened,
        None => protocol
            .open_outputs(&openings, &registers, kinds)
            .map_err(during("output opening"))?,
    };
    stats.output_s = opening.elapsed().as_secs_f64();
    stats.online_s = online.elapsed().as_secs_f64();
    // No party goes on to print its outputs before every party has finished: a peer that
    // fails at the end fails the run everywhere, and a party that is done does not free
    // its memory while a slower one on the same machine still computes.
    protocol.synchronize().map_err(during("finishing"))?;
    if opened.len() != outputs.len() {
        return Err(protocol_bug(
            protocol,
            "opened a different number of outputs than asked",
        ));
    }
    outputs
        .iter()
        .zip(opened)
        .map(|(out, secrets)| {
            let Some(secrets) = secrets else {
                return Ok(None);
            };
            let mut secrets = secrets.into_iter();
            let mut values = Vec::with_capacity(out.wires.len());
            for w in &out.wires {
                let value = if kinds[w.index()].is_public() {
                    Some(P::held_public(registers[w.index()]))
                } else {
                    secrets.next()
                };
                values.push(value.ok_or_else(|| protocol_bug(protocol, "opened too few values"))?);
            }
            if secrets.next().is_some() {
                return Err(protocol_bug(protocol, "opened too many values"));
            }
            Ok(Some(values))
        })
        .collect()
}

/// Every party's input elements as [`Protocol::share_inputs`] shared them: for each
/// domain and party, a register per element, or none when the party has no element held
/// in that domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedInputs<S> {
    /// Indexed by `Domain as usize`.
    by_domain: [Vec<Vec<S>>; 2],
}

impl<S: Copy> SharedInputs<S> {
    /// The registers `register(party, element, slot, domain)` gives for every element
    /// of `layout` in every domain it is held in, party by party, element by element,
    /// arithmetic before Boolean; `filler` where a party's element is not held in a
    /// domain some other of its elements are.
    pub fn build<E>(
        layout: &[Vec<InputSlot>],
        filler: S,
        mut register: impl FnMut(usize, usize, &InputSlot, Domain) -> Result<S, E>,
    ) -> Result<SharedInputs<S>, E> {
        let mut by_domain = [Vec::new(), Vec::new()];
        for (party, slots) in layout.iter().enumerate() {
            let any = DOMAINS.map(|d| any_held_in(slots, d));
            let mut party_registers =
                any.map(|any| Vec::with_capacity(if any { slots.len() } else { 0 }));
            for (element, slot) in slots.iter().enumerate() {
                for domain in DOMAINS {
                    let registers = &mut party_registers[domain as usize];
                    if slot.held_in(domain) {
                        registers.push(register(party, element, slot, domain)?);
                    } else if any[domain as usize] {
                        registers.push(filler);
                    }
                }
            }
            for (all, mine) in by_domain.iter_mut().zip(party_registers) {
                all.push(mine);
            }
        }
        Ok(SharedInputs { by_domain })
    }

    /// The registers of `party`'s elements in `domain` (empty if none is held in it).
    pub fn of(&self, party: usize, domain: Domain) -> &[S] {
        self.by_domain[domain as usize]
            .get(party)
            .map_or(&[], Vec::as_slice)
    }

    /// The registers of `party`'s elements in `domain`, to fill in.
    pub fn of_mut(&mut self, party: usize, domain: Domain) -> &mut [S] {
        self.by_domain[domain as usize]
            .get_mut(party)
            .map_or(&mut [], Vec::as_mut_slice)
    }

    /// Whether there is a register for every element of `layout` in every domain it is
    /// held in.
    fn fits(&self, layout: &[Vec<InputSlot>]) -> bool {
        self.by_domain
            .iter()
            .all(|parties| parties.len() == layout.len())
            && layout.iter().enumerate().all(|(party, slots)| {
                DOMAINS.into_iter().all(|d| {
                    let len = if any_held_in(slots, d) {
                        slots.len()
                    } else {
                        0
                    };
                    self.of(party, d).len() == len
                })
            })
    }
}

const DOMAINS: [Domain; 2] = [Domain::Arith, Domain::Bool];

/// Whether any of `slots` is held in `domain`: then a party's elements have registers
/// in that domain.
fn any_held_in(slots: &[InputSlot], domain: Domain) -> bool {
    slots.iter().any(|s| s.held_in(domain))
}

/// Puts the shared `inputs` in the registers of the input gates of `ready`, before it
/// runs.
fn place_inputs<S: Copy>(ready: &ReadyRound, inputs: &SharedInputs<S>, registers: &mut [S]) {
    for run in &ready.runs {
        let at = ready.first_wire + run.start;
        let (party, index, domain) = match ready.round.local[run.start] {
            Gate::Input {
                party,
                index,
                domain,
            } => (party, index, domain),
            Gate::PublicInput { party, index } => (party, index, Domain::Arith),
            _ => continue,
        };
        // A run of inputs reads consecutive elements of one party's inputs in one
        // domain; `Program::validate` checked that they exist.
        let index = index as usize;
        registers[at..at + run.len]
            .copy_from_slice(&inputs.of(party as usize, domain)[index..index + run.len]);
    }
}

/// The value of one local gate: a constant or (through `local_gate`) an operation.
/// `None` for an input, which the executor put in its register before the round.
#[inline]
pub fn local_value<P: Protocol>(
    protocol: &P,
    gate: &Gate,
    kinds: &[WireKind],
    registers: &[P::Share],
) -> Option<P::Share> {
    match *gate {
        Gate::Const(c) => Some(P::hold_public(c)),
        Gate::Input { .. } | Gate::PublicInput { .. } => None,
        _ => Some(local_gate(protocol, gate, registers, kinds)),
    }
}

/// A local gate that is not an input or a constant: computed here when every operand is
/// public, by the protocol otherwise.
#[inline]
fn local_gate<P: Protocol>(
    protocol: &P,
    gate: &Gate,
    registers: &[P::Share],
    kinds: &[WireKind],
) -> P::Share {
    let load = |w: WireId| {
        let r = registers[w.index()];
        if kinds[w.index()].is_public() {
            Operand::Public(P::held_public(r))
        } else {
            Operand::Secret(r)
        }
    };
    let mut operands = gate.operands();
    let a = operands.next().map_or(Operand::Public(0), load);
    let b = operands.next().map_or(Operand::Public(0), load);
    match (a, b) {
        (Operand::Public(x), Operand::Public(y)) => P::hold_public(gate.eval_clear(x, y)),
        _ => protocol.local(gate, a, b),
    }
}

fn protocol_bug<P: Protocol>(protocol: &P, reason: &str) -> VmError {
    VmError::Protocol {
        protocol: protocol.name(),
        reason: reason.to_string(),
    }
}

/// Interactive batches at least this large are evaluated on all cores by the clear
/// protocol; below it, starting threads costs more than it saves.
pub const PARALLEL_BATCH: usize = 1 << 14;

/// The `clear` protocol: no secrecy at all, every value is plain, every gate is
/// `Gate::eval_clear`. It is the reference the other protocols must agree with.
///
/// This version plays an observer who knows every party's inputs and learns every
/// output, which is what [`simulate`] needs; it sends nothing.
#[derive(Clone, Debug)]
pub struct ClearProtocol {
    inputs: Vec<Vec<u64>>,
}

impl ClearProtocol {
    /// The observer that knows `inputs[p]`, the raw inputs of each party `p`.
    pub fn omniscient(inputs: Vec<Vec<u64>>) -> Self {
        ClearProtocol { inputs }
    }
}

impl Protocol for ClearProtocol {
    type Share = u64;

    fn name(&self) -> &'static str {
        "clear"
    }

    fn hold_public(value: u64) -> u64 {
        value
    }

    fn held_public(register: u64) -> u64 {
        register
    }

    /// Ignores `mine`: the observer already knows every party's inputs.
    fn share_inputs(
        &mut self,
        layout: &[Vec<InputSlot>],
        _mine: &[u64],
    ) -> Result<SharedInputs<u64>, VmError> {
        check_input_counts(layout, &self.inputs)?;
        // Keep only the bits of each value's width, so that a Boolean input is a clean
        // word of width 1 whatever the caller passed. A value is the same in both domains.
        SharedInputs::build(layout, 0, |party, element, slot, _| {
            Ok(self.inputs[party][element] & mpc_bytecode::mask(slot.scalar.bits()))
        })
    }

    #[inline]
    fn local(&self, gate: &Gate, a: Operand<u64>, b: Operand<u64>) -> u64 {
        let value = |o| match o {
            Operand::Public(v) | Operand::Secret(v) => v,
        };
        gate.eval_clear(value(a), value(b))
    }

    fn interactive(
        &mut self,
        gates: &[Gate],
        registers: &[u64],
        _kinds: &[WireKind],
        out: &mut [u64],
    ) -> Result<(), VmError> {
        let eval = |(gate, out): (&Gate, &mut u64)| {
            let mut operands = gate.operands().map(|w| registers[w.index()]);
            let a = operands.next().unwrap_or(0);
            let b = operands.next().unwrap_or(0);
            *out = gate.eval_clear(a, b);
        };
        if gates.len() >= PARALLEL_BATCH {
            gates.par_iter().zip(out.par_iter_mut()).for_each(eval);
        } else {
            gates.iter().zip(out.iter_mut()).for_each(eval);
        }
        Ok(())
    }

    /// The observer learns every output.
    fn open_outputs(
        &mut self,
        openings: &[OutputOpening<'_>],
        registers: &[u64],
        _kinds: &[WireKind],
    ) -> Result<RawOutputs, VmError> {
        Ok(openings
            .iter()
            .map(|o| {
                Some(
                    o.secrets
                        .iter()
                        .map(|(w, _)| registers[w.index()])
                        .collect(),
                )
            })
            .collect())
    }
}

/// Checks that party `p` supplies exactly `layout[p].len()` values, and parties past the
/// layout (which the program reads nothing from) none.
fn check_input_counts(layout: &[Vec<InputSlot>], inputs: &[Vec<u64>]) -> Result<(), VmError> {
    for (party, values) in inputs.iter().enumerate() {
        let expected = layout.get(party).map_or(0, Vec::len);
        if values.len() != expected {
            return Err(VmError::InputCount {
                party: party as u32,
                supplied: values.len(),
                expected,
            });
        }
    }
    if let Some(missing) = layout
        .iter()
        .enumerate()
        .skip(inputs.len())
        .find(|(_, l)| !l.is_empty())
    {
        return Err(VmError::InputCount {
            party: missing.0 as u32,
            supplied: 0,
            expected: missing.1.len(),
        });
    }
    Ok(())
}

/// The protocols a run can use.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolKind {
    /// No secrecy: every party computes on plain values. For debugging and as the
    /// reference semantics.
    Clear,
    /// Three-party replicated secret sharing, honest majority, semi-honest.
    Rep3,
}

impl ProtocolKind {
    /// The name `--protocol` takes.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Clear => "clear",
            ProtocolKind::Rep3 => "rep3",
        }
    }

    /// Checks that the protocol computes every gate of `program`.
    pub fn check_program(self, program: &Program) -> Result<(), VmError> {
        (program.rounds.iter().enumerate()).try_for_each(|(r, round)| self.check_round(r, round))
    }

    /// [`ProtocolKind::check_program`] for round `r` (counted from 0) alone.
    pub fn check_round(self, r: usize, round: &Round) -> Result<(), VmError> {
        match self {
            ProtocolKind::Clear => Ok(()),
            ProtocolKind::Rep3 => crate::rep3::check_round(r, round),
        }
    }
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProtocolKind {
    type Err = VmError;

    fn from_str(s: &str) -> Result<Self, VmError> {
        match s {
            "clear" => Ok(ProtocolKind::Clear),
            "rep3" => Ok(ProtocolKind::Rep3),
            _ => Err(VmError::UnknownProtocol(s.to_string())),
        }
    }
}

/// Says where the run was when a peer failed: `party 2: connection closed (round 17 of
/// 1000)`. Other errors pass unchanged.
pub(crate) fn during(phase: &str) -> impl Fn(VmError) -> VmError + '_ {
    move |e| match e {
        VmError::Peer { party, reason } => VmError::Peer {
            party,
            reason: format!("{reason} ({phase})"),
        },
        e => e,
    }
}

/// Figures of one party's run, for `mpcvm run --stats`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStats {
    /// Seconds spent sharing the inputs.
    pub input_s: f64,
    /// Seconds from the first round after input sharing to the last opened output.
    pub online_s: f64,
    /// Seconds spent opening the outputs (the end of the online phase), after the last
    /// round: none when the protocol opened them with it.
    pub output_s: f64,
    /// Exchanges with the other parties (rounds that sent messages).
    pub rounds: u64,
    /// Bytes this party sent in the online phase (after input sharing).
    pub online_bytes_sent: u64,
    /// Bytes this party received in the online phase.
    pub online_bytes_received: u64,
    /// Of `online_bytes_sent`, the bytes sent opening the outputs (the rest is the
    /// rounds' interactive gates).
    pub output_bytes_sent: u64,
}

/// Runs `program` as party `transport.party()` with the protocol `kind`, talking to the
/// other parties through `transport`; `my_inputs` are this party's raw inputs. Returns
/// the outputs this party learns and the run's figures.
pub fn run_party<T: Transport>(
    program: &Program,
    kind: ProtocolKind,
    transport: &mut T,
    my_inputs: &[u64],
) -> Result<(RawOutputs, RunStats), VmError> {
    run_party_reporting(
        Bytecode::Whole(program),
        kind,
        transport,
        my_inputs,
        &mut |_| {},
    )
}

/// A program to run: decoded whole, or read a round at a time while it runs.
#[derive(Clone, Copy, Debug)]
pub enum Bytecode<'a> {
    /// Decoded whole.
    Whole(&'a Program),
    /// Checked whole, read again while it runs.
    Streamed(&'a StreamedProgram),
}

impl<'a> Bytecode<'a> {
    /// The program's header.
    pub fn header(self) -> &'a Header {
        match self {
            Bytecode::Whole(program) => &program.header,
            Bytecode::Streamed(program) => program.header(),
        }
    }
}

/// [`run_party`] of a program whole or streamed, calling `on_round` with the number of
/// rounds done after each one (for a progress display).
pub fn run_party_reporting<T: Transport>(
    program: Bytecode<'_>,
    kind: ProtocolKind,
    transport: &mut T,
    my_inputs: &[u64],
    on_round: &mut dyn FnMut(usize),
) -> Result<(RawOutputs, RunStats), VmError> {
    match program {
        Bytecode::Whole(program) => kind.check_program(program)?,
        Bytecode::Streamed(program) if program.protocol() != kind => {
            return Err(VmError::Unsupported {
                protocol: kind.name(),
                reason: format!("the program was checked for {}", program.protocol()),
            })
        }
        Bytecode::Streamed(_) => {}
    }
    match kind {
        ProtocolKind::Clear => Err(VmError::ProtocolNotImplemented(
            "clear over the network (use `mpcc run --protocol clear` to simulate it)".into(),
        )),
        ProtocolKind::Rep3 => {
            let mut stats = RunStats::default();
            let mut protocol = crate::rep3::Rep3::setup(transport).map_err(during("start-up"))?;
            let raw = match program {
                Bytecode::Whole(program) => {
                    execute_timed(program, &mut protocol, my_inputs, &mut stats, on_round)
                }
                Bytecode::Streamed(program) => program.run(|header, outline, rounds| {
                    let stats = &mut stats;
                    execute_rounds(
                        header,
                        outline,
                        rounds,
                        &mut protocol,
                        my_inputs,
                        stats,
                        on_round,
                    )
                }),
            }?;
            stats.rounds = protocol.exchanges();
            (stats.online_bytes_sent, stats.online_bytes_received) = protocol.online_bytes();
            stats.output_bytes_sent = protocol.output_bytes_sent();
            Ok((raw, stats))
        }
    }
}

/// The outputs one party receives, `(name, value)` in program order.
pub type PartyOutputs = Vec<(String, serde_json::Value)>;

/// Checks that every party the program names is below `parties`.
pub fn check_parties(header: &Header, parties: u32) -> Result<(), VmError> {
    if parties == 0 {
        return Err(VmError::NoParties);
    }
    // Party ids in a program are below MAX_PARTIES, so more parties would only idle; the
    // cap keeps per-party tables small.
    if parties > mpc_bytecode::format::MAX_PARTIES {
        return Err(VmError::TooManyParties { parties });
    }
    let out_of_range = |item: String, party: u32| VmError::PartyOutOfRange {
        item,
        party,
        parties,
    };
    if let Some(input) = header.inputs.iter().find(|i| i.party >= parties) {
        return Err(out_of_range(format!("input `{}`", input.name), input.party));
    }
    for output in &header.outputs {
        if let Some(&party) = output.to.iter().find(|&&p| p >= parties) {
            return Err(out_of_range(format!("output `{}`", output.name), party));
        }
    }
    Ok(())
}

/// Runs every party of `program` in this process. `inputs[p]` holds the raw inputs of
/// party `p` (as `io::parse_all_inputs` returns them), one list per party. Returns, per
/// party, the outputs it receives; a party that receives nothing gets an empty list.
pub fn simulate(
    program: &Program,
    protocol: ProtocolKind,
    parties: u32,
    inputs: &[Vec<u64>],
) -> Result<Vec<PartyOutputs>, VmError> {
    check_parties(&program.header, parties)?;
    if inputs.len() != parties as usize {
        return Err(VmError::InputLists {
            given: inputs.len(),
            parties,
        });
    }
    check_input_counts(&program.input_layout(), inputs)?;
    // Each party's raw outputs (`None` where it learns nothing).
    let raw: Vec<RawOutputs> = match protocol {
        // Every party of the clear protocol computes the same values, so one evaluation
        // stands for all of them.
        ProtocolKind::Clear => {
            let all = execute(
                program,
                &mut ClearProtocol::omniscient(inputs.to_vec()),
                &[],
            )?;
            vec![all; parties as usize]
        }
        ProtocolKind::Rep3 => simulate_rep3(program, parties, inputs)?,
    };
    let outputs = &program.header.outputs;
    (0..parties)
        .map(|party| {
            outputs
                .iter()
                .zip(&raw[party as usize])
                .filter(|(desc, _)| desc.is_for(party))
                .map(|(desc, values)| {
                    let values = values.as_deref().ok_or_else(|| VmError::Protocol {
                        protocol: protocol.name(),
                        reason: format!("party {party} did not learn output `{}`", desc.name),
                    })?;
                    Ok((desc.name.clone(), render_output(desc, values)))
                })
                .collect()
        })
        .collect()
}

/// Runs the three rep3 parties on threads connected by in-memory channels.
fn simulate_rep3(
    program: &Program,
    parties: u32,
    inputs: &[Vec<u64>],
) -> Result<Vec<RawOutputs>, VmError> {
    if parties != crate::rep3::PARTIES {
        return Err(VmError::Protocol {
            protocol: "rep3",
            reason: format!("rep3 runs with exactly 3 parties, not {parties}"),
        });
    }
    let mesh = crate::net::local::local_mesh(parties);
    let results: Vec<Result<RawOutputs, VmError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = mesh
            .into_iter()
            .zip(inputs)
            .map(|(mut transport, mine)| {
                scope.spawn(move || {
                    run_party(program, ProtocolKind::Rep3, &mut transport, mine).map(|(raw, _)| raw)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(VmError::Protocol {
                        protocol: "rep3",
                        reason: "a party's thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    // The first failure is the cause; the others are usually "peer disconnected".
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use mpc_bytecode::Scalar;
    use mpc_bytecode::{Domain, Header, InputDesc, OutputDesc, Round, ValueType, WireId};
    use serde_json::json;

    use super::*;
    use crate::io::parse_all_inputs;

    const SINT: ValueType = ValueType::Scalar(Scalar::Int {
        bits: 64,
        signed: true,
    });
    const SBOOL: ValueType = ValueType::Scalar(Scalar::Bool);
    const SUINT8: ValueType = ValueType::Scalar(Scalar::Int {
        bits: 8,
        signed: false,
    });
    const SFIX: ValueType = ValueType::Scalar(Scalar::Fix);
    const ARITH: Domain = Domain::Arith;

    fn w(i: u32) -> WireId {
        WireId(i)
    }

    fn input(party: u32, name: &str, ty: ValueType) -> InputDesc {
        InputDesc {
            party,
            name: name.into(),
            ty,
            public: false,
        }
    }

    fn output(name: &str, ty: ValueType, to: Vec<u32>, wires: Vec<u32>) -> OutputDesc {
        OutputDesc {
            name: name.into(),
            ty,
            to,
            wires: wires.into_iter().map(WireId).collect(),
        }
    }

    fn round(local: Vec<Gate>, interactive: Vec<Gate>) -> Round {
        Round { local, interactive }
    }

    fn program(inputs: Vec<InputDesc>, outputs: Vec<OutputDesc>, rounds: Vec<Round>) -> Program {
        let header = Header::new("test", "any", inputs, outputs);
        Program::new(header, rounds).expect("test programs are valid")
    }

    /// `output(a * b + 1)` with `a` from party 0 and `b` from party 1.
    fn mul_add() -> Program {
        program(
            vec![input(0, "a", SINT), input(1, "b", SINT)],
            vec![output("out0", SINT, vec![], vec![4])],
            vec![
                round(
                    vec![
                        Gate::Input {
                            party: 0,
                            index: 0,
                            domain: ARITH,
                        },
                        Gate::Input {
                            party: 1,
                            index: 0,
                            domain: ARITH,
                        },
                        Gate::Const(1),
                    ],
                    vec![Gate::Mul(w(0), w(1))],
                ),
                round(vec![Gate::Add(w(3), w(2))], vec![]),
            ],
        )
    }

    fn run(
        program: &Program,
        parties: u32,
        inputs: serde_json::Value,
    ) -> Result<Vec<PartyOutputs>, VmError> {
        let raw = parse_all_inputs(&program.header, parties, &inputs).expect("test inputs parse");
        simulate(program, ProtocolKind::Clear, parties, &raw)
    }

    fn named(pairs: &[(&str, serde_json::Value)]) -> PartyOutputs {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_product_plus_one_reaches_every_party() {
        let outputs = run(&mul_add(), 3, json!({"0": [6], "1": [-7]})).unwrap();
        let expected = named(&[("out0", json!(-41))]);
        assert_eq!(outputs, vec![expected.clone(), expected.clone(), expected]);
    }

    #[test]
    fn products_wrap_modulo_2_to_the_64() {
        let outputs = run(&mul_add(), 2, json!({"0": [i64::MAX], "1": [2]})).unwrap();
        assert_eq!(outputs[0], named(&[("out0", json!(-1))]));
    }

    #[test]
    fn outputs_go_only_to_the_parties_they_name() {
        // x = a + b to party 1, y = a - b to parties 0 and 2, z = a to everyone.
        let p = program(
            vec![input(0, "a", SINT), input(1, "b", SINT)],
            vec![
                output("x", SINT, vec![1], vec![2]),
                output("y", SINT, vec![0, 2], vec![3]),
                output("z", SINT, vec![], vec![0]),
            ],
            vec![round(
                vec![
                    Gate::Input {
                        party: 0,
                        index: 0,
                        domain: ARITH,
                    },
                    Gate::Input {
                        party: 1,
                        index: 0,
                        domain: ARITH,
                    },
                    Gate::Add(w(0), w(1)),
                    Gate::Sub(w(0), w(1)),
                ],
                vec![],
            )],
        );
        let outputs = run(&p, 4, json!({"0": [10], "1": [3]})).unwrap();
        assert_eq!(outputs[0], named(&[("y", json!(7)), ("z", json!(10))]));
        assert_eq!(outputs[1], named(&[("x", json!(13)), ("z", json!(10))]));
        assert_eq!(outputs[2], named(&[("y", json!(7)), ("z", json!(10))]));
        assert_eq!(outputs[3], named(&[("z", json!(10))]));
    }

    #[test]
    fn a_party_that_receives_nothing_gets_an_empty_list() {
        let p = program(
            vec![input(0, "a", SINT)],
            vec![output("mine", SINT, vec![0], vec![0])],
            vec![round(
                vec![Gate::Input {
                    party: 0,
                    index: 0,
                    domain: ARITH,
                }],
                vec![],
            )],
        );
        let outputs = run(&p, 2, json!({"0": [5]})).unwrap();
        assert_eq!(outputs, vec![named(&[("mine", json!(5))]), vec![]]);
    }

    #[test]
    fn a_public_input_times_a_secret_is_computed_locally() {
        // k is public; k * a and k + k are local (no interactive gate in the program).
        let mut k = input(1, "k", SINT);
        k.public = true;
        let p = program(
            vec![input(0, "a", SINT), k],
            vec![
                output("ka", SINT, vec![], vec![2]),
                output("kk", SINT, vec![], vec![3]),
            ],
            vec![round(
                vec![
                    Gate::Input {
                        party: 0,
                        index: 0,
                        domain: ARITH,
                    },
                    Gate::PublicInput { party: 1, index: 0 },
                    Gate::Mul(w(1), w(0)),
                    Gate::Add(w(1), w(1)),
                ],
                vec![],
            )],
        );
        let outputs = run(&p, 2, json!({"0": [-4], "1": [25]})).unwrap();
        assert_eq!(outputs[1], named(&[("ka", json!(-100)), ("kk", json!(50))]));
    }

    #[test]
    fn boolean_gates_on_secret_bits() {
        // and = a & b (interactive), xor = a ^ b, nand = ~(a & b).
        let bit = |party, name| input(party, name, SBOOL);
        let bool_in = |party| Gate::Input {
            party,
            index: 0,
            domain: Domain::Bool,
        };
        let p = program(
            vec![bit(0, "a"), bit(1, "b")],
            vec![
                output("and", SBOOL, vec![], vec![3]),
                output("xor", SBOOL, vec![], vec![2]),
                output("nand", SBOOL, vec![], vec![4]),
            ],
            vec![
                round(
                    vec![bool_in(0), bool_in(1), Gate::Xor(w(0), w(1), 1)],
                    vec![Gate::And(w(0), w(1), 1)],
                ),
                round(vec![Gate::Not(w(3), 1)], vec![]),
            ],
        );
        for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
            let outputs = run(&p, 2, json!({"0": [a], "1": [b]})).unwrap();
            let expected = named(&[
                ("and", json!(a && b)),
                ("xor", json!(a ^ b)),
                ("nand", json!(!(a && b))),
            ]);
            assert_eq!(outputs[0], expected, "{a} {b}");
        }
    }

    #[test]
    fn conversions_between_domains() {
        // and = B2A(A2B(x, 8) & A2B(y, 8)), xor likewise with ^, over 8-bit words.
        let p = program(
            vec![input(0, "x", SUINT8), input(1, "y", SUINT8)],
            vec![
                output("and", SUINT8, vec![], vec![6]),
                output("xor", SUINT8, vec![], vec![7]),
            ],
            vec![
                round(
                    vec![
                        Gate::Input {
                            party: 0,
                            index: 0,
                            domain: ARITH,
                        },
                        Gate::Input {
                            party: 1,
                            index: 0,
                            domain: ARITH,
                        },
                    ],
                    vec![Gate::A2B(w(0), 8), Gate::A2B(w(1), 8)],
                ),
                round(vec![], vec![Gate::And(w(2), w(3), 8)]),
                round(vec![Gate::Xor(w(2), w(3), 8)], vec![Gate::B2A(w(4))]),
                round(vec![], vec![Gate::B2A(w(5))]),
            ],
        );
        let outputs = run(&p, 2, json!({"0": [200], "1": [100]})).unwrap();
        assert_eq!(
            outputs[0],
            named(&[("and", json!(200 & 100)), ("xor", json!(200 ^ 100))])
        );
    }

    #[test]
    fn fixed_point_products_are_truncated() {
        let p = program(
            vec![input(0, "a", SFIX), input(1, "b", SFIX)],
            vec![output("ab", SFIX, vec![], vec![3])],
            vec![
                round(
                    vec![
                        Gate::Input {
                            party: 0,
                            index: 0,
                            domain: ARITH,
                        },
                        Gate::Input {
                            party: 1,
                            index: 0,
                            domain: ARITH,
                        },
                    ],
                    vec![Gate::Mul(w(0), w(1))],
                ),
                round(vec![], vec![Gate::Trunc(w(2), 16)]),
            ],
        );
        let outputs = run(&p, 2, json!({"0": [1.5], "1": [-2.25]})).unwrap();
        assert_eq!(outputs[0], named(&[("ab", json!(-3.375))]));
    }

    #[test]
    fn an_output_mixes_public_and_secret_elements() {
        // [5, a, open(a) + 1]: a constant, a secret, and a value computed after reveal.
        let p = program(
            vec![input(0, "a", SINT)],
            vec![output(
                "v",
                ValueType::Array(Box::new(SINT), 3),
                vec![],
                vec![1, 0, 4],
            )],
            vec![
                round(
                    vec![
                        Gate::Input {
                            party: 0,
                            index: 0,
                            domain: ARITH,
                        },
                        Gate::Const(5),
                    ],
                    vec![Gate::Open(w(0))],
                ),
                round(vec![Gate::Const(1), Gate::Add(w(2), w(3))], vec![]),
            ],
        );
        let outputs = run(&p, 1, json!({"0": [41]})).unwrap();
        assert_eq!(outputs[0], named(&[("v", json!([5, 41, 42]))]));
    }

    #[test]
    fn too_few_parties_name_the_party_out_of_range() {
        let err = run(&mul_add(), 1, json!({"0": [1]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input `b` names party 1, but the run has 1 party (ids 0 to 0)"
        );
        let to_party_2 = program(
            vec![],
            vec![output("c", SINT, vec![0, 2], vec![0])],
            vec![round(vec![Gate::Const(1)], vec![])],
        );
        let err = simulate(&to_party_2, ProtocolKind::Clear, 2, &[vec![], vec![]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output `c` names party 2, but the run has 2 parties (ids 0 to 1)"
        );
        assert_eq!(
            simulate(&to_party_2, ProtocolKind::Clear, 0, &[]),
            Err(VmError::NoParties)
        );
        let err = simulate(&to_party_2, ProtocolKind::Clear, u32::MAX, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("a run has at most 65536 parties, not {}", u32::MAX)
        );
    }

    #[test]
    fn inputs_must_match_the_program_s_layout() {
        let p = mul_add();
        let err = simulate(&p, ProtocolKind::Clear, 2, &[vec![1]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "inputs were given for 1 party, but the run has 2"
        );
        let err = simulate(&p, ProtocolKind::Clear, 2, &[vec![1], vec![]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "party 1 supplies 0 input value(s), but the program reads 1 from it"
        );
        let err = simulate(&p, ProtocolKind::Clear, 3, &[vec![1], vec![2], vec![3]]).unwrap_err();
        assert_eq!(
            err,
            VmError::InputCount {
                party: 2,
                supplied: 1,
                expected: 0
            }
        );
    }

    #[test]
    fn the_clear_protocol_keeps_only_each_input_s_width() {
        // A Boolean input must be a clean 1-bit word even if the caller passed more bits.
        let p = program(
            vec![input(0, "a", SBOOL)],
            vec![output("na", SBOOL, vec![], vec![1])],
            vec![round(
                vec![
                    Gate::Input {
                        party: 0,
                        index: 0,
                        domain: Domain::Bool,
                    },
                    Gate::Not(w(0), 1),
                ],
                vec![],
            )],
        );
        let raw = execute(&p, &mut ClearProtocol::omniscient(vec![vec![3]]), &[]).unwrap();
        assert_eq!(raw, vec![Some(vec![0])]);
    }

    #[test]
    fn large_batches_give_the_same_results_on_all_cores() {
        let n = PARALLEL_BATCH as u32 + 3;
        let ty = ValueType::Array(Box::new(SINT), n);
        let inputs = (0..n)
            .map(|i| Gate::Input {
                party: 0,
                index: i,
                domain: ARITH,
            })
            .collect();
        let squares = (0..n).map(|i| Gate::Mul(w(i), w(i))).collect();
        let p = program(
            vec![input(0, "xs", ty.clone())],
            vec![output("squares", ty, vec![], (n..2 * n).collect())],
            vec![round(inputs, squares)],
        );
        let xs: Vec<u64> = (0..u64::from(n))
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let raw = execute(&p, &mut ClearProtocol::omniscient(vec![xs.clone()]), &[]).unwrap();
        let expected: Vec<u64> = xs.iter().map(|x| x.wrapping_mul(*x)).collect();
        assert_eq!(raw, vec![Some(expected)]);
    }

    /// The clear protocol, recording what the executor asks of it.
    #[derive(Default)]
    struct Recording {
        local_calls: std::cell::Cell<usize>,
        batches: Vec<usize>,
        opened: Vec<(Vec<u32>, usize)>,
        drop_an_opened_value: bool,
    }

    impl Protocol for Recording {
        type Share = u64;

        fn name(&self) -> &'static str {
            "recording"
        }

        fn hold_public(value: u64) -> u64 {
            value
        }

        fn held_public(register: u64) -> u64 {
            register
        }

        fn share_inputs(
            &mut self,
            layout: &[Vec<InputSlot>],
            mine: &[u64],
        ) -> Result<SharedInputs<u64>, VmError> {
            // Every party supplies `mine`, so the test needs only one list.
            SharedInputs::build(layout, 0, |_, element, _, _| Ok(mine[element]))
        }

        fn local(&self, gate: &Gate, a: Operand<u64>, b: Operand<u64>) -> u64 {
            self.local_calls.set(self.local_calls.get() + 1);
            ClearProtocol::omniscient(vec![]).local(gate, a, b)
        }

        fn interactive(
            &mut self,
            gates: &[Gate],
            registers: &[u64],
            kinds: &[WireKind],
            out: &mut [u64],
        ) -> Result<(), VmError> {
            self.batches.push(gates.len());
            ClearProtocol::omniscient(vec![]).interactive(gates, registers, kinds, out)
        }

        fn open_outputs(
            &mut self,
            openings: &[OutputOpening<'_>],
            registers: &[u64],
            kinds: &[WireKind],
        ) -> Result<RawOutputs, VmError> {
            self.opened = openings
                .iter()
                .map(|o| (o.to.to_vec(), o.secrets.len()))
                .collect();
            let mut values =
                ClearProtocol::omniscient(vec![]).open_outputs(openings, registers, kinds)?;
            Ok(openings
                .iter()
                .zip(&mut values)
                .map(|(o, values)| {
                    let mut values = values.take().unwrap_or_default();
                    if self.drop_an_opened_value {
                        values.pop();
                    }
                    // Like a real party 0: it learns only what is addressed to it.
                    (o.to.is_empty() || o.to.contains(&0)).then_some(values)
                })
                .collect())
        }
    }

    #[test]
    fn the_executor_calls_the_protocol_once_per_batch_and_only_for_secrets() {
        // Round 1: c = 2 + 3 (public, not the protocol's business), s = a + c (local,
        // secret), then a batch of two products. Round 2: one product.
        let p = program(
            vec![input(0, "a", SINT), input(0, "b", SINT)],
            vec![
                output("m", SINT, vec![1], vec![7]),
                output(
                    "pair",
                    ValueType::Array(Box::new(SINT), 2),
                    vec![],
                    vec![4, 2],
                ),
            ],
            vec![
                round(
                    vec![
                        Gate::Input {
                            party: 0,
                            index: 0,
                            domain: ARITH,
                        },
                        Gate::Input {
                            party: 0,
                            index: 1,
                            domain: ARITH,
                        },
                        Gate::Const(2),
                        Gate::Const(3),
                        Gate::Add(w(2), w(3)),
                        Gate::Add(w(0), w(4)),
                    ],
                    vec![Gate::Mul(w(0), w(1)), Gate::Mul(w(5), w(1))],
                ),
                round(vec![], vec![Gate::Mul(w(6), w(6))]),
            ],
        );
        let mut protocol = Recording::default();
        let raw = execute(&p, &mut protocol, &[3, 4]).unwrap();
        assert_eq!(protocol.local_calls.get(), 1);
        assert_eq!(protocol.batches, vec![2, 1]);
        // `pair` is [5, 2] with both elements public: nothing secret to open.
        assert_eq!(protocol.opened, vec![(vec![1], 1), (vec![], 0)]);
        assert_eq!(raw, vec![None, Some(vec![5, 2])]);
    }

    #[test]
    fn a_protocol_that_opens_too_few_values_is_an_error_not_a_panic() {
        let mut protocol = Recording {
            drop_an_opened_value: true,
            ..Recording::default()
        };
        let err = execute(&mul_add(), &mut protocol, &[1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error in protocol `recording`: opened too few values"
        );
    }

    #[test]
    fn protocols_are_chosen_by_name() {
        assert_eq!("clear".parse::<ProtocolKind>(), Ok(ProtocolKind::Clear));
        assert_eq!("rep3".parse::<ProtocolKind>(), Ok(ProtocolKind::Rep3));
        assert_eq!(ProtocolKind::Rep3.to_string(), "rep3");
        let err = "shamir".parse::<ProtocolKind>().unwrap_err().to_string();
        assert_eq!(err, "unknown protocol `shamir` (available: rep3, clear)");
    }
}
