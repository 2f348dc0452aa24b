//! Every example compiles to the circuit a person has reviewed: the statistics, and the
//! text IR of circuits up to 2,000 gates, are pinned as insta snapshots.

use mpc_compiler::Options;
use mpc_tests::compile;

#[test]
fn examples_compile_to_reviewed_circuits() {
    insta::glob!("../examples", "*.mpc", |path| {
        let compiled = compile(path, &Options::default());
        let stats = compiled.stats();
        let ir = if stats.gates <= 2_000 {
            compiled.circuit.display().to_string()
        } else {
            "(more than 2,000 gates: only the statistics are pinned)\n".to_string()
        };
        insta::assert_snapshot!(format!("{stats}\n\n{ir}"));
    });
}

#[test]
fn compilation_is_deterministic() {
    insta::glob!("../examples", "*.mpc", |path| {
        let first = compile(path, &Options::default())
            .program
            .encode()
            .expect("encodes");
        let second = compile(path, &Options::default())
            .program
            .encode()
            .expect("encodes");
        assert!(
            first == second,
            "{}: two compilations gave different bytecode",
            path.display()
        );
    });
}
