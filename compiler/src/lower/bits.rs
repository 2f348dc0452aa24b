//! Boolean building blocks on words of `w` bits (1..=64): adders, comparators, equality,
//! multiplexers and division. Each is a function that adds gates to a builder and
//! returns the result wire. Adders use a Kogge–Stone parallel prefix, so their AND-depth
//! is ⌈log2 w⌉ rather than the w - 1 of a ripple-carry adder.

use mpc_bytecode::{mask, Gate, WireId};

use crate::circuit::{CircuitBuilder, Goal};

/// `x | y` on `w`-bit words, as `!(!x & !y)`: one AND, and in a chain of ORs the inner
/// complements cancel, so `balance` sees a chain of ANDs.
pub fn or(b: &mut CircuitBuilder, x: WireId, y: WireId, w: u8) -> WireId {
    let not_x = b.push(Gate::Not(x, w));
    let not_y = b.push(Gate::Not(y, w));
    let neither = b.push(Gate::And(not_x, not_y, w));
    b.push(Gate::Not(neither, w))
}

/// `c ? x : y` for a 1-bit `c` and `w`-bit words (one AND level).
pub fn mux(b: &mut CircuitBuilder, c: WireId, x: WireId, y: WireId, w: u8) -> WireId {
    let diff = b.push(Gate::Xor(x, y, w));
    let spread = b.push(Gate::Broadcast(c, w));
    let chosen = b.push(Gate::And(spread, diff, w));
    b.push(Gate::Xor(y, chosen, w))
}

/// The carry out of every bit position of an addition, from the generate (`g`) and
/// propagate (`p`) words, which must be disjoint. Kogge–Stone: ⌈log2 w⌉ AND levels;
/// for [`Goal::Size`], a ripple chain: w - 1 ANDs of one bit, w - 1 levels.
fn carries(b: &mut CircuitBuilder, g: WireId, p: WireId, w: u8) -> WireId {
    if b.goal() == Goal::Size {
        let chain = ripple(b, g, p, w);
        return chain
            .into_iter()
            .enumerate()
            .fold(b.constant(0), |word, (i, c)| {
                let placed = b.push(Gate::Shl(c, i as u8, w));
                b.push(Gate::Xor(word, placed, w))
            });
    }
    let (mut g, mut p) = (g, p);
    let mut d = 1u8;
    while d < w {
        // Group [i-2d+1, i] generates if its upper half does, or propagates what its lower
        // half generates; generate and propagate stay disjoint, so OR is XOR.
        let shifted = b.push(Gate::Shl(g, d, w));
        let through = b.push(Gate::And(p, shifted, w));
        g = b.push(Gate::Xor(g, through, w));
        if u16::from(d) * 2 < u16::from(w) {
            let p_shifted = b.push(Gate::Shl(p, d, w));
            p = b.push(Gate::And(p, p_shifted, w));
        }
        d = d.saturating_mul(2);
    }
    g
}

/// `x + y + carry_in` on `w`-bit words: the sum and the carry out of the top bit.
/// `carry_in` is a 1-bit wire (a constant 0 or 1 costs nothing).
pub fn add(
    b: &mut CircuitBuilder,
    x: WireId,
    y: WireId,
    carry_in: WireId,
    w: u8,
) -> (WireId, WireId) {
    let g = b.push(Gate::And(x, y, w));
    let p = b.push(Gate::Xor(x, y, w));
    // Fold the carry-in into bit 0: it generates there when it is propagated, and bit 0
    // then propagates nothing further (keeping generate and propagate disjoint).
    let enters = b.push(Gate::And(p, carry_in, w));
    let g = b.push(Gate::Xor(g, enters, w));
    let not_bit0 = b.constant(mask(w) ^ 1);
    let p_rest = b.push(Gate::And(p, not_bit0, w));
    let out = carries(b, g, p_rest, w);
    let shifted = b.push(Gate::Shl(out, 1, w));
    let carry_into = b.push(Gate::Xor(shifted, carry_in, w));
    let sum = b.push(Gate::Xor(p, carry_into, w));
    let top = b.push(Gate::Shr(out, w - 1, 1));
    (sum, top)
}

/// `x - y` on `w`-bit words and whether no borrow occurred (`x >= y` unsigned).
pub fn sub(b: &mut CircuitBuilder, x: WireId, y: WireId, w: u8) -> (WireId, WireId) {
    let not_y = b.push(Gate::Not(y, w));
    let one = b.constant(1);
    add(b, x, not_y, one, w)
}

/// `x < y` for unsigned `w`-bit words, as one bit.
pub fn less_unsigned(b: &mut CircuitBuilder, x: WireId, y: WireId, w: u8) -> WireId {
    let (_, no_borrow) = sub(b, x, y, w);
    b.push(Gate::Not(no_borrow, 1))
}

/// Whether the `w`-bit word `x` is zero, as one bit: a balanced AND tree over the
/// complemented bits (w - 1 ANDs, depth ⌈log2 w⌉).
pub fn is_zero(b: &mut CircuitBuilder, x: WireId, w: u8) -> WireId {
    let complement = b.push(Gate::Not(x, w));
    all_set(b, complement, w)
}

/// Whether every bit of the `w`-bit word `x` is set, as one bit: a balanced AND tree
/// (w - 1 ANDs, depth ⌈log2 w⌉).
pub fn all_set(b: &mut CircuitBuilder, x: WireId, w: u8) -> WireId {
    let padded = (w as u32).next_power_of_two().min(64) as u8;
    // Padding bits are ones so that they do not disturb the AND.
    let padding = b.constant(mask(padded) ^ mask(w));
    let mut t = b.push(Gate::Xor(x, padding, padded));
    let mut width = padded;
    while width > 1 {
        let half = width / 2;
        let lo = b.push(Gate::Shr(t, 0, half));
        let hi = b.push(Gate::Shr(t, half, half));
        t = b.push(Gate::And(lo, hi, half));
        width = half;
    }
    t
}

/// `-x` on a `w`-bit word when the 1-bit `negate` is set, `x` otherwise.
pub fn negate_if(b: &mut CircuitBuilder, x: WireId, negate: WireId, w: u8) -> WireId {
    let spread = b.push(Gate::Broadcast(negate, w));
    let flipped = b.push(Gate::Xor(x, spread, w));
    let zero = b.constant(0);
    add(b, flipped, zero, negate, w).0
}

/// The carry out of the top bit of an addition whose generate (`g`) and propagate
/// (`p`) words of `w` bits are disjoint: a tree that pairs neighbouring positions and
/// packs each level into a dense word (`Pext`), so it needs about 2w ANDs and
/// ⌈log2 w⌉ AND levels (a Kogge–Stone prefix, which computes every carry, needs w per
/// level).
pub fn carry_out(b: &mut CircuitBuilder, g: WireId, p: WireId, w: u8) -> WireId {
    if b.goal() == Goal::Size {
        return ripple(b, g, p, w).pop().unwrap_or_else(|| b.constant(0));
    }
    let (mut g, mut p, mut n) = (g, p, w);
    while n > 1 {
        if n % 2 == 1 {
            // An odd count gets a position below the others that neither generates nor
            // receives a carry (two local shifts), so that every position has a pair.
            n += 1;
            g = b.push(Gate::Shl(g, 1, n));
            p = b.push(Gate::Shl(p, 1, n));
        }
        let half = n / 2;
        let even = 0x5555_5555_5555_5555u64 & mask(n);
        let odd = even << 1;
        let [g_lo, g_hi, p_lo, p_hi] =
            [(g, even), (g, odd), (p, even), (p, odd)].map(|(word, m)| b.push(Gate::Pext(word, m)));
        // Each pair generates if its upper bit does, or propagates what the lower one
        // generates; generate and propagate stay disjoint, so OR is XOR.
        let through = b.push(Gate::And(p_hi, g_lo, half));
        g = b.push(Gate::Xor(g_hi, through, half));
        if half > 1 {
            p = b.push(Gate::And(p_hi, p_lo, half));
        }
        n = half;
    }
    g
}

/// The carry out of each bit, one after the other: carry_i = g_i ^ (p_i & carry_{i-1}).
fn ripple(b: &mut CircuitBuilder, g: WireId, p: WireId, w: u8) -> Vec<WireId> {
    let mut chain: Vec<WireId> = Vec::with_capacity(usize::from(w));
    for i in 0..w {
        let gi = b.push(Gate::Shr(g, i, 1));
        let carry = match chain.last() {
            None => gi,
            Some(&previous) => {
                let pi = b.push(Gate::Shr(p, i, 1));
                let through = b.push(Gate::And(pi, previous, 1));
                b.push(Gate::Xor(gi, through, 1))
            }
        };
        chain.push(carry);
    }
    chain
}

/// The top bit of `u + v` for `w`-bit words (the sign of a sum of two shares), given
/// `uv = u & v` (which a protocol may compute with the words themselves).
pub fn sum_top_bit(b: &mut CircuitBuilder, u: WireId, v: WireId, uv: WireId, w: u8) -> WireId {
    let sum_without_carries = b.push(Gate::Xor(u, v, w));
    let top = b.push(Gate::Shr(sum_without_carries, w - 1, 1));
    if w == 1 {
        return top;
    }
    let g = b.push(Gate::Shr(uv, 0, w - 1));
    let p = b.push(Gate::Shr(sum_without_carries, 0, w - 1));
    let carry = carry_out(b, g, p, w - 1);
    b.push(Gate::Xor(top, carry, 1))
}

/// Whether `u + v ≡ k (mod 2^w)`, given `uv = u & v`: with the sum fixed, every carry
/// is fixed too, so the test is one bitwise comparison (no carry chain) and a zero
/// test; `uv` can be shared among many constants `k`.
pub fn sum_equals_const(
    b: &mut CircuitBuilder,
    u: WireId,
    v: WireId,
    uv: WireId,
    k: u64,
    w: u8,
) -> WireId {
    let not_k = b.constant(!k & mask(w));
    let k = b.constant(k & mask(w));
    let either = b.push(Gate::Xor(u, v, w));
    // Carry into bit i+1 if the sum bit i is k_i: majority(u_i, v_i, u_i ^ v_i ^ k_i)
    // = (u_i & v_i) | ((u_i ^ v_i) & !k_i), the two terms disjoint.
    let propagated = b.push(Gate::And(either, not_k, w));
    let carries = b.push(Gate::Xor(uv, propagated, w));
    let carries_in = b.push(Gate::Shl(carries, 1, w));
    let sum_bits = b.push(Gate::Xor(either, carries_in, w));
    let diff = b.push(Gate::Xor(sum_bits, k, w));
    is_zero(b, diff, w)
}

/// Sign-extends the `from`-bit word `x` to `to` bits.
pub fn sign_extend(b: &mut CircuitBuilder, x: WireId, from: u8, to: u8) -> WireId {
    let gap = to - from;
    let up = b.push(Gate::Shl(x, gap, to));
    b.push(Gate::Sar(up, gap, to))
}

/// Unsigned restoring division of `x · 2^extra` by `y` (both `w`-bit words): the low `w`
/// bits of the quotient and the remainder. Division by zero gives an all-ones quotient
/// and the dividend as remainder (for `extra = 0`).
///
/// The remainder never needs more than `w` bits: when its top bit is set before the
/// shift, the shifted value exceeds any `w`-bit divisor, so the subtraction is taken and
/// its wrapped result is exact. When the caller knows the divisor is at most 2^(w-1)
/// (`half_range`, as for magnitudes of signed values), the remainder's top bit is never
/// set and that check — an AND level per quotient bit — is left out.
pub fn divide_unsigned(
    b: &mut CircuitBuilder,
    x: WireId,
    extra: u8,
    y: WireId,
    w: u8,
    half_range: bool,
) -> (WireId, WireId) {
    let mut rem = b.constant(0);
    let mut quotient = b.constant(0);
    for i in (0..u16::from(w) + u16::from(extra)).rev() {
        let overflow = b.push(Gate::Shr(rem, w - 1, 1));
        let next_bit = match i.checked_sub(u16::from(extra)) {
            Some(pos) => b.push(Gate::Shr(x, pos as u8, 1)),
            None => b.constant(0),
        };
        let shifted = b.push(Gate::Shl(rem, 1, w));
        let candidate = b.push(Gate::Xor(shifted, next_bit, w));
        let (diff, no_borrow) = sub(b, candidate, y, w);
        let take = if half_range {
            no_borrow
        } else {
            or(b, overflow, no_borrow, 1)
        };
        rem = mux(b, take, diff, candidate, w);
        if i < u16::from(w) {
            let bit = b.push(Gate::Shl(take, i as u8, w));
            quotient = b.push(Gate::Xor(quotient, bit, w));
        }
    }
    (quotient, rem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;

    /// Builds a two-input Boolean circuit for each goal, evaluates it on many pairs, and
    /// compares with `reference`.
    fn check(
        w: u8,
        build: impl Fn(&mut CircuitBuilder, WireId, WireId) -> WireId,
        reference: impl Fn(u64, u64) -> u64,
    ) {
        for goal in [Goal::Depth, Goal::Size] {
            let mut b = CircuitBuilder::with_goal(goal);
            // Arithmetic inputs converted to `w`-bit words, so the builder knows their width.
            let xa = b.test_input(0, 0);
            let ya = b.test_input(1, 0);
            let x = b.push(Gate::A2B(xa, w));
            let y = b.push(Gate::A2B(ya, w));
            let out = build(&mut b, x, y);
            let c = b.finish();
            let m = mask(w);
            let samples = [
                0,
                1,
                2,
                3,
                5,
                7,
                m,
                m - 1,
                m >> 1,
                (m >> 1) + 1,
                0x5555_5555_5555_5555,
                0x0123_4567_89ab_cdef,
            ];
            // Boolean words never have bits set above their width.
            for a in samples.map(|v| v & m) {
                for bb in samples.map(|v| v & m) {
                    let got = interp::eval_wire(&c, &[vec![a], vec![bb]], out).expect("evaluates");
                    assert_eq!(
                        got,
                        reference(a, bb) & m,
                        "{goal:?} w={w} a={a:#x} b={bb:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn adders_match_wrapping_arithmetic() {
        for w in [1, 3, 8, 16, 33, 64] {
            let zero = |b: &mut CircuitBuilder| b.constant(0);
            check(
                w,
                |b, x, y| {
                    let z = zero(b);
                    add(b, x, y, z, w).0
                },
                |a, c| a.wrapping_add(c),
            );
            check(w, |b, x, y| sub(b, x, y, w).0, |a, c| a.wrapping_sub(c));
            check(w, |b, x, y| sub(b, x, y, w).1, |a, c| u64::from(a >= c));
            check(
                w,
                |b, x, y| less_unsigned(b, x, y, w),
                |a, c| u64::from(a < c),
            );
        }
    }

    #[test]
    fn zero_test_and_mux() {
        for w in [1, 5, 8, 64] {
            check(w, |b, x, _| is_zero(b, x, w), |a, _| u64::from(a == 0));
            check(
                w,
                |b, x, y| {
                    let c = b.push(Gate::Shr(x, 0, 1));
                    mux(b, c, x, y, w)
                },
                |a, c| if a & 1 == 1 { a } else { c },
            );
            check(w, |b, x, y| or(b, x, y, w), |a, c| a | c);
        }
    }

    #[test]
    fn negation_and_sign_extension() {
        check(
            16,
            |b, x, y| {
                let s = b.push(Gate::Shr(y, 0, 1));
                negate_if(b, x, s, 16)
            },
            |a, c| if c & 1 == 1 { a.wrapping_neg() } else { a },
        );
        // Sign extension widens, so its result is checked on its own 32 bits: the low
        // byte holds the sign-extended value and the next bits the copies of the sign.
        check(
            8,
            |b, x, _| {
                let wide = sign_extend(b, x, 8, 32);
                b.push(Gate::Shr(wide, 8, 8))
            },
            |a, _| if a & 0x80 != 0 { 0xff } else { 0 },
        );
        check(
            8,
            |b, x, _| {
                let wide = sign_extend(b, x, 8, 32);
                b.push(Gate::Shr(wide, 0, 8))
            },
            |a, _| a,
        );
    }

    #[test]
    fn carry_trees_match_addition() {
        for w in [1, 2, 3, 5, 8, 31, 63, 64] {
            let carry = |a: u64, c: u64| u64::from((u128::from(a) + u128::from(c)) >> w & 1 == 1);
            check(
                w,
                |b, x, y| {
                    let g = b.push(Gate::And(x, y, w));
                    let p = b.push(Gate::Xor(x, y, w));
                    carry_out(b, g, p, w)
                },
                carry,
            );
            check(
                w,
                |b, x, y| {
                    let xy = b.push(Gate::And(x, y, w));
                    sum_top_bit(b, x, y, xy, w)
                },
                |a, c| a.wrapping_add(c) >> (w - 1) & 1,
            );
            for k in [0, 1, 5, mask(w), 0x8000_0000_0000_0000 & mask(w)] {
                check(
                    w,
                    |b, x, y| {
                        let xy = b.push(Gate::And(x, y, w));
                        sum_equals_const(b, x, y, xy, k, w)
                    },
                    |a, c| u64::from(a.wrapping_add(c) & mask(w) == k & mask(w)),
                );
            }
        }
    }

    #[test]
    fn division_matches_integer_division() {
        for w in [4, 8, 64] {
            check(
                w,
                |b, x, y| divide_unsigned(b, x, 0, y, w, false).0,
                |a, c| a.checked_div(c).unwrap_or(u64::MAX),
            );
            check(
                w,
                |b, x, y| divide_unsigned(b, x, 0, y, w, false).1,
                |a, c| if c == 0 { a } else { a % c },
            );
        }
        // With 4 extra low zero bits: (a << 4) / c, keeping the low w bits.
        check(
            16,
            |b, x, y| divide_unsigned(b, x, 4, y, 16, false).0,
            |a, c| (a << 4).checked_div(c).unwrap_or(u64::MAX),
        );
    }
}
