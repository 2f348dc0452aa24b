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
//! `k_{i+1}`. Each key seeds an AES-128-CTR keystream (the `prg` module); the two
//! parties holding a key draw from it in the same order, which gives zero-sharings
//! `α_i = F(k_i) - F(k_{i+1})` (`Σ α_i = 0`) and input masks without extra messages.
//!
//! Where the randomness comes from: the keys `k_i` are the only entropy, 32 bytes each
//! from the operating system's generator (`getrandom::fill`: `getrandom(2)` on Linux);
//! a party that cannot get them stops before sharing anything. Every other random
//! value — the two components an input's owner draws for its secret inputs, and the
//! zero-sharings that re-randomize products and ANDs — comes from the AES-128-CTR
//! keystreams, never from the time, a counter or a fixed seed. A key
//! is known to exactly the two parties that hold it, so no single party can predict
//! the third party's stream. The key `k_i` crosses the network once, to party `i-1`:
//! inside TLS when the parties use it (the default), in the clear with `tls = false`,
//! where an eavesdropper that sees all three keys could unmask every share.
//!
//! Costs: a multiplication or AND sends one ring element (one word) to the previous
//! party; an opening sends one component to the next party; input sharing sends one
//! value to each peer per input element and domain it is shared in (an element the
//! program reads both arithmetically and bitwise is shared both ways, with independent
//! components, so that its bits cost no conversion). Each round is one message per
//! peer. The outputs' components travel with the last round's messages when each is
//! known before they arrive (a wire from before the round, or the share `z` of one of
//! its products), which saves the opening's round trip; otherwise they take an
//! exchange of their own.
//! A product of that last round is then opened rather than reshared: its `z_i` go only
//! to the parties that learn it (nothing reads it after the round). This is safe because
//! the zero-sharing makes `(z_0, z_1, z_2)` a fresh random additive sharing of the
//! product, so a party that sees all three learns the product and nothing else. When
//! one party alone learns every product of that round, only the key it lacks masks
//! them, and a third of the keystream is drawn (see `Masks`).
//!
//! Three gates combine a word only party 0 knows (`a0 + a1`) or a bit share with a word
//! the other two know, in one round, by oblivious transfer with the third party as the
//! helper (see `Rep3::send_transfers`): `PairAnd` (the AND of the two words an
//! arithmetic value splits into, 4 words of traffic), `PairEq` (their equality pair of
//! bits by pair of bits, 10 bits per pair) and `MulBit` (a shared bit times an
//! arithmetic value, 6 words, 12 when the value is secret). They save the first round
//! of comparisons and equality tests, and make a multiplexer one round.
//!
//! "Party 0" of these gates and of `PairA2B` is a role, not a fixed party: the roles
//! rotate with the operand's wire index (`rotation`), so each party sends the larger
//! share of the traffic for a third of them. A program of 10^5 comparisons then sends
//! the same bytes from every party, where party 0 used to send twice as many.

use mpc_bytecode::gate::{pairs, pext, EVEN_BITS};
use mpc_bytecode::{mask, Domain, Gate, InputSlot, WireId, WireKind};
use rayon::prelude::*;

use crate::exec::{
    BatchOutputs, Operand, OutputOpening, Protocol, RawOutputs, SharedInputs, Transport, VmError,
};
use crate::prg::Keystream;
use crate::runs::Run;

/// The number of parties rep3 runs with.
pub const PARTIES: u32 = 3;

/// The version of rep3's messages, which parties announce when they connect. Bump it
/// whenever a message's layout or meaning changes, so that parties of different builds
/// refuse each other at the handshake instead of misreading each other's shares.
/// Version 2: a batch one party alone learns is masked by the key it lacks, and inputs
/// read in both domains are shared in both.
pub const MESSAGES_VERSION: u32 = 2;

/// Party `i`'s two components `(x_i, x_{i+1})`.
pub type Share = [u64; 2];

/// One party's side of the protocol.
pub struct Rep3<'t, T: Transport> {
    party: u32,
    transport: &'t mut T,
    /// Stream of `k_i`, shared with the previous party.
    mine: Keystream,
    /// Stream of `k_{i+1}`, shared with the next party.
    next: Keystream,
    exchanges: u64,
    /// Bytes sent and received by rounds and output openings (not input sharing).
    online_bytes: (u64, u64),
    /// Bytes sent opening the outputs (part of `online_bytes.0`).
    output_bytes_sent: u64,
}

fn next_of(i: u32) -> usize {
    ((i + 1) % PARTIES) as usize
}

fn prev_of(i: u32) -> usize {
    ((i + 2) % PARTIES) as usize
}

/// Values of given bit widths packed back to back, least significant bit first: an
/// AND of a 1-bit word sends one bit, a product 64. [`BitWriter::finish`] gives the bytes.
#[derive(Default)]
struct BitWriter {
    /// Whole words written, little-endian.
    bytes: Vec<u8>,
    /// Bits not yet in `bytes`, from bit 0 up.
    pending: u64,
    /// How many: fewer than 64.
    pending_bits: u32,
}

impl BitWriter {
    /// A writer that writes in `bytes`, an empty buffer.
    fn into(bytes: Vec<u8>) -> Self {
        BitWriter {
            bytes,
            ..BitWriter::default()
        }
    }

    #[inline]
    fn put(&mut self, value: u64, bits: u8) {
        let value = value & mask(bits);
        self.pending |= value << self.pending_bits;
        let total = self.pending_bits + u32::from(bits);
        if total < 64 {
            self.pending_bits = total;
            return;
        }
        self.bytes.extend_from_slice(&self.pending.to_le_bytes());
        // The bits of `value` that did not fit.
        self.pending = value.checked_shr(64 - self.pending_bits).unwrap_or(0);
        self.pending_bits = total - 64;
    }

    /// The bytes written, the last one padded with zeros.
    fn finish(mut self) -> Vec<u8> {
        let tail = self.pending_bits.div_ceil(8) as usize;
        self.bytes
            .extend_from_slice(&self.pending.to_le_bytes()[..tail]);
        self.bytes
    }
}

/// Reads what a [`BitWriter`] wrote; the caller checked the length first.
struct BitReader<'a> {
    bytes: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    #[inline]
    fn get(&mut self, bits: u8) -> u64 {
        // Up to 64 bits span at most 9 bytes from any bit offset.
        let (start, shift) = (self.bit / 8, self.bit % 8);
        self.bit += usize::from(bits);
        let window = match self.bytes.get(start..start + 16) {
            Some(whole) => u128::from_le_bytes(whole.try_into().unwrap_or_default()),
            None => {
                let mut window = [0u8; 16];
                let available = self.bytes.len().saturating_sub(start).min(9);
                window[..available].copy_from_slice(&self.bytes[start..start + available]);
                u128::from_le_bytes(window)
            }
        };
        ((window >> shift) as u64) & mask(bits)
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
            mine: Keystream::new(&key),
            next: Keystream::new(&next_key),
            exchanges: 1,
            online_bytes: (0, 0),
            output_bytes_sent: 0,
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

    /// Bytes sent opening the outputs, the last exchange of the online phase.
    pub fn output_bytes_sent(&self) -> u64 {
        self.output_bytes_sent
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
        outgoing[prev] = to_prev.finish();
        outgoing[next] = to_next.finish();
        self.online_bytes.0 += outgoing.iter().map(|m| m.len() as u64).sum::<u64>();
        let mut incoming = self.transport.exchange(&outgoing)?;
        outgoing.into_iter().for_each(|m| self.transport.recycle(m));
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

    /// Computes a round's batch (see [`Protocol::interactive`]). With `opening`, each
    /// party also sends the next one the shares of the outputs that party learns (which
    /// [`Protocol::last_interactive`] checked are known before the exchange) and returns
    /// the outputs it learns.
    fn round(
        &mut self,
        gates: &[Gate],
        registers: &[Share],
        kinds: &[WireKind],
        out: &mut [Share],
        opening: Option<&EarlyOpening<'_, '_>>,
    ) -> Result<RawOutputs, VmError> {
        let (me, prev, next) = (self.party, prev_of(self.party), next_of(self.party));
        // With the outputs opened in this exchange, nothing else reads the batch, so a
        // product is opened as it is computed rather than reshared: its share `z` goes to
        // each peer that learns it (to the next one with the openings), and a party that
        // learns it gets the other two and keeps their sum as component 1.
        let (openings, learners) = opening.map_or((&[][..], &[][..]), |o| (o.openings, o.learners));
        let early = opening.is_some();
        // A round's products fill at most a word each.
        let mut to_prev = BitWriter::into(self.transport.buffer(gates.len() * 8));
        let to_next_bytes = if early { gates.len() * 8 } else { 0 };
        let mut to_next = BitWriter::into(self.transport.buffer(to_next_bytes));
        let learns_gate = |k: usize, p: usize| learners.get(k).is_some_and(|l| l & 1 << p != 0);
        let to_prev_of = |k: usize| !early || learns_gate(k, prev);
        let from_next_of = |k: usize| !early || learns_gate(k, me as usize);
        // Bits of products expected from the next party, and of openings (of `Open`
        // gates, then of products opened early) from the previous one.
        let (mut products_expected, mut open_bits) = (0usize, 0usize);
        // Bits of products opened to the next party.
        let mut early_output_bits = 0u64;
        let batch = registers.len();
        // The party in role 0 shares the sums of components 0 and 1 it alone knows
        // (`PairA2B`): the third Boolean component, which both peers need, after
        // everything else.
        let mut pair_shares: Vec<(u64, u8)> = Vec::new();
        let (mut pairs_from_next, mut pairs_from_prev) = (0usize, 0usize);
        let mut transfers = false;
        // A batch that one party alone learns needs a mask of the one key it does not hold
        // (see `Masks`).
        let masks = match opening.and_then(|o| o.uniform_learners) {
            Some(l) if l == 1 << me => Masks::Neither,
            Some(l) if l == 1 << prev => Masks::Next,
            Some(l) if l == 1 << next => Masks::Mine,
            _ => Masks::Both,
        };
        // At most one pair per gate: the blocks are drawn as products and ANDs need them,
        // so counting them first would only cost a pass over the gates.
        let mut streams = Keystreams::new(&mut self.mine, &mut self.next, gates.len(), masks);
        let lone_learner = masks == Masks::Neither;
        // The shape of every gate while they are all products or ANDs of one shape.
        let mut uniform = gates.first().map(product_shape);
        for (k, (gate, slot)) in gates.iter().zip(out.iter_mut()).enumerate() {
            let shape = product_shape(gate);
            if uniform != Some(shape) {
                uniform = None;
            }
            let product_width = shape & !ARITHMETIC;
            match *gate {
                // A lone learner's batch holds only products and ANDs, and its own shares,
                // unmasked, are all it keeps: they are worked out as the outputs are
                // opened, after the peers' messages, so that the peers computing theirs
                // have the processor meanwhile.
                _ if lone_learner => {}
                Gate::Mul(..) | Gate::Reshare(_) => {
                    slot[0] = cross_terms(gate, registers).wrapping_add(zero_arith(streams.pair()));
                }
                Gate::And(_, _, w) => {
                    let (r, t) = streams.bits(w);
                    slot[0] = cross_terms(gate, registers) ^ r ^ t;
                }
                Gate::Open(a) => {
                    to_next.put(registers[a.index()][0], 64);
                    open_bits += 64;
                }
                Gate::PairA2B(a, w) => {
                    let m = mask(w);
                    // Components 0 and 1 of the Boolean sharing come from the streams of
                    // k_0 (roles 0 and 2) and k_1 (roles 0 and 1).
                    let (mine, next) = streams.direct();
                    *slot = match roles(me, gate, kinds).1 {
                        0 => {
                            let x = registers[a.index()];
                            let (b0, b1) = (mine.next_u64() & m, next.next_u64() & m);
                            pair_shares.push(((x[0].wrapping_add(x[1]) & m) ^ b0 ^ b1, w));
                            [b0, b1]
                        }
                        1 => {
                            pairs_from_prev += usize::from(w);
                            [mine.next_u64() & m, 0]
                        }
                        _ => {
                            pairs_from_next += usize::from(w);
                            [0, next.next_u64() & m]
                        }
                    };
                }
                Gate::PairAnd(..) | Gate::PairEq(..) | Gate::MulBit(..) => transfers = true,
                _ => {
                    return Err(VmError::Protocol {
                        protocol: "rep3",
                        reason: format!("`{}` is not a rep3 operation", gate.mnemonic()),
                    })
                }
            }
            if product_width > 0 {
                if to_prev_of(k) {
                    to_prev.put(slot[0], product_width);
                }
                if learns_gate(k, next) {
                    to_next.put(slot[0], product_width);
                    early_output_bits += u64::from(product_width);
                }
                // Early, the other two shares come one from each peer.
                if from_next_of(k) {
                    products_expected += usize::from(product_width);
                    if early {
                        open_bits += usize::from(product_width);
                    }
                }
            }
        }
        for &(value, w) in &pair_shares {
            to_prev.put(value, w);
            to_next.put(value, w);
        }
        let (transfers_from_next, transfers_from_prev) = if transfers {
            self.send_transfers(gates, registers, kinds, out, &mut to_prev, &mut to_next)
        } else {
            (0, 0)
        };
        // The shares of the outputs from before the batch go last (those of its products
        // went in gate order).
        let round_bits = open_bits + pairs_from_prev + transfers_from_prev;
        // The shares of wires from before the batch, if the next party learns some.
        let bits = match opening {
            Some(o) if o.apart[next] > 0 => {
                let before = |w: WireId| registers[w.index()];
                send_output_shares(openings, next as u32, batch, before, &mut to_next)
            }
            _ => 0,
        };
        self.output_bytes_sent += (early_output_bits + bits).div_ceil(8);
        let expected_from_prev = round_bits + opening.map_or(0, |o| o.apart[me as usize]);
        let expected_from_next = products_expected + pairs_from_next + transfers_from_next;
        // Large outputs get their memory while this party waits for its peers' messages.
        let learned = openings.iter().filter(|o| learns(o, me));
        let (exchanged, buffers) = if learned.map(|o| o.secrets.len()).sum::<usize>()
            >= PREPARED_OUTPUTS
        {
            std::thread::scope(|scope| {
                let buffers = scope.spawn(|| output_buffers(openings, me, true));
                let exchanged =
                    self.exchange(to_prev, to_next, expected_from_next, expected_from_prev);
                (
                    exchanged,
                    buffers
                        .join()
                        .unwrap_or_else(|_| output_buffers(openings, me, false)),
                )
            })
        } else {
            let exchanged = self.exchange(to_prev, to_next, expected_from_next, expected_from_prev);
            (exchanged, output_buffers(openings, me, false))
        };
        let (from_next, from_prev) = exchanged?;
        let expected = products_expected + open_bits + pairs_from_prev + pairs_from_next;
        // Whether this party learns every gate of the batch, or none, when that is so.
        let learns_all = match opening {
            None => Some(true),
            Some(o) => o.uniform_learners.map(|l| l & 1 << me != 0),
        };
        // Nothing but products of one width, all read or none: each gate's bits are at the
        // same place in every message, and the gates need not be read.
        let uniform = uniform
            .filter(|&shape| shape > 0 && learns_all == Some(true))
            .map(|shape| (shape & !ARITHMETIC, shape & ARITHMETIC == 0));
        let read_at = |bytes: &[u8], k: usize, w: u8| {
            BitReader {
                bytes,
                bit: k * usize::from(w),
            }
            .get(w)
        };
        match uniform {
            // Opened early, the two shares received are read where they lie as the
            // outputs are opened.
            Some(_) if early => {}
            Some((w, _)) => {
                let mut products = BitReader {
                    bytes: &from_next,
                    bit: 0,
                };
                out.iter_mut().for_each(|slot| slot[1] = products.get(w));
            }
            _ if expected == 0 => {}
            _ => {
                let mut products = BitReader {
                    bytes: &from_next,
                    bit: 0,
                };
                let mut opened = BitReader {
                    bytes: &from_prev,
                    bit: 0,
                };
                // Role 0 is the previous party of role 1 and the next one of role 2.
                let mut pairs_prev = BitReader {
                    bytes: &from_prev,
                    bit: open_bits,
                };
                let mut pairs_next = BitReader {
                    bytes: &from_next,
                    bit: products_expected,
                };
                for (k, (gate, slot)) in gates.iter().zip(out.iter_mut()).enumerate() {
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
                        Gate::PairA2B(_, w) => match roles(me, gate, kinds).1 {
                            1 => slot[1] = pairs_prev.get(w),
                            2 => slot[0] = pairs_next.get(w),
                            _ => {}
                        },
                        Gate::And(_, _, w) if from_next_of(k) => {
                            slot[1] = products.get(w);
                            if early {
                                slot[1] ^= opened.get(w);
                            }
                            if lone_learner {
                                slot[0] = cross_terms(gate, registers);
                            }
                        }
                        Gate::Mul(..) | Gate::Reshare(_) if from_next_of(k) => {
                            slot[1] = products.get(64);
                            if early {
                                slot[1] = slot[1].wrapping_add(opened.get(64));
                            }
                            if lone_learner {
                                slot[0] = cross_terms(gate, registers);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        if transfers {
            let mut from_next = BitReader {
                bytes: &from_next,
                bit: products_expected + pairs_from_next,
            };
            let mut from_prev = BitReader {
                bytes: &from_prev,
                bit: open_bits + pairs_from_prev,
            };
            self.receive_transfers(gates, registers, kinds, out, &mut from_next, &mut from_prev);
        }
        let mut output_shares = BitReader {
            bytes: &from_prev,
            bit: round_bits,
        };
        let out = &*out;
        let shares = |wire: WireId| match (wire.index().checked_sub(batch), uniform) {
            (Some(k), Some((w, boolean))) if early => {
                let (z, other) = (read_at(&from_next, k, w), read_at(&from_prev, k, w));
                let sum = if boolean {
                    z ^ other
                } else {
                    z.wrapping_add(other)
                };
                let own = if lone_learner {
                    cross_terms(&gates[k], registers)
                } else {
                    out[k][0]
                };
                [own, sum]
            }
            _ => share_of(registers, out, wire),
        };
        let opened = open_with(openings, batch, shares, kinds, &mut output_shares, buffers);
        self.transport.recycle(from_next);
        self.transport.recycle(from_prev);
        Ok(opened)
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

    /// Component `k` of the value `a` shared as `s`, kept in place: zero in the
    /// positions of the other components. Component `k` of a secret wire is its
    /// component `k` rotated by [`rotation`], as the gates that pair components see it.
    fn component(&self, s: Share, a: WireId, k: u8, m: u64) -> Share {
        let k = (u32::from(k) + secret_rotation(a)) % PARTIES;
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

impl<T: Transport> Rep3<'_, T> {
    /// The stream of key `k_j`, which this party holds when `j` is its own index or the
    /// next one.
    fn key(&mut self, j: u32) -> &mut Keystream {
        debug_assert!(j == self.party || j == next_of(self.party) as u32);
        if j == self.party {
            &mut self.mine
        } else {
            &mut self.next
        }
    }

    /// The next word of the stream of key `k_j` as a gate rotated by `r` names it: the
    /// key `k_{j+r}`.
    fn draw(&mut self, r: u32, j: u32) -> u64 {
        self.key((j + r) % PARTIES).next_u64()
    }

    /// Computes the gates of `run` (of a section whose first gate computes wire `first`).
    fn local_part(
        &self,
        gates: &[Gate],
        run: &Run,
        kinds: &[WireKind],
        registers: &mut [Share],
        first: usize,
    ) {
        let part = &gates[run.start..run.start + run.len];
        let at = first + run.start;
        if let (true, Gate::MulLocal(a, b)) = (run.sum_of_products, part[0]) {
            registers[at + run.len - 1] = sum_of_products(a, b, run, registers);
        } else if !self.local_run(&part[0], run, kinds, registers, at) {
            for (wire, gate) in (at..).zip(part) {
                let value = crate::exec::local_value(self, gate, kinds, &registers[..wire]);
                if let Some(value) = value {
                    registers[wire] = value;
                }
            }
        }
    }

    /// A whole run (one gate or many) as one loop, its results from `registers[at]` on,
    /// for the common operations on secrets; `false` (nothing computed) for the others.
    fn local_run(
        &self,
        first: &Gate,
        run: &Run,
        kinds: &[WireKind],
        registers: &mut [Share],
        at: usize,
    ) -> bool {
        let secret = |w: WireId| !kinds[w.index()].is_public();
        let (n, [sa, sb]) = (run.len, run.strides);
        match *first {
            // In place already.
            Gate::Input { .. } => {}
            Gate::Add(a, b) if secret(a) && secret(b) => {
                map2((registers, at), (a, sa), (b, sb), n, |x, y| {
                    [x[0].wrapping_add(y[0]), x[1].wrapping_add(y[1])]
                })
            }
            Gate::Sub(a, b) if secret(a) && secret(b) => {
                map2((registers, at), (a, sa), (b, sb), n, |x, y| {
                    [x[0].wrapping_sub(y[0]), x[1].wrapping_sub(y[1])]
                })
            }
            Gate::MulLocal(a, b) => map2((registers, at), (a, sa), (b, sb), n, |x, y| {
                [
                    x[0].wrapping_mul(y[0])
                        .wrapping_add(x[0].wrapping_mul(y[1]))
                        .wrapping_add(x[1].wrapping_mul(y[0])),
                    0,
                ]
            }),
            Gate::Xor(a, b, w) if secret(a) && secret(b) => {
                let m = mask(w);
                map2((registers, at), (a, sa), (b, sb), n, |x, y| {
                    [(x[0] ^ y[0]) & m, (x[1] ^ y[1]) & m]
                })
            }
            Gate::And(a, b, w) if secret(a) != secret(b) => {
                let m = mask(w);
                let ((x, sx), (c, sc)) = if secret(a) {
                    ((a, sa), (b, sb))
                } else {
                    ((b, sb), (a, sa))
                };
                map2((registers, at), (x, sx), (c, sc), n, |x, c| {
                    let c = c[0] & m;
                    [x[0] & c, x[1] & c]
                })
            }
            Gate::Not(a, w) if secret(a) => {
                let m = mask(w);
                let flip = self.xor_public([0, 0], m);
                map1((registers, at), (a, sa), n, |x| {
                    [(x[0] & m) ^ flip[0], (x[1] & m) ^ flip[1]]
                })
            }
            Gate::Shr(a, k, w) if secret(a) => {
                let m = mask(w);
                map1((registers, at), (a, sa), n, |x| {
                    [(x[0] >> k) & m, (x[1] >> k) & m]
                })
            }
            Gate::Shl(a, k, w) if secret(a) => {
                let m = mask(w);
                map1((registers, at), (a, sa), n, |x| {
                    [(x[0] << k) & m, (x[1] << k) & m]
                })
            }
            Gate::Pext(a, m) if secret(a) => map1((registers, at), (a, sa), n, |x| {
                [pext(x[0], m), pext(x[1], m)]
            }),
            Gate::SplitA2B(a, k, w) | Gate::SplitB2A(a, k, w) if secret(a) => {
                let m = mask(w);
                let (registers, a) = (&mut registers[..at + n], a.index());
                for j in 0..n {
                    let operand = strided(a, sa, j);
                    let wire = WireId(operand as u32);
                    registers[at + j] = self.component(registers[operand], wire, k, m);
                }
            }
            _ => return false,
        }
        true
    }

    /// The first half of the gates in which a word one party knows meets a word two
    /// others know through oblivious transfers with the third party as helper
    /// (`PairAnd`, `PairEq`, `MulBit`): draws their randomness, keeps in `out` what this
    /// party needs later and writes what its peers need. Returns the bits to expect from
    /// the next and the previous party.
    ///
    /// In every transfer the sender masks each possible answer with its own key from a
    /// stream it shares with the helper; the helper, who knows the receiver's choice,
    /// sends the receiver that one key. Each answer is itself masked by a component the
    /// receiver does not hold, so the receiver learns a uniformly random share.
    fn send_transfers(
        &mut self,
        gates: &[Gate],
        registers: &[Share],
        kinds: &[WireKind],
        out: &mut [Share],
        to_prev: &mut BitWriter,
        to_next: &mut BitWriter,
    ) -> (usize, usize) {
        let party = self.party;
        let operand = |w: WireId| held(party, registers[w.index()], kinds[w.index()]);
        let (mut from_next, mut from_prev) = (0usize, 0usize);
        for (gate, slot) in gates.iter().zip(out.iter_mut()) {
            let (r, role) = roles(party, gate, kinds);
            match *gate {
                // The words are u = a0 + a1 (role 0) and v = a2 (roles 1 and 2); the
                // result's components 0 and 1 come from k_0 and k_1.
                Gate::PairAnd(a, w) => {
                    let (m, x) = (mask(w), operand(a));
                    match role {
                        0 => {
                            let u = x[0].wrapping_add(x[1]) & m;
                            let (z0, s0) = (self.draw(r, 0) & m, self.draw(r, 0) & m);
                            let (z1, s1) = (self.draw(r, 1) & m, self.draw(r, 1) & m);
                            to_next.put(u ^ s0, w);
                            to_prev.put(u ^ s1, w);
                            *slot = [z0, z1];
                        }
                        1 => {
                            let (z1, s1) = (self.draw(r, 1) & m, self.draw(r, 1) & m);
                            to_next.put((x[1] & s1) ^ z1, w);
                            *slot = [z1, 0];
                            (from_next, from_prev) =
                                (from_next + w as usize, from_prev + w as usize);
                        }
                        _ => {
                            let (z0, s0) = (self.draw(r, 0) & m, self.draw(r, 0) & m);
                            to_prev.put((x[0] & s0) ^ z0, w);
                            *slot = [0, z0];
                            (from_next, from_prev) =
                                (from_next + w as usize, from_prev + w as usize);
                        }
                    }
                }
                // Role 0 sends each peer the table of the four answers per pair of bits
                // of u = a0 + a1, and each peer sends the other the key of the entry its
                // pair of v = -a2 selects.
                Gate::PairEq(a, w) => {
                    let g = pairs(w);
                    let (gm, x) = (mask(g), operand(a));
                    match role {
                        0 => {
                            let (lo, hi) = unzip_pairs(x[0].wrapping_add(x[1]), w);
                            let r0 = self.draw(r, 0) & gm;
                            let keys_next: [u64; 4] = std::array::from_fn(|_| self.draw(r, 0) & gm);
                            let r1 = self.draw(r, 1) & gm;
                            let keys_prev: [u64; 4] = std::array::from_fn(|_| self.draw(r, 1) & gm);
                            for j in 0..4 {
                                let lo_matches = if j & 1 == 1 { lo } else { !lo };
                                let hi_matches = if j & 2 == 2 { hi } else { !hi };
                                let entry = (lo_matches & hi_matches & gm) ^ r0 ^ r1;
                                to_next.put(entry ^ keys_next[j], g);
                                to_prev.put(entry ^ keys_prev[j], g);
                            }
                            *slot = [r0, r1];
                        }
                        1 => {
                            let (lo, hi) = unzip_pairs(x[1].wrapping_neg(), w);
                            let r1 = self.draw(r, 1) & gm;
                            let keys: [u64; 4] = std::array::from_fn(|_| self.draw(r, 1) & gm);
                            to_next.put(select4(&keys, lo, hi), g);
                            *slot = [r1, 0];
                            (from_next, from_prev) =
                                (from_next + g as usize, from_prev + 4 * g as usize);
                        }
                        _ => {
                            let (lo, hi) = unzip_pairs(x[0].wrapping_neg(), w);
                            let r0 = self.draw(r, 0) & gm;
                            let keys: [u64; 4] = std::array::from_fn(|_| self.draw(r, 0) & gm);
                            to_prev.put(select4(&keys, lo, hi), g);
                            *slot = [0, r0];
                            (from_next, from_prev) =
                                (from_next + 4 * g as usize, from_prev + g as usize);
                        }
                    }
                }
                // c·a = (c0 ^ c1 ^ c2)·(a0 + a1) + (c0 ^ c1 ^ c2)·a2. Term A: role 0
                // knows a0 + a1 and c0 ^ c1, the choice c2 is known to roles 1 and 2,
                // who each receive component 2 (components 0 and 1 come from k_0, k_1).
                // Term B (a secret): role 1 knows a2 and c1 ^ c2, the choice c0 is known
                // to roles 0 and 2, who each receive component 0 (components 1 and 2
                // come from k_1, k_2).
                Gate::MulBit(c, a) => {
                    let (bits, x) = (operand(c), operand(a));
                    let (b_first, b_second) = (bits[0] & 1, bits[1] & 1);
                    let term_b = !kinds[a.index()].is_public();
                    let answers = |choice_free: u64, value: u64, masks: [u64; 2]| {
                        [0, 1].map(|e| {
                            ((choice_free ^ e).wrapping_mul(value))
                                .wrapping_sub(masks[0])
                                .wrapping_sub(masks[1])
                        })
                    };
                    match role {
                        0 => {
                            let y0 = self.draw(r, 0);
                            let keys_next = [self.draw(r, 0), self.draw(r, 0)];
                            let y1 = self.draw(r, 1);
                            let keys_prev = [self.draw(r, 1), self.draw(r, 1)];
                            let m = answers(b_first ^ b_second, x[0].wrapping_add(x[1]), [y0, y1]);
                            for e in 0..2 {
                                to_next.put(m[e].wrapping_add(keys_next[e]), 64);
                            }
                            for e in 0..2 {
                                to_prev.put(m[e].wrapping_add(keys_prev[e]), 64);
                            }
                            *slot = [y0, y1];
                            if term_b {
                                let t1 = self.draw(r, 1);
                                let keys_b = [self.draw(r, 1), self.draw(r, 1)];
                                to_prev.put(keys_b[b_first as usize], 64);
                                slot[1] = y1.wrapping_add(t1);
                                (from_next, from_prev) = (from_next + 128, from_prev + 64);
                            }
                        }
                        1 => {
                            let y1 = self.draw(r, 1);
                            let keys_a = [self.draw(r, 1), self.draw(r, 1)];
                            to_next.put(keys_a[b_second as usize], 64);
                            *slot = [y1, 0];
                            (from_next, from_prev) = (from_next + 64, from_prev + 128);
                            if term_b {
                                let t1 = self.draw(r, 1);
                                let keys_for_next = [self.draw(r, 1), self.draw(r, 1)];
                                let t2 = self.draw(r, 2);
                                let keys_for_prev = [self.draw(r, 2), self.draw(r, 2)];
                                let n = answers(b_first ^ b_second, x[1], [t1, t2]);
                                for e in 0..2 {
                                    to_prev.put(n[e].wrapping_add(keys_for_prev[e]), 64);
                                }
                                for e in 0..2 {
                                    to_next.put(n[e].wrapping_add(keys_for_next[e]), 64);
                                }
                                *slot = [y1.wrapping_add(t1), t2];
                            }
                        }
                        _ => {
                            let y0 = self.draw(r, 0);
                            let keys_a = [self.draw(r, 0), self.draw(r, 0)];
                            to_prev.put(keys_a[b_first as usize], 64);
                            *slot = [0, y0];
                            (from_next, from_prev) = (from_next + 128, from_prev + 64);
                            if term_b {
                                let t2 = self.draw(r, 2);
                                let keys_b = [self.draw(r, 2), self.draw(r, 2)];
                                to_next.put(keys_b[b_second as usize], 64);
                                slot[0] = t2;
                                (from_next, from_prev) = (from_next + 64, from_prev + 128);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        (from_next, from_prev)
    }

    /// The second half of [`Self::send_transfers`]: completes each result from what the
    /// sender and the helper sent.
    fn receive_transfers(
        &self,
        gates: &[Gate],
        registers: &[Share],
        kinds: &[WireKind],
        out: &mut [Share],
        from_next: &mut BitReader<'_>,
        from_prev: &mut BitReader<'_>,
    ) {
        let party = self.party;
        let operand = |w: WireId| held(party, registers[w.index()], kinds[w.index()]);
        for (gate, slot) in gates.iter().zip(out.iter_mut()) {
            let (_, role) = roles(party, gate, kinds);
            match (*gate, role) {
                (Gate::PairAnd(a, w), 1) => {
                    let (masked_u, correction) = (from_prev.get(w), from_next.get(w));
                    slot[1] = ((operand(a)[1] & masked_u) ^ correction ^ slot[0]) & mask(w);
                }
                (Gate::PairAnd(a, w), 2) => {
                    let (masked_u, correction) = (from_next.get(w), from_prev.get(w));
                    slot[0] = ((operand(a)[0] & masked_u) ^ correction ^ slot[1]) & mask(w);
                }
                (Gate::PairEq(a, w), 1) => {
                    let g = pairs(w);
                    let table: [u64; 4] = std::array::from_fn(|_| from_prev.get(g));
                    let key = from_next.get(g);
                    let (lo, hi) = unzip_pairs(operand(a)[1].wrapping_neg(), w);
                    slot[1] = (select4(&table, lo, hi) ^ key) & mask(g);
                }
                (Gate::PairEq(a, w), 2) => {
                    let g = pairs(w);
                    let table: [u64; 4] = std::array::from_fn(|_| from_next.get(g));
                    let key = from_prev.get(g);
                    let (lo, hi) = unzip_pairs(operand(a)[0].wrapping_neg(), w);
                    slot[0] = (select4(&table, lo, hi) ^ key) & mask(g);
                }
                (Gate::MulBit(c, a), _) => {
                    let bits = operand(c);
                    let (b_first, b_second) = ((bits[0] & 1) as usize, (bits[1] & 1) as usize);
                    let term_b = !kinds[a.index()].is_public();
                    let take = |reader: &mut BitReader<'_>, choice: usize, key: u64| {
                        let answers = [reader.get(64), reader.get(64)];
                        answers[choice].wrapping_sub(key)
                    };
                    match role {
                        0 if term_b => {
                            let key = from_prev.get(64);
                            let t0 = take(from_next, b_first, key);
                            slot[0] = slot[0].wrapping_add(t0);
                        }
                        0 => {}
                        1 => {
                            let key = from_next.get(64);
                            let y2 = take(from_prev, b_second, key);
                            slot[1] = slot[1].wrapping_add(y2);
                        }
                        _ => {
                            let answers_a = [from_next.get(64), from_next.get(64)];
                            let key_a = from_prev.get(64);
                            let y2 = answers_a[b_first].wrapping_sub(key_a);
                            slot[0] = slot[0].wrapping_add(y2);
                            if term_b {
                                let key_b = from_next.get(64);
                                let t0 = take(from_prev, b_second, key_b);
                                slot[1] = slot[1].wrapping_add(t0);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Appends `f` of the registers at `a` and `b` (each a start and a stride) for `n`
/// positions. A run reads only wires before it (and a single gate, only earlier
/// wires), so every index is in range.
fn map2(
    (registers, first): (&mut [Share], usize),
    (a, sa): (WireId, i64),
    (b, sb): (WireId, i64),
    n: usize,
    f: impl Fn(Share, Share) -> Share,
) {
    let (before, rest) = registers.split_at_mut(first);
    let out = &mut rest[..n];
    let (a, b) = (a.index(), b.index());
    if (sa, sb) == (1, 1) {
        for ((o, x), y) in out.iter_mut().zip(&before[a..a + n]).zip(&before[b..b + n]) {
            *o = f(*x, *y);
        }
    } else {
        for (j, o) in out.iter_mut().enumerate() {
            *o = f(before[strided(a, sa, j)], before[strided(b, sb, j)]);
        }
    }
}

/// [`map2`] for one operand.
fn map1(
    (registers, first): (&mut [Share], usize),
    (a, sa): (WireId, i64),
    n: usize,
    f: impl Fn(Share) -> Share,
) {
    let (before, rest) = registers.split_at_mut(first);
    let out = &mut rest[..n];
    let a = a.index();
    if sa == 1 {
        for (o, x) in out.iter_mut().zip(&before[a..a + n]) {
            *o = f(*x);
        }
    } else {
        for (j, o) in out.iter_mut().enumerate() {
            *o = f(before[strided(a, sa, j)]);
        }
    }
}

/// Position `j` of a run's operand that starts at `base` and moves by `stride`.
/// This party's additive term of the sum of a [`Run::sum_of_products`] whose first
/// product is `MulLocal(a, b)`: what the run's last `Add` would hold.
fn sum_of_products(a: WireId, b: WireId, run: &Run, registers: &[Share]) -> Share {
    let ((a, b), [sa, sb]) = ((a.index(), b.index()), run.strides);
    let n = run.len.div_ceil(2);
    // x0*y0 + x0*y1 + x1*y0, as `MulLocal` computes it.
    let term = |x: Share, y: Share| {
        x[0].wrapping_mul(y[0].wrapping_add(y[1]))
            .wrapping_add(x[1].wrapping_mul(y[0]))
    };
    let sum = if (sa, sb) == (1, 1) {
        registers[a..a + n]
            .iter()
            .zip(&registers[b..b + n])
            .fold(0u64, |sum, (x, y)| sum.wrapping_add(term(*x, *y)))
    } else {
        (0..n).fold(0u64, |sum, j| {
            sum.wrapping_add(term(
                registers[strided(a, sa, j)],
                registers[strided(b, sb, j)],
            ))
        })
    };
    [sum, 0]
}

fn strided(base: usize, stride: i64, j: usize) -> usize {
    (base as i64 + stride * j as i64) as usize
}

/// The components `party` holds of the operand in `register`: a public value `c`
/// stands for `(c, 0, 0)`.
fn held(party: u32, register: Share, kind: WireKind) -> Share {
    if !kind.is_public() {
        return register;
    }
    match party {
        0 => [register[0], 0],
        1 => [0, 0],
        _ => [0, register[0]],
    }
}

/// How far the roles of a gate that pairs components (`PairA2B`, `PairAnd`, `PairEq`,
/// `MulBit`, and the `SplitA2B`/`SplitB2A` of the same operand) are rotated: by its
/// secret operand's wire index, so that each party plays "party 0", which sends twice
/// as much as the others, for a third of them and the traffic is balanced. Component
/// `k` of the operand, as the gate names it, is then its component `k + r`, and the
/// party that plays role `ρ` is party `ρ + r` (mod 3): the same pair of components and
/// keys, named from another start. A public operand is not rotated, since it stands
/// for `(c, 0, 0)`, which only role 0 may see as its own.
fn rotation(a: WireId, kinds: &[WireKind]) -> u32 {
    if kinds[a.index()].is_public() {
        0
    } else {
        secret_rotation(a)
    }
}

/// [`rotation`] of a secret operand.
fn secret_rotation(a: WireId) -> u32 {
    a.0 % PARTIES
}

/// The rotation of an interactive gate (0 for the gates that do not pair components)
/// and the role `party` plays in it.
fn roles(party: u32, gate: &Gate, kinds: &[WireKind]) -> (u32, u32) {
    let r = match *gate {
        Gate::PairA2B(a, _) | Gate::PairAnd(a, _) | Gate::PairEq(a, _) | Gate::MulBit(_, a) => {
            rotation(a, kinds)
        }
        _ => 0,
    };
    (r, (party + PARTIES - r) % PARTIES)
}

/// Bit `i` of `words[2·hi_i + lo_i]` for every bit position `i`.
fn select4(words: &[u64; 4], lo: u64, hi: u64) -> u64 {
    (words[0] & !lo & !hi) | (words[1] & lo & !hi) | (words[2] & !lo & hi) | (words[3] & lo & hi)
}

/// The low and the high bits of the pairs of bits of the low `w` bits of `x`, each
/// packed toward bit 0.
fn unzip_pairs(x: u64, w: u8) -> (u64, u64) {
    let x = x & mask(w);
    (pext(x, EVEN_BITS), pext(x, EVEN_BITS << 1))
}

/// Lanes of runs in step computed at a time: a block of a few runs' registers (128 KiB
/// each) fits in the core's cache. Measured on 10^5 comparisons: 2048 to 32768 lanes all
/// help, 8192 a little more than the others.
const LANE_BLOCK: usize = 8192;

/// Words drawn from each keystream at a time for zero sharings: 16 KiB, which stays in
/// the cache, where drawing a large round's whole keystream at once would not.
const KEYSTREAM_BLOCK: usize = 1024;

/// A round's view of the two keystreams, `F(k_i)` and `F(k_{i+1})`: pairs of words for
/// zero sharings (their difference or XOR is a share of zero), drawn a block at a time
/// when one is needed, and never more than the `most` pairs the round may use (a round
/// of one product draws one). The two holders of each key draw the same counts from it
/// in the same order, so they stay in step: every party draws both streams alike, or
/// (with [`Masks`]) a key's two holders both draw it or both leave it.
struct Keystreams<'r> {
    mine: &'r mut Keystream,
    next: &'r mut Keystream,
    /// Which of the two streams are read; the words of the other are 0.
    masks: Masks,
    /// The current block of each stream: little-endian words, read in place.
    blocks: [Vec<u8>; 2],
    /// Pairs in the blocks, and pairs of them drawn.
    filled: usize,
    used: usize,
    /// Pairs still to draw from the streams.
    left: usize,
    /// The bits of a pair not yet drawn by [`Keystreams::bits`], from bit 0 up, and how
    /// many: an AND of a few bits needs no more, and AES is a fair part of a round of
    /// narrow ANDs.
    spare: (u64, u64),
    spare_bits: u32,
}

impl<'r> Keystreams<'r> {
    fn new(mine: &'r mut Keystream, next: &'r mut Keystream, most: usize, masks: Masks) -> Self {
        let block = || vec![0; 8 * most.min(KEYSTREAM_BLOCK)];
        Keystreams {
            mine,
            next,
            masks,
            blocks: [block(), block()],
            filled: 0,
            used: 0,
            left: most,
            spare: (0, 0),
            spare_bits: 0,
        }
    }

    /// The next `w` bits of each stream (for a `w`-bit AND), taken from the spare bits
    /// of a pair; a new pair when fewer than `w` are left.
    #[inline]
    fn bits(&mut self, w: u8) -> (u64, u64) {
        let w = u32::from(w);
        if w > self.spare_bits {
            (self.spare, self.spare_bits) = (self.pair(), 64);
        }
        let m = mask(w as u8);
        let drawn = (self.spare.0 & m, self.spare.1 & m);
        let rest = |x: u64| x.checked_shr(w).unwrap_or(0);
        self.spare = (rest(self.spare.0), rest(self.spare.1));
        self.spare_bits -= w;
        drawn
    }

    /// The next pair of words, one from each stream.
    #[inline]
    fn pair(&mut self) -> (u64, u64) {
        if self.used == self.filled {
            self.refill();
        }
        let at = 8 * self.used..8 * self.used + 8;
        self.used += 1;
        let word = |block: &[u8]| {
            block
                .get(at.clone())
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        };
        (word(&self.blocks[0]), word(&self.blocks[1]))
    }

    fn refill(&mut self) {
        let n = self.left.min(KEYSTREAM_BLOCK);
        self.left -= n;
        let (mine, next) = match self.masks {
            Masks::Both => (true, true),
            Masks::Mine => (true, false),
            Masks::Next => (false, true),
            Masks::Neither => (false, false),
        };
        if mine {
            self.mine.fill_bytes(&mut self.blocks[0][..8 * n]);
        }
        if next {
            self.next.fill_bytes(&mut self.blocks[1][..8 * n]);
        }
        (self.filled, self.used) = (n, 0);
    }

    /// The streams themselves, for draws other than zero sharings.
    fn direct(&mut self) -> (&mut Keystream, &mut Keystream) {
        (self.mine, self.next)
    }
}

/// Which keystreams mask the shares `z` of a round's products and ANDs.
///
/// Usually both: the sum of `F(k_i) - F(k_{i+1})` over the parties is zero, and each
/// share is masked by a key its receiver does not hold. When one party, `l`, alone
/// learns every result of the batch (the last, opened with it), the other two send it
/// their shares and no one else sees any: `l` holds `k_l` and `k_{l+1}`, so their terms
/// hide nothing from it, and the masks are `-F(k_{l+2})` on party `l+1` and
/// `+F(k_{l+2})` on party `l+2`, which still sum to zero. Given the result, the two
/// shares `l` receives are then one random word (the key it does not hold) and the
/// difference, as with the full masks; a third of the keystream is drawn.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Masks {
    Both,
    /// `F(k_i)` alone: this party is `l+2`.
    Mine,
    /// `F(k_{i+1})` alone: this party is `l+1`.
    Next,
    /// None: this party is `l`.
    Neither,
}

/// The arithmetic share of zero from the two keystreams' words.
fn zero_arith((mine, next): (u64, u64)) -> u64 {
    mine.wrapping_sub(next)
}

/// Gates rep3 computes in a round; everything else must have been compiled away.
fn supported_interactive(gate: &Gate) -> bool {
    matches!(
        gate,
        Gate::Mul(..)
            | Gate::And(..)
            | Gate::Open(_)
            | Gate::PairA2B(..)
            | Gate::Reshare(_)
            | Gate::PairAnd(..)
            | Gate::PairEq(..)
            | Gate::MulBit(..)
    )
}

/// Checks that round `r` (counted from 0) only asks rep3 for what it computes (`mpcc`
/// expands conversions and truncations for rep3; an older or hand-made program may not).
pub fn check_round(r: usize, round: &mpc_bytecode::Round) -> Result<(), VmError> {
    match round.interactive.iter().find(|g| !supported_interactive(g)) {
        Some(gate) => Err(VmError::Unsupported {
            protocol: "rep3",
            reason: format!(
                "round {}: `{}` is not a rep3 operation; recompile the program with this version of mpcc",
                r + 1,
                gate.mnemonic()
            ),
        }),
        None => Ok(()),
    }
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
    ) -> Result<SharedInputs<Share>, VmError> {
        let me = self.party as usize;
        let expected_mine = layout.get(me).map_or(0, Vec::len);
        if mine.len() != expected_mine {
            return Err(VmError::InputCount {
                party: self.party,
                supplied: mine.len(),
                expected: expected_mine,
            });
        }
        // What this party sends for its own inputs: the third components of its secret
        // inputs, one per domain, and the values of its public ones, each in its type's
        // bits.
        let mut packed = BitWriter::default();
        // One pass in a fixed order (owners, elements, domains) for every party, so that
        // the two holders of each key draw from it in the same order.
        let mut shares = SharedInputs::build(layout, [0, 0], |owner, e, slot, domain| {
            let bits = slot.scalar.bits();
            let m = mask(bits);
            Ok::<_, VmError>(if slot.public {
                if owner == me {
                    packed.put(mine[e] & m, bits);
                    Self::hold_public(mine[e] & m)
                } else {
                    [0, 0] // filled after the exchange
                }
            } else if owner == me {
                let (a, b) = (self.mine.next_u64() & m, self.next.next_u64() & m);
                let v = mine[e] & m;
                // The third component, which the two others need.
                let rest = match domain {
                    Domain::Bool => v ^ a ^ b,
                    Domain::Arith => v.wrapping_sub(a).wrapping_sub(b) & m,
                };
                packed.put(rest, bits);
                [a, b]
            } else if owner == prev_of(self.party) {
                // This party is the owner's next: it holds (x_{p+1}, x_{p-1}).
                [self.mine.next_u64() & m, 0]
            } else {
                // This party is the owner's previous: it holds (x_{p-1}, x_p).
                [0, self.next.next_u64() & m]
            })
        })?;
        // Integers live in the whole ring: the masks above keep the low bits random and
        // the component sum right modulo 2^w, which is all an n-bit value needs.
        let mut outgoing = vec![Vec::new(); PARTIES as usize];
        let packed = packed.finish();
        outgoing[prev_of(self.party)] = packed.clone();
        outgoing[next_of(self.party)] = packed;
        let incoming = self.transport.exchange(&outgoing)?;
        self.exchanges += 1;
        // Input sharing's messages are as large as a large round's: their buffers serve
        // the rounds.
        outgoing.into_iter().for_each(|m| self.transport.recycle(m));
        for (owner, slots) in layout.iter().enumerate() {
            if owner == me {
                continue;
            }
            let bytes = incoming.get(owner).map_or(&[][..], Vec::as_slice);
            let sent = |slot: &InputSlot| slot.held().count() * usize::from(slot.scalar.bits());
            let expected: usize = slots.iter().map(sent).sum();
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
            for (e, slot) in slots.iter().enumerate() {
                for domain in slot.held() {
                    let value = reader.get(slot.scalar.bits());
                    let share = &mut shares.of_mut(owner, domain)[e];
                    if slot.public {
                        *share = Self::hold_public(value);
                    } else if owner == prev_of(self.party) {
                        share[1] = value;
                    } else {
                        share[0] = value;
                    }
                }
            }
        }
        incoming.into_iter().for_each(|m| self.transport.recycle(m));
        Ok(shares)
    }

    fn synchronize(&mut self) -> Result<(), VmError> {
        let incoming = self
            .transport
            .exchange(&vec![Vec::new(); PARTIES as usize])?;
        self.exchanges += 1;
        match incoming.iter().position(|m| !m.is_empty()) {
            Some(peer) => Err(VmError::Peer {
                party: peer as u32,
                reason: format!("sent {} bytes, expected none", incoming[peer].len()),
            }),
            None => Ok(()),
        }
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
            (Gate::MulBit(..), P(c), S(x)) if c & 1 == 1 => x,
            (Gate::MulBit(..), P(_), S(_)) => [0, 0],
            (Gate::SplitA2B(a, k, w) | Gate::SplitB2A(a, k, w), S(x), _) => {
                self.component(x, a, k, mask(w))
            }
            // The executor computes all-public gates itself, and `check_round` keeps
            // every other gate out of the local sections.
            _ => [0, 0],
        }
    }

    /// Runs of the common gates on secrets are computed a loop at a time, the rest gate
    /// by gate through [`Protocol::local`]. Large sums, dot products and the Boolean work around comparisons are all
    /// local gates, so this is the hot path.
    fn local_section(
        &self,
        gates: &[Gate],
        runs: &[Run],
        kinds: &[WireKind],
        registers: &mut [Share],
        first: usize,
    ) {
        let mut i = 0;
        while i < runs.len() {
            let in_step = runs[i..].iter().take_while(|r| r.in_step_with_next).count();
            let stretch = &runs[i..=i + in_step];
            i += stretch.len();
            let lanes = stretch[0].len;
            let block = if stretch.len() > 1 { LANE_BLOCK } else { lanes };
            for from in (0..lanes).step_by(block) {
                for run in stretch {
                    let part = Run {
                        start: run.start + from,
                        len: block.min(lanes - from),
                        ..*run
                    };
                    self.local_part(gates, &part, kinds, registers, first);
                }
            }
        }
    }

    fn interactive(
        &mut self,
        gates: &[Gate],
        registers: &[Share],
        kinds: &[WireKind],
        out: &mut [Share],
    ) -> Result<(), VmError> {
        self.round(gates, registers, kinds, out, None).map(drop)
    }

    /// Opens the outputs with the last round's messages when `EarlyOpening::of` says
    /// they can go with them.
    fn last_interactive(
        &mut self,
        gates: &[Gate],
        registers: &[Share],
        kinds: &[WireKind],
        out: &mut [Share],
        openings: &[OutputOpening<'_>],
        in_batch: Option<&BatchOutputs>,
    ) -> Result<Option<RawOutputs>, VmError> {
        match in_batch.and_then(|b| EarlyOpening::of(openings, b)) {
            Some(opening) => self
                .round(gates, registers, kinds, out, Some(&opening))
                .map(Some),
            None => self
                .interactive(gates, registers, kinds, out)
                .map(|()| None),
        }
    }

    fn open_outputs(
        &mut self,
        openings: &[OutputOpening<'_>],
        registers: &[Share],
        kinds: &[WireKind],
    ) -> Result<RawOutputs, VmError> {
        let (me, next) = (self.party, next_of(self.party) as u32);
        let share = |w: WireId| registers[w.index()];
        let all = registers.len();
        let bytes = output_bits(openings, next).div_ceil(8);
        let mut to_next = BitWriter::into(self.transport.buffer(bytes));
        let bits = send_output_shares(openings, next, all, share, &mut to_next);
        self.output_bytes_sent = bits.div_ceil(8);
        let expected = output_bits(openings, me);
        let (_, from_prev) = self.exchange(BitWriter::default(), to_next, 0, expected)?;
        let mut reader = BitReader {
            bytes: &from_prev,
            bit: 0,
        };
        let buffers = output_buffers(openings, me, false);
        let opened = open_with(openings, all, share, kinds, &mut reader, buffers);
        self.transport.recycle(from_prev);
        Ok(opened)
    }
}

/// The most bits of output shares (over all parties) that may make the last round's
/// messages longer than resharing would. Beyond a few kilobytes, the time the round
/// trip saves is less than what the longer messages cost: a party reads its peers'
/// messages one after the other, so the one it reads second waits for the first (10^6
/// products opened to every party took 0.085 s on loopback with their round, 0.070 s
/// apart; opened to one party, which saves bytes, 0.053 s with it, 0.062 s apart).
const MAX_EARLY_OUTPUT_BITS: usize = 8 * 64 * 1024;

/// The outputs to open with the last round.
struct EarlyOpening<'a, 'o> {
    openings: &'a [OutputOpening<'o>],
    /// For each gate of the batch, the parties (one bit each) that learn it.
    learners: &'a [u8],
    /// For each party, the bits it receives of the shares of wires from before the batch.
    apart: [usize; PARTIES as usize],
    /// The parties that learn every gate of the batch, if each gate has the same.
    uniform_learners: Option<u8>,
}

impl<'a, 'o> EarlyOpening<'a, 'o> {
    /// `openings` to open with the batch that `in_batch` describes, if every share a
    /// party sends is known before the round's messages arrive (component 0 of a wire
    /// from before the batch, or the share `z` of a product or AND in it) and the shares
    /// that make the messages longer than resharing would are few: every share of a wire
    /// from before the batch, and those of products that every party learns (a product a
    /// party does not learn saves the share that resharing would send it).
    fn of(openings: &'a [OutputOpening<'o>], in_batch: &'a BatchOutputs) -> Option<Self> {
        let everyone = (1 << PARTIES) - 1;
        let mut apart = [0; PARTIES as usize];
        apart.copy_from_slice(&in_batch.before[..PARTIES as usize]);
        let to_all: usize = (in_batch.in_batch.iter())
            .filter(|&&(set, _)| set & everyone == everyone)
            .map(|&(_, bits)| bits)
            .sum();
        let any = openings.iter().any(|o| !o.secrets.is_empty());
        let longer = apart.iter().sum::<usize>() + to_all * PARTIES as usize;
        (any && longer <= MAX_EARLY_OUTPUT_BITS && in_batch.products_only).then(|| EarlyOpening {
            openings,
            learners: &in_batch.learners,
            apart,
            uniform_learners: in_batch.uniform_learners.map(|l| l & everyone),
        })
    }
}

/// The share `z` of a product (`Mul`, `Reshare`) or an AND before its mask: the terms of
/// the components this party holds (an AND's masked to its width); 0 for other gates.
/// Always inlined: it is the heart of a round's loop, and 10^5 comparisons ran 10% slower
/// when the compiler made it a call.
#[inline(always)]
fn cross_terms(gate: &Gate, registers: &[Share]) -> u64 {
    match *gate {
        Gate::Mul(a, b) => {
            let (x, y) = (registers[a.index()], registers[b.index()]);
            x[0].wrapping_mul(y[0])
                .wrapping_add(x[0].wrapping_mul(y[1]))
                .wrapping_add(x[1].wrapping_mul(y[0]))
        }
        Gate::Reshare(a) => registers[a.index()][0],
        Gate::And(a, b, w) => {
            let (x, y) = (registers[a.index()], registers[b.index()]);
            ((x[0] & y[0]) ^ (x[0] & y[1]) ^ (x[1] & y[0])) & mask(w)
        }
        _ => 0,
    }
}

/// Added to a product's width in [`product_shape`].
const ARITHMETIC: u8 = 0x80;

/// The width of a product's or AND's share `z`, plus [`ARITHMETIC`] for a product; 0
/// for other gates. Gates of one shape are unpacked and opened alike.
fn product_shape(gate: &Gate) -> u8 {
    match *gate {
        Gate::Mul(..) | Gate::Reshare(_) => 64 | ARITHMETIC,
        Gate::And(_, _, w) => w,
        _ => 0,
    }
}

/// Whether party `p` learns the output of `opening`.
fn learns(opening: &OutputOpening<'_>, p: u32) -> bool {
    opening.to.is_empty() || opening.to.contains(&p)
}

/// The bits of the shares that party `p` receives to open `openings`.
fn output_bits(openings: &[OutputOpening<'_>], p: u32) -> usize {
    openings
        .iter()
        .filter(|o| learns(o, p))
        .flat_map(|o| &o.secrets)
        .map(|&(_, bits)| usize::from(bits))
        .sum()
}

/// Writes, for the outputs the next party learns, component 0 of each secret (as
/// `share` gives this party's shares): party `p` misses component `p - 1`, which party
/// `p - 1` holds first. Wires from `batch` on were sent with their batch. Returns the
/// bits written.
fn send_output_shares(
    openings: &[OutputOpening<'_>],
    next: u32,
    batch: usize,
    share: impl Fn(WireId) -> Share,
    to_next: &mut BitWriter,
) -> u64 {
    let secrets = openings
        .iter()
        .filter(|o| learns(o, next))
        .flat_map(|o| &o.secrets)
        .filter(|(w, _)| w.index() < batch);
    let mut written = 0;
    for &(w, bits) in secrets {
        to_next.put(share(w)[0], bits);
        written += u64::from(bits);
    }
    written
}

/// The fewest output values a party learns whose memory is worth preparing while it
/// waits for the last round's messages: about 2 ms for 10^6, mostly page faults.
const PREPARED_OUTPUTS: usize = 1 << 16;

/// The fewest values of an output worth opening on several threads.
const PARALLEL_OPEN: usize = 1 << 16;

/// An empty vector for each output party `me` learns, with room for its values; with
/// `touched`, the memory is written once, so that filling it will not fault pages in.
fn output_buffers(openings: &[OutputOpening<'_>], me: u32, touched: bool) -> RawOutputs {
    let buffer = |o: &OutputOpening<'_>| {
        let mut values = Vec::with_capacity(o.secrets.len());
        if touched {
            values.resize(o.secrets.len(), 0);
            values.clear();
        }
        values
    };
    (openings.iter())
        .map(|o| learns(o, me).then(|| buffer(o)))
        .collect()
}

/// The outputs this party learns, in the `buffers` [`output_buffers`] made for it, from
/// its shares and the missing components `reader` reads; the shares of wires from
/// `batch` on (products opened as they were computed) already sum to the value.
fn open_with(
    openings: &[OutputOpening<'_>],
    batch: usize,
    share: impl Fn(WireId) -> Share + Sync,
    kinds: &[WireKind],
    reader: &mut BitReader,
    mut buffers: RawOutputs,
) -> RawOutputs {
    let value = |w: WireId, bits: u8, missing: u64| {
        let s = share(w);
        let value = if kinds[w.index()] == WireKind::Bool {
            s[0] ^ s[1] ^ missing
        } else {
            s[0].wrapping_add(s[1]).wrapping_add(missing)
        };
        value & mask(bits)
    };
    // No bits left to read means every secret is from the batch: a large output is then
    // opened on several threads (this party's peers that learn nothing are idle by then).
    let nothing_to_read = reader.bit == 8 * reader.bytes.len();
    for (o, values) in openings.iter().zip(&mut buffers) {
        let Some(values) = values else {
            continue;
        };
        let secrets = &o.secrets;
        if nothing_to_read && secrets.len() >= PARALLEL_OPEN {
            values.par_extend(secrets.par_iter().map(|&(w, bits)| value(w, bits, 0)));
            continue;
        }
        values.extend(secrets.iter().map(|&(w, bits)| {
            let missing = if w.index() < batch {
                reader.get(bits)
            } else {
                0
            };
            value(w, bits, missing)
        }));
    }
    buffers
}

/// This party's shares of wire `w`, from `registers` (every wire before a batch) or the
/// batch's results `out`.
fn share_of(registers: &[Share], out: &[Share], w: WireId) -> Share {
    match w.index().checked_sub(registers.len()) {
        Some(k) => out[k],
        None => registers[w.index()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{simulate, ProtocolKind, RunStats};
    use proptest::prelude::*;

    /// What each of three rep3 parties learns running `text` on `inputs`, the figures of
    /// each party's run, and the exchanges a separate opening would take.
    fn runs_of(text: &str, inputs: &[Vec<u64>; 3]) -> (Vec<RawOutputs>, Vec<RunStats>, u64) {
        let program = mpc_compiler::compile_str("t.mpc", text, &Default::default())
            .unwrap_or_else(|e| panic!("{}", e.render()))
            .program;
        let mesh = crate::net::local::local_mesh(3);
        let runs: Vec<(RawOutputs, RunStats)> = std::thread::scope(|scope| {
            let parties: Vec<_> = mesh
                .into_iter()
                .zip(inputs)
                .map(|(mut transport, mine)| {
                    let program = &program;
                    scope.spawn(move || {
                        let run = crate::exec::run_party(
                            program,
                            ProtocolKind::Rep3,
                            &mut transport,
                            mine,
                        );
                        run.expect("runs")
                    })
                })
                .collect();
            parties
                .into_iter()
                .map(|p| p.join().expect("no panic"))
                .collect()
        });
        let batches = program
            .rounds
            .iter()
            .filter(|r| !r.interactive.is_empty())
            .count();
        // Keys, inputs, the synchronizing exchange, the batches, the opening and the
        // closing exchange.
        let separate = 3 + batches as u64 + 2;
        let (outputs, stats) = runs.into_iter().unzip();
        (outputs, stats, separate)
    }

    fn exchanges(stats: &[RunStats]) -> Vec<u64> {
        stats.iter().map(|s| s.rounds).collect()
    }

    #[test]
    fn outputs_known_before_the_last_exchange_are_opened_with_it() {
        let inputs = [vec![3], vec![5], vec![]];
        // Each party's share `z` of the product is known before the product's exchange.
        let product = "x = input(sint, party=0)\ny = input(sint, party=1)\noutput(x * y)\n";
        let (outputs, stats, separate) = runs_of(product, &inputs);
        assert_eq!(outputs, vec![vec![Some(vec![15])]; 3]);
        assert_eq!(exchanges(&stats), vec![separate - 1; 3]);
        // A comparison ends with local gates after its last AND: a separate opening, to
        // party 2 only.
        let less = "x = input(sint, party=0)\ny = input(sint, party=1)\noutput(x < y, to=2)\n";
        let (outputs, stats, separate) = runs_of(less, &inputs);
        assert_eq!(outputs, vec![vec![None], vec![None], vec![Some(vec![1])]]);
        assert_eq!(exchanges(&stats), vec![separate; 3]);
        // 10^4 products to every party are too many to go with the round.
        let many = "x = input(sint[10000], party=0)\noutput([v * v for v in x])\n";
        let inputs = [(0..10_000).collect(), vec![], vec![]];
        let (outputs, stats, separate) = runs_of(many, &inputs);
        let squares: Vec<u64> = (0..10_000).map(|v| v * v).collect();
        assert_eq!(outputs, vec![vec![Some(squares)]; 3]);
        assert_eq!(exchanges(&stats), vec![separate; 3]);
    }

    #[test]
    fn products_opened_to_some_parties_go_to_them_alone_with_their_round() {
        let n = 10_000u64;
        let inputs = [
            (0..n).collect(),
            (0..n).map(|v| v.wrapping_mul(7)).collect(),
            vec![],
        ];
        let products: Vec<u64> = (0..n).map(|v| v.wrapping_mul(v.wrapping_mul(7))).collect();
        // Party 0 learns 10^4 products: parties 1 and 2 send it their shares with the
        // round, and nothing else goes anywhere.
        let to_0 = "x = input(sint[10000], party=0)\ny = input(sint[10000], party=1)\n\
                    output([x[i] * y[i] for i in range(10000)], to=0)\n";
        let (outputs, stats, separate) = runs_of(to_0, &inputs);
        assert_eq!(outputs[0], vec![Some(products.clone())]);
        assert_eq!(outputs[1..], [vec![None], vec![None]]);
        assert_eq!(exchanges(&stats), vec![separate - 1; 3]);
        let sent: Vec<u64> = stats.iter().map(|s| s.online_bytes_sent).collect();
        assert_eq!(sent, [0, 8 * n, 8 * n]);
        // Learned by parties 0 and 1, the products reach party 2 from nobody.
        let to_01 = to_0.replace("to=0", "to=[0, 1]");
        let (outputs, stats, separate) = runs_of(&to_01, &inputs);
        assert_eq!(
            outputs[..2],
            [vec![Some(products.clone())], vec![Some(products)]]
        );
        assert_eq!(outputs[2], vec![None]);
        assert_eq!(exchanges(&stats), vec![separate - 1; 3]);
        let received: Vec<u64> = stats.iter().map(|s| s.online_bytes_received).collect();
        assert_eq!(received, [16 * n, 16 * n, 0]);
    }

    #[test]
    fn a_last_round_of_products_and_ands_one_party_learns_is_opened_to_it() {
        // Two shapes in the batch: the lone learner reads the shares one gate at a time.
        let text = "x = input(sint, party=0)\ny = input(sint, party=1)\n\
                    p = input(bool, party=0)\nq = input(bool, party=1)\n\
                    output(x * y, to=1)\noutput(p and q, to=1)\n";
        let inputs = [vec![u64::MAX - 2, 1], vec![7, 1], vec![]];
        let (outputs, stats, separate) = runs_of(text, &inputs);
        assert_eq!(
            outputs[1],
            vec![Some(vec![(u64::MAX - 2).wrapping_mul(7)]), Some(vec![1])]
        );
        assert_eq!(outputs[0], vec![None, None]);
        assert_eq!(exchanges(&stats), vec![separate - 1; 3]);
    }

    #[test]
    fn outputs_large_enough_for_threads_give_the_products() {
        // Above `PARALLEL_OPEN` and `PREPARED_OUTPUTS`: a last round opened with its
        // messages (to party 0) or after them (to everyone, too many bits to go with the
        // round), after a round of products.
        let n = PARALLEL_OPEN + 5;
        let inputs = [
            (0..n as u64)
                .map(|v| v.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect::<Vec<_>>(),
            (0..n as u64).map(|v| v ^ 0xdead_beef).collect(),
            vec![],
        ];
        let expected: Vec<u64> = (inputs[0].iter().zip(&inputs[1]))
            .map(|(x, y)| x.wrapping_mul(*y).wrapping_mul(*y))
            .collect();
        let text = format!(
            "x = input(sint[{n}], party=0)\ny = input(sint[{n}], party=1)\n\
             output([x[i] * y[i] * y[i] for i in range({n})], to=0)\n"
        );
        let (outputs, _, _) = runs_of(&text, &inputs);
        assert_eq!(outputs[0], vec![Some(expected.clone())]);
        assert_eq!(outputs[1..], [vec![None], vec![None]]);
        let (outputs, _, _) = runs_of(&text.replace(", to=0", ""), &inputs);
        assert_eq!(outputs, vec![vec![Some(expected)]; 3]);
    }

    /// A party's end of a local mesh that records what it receives and leaves after
    /// `exchanges` exchanges.
    struct Observed {
        party: u32,
        inner: Option<crate::net::local::LocalTransport>,
        exchanges: u64,
        received: Vec<Vec<Vec<u8>>>,
    }

    impl Observed {
        fn new(inner: crate::net::local::LocalTransport, exchanges: u64) -> Self {
            Observed {
                party: inner.party(),
                inner: Some(inner),
                exchanges,
                received: Vec::new(),
            }
        }
    }

    impl Transport for Observed {
        fn party(&self) -> u32 {
            self.party
        }

        fn parties(&self) -> u32 {
            PARTIES
        }

        fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
            if self.exchanges == 0 {
                self.inner = None;
            }
            self.exchanges = self.exchanges.saturating_sub(1);
            let left = || VmError::Protocol {
                protocol: "test",
                reason: "left".into(),
            };
            let incoming = self.inner.as_mut().ok_or_else(left)?.exchange(outgoing)?;
            self.received.push(incoming.clone());
            Ok(incoming)
        }
    }

    #[test]
    fn products_one_party_learns_reach_it_masked_by_the_key_it_lacks() {
        // x and y as components 0, 1 and 2; party p holds components p and p + 1.
        let (x, y) = ([3u64, 5, 7], [11u64, 13, 17]);
        let n = 16;
        let gates = vec![Gate::Mul(WireId(0), WireId(1)); n];
        let kinds = vec![WireKind::Arith; 2 + n];
        let openings = [OutputOpening {
            to: &[0],
            secrets: (2..2 + n).map(|w| (WireId::from_index(w), 64)).collect(),
        }];
        let mut in_batch = crate::exec::BatchOutputs::of(&openings, 2..2 + n).expect("3 parties");
        in_batch.note_gates(&gates);
        let runs: Vec<(Option<RawOutputs>, Vec<Vec<u8>>)> = std::thread::scope(|scope| {
            let parties: Vec<_> = crate::net::local::local_mesh(3)
                .into_iter()
                .map(|inner| {
                    let (gates, kinds, openings, in_batch) = (&gates, &kinds, &openings, &in_batch);
                    scope.spawn(move || {
                        let mut transport = Observed::new(inner, u64::MAX);
                        let p = transport.party() as usize;
                        let registers = [[x[p], x[(p + 1) % 3]], [y[p], y[(p + 1) % 3]]];
                        let mut out = vec![[0; 2]; n];
                        let opened = Rep3::setup(&mut transport)
                            .and_then(|mut rep3| {
                                let batch = (&registers[..], &kinds[..], &mut out[..]);
                                rep3.last_interactive(
                                    gates,
                                    batch.0,
                                    batch.1,
                                    batch.2,
                                    openings,
                                    Some(in_batch),
                                )
                            })
                            .expect("runs");
                        (opened, transport.received.pop().expect("a round"))
                    })
                })
                .collect();
            parties.into_iter().map(|p| p.join().unwrap()).collect()
        });
        let product = x.iter().sum::<u64>().wrapping_mul(y.iter().sum());
        assert_eq!(runs[0].0, Some(vec![Some(vec![product; n])]));
        assert_eq!(runs[1].0, Some(vec![None]));
        // Party 0 got party 1's and party 2's shares of each product: their cross terms,
        // masked by F(k_2), which party 0 does not hold, with opposite signs.
        let cross = |p: usize| {
            let ([a, b], [c, d]) = ([x[p], x[(p + 1) % 3]], [y[p], y[(p + 1) % 3]]);
            a.wrapping_mul(c)
                .wrapping_add(a.wrapping_mul(d))
                .wrapping_add(b.wrapping_mul(c))
        };
        let shares = |bytes: &[u8]| -> Vec<u64> {
            (bytes.chunks(8))
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .collect()
        };
        let (z1, z2) = (shares(&runs[0].1[1]), shares(&runs[0].1[2]));
        assert_eq!((z1.len(), z2.len()), (n, n));
        for (z1, z2) in z1.iter().zip(&z2) {
            let mask = z1.wrapping_sub(cross(1));
            assert_ne!(mask, 0, "party 1's share went out unmasked");
            assert_eq!(z2.wrapping_sub(cross(2)), mask.wrapping_neg());
        }
        // Parties 1 and 2 learn nothing and receive nothing in the round.
        for (_, received) in &runs[1..] {
            assert!(received.iter().all(Vec::is_empty));
        }
    }

    #[test]
    fn no_party_gets_its_outputs_if_a_peer_leaves_once_they_are_open() {
        let program = mpc_compiler::compile_str(
            "t.mpc",
            "x = input(sint, party=0)\ny = input(sint, party=1)\noutput(x * y)\n",
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()))
        .program;
        let inputs = [vec![3], vec![5], vec![]];
        // Party 2 opens the product with its round, then leaves before the closing
        // exchange: keys, inputs, the synchronizing exchange and the round.
        let results: Vec<Result<RawOutputs, VmError>> = std::thread::scope(|scope| {
            let mut mesh = crate::net::local::local_mesh(3);
            let mut leaver = Observed::new(mesh.pop().expect("3 parties"), 4);
            let program = &program;
            let inputs = &inputs;
            let parties: Vec<_> = mesh
                .into_iter()
                .enumerate()
                .map(|(p, mut t)| {
                    scope.spawn(move || {
                        crate::exec::run_party(program, ProtocolKind::Rep3, &mut t, &inputs[p])
                            .map(|(raw, _)| raw)
                    })
                })
                .collect();
            let left = crate::exec::run_party(program, ProtocolKind::Rep3, &mut leaver, &inputs[2])
                .map(|(raw, _)| raw);
            let mut results: Vec<_> = parties.into_iter().map(|p| p.join().unwrap()).collect();
            results.push(left);
            results
        });
        assert!(results[2].is_err());
        let errors: Vec<String> = results[..2]
            .iter()
            .map(|r| r.as_ref().expect_err("no outputs").to_string())
            .collect();
        for error in &errors {
            assert!(error.ends_with("(finishing)"), "{error}");
        }
        // The first to notice names party 2; the other may see that one hang up first.
        assert!(
            errors.iter().any(|e| e.starts_with("party 2: ")),
            "{errors:?}"
        );
    }

    #[test]
    fn runs_in_step_give_the_clear_protocol_s_results() {
        // Comparisons go through rounds of runs in step, three runs of 3n lanes each: a
        // whole block of lanes and a part of one.
        let n: i64 = LANE_BLOCK as i64 / 2 + 5;
        let text = format!(
            "x = input(sint[{n}], party=0)\ny = input(sint[{n}], party=1)\noutput([x[i] < y[i] for i in range({n})], to=0)\n"
        );
        let program = mpc_compiler::compile_str("lt.mpc", &text, &Default::default())
            .unwrap_or_else(|e| panic!("{}", e.render()))
            .program;
        let outline = program.outline();
        let mut first_wire = 0;
        let mut in_step = 0;
        for round in &program.rounds {
            let runs =
                crate::runs::find_runs(&round.local, first_wire, &outline.kinds, &outline.reads);
            in_step += runs.iter().filter(|r| r.in_step_with_next).count();
            first_wire += round.local.len() + round.interactive.len();
        }
        assert!(in_step > 0, "the program exercises no runs in step");
        // Values near each other and at the ends of the range.
        let value = |i: i64, k: i64| match i % 4 {
            0 => i64::MIN + i * k,
            1 => i64::MAX - i * k,
            _ => (i * k) % 1000 - 500,
        };
        let x: Vec<u64> = (0..n).map(|i| value(i, 7) as u64).collect();
        let y: Vec<u64> = (0..n).map(|i| value(i, 13) as u64).collect();
        let inputs = [x, y, Vec::new()];
        let clear = simulate(&program, ProtocolKind::Clear, 3, &inputs).expect("clear run");
        let rep3 = simulate(&program, ProtocolKind::Rep3, 3, &inputs).expect("rep3 run");
        assert_eq!(rep3, clear);
    }

    proptest! {
        /// Any mix of widths: the bytes are those of writing one bit at a time, and read
        /// back to the values.
        #[test]
        fn bit_packing_is_bit_by_bit_and_round_trips(
            values in proptest::collection::vec((any::<u64>(), 1u8..=64), 0..40)
        ) {
            let mut writer = BitWriter::default();
            let mut one_by_one = Vec::new();
            for &(v, b) in &values {
                writer.put(v, b);
                one_by_one.extend((0..b).map(|i| (v >> i) & 1 == 1));
            }
            let bytes = writer.finish();
            let expected: Vec<u8> = one_by_one
                .chunks(8)
                .map(|bits| bits.iter().rev().fold(0u8, |byte, &bit| (byte << 1) | u8::from(bit)))
                .collect();
            prop_assert_eq!(&bytes, &expected);
            let mut reader = BitReader { bytes: &bytes, bit: 0 };
            for &(v, b) in &values {
                prop_assert_eq!(reader.get(b), v & mask(b));
            }
        }
    }

    #[test]
    fn narrow_draws_share_a_pair_and_a_wide_one_starts_the_next() {
        let (mut a, mut b) = (Keystream::new(&[1; 32]), Keystream::new(&[2; 32]));
        let (mut a2, mut b2) = (Keystream::new(&[1; 32]), Keystream::new(&[2; 32]));
        let mut pairs = Keystreams::new(&mut a2, &mut b2, 8, Masks::Both);
        let (first, second) = (pairs.pair(), pairs.pair());
        let mut streams = Keystreams::new(&mut a, &mut b, 8, Masks::Both);
        assert_eq!(streams.bits(3), (first.0 & 7, first.1 & 7));
        assert_eq!(
            streams.bits(60),
            (first.0 >> 3 & mask(60), first.1 >> 3 & mask(60))
        );
        // One bit of the first pair is left: not enough for two.
        assert_eq!(streams.bits(2), (second.0 & 3, second.1 & 3));
        assert_eq!(streams.pair(), pairs.pair());
    }

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
        let bytes = w.finish();
        assert_eq!(bytes.len(), bits.div_ceil(8), "no padding between values");
        // The layout: least significant bit first, little-endian.
        assert_eq!(bytes[..2], [0b1110_0001, 0b1011_1101]);
        let mut r = BitReader {
            bytes: &bytes,
            bit: 0,
        };
        for &(v, b) in &values {
            assert_eq!(r.get(b), v & mask(b));
        }
    }
}
