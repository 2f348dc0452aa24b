//! Bristol Fashion in and out, end to end.
//!
//! - Every circuit of `../shared/circuits/bristol` (next to the repository; skipped with
//!   a message when absent) gives the known answers of `VECTORS.md`, which this test
//!   parses, through the clear protocol and through rep3; its AND count and AND-depth
//!   are those of `STATS.md` or better.
//! - Programs exported with `bristol::export` read back to the same outputs, and to the
//!   AND count and depth of the file (and of the program, when its secret work is
//!   Boolean already).

use std::collections::BTreeMap;
use std::path::PathBuf;

use mpc_bytecode::{Scalar, ValueType};
use mpc_compiler::{bristol, compile_bristol, compile_bristol_str, Compiled, Options};
use mpc_tests::{compile_text, repo_root, run};
use mpc_vm::ProtocolKind;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The shared circuits folder, if it is checked out next to the repository.
fn circuits_dir() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/circuits");
    if dir.join("bristol").is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: {} not found (the shared circuits sit next to the repository in CI)",
            dir.display()
        );
        None
    }
}

/// How a vector's hex numbers map to wires (VECTORS.md, "Conventions").
#[derive(Copy, Clone, Debug, PartialEq)]
enum Encoding {
    /// Wire `k` of a value is bit `k` (2^k) of the hex integer.
    LsbFirstInt,
    /// The hex is a byte string; wire `k` is bit `7 - k % 8` of byte `k / 8`.
    MsbFirstBytes,
}

struct Section {
    file: String,
    encoding: Encoding,
    /// Inputs and outputs, as hex, in the circuit's order.
    vectors: Vec<(Vec<String>, Vec<String>)>,
}

/// The `### name.txt (…, encoding E)` sections of VECTORS.md and the vectors in their
/// code blocks (`in0, in1 -> out0, out1`).
fn parse_vectors(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            let file = heading.split_whitespace().next().expect("a file name");
            let encoding = if heading.contains("msb_first_bytes") {
                Encoding::MsbFirstBytes
            } else if heading.contains("lsb_first_int") {
                Encoding::LsbFirstInt
            } else {
                panic!("VECTORS.md: no encoding in `{line}`")
            };
            sections.push(Section {
                file: file.to_string(),
                encoding,
                vectors: Vec::new(),
            });
        } else if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if in_block && !line.trim().is_empty() {
            let section = sections.last_mut().expect("a vector belongs to a section");
            let (ins, outs) = line.split_once("->").expect("`inputs -> outputs`");
            let split = |s: &str| s.split(',').map(|h| h.trim().to_string()).collect();
            section.vectors.push((split(ins), split(outs)));
        }
    }
    sections
}

/// A hex value as `width` wires.
fn hex_to_wires(hex: &str, width: usize, encoding: Encoding) -> Vec<bool> {
    let digits: Vec<u8> = hex
        .chars()
        .map(|c| c.to_digit(16).expect("hex digit") as u8)
        .collect();
    let mut wires = vec![false; width];
    match encoding {
        Encoding::LsbFirstInt => {
            for (m, d) in digits.iter().rev().enumerate() {
                for b in 0..4 {
                    let set = d >> b & 1 == 1;
                    match wires.get_mut(4 * m + b) {
                        Some(w) => *w = set,
                        None => assert!(!set, "{hex} does not fit in {width} bits"),
                    }
                }
            }
        }
        Encoding::MsbFirstBytes => {
            assert_eq!(digits.len() * 4, width, "{hex} is not {width} bits");
            for (k, w) in wires.iter_mut().enumerate() {
                let byte = digits[k / 8 * 2] << 4 | digits[k / 8 * 2 + 1];
                *w = byte >> (7 - k % 8) & 1 == 1;
            }
        }
    }
    wires
}

/// The widths of a compiled Bristol circuit's inputs and outputs.
fn widths(compiled: &Compiled) -> (Vec<usize>, Vec<usize>) {
    let count = |t: &ValueType| t.element_count().expect("small") as usize;
    let h = &compiled.program.header;
    (
        h.inputs.iter().map(|i| count(&i.ty)).collect(),
        h.outputs.iter().map(|o| count(&o.ty)).collect(),
    )
}

/// `{"0": [[bits of value 0]], "1": [[…]], …}`: input value `i` from party `i`.
fn bristol_inputs(values: &[Vec<bool>]) -> Value {
    let map: serde_json::Map<String, Value> = values
        .iter()
        .enumerate()
        .map(|(i, bits)| (i.to_string(), json!([bits])))
        .collect();
    Value::Object(map)
}

/// The AND count and AND-depth of a Bristol Fashion file, computed here from the text
/// alone, as STATS.md counts them: every AND gate and MAND lane; the AND-depth of the
/// deepest output.
fn file_figures(text: &str) -> (u64, u64) {
    let mut tokens = text.split_whitespace();
    let mut next = || -> usize {
        let token = tokens.next().expect("a token");
        match token {
            "XOR" | "AND" | "INV" | "EQ" | "EQW" | "MAND" => usize::MAX - op_code(token),
            _ => token.parse().expect("a number"),
        }
    };
    let (gates, wires) = (next(), next());
    let mut out_bits = 0;
    for line in 0..2 {
        let values = next();
        for _ in 0..values {
            let width = next();
            if line == 1 {
                out_bits += width;
            }
        }
    }
    let mut depth = vec![0u64; wires];
    let mut ands = 0;
    for _ in 0..gates {
        let (nin, nout) = (next(), next());
        let wires: Vec<usize> = (0..nin + nout).map(|_| next()).collect();
        let op = usize::MAX - next();
        let (ins, outs) = wires.split_at(nin);
        if op == op_code("EQ") {
            depth[outs[0]] = 0;
        } else if op == op_code("AND") || op == op_code("MAND") {
            ands += nout as u64;
            for (k, &out) in outs.iter().enumerate() {
                depth[out] = depth[ins[k]].max(depth[ins[k + nout]]) + 1;
            }
        } else {
            depth[outs[0]] = ins.iter().map(|&w| depth[w]).max().unwrap_or(0);
        }
    }
    // The longest path to an output: gates no output needs do not count.
    let deepest = depth[wires - out_bits..].iter().copied().max().unwrap_or(0);
    (ands, deepest)
}

/// Operations as small numbers, so that one token reader serves numbers and names.
fn op_code(op: &str) -> usize {
    ["XOR", "AND", "INV", "EQ", "EQW", "MAND"]
        .iter()
        .position(|&o| o == op)
        .expect("a Bristol operation")
}

/// STATS.md's table: circuit → (AND, AND-depth).
fn published_figures(text: &str) -> BTreeMap<String, (u64, u64)> {
    text.lines()
        .filter(|l| l.starts_with("| ") && l.contains(".txt"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // | circuit | inputs | outputs | gates | AND | XOR | INV | EQ/EQW | AND-depth | …
            let n = |i: usize| cells[i].parse::<u64>().expect("a count");
            (cells[1].to_string(), (n(5), n(9)))
        })
        .collect()
}

#[test]
fn shared_circuits_give_their_known_answers() {
    let Some(dir) = circuits_dir() else { return };
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let sections = parse_vectors(&read("VECTORS.md"));
    let published = published_figures(&read("STATS.md"));
    assert!(
        sections.len() >= 20,
        "VECTORS.md has {} sections",
        sections.len()
    );
    // Every circuit in the folder has vectors, and every section has some.
    for entry in std::fs::read_dir(dir.join("bristol")).expect("readable") {
        let name = entry.expect("readable").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".txt") {
            assert!(
                sections.iter().any(|s| s.file == name),
                "{name} has no vectors in VECTORS.md"
            );
        }
    }
    assert!(sections.iter().all(|s| !s.vectors.is_empty()));
    let start = std::time::Instant::now();
    let mut table = String::from("circuit | ANDs | depth | STATS.md ANDs | STATS.md depth\n");
    let mut checked = 0;
    for section in &sections {
        let path = dir.join("bristol").join(&section.file);
        let compiled = compile_bristol(&path, &Options::default())
            .unwrap_or_else(|e| panic!("{}:\n{}", section.file, e.render()));
        let (in_widths, out_widths) = widths(&compiled);
        let stats = compiled.stats();
        let (ands, depth) = published[&section.file];
        table.push_str(&format!(
            "{} | {} | {} | {ands} | {depth}\n",
            section.file, stats.and_gates, stats.depth
        ));
        assert!(
            stats.and_gates <= ands && stats.depth <= depth,
            "{}: {} ANDs, depth {}; STATS.md: {ands}, {depth}",
            section.file,
            stats.and_gates,
            stats.depth
        );
        // The independent count from the file's text agrees with STATS.md.
        assert_eq!(
            file_figures(&read(&format!("bristol/{}", section.file))),
            (ands, depth)
        );

        // Written back out, the circuit reads in again with the same figures.
        let text = bristol::export(&compiled.circuit).expect("exports");
        assert_eq!(
            file_figures(&text),
            (stats.and_gates, stats.depth),
            "{}",
            section.file
        );
        let again = compile_bristol_str(&section.file, text, &Options::default())
            .unwrap_or_else(|e| panic!("{} written back:\n{}", section.file, e.render()));
        let again_stats = again.stats();
        assert_eq!(
            (again_stats.and_gates, again_stats.depth),
            (stats.and_gates, stats.depth),
            "{} written back",
            section.file
        );

        for (v, (ins, outs)) in section.vectors.iter().enumerate() {
            assert_eq!(ins.len(), in_widths.len(), "{}: inputs", section.file);
            assert_eq!(outs.len(), out_widths.len(), "{}: outputs", section.file);
            let values: Vec<Vec<bool>> = ins
                .iter()
                .zip(&in_widths)
                .map(|(h, &w)| hex_to_wires(h, w, section.encoding))
                .collect();
            let expected: serde_json::Map<String, Value> = outs
                .iter()
                .zip(&out_widths)
                .enumerate()
                .map(|(k, (h, &w))| {
                    (
                        format!("out{k}"),
                        json!(hex_to_wires(h, w, section.encoding)),
                    )
                })
                .collect();
            for protocol in [ProtocolKind::Clear, ProtocolKind::Rep3] {
                let got = run(&compiled, &bristol_inputs(&values), 3, protocol)
                    .unwrap_or_else(|e| panic!("{} ({protocol:?}): {e}", section.file));
                for party in ["0", "1", "2"] {
                    assert_eq!(
                        got[party],
                        Value::Object(expected.clone()),
                        "{} ({protocol:?}), party {party}, inputs {ins:?}",
                        section.file
                    );
                }
            }
            if v == 0 {
                let got = run(&again, &bristol_inputs(&values), 3, ProtocolKind::Clear)
                    .unwrap_or_else(|e| panic!("{} written back: {e}", section.file));
                assert_eq!(
                    got["0"],
                    Value::Object(expected.clone()),
                    "{} written back",
                    section.file
                );
            }
            checked += 1;
        }
    }
    println!("{table}");
    println!(
        "{checked} vectors in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The program's inputs (JSON, per party) as Bristol input values: the `j`-th input
/// descriptor's elements in storage order, each least significant bit first.
fn exported_inputs(compiled: &Compiled, inputs: &Value) -> Vec<Vec<bool>> {
    let program = &compiled.program;
    let raw = mpc_vm::parse_all_inputs(&program.header, 3, inputs).expect("inputs fit the program");
    let mut next = vec![0usize; raw.len()];
    program
        .header
        .inputs
        .iter()
        .map(|desc| {
            let party = desc.party as usize;
            let mut bits = Vec::new();
            desc.ty.for_each_scalar(&mut |s: Scalar| {
                let v = raw[party][next[party]];
                next[party] += 1;
                bits.extend((0..s.bits()).map(|k| v >> k & 1 == 1));
            });
            bits
        })
        .collect()
}

/// The program's outputs, by its own circuit evaluator, as Bristol output values.
fn expected_outputs(compiled: &Compiled, inputs: &Value) -> Value {
    let raw = mpc_vm::parse_all_inputs(&compiled.program.header, 3, inputs).expect("inputs fit");
    let values = mpc_compiler::interp::outputs(&compiled.circuit, &raw).expect("evaluates");
    let mut map = serde_json::Map::new();
    for (k, (desc, vals)) in compiled.circuit.outputs.iter().zip(values).enumerate() {
        let mut scalars = Vec::new();
        desc.ty.for_each_scalar(&mut |s| scalars.push(s));
        let bits: Vec<bool> = scalars
            .iter()
            .zip(vals)
            .flat_map(|(s, v)| (0..s.bits()).map(move |i| v >> i & 1 == 1))
            .collect();
        map.insert(format!("out{k}"), json!(bits));
    }
    Value::Object(map)
}

/// Exports `program`, reads the file back, and checks outputs for each input set and
/// the figures; returns (program, file) as (ANDs, depth) pairs.
fn round_trip(program: &str, input_sets: &[Value]) -> ((u64, u64), (u64, u64)) {
    let compiled = compile_text(program, &Options::default());
    let text = bristol::export(&compiled.circuit).expect("exports");
    let back = compile_bristol_str("exported.txt", text.as_str(), &Options::default())
        .unwrap_or_else(|e| panic!("the export does not read back:\n{}", e.render()));
    // Input value `i` of the file comes from party `i`: rep3 runs files of up to three
    // inputs, the clear protocol any number.
    let values = compiled.program.header.inputs.len() as u32;
    let mut protocols = vec![(ProtocolKind::Clear, values.max(3))];
    if values <= 3 {
        protocols.push((ProtocolKind::Rep3, 3));
    }
    for inputs in input_sets {
        let bits = exported_inputs(&compiled, inputs);
        let expected = expected_outputs(&compiled, inputs);
        for &(protocol, parties) in &protocols {
            let got = run(&back, &bristol_inputs(&bits), parties, protocol).expect("runs");
            assert_eq!(
                got["0"], expected,
                "{protocol:?}, inputs {inputs}\n{program}"
            );
        }
    }
    let (ours, theirs) = (compiled.stats(), back.stats());
    // What the file holds is what reading it back reports.
    assert_eq!(
        file_figures(&text),
        (theirs.and_gates, theirs.depth),
        "{program}"
    );
    // Exporting the read-back circuit again changes nothing.
    let again = bristol::export(&back.circuit).expect("exports");
    assert_eq!(file_figures(&again), file_figures(&text), "{program}");
    println!(
        "program: {} ANDs, depth {}; file: {} ANDs, depth {}",
        ours.and_gates, ours.depth, theirs.and_gates, theirs.depth
    );
    (
        (ours.and_gates, ours.depth),
        (theirs.and_gates, theirs.depth),
    )
}

#[test]
fn boolean_programs_export_with_their_and_count_and_depth() {
    let program = "\
def full_add(x, y, c):
    return x ^ y ^ c, (x & y) | (c & (x ^ y))

a = input(sbool[8], party=0)
b = input(sbool[8], party=1)
c = input(sbool, party=2)
total = [c for i in range(8)]
carry = c
for i in range(8):
    s, carry = full_add(a[i], b[i], carry)
    total[i] = s
output(total, name=\"sum\")
output(carry, name=\"carry\")
output(a[0] and b[1] or not c, name=\"logic\")
output([a[i] ^ b[7 - i] for i in range(8)], name=\"mixed\")
output(True, name=\"constant\")
output(a[3], name=\"copy\")
";
    let bools = |x: u64| json!((0..8).map(|i| x >> i & 1 == 1).collect::<Vec<_>>());
    let sets: Vec<Value> = [(0u64, 0u64, false), (255, 1, false), (0xa5, 0x5b, true)]
        .iter()
        .map(|&(a, b, c)| json!({"0": [bools(a)], "1": [bools(b)], "2": [c]}))
        .collect();
    let (program_figures, file) = round_trip(program, &sets);
    assert_eq!(
        program_figures, file,
        "ANDs and depth of `mpcc stats` and of the file"
    );
}

#[test]
fn integer_programs_export_as_boolean_circuits() {
    // bits/from_bits and bitwise operators: the conversions vanish in the file.
    let bits_program = "\
x = input(suint8, party=0)
y = input(sint16, party=1)
bx = bits(x)
by = bits(y)
output(from_bits(suint8, [bx[i] ^ by[i + 8] for i in range(8)]), name=\"z\")
output(by[15] & bx[0], name=\"flag\")
output(x & 12, name=\"masked\")
output(x, name=\"x\")
";
    let sets = [
        json!({"0": [0], "1": [0]}),
        json!({"0": [255], "1": [-1]}),
        json!({"0": [0x5a], "1": [-12345]}),
    ];
    let (program_figures, file) = round_trip(bits_program, &sets);
    assert!(
        file.0 <= program_figures.0 && file.1 <= program_figures.1,
        "the file {file:?} costs no more than the rep3 program {program_figures:?}"
    );

    // Arithmetic becomes adders and multipliers; public inputs and reveal are ordinary
    // wires of the file.
    let arith_program = "\
x = input(sint32, party=0)
y = input(sint32, party=1)
v = input(sint8[4], party=2)
k = input(int8, party=1, public=True)
f = input(sfix, party=0)
output(x + y * 3, name=\"lin\")
output(x * y, name=\"prod\")
output(x < y, name=\"less\")
output(max(v), name=\"top\")
output(-x >> 2, name=\"shifted\")
output(x ^ y, name=\"xor\")
output(v[1] + k, name=\"plus_public\")
output(f * f, name=\"square\")
output(reveal(x == y), name=\"same\")
";
    let sets = [
        json!({"0": [0, 0.0], "1": [0, 0], "2": [[0, 0, 0, 0]]}),
        json!({"0": [-7, 1.5], "1": [100000, -3], "2": [[5, -128, 127, 3]]}),
        json!({"0": [2147483647, -2.25], "1": [-2147483648, 127], "2": [[-1, -2, -3, -4]]}),
        json!({"0": [42, 1000.125], "1": [42, 5], "2": [[9, 9, 9, 9]]}),
    ];
    round_trip(arith_program, &sets);
}

/// A random integer expression over `a` and `b` (the operators of LANGUAGE.md §3).
fn random_expr(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("a".to_string()), Just("b".to_string())].boxed();
    if depth == 0 {
        return leaf;
    }
    let sub = || random_expr(depth - 1);
    const OPS: [&str; 8] = ["+", "-", "*", "&", "|", "^", "//", "%"];
    const CMPS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];
    prop_oneof![
        2 => leaf,
        6 => (proptest::sample::select(&OPS[..6]), sub(), sub())
            .prop_map(|(op, l, r)| format!("({l} {op} {r})")),
        1 => (proptest::sample::select(&OPS[6..]), sub(), sub())
            .prop_map(|(op, l, r)| format!("({l} {op} {r})")),
        2 => (proptest::sample::select(&OPS[..]), sub(), 1i64..100)
            .prop_map(|(op, l, k)| format!("({l} {op} {k})")),
        1 => sub().prop_map(|e| format!("(-{e})")),
        1 => sub().prop_map(|e| format!("(~{e})")),
        1 => (prop_oneof![Just("<<"), Just(">>")], sub(), 0u32..70)
            .prop_map(|(op, e, k)| format!("({e} {op} {k})")),
        1 => (proptest::sample::select(&CMPS[..]), sub(), sub(), sub(), sub())
            .prop_map(|(op, c1, c2, x, y)| format!("({x} if {c1} {op} {c2} else {y})")),
        1 => (sub(), sub()).prop_map(|(l, r)| format!("max({l}, {r})")),
        1 => sub().prop_map(|e| format!("abs({e})")),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Exported random programs compute, read back from the file, what the program's
    /// own circuit computes.
    #[test]
    fn random_programs_export_to_equivalent_circuits(
        bits in proptest::sample::select(&[8u32, 16, 32, 64][..]),
        signed in any::<bool>(),
        e in random_expr(3),
        seeds in (any::<u64>(), any::<u64>()),
    ) {
        let ty = format!("s{}int{bits}", if signed { "" } else { "u" });
        let program = format!(
            "a = input({ty}, party=0)\nb = input({ty}, party=1)\noutput({e}, name=\"r\")\noutput({e} < a, name=\"c\")\n"
        );
        let value = |seed: u64| {
            let v = seed >> (64 - bits);
            if signed {
                json!((v << (64 - bits)) as i64 >> (64 - bits))
            } else {
                json!(v)
            }
        };
        let inputs = json!({"0": [value(seeds.0)], "1": [value(seeds.1)]});
        let compiled = compile_text(&program, &Options::default());
        let text = bristol::export(&compiled.circuit).map_err(|e| TestCaseError::fail(e.0))?;
        let back = compile_bristol_str("exported.txt", text.as_str(), &Options::default())
            .map_err(|e| TestCaseError::fail(e.render()))?;
        let values = exported_inputs(&compiled, &inputs);
        let got = run(&back, &bristol_inputs(&values), 3, ProtocolKind::Clear)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(&got["0"], &expected_outputs(&compiled, &inputs), "{}\n{}", program, inputs);
    }
}

#[test]
fn lanes_evaluate_instances_side_by_side() {
    // out = [!(a0 & b0), (a1 ^ b1) & !(a0 & b0), a0] for 2-bit inputs a and b.
    let text = "5 9\n2 2 2\n1 3\n\n2 1 0 2 4 AND\n2 1 1 3 5 XOR\n1 1 4 6 INV\n2 1 5 6 7 AND\n1 1 0 8 EQW\n";
    let single = compile_bristol_str("tiny.txt", text, &Options::default()).expect("reads");
    // 70 instances: a full word of 64 and a second word of 6.
    let lanes = 70;
    let opts = Options {
        lanes,
        ..Options::default()
    };
    let wide = compile_bristol_str("tiny.txt", text, &opts).expect("reads");
    let (one, many) = (single.stats(), wide.stats());
    assert_eq!(many.depth, one.depth, "the rounds of one instance");
    assert_eq!(many.and_gates, one.and_gates * u64::from(lanes));

    let bits = |seed: u32, k: u32| (seed.wrapping_mul(2_654_435_761) >> k) & 1 == 1;
    let rows = |party: u32| -> Vec<Vec<bool>> {
        (0..lanes)
            .map(|j| (0..2).map(|k| bits(j * 3 + party, k + 7)).collect())
            .collect()
    };
    let (a, b) = (rows(0), rows(1));
    let got = run(&wide, &json!({"0": [a], "1": [b]}), 3, ProtocolKind::Rep3).expect("runs");
    for j in 0..lanes as usize {
        let alone = run(
            &single,
            &json!({"0": [a[j]], "1": [b[j]]}),
            3,
            ProtocolKind::Clear,
        )
        .expect("runs");
        assert_eq!(got["0"]["out0"][j], alone["0"]["out0"], "instance {j}");
    }
}
