//! Random programs (operator × type × literal mixes) on random inputs: the compiled
//! circuit, run by the VM's clear protocol, must give exactly what an independent model
//! of LANGUAGE.md §3 computes here on `i128`; and the optimized and unoptimized
//! pipelines must agree.

use mpc_compiler::Options;
use mpc_tests::{compile_text, run, run_clear};
use mpc_vm::ProtocolKind;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
struct IntType {
    bits: u32,
    signed: bool,
}

impl IntType {
    fn name(self) -> String {
        format!("s{}int{}", if self.signed { "" } else { "u" }, self.bits)
    }

    /// `v` wrapped into the type's range.
    fn wrap(self, v: i128) -> i128 {
        let m = 1i128 << self.bits;
        let r = v.rem_euclid(m);
        if self.signed && r >= m / 2 {
            r - m
        } else {
            r
        }
    }

    fn range(self) -> (i128, i128) {
        if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        }
    }
}

#[derive(Clone, Debug)]
enum Expr {
    A,
    B,
    Lit(i128),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Invert(Box<Expr>),
    Shift(&'static str, Box<Expr>, u32),
    /// `T(x op y)`: a comparison converted back to the integer type.
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    /// `x if c1 op c2 else y`
    Select(&'static str, Box<Expr>, Box<Expr>, Box<Expr>, Box<Expr>),
    Min(Box<Expr>, Box<Expr>),
    Max(Box<Expr>, Box<Expr>),
    Abs(Box<Expr>),
}

const BINARY: [&str; 8] = ["+", "-", "*", "//", "%", "&", "|", "^"];
const COMPARE: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

fn expr(depth: u32) -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![Just(Expr::A), Just(Expr::B)].boxed();
    if depth == 0 {
        return leaf;
    }
    let sub = || expr(depth - 1);
    prop_oneof![
        2 => leaf,
        4 => (proptest::sample::select(&BINARY[..]), sub(), sub()).prop_map(|(op, l, r)| Expr::Bin(op, Box::new(l), Box::new(r))),
        // Literals only on the right of an input-carrying operand, and never a zero
        // divisor, so every program compiles.
        2 => (proptest::sample::select(&BINARY[..]), sub(), 1i128..100).prop_map(|(op, l, k)| Expr::Bin(op, Box::new(l), Box::new(Expr::Lit(k)))),
        1 => sub().prop_map(|e| Expr::Neg(Box::new(e))),
        1 => sub().prop_map(|e| Expr::Invert(Box::new(e))),
        1 => (prop_oneof![Just("<<"), Just(">>")], sub(), 0u32..70).prop_map(|(op, e, k)| Expr::Shift(op, Box::new(e), k)),
        1 => (proptest::sample::select(&COMPARE[..]), sub(), sub()).prop_map(|(op, l, r)| Expr::Cmp(op, Box::new(l), Box::new(r))),
        1 => (proptest::sample::select(&COMPARE[..]), sub(), sub(), sub(), sub())
            .prop_map(|(op, c1, c2, x, y)| Expr::Select(op, Box::new(c1), Box::new(c2), Box::new(x), Box::new(y))),
        1 => (sub(), sub()).prop_map(|(l, r)| Expr::Min(Box::new(l), Box::new(r))),
        1 => (sub(), sub()).prop_map(|(l, r)| Expr::Max(Box::new(l), Box::new(r))),
        1 => sub().prop_map(|e| Expr::Abs(Box::new(e))),
    ]
    .boxed()
}

fn source(e: &Expr, t: IntType) -> String {
    match e {
        Expr::A => "a".into(),
        Expr::B => "b".into(),
        Expr::Lit(k) => k.to_string(),
        Expr::Bin(op, l, r) => format!("({} {op} {})", source(l, t), source(r, t)),
        Expr::Neg(x) => format!("(-{})", source(x, t)),
        Expr::Invert(x) => format!("(~{})", source(x, t)),
        Expr::Shift(op, x, k) => format!("({} {op} {k})", source(x, t)),
        Expr::Cmp(op, l, r) => format!("{}({} {op} {})", t.name(), source(l, t), source(r, t)),
        Expr::Select(op, c1, c2, x, y) => {
            format!(
                "({} if {} {op} {} else {})",
                source(x, t),
                source(c1, t),
                source(c2, t),
                source(y, t)
            )
        }
        Expr::Min(l, r) => format!("min({}, {})", source(l, t), source(r, t)),
        Expr::Max(l, r) => format!("max({}, {})", source(l, t), source(r, t)),
        Expr::Abs(x) => format!("abs({})", source(x, t)),
    }
}

fn floor_div(x: i128, y: i128) -> i128 {
    let q = x / y;
    if x % y != 0 && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    }
}

fn compare(op: &str, x: i128, y: i128) -> bool {
    match op {
        "==" => x == y,
        "!=" => x != y,
        "<" => x < y,
        "<=" => x <= y,
        ">" => x > y,
        ">=" => x >= y,
        _ => unreachable!("comparison operators only"),
    }
}

/// The model: LANGUAGE.md §3 on mathematical integers, wrapped after each operation.
fn model(e: &Expr, t: IntType, a: i128, b: i128) -> i128 {
    let m = |e: &Expr| model(e, t, a, b);
    match e {
        Expr::A => a,
        Expr::B => b,
        Expr::Lit(k) => *k,
        Expr::Bin(op, l, r) => {
            let (x, y) = (m(l), m(r));
            match *op {
                "+" => t.wrap(x + y),
                "-" => t.wrap(x - y),
                // Wrapping in i128 keeps the product modulo 2^64 (2^128 is a multiple).
                "*" => t.wrap(x.wrapping_mul(y)),
                // A zero divisor gives quotient -1 (all ones) and remainder x.
                "//" if y == 0 => t.wrap(-1),
                "%" if y == 0 => x,
                "//" => t.wrap(floor_div(x, y)),
                "%" => t.wrap(x - floor_div(x, y) * y),
                "&" => t.wrap(x & y),
                "|" => t.wrap(x | y),
                "^" => t.wrap(x ^ y),
                _ => unreachable!("binary operators only"),
            }
        }
        Expr::Neg(x) => t.wrap(-m(x)),
        Expr::Invert(x) => t.wrap(!m(x)),
        Expr::Shift(op, x, k) => {
            let v = m(x);
            match *op {
                "<<" if *k >= t.bits => 0,
                "<<" => t.wrap(v << k),
                _ => t.wrap(v >> (*k).min(127)),
            }
        }
        Expr::Cmp(op, l, r) => i128::from(compare(op, m(l), m(r))),
        Expr::Select(op, c1, c2, x, y) => {
            if compare(op, m(c1), m(c2)) {
                m(x)
            } else {
                m(y)
            }
        }
        Expr::Min(l, r) => m(l).min(m(r)),
        Expr::Max(l, r) => m(l).max(m(r)),
        Expr::Abs(x) => t.wrap(m(x).abs()),
    }
}

fn int_type() -> impl Strategy<Value = IntType> {
    (
        proptest::sample::select(&[8u32, 16, 32, 64][..]),
        any::<bool>(),
    )
        .prop_map(|(bits, signed)| IntType { bits, signed })
}

/// Inputs biased toward the edges of the range, where wrapping and signs matter.
fn value(t: IntType) -> impl Strategy<Value = i128> {
    let (lo, hi) = t.range();
    prop_oneof![
        Just(lo),
        Just(hi),
        Just(0),
        Just(1),
        Just(t.wrap(-1)),
        -20i128..20,
        (0.0f64..1.0).prop_map(move |f| lo + ((hi - lo) as f64 * f) as i128),
    ]
    .prop_map(move |v| t.wrap(v))
}

fn case() -> impl Strategy<Value = (IntType, Expr, i128, i128)> {
    int_type().prop_flat_map(|t| (Just(t), expr(3), value(t), value(t)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn compiled_programs_compute_what_the_language_says(
        (t, e, a, b) in case(),
        learners in prop::sample::subsequence(vec![0u32, 1, 2], 1..=3),
    ) {
        let program = format!(
            "a = input({ty}, party=0)\nb = input({ty}, party=1)\noutput({}, name=\"r\")\n",
            source(&e, t),
            ty = t.name()
        );
        let as_json = |v: i128| if t.signed { json!(v as i64) } else { json!(v as u64) };
        let inputs = json!({"0": [as_json(a)], "1": [as_json(b)]});
        let expected = t.wrap(model(&e, t, a, b));
        for optimize in [true, false] {
            let compiled = compile_text(&program, &Options { optimize, ..Options::default() });
            let got = run_clear(&compiled, &inputs, 3).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got["0"]["r"], &as_json(expected), "program:\n{}inputs a={} b={}", program, a, b);
            prop_assert_eq!(&got["1"]["r"], &as_json(expected));
        }
        // The secure protocol computes the same, for the parties that learn it (all of
        // them, or some: rep3 opens a last product to those alone).
        let program = program.replace("name=\"r\"", &format!("name=\"r\", to={learners:?}"));
        let compiled = compile_text(&program, &Options::default());
        let got = run(&compiled, &inputs, 3, ProtocolKind::Rep3).map_err(TestCaseError::fail)?;
        for party in 0..3u32 {
            let want = if learners.contains(&party) { as_json(expected) } else { Value::Null };
            prop_assert_eq!(&got[party.to_string()]["r"], &want, "rep3, party {}:\n{}a={} b={}", party, program, a, b);
        }
    }
}
