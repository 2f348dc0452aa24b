//! `mpcc` with Bristol Fashion files: `--bristol` reads a circuit instead of a program
//! for every command, `build --emit bristol` writes one.

mod common;

use common::{mpcc, scratch, stderr, stdout};

/// The sum of two 2-bit values (carry out dropped) and the AND of their low bits; wire 6
/// is computed but unused.
const ADDER2: &str = "\
6 10
2 2 2
2 2 1

2 1 0 2 4 AND
2 1 1 3 5 XOR
2 1 0 2 7 XOR
2 1 5 4 8 XOR
1 1 4 9 EQW
1 1 5 6 INV
";

#[test]
fn a_bristol_circuit_checks_runs_and_reports_its_figures() {
    let dir = scratch(
        "bristol-run",
        &[
            ("add.txt", ADDER2),
            // 3 + 2 = 5 = 0b01 (mod 4), and 1 & 0 = 0.
            ("in.json", r#"{"0": [[true, true]], "1": [[false, true]]}"#),
        ],
    );
    let check = mpcc(&["check", "add.txt", "--bristol"], &dir);
    assert!(check.status.success(), "{}", stderr(&check));
    for protocol in ["rep3", "clear"] {
        let args = [
            "run",
            "add.txt",
            "--bristol",
            "--inputs",
            "in.json",
            "--json",
            "--protocol",
            protocol,
        ];
        let run = mpcc(&args, &dir);
        assert!(run.status.success(), "{}", stderr(&run));
        let v: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("JSON");
        let outs = serde_json::json!({"out0": [true, false], "out1": [false]});
        assert_eq!(
            v,
            serde_json::json!({"0": outs.clone(), "1": outs.clone(), "2": outs})
        );
    }
    let stats = mpcc(&["stats", "add.txt", "--bristol", "--json"], &dir);
    let v: serde_json::Value = serde_json::from_str(&stdout(&stats)).expect("JSON");
    assert_eq!(
        (v["and_gates"].as_u64(), v["depth"].as_u64()),
        (Some(1), Some(1))
    );
    let ir = mpcc(&["ir", "add.txt", "--bristol"], &dir);
    assert!(stdout(&ir).contains("and.1"), "{}", stdout(&ir));
    let build = mpcc(&["build", "add.txt", "--bristol", "-o", "add.mpcb"], &dir);
    assert!(build.status.success(), "{}", stderr(&build));
    let bytes = std::fs::read(dir.join("add.mpcb")).expect("bytecode written");
    assert!(mpc_bytecode::Program::decode(&bytes).is_ok());
}

#[test]
fn a_malformed_file_is_an_error_at_its_line() {
    let bad = ADDER2.replace("2 1 5 4 8 XOR", "2 1 5 9 8 XOR");
    let dir = scratch("bristol-bad", &[("bad.txt", &bad)]);
    let out = mpcc(&["check", "bad.txt", "--bristol"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("wire 9 is read before any gate assigns it"),
        "{err}"
    );
    assert!(err.contains("bad.txt:8"), "{err}");
    // Without `--bristol` the file is a program, and not a valid one.
    let out = mpcc(&["check", "bad.txt"], &dir);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_program_exports_and_reads_back() {
    let program = "\
a = input(sbool[4], party=0)
b = input(suint8, party=1)
bb = bits(b)
output([a[i] & bb[i] for i in range(4)], name=\"masked\")
output(a[0] | a[1], name=\"any\")
";
    let dir = scratch(
        "bristol-export",
        &[
            ("p.mpc", program),
            // a = [1, 0, 1, 1], b = 0b1101: masked = [1, 0, 1, 1], any = 1.
            (
                "in.json",
                r#"{"0": [[true, false, true, true]], "1": [[true, false, true, true, false, false, false, false]]}"#,
            ),
        ],
    );
    let build = mpcc(
        &["build", "p.mpc", "--emit", "bristol", "-o", "p.txt"],
        &dir,
    );
    assert!(build.status.success(), "{}", stderr(&build));
    let text = std::fs::read_to_string(dir.join("p.txt")).expect("written");
    let mut lines = text.lines();
    assert_eq!(lines.nth(1), Some("2 4 8"), "one input value per input()");
    assert_eq!(lines.next(), Some("2 4 1"), "one output value per output()");
    let ands = text.lines().filter(|l| l.ends_with(" AND")).count();
    assert_eq!(ands, 5);
    let run = mpcc(
        &["run", "p.txt", "--bristol", "--inputs", "in.json", "--json"],
        &dir,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let v: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("JSON");
    assert_eq!(
        v["0"],
        serde_json::json!({"out0": [true, false, true, true], "out1": [true]})
    );
}
