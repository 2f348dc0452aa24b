//! Circuit figures: `cargo bench -p mpc-compiler --bench circuits`.
//!
//! Prints, for each building block and standard-library function, the nonlinear
//! gates (ANDs in bits, plus multiplications) and the depth in rounds that
//! `mpcc stats` reports for `-O depth` (the default) and `-O size`, next to the
//! published Bristol Fashion circuit for the same function where there is one (figures
//! from ../shared/circuits/STATS.md). Rows marked "bits" are the Boolean form that
//! `mpcc build --emit bristol` writes, read back as `mpcc stats --bristol` reads it.

use mpc_compiler::circuit::Goal;
use mpc_compiler::{bristol, compile_bristol_str, compile_str, Compiled, Options};

struct Case {
    name: &'static str,
    program: String,
    /// Measure the exported Boolean circuit rather than the program.
    bits: bool,
    /// The Bristol Fashion circuit's ANDs and AND-depth, where one exists.
    bristol: Option<(&'static str, u64, u64)>,
}

fn two(ty: &str, op: &str) -> String {
    format!("a = input({ty}, party=0)\nb = input({ty}, party=1)\noutput(a {op} b)\n")
}

fn cases() -> Vec<Case> {
    let case = |name, program: String, bits, bristol| Case {
        name,
        program,
        bits,
        bristol,
    };
    vec![
        case(
            "product of 1024 sint, as a loop",
            "x = input(sint[1024], party=0)\nacc = sint(1)\nfor i in range(1024):\n    acc = acc * x[i]\noutput(acc)\n".into(),
            false,
            None,
        ),
        case(
            "running max of 1024 sint, as a loop",
            "x = input(sint[1024], party=0)\nm = x[0]\nfor i in range(1, 1024):\n    m = max(m, x[i])\noutput(m)\n".into(),
            false,
            None,
        ),
        case(
            "AND of 64 sbool, as a loop",
            "b = input(sbool[64], party=0)\nacc = b[0]\nfor i in range(1, 64):\n    acc = acc & b[i]\noutput(acc)\n".into(),
            false,
            Some(("zero_equal.txt", 63, 6)),
        ),
        case("suint64 + (bits)", two("suint64", "+"), true, Some(("adder64.txt", 63, 63))),
        case("suint64 - (bits)", two("suint64", "-"), true, Some(("sub64.txt", 63, 63))),
        case("suint64 * (bits)", two("suint64", "*"), true, Some(("mult64.txt", 4033, 63))),
        case("sint64 <", two("sint64", "<"), false, None),
        case("sint64 ==", two("sint64", "=="), false, None),
        case(
            "sint64 select (a if c else b)",
            "c = input(bool, party=0)\na = input(sint, party=1)\nb = input(sint, party=2)\noutput(a if c else b)\n".into(),
            false,
            None,
        ),
        case("sint64 //", two("sint64", "//"), false, Some(("divide64.txt (truncating)", 4664, 4158))),
        case("suint64 //", two("suint64", "//"), false, Some(("udivide64.txt", 4285, 2204))),
        case(
            "aes128_encrypt",
            "from aes import aes128_encrypt\nkey = input(suint8[16], party=0)\nblock = input(suint8[16], party=1)\noutput(aes128_encrypt(key, block))\n".into(),
            false,
            Some(("AES-non-expanded.txt", 6800, 40)),
        ),
        case(
            "aes128_encrypt_small",
            "from aes import aes128_encrypt_small\nkey = input(suint8[16], party=0)\nblock = input(suint8[16], party=1)\noutput(aes128_encrypt_small(key, block))\n".into(),
            false,
            Some(("aes_128.txt", 6400, 60)),
        ),
        case(
            "sha256_compress",
            "from sha256 import sha256_compress\nblock = input(suint32[16], party=0)\nstate = input(suint32[8], party=1)\noutput(sha256_compress(block, state))\n".into(),
            false,
            Some(("sha256.txt", 22573, 1607)),
        ),
        case(
            "sha256 of 3 bytes (one block)",
            "from sha256 import sha256\nmsg = input(suint8[3], party=0)\noutput(sha256(msg))\n".into(),
            false,
            None,
        ),
    ]
}

/// ANDs plus multiplications, and depth.
fn figures(case: &Case, goal: Goal) -> (u64, u64) {
    let opts = Options {
        goal,
        ..Options::default()
    };
    let compiled: Compiled = compile_str("bench.mpc", &case.program, &opts)
        .unwrap_or_else(|e| panic!("{}: {}", case.name, e.render()));
    let compiled = if case.bits {
        let text =
            bristol::export(&compiled.circuit).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        compile_bristol_str("bench.txt", text, &opts)
            .unwrap_or_else(|e| panic!("{}: {}", case.name, e.render()))
    } else {
        compiled
    };
    let stats = compiled.stats();
    (stats.and_gates + stats.mul_gates, stats.depth)
}

fn main() {
    println!(
        "| function | ANDs+mults (-O depth) | depth | ANDs+mults (-O size) | depth | Bristol circuit | ANDs | AND-depth |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for case in cases() {
        let (depth_gates, depth) = figures(&case, Goal::Depth);
        let (size_gates, size_depth) = figures(&case, Goal::Size);
        let (file, ands, and_depth) = match case.bristol {
            Some((file, ands, depth)) => (file.to_string(), ands.to_string(), depth.to_string()),
            None => ("—".into(), "—".into(), "—".into()),
        };
        println!(
            "| {} | {depth_gates} | {depth} | {size_gates} | {size_depth} | {file} | {ands} | {and_depth} |",
            case.name
        );
    }
}
