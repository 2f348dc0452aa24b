//! `mpcvm run`: one party of a run over the network.
//!
//! Everything that can fail alone (the program, this party's inputs, the config) is
//! checked before connecting, so that a party with a bad file does not make the others
//! wait. Outputs are printed only once the whole run has succeeded: a failed run prints
//! nothing on standard output.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mpc_bytecode::{FormatError, Header, OutputDesc, Program};
use mpc_vm::net::config::{ConfigError, PartiesConfig, PLAIN_TCP_WARNING};
use mpc_vm::net::tcp::TcpTransport;
use mpc_vm::net::tls::Identity;
use mpc_vm::net::{Hello, PeerStats};
use mpc_vm::stream::{OpenError, StreamedProgram};
use mpc_vm::{Bytecode, ProtocolKind, RunStats, VmError};
use serde_json::json;

use crate::{load_program, print, read, CliError};

/// The protocol `mpcvm run` speaks; the handshake announces it, so parties built with
/// different protocols refuse each other.
const PROTOCOL: ProtocolKind = ProtocolKind::Rep3;

/// The version of [`PROTOCOL`]'s messages.
const PROTOCOL_VERSION: u32 = mpc_vm::rep3::MESSAGES_VERSION;

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
    /// This party's TLS private key, instead of the `key` of its entry in the config
    /// (`mpcvm keygen` writes one)
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print the outputs as one JSON object instead of `name = value` lines
    #[arg(long)]
    pub json: bool,
    /// Print figures to standard error at the end: rounds, bytes per peer, time per phase
    #[arg(long)]
    pub stats: bool,
    /// Write the same figures as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Read the program a round at a time while it runs, after checking it whole,
    /// instead of holding it decoded: `auto` does for files of 1 GiB and more
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Stream::Auto)]
    pub stream: Stream,
}

/// When `mpcvm run` streams the program (`--stream`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stream {
    /// For bytecode files of [`STREAM_FROM`] bytes and more.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The size from which `--stream auto` streams a program. Streaming saves the memory
/// of all rounds but two (decoded, a program takes about 1.6 times its file's size), and
/// costs decoding the rounds during the online phase instead of before it: the 10^5
/// comparisons of the benchmark (180 MB) run online in 1.2 to 1.6 s streamed instead of
/// 0.3 s, in 500 MB instead of 620 MB. Below this size, time matters more.
const STREAM_FROM: u64 = 1 << 30;

/// A program, held whole or streamed.
enum Loaded {
    Whole(Program),
    Streamed(StreamedProgram),
}

impl Loaded {
    /// Reads and checks the program at `path`, streamed as `stream` says.
    fn open(path: &Path, stream: Stream) -> Result<Loaded, CliError> {
        let read_error = |source| CliError::Read {
            path: path.to_owned(),
            source,
        };
        let streamed = match stream {
            Stream::Always => true,
            Stream::Never => false,
            Stream::Auto => std::fs::metadata(path).map_err(read_error)?.len() >= STREAM_FROM,
        };
        let unsupported = |source| CliError::Unsupported {
            path: path.to_owned(),
            source,
        };
        if !streamed {
            let program = load_program(path)?;
            PROTOCOL.check_program(&program).map_err(unsupported)?;
            return Ok(Loaded::Whole(program));
        }
        match StreamedProgram::open(path, PROTOCOL) {
            Ok(program) => Ok(Loaded::Streamed(program)),
            Err(OpenError::Io(source) | OpenError::Format(FormatError::Read(source))) => {
                Err(read_error(source))
            }
            Err(OpenError::Format(source)) => Err(CliError::Program {
                path: path.to_owned(),
                source,
            }),
            Err(OpenError::Unsupported(source)) => Err(unsupported(source)),
        }
    }

    fn bytecode(&self) -> Bytecode<'_> {
        match self {
            Loaded::Whole(program) => Bytecode::Whole(program),
            Loaded::Streamed(program) => Bytecode::Streamed(program),
        }
    }

    /// The header, letting go of the rest.
    fn into_header(self) -> Header {
        match self {
            Loaded::Whole(program) => program.header,
            Loaded::Streamed(program) => program.into_header(),
        }
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    let report = execute(&args, &mut |warning| eprintln!("{warning}"))?;
    if let Some(path) = &args.stats_json {
        // Before the outputs: a run that cannot write its figures fails whole.
        let text = serde_json::to_string_pretty(&report.stats_json()).unwrap_or_default() + "\n";
        std::fs::write(path, text).map_err(|source| CliError::WriteFile {
            path: path.clone(),
            source,
        })?;
    }
    print(&report.outputs)?;
    if args.stats {
        eprint!("{}", report.stats_text());
    }
    Ok(())
}

/// A finished run: the outputs as they print, and the figures.
struct Report {
    party: u32,
    outputs: String,
    connect_s: f64,
    run: RunStats,
    /// Per party (this one's entry zero), with its address.
    peers: Vec<(PeerStats, String)>,
}

/// Runs the party; `warn` gets the warnings meant for standard error.
fn execute(args: &Args, warn: &mut dyn FnMut(&str)) -> Result<Report, CliError> {
    let program = Loaded::open(&args.program, args.stream)?;
    let header = program.bytecode().header();
    let inputs = read_inputs(header, args.party, args.input.as_deref())?;
    let mut config =
        PartiesConfig::parse(&read(&args.config)?, &args.config).map_err(CliError::Config)?;
    let config_error = |message| {
        CliError::Config(ConfigError {
            file: args.config.clone(),
            message,
        })
    };
    check_before_connecting(header, &config, args.party).map_err(config_error)?;
    if let Some(key) = &args.key {
        config.parties[args.party as usize].key = Some(key.clone());
    }
    // Read before connecting, so that a missing or wrong key stops this party alone.
    let identity = Identity::load(&config, args.party).map_err(config_error)?;
    if !config.tls {
        warn(PLAIN_TCP_WARNING);
        if args.key.is_some() {
            warn("warning: --key is ignored: the parties do not use TLS");
        }
    }

    let hello = Hello {
        protocol: PROTOCOL.name().to_string(),
        protocol_version: PROTOCOL_VERSION,
        parties: config.parties(),
        party: args.party,
        program_hash: header.body_hash,
    };
    let start = Instant::now();
    let mut transport =
        TcpTransport::connect_with(&config, args.party, &hello, None, identity.as_ref())
            .map_err(CliError::Run)?;
    let connect_s = start.elapsed().as_secs_f64();
    let mut progress = Progress::new(header.num_rounds as usize);
    let result = mpc_vm::run_party_reporting(
        program.bytecode(),
        PROTOCOL,
        &mut transport,
        &inputs,
        &mut |done| progress.at(done),
    );
    progress.finish();
    let (raw, run) = result.map_err(CliError::Run)?;

    // The program and the inputs can be large; printing the outputs needs neither.
    drop(inputs);
    let descs = program.into_header().outputs;
    let rendered = my_outputs(&descs, args.party, raw).map_err(CliError::Run)?;
    let outputs = if args.json {
        mpc_vm::format_outputs_json(&rendered) + "\n"
    } else {
        mpc_vm::format_outputs_plain(&rendered)
    };
    drop(rendered);
    let peers = transport
        .stats()
        .into_iter()
        .zip(config.parties.iter().map(|p| p.address.clone()))
        .collect();
    Ok(Report {
        party: args.party,
        outputs,
        connect_s,
        run,
        peers,
    })
}

/// This party's raw inputs from its input file (none when there is no file).
fn read_inputs(header: &Header, party: u32, path: Option<&Path>) -> Result<Vec<u64>, CliError> {
    match path {
        Some(path) => {
            let json = serde_json::from_slice(&read(path)?).map_err(|source| CliError::Json {
                path: path.to_owned(),
                source,
            })?;
            mpc_vm::parse_party_inputs(header, party, &json).map_err(|source| CliError::Input {
                path: path.to_owned(),
                source: Box::new(source),
            })
        }
        None => {
            let none = serde_json::Value::Array(Vec::new());
            mpc_vm::parse_party_inputs(header, party, &none)
                .map_err(|e| CliError::NoInputFile(Box::new(e)))
        }
    }
}

/// What this party can tell is wrong with the config without the others: its id, and
/// the number of parties the program and the protocol need.
fn check_before_connecting(
    header: &Header,
    config: &PartiesConfig,
    party: u32,
) -> Result<(), String> {
    let parties = config.parties();
    if party >= parties {
        return Err(format!(
            "--party {party} is not listed: the file lists {parties} parties (ids 0 to {})",
            parties - 1
        ));
    }
    mpc_vm::check_parties(header, parties).map_err(|e| e.to_string())?;
    if PROTOCOL == ProtocolKind::Rep3 && parties != mpc_vm::rep3::PARTIES {
        return Err(format!(
            "protocol rep3 runs with exactly {} parties, but the file lists {parties}",
            mpc_vm::rep3::PARTIES
        ));
    }
    Ok(())
}

/// The outputs this party learns, rendered, in program order. A protocol that hands
/// this party an output addressed to others is not believed (it is not printed), and
/// one that withholds an output addressed to it is a bug.
fn my_outputs(
    descs: &[OutputDesc],
    party: u32,
    raw: mpc_vm::RawOutputs,
) -> Result<mpc_vm::PartyOutputs, VmError> {
    let bug = |reason: String| VmError::Protocol {
        protocol: PROTOCOL.name(),
        reason,
    };
    if raw.len() != descs.len() {
        return Err(bug(format!(
            "returned {} outputs for a program with {}",
            raw.len(),
            descs.len()
        )));
    }
    descs
        .iter()
        .zip(raw)
        .filter(|(desc, _)| desc.is_for(party))
        .map(|(desc, values)| {
            let values = values.ok_or_else(|| {
                bug(format!(
                    "party {party} did not learn output `{}`",
                    desc.name
                ))
            })?;
            Ok((desc.name.clone(), mpc_vm::render_output(desc, &values)))
        })
        .collect()
}

impl Report {
    fn total(&self) -> PeerStats {
        let stats: Vec<PeerStats> = self.peers.iter().map(|(s, _)| *s).collect();
        PeerStats::total(&stats)
    }

    fn other_peers(&self) -> impl Iterator<Item = (usize, &PeerStats, &String)> {
        self.peers
            .iter()
            .enumerate()
            .filter(|(p, _)| *p != self.party as usize)
            .map(|(p, (s, a))| (p, s, a))
    }

    /// The figures for people, one per line.
    fn stats_text(&self) -> String {
        let total = self.total();
        let mut s = String::new();
        let _ = writeln!(s, "party {}: {} rounds", self.party, self.run.rounds);
        let phases = [
            ("connect", self.connect_s),
            ("input", self.run.input_s),
            ("online", self.run.online_s),
            ("output", self.run.output_s),
        ];
        for (phase, secs) in phases {
            let _ = writeln!(s, "  {phase:<8} {secs:>10.6} s");
        }
        for (p, stats, address) in self.other_peers() {
            let _ = writeln!(
                s,
                "  party {p:<3} sent {:>14} B, received {:>14} B, {} messages ({address})",
                stats.bytes_sent, stats.bytes_received, stats.messages
            );
        }
        let _ = writeln!(
            s,
            "  total     sent {:>14} B, received {:>14} B",
            total.bytes_sent, total.bytes_received
        );
        let _ = writeln!(
            s,
            "  online    sent {:>14} B, received {:>14} B (after input sharing)",
            self.run.online_bytes_sent, self.run.online_bytes_received
        );
        let _ = writeln!(
            s,
            "  outputs   sent {:>14} B (part of online)",
            self.run.output_bytes_sent
        );
        s
    }

    /// The figures as `--stats-json` writes them.
    fn stats_json(&self) -> serde_json::Value {
        let total = self.total();
        let peers: Vec<_> = self
            .other_peers()
            .map(|(p, stats, address)| {
                json!({
                    "party": p,
                    "address": address,
                    "bytes_sent": stats.bytes_sent,
                    "bytes_received": stats.bytes_received,
                    "messages": stats.messages,
                })
            })
            .collect();
        json!({
            "party": self.party,
            "protocol": PROTOCOL.name(),
            "connect_s": self.connect_s,
            "input_s": self.run.input_s,
            "online_s": self.run.online_s,
            "output_s": self.run.output_s,
            "rounds": self.run.rounds,
            "bytes_sent": total.bytes_sent,
            "bytes_received": total.bytes_received,
            "online_bytes_sent": self.run.online_bytes_sent,
            "online_bytes_received": self.run.online_bytes_received,
            "output_bytes_sent": self.run.output_bytes_sent,
            "peers": peers,
        })
    }
}

/// A progress bar on standard error, for runs long enough to wonder about: it appears
/// after [`Progress::DELAY`], and only when standard error is a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    started: Instant,
    shown: bool,
}

impl Progress {
    const DELAY: std::time::Duration = std::time::Duration::from_secs(2);

    fn new(rounds: usize) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(rounds as u64),
            indicatif::ProgressDrawTarget::hidden(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("round {pos}/{len} {wide_bar} {elapsed}")
        {
            bar.set_style(style);
        }
        Progress {
            bar,
            started: Instant::now(),
            shown: false,
        }
    }

    fn at(&mut self, rounds_done: usize) {
        if !self.shown && self.started.elapsed() >= Self::DELAY {
            self.shown = true;
            if std::io::stderr().is_terminal() {
                self.bar
                    .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
        self.bar.set_position(rounds_done as u64);
    }

    /// Removes the bar, so that it never mixes with the report or an error.
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn args(dir: &std::path::Path, party: u32, input: Option<&str>) -> Args {
        let program = dir.join("p.mpcb");
        std::fs::write(&program, testkit::sample().encode().unwrap()).unwrap();
        let input = input.map(|json| {
            let path = dir.join(format!("mine{party}.json"));
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
            stats: false,
            stats_json: None,
            stream: Stream::Auto,
        }
    }

    /// A config for three parties on free loopback ports.
    fn write_config(dir: &Path, extra: &str) {
        let listeners: Vec<_> = (0..3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut text = format!("tls = false\n{extra}\n");
        for l in &listeners {
            let _ = writeln!(text, "[[party]]\naddress = \"{}\"", l.local_addr().unwrap());
        }
        std::fs::write(dir.join("parties.toml"), text).unwrap();
    }

    fn no_warnings(_: &str) {}

    #[test]
    fn three_parties_print_only_their_own_outputs() {
        let dir = testkit::scratch("run-three");
        write_config(&dir, "connect_timeout_s = 10");
        // The sample: `sum` = a * b + k to parties 0 and 2, `k` to everyone.
        // Whether a party streams the program is its own affair.
        let all_args = [
            args(&dir, 0, Some("[6]")),
            Args {
                stream: Stream::Always,
                ..args(&dir, 1, Some("[7, 100]"))
            },
            Args {
                json: true,
                stream: Stream::Never,
                ..args(&dir, 2, None)
            },
        ];
        let reports: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = all_args
                .iter()
                .map(|a| s.spawn(move || execute(a, &mut no_warnings)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let reports: Vec<Report> = reports
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(reports[0].outputs, "sum = 142\nk = 100\n");
        assert_eq!(reports[1].outputs, "k = 100\n");
        assert_eq!(reports[2].outputs, "{\"sum\": 142, \"k\": 100}\n");

        let stats = reports[0].stats_json();
        for key in [
            "connect_s",
            "input_s",
            "online_s",
            "output_s",
            "rounds",
            "bytes_sent",
            "bytes_received",
        ] {
            assert!(stats[key].is_number(), "{key}: {stats}");
        }
        assert!(stats["rounds"].as_u64().unwrap() >= 2, "{stats}");
        let peers = stats["peers"].as_array().unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(
            (peers[0]["party"].clone(), peers[1]["party"].clone()),
            (json!(1), json!(2))
        );
        let sent: u64 = peers
            .iter()
            .map(|p| p["bytes_sent"].as_u64().unwrap())
            .sum();
        assert_eq!(stats["bytes_sent"], json!(sent));
        assert!(sent > 0);
        let text = reports[0].stats_text();
        assert!(text.starts_with("party 0: "), "{text}");
        assert!(text.contains("  party 1   sent "), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_plain_tcp_run_warns_once() {
        let dir = testkit::scratch("run-warn");
        // Party 0 alone: it warns, then fails to meet the others within the timeout.
        write_config(&dir, "connect_timeout_s = 0.2");
        let mut warnings = Vec::new();
        let err = execute(&args(&dir, 0, Some("[6]")), &mut |w| {
            warnings.push(w.to_string())
        })
        .err()
        .expect("the others never start");
        assert_eq!(warnings, [PLAIN_TCP_WARNING]);
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.to_string()
                .starts_with("party 1: did not connect to this party"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn config_problems_are_reported_before_connecting() {
        let dir = testkit::scratch("run-config");
        let err = execute(&args(&dir, 1, Some("[4, 5]")), &mut no_warnings)
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().starts_with("cannot read `"), "{err}");

        let config = dir.join("parties.toml");
        std::fs::write(
            &config,
            "[[party]]\naddress = \"127.0.0.1:7000\"\n[[party]]\naddress = \"127.0.0.1:7001\"\n",
        )
        .unwrap();
        let err = execute(&args(&dir, 1, Some("[4, 5]")), &mut no_warnings)
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 1);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "`{}`: party 0: TLS (the default when `tls` is not given) needs a `cert`",
                config.display()
            )),
            "{message}"
        );

        // Two parties: the sample sends an output to party 2.
        std::fs::write(&config, "tls = false\n[[party]]\naddress = \"127.0.0.1:7000\"\n[[party]]\naddress = \"127.0.0.1:7001\"\n").unwrap();
        let err = execute(&args(&dir, 1, Some("[4, 5]")), &mut no_warnings)
            .err()
            .unwrap();
        let file = config.display();
        assert_eq!(
            err.to_string(),
            format!("`{file}`: output `sum` names party 2, but the run has 2 parties (ids 0 to 1)")
        );
        let err = execute(&args(&dir, 3, None), &mut no_warnings)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!("`{file}`: --party 3 is not listed: the file lists 2 parties (ids 0 to 1)")
        );

        write_config(&dir, "");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("[[party]]\naddress = \"127.0.0.1:1\"\n");
        std::fs::write(&config, text).unwrap();
        let err = execute(&args(&dir, 1, Some("[4, 5]")), &mut no_warnings)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!("`{file}`: protocol rep3 runs with exactly 3 parties, but the file lists 4")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_inputs_are_reported_before_anything_else() {
        let dir = testkit::scratch("run-bad");
        let err = execute(&args(&dir, 1, Some("[4, true]")), &mut no_warnings)
            .err()
            .unwrap();
        let mine = dir.join("mine1.json");
        assert_eq!(
            err.to_string(),
            format!(
                "`{}`: party 1: input 2 (`k`): expected `int64`, got true",
                mine.display()
            )
        );
        let err = execute(&args(&dir, 1, Some("[4,")), &mut no_warnings)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with(&format!("`{}`: not valid JSON: ", mine.display())),
            "{err}"
        );
        let err = execute(&args(&dir, 0, None), &mut no_warnings)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "party 0 supplies 0 input(s) but the program reads 1: missing `a` of type `sint64` (give them with `--input FILE`)"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
