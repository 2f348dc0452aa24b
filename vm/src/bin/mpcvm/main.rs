//! `mpcvm`: runs mpc bytecode as one party of a secure computation.
//!
//! Exit status (STYLE.md §2.8): 0 on success, 1 when the program, an input or the config
//! is bad (or `keygen` refuses to replace a key), 2 for bad usage (clap's own), 3 when a
//! file cannot be read or output written, 4 when another party cannot be reached,
//! differs (program, protocol, party count, certificate), leaves, stalls or misbehaves.

mod info_cmd;
mod keygen_cmd;
mod run_cmd;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};
use mpc_bytecode::{FormatError, Program, FORMAT_VERSION};

#[derive(Debug, Parser)]
#[command(name = "mpcvm", version = version(), about = "Runs mpc bytecode as one party of a secure multi-party computation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a bytecode file and describe it: versions, size, rounds, inputs and outputs
    Info(info_cmd::Args),
    /// Run one party of a program, talking to the other parties over the network
    Run(run_cmd::Args),
    /// Write a party's TLS private key and self-signed certificate
    Keygen(keygen_cmd::Args),
}

/// The version, with the bytecode format this build reads (as nargo prints its
/// artifact version), so that a version mismatch is visible from `--version`.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} (bytecode format {FORMAT_VERSION})",
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// Why a command failed; each maps to an exit status.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Standard output could not be written.
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
    /// The bytecode is not a valid program.
    #[error("`{}`: {source}", path.display())]
    Program { path: PathBuf, source: FormatError },
    /// The protocol cannot run the program.
    #[error("`{}`: {source}", path.display())]
    Unsupported {
        path: PathBuf,
        source: mpc_vm::VmError,
    },
    /// An input file is not valid JSON.
    #[error("`{}`: not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The inputs do not fit the program.
    #[error("`{}`: {source}", path.display())]
    Input {
        path: PathBuf,
        source: Box<mpc_vm::InputError>,
    },
    /// The program reads inputs from this party but none were given.
    #[error("{0} (give them with `--input FILE`)")]
    NoInputFile(Box<mpc_vm::InputError>),
    /// A file could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `parties.toml` is not usable, or does not fit the program or `--party`.
    #[error("{0}")]
    Config(mpc_vm::net::config::ConfigError),
    /// The run failed: a peer, the network, or the protocol.
    #[error("{0}")]
    Run(mpc_vm::VmError),
    /// The command will not do what was asked, for the reason given.
    #[error("{0}")]
    Refused(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Read { .. } | CliError::Write(_) | CliError::WriteFile { .. } => 3,
            CliError::Run(mpc_vm::VmError::Peer { .. }) => 4,
            CliError::Program { .. }
            | CliError::Unsupported { .. }
            | CliError::Json { .. }
            | CliError::Input { .. }
            | CliError::NoInputFile(_)
            | CliError::Config(_)
            | CliError::Refused(_)
            | CliError::Run(_) => 1,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads, decodes and validates a bytecode file.
fn load_program(path: &Path) -> Result<Program, CliError> {
    let read_error = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    Program::read_from(file).map_err(|e| match e {
        FormatError::Read(source) => read_error(source),
        source => CliError::Program {
            path: path.to_owned(),
            source,
        },
    })
}

/// Writes a command's output; a reader that went away (`mpcvm info x | head -1`) is not
/// an error.
fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Write(e)),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info_cmd::run(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Keygen(args) => keygen_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_the_flags_of_language_md() {
        let cli = Cli::try_parse_from([
            "mpcvm",
            "run",
            "p.mpcb",
            "--party",
            "1",
            "--config",
            "parties.toml",
            "--input",
            "mine.json",
            "--json",
        ])
        .expect("the documented command line parses");
        let Command::Run(args) = cli.command else {
            panic!("parsed as {cli:?}")
        };
        assert_eq!(args.party, 1);
        assert!(args.json);
        assert_eq!(args.input.as_deref(), Some(Path::new("mine.json")));
        assert!(!args.stats);
        assert_eq!(args.stream, run_cmd::Stream::Auto);

        let cli = Cli::try_parse_from([
            "mpcvm",
            "run",
            "p.mpcb",
            "--party=0",
            "--config=parties.toml",
            "--stats",
            "--stats-json",
            "s.json",
            "--stream",
            "never",
        ])
        .expect("the figures' flags parse");
        let Command::Run(args) = cli.command else {
            panic!("parsed as {cli:?}")
        };
        assert!(args.stats);
        assert_eq!(args.stats_json.as_deref(), Some(Path::new("s.json")));
        assert_eq!(args.stream, run_cmd::Stream::Never);
    }

    #[test]
    fn run_without_a_party_is_a_usage_error() {
        let err =
            Cli::try_parse_from(["mpcvm", "run", "p.mpcb", "--config", "c.toml"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn unreadable_and_foreign_files_are_errors_not_panics() {
        let dir = testkit::scratch("load");
        let missing = dir.join("missing.mpcb");
        let err = load_program(&missing).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read `{}`: ", missing.display())),
            "{err}"
        );

        let text = dir.join("prog.mpc");
        std::fs::write(&text, "a = input(sint, party=0)\n").unwrap();
        let err = load_program(&text).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.to_string(),
            format!(
                "`{}`: not an mpc bytecode file (bad magic number)",
                text.display()
            )
        );

        let bytes = testkit::sample().encode().unwrap();
        let truncated = dir.join("truncated.mpcb");
        std::fs::write(&truncated, &bytes[..bytes.len() - 1]).unwrap();
        let err = load_program(&truncated).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("corrupt bytecode"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_version_names_the_bytecode_format() {
        assert!(
            version().ends_with(&format!("(bytecode format {FORMAT_VERSION})")),
            "{}",
            version()
        );
    }
}

/// A small program and a scratch folder shared by the subcommands' tests.
#[cfg(test)]
pub(crate) mod testkit {
    use std::path::PathBuf;

    use mpc_bytecode::{
        Domain, Gate, Header, InputDesc, OutputDesc, Program, Round, Scalar, ValueType, WireId,
    };

    /// `output(a * b + k, to=[0, 2])` and `output(k, name="k")` with `a` from party 0, `b`
    /// from party 1 and the public `k` from party 1.
    pub fn sample() -> Program {
        let sint = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: true,
        });
        let input = |party, name: &str, public| InputDesc {
            party,
            name: name.into(),
            ty: sint.clone(),
            public,
        };
        let inputs = vec![
            input(0, "a", false),
            input(1, "b", false),
            input(1, "k", true),
        ];
        let outputs = vec![
            OutputDesc {
                name: "sum".into(),
                ty: sint.clone(),
                to: vec![0, 2],
                wires: vec![WireId(4)],
            },
            OutputDesc {
                name: "k".into(),
                ty: sint,
                to: vec![],
                wires: vec![WireId(2)],
            },
        ];
        let header = Header::new("0.1.0-test", "any", inputs, outputs);
        let arith = Domain::Arith;
        let rounds = vec![
            Round {
                local: vec![
                    Gate::Input {
                        party: 0,
                        index: 0,
                        domain: arith,
                    },
                    Gate::Input {
                        party: 1,
                        index: 0,
                        domain: arith,
                    },
                    Gate::PublicInput { party: 1, index: 1 },
                ],
                interactive: vec![Gate::Mul(WireId(0), WireId(1))],
            },
            Round {
                local: vec![Gate::Add(WireId(3), WireId(2))],
                interactive: vec![],
            },
        ];
        Program::new(header, rounds).expect("the sample is valid")
    }

    /// A fresh folder for one test's files.
    pub fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mpcvm-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp folder is writable");
        dir
    }
}
