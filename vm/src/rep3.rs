//! `rep3`: three-party replicated secret sharing with an honest majority, secure against
//! one semi-honest party (Araki et al. 2016; the arithmetic/Boolean mix of ABY3).
//!
//! A secret `x` is split into three components `x = x0 + x1 + x2` (mod 2^64), or
//! `x = x0 ^ x1 ^ x2` for a Boolean word; party `i` holds the pair `(x_i, x_{i+1})`
//! (indices mod 3), so any two parties can reconstruct and any one learns nothing.
//! A public value `c` stands for the components `(c, 0, 0)`.
//!
//! Correlated randomness: at start-up party `i` draws a key `k_i` from the operating
//! system (`getrandom`) and sends it to party `i-1`, so party `i` holds `k_i` and
//! `k_{i+1}`. Each key seeds a ChaCha12 stream; the two parties holding a key draw from
//! it in the same order, which gives zero-sharings `α_i = F(k_i) - F(k_{i+1})`
//! (`Σ α_i = 0`) and input masks without extra messages.
//!
//! Where the randomness comes from: the keys `k_i` are the only entropy, 32 bytes each
//! from the operating system's generator (`getrandom::fill`: `getrandom(2)` on Linux);
//! a party that cannot get them stops before sharing anything. Every other random
//! value — the two components an input's owner draws for its secret inputs, and the
//! zero-sharings that re-randomize products and ANDs — comes from the ChaCha12
//! keystreams (`rand_chacha`), never from the time, a counter or a fixed seed. A key
//! is known to exactly the two parties that hold it, so no single party can predict
//! the third party's stream. The key `k_i` crosses the network once, to party `i-1`:
//! inside TLS when the parties use it (the default), in the clear with `tls = false`,
//! where an eavesdropper that sees all three keys could unmask every share.
//!
//! Costs: a multiplication or AND sends one ring element (one word) to the previous
//! party; an opening sends one component to the next party; input sharing sends one
//! value to each peer per input element. Each round is one message per peer.

use mpc_bytecode::{mask, Domain, Gate, InputSlot, WireKind};
use rand_chacha::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};

use crate::exec::{Operand, OutputOpening, Protocol, RawOutputs, Transport, VmError};

/// The number of parties rep3 runs with.
pub const PARTIES: u32 = 3;

/// Party `i`'s two components `(x_i, x_{i+1})`.
pub type Share = [u64; 2];

/// One party's side of the protocol.
pub struct Rep3<'t, T: Transport> {
    party: u32,
    transport: &'t mut T,
    /// Stream of `k_i`, shared with the previous party.
    mine: ChaCha12Rng,
    /// Stream of `k_{i+1}`, shared with the next party.
    next: ChaCha12Rng,
    exchanges: u64,
    /// Bytes sent and received by rounds and output openings (not input sharing).
    online_bytes: (u64, u64),
}

fn next_of(i: u32) -> usize {
    ((i + 1) % PARTIES) as usize
}

fn prev_of(i: u32) -> usize {
    ((i + 2) % PARTIES) as usize
}

/// Values of given bit widths packed back to back, least significant bit first: an
/// AND of a 1-bit word sends one bit, a product 64.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 when it is full or there is none).
    used: u32,
}

impl BitWriter {
    fn with_capacity(bits: usize) -> Self {
        BitWriter {
            bytes: Vec::with_capacity(bits.div_ceil(8)),
            used: 0,
        }
    }

    fn put(&mut self, value: u64, bits: u8) {
        if bits == 64 && self.used == 0 {
            self.bytes.extend_from_slice(&value.to_le_bytes());
            return;
        }
        let (mut value, mut left) = (value & mask(bits), u32::from(bits));
        while left > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let room = 8 - self.used;
            let take = room.min(left);
            let last = self.bytes.len() - 1;
            self.bytes[last] |= ((value & ((1 << take) - 1)) as u8) << self.used;
            value >>= take;
            left -= take;
            self.used = (self.used + take) % 8;
        }
    }
}

/// Reads what a [`BitWriter`] wrote; the caller checked the length first.
struct BitReader<'a> {
    bytes: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn get(&mut self, bits: u8) -> u64 {
        if bits == 64 && self.bit.is_multiple_of(8) {
            let start = self.bit / 8;
            self.bit += 64;
            return self
                .bytes
                .get(start..start + 8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
        }
        // Up to 64 bits span at most 9 bytes from any bit offset.
        let (start, shift) = (self.bit / 8, self.bit % 8);
        let mut window = [0u8; 16];
        let available = self.bytes.len().saturating_sub(start).min(9);
        window[..available].copy_from_slice(&self.bytes[start..start + available]);
        self.bit += usize::from(bits);
        ((u128::from_le_bytes(window) >> shift) as u64) & mask(bits)
    }
}

impl<'t, T: Transport> Rep3<'t, T> {
    /// Agrees on the correlated-randomness keys with the other two parties (one
    /// exchange).
    pub fn setup(transport: &'t mut T) -> Result<Self, VmError> {
        if transport.parties() != PARTIES {
            return Err(VmError::Protocol {
                protocol: "rep3",
                reason: format!(
                    "rep3 runs with exactly 3 parties, not {}",
                    transport.parties()
                ),
            });
        }
        let party = transport.party();
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| VmError::Protocol {
            protocol: "rep3",
            reason: format!("the operating system gave no randomness: {e}"),
        })?;
        let mut outgoing = vec![Vec::new(); PARTIES as usize];
        outgoing[prev_of(party)] = key.to_vec();
        let incoming = transport.exchange(&outgoing)?;
        let next_key: [u8; 32] = incoming[next_of(party)]
            .as_slice()
            .try_into()
            .map_err(|_| VmError::Peer {
                party: next_of(party) as u32,
                reason: "sent a malformed key".into(),
            })?;
        Ok(Rep3 {
            party,
            transport,
            mine: ChaCha12Rng::from_seed(key),
            next: ChaCha12Rng::from_seed(next_key),
            exchanges: 1,
            online_bytes: (0, 0),
        })
    }

    /// Exchanges made so far (start-up included).
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    /// Bytes sent and received after input sharing.
    pub fn online_bytes(&self) -> (u64, u64) {
        self.online_bytes
    }

    /// Sends `to_prev` to the previous party and `to_next` to the next one; returns what
    /// the next and the previous party sent, checked to hold `from_next` and
    /// `from_prev` bits.
    fn exchange(
        &mut self,
        to_prev: BitWriter,
        to_next: BitWriter,
        from_next: usize,
        from_prev: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), VmError> {
        let (prev, next) = (prev_of(self.party), next_of(self.party));
        let mut outgoing = vec![Vec::new(); PARTIES as usize];
        outgoing[prev] = to_prev.bytes;
        outgoing[next] = to_next.bytes;
        self.online_bytes.0 += outgoing.iter().map(|m| m.len() as u64).sum::<u64>();
        let mut incoming = self.transport.exchange(&outgoing)?;
        self.online_bytes.1 += incoming.iter().map(|m| m.len() as u64).sum::<u64>();
        self.exchanges += 1;
        for (peer, bits) in [(next, from_next), (prev, from_prev)] {
            let (got, want) = (incoming[peer].len(), bits.div_ceil(8));
            if got != want {
                // The executor adds the round.
                return Err(VmError::Peer {
                    party: peer as u32,
                    reason: format!("sent {got} bytes, expected {want}"),
                });
            }
        }
        Ok((
            std::mem::take(&mut incoming[next]),
            std::mem::take(&mut incoming[prev]),
        ))
    }

    /// `n` words of each keystream, `F(k_i)` and `F(k_{i+1})`, drawn in bulk: their
    /// difference (or XOR) is a share of zero. Every party draws the same counts in the
    /// same order, so the two holders of each key stay in step.
    fn zero_material(&mut self, n: usize) -> (Vec<u64>, Vec<u64>) {
        let draw = |stream: &mut ChaCha12Rng| {
            let mut bytes = vec![0u8; n * 8];
            stream.fill_bytes(&mut bytes);
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect::<Vec<u64>>()
        };
        (draw(&mut self.mine), draw(&mut self.next))
    }

    /// `s` plus the public `c` in component 0 (held by parties 0 and 2).
    fn add_public(&self, s: Share, c: u64) -> Share {
        match self.party {
            0 => [s[0].wrapping_add(c), s[1]],
            2 => [s[0], s[1].wrapping_add(c)],
            _ => s,
        }
    }

    /// `s` XOR the public `c` in component 0.
    fn xor_public(&self, s: Share, c: u64) -> Share {
        match self.party {
            0 => [s[0] ^ c, s[1]],
            2 => [s[0], s[1] ^ c],
            _ => s,
        }
    }

    /// Component `k` of the value shared as `s`, kept in place: zero in the positions
    /// of the other components.
    fn component(&self, s: Share, k: u8, m: u64) -> Share {
        let k = u32::from(k);
        [
            if self.party == k { s[0] & m } else { 0 },
            if (self.party + 1) % PARTIES == k {
                s[1] & m
            } else {
                0
            },
        ]
    }
}

/// The arithmetic share of zero from the two keystreams' words.
fn zero_arith((mine, next): (u64, u64)) -> u64 {
    mine.wrapping_sub(next)
}

/// Gates rep3 computes in a round; everything else must have been compiled away.
fn supported_interactive(gate: &Gate) -> bool {
    matches!(
        gate,
        Gate::Mul(..) | Gate::And(..) | Gate::Open(_) | Gate::PairA2B(..) | Gate::Reshare(_)
    )
}

/// Checks that a program only asks rep3 for what it computes (`mpcc` expands
/// conversions and truncations for rep3; an older or hand-made program may not).
pub fn check_program(program: &mpc_bytecode::Program) -> Result<(), VmError> {
    for (r, round) in program.rounds.iter().enumerate() {
        if let Some(gate) = round.interactive.iter().find(|g| !supported_interactive(g)) {
            return Err(VmError::Protocol {
                protocol: "rep3",
                reason: format!(
                    "round {}: `{}` is not a rep3 operation; recompile the program with this version of mpcc",
                    r + 1,
                    gate.mnemonic()
                ),
            });
        }
    }
    Ok(())
}

impl<T: Transport> Protocol for Rep3<'_, T> {
    type Share = Share;

    fn name(&self) -> &'static str {
        "rep3"
    }

    fn hold_public(value: u64) -> Share {
        [value, 0]
    }

    fn held_public(register: Share) -> u64 {
        register[0]
    }

    fn share_inputs(
        &mut self,
        layout: &[Vec<InputSlot>],
        mine: &[u64],
    ) -> Result<Vec<Vec<Share>>, VmError> {
        let me = self.party as usize;
        let expected_mine = layout.get(me).map_or(0, Vec::len);
        if mine.len() != expected_mine {
            return Err(VmError::InputCount {
                party: self.party,
                supplied: mine.len(),
                expected: expected_mine,
            });
        }
        // One pass in a fixed order (owners, then elements) for every party, so that the
        // two holders of each key draw from it in the same order.
        let mut shares: Vec<Vec<Share>> = Vec::with_capacity(layout.len());
        let mut sent = Vec::with_capacity(mine.len());
        for (owner, slots) in layout.iter().enumerate() {
            let mut owned = Vec::with_capacity(slots.len());
            for (e, slot) in slots.iter().enumerate() {
                let (m, public) = (mask(slot.scalar.bits()), slot.public);
                let boolean = slot.domain == Domain::Bool;
                let share = if public {
                    if owner == me {
                        sent.push((mine[e] & m, slot.scalar.bits()));
                    }
                    [0, 0] // filled after the exchange (the owner fills its own below)
                } else if owner == me {
                    let (a, b) = (self.mine.next_u64() & m, self.next.next_u64() & m);
                    let v = mine[e] & m;
                    // The third component, which the two others need.
                    let rest = if boolean {
                        v ^ a ^ b
                    } else {
                        v.wrapping_sub(a).wrapping_sub(b) & m
                    };
                    sent.push((rest, slot.scalar.bits()));
                    [a, b]
                } else if owner == prev_of(self.party) {
                    // This party is the owner's next: it holds (x_{p+1}, x_{p-1}).
                    [self.mine.next_u64() & m, 0]
                } else {
                    // This party is the owner's previous: it holds (x_{p-1}, x_p).
                    [0, self.next.next_u64() & m]
                };
                owned.push(share);
            }
            shares.push(owned);
        }
        // Integers live in the whole ring: the masks above keep the low bits random and
        // the component sum right modulo 2^w, which is all an n-bit value needs.
        // Each value takes its type's bits on the wire.
        let mut packed = BitWriter::default();
        for &(value, bits) in &sent {
            packed.put(value, bits);
        }
        let mut outgoing = vec![Vec::new(); PARTIES as usize];
        for peer in [prev_of(self.party), next_of(self.party)] {
            outgoing[peer] = packed.bytes.clone();
        }
        let incoming = self.transport.exchange(&outgoing)?;
        self.exchanges += 1;
        for (owner, slots) in layout.iter().enumerate() {
            if owner == me {
                for (e, slot) in slots.iter().enumerate() {
                    if slot.public {
                        shares[owner][e] = Self::hold_public(mine[e] & mask(slot.scalar.bits()));
                    }
                }
                continue;
            }
            let bytes = incoming.get(owner).map_or(&[][..], Vec::as_slice);
            let expected: usize = slots
                .iter()
                .map(|slot| usize::from(slot.scalar.bits()))
                .sum();
            if bytes.len() != expected.div_ceil(8) {
                return Err(VmError::Peer {
                    party: owner as u32,
                    reason: format!(
                        "sent {} bytes of inputs, expected {}",
                        bytes.len(),
                        expected.div_ceil(8)
                    ),
                });
            }
            let mut reader = BitReader { bytes, bit: 0 };
            for (e, &InputSlot { scalar, public, .. }) in slots.iter().enumerate() {
                let value = reader.get(scalar.bits());
                let share = &mut shares[owner][e];
                if public {
                    *share = Self::hold_public(value);
                } else if owner == prev_of(self.party) {
                    share[1] = value;
                } else {
                    share[0] = value;
                }
            }
        }
        shares.resize(layout.len(), Vec::new());
        Ok(shares)
    }

    fn local(&self, gate: &Gate, a: Operand<Share>, b: Operand<Share>) -> Share {
        use Operand::{Public as P, Secret as S};
        let each =
            |s: Share, other: u64| [gate.eval_clear(s[0], other), gate.eval_clear(s[1], other)];
        match (*gate, a, b) {
            (Gate::Add(..), S(x), S(y)) => [x[0].wrapping_add(y[0]), x[1].wrapping_add(y[1])],
            (Gate::Add(..), S(x), P(c)) | (Gate::Add(..), P(c), S(x)) => self.add_public(x, c),
            (Gate::Sub(..), S(x), S(y)) => [x[0].wrapping_sub(y[0]), x[1].wrapping_sub(y[1])],
            (Gate::Sub(..), S(x), P(c)) => self.add_public(x, c.wrapping_neg()),
            (Gate::Sub(..), P(c), S(x)) => {
                self.add_public([x[0].wrapping_neg(), x[1].wrapping_neg()], c)
            }
            (Gate::Xor(_, _, w), S(x), S(y)) => [(x[0] ^ y[0]) & mask(w), (x[1] ^ y[1]) & mask(w)],
            (Gate::Xor(_, _, w), S(x), P(c)) | (Gate::Xor(_, _, w), P(c), S(x)) => {
                let s = self.xor_public(x, c & mask(w));
                [s[0] & mask(w), s[1] & mask(w)]
            }
            (Gate::Not(_, w), S(x), _) => {
                self.xor_public([x[0] & mask(w), x[1] & mask(w)], mask(w))
            }
            // Linear in the secret: a public factor, mask or shift acts on each component.
            (Gate::Mul(..) | Gate::And(..), S(x), P(c))
            | (Gate::Mul(..) | Gate::And(..), P(c), S(x)) => each(x, c),
            (
                Gate::Neg(_)
                | Gate::Shl(..)
                | Gate::Shr(..)
                | Gate::Sar(..)
                | Gate::Broadcast(..)
                | Gate::Pext(..),
                S(x),
                _,
            ) => each(x, 0),
            // An additive term is kept in position 0; position 1 is ignored until the
            // reshare, so sums and scalings above stay right for additive wires too.
            (Gate::MulLocal(..), S(x), S(y)) => [
                x[0].wrapping_mul(y[0])
                    .wrapping_add(x[0].wrapping_mul(y[1]))
                    .wrapping_add(x[1].wrapping_mul(y[0])),
                0,
            ],
            (Gate::SplitA2B(_, k, w), S(x), _) => self.component(x, k, mask(w)),
            (Gate::SplitB2A(_, k, w), S(x), _) => self.component(x, k, mask(w)),
            // The executor computes all-public gates itself, and `check_program` keeps
            // every other gate out of the local sections.
            _ => [0, 0],
        }
    }

    /// The common gates on two secrets are computed inline; the rest go through
    /// [`Protocol::local`]. Large sums and dot products are all local gates, so this
    /// loop is the hot one.
    fn local_section(
        &self,
        gates: &[Gate],
        kinds: &[WireKind],
        inputs: &[Vec<Share>],
        registers: &mut Vec<Share>,
    ) {
        let secret = |w: mpc_bytecode::WireId| !kinds[w.index()].is_public();
        for gate in gates {
            let value = match *gate {
                Gate::Add(a, b) if secret(a) && secret(b) => {
                    let (x, y) = (registers[a.index()], registers[b.index()]);
                    [x[0].wrapping_add(y[0]), x[1].wrapping_add(y[1])]
                }
                Gate::Sub(a, b) if secret(a) && secret(b) => {
                    let (x, y) = (registers[a.index()], registers[b.index()]);
                    [x[0].wrapping_sub(y[0]), x[1].wrapping_sub(y[1])]
                }
                Gate::MulLocal(a, b) => {
                    let (x, y) = (registers[a.index()], registers[b.index()]);
                    [
                        x[0].wrapping_mul(y[0])
                            .wrapping_add(x[0].wrapping_mul(y[1]))
                            .wrapping_add(x[1].wrapping_mul(y[0])),
                        0,
                    ]
                }
                Gate::Xor(a, b, w) if secret(a) && secret(b) => {
                    let (x, y) = (registers[a.index()], registers[b.index()]);
                    [(x[0] ^ y[0]) & mask(w), (x[1] ^ y[1]) & mask(w)]
                }
                // Bit moves act on each component alone.
                Gate::Shr(a, k, w) if secret(a) => {
                    let x = registers[a.index()];
                    [(x[0] >> k) & mask(w), (x[1] >> k) & mask(w)]
                }
                Gate::Shl(a, k, w) if secret(a) => {
                    let x = registers[a.index()];
                    [(x[0] << k) & mask(w), (x[1] << k) & mask(w)]
                }
                Gate::Pext(a, m) if secret(a) => {
                    let x = registers[a.index()];
                    [
                        mpc_bytecode::gate::pext(x[0], m),
                        mpc_bytecode::gate::pext(x[1], m),
                    ]
                }
                Gate::And(a, b, w) if secret(a) != secret(b) => {
                    let (x, c) = if secret(a) { (a, b) } else { (b, a) };
                    let (x, c) = (registers[x.index()], registers[c.index()][0] & mask(w));
                    [x[0] & c, x[1] & c]
                }
                _ => crate::exec::local_value(self, gate, kinds, inputs, registers),
            };
            registers.push(value);
        }
    }

    fn interactive(
        &mut self,
        gates: &[Gate],
        registers: &[Share],
        kinds: &[WireKind],
        out: &mut [Share],
    ) -> Result<(), VmError> {
        let mut to_prev = BitWriter::with_capacity(gates.len() * 64);
        let mut to_next = BitWriter::default();
        let (mut product_bits, mut open_bits) = (0usize, 0usize);
        // Party 0 shares the sums of components 0 and 1 it alone knows (`PairA2B`): the
        // third Boolean component, which both peers need, after everything else.
        let mut pair_shares: Vec<(u64, u8)> = Vec::new();
        let mut pair_bits = 0usize;
        let fresh = gates
            .iter()
            .filter(|g| matches!(g, Gate::Mul(..) | Gate::Reshare(_) | Gate::And(..)))
            .count();
        let (mine, next) = self.zero_material(fresh);
        let mut zeros = mine.iter().zip(&next);
        let mut zero = || zeros.next().map_or((0, 0), |(a, b)| (*a, *b));
        for (gate, slot) in gates.iter().zip(out.iter_mut()) {
            match *gate {
                Gate::Mul(a, b) => {
                    let (x, y) = (registers[a.index()], registers[b.index()]);
                    let z = x[0]
                        .wrapping_mul(y[0])
                        .wrapping_add(x[0].wrapping_mul(y[1]))
                        .wrapping_add(x[1].wrapping_mul(y[0]))
                        .wrapping_add(zero_arith(zero()));
                    slot[0] = z;
                    to_prev.put(z, 64);
                    product_bits += 64;
                }
                Gate::Reshare(a) => {
                    let z = registers[a.index()][0].wrapping_add(zero_arith(zero()));
                    slot[0] = z;
                    to_prev.put(z, 64);
                    product_bits += 64;
                }
                Gate::And(a, b, w) => {
                    let (x, y) = (registers[a.index()], registers[b.index()]);
                    let (r, t) = zero();
                    let z = ((x[0] & y[0]) ^ (x[0] & y[1]) ^ (x[1] & y[0]) ^ r ^ t) & mask(w);
                    slot[0] = z;
                    to_prev.put(z, w);
                    product_bits += usize::from(w);
                }
                Gate::Open(a) => {
                    to_next.put(registers[a.index()][0], 64);
                    open_bits += 64;
                }
                Gate::PairA2B(a, w) => {
                    let m = mask(w);
                    pair_bits += usize::from(w);
                    // Components 0 and 1 of the Boolean sharing come from the streams of
                    // k_0 (parties 0 and 2) and k_1 (parties 0 and 1).
                    *slot = match self.party {
                        0 => {
                            let x = registers[a.index()];
                            let (b0, b1) = (self.mine.next_u64() & m, self.next.next_u64() & m);
                            pair_shares.push(((x[0].wrapping_add(x[1]) & m) ^ b0 ^ b1, w));
                            [b0, b1]
                        }
                        1 => [self.mine.next_u64() & m, 0],
                        _ => [0, self.next.next_u64() & m],
                    };
                }
                _ => {
                    return Err(VmError::Protocol {
                        protocol: "rep3",
                        reason: format!("`{}` is not a rep3 operation", gate.mnemonic()),
                    })
                }
            }
        }
        for &(value, w) in &pair_shares {
            to_prev.put(value, w);
            to_next.put(value, w);
        }
        // Party 0 is the next party of party 2 and the previous one of party 1.
        let from_next_bits = product_bits
            + if next_of(self.party) == 0 {
                pair_bits
            } else {
                0
            };
        let from_prev_bits = open_bits
            + if prev_of(self.party) == 0 {
                pair_bits
            } else {
                0
            };
        let (from_next, from_prev) =
            self.exchange(to_prev, to_next, from_next_bits, from_prev_bits)?;
        let mut products = BitReader {
            bytes: &from_next,
            bit: 0,
        };
        let mut opened = BitReader {
            bytes: &from_prev,
            bit: 0,
        };
        let mut pairs = match self.party {
            1 => BitReader {
                bytes: &from_prev,
                bit: open_bits,
            },
            _ => BitReader {
                bytes: &from_next,
                bit: product_bits,
            },
        };
        for (gate, slot) in gates.iter().zip(out.iter_mut()) {
            match *gate {
                Gate::Open(a) => {
                    let x = registers[a.index()];
                    let missing = opened.get(64);
                    let value = if kinds[a.index()] == WireKind::Bool {
                        x[0] ^ x[1] ^ missing
                    } else {
                        x[0].wrapping_add(x[1]).wrapping_add(missing)
                    };
                    *slot = Self::hold_public(value);
                }
                Gate::PairA2B(_, w) => match self.party {
                    1 => slot[1] = pairs.get(w),
                    2 => slot[0] = pairs.get(w),
                    _ => {}
                },
                Gate::And(_, _, w) => slot[1] = products.get(w),
                _ => slot[1] = products.get(64),
            }
        }
        Ok(())
    }

    fn open_outputs(
        &mut self,
        openings: &[OutputOpening<'_, Share>],
    ) -> Result<RawOutputs, VmError> {
        let (me, next) = (self.party, next_of(self.party) as u32);
        let learns = |o: &OutputOpening<'_, Share>, p: u32| o.to.is_empty() || o.to.contains(&p);
        // Party p misses component p-1, which party p-1 holds first.
        let mut to_next = BitWriter::default();
        for share in openings
            .iter()
            .filter(|o| learns(o, next))
            .flat_map(|o| &o.shares)
        {
            to_next.put(share[0], 64);
        }
        let expected: usize = openings
            .iter()
            .filter(|o| learns(o, me))
            .map(|o| o.shares.len() * 64)
            .sum();
        let (_, from_prev) = self.exchange(BitWriter::default(), to_next, 0, expected)?;
        let mut reader = BitReader {
            bytes: &from_prev,
            bit: 0,
        };
        let mut missing = std::iter::from_fn(|| Some(reader.get(64)));
        Ok(openings
            .iter()
            .map(|o| {
                learns(o, me).then(|| {
                    o.shares
                        .iter()
                        .zip(&o.kinds)
                        .map(|(s, kind)| {
                            let m = missing.next().unwrap_or_default();
                            if *kind == WireKind::Bool {
                                s[0] ^ s[1] ^ m
                            } else {
                                s[0].wrapping_add(s[1]).wrapping_add(m)
                            }
                        })
                        .collect()
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_packing_round_trips_mixed_widths() {
        let values: Vec<(u64, u8)> = vec![
            (1, 1),
            (0x1234_5678_9abc_def0, 64),
            (0b101, 3),
            (u64::MAX, 64),
            (0x7f, 7),
            (0, 1),
            (0xabcd, 16),
        ];
        let mut w = BitWriter::default();
        values.iter().for_each(|&(v, b)| w.put(v, b));
        let bits: usize = values.iter().map(|&(_, b)| usize::from(b)).sum();
        assert_eq!(w.bytes.len(), bits.div_ceil(8), "no padding between values");
        let mut r = BitReader {
            bytes: &w.bytes,
            bit: 0,
        };
        for &(v, b) in &values {
            assert_eq!(r.get(b), v & mask(b));
        }
    }
}
