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
    // 10 levels of one comparison (9 rounds) and one select (3 rounds).
    assert!(depth(program) <= 120, "depth {}", depth(program));

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
    assert!(less.and_gates <= 800 && less.depth <= 9, "{less:?}");
    let equal = compile_text(&two("=="), &Options::default()).stats();
    assert!(equal.and_gates <= 64 && equal.depth <= 7, "{equal:?}");
    let divide = compile_text(&two("//"), &Options::default()).stats();
    assert!(divide.depth <= 600, "{divide:?}");
}
