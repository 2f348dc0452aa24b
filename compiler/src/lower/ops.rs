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

/// The sign bit of a signed value, as a `bool` wire.
pub fn is_negative(b: &mut CircuitBuilder, s: Scalar, x: WireId) -> WireId {
    let w = width(s);
    let bx = b.push(Gate::A2B(x, w));
    b.push(Gate::Shr(bx, w - 1, 1))
}

/// `x < y` as a `bool` wire, exact over the type's whole range (no assumption that the
/// difference does not overflow).
fn less(b: &mut CircuitBuilder, s: Scalar, x: WireId, y: WireId) -> WireId {
    if s == Scalar::Bool {
        let not_x = b.push(Gate::Not(x, 1));
        return b.push(Gate::And(not_x, y, 1));
    }
    if s.is_signed() && b.const_value(y) == Some(0) {
        return is_negative(b, s, x);
    }
    let w = width(s);
    let (mut bx, mut by) = (b.push(Gate::A2B(x, w)), b.push(Gate::A2B(y, w)));
    if s.is_signed() {
        // Flipping the sign bits maps two's-complement order onto unsigned order.
        let flip = b.constant(1 << (w - 1));
        bx = b.push(Gate::Xor(bx, flip, w));
        by = b.push(Gate::Xor(by, flip, w));
    }
    bits::less_unsigned(b, bx, by, w)
}

/// `x == y` as a `bool` wire.
fn equal(b: &mut CircuitBuilder, s: Scalar, x: WireId, y: WireId) -> WireId {
    if s == Scalar::Bool {
        let differ = b.push(Gate::Xor(x, y, 1));
        return b.push(Gate::Not(differ, 1));
    }
    let w = width(s);
    let diff = b.push(Gate::Sub(x, y));
    let bits = b.push(Gate::A2B(diff, w));
    bits::is_zero(b, bits, w)
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
    let c_arith = b.push(Gate::B2A(c));
    let chosen = b.push(Gate::Mul(c_arith, diff));
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
        let (q, r) = bits::divide_unsigned(b, bx, 0, by, w);
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
    let (q0, r0) = bits::divide_unsigned(b, ax, extra, ay, w);
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
