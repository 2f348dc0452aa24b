//! `mpcc` end to end: exit codes, output formats, and the errors a user sees for bad
//! programs and bad input files.

mod common;

use common::{mpcc, scratch, stderr, stdout};
use std::process::Command;

const SUM: &str = "a = input(sint32, party=0)\nv = input(sint32[2], party=1)\noutput(a + v[0] + v[1], name=\"total\")\noutput(a > v[0], to=[0, 2], name=\"bigger\")\n";

#[test]
fn run_prints_each_partys_outputs_in_program_order() {
    let dir = scratch(
        "cli-run",
        &[
            ("p.mpc", SUM),
            ("in.json", r#"{"0": [5], "1": [[10, -2]]}"#),
        ],
    );
    let plain = mpcc(&["run", "p.mpc", "--inputs", "in.json"], &dir);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(
        stdout(&plain),
        "party 0: total = 13\nparty 0: bigger = false\nparty 1: total = 13\nparty 2: total = 13\nparty 2: bigger = false\n"
    );
    let json = mpcc(&["run", "p.mpc", "--inputs", "in.json", "--json"], &dir);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("valid JSON");
    assert_eq!(
        v,
        serde_json::json!({"0": {"total": 13, "bigger": false}, "1": {"total": 13}, "2": {"total": 13, "bigger": false}})
    );
}

#[test]
fn bad_input_files_name_the_party_position_and_type() {
    let cases = [
        (r#"{"0": [5]}"#, "party 1"),
        (r#"{"0": [5, 6], "1": [[1, 2]]}"#, "party 0"),
        (r#"{"0": ["five"], "1": [[1, 2]]}"#, "`sint32`"),
        (r#"{"0": [5000000000], "1": [[1, 2]]}"#, "`sint32`"),
        (r#"{"0": [5], "1": [[1, 2, 3]]}"#, "party 1"),
        (r#"{"0": [5], "1": [[1, 2]], "7": []}"#, "7"),
        ("not json", "not valid JSON"),
    ];
    for (i, (inputs, needle)) in cases.iter().enumerate() {
        let dir = scratch(
            &format!("cli-bad-input-{i}"),
            &[("p.mpc", SUM), ("in.json", inputs)],
        );
        let out = mpcc(&["run", "p.mpc", "--inputs", "in.json"], &dir);
        assert_eq!(out.status.code(), Some(1), "{inputs}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "no partial output for {inputs}");
        assert!(
            stderr(&out).contains(needle),
            "{inputs}: stderr lacks {needle:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn compile_errors_exit_1_and_show_the_place() {
    let dir = scratch(
        "cli-compile-error",
        &[(
            "bad.mpc",
            "x = input(sint, party=0)\nfor i in range(x):\n    pass\n",
        )],
    );
    for cmd in ["check", "stats", "ir"] {
        let out = mpcc(&[cmd, "bad.mpc"], &dir);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("bad.mpc:2:16") && err.contains("for i in range(x):"),
            "{err}"
        );
    }
    let missing = mpcc(&["check", "missing.mpc"], &dir);
    assert_eq!(
        missing.status.code(),
        Some(3),
        "an unreadable file is an I/O error"
    );
    let usage = mpcc(&["frobnicate"], &dir);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn stats_json_has_the_documented_keys() {
    let dir = scratch("cli-stats", &[("p.mpc", SUM)]);
    let out = mpcc(&["stats", "p.mpc", "--json"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    for key in [
        "gates",
        "and_gates",
        "mul_gates",
        "conversions",
        "nonlinear",
        "depth",
        "rounds",
        "inputs",
        "outputs",
    ] {
        assert!(v[key].is_u64(), "missing {key} in {v}");
    }
    assert_eq!(v["inputs"], 3);
    assert_eq!(v["outputs"], 2);
}

#[test]
fn build_writes_bytecode_that_runs_like_the_source() {
    let dir = scratch("cli-build", &[("p.mpc", SUM)]);
    let out = mpcc(&["build", "p.mpc", "-o", "p.mpcb"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(dir.join("p.mpcb")).expect("written");
    let program = mpc_bytecode::Program::decode(&bytes).expect("valid bytecode");
    assert_eq!(program.header.outputs.len(), 2);
    assert_eq!(program.header.inputs[1].name, "v");
}

#[test]
fn modules_come_from_the_programs_folder_then_the_standard_library() {
    let dir = scratch("cli-modules",
        &[
            ("helpers.mpc", "SCALE = 3\ndef triple(x):\n    return x * SCALE\n"),
            ("p.mpc", "import helpers\nfrom stats import dot\nx = input(sint[2], party=0)\noutput(helpers.triple(dot(x, x)), name=\"r\")\n"),
            ("in.json", r#"{"0": [[2, 3]]}"#),
        ],
    );
    let out = mpcc(&["run", "p.mpc", "--inputs", "in.json", "--json"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"r\": 39"), "{}", stdout(&out));
}

#[test]
fn import_cycles_and_modules_with_effects_are_errors() {
    let dir = scratch(
        "cli-cycle",
        &[
            ("a.mpc", "import b\ndef f():\n    return 1\n"),
            ("b.mpc", "import a\n"),
            ("p.mpc", "import a\noutput(a.f())\n"),
            ("noisy.mpc", "x = input(sint, party=0)\n"),
            ("q.mpc", "import noisy\n"),
            ("r.mpc", "import nowhere\n"),
        ],
    );
    let cycle = mpcc(&["check", "p.mpc"], &dir);
    assert_eq!(cycle.status.code(), Some(1));
    assert!(
        stderr(&cycle).contains("import cycle"),
        "{}",
        stderr(&cycle)
    );
    let noisy = mpcc(&["check", "q.mpc"], &dir);
    assert!(
        stderr(&noisy).contains("module `noisy` calls `input`"),
        "{}",
        stderr(&noisy)
    );
    let missing = mpcc(&["check", "r.mpc"], &dir);
    assert!(
        stderr(&missing).contains("no module named `nowhere`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = scratch("cli-pipe", &[("p.mpc", SUM)]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpcc"))
        .args(["ir", "p.mpc"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waits");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
