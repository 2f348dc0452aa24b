//! `mpcc`: compile, inspect and run `.mpc` programs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mpc_compiler::circuit::Goal;
use mpc_compiler::{compile_bristol, compile_file, Compiled, Options};
use mpc_vm::io;
use mpc_vm::ProtocolKind;

#[derive(Parser)]
#[command(name = "mpcc", version = version(), about = "Compile .mpc programs into circuits and bytecode for secure multi-party computation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a program for errors without writing anything.
    Check(CompileArgs),
    /// Compile a program to bytecode (or to a Bristol Fashion circuit, `--emit bristol`).
    Build {
        #[command(flatten)]
        compile: CompileArgs,
        /// Where to write the bytecode (or the circuit, with `--emit bristol`).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// What to write: `bytecode` for `mpcvm`, or `bristol`, the circuit as a Bristol
        /// Fashion file for other MPC frameworks (one input value per `input(...)`,
        /// integers as bits, least significant first).
        #[arg(long, value_enum, default_value = "bytecode")]
        emit: Emit,
    },
    /// Print the circuit in its text form, one gate a line.
    Ir(CompileArgs),
    /// Print gate counts, multiplicative depth and rounds.
    Stats {
        #[command(flatten)]
        compile: CompileArgs,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Per source line: the communicating gates it creates and the rounds of the
        /// critical path that pass through it.
        #[arg(long)]
        by_line: bool,
    },
    /// Compile and run a program with every party in this process.
    Run {
        #[command(flatten)]
        compile: CompileArgs,
        /// The inputs: a JSON object from party id to that party's list of inputs.
        #[arg(long, value_name = "FILE")]
        inputs: Option<PathBuf>,
        /// The protocol: `rep3` (three-party replicated secret sharing) or `clear` (no
        /// secrecy, for debugging).
        #[arg(long, default_value = "rep3")]
        protocol: String,
        /// The number of parties.
        #[arg(long, default_value_t = 3)]
        parties: u32,
        /// Print one JSON object per party instead of `party I: name = value` lines.
        #[arg(long)]
        json: bool,
    },
}

/// The output format of `mpcc build`.
#[derive(Copy, Clone, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    /// Bytecode for `mpcvm`.
    Bytecode,
    /// A Bristol Fashion circuit.
    Bristol,
}

#[derive(Args, Clone)]
struct CompileArgs {
    /// The program (a Bristol Fashion circuit with `--bristol`).
    file: PathBuf,
    /// Read FILE as a Bristol Fashion circuit instead of a program: input value `i` is
    /// an `sbool[w_i]` from party `i`, and the outputs `out0`, `out1`, … are lists of
    /// bools, in wire order.
    #[arg(long)]
    bristol: bool,
    /// With `--bristol`: evaluate N instances of the circuit side by side (bit-sliced, 64
    /// to a word): each input is then an `sbool[N][w_i]` and each output an
    /// `sbool[N][w]`, one row per instance. The rounds are those of one instance.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "bristol")]
    lanes: u32,
    /// Skip the optimization passes (for debugging the compiler).
    #[arg(long)]
    no_opt: bool,
    /// Print the time each compilation phase takes to standard error.
    #[arg(long)]
    timings: bool,
    /// Optimize for fewest rounds (`depth`, the default) or fewest ANDs (`size`) where
    /// the two conflict (adders and comparisons: prefix trees or ripple chains).
    #[arg(short = 'O', value_name = "GOAL", default_value = "depth", value_parser = parse_goal)]
    goal: Goal,
}

fn parse_goal(s: &str) -> Result<Goal, String> {
    match s {
        "depth" => Ok(Goal::Depth),
        "size" => Ok(Goal::Size),
        _ => Err(format!("`{s}` is not a goal: use `depth` or `size`")),
    }
}

fn version() -> String {
    format!(
        "{} (bytecode format {})",
        mpc_compiler::COMPILER_VERSION,
        mpc_bytecode::FORMAT_VERSION
    )
}

/// A failure: the message for standard error and the exit status.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn program(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    fn io(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 3,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let message = f.message.trim_end();
            if message.starts_with("error") {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(f.code)
        }
    }
}

/// Writes to standard output; a closed pipe (`mpcc ir prog.mpc | head`) is not an error.
fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::io(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

fn compile(args: &CompileArgs) -> Result<Compiled, Failure> {
    let opts = Options {
        optimize: !args.no_opt,
        timings: args.timings,
        goal: args.goal,
        lanes: args.lanes,
        ..Options::default()
    };
    let compiled = if args.bristol {
        compile_bristol(&args.file, &opts)
    } else {
        compile_file(&args.file, &opts)
    };
    compiled.map_err(|e| match e {
        mpc_compiler::CompileError::Io(_) => Failure::io(e.render()),
        mpc_compiler::CompileError::Program(..) => Failure::program(e.render()),
    })
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Check(args) => {
            compile(&args)?;
            Ok(())
        }
        Command::Build {
            compile: args,
            output,
            emit,
        } => {
            let compiled = compile(&args)?;
            let cannot_write = |e: &dyn std::fmt::Display| {
                Failure::io(format!("cannot write `{}`: {e}", output.display()))
            };
            if emit == Emit::Bristol {
                // Built in memory first, so that a circuit that cannot be exported leaves
                // no file behind.
                let text = mpc_compiler::bristol::export(&compiled.circuit).map_err(|e| {
                    let file = args.file.display();
                    Failure::program(format!(
                        "cannot write `{file}` as a Bristol Fashion circuit: {e}"
                    ))
                })?;
                return std::fs::write(&output, text).map_err(|e| cannot_write(&e));
            }
            let file = std::fs::File::create(&output).map_err(|e| cannot_write(&e))?;
            let mut writer = std::io::BufWriter::new(file);
            compiled
                .program
                .write_to(&mut writer)
                .map_err(|e| cannot_write(&e))?;
            writer.flush().map_err(|e| cannot_write(&e))
        }
        Command::Ir(args) => {
            let compiled = compile(&args)?;
            let text = compiled.circuit.display().to_string();
            emit(&text)
        }
        Command::Stats {
            compile: args,
            json,
            by_line,
        } => {
            let compiled = compile(&args)?;
            let stats = compiled.stats();
            if by_line {
                let costs =
                    mpc_compiler::analysis::by_line::by_line(&compiled.circuit, &compiled.sources);
                if json {
                    let value = serde_json::json!({"stats": stats, "lines": costs});
                    emit(&format!("{value}\n"))
                } else {
                    emit(&mpc_compiler::analysis::by_line::render(
                        &costs,
                        stats.depth,
                    ))
                }
            } else {
                // Both figures, so the choice between the goals can be seen: the other
                // goal's circuit is compiled too.
                let other_goal = if args.goal == Goal::Depth {
                    Goal::Size
                } else {
                    Goal::Depth
                };
                let other = compile(&CompileArgs {
                    goal: other_goal,
                    timings: false,
                    ..args.clone()
                })?
                .stats();
                let name = |g: Goal| if g == Goal::Depth { "depth" } else { "size" };
                if json {
                    let mut value = serde_json::to_value(&stats)
                        .map_err(|e| Failure::program(e.to_string()))?;
                    value["other_goal"] = serde_json::json!({
                        "goal": name(other_goal),
                        "and_gates": other.and_gates,
                        "nonlinear": other.nonlinear,
                        "depth": other.depth,
                    });
                    emit(&format!("{value}\n"))
                } else {
                    emit(&format!(
                        "{stats}\nwith -O {}: and_gates {}, nonlinear {}, depth {}\n",
                        name(other_goal),
                        other.and_gates,
                        other.nonlinear,
                        other.depth
                    ))
                }
            }
        }
        Command::Run {
            compile: args,
            inputs,
            protocol,
            parties,
            json,
        } => {
            let protocol: ProtocolKind = protocol
                .parse()
                .map_err(|e: mpc_vm::VmError| Failure::program(e.to_string()))?;
            let compiled = compile(&args)?;
            let all = match &inputs {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        Failure::io(format!("cannot read `{}`: {e}", path.display()))
                    })?;
                    serde_json::from_str(&text).map_err(|e| {
                        Failure::program(format!("`{}` is not valid JSON: {e}", path.display()))
                    })?
                }
                None => serde_json::Value::Object(Default::default()),
            };
            let program = &compiled.program;
            let raw = io::parse_all_inputs(&program.header, parties, &all)
                .map_err(|e| Failure::program(e.to_string()))?;
            let outputs = mpc_vm::simulate(program, protocol, parties, &raw)
                .map_err(|e| Failure::program(e.to_string()))?;
            if json {
                let objects: Vec<String> = outputs
                    .iter()
                    .enumerate()
                    .map(|(p, outs)| format!("\"{p}\": {}", io::format_outputs_json(outs)))
                    .collect();
                emit(&format!("{{{}}}\n", objects.join(", ")))
            } else {
                let mut text = String::new();
                for (p, outs) in outputs.iter().enumerate() {
                    for line in io::format_outputs_plain(outs).lines() {
                        text.push_str(&format!("party {p}: {line}\n"));
                    }
                }
                emit(&text)
            }
        }
    }
}
