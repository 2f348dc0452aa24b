//! `mpcvm run`: one party of a run over the network.

use std::path::PathBuf;

use crate::{load_program, read, CliError};

/// Run one party of a program, talking to the other parties over the network.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bytecode file (`mpcc build` writes it)
    pub program: PathBuf,
    /// This party's id: its position in the config's list of parties, from 0
    #[arg(long)]
    pub party: u32,
    /// The parties' addresses (and certificates), the same file for every party
    #[arg(long, value_name = "parties.toml")]
    pub config: PathBuf,
    /// This party's inputs: a JSON list, one item per input the program reads from it
    /// (omit it when the program reads none)
    #[arg(long, value_name = "mine.json")]
    pub input: Option<PathBuf>,
    /// This party's TLS private key (when the config has `tls = true`)
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print the outputs as one JSON object instead of `name = value` lines
    #[arg(long)]
    pub json: bool,
}

/// Checks what can be checked alone (the program, this party's inputs), then stops:
/// there is no networked protocol yet.
pub fn run(args: Args) -> Result<(), CliError> {
    let program = load_program(&args.program)?;
    match &args.input {
        Some(path) => {
            let json = serde_json::from_slice(&read(path)?).map_err(|source| CliError::Json {
                path: path.clone(),
                source,
            })?;
            mpc_vm::parse_party_inputs(&program, args.party, &json).map_err(|source| {
                CliError::Input {
                    path: path.clone(),
                    source: Box::new(source),
                }
            })?;
        }
        None => {
            let none = serde_json::Value::Array(Vec::new());
            mpc_vm::parse_party_inputs(&program, args.party, &none)
                .map_err(|e| CliError::NoInputFile(Box::new(e)))?;
        }
    }
    Err(CliError::NotImplemented(
        "the rep3 protocol over TCP arrives in a later version",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn args(dir: &std::path::Path, party: u32, input: Option<&str>) -> Args {
        let program = dir.join("p.mpcb");
        std::fs::write(&program, testkit::sample().encode().unwrap()).unwrap();
        let input = input.map(|json| {
            let path = dir.join("mine.json");
            std::fs::write(&path, json).unwrap();
            path
        });
        Args {
            program,
            party,
            config: dir.join("parties.toml"),
            input,
            key: None,
            json: false,
        }
    }

    #[test]
    fn good_inputs_reach_the_not_implemented_yet_message() {
        let dir = testkit::scratch("run-ok");
        let err = run(args(&dir, 1, Some("[4, 5]"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not implemented yet: the rep3 protocol over TCP arrives in a later version"
        );
        assert_eq!(err.exit_code(), 1);
        // Party 2 reads nothing, so it needs no input file.
        assert!(matches!(
            run(args(&dir, 2, None)),
            Err(CliError::NotImplemented(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_inputs_are_reported_before_anything_else() {
        let dir = testkit::scratch("run-bad");
        let err = run(args(&dir, 1, Some("[4, true]"))).unwrap_err();
        let mine = dir.join("mine.json");
        assert_eq!(
            err.to_string(),
            format!(
                "`{}`: party 1: input 2 (`k`): expected `int64`, got true",
                mine.display()
            )
        );
        let err = run(args(&dir, 1, Some("[4,"))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("`{}`: not valid JSON: ", mine.display())),
            "{err}"
        );
        let err = run(args(&dir, 0, None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "party 0 supplies 0 input(s) but the program reads 1: missing `a` of type `sint64` (give them with `--input FILE`)"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
