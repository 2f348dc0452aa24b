//! The operators of LANGUAGE.md §3 on scalar wires of one type. Integers and fixed-point
//! values are arithmetic wires (an n-bit integer is the low n bits; the bits above are
//! unspecified, so `+ - *` need no correction); `bool` is a 1-bit Boolean word.
//! Operations that need bits convert explicitly (`A2B`/`B2A`) and use [`super::bits`].
//! With public operands every gate folds or stays local, so one code path serves all
//! visibilities.

use mpc_bytecode::{mask, Gate, Scalar, WireId, FIX_FRAC_BITS};

use super::bits;
use crate::circuit::CircuitBuilder;
use crate::syntax::ast::{BinOp, CmpOp};

/// Width in bits of a scalar's value.
fn width(s: Scalar) -> u8 {
    s.bits()
}

/// `x op y` for `+ - *` (fixed-point products are rescaled).
pub fn arith(b: &mut CircuitBuilder, op: BinOp, s: Scalar, x: WireId, y: WireId) -> WireId {
    match op {
        BinOp::Add => b.push(Gate::Add(x, y)),
        BinOp::Sub => b.push(Gate::Sub(x, y)),
        BinOp::Mul if s == Scalar::Fix => {
            let product = b.push(Gate::Mul(x, y));
            b.push(Gate::Trunc(product, FIX_FRAC_BITS))
        }
        BinOp::Mul => b.push(Gate::Mul(x, y)),
        _ => unreachable!("arith is called for + - * only"),
    }
}

/// `x op y` for `& | ^`: logical on `bool`, bitwise on integers.
pub fn bitwise(b: &mut CircuitBuilder, op: BinOp, s: Scalar, x: WireId, y: WireId) -> WireId {
    let w = width(s);
    let (bx, by) = if s == Scalar::Bool {
        (x, y)
    } else {
        (b.push(Gate::A2B(x, w)), b.push(Gate::A2B(y, w)))
    };
    let r = match op {
        BinOp::BitAnd => b.push(Gate::And(bx, by, w)),
        BinOp::BitXor => b.push(Gate::Xor(bx, by, w)),
        BinOp::BitOr => bits::or(b, bx, by, w),
        _ => unreachable!("bitwise is called for & | ^ only"),
    };
    if s == Scalar::Bool {
        r
    } else {
        b.push(Gate::B2A(r))
    }
}

/// `~x`: logical not on `bool`, `-x - 1` on integers (local, no conversion).
pub fn invert(b: &mut CircuitBuilder, s: Scalar, x: WireId) -> WireId {
    if s == Scalar::Bool {
        return b.push(Gate::Not(x, 1));
    }
    let neg = b.push(Gate::Neg(x));
    let minus_one = b.constant(u64::MAX);
    b.push(Gate::Add(neg, minus_one))
}

/// `x << k` (multiplication by a public power of two) or `x >> k` (arithmetic for signed,
/// logical for unsigned types) for a non-negative constant `k`.
pub fn shift(b: &mut CircuitBuilder, op: BinOp, s: Scalar, x: WireId, k: u64) -> WireId {
    let w = width(s);
    if op == BinOp::Shl {
        if k >= u64::from(w) {
            return b.constant(0);
        }
        let factor = b.constant(1u64 << k);
        return b.push(Gate::Mul(x, factor));
    }
    let k = k.min(u64::from(w) - 1 + u64::from(!s.is_signed())) as u8;
    if k >= w {
        return b.constant(0);
    }
    let bx = b.push(Gate::A2B(x, w));
    let shifted = if s.is_signed() {
        b.push(Gate::Sar(bx, k, w))
    } else {
        b.push(Gate::Shr(bx, k, w))
    };
    b.push(Gate::B2A(shifted))
}

/// A secret arithmetic value's low `w` bits as two Boolean words whose sum it is, and
/// their AND, all in one round: components 0 + 1 (which party 0 shares) and component
/// 2 (local).
fn two_words(b: &mut CircuitBuilder, x: WireId, w: u8) -> [WireId; 3] {
    [
        b.push(Gate::PairA2B(x, w)),
        b.push(Gate::SplitA2B(x, 2, w)),
        b.push(Gate::PairAnd(x, w)),
    ]
}

/// The top bit of the low `w` bits of an arithmetic value: the sign of a signed one.
/// Depth 1 + ⌈log2(w - 1)⌉ (7 for 64 bits), about 3w ANDs; nothing for an input, whose
/// owner also shares its bits (see `boolean-io`).
fn top_bit(b: &mut CircuitBuilder, x: WireId, w: u8) -> WireId {
    if b.is_arith_input(x) {
        let bits = b.push(Gate::A2B(x, w));
        return b.push(Gate::Shr(bits, w - 1, 1));
    }
    let [u, v, uv] = two_words(b, x, w);
    bits::sum_top_bit(b, u, v, uv, w)
}

/// The sign bit of a signed value, as a `bool` wire.
pub fn is_negative(b: &mut CircuitBuilder, s: Scalar, x: WireId) -> WireId {
    top_bit(b, x, width(s))
}

/// `x < y` as a `bool` wire, exact over the type's whole range (no assumption that the
/// difference does not overflow): the sign of `x - y`, corrected when the subtraction
/// overflowed (the operands' signs differ and the difference's sign is not `x`'s).
/// Unsigned values are compared as if 2^(w-1) were subtracted from both, which maps
/// their order onto two's-complement order: it flips their top bits and leaves the
/// difference as it is.
fn less(b: &mut CircuitBuilder, s: Scalar, x: WireId, y: WireId) -> WireId {
    if s == Scalar::Bool {
        let not_x = b.push(Gate::Not(x, 1));
        return b.push(Gate::And(not_x, y, 1));
    }
    let w = width(s);
    let diff = b.push(Gate::Sub(x, y));
    let [sx, sy] = [x, y].map(|v| {
        let top = top_bit(b, v, w);
        if s.is_signed() {
            top
        } else {
            b.push(Gate::Not(top, 1))
        }
    });
    let sd = top_bit(b, diff, w);
    let signs_differ = b.push(Gate::Xor(sx, sy, 1));
    let flipped = b.push(Gate::Xor(sx, sd, 1));
    let overflow = b.push(Gate::And(signs_differ, flipped, 1));
    b.push(Gate::Xor(sd, overflow, 1))
}

/// `x == y` as a `bool` wire: `x - y = c0 + c1 + c2` is zero exactly when the Boolean
/// words `c0 + c1` and `-c2` are equal. Comparing them pair of bits by pair of bits
/// takes the round in which party 0 shares its word (`PairEq`), and an AND tree over
/// the pairs the rest: w - 1 ANDs, depth ⌈log2 w⌉.
fn equal(b: &mut CircuitBuilder, s: Scalar, x: WireId, y: WireId) -> WireId {
    if s == Scalar::Bool {
        let differ = b.push(Gate::Xor(x, y, 1));
        return b.push(Gate::Not(differ, 1));
    }
    let w = width(s);
    let diff = b.push(Gate::Sub(x, y));
    let pairs_equal = b.push(Gate::PairEq(diff, w));
    bits::all_set(b, pairs_equal, mpc_bytecode::gate::pairs(w))
}

/// For an integer index: one `bool` wire per position `0..len`, set where the index
/// selects it (negative indices of signed types count from the end). The index is
/// split into two Boolean words once; each position then costs a zero test.
pub fn index_matches(b: &mut CircuitBuilder, s: Scalar, index: WireId, len: usize) -> Vec<WireId> {
    let w = width(s);
    let [u, v, uv] = two_words(b, index, w);
    let (lo, hi) = if s.is_signed() {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    };
    let matches = |b: &mut CircuitBuilder, j: i128| {
        (lo..=hi)
            .contains(&j)
            .then(|| bits::sum_equals_const(b, u, v, uv, j as u64, w))
    };
    (0..len as i128)
        .map(|j| match (matches(b, j), matches(b, j - len as i128)) {
            (Some(f), Some(back)) => bits::or(b, f, back, 1),
            (Some(m), None) | (None, Some(m)) => m,
            (None, None) => b.constant(0),
        })
        .collect()
}

/// A comparison as a `bool` wire.
pub fn compare(b: &mut CircuitBuilder, op: CmpOp, s: Scalar, x: WireId, y: WireId) -> WireId {
    let not = |b: &mut CircuitBuilder, w| b.push(Gate::Not(w, 1));
    match op {
        CmpOp::Eq => equal(b, s, x, y),
        CmpOp::Ne => {
            let e = equal(b, s, x, y);
            not(b, e)
        }
        CmpOp::Lt => less(b, s, x, y),
        CmpOp::Gt => less(b, s, y, x),
        CmpOp::Le => {
            let gt = less(b, s, y, x);
            not(b, gt)
        }
        CmpOp::Ge => {
            let lt = less(b, s, x, y);
            not(b, lt)
        }
    }
}

/// `c ? x : y` for a `bool` wire `c`.
pub fn select(b: &mut CircuitBuilder, s: Scalar, c: WireId, x: WireId, y: WireId) -> WireId {
    if x == y {
        return x;
    }
    match b.const_value(c) {
        Some(1) => return x,
        Some(0) => return y,
        _ => {}
    }
    if s == Scalar::Bool {
        return bits::mux(b, c, x, y, 1);
    }
    let diff = b.push(Gate::Sub(x, y));
    let chosen = b.push(Gate::MulBit(c, diff));
    b.push(Gate::Add(y, chosen))
}

/// Python's floor division and remainder (`x // y`, `x % y`) for integers, with a zero
/// divisor giving quotient -1 (all ones) and remainder `x`.
pub fn divmod(b: &mut CircuitBuilder, s: Scalar, x: WireId, y: WireId) -> (WireId, WireId) {
    let w = width(s);
    // A public power-of-two divisor is a shift: `>>` floors, exactly as `//` does.
    let divisor = b.const_value(y).map(|v| s.normalize(v));
    let positive = divisor.filter(|&d| d != 0 && (!s.is_signed() || (d as i64) > 0));
    if let Some(d) = positive.filter(|d| d.is_power_of_two()) {
        let q = shift(b, BinOp::Shr, s, x, u64::from(d.trailing_zeros()));
        let qd = b.push(Gate::Mul(q, y));
        return (q, b.push(Gate::Sub(x, qd)));
    }
    let (bx, by) = (b.push(Gate::A2B(x, w)), b.push(Gate::A2B(y, w)));
    if !s.is_signed() {
        let (q, r) = bits::divide_unsigned(b, bx, 0, by, w, false);
        return (b.push(Gate::B2A(q)), b.push(Gate::B2A(r)));
    }
    let q = signed_floor_quotient(b, bx, 0, by, w);
    let q = b.push(Gate::B2A(q));
    // Python keeps x == q * y + r; this also gives r = x for a zero divisor.
    let qy = b.push(Gate::Mul(q, y));
    let r = b.push(Gate::Sub(x, qy));
    (q, r)
}

/// Fixed-point division `x / y`: ⌊x · 2^16 / y⌋ computed exactly; a zero divisor gives -1.
pub fn fix_div(b: &mut CircuitBuilder, x: WireId, y: WireId) -> WireId {
    let (bx, by) = (b.push(Gate::A2B(x, 64)), b.push(Gate::A2B(y, 64)));
    let q = signed_floor_quotient(b, bx, FIX_FRAC_BITS, by, 64);
    b.push(Gate::B2A(q))
}

/// ⌊x · 2^extra / y⌋ for signed `w`-bit words, as a Boolean word; a zero divisor gives
/// all ones scaled by `2^extra` (-1 in the result's fixed-point scale).
fn signed_floor_quotient(
    b: &mut CircuitBuilder,
    bx: WireId,
    extra: u8,
    by: WireId,
    w: u8,
) -> WireId {
    let sx = b.push(Gate::Shr(bx, w - 1, 1));
    let sy = b.push(Gate::Shr(by, w - 1, 1));
    let ax = bits::negate_if(b, bx, sx, w);
    let ay = bits::negate_if(b, by, sy, w);
    // Magnitudes of signed values are at most 2^(w-1).
    let (q0, r0) = bits::divide_unsigned(b, ax, extra, ay, w, true);
    // With opposite signs the quotient is -q0, or -q0 - 1 = ~q0 when a remainder is
    // left (flooring). -q0 = ~q0 + 1: one adder whose carry-in says "no remainder".
    let opposite = b.push(Gate::Xor(sx, sy, 1));
    let exact = bits::is_zero(b, r0, w);
    let carry = b.push(Gate::And(opposite, exact, 1));
    let spread = b.push(Gate::Broadcast(opposite, w));
    let flipped = b.push(Gate::Xor(q0, spread, w));
    let zero = b.constant(0);
    let (q, _) = bits::add(b, flipped, zero, carry, w);
    let divisor_zero = bits::is_zero(b, by, w);
    let minus_one = b.constant(mask(w) << extra & mask(w));
    bits::mux(b, divisor_zero, minus_one, q, w)
}

/// Converts a value between scalar types (LANGUAGE.md §2 casts): narrowing keeps the low
/// bits, widening sign- or zero-extends by the source's signedness, `bool` gives 0/1,
/// fixed point to integer rounds toward minus infinity, anything to `bool` is `!= 0`.
pub fn cast(b: &mut CircuitBuilder, from: Scalar, to: Scalar, x: WireId) -> WireId {
    match (from, to) {
        _ if from == to => x,
        // Fix → Fix is caught above; the last arm is Fix → Int.
        (Scalar::Bool, Scalar::Int { .. }) => b.push(Gate::B2A(x)),
        (Scalar::Bool, Scalar::Fix) => {
            let one = b.push(Gate::B2A(x));
            let scale = b.constant(1 << FIX_FRAC_BITS);
            b.push(Gate::Mul(one, scale))
        }
        (_, Scalar::Bool) => {
            let zero = b.constant(0);
            compare(b, CmpOp::Ne, from, x, zero)
        }
        (Scalar::Int { bits: fb, signed }, Scalar::Int { bits: tb, .. }) => {
            if tb <= fb {
                return x;
            }
            let bx = b.push(Gate::A2B(x, fb));
            let wide = if signed {
                bits::sign_extend(b, bx, fb, tb)
            } else {
                bx
            };
            b.push(Gate::B2A(wide))
        }
        (Scalar::Int { signed, .. }, Scalar::Fix) => {
            let wide = cast(b, from, Scalar::Int { bits: 64, signed }, x);
            let scale = b.constant(1 << FIX_FRAC_BITS);
            b.push(Gate::Mul(wide, scale))
        }
        (Scalar::Fix, _) => {
            let bx = b.push(Gate::A2B(x, 64));
            let floor = b.push(Gate::Sar(bx, FIX_FRAC_BITS, 64));
            b.push(Gate::B2A(floor))
        }
    }
}
