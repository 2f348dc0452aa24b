//! Gates: the instruction set shared by the compiler's circuit IR and the bytecode.
//!
//! Invariants every circuit keeps:
//! - the output of gate `i` is wire `i`, and every operand of gate `i` is a wire `< i`
//!   (gates are stored in topological order);
//! - a wire is either *public* (every party knows its value) or *secret* (held as shares);
//!   `Const`, `PublicInput` and `Open` give public wires, `Input` a secret one, and every
//!   other gate is secret exactly when one of its operands is;
//! - a secret wire lives in one *domain*: arithmetic (the ring Z_2^64; an n-bit integer is
//!   its low n bits, the bits above are unspecified) or Boolean (a word of `w` bits, the bits
//!   above `w` are zero). Public wires are plain 64-bit values and belong to both domains.
//!
//! A small example, `output(a * b + 1)` for two secret inputs:
//! ```text
//! w0 = input p0[0] arith
//! w1 = input p1[0] arith
//! w2 = mul w0 w1
//! w3 = const 1
//! w4 = add w2 w3
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// The wire carrying the output of the gate with the same index.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireId(pub u32);

impl WireId {
    /// The index of the gate producing this wire.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The wire produced by gate number `i`.
    ///
    /// # Panics
    /// If `i` does not fit in `u32`: circuits are limited to 2^32 gates, which the
    /// compiler checks before building that many.
    pub fn from_index(i: usize) -> Self {
        Self(u32::try_from(i).expect("circuits hold fewer than 2^32 gates"))
    }
}

impl fmt::Debug for WireId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

impl fmt::Display for WireId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The domain of a secret input.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Domain {
    /// Shared over the ring Z_2^64.
    Arith,
    /// Shared bitwise (XOR).
    Bool,
}

/// One gate. Boolean gates carry the width `w` (1..=64) of the word they produce; their
/// clear result is masked to `w` bits. Shift amounts are below 64.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gate {
    /// A public constant.
    Const(u64),
    /// Element `index` of the inputs of `party`, secret, shared in `domain`.
    Input {
        /// The party supplying the value.
        party: u32,
        /// Position in that party's flattened input list.
        index: u32,
        /// How the value is shared.
        domain: Domain,
    },
    /// Element `index` of the inputs of `party`, made known to every party.
    PublicInput {
        /// The party supplying the value.
        party: u32,
        /// Position in that party's flattened input list.
        index: u32,
    },
    /// `a + b` in Z_2^64.
    Add(WireId, WireId),
    /// `a - b` in Z_2^64.
    Sub(WireId, WireId),
    /// `-a` in Z_2^64.
    Neg(WireId),
    /// `a * b` in Z_2^64; a round when both operands are secret.
    Mul(WireId, WireId),
    /// Fixed-point rescaling: `a` as a signed 64-bit value shifted right by `k`, rounding
    /// toward minus infinity in the clear (a protocol may round either way: one unit in
    /// the last place).
    Trunc(WireId, u8),
    /// Bitwise XOR of two words.
    Xor(WireId, WireId, u8),
    /// Bitwise AND of two words; a round when both operands are secret.
    And(WireId, WireId, u8),
    /// Bitwise complement within `w` bits.
    Not(WireId, u8),
    /// `(a << k)` masked to `w` bits.
    Shl(WireId, u8, u8),
    /// `(a >> k)` masked to `w` bits (also extracts bit fields: `Shr(a, i, 1)` is bit `i`).
    Shr(WireId, u8, u8),
    /// Arithmetic shift right of the `w`-bit signed word `a` by `k`.
    Sar(WireId, u8, u8),
    /// Bit 0 of `a` copied into all `w` bits (the mask of a multiplexer).
    Broadcast(WireId, u8),
    /// The low `w` bits of an arithmetic value as a Boolean word.
    A2B(WireId, u8),
    /// A Boolean word as an (unsigned) arithmetic value.
    B2A(WireId),
    /// Opens a secret value to every party.
    Open(WireId),
    /// Share component `k` (0..3) of an arithmetic value, low `w` bits, as a Boolean
    /// sharing. With three-party replicated sharing every component is known to two
    /// parties, so this is local; conversions to Boolean are built from it. In the clear
    /// a value is its component 0 and the others are zero. Which component is "0" is the
    /// protocol's choice, and may differ from one operand to the next, but the split,
    /// pair and transfer gates of one operand wire always agree on it.
    SplitA2B(WireId, u8, u8),
    /// Share component `k` (0..3) of a Boolean word, low `w` bits, as an arithmetic
    /// sharing of its unsigned value; local for the same reason. The mask matters:
    /// share components may carry cancelling random bits above the value's width.
    SplitB2A(WireId, u8, u8),
    /// The sum of share components 0 and 1 of an arithmetic value, low `w` bits, as a
    /// Boolean sharing. Only party 0 knows that sum, so it shares it: one word to each
    /// peer, a round. With component 2 (`SplitA2B(a, 2, w)`) it gives `a` as the sum of
    /// two Boolean words. In the clear it is `a`'s low `w` bits.
    PairA2B(WireId, u8),
    /// The bits of `a` selected by the mask, packed toward bit 0 (x86 `pext`): a local
    /// rearrangement, so that trees over some bit positions work on dense words.
    Pext(WireId, u64),
    /// `a * b` of two secrets left as additive terms (no communication); sums of them
    /// are reshared once, so a dot product costs one round and one word.
    MulLocal(WireId, WireId),
    /// Turns additive terms back into a sharing every later gate can use: a round.
    Reshare(WireId),
    /// `PairA2B(a, w) & SplitA2B(a, 2, w)`, computed in the same round as the pair: party
    /// 0 knows the first word, parties 1 and 2 the second, so each of them learns a
    /// masked copy of the first and the other sends the matching correction. This is the
    /// "generate" word of the adder that sums the two words, one round earlier than an
    /// `And` would give it. In the clear it is zero (component 2 is).
    PairAnd(WireId, u8),
    /// Pairwise equality of the two words whose difference is `a`: bit `i` of the
    /// result (of `⌈w/2⌉` bits) is set when bits `2i` and `2i + 1` of `PairA2B(a, w)`
    /// equal those of `SplitA2B(Neg(a), 2, w)`. Party 0 sends each peer a masked table of
    /// the four answers per pair and the other peer the key of the right entry, so the
    /// first level of a zero test costs no round of its own. Every bit set means
    /// `a ≡ 0 (mod 2^w)`; single bits depend on the sharing, and in the clear bit `i` is
    /// whether bits `2i` and `2i + 1` of `a` are zero.
    PairEq(WireId, u8),
    /// `c * a` for a one-bit Boolean `c` and an arithmetic `a` (bit injection): one
    /// round, with oblivious transfers in which the third party plays the helper. A
    /// multiplexer or a bit's conversion to arithmetic costs one round instead of two.
    MulBit(WireId, WireId),
}

// 10^7 gates must stay well under 1 GiB; a variant that grows the enum should fail here.
const _: () = assert!(std::mem::size_of::<Gate>() <= 16);

/// The low `w` bits set (`w` in 1..=64).
pub const fn mask(w: u8) -> u64 {
    if w >= 64 {
        u64::MAX
    } else {
        (1u64 << w) - 1
    }
}

/// Bits 0, 2, 4, …
pub const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// The number of bit pairs in a `w`-bit word (the width of a `PairEq` result).
pub const fn pairs(w: u8) -> u8 {
    w.div_ceil(2)
}

/// The bits of `a` selected by `m`, packed toward bit 0 in order.
pub fn pext(a: u64, m: u64) -> u64 {
    // The masks of carry trees pick every other bit: unzip those with five shifts.
    const EVEN: u64 = EVEN_BITS;
    let even_prefix = |m: u64| m & !EVEN == 0 && (m | !EVEN).wrapping_add(1) & m == 0;
    if even_prefix(m) {
        return unzip_even(a & m);
    }
    if m & 1 == 0 && even_prefix(m >> 1) {
        return unzip_even((a >> 1) & (m >> 1));
    }
    let (mut out, mut m, mut bit) = (0u64, m, 0u32);
    while m != 0 {
        let lowest = m & m.wrapping_neg();
        if a & lowest != 0 {
            out |= 1 << bit;
        }
        bit += 1;
        m ^= lowest;
    }
    out
}

/// Packs the even bits of `x` (its odd bits must be zero) into the low half.
fn unzip_even(mut x: u64) -> u64 {
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    (x | (x >> 16)) & 0x0000_0000_ffff_ffff
}

/// How a gate's result is shared, given the visibility of its operands.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WireKind {
    /// Known to every party.
    Public,
    /// Secret, shared over Z_2^64.
    Arith,
    /// Secret, shared bitwise.
    Bool,
    /// Secret, an unreshared sum of products: each party holds one additive term
    /// (3-out-of-3). Only sums, public scalings and `Reshare` may read it.
    Additive,
}

impl WireKind {
    /// Whether the wire is known to every party.
    pub fn is_public(self) -> bool {
        self == WireKind::Public
    }
}

/// The domain an operand of a gate must be in when it is secret.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OperandDomain {
    /// Arithmetic shares.
    Arith,
    /// Boolean shares.
    Bool,
    /// Either (only `Open`).
    Any,
    /// A Boolean first operand and an arithmetic second one (only `MulBit`).
    BoolThenArith,
}

impl OperandDomain {
    /// Whether a secret operand of `kind` suits gate `gate` expecting this domain, as
    /// operand number `position`.
    pub fn accepts(self, kind: WireKind, gate: &Gate, position: usize) -> bool {
        match (self, kind) {
            (OperandDomain::BoolThenArith, WireKind::Bool) => position == 0,
            (OperandDomain::BoolThenArith, WireKind::Arith) => position == 1,
            (_, WireKind::Public) => true,
            // Additive terms only flow through sums and scalings into a reshare.
            (OperandDomain::Arith, WireKind::Additive) => matches!(
                gate,
                Gate::Add(..) | Gate::Sub(..) | Gate::Neg(_) | Gate::Mul(..) | Gate::Reshare(_)
            ),
            (OperandDomain::Arith, WireKind::Arith) | (OperandDomain::Bool, WireKind::Bool) => true,
            (OperandDomain::Any, kind) => kind != WireKind::Additive,
            _ => false,
        }
    }
}

impl Gate {
    /// The wires this gate reads, in order.
    pub fn operands(&self) -> impl Iterator<Item = WireId> {
        let (a, b) = match *self {
            Gate::Const(_) | Gate::Input { .. } | Gate::PublicInput { .. } => (None, None),
            Gate::Neg(a)
            | Gate::Trunc(a, _)
            | Gate::Not(a, _)
            | Gate::Shl(a, _, _)
            | Gate::Shr(a, _, _)
            | Gate::Sar(a, _, _)
            | Gate::Broadcast(a, _)
            | Gate::A2B(a, _)
            | Gate::B2A(a)
            | Gate::Open(a)
            | Gate::SplitA2B(a, _, _)
            | Gate::SplitB2A(a, _, _)
            | Gate::PairA2B(a, _)
            | Gate::PairAnd(a, _)
            | Gate::PairEq(a, _)
            | Gate::Pext(a, _)
            | Gate::Reshare(a) => (Some(a), None),
            Gate::Add(a, b)
            | Gate::Sub(a, b)
            | Gate::Mul(a, b)
            | Gate::MulLocal(a, b)
            | Gate::MulBit(a, b)
            | Gate::Xor(a, b, _)
            | Gate::And(a, b, _) => (Some(a), Some(b)),
        };
        a.into_iter().chain(b)
    }

    /// The same gate reading other wires.
    pub fn map_operands(self, mut f: impl FnMut(WireId) -> WireId) -> Gate {
        match self {
            Gate::Const(_) | Gate::Input { .. } | Gate::PublicInput { .. } => self,
            Gate::Add(a, b) => Gate::Add(f(a), f(b)),
            Gate::Sub(a, b) => Gate::Sub(f(a), f(b)),
            Gate::Neg(a) => Gate::Neg(f(a)),
            Gate::Mul(a, b) => Gate::Mul(f(a), f(b)),
            Gate::Trunc(a, k) => Gate::Trunc(f(a), k),
            Gate::Xor(a, b, w) => Gate::Xor(f(a), f(b), w),
            Gate::And(a, b, w) => Gate::And(f(a), f(b), w),
            Gate::Not(a, w) => Gate::Not(f(a), w),
            Gate::Shl(a, k, w) => Gate::Shl(f(a), k, w),
            Gate::Shr(a, k, w) => Gate::Shr(f(a), k, w),
            Gate::Sar(a, k, w) => Gate::Sar(f(a), k, w),
            Gate::Broadcast(a, w) => Gate::Broadcast(f(a), w),
            Gate::A2B(a, w) => Gate::A2B(f(a), w),
            Gate::B2A(a) => Gate::B2A(f(a)),
            Gate::Open(a) => Gate::Open(f(a)),
            Gate::SplitA2B(a, k, w) => Gate::SplitA2B(f(a), k, w),
            Gate::SplitB2A(a, k, w) => Gate::SplitB2A(f(a), k, w),
            Gate::PairA2B(a, w) => Gate::PairA2B(f(a), w),
            Gate::PairAnd(a, w) => Gate::PairAnd(f(a), w),
            Gate::PairEq(a, w) => Gate::PairEq(f(a), w),
            Gate::MulBit(a, b) => Gate::MulBit(f(a), f(b)),
            Gate::Pext(a, m) => Gate::Pext(f(a), m),
            Gate::MulLocal(a, b) => Gate::MulLocal(f(a), f(b)),
            Gate::Reshare(a) => Gate::Reshare(f(a)),
        }
    }

    /// The domain a secret operand must have.
    pub fn operand_domain(&self) -> OperandDomain {
        match self {
            Gate::Add(..)
            | Gate::Sub(..)
            | Gate::Neg(_)
            | Gate::Mul(..)
            | Gate::MulLocal(..)
            | Gate::Reshare(_)
            | Gate::Trunc(..) => OperandDomain::Arith,
            Gate::A2B(..)
            | Gate::SplitA2B(..)
            | Gate::PairA2B(..)
            | Gate::PairAnd(..)
            | Gate::PairEq(..) => OperandDomain::Arith,
            Gate::MulBit(..) => OperandDomain::BoolThenArith,
            Gate::Xor(..)
            | Gate::And(..)
            | Gate::Not(..)
            | Gate::Shl(..)
            | Gate::Shr(..)
            | Gate::Sar(..)
            | Gate::Broadcast(..)
            | Gate::B2A(_)
            | Gate::SplitB2A(..)
            | Gate::Pext(..) => OperandDomain::Bool,
            Gate::Const(_) | Gate::Input { .. } | Gate::PublicInput { .. } | Gate::Open(_) => {
                OperandDomain::Any
            }
        }
    }

    /// The kind of this gate's output, given the kinds of its operands.
    pub fn result_kind(&self, kinds: impl Fn(WireId) -> WireKind) -> WireKind {
        let any_secret = self.operands().any(|w| !kinds(w).is_public());
        let any_additive = self.operands().any(|w| kinds(w) == WireKind::Additive);
        match self {
            Gate::Const(_) | Gate::PublicInput { .. } | Gate::Open(_) => WireKind::Public,
            Gate::Input {
                domain: Domain::Arith,
                ..
            } => WireKind::Arith,
            Gate::Input {
                domain: Domain::Bool,
                ..
            } => WireKind::Bool,
            _ if !any_secret => WireKind::Public,
            Gate::MulLocal(..) => WireKind::Additive,
            Gate::Add(..) | Gate::Sub(..) | Gate::Neg(_) | Gate::Mul(..) if any_additive => {
                WireKind::Additive
            }
            Gate::Add(..)
            | Gate::Sub(..)
            | Gate::Neg(_)
            | Gate::Mul(..)
            | Gate::Trunc(..)
            | Gate::B2A(_)
            | Gate::SplitB2A(..)
            | Gate::MulBit(..)
            | Gate::Reshare(_) => WireKind::Arith,
            Gate::Xor(..)
            | Gate::And(..)
            | Gate::Not(..)
            | Gate::Shl(..)
            | Gate::Shr(..)
            | Gate::Sar(..)
            | Gate::Broadcast(..)
            | Gate::A2B(..)
            | Gate::SplitA2B(..)
            | Gate::PairA2B(..)
            | Gate::PairAnd(..)
            | Gate::PairEq(..)
            | Gate::Pext(..) => WireKind::Bool,
        }
    }

    /// Whether the gate needs communication, given the kinds of its operands: a product
    /// of two secrets, a conversion, a truncation or an opening of a secret.
    pub fn is_interactive(&self, kinds: impl Fn(WireId) -> WireKind) -> bool {
        match *self {
            Gate::Mul(a, b) | Gate::And(a, b, _) => !kinds(a).is_public() && !kinds(b).is_public(),
            Gate::Trunc(a, _)
            | Gate::A2B(a, _)
            | Gate::B2A(a)
            | Gate::Open(a)
            | Gate::PairA2B(a, _)
            | Gate::PairAnd(a, _)
            | Gate::PairEq(a, _)
            | Gate::MulBit(a, _)
            | Gate::Reshare(a) => !kinds(a).is_public(),
            _ => false,
        }
    }

    /// The gate without its operands, constant or input index: gates of one shape do
    /// the same work on different data, so a sequence of them can run as one loop.
    pub fn shape(&self) -> Gate {
        match *self {
            Gate::Const(_) => Gate::Const(0),
            Gate::Input { party, domain, .. } => Gate::Input {
                party,
                index: 0,
                domain,
            },
            Gate::PublicInput { party, .. } => Gate::PublicInput { party, index: 0 },
            other => other.map_operands(|_| WireId(0)),
        }
    }

    /// The share component a split gate names (valid components are 0, 1 and 2).
    pub fn component(&self) -> Option<u8> {
        match *self {
            Gate::SplitA2B(_, k, _) | Gate::SplitB2A(_, k, _) => Some(k),
            _ => None,
        }
    }

    /// The width and shift fields that must lie in range, for validation.
    pub fn widths_and_shifts(&self) -> (Option<u8>, Option<u8>) {
        match *self {
            Gate::Xor(_, _, w)
            | Gate::And(_, _, w)
            | Gate::Not(_, w)
            | Gate::Broadcast(_, w)
            | Gate::A2B(_, w)
            | Gate::SplitA2B(_, _, w)
            | Gate::SplitB2A(_, _, w)
            | Gate::PairA2B(_, w)
            | Gate::PairAnd(_, w)
            | Gate::PairEq(_, w) => (Some(w), None),
            Gate::Shl(_, k, w) | Gate::Shr(_, k, w) | Gate::Sar(_, k, w) => (Some(w), Some(k)),
            Gate::Trunc(_, k) => (None, Some(k)),
            _ => (None, None),
        }
    }

    /// The gate's value in the clear, given the values of its operands in order and, for
    /// inputs, the input value. This is the reference semantics every protocol computes.
    pub fn eval_clear(&self, a: u64, b: u64) -> u64 {
        match *self {
            Gate::Const(c) => c,
            // Inputs and openings pass their value through `a`.
            Gate::Input { .. }
            | Gate::PublicInput { .. }
            | Gate::Open(_)
            | Gate::B2A(_)
            | Gate::Reshare(_) => a,
            Gate::Add(..) => a.wrapping_add(b),
            Gate::Sub(..) => a.wrapping_sub(b),
            Gate::Neg(_) => a.wrapping_neg(),
            Gate::Mul(..) | Gate::MulLocal(..) => a.wrapping_mul(b),
            Gate::Trunc(_, k) => ((a as i64) >> k) as u64,
            Gate::Xor(_, _, w) => (a ^ b) & mask(w),
            Gate::And(_, _, w) => a & b & mask(w),
            Gate::Not(_, w) => !a & mask(w),
            Gate::Shl(_, k, w) => (a << k) & mask(w),
            Gate::Shr(_, k, w) => (a >> k) & mask(w),
            Gate::Sar(_, k, w) => {
                let unused = 64 - u32::from(w);
                let signed = ((a << unused) as i64) >> unused;
                ((signed >> k) as u64) & mask(w)
            }
            Gate::Broadcast(_, w) => {
                if a & 1 == 1 {
                    mask(w)
                } else {
                    0
                }
            }
            Gate::A2B(_, w) => a & mask(w),
            Gate::SplitA2B(_, k, w) => {
                if k == 0 {
                    a & mask(w)
                } else {
                    0
                }
            }
            Gate::SplitB2A(_, k, w) => {
                if k == 0 {
                    a & mask(w)
                } else {
                    0
                }
            }
            Gate::PairA2B(_, w) => a & mask(w),
            Gate::PairAnd(..) => 0,
            Gate::PairEq(_, w) => {
                let a = a & mask(w);
                let pair_is_zero = !(a | (a >> 1));
                pext(pair_is_zero, mask(w) & EVEN_BITS)
            }
            Gate::MulBit(..) => (a & 1).wrapping_mul(b),
            Gate::Pext(_, m) => pext(a, m),
        }
    }

    /// The operation's name in the text form.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Gate::Const(_) => "const",
            Gate::Input { .. } => "input",
            Gate::PublicInput { .. } => "public_input",
            Gate::Add(..) => "add",
            Gate::Sub(..) => "sub",
            Gate::Neg(_) => "neg",
            Gate::Mul(..) => "mul",
            Gate::Trunc(..) => "trunc",
            Gate::Xor(..) => "xor",
            Gate::And(..) => "and",
            Gate::Not(..) => "not",
            Gate::Shl(..) => "shl",
            Gate::Shr(..) => "shr",
            Gate::Sar(..) => "sar",
            Gate::Broadcast(..) => "broadcast",
            Gate::A2B(..) => "a2b",
            Gate::B2A(_) => "b2a",
            Gate::Open(_) => "open",
            Gate::SplitA2B(..) => "split_a2b",
            Gate::SplitB2A(..) => "split_b2a",
            Gate::PairA2B(..) => "pair_a2b",
            Gate::PairAnd(..) => "pair_and",
            Gate::PairEq(..) => "pair_eq",
            Gate::MulBit(..) => "mul_bit",
            Gate::Pext(..) => "pext",
            Gate::MulLocal(..) => "mul_local",
            Gate::Reshare(_) => "reshare",
        }
    }
}

/// The stable text form, one gate a line without the `wN =` prefix: mnemonic, a `.w`
/// width suffix on Boolean gates, operands, then immediates.
impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.mnemonic();
        match *self {
            Gate::Const(c) => write!(f, "{name} {c}"),
            Gate::Input {
                party,
                index,
                domain,
            } => {
                let d = if domain == Domain::Arith {
                    "arith"
                } else {
                    "bool"
                };
                write!(f, "{name} p{party}[{index}] {d}")
            }
            Gate::PublicInput { party, index } => write!(f, "{name} p{party}[{index}]"),
            Gate::Add(a, b)
            | Gate::Sub(a, b)
            | Gate::Mul(a, b)
            | Gate::MulLocal(a, b)
            | Gate::MulBit(a, b) => {
                write!(f, "{name} {a} {b}")
            }
            Gate::Neg(a) | Gate::B2A(a) | Gate::Open(a) | Gate::Reshare(a) => {
                write!(f, "{name} {a}")
            }
            Gate::Trunc(a, k) => write!(f, "{name} {a} {k}"),
            Gate::Xor(a, b, w) | Gate::And(a, b, w) => write!(f, "{name}.{w} {a} {b}"),
            Gate::Not(a, w) | Gate::Broadcast(a, w) | Gate::A2B(a, w) => {
                write!(f, "{name}.{w} {a}")
            }
            Gate::SplitA2B(a, k, w) => write!(f, "{name}.{w} {a} {k}"),
            Gate::SplitB2A(a, k, w) => write!(f, "{name}.{w} {a} {k}"),
            Gate::PairA2B(a, w) | Gate::PairAnd(a, w) | Gate::PairEq(a, w) => {
                write!(f, "{name}.{w} {a}")
            }
            Gate::Pext(a, m) => write!(f, "{name} {a} {m:#x}"),
            Gate::Shl(a, k, w) | Gate::Shr(a, k, w) | Gate::Sar(a, k, w) => {
                write!(f, "{name}.{w} {a} {k}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: WireId = WireId(0);

    #[test]
    fn boolean_results_are_masked_to_their_width() {
        assert_eq!(Gate::Not(A, 4).eval_clear(0b0101, 0), 0b1010);
        assert_eq!(Gate::Shl(A, 3, 8).eval_clear(0xff, 0), 0xf8);
        assert_eq!(Gate::Shr(A, 4, 1).eval_clear(0b1_0000, 0), 1);
        assert_eq!(Gate::Broadcast(A, 16).eval_clear(1, 0), 0xffff);
        assert_eq!(Gate::A2B(A, 8).eval_clear(0x1234, 0), 0x34);
    }

    #[test]
    fn arithmetic_shift_extends_the_sign_of_the_word() {
        // -16 as an 8-bit word is 0xf0; >> 2 is -4 = 0xfc.
        assert_eq!(Gate::Sar(A, 2, 8).eval_clear(0xf0, 0), 0xfc);
        assert_eq!(Gate::Sar(A, 2, 8).eval_clear(0x70, 0), 0x1c);
        assert_eq!(Gate::Sar(A, 63, 64).eval_clear(1 << 63, 0), u64::MAX);
    }

    #[test]
    fn pext_packs_the_selected_bits() {
        assert_eq!(pext(0b1011_0110, 0b1111_0000), 0b1011);
        assert_eq!(pext(0b1010_1010, 0xaa), 0b1111);
        assert_eq!(pext(u64::MAX, 0x8000_0000_0000_0001), 0b11);
        assert_eq!(Gate::Pext(A, 0x55).eval_clear(0b0100_0101, 0), 0b1011);
        // The fast path for every-other-bit masks agrees with the general one.
        let general = |a: u64, m: u64| {
            (0..64)
                .filter(|i| m >> i & 1 == 1)
                .enumerate()
                .fold(0u64, |acc, (j, i)| acc | ((a >> i) & 1) << j)
        };
        for m in [
            0x5555_5555_5555_5555u64,
            0x1555_5555_5555_5555,
            0x2aaa_aaaa_aaaa_aaaa,
            0x55,
            0xaa,
            0x5,
            0xa,
            0x1,
            0x2,
            0x15,
        ] {
            for a in [u64::MAX, 0x0123_4567_89ab_cdef, 0xdead_beef_0bad_f00d] {
                assert_eq!(pext(a, m), general(a, m), "a={a:#x} m={m:#x}");
            }
        }
    }

    #[test]
    fn truncation_rounds_toward_minus_infinity() {
        assert_eq!(Gate::Trunc(A, 16).eval_clear((-1i64) as u64, 0), u64::MAX);
        assert_eq!(Gate::Trunc(A, 16).eval_clear(3 << 16 | 5, 0), 3);
    }

    #[test]
    fn products_of_two_secrets_are_interactive_others_are_local() {
        let public = |_| WireKind::Public;
        let secret = |_| WireKind::Arith;
        let mul = Gate::Mul(A, WireId(1));
        assert!(mul.is_interactive(secret));
        assert!(!mul.is_interactive(public));
        let mixed = |w: WireId| {
            if w == A {
                WireKind::Public
            } else {
                WireKind::Arith
            }
        };
        assert!(!mul.is_interactive(mixed));
        assert!(Gate::Open(A).is_interactive(secret));
        assert!(!Gate::Add(A, A).is_interactive(secret));
    }
}
