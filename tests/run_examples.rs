//! Every example runs to the outputs in its `NAME.expected.json`, with the clear and the
//! rep3 protocol, and the VM's clear protocol agrees with the compiler's own circuit
//! evaluator on every output.

use mpc_compiler::Options;
use mpc_tests::{compile, interpret, repo_root, run, run_clear, same_output};
use mpc_vm::ProtocolKind;
use serde_json::Value;

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn examples_give_their_expected_outputs() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("examples/ exists") {
        let path = entry.expect("readable").path();
        if path.extension().is_none_or(|e| e != "mpc") {
            continue;
        }
        let expected_path = path.with_extension("expected.json");
        if !expected_path.exists() {
            continue;
        }
        let inputs = read_json(&path.with_extension("inputs.json"));
        let expected = read_json(&expected_path);
        for opts in [
            Options::default(),
            Options {
                optimize: false,
                ..Options::default()
            },
        ] {
            let compiled = compile(&path, &opts);
            let got = run_clear(&compiled, &inputs, 3)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                same_output(&got, &expected),
                "{}:\nexpected {expected}\ngot      {got}",
                path.display()
            );

            // The same outputs from the circuit evaluator, before scheduling.
            let interpreted = interpret(&compiled, &inputs, 3).expect("evaluates");
            for (desc, value) in compiled.circuit.outputs.iter().zip(&interpreted) {
                let party = desc.to.first().copied().unwrap_or(0).to_string();
                assert!(
                    same_output(&got[&party][&desc.name], value),
                    "{}: output {}",
                    path.display(),
                    desc.name
                );
            }
        }
        // The secure protocol, three parties on threads, gives the same outputs.
        let compiled = compile(&path, &Options::default());
        let got = run(&compiled, &inputs, 3, ProtocolKind::Rep3)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            same_output(&got, &expected),
            "{} (rep3):\nexpected {expected}\ngot      {got}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "expected at least five examples with expected outputs, found {checked}"
    );
}
