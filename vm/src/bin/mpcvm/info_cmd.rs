//! `mpcvm info`: what a bytecode file holds, after loading and validating it.

use std::fmt::Write as _;
use std::path::PathBuf;

use mpc_bytecode::format::hex;
use mpc_bytecode::{OutputDesc, Program, WireKind};
use serde_json::json;

use crate::{load_program, print, CliError};

/// Check a bytecode file and describe it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bytecode file (`mpcc build` writes it)
    pub program: PathBuf,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let program = load_program(&args.program)?;
    let text = if args.json {
        describe_json(&program).to_string() + "\n"
    } else {
        describe(&program)
    };
    print(&text)
}

/// Whether an output reveals a secret, so that its type is named `sint` rather than `int`.
fn is_secret(output: &OutputDesc, kinds: &[WireKind]) -> bool {
    output.wires.iter().any(|w| !kinds[w.index()].is_public())
}

fn recipients(to: &[u32]) -> String {
    match to {
        [] => "all parties".to_string(),
        [p] => format!("party {p}"),
        _ => {
            let ids: Vec<String> = to.iter().map(u32::to_string).collect();
            format!("parties {}", ids.join(", "))
        }
    }
}

fn interactive_gates(program: &Program) -> usize {
    program.rounds.iter().map(|r| r.interactive.len()).sum()
}

/// The readable form: one item per line, labels aligned.
pub fn describe(program: &Program) -> String {
    let h = &program.header;
    let kinds = program.wire_kinds();
    let mut s = String::new();
    // Writing into a String cannot fail, hence the ignored results.
    let _ = writeln!(s, "format version     {}", mpc_bytecode::FORMAT_VERSION);
    let _ = writeln!(s, "compiler version   {}", h.compiler_version);
    let _ = writeln!(s, "target             {}", h.target);
    let _ = writeln!(s, "body hash          {}", hex(&h.body_hash));
    let _ = writeln!(s, "wires              {}", h.num_wires);
    let _ = writeln!(s, "interactive gates  {}", interactive_gates(program));
    let _ = writeln!(
        s,
        "rounds             {} ({} with communication)",
        h.num_rounds,
        program.communication_rounds()
    );
    let _ = writeln!(s, "min parties        {}", program.min_parties());
    for input in &h.inputs {
        let visibility = if input.public { "public" } else { "secret" };
        let ty = input.ty.name(!input.public);
        let _ = writeln!(
            s,
            "input              party {} `{}`: {ty} ({visibility})",
            input.party, input.name
        );
    }
    for output in &h.outputs {
        let ty = output.ty.name(is_secret(output, &kinds));
        let _ = writeln!(
            s,
            "output             `{}`: {ty} to {}",
            output.name,
            recipients(&output.to)
        );
    }
    s
}

/// The same as one JSON object.
pub fn describe_json(program: &Program) -> serde_json::Value {
    let h = &program.header;
    let kinds = program.wire_kinds();
    let inputs: Vec<_> = h
        .inputs
        .iter()
        .map(|i| json!({ "party": i.party, "name": i.name, "type": i.ty.name(!i.public), "public": i.public }))
        .collect();
    let outputs: Vec<_> = h
        .outputs
        .iter()
        .map(|o| json!({ "name": o.name, "type": o.ty.name(is_secret(o, &kinds)), "to": o.to }))
        .collect();
    json!({
        "format_version": mpc_bytecode::FORMAT_VERSION,
        "compiler_version": h.compiler_version,
        "target": h.target,
        "body_hash": hex(&h.body_hash),
        "wires": h.num_wires,
        "interactive_gates": interactive_gates(program),
        "rounds": h.num_rounds,
        "communication_rounds": program.communication_rounds(),
        "min_parties": program.min_parties(),
        "inputs": inputs,
        "outputs": outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn describes_one_item_per_line() {
        let program = testkit::sample();
        let hash = hex(&program.header.body_hash);
        let expected = format!(
            "format version     2
compiler version   0.1.0-test
target             any
body hash          {hash}
wires              5
interactive gates  1
rounds             2 (2 with communication)
min parties        3
input              party 0 `a`: sint64 (secret)
input              party 1 `b`: sint64 (secret)
input              party 1 `k`: int64 (public)
output             `sum`: sint64 to parties 0, 2
output             `k`: int64 to all parties
"
        );
        assert_eq!(describe(&program), expected);
    }

    #[test]
    fn describes_as_json() {
        let program = testkit::sample();
        let json = describe_json(&program);
        assert_eq!(json["min_parties"], 3);
        assert_eq!(json["communication_rounds"], 2);
        assert_eq!(
            json["inputs"][2],
            serde_json::json!({"party": 1, "name": "k", "type": "int64", "public": true})
        );
        assert_eq!(
            json["outputs"][0],
            serde_json::json!({"name": "sum", "type": "sint64", "to": [0, 2]})
        );
        assert_eq!(json["body_hash"], hex(&program.header.body_hash));
    }
}
