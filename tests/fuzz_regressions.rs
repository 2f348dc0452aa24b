//! The fuzz targets' inputs under a plain `cargo test`: the committed corpus
//! (`fuzz/seeds/<target>/`) and every input that once crashed, hung or exhausted memory
//! (`fuzz/regressions/<target>/`) go through the same entry points as under libFuzzer
//! (`mpc_tests::fuzz`). Each must return without panicking.

use std::path::Path;
use std::time::{Duration, Instant};

use mpc_compiler::{compile_str, Options};
use mpc_tests::{fuzz, repo_root};

/// Feeds every file in `tests/fuzz/{seeds,regressions}/<target>/` to `entry`; returns
/// how many there were.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let dir = repo_root().join("tests/fuzz").join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.expect("readable dir").path()).collect();
        files.sort();
        for path in files {
            run_one(&path, entry);
            count += 1;
        }
    }
    count
}

fn run_one(path: &Path, entry: fn(&[u8])) {
    let data = std::fs::read(path).expect("readable file");
    let result = std::panic::catch_unwind(|| entry(&data));
    assert!(result.is_ok(), "{} panicked", path.display());
}

#[test]
fn compile_source_corpus() {
    assert!(replay("compile_source", fuzz::compile_source) > 0);
}

#[test]
fn load_bytecode_corpus() {
    assert!(replay("load_bytecode", fuzz::load_bytecode) > 0);
}

#[test]
fn decode_frame_corpus() {
    assert!(replay("decode_frame", fuzz::decode_frame) > 0);
}

/// The programs that once allocated tens of gigabytes up front, or unrolled for minutes
/// (`fuzz/regressions/compile_source/huge_*`, `nested_loops`), are refused quickly
/// with an error under a gate limit.
#[test]
fn programs_over_the_gate_limit_are_refused_quickly() {
    let opts = Options {
        max_gates: 1 << 20,
        ..Options::default()
    };
    let dir = repo_root().join("tests/fuzz/regressions/compile_source");
    for name in [
        "huge_range_loop.mpc",
        "huge_empty_loop.mpc",
        "huge_input_array.mpc",
        "huge_nested_input.mpc",
        "huge_comprehension.mpc",
        "nested_loops.mpc",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("readable file");
        let start = Instant::now();
        let Err(err) = compile_str(name, &text, &opts) else {
            panic!("{name} compiled");
        };
        let message = err.render();
        assert!(
            message.contains("too long to unroll")
                || message.contains("too large for an input")
                || message.contains("unrolls to more than 1048576 gates or loop iterations"),
            "{name}: {message}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name} took too long"
        );
    }
}

/// Writes `fuzz/seeds/decode_frame/real_run_party<p>`: a whole run's frames for each
/// party. Run it after a change to the protocol's messages:
/// `cargo test -p mpc-tests --test fuzz_regressions -- --ignored`.
#[test]
#[ignore = "writes the decode_frame seeds"]
fn write_decode_frame_seeds() {
    let dir = repo_root().join("tests/fuzz/seeds/decode_frame");
    std::fs::create_dir_all(&dir).expect("seed folder");
    for party in 0..3 {
        let path = dir.join(format!("real_run_party{party}"));
        std::fs::write(path, fuzz::real_frames(party)).expect("writable seed");
    }
}

/// 777,773 `input` calls for as many parties (those past 65,535 are errors): the input
/// limit check once summed every party's count on each call, which made this quadratic.
#[test]
fn many_input_calls_take_linear_time() {
    let path = repo_root().join("tests/fuzz/regressions/compile_source/many_input_calls.mpc");
    let data = std::fs::read(path).expect("readable file");
    let start = Instant::now();
    fuzz::compile_source(&data);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}
