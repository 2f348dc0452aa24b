//! Shared helpers for the cross-crate tests: compiling programs and running them with
//! every party in one process.

pub mod fuzz;

use std::path::{Path, PathBuf};

use mpc_compiler::{compile_file, compile_str, Compiled, Options};
use mpc_vm::{io, ProtocolKind};
use serde_json::Value;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// Compiles a file, panicking with the rendered diagnostics if it has errors.
pub fn compile(path: &Path, opts: &Options) -> Compiled {
    compile_file(path, opts)
        .unwrap_or_else(|e| panic!("{} does not compile:\n{}", path.display(), e.render()))
}

/// Compiles program text, panicking with the rendered diagnostics if it has errors.
pub fn compile_text(text: &str, opts: &Options) -> Compiled {
    compile_str("test.mpc", text, opts)
        .unwrap_or_else(|e| panic!("program does not compile:\n{}\n{text}", e.render()))
}

/// Runs every party with the clear protocol and returns what `mpcc run --json` prints,
/// as a JSON value: `{"0": {...}, "1": {...}, ...}`.
pub fn run_clear(compiled: &Compiled, inputs: &Value, parties: u32) -> Result<Value, String> {
    run(compiled, inputs, parties, ProtocolKind::Clear)
}

/// Runs every party with `protocol` in this process; the result is shaped as
/// [`run_clear`]'s.
pub fn run(
    compiled: &Compiled,
    inputs: &Value,
    parties: u32,
    protocol: ProtocolKind,
) -> Result<Value, String> {
    let raw = io::parse_all_inputs(&compiled.program.header, parties, inputs)
        .map_err(|e| e.to_string())?;
    let outputs =
        mpc_vm::simulate(&compiled.program, protocol, parties, &raw).map_err(|e| e.to_string())?;
    let mut all = serde_json::Map::new();
    for (party, outs) in outputs.into_iter().enumerate() {
        all.insert(party.to_string(), Value::Object(outs.into_iter().collect()));
    }
    Ok(Value::Object(all))
}

/// Evaluates the circuit (before scheduling) with the compiler's own clear evaluator and
/// renders each output, in program order.
pub fn interpret(compiled: &Compiled, inputs: &Value, parties: u32) -> Result<Vec<Value>, String> {
    let raw = io::parse_all_inputs(&compiled.program.header, parties, inputs)
        .map_err(|e| e.to_string())?;
    let values = mpc_compiler::interp::outputs(&compiled.circuit, &raw)?;
    Ok(compiled
        .circuit
        .outputs
        .iter()
        .zip(values)
        .map(|(desc, v)| io::render_output(desc, &v))
        .collect())
}

/// Whether two outputs agree: numbers within 1e-6 relative (fixed point prints floats),
/// everything else exactly.
pub fn same_output(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => {
                    let (x, y) = (
                        x.as_f64().unwrap_or(f64::NAN),
                        y.as_f64().unwrap_or(f64::NAN),
                    );
                    (x - y).abs() <= 1e-6 * x.abs().max(1.0)
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_output(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_output(v, w)))
        }
        _ => a == b,
    }
}
