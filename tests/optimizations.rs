//! Depth-reducing rewrites keep results and reach the depths they promise: chains of
//! products become trees, running minima and maxima become tournaments, dot products
//! are reshared once.

use mpc_compiler::Options;
use mpc_tests::{compile_text, run};
use mpc_vm::ProtocolKind;
use serde_json::json;

fn depth(program: &str) -> u64 {
    compile_text(program, &Options::default()).stats().depth
}

#[test]
fn a_product_written_as_a_loop_has_logarithmic_depth() {
    let program = "x = input(sint[1024], party=0)\nacc = sint(1)\nfor i in range(1024):\n    acc = acc * x[i]\noutput(acc)\n";
    assert_eq!(depth(program), 10);
    let unoptimized = compile_text(
        program,
        &Options {
            optimize: false,
            ..Options::default()
        },
    );
    assert_eq!(unoptimized.stats().depth, 1023, "the chain as written");
}

#[test]
fn running_extremes_are_tournaments_with_the_same_results() {
    let program = "x = input(sint[1024], party=0)\nm = x[0]\nfor i in range(1, 1024):\n    m = max(m, x[i])\noutput(m)\n";
    // 10 levels of one comparison (8 rounds) and one select (1 round).
    assert_eq!(depth(program), 90);

    let small = "x = input(sint[6], party=0)\nhi = x[0]\nfor i in range(1, 6):\n    hi = max(hi, x[i])\nlo = x[0]\nfor v in x:\n    lo = min(v, lo)\nfloor = 0\nfor v in x:\n    floor = min(floor, v)\noutput(hi, name=\"hi\")\noutput(lo, name=\"lo\")\noutput(floor, name=\"floor\")\n";
    let compiled = compile_text(small, &Options::default());
    let got = run(
        &compiled,
        &json!({"0": [[3, -9, 12, 12, 0, 7]]}),
        3,
        ProtocolKind::Rep3,
    )
    .expect("runs");
    assert_eq!(got["2"], json!({"hi": 12, "lo": -9, "floor": -9}));
}

#[test]
fn a_dot_product_is_one_round_and_one_word() {
    let program = "x = input(sint[1000], party=0)\ny = input(sint[1000], party=1)\noutput(sum([x[i] * y[i] for i in range(1000)]))\n";
    let stats = compile_text(program, &Options::default()).stats();
    assert_eq!((stats.depth, stats.mul_gates), (1, 1));
}

#[test]
fn building_blocks_stay_within_their_budgets() {
    let two = |op: &str| {
        format!("a = input(sint, party=0)\nb = input(sint, party=1)\noutput(a {op} b)\n")
    };
    let less = compile_text(&two("<"), &Options::default()).stats();
    assert!(less.and_gates <= 800 && less.depth <= 8, "{less:?}");
    let equal = compile_text(&two("=="), &Options::default()).stats();
    assert!(equal.and_gates <= 64 && equal.depth <= 6, "{equal:?}");
    let select = compile_text(
        "c = input(bool, party=0)
a = input(sint, party=1)
b = input(sint, party=2)
output(a if c else b)
",
        &Options::default(),
    )
    .stats();
    assert_eq!(
        (select.depth, select.mul_gates),
        (1, 1),
        "one bit injection"
    );
    let divide = compile_text(&two("//"), &Options::default()).stats();
    assert!(divide.depth <= 600, "{divide:?}");
}

#[test]
fn one_round_selects_and_comparisons_agree_with_the_clear_protocol() {
    // Selects and bool-to-int casts are bit injections (public or secret bit), small
    // comparisons use the pair tables and the combined AND of the two words.
    let program = "k = input(bool, party=0, public=True)\nc = input(bool, party=1)\nx = input(sint, party=0)\ny = input(sint8, party=1)\nz = input(sint8, party=2)\noutput(x if k else -x, name=\"public_select\")\noutput(sint(c) * 5, name=\"injected\")\noutput(x if c else sint(7), name=\"secret_select\")\noutput(y == z, name=\"eq\")\noutput(y < z, name=\"lt\")\n";
    let compiled = compile_text(program, &Options::default());
    for (k, c, x, y, z) in [
        (true, true, 5i64, -128i64, 127i64),
        (false, false, i64::MIN, 127, -128),
        (true, false, -1, 3, 3),
        (false, true, i64::MAX, -128, -128),
        (true, true, 0, 0, -1),
    ] {
        let inputs = json!({"0": [k, x], "1": [c, y], "2": [z]});
        let clear = run(&compiled, &inputs, 3, ProtocolKind::Clear).expect("runs");
        let rep3 = run(&compiled, &inputs, 3, ProtocolKind::Rep3).expect("runs");
        assert_eq!(clear, rep3, "inputs {inputs}");
        assert_eq!(
            clear["0"],
            json!({
                "public_select": if k { x } else { x.wrapping_neg() },
                "injected": if c { 5 } else { 0 },
                "secret_select": if c { x } else { 7 },
                "eq": y == z,
                "lt": y < z,
            })
        );
    }
}

#[test]
fn inputs_compared_and_added_are_shared_in_both_domains() {
    // Each input is read arithmetically (the sum, the difference) and for its sign, which
    // its owner's Boolean sharing gives for free: a comparison is one sign extraction.
    let program = "a = input(sint, party=0)\nb = input(sint, party=1)\nc = input(suint8, party=0)\nd = input(suint8, party=2)\noutput(a < b, name=\"lt\")\noutput(a >= b, name=\"ge\")\noutput(a + b, name=\"sum\")\noutput(c > d, name=\"gt\")\noutput(c - d, name=\"diff\")\n";
    let compiled = compile_text(program, &Options::default());
    let stats = compiled.stats();
    assert!(
        stats.conversions == 2 && stats.nonlinear <= 2 * 200,
        "{stats:?}"
    );
    let computed = compile_text(
        "a = input(sint, party=0)\nb = input(sint, party=1)\noutput(a * 3 < b + 1)\n",
        &Options::default(),
    )
    .stats();
    assert_eq!(computed.conversions, 3, "{computed:?}");
    for (a, b, c, d) in [
        (i64::MIN, i64::MAX, 0u8, 255u8),
        (i64::MAX, i64::MIN, 255, 0),
        (-1, 0, 128, 127),
        (5, 5, 7, 7),
        (i64::MIN, -1, 1, 200),
    ] {
        let inputs = json!({"0": [a, c], "1": [b], "2": [d]});
        let rep3 = run(&compiled, &inputs, 3, ProtocolKind::Rep3).expect("runs");
        assert_eq!(
            rep3["1"],
            json!({
                "lt": a < b,
                "ge": a >= b,
                "sum": a.wrapping_add(b),
                "gt": c > d,
                "diff": c.wrapping_sub(d),
            }),
            "inputs {inputs}"
        );
    }
}

#[test]
fn and_and_or_chains_become_trees() {
    let program = "b = input(sbool[64], party=0)\nall_set = b[0]\nany_set = b[0]\nfor i in range(1, 64):\n    all_set = all_set & b[i]\n    any_set = any_set | b[i]\noutput(all_set, name=\"all\")\noutput(any_set, name=\"any\")\n";
    let compiled = compile_text(program, &Options::default());
    let stats = compiled.stats();
    assert_eq!((stats.depth, stats.and_gates), (6, 126), "{stats:?}");
    for ones in [0usize, 1, 63, 64] {
        let bits: Vec<bool> = (0..64).map(|i| i < ones).collect();
        let got = run(&compiled, &json!({"0": [bits]}), 3, ProtocolKind::Rep3).expect("runs");
        assert_eq!(
            got["1"],
            json!({"all": ones == 64, "any": ones > 0}),
            "{ones} ones"
        );
    }
}

#[test]
fn sums_of_products_agree_with_the_clear_protocol() {
    let inner = |n: usize| {
        format!("x = input(sint[{n}], party=0)\ny = input(sint[{n}], party=1)\noutput(sum([x[i] * y[i] for i in range({n})]))\n")
    };
    let programs = [
        // The VM adds these up in one loop.
        (inner(7), 7),
        (inner(64), 64),
        // `y` backwards: operands that advance at different strides.
        ("x = input(sint[7], party=0)\ny = input(sint[7], party=1)\noutput(sum([x[i] * y[6 - i] for i in range(7)]))\n".to_string(), 7),
        // Two sums in one round, one with a product also given out on its own: its
        // products are read twice.
        ("x = input(sint[5], party=0)\ny = input(sint[5], party=1)\np = [x[i] * y[i] for i in range(5)]\noutput(sum(p), name=\"s\")\noutput(p[2], name=\"p\")\noutput(sum([x[i] * x[i] for i in range(5)]), name=\"q\")\n".to_string(), 5),
    ];
    // Large values, so that the products wrap.
    let values = |n: usize, seed: i64| -> Vec<i64> {
        (1..=n as i64)
            .map(|i| {
                i.wrapping_mul(seed)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as i64)
            })
            .collect()
    };
    for (program, n) in &programs {
        let compiled = compile_text(program, &Options::default());
        let inputs = json!({"0": [values(*n, 3)], "1": [values(*n, -5)]});
        let clear = mpc_tests::run_clear(&compiled, &inputs, 3).expect("runs");
        let rep3 = run(&compiled, &inputs, 3, ProtocolKind::Rep3).expect("runs");
        assert_eq!(rep3, clear, "{program}");
    }
}
