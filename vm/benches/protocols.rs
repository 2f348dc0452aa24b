//! Protocol benchmark: `cargo bench -p mpc-vm --bench protocols`.
//!
//! Each case is compiled with `mpcc`'s library, then run by three `mpcvm` processes on
//! 127.0.0.1, five times over plain TCP and five times over TLS (keys from `mpcvm
//! keygen` in a temporary folder). Printed per case: the median online time (from the
//! first round after input sharing to the last opened output; the slowest party of each
//! run counts) over plain TCP and over TLS, the most bytes a party sent in the rounds
//! (the online phase without opening the outputs) next to the nonlinear gates × share
//! size (an AND bit is one bit, a product or conversion one 64-bit word), the bytes a
//! party sent opening the outputs, rounds, and the figure of MP-SPDZ's
//! `replicated-ring-party.x` measured on the same kind of machine. `MPC_BENCH_RUNS` changes the number of runs; `MPC_BENCH_ONLY`
//! picks one case by a word of its name; `MPC_BENCH_TLS=0` skips the TLS runs;
//! `MPC_BENCH_STREAM` is passed to `mpcvm run --stream` (`auto` by default).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mpc_compiler::{compile_bristol, compile_str, Compiled, Options};

struct Case {
    name: &'static str,
    program: Source,
    /// The inputs of parties 0 and 1 (party 2 has none), as JSON lists.
    inputs: [String; 2],
    mp_spdz_s: f64,
}

/// What a case runs.
enum Source {
    /// A program.
    Program(String),
    /// A Bristol Fashion circuit from ../shared/circuits/bristol, with this many
    /// instances side by side (`mpcc --bristol --lanes`).
    Bristol(&'static str, u32),
}

impl Source {
    /// The compiled case, or `None` (with a message) when its circuit file is missing.
    fn compile(&self) -> Option<Compiled> {
        let compiled = match self {
            Source::Program(text) => compile_str("bench.mpc", text, &Options::default()),
            Source::Bristol(name, lanes) => {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared/circuits/bristol")
                    .join(name);
                if !path.exists() {
                    println!("skipped: {} not found", path.display());
                    return None;
                }
                let opts = Options {
                    lanes: *lanes,
                    ..Options::default()
                };
                compile_bristol(&path, &opts)
            }
        };
        Some(compiled.unwrap_or_else(|e| panic!("{}", e.render())))
    }
}

/// `n` rows of `bits` pseudo-random bools, as the JSON inputs of one party.
fn bit_rows(n: usize, bits: usize, seed: u64) -> String {
    let mut x = seed;
    let rows: Vec<String> = (0..n)
        .map(|_| {
            let row: Vec<&str> = (0..bits)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if x >> 63 == 1 {
                        "true"
                    } else {
                        "false"
                    }
                })
                .collect();
            format!("[{}]", row.join(","))
        })
        .collect();
    format!("[[{}]]", rows.join(","))
}

fn vector(n: usize, seed: u64) -> String {
    // A small linear congruential sequence: inputs need only be varied, not random.
    let mut x = seed;
    let items: Vec<String> = (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as i64 - (1 << 23)).to_string()
        })
        .collect();
    format!("[[{}]]", items.join(","))
}

fn cases() -> Vec<Case> {
    let n = 1_000_000;
    let pair = |n: usize| [vector(n, 1), vector(n, 2)];
    vec![
        Case {
            name: "elementwise product of two 10^6-vectors",
            program: Source::Program(format!("N = {n}\nx = input(sint[N], party=0)\ny = input(sint[N], party=1)\noutput([x[i] * y[i] for i in range(N)], to=0)\n")),
            inputs: pair(n),
            mp_spdz_s: 0.091,
        },
        Case {
            name: "inner product of two 10^6-vectors",
            program: Source::Program(format!("N = {n}\nx = input(sint[N], party=0)\ny = input(sint[N], party=1)\noutput(sum([x[i] * y[i] for i in range(N)]))\n")),
            inputs: pair(n),
            mp_spdz_s: 0.006,
        },
        Case {
            name: "10^5 comparisons of sint64",
            program: Source::Program("N = 100000\nx = input(sint[N], party=0)\ny = input(sint[N], party=1)\noutput([x[i] < y[i] for i in range(N)], to=0)\n".into()),
            inputs: pair(100_000),
            mp_spdz_s: 0.047,
        },
        Case {
            name: "1,000 dependent multiplications",
            program: Source::Program("x = input(sint, party=0)\ny = input(sint, party=1)\nacc = x\nfor i in range(1000):\n    acc = acc * acc + y\noutput(acc)\n".into()),
            inputs: ["[3]".into(), "[5]".into()],
            mp_spdz_s: 0.054,
        },
        Case {
            name: "AES-128 on 1,000 blocks (Bristol aes_128)",
            program: Source::Bristol("aes_128.txt", 1000),
            inputs: [bit_rows(1000, 128, 1), bit_rows(1000, 128, 2)],
            mp_spdz_s: 0.0127,
        },
    ]
}

fn free_ports() -> [u16; 3] {
    let listeners: Vec<_> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .collect();
    [ports[0], ports[1], ports[2]]
}

/// Writes every party's key and certificate into `dir/certs` with `mpcvm keygen`.
fn keygen(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    for p in 0..3 {
        let status = Command::new(env!("CARGO_BIN_EXE_mpcvm"))
            .args(["keygen", "--force", "--party", &p.to_string(), "--out"])
            .arg(&certs)
            .stdout(Stdio::null())
            .status()
            .expect("mpcvm keygen runs");
        assert!(status.success(), "mpcvm keygen failed");
    }
    certs
}

/// What one run measured.
#[derive(Clone, Copy)]
struct Measured {
    /// Online seconds of the slowest party.
    online_s: f64,
    /// The most bytes a party sent in the rounds.
    round_bytes: u64,
    /// The most bytes a party sent opening the outputs.
    output_bytes: u64,
    rounds: u64,
}

/// One run, over TLS with `certs` (the folder `keygen` wrote).
fn run_once(dir: &Path, program: &Path, certs: Option<&Path>) -> Measured {
    let ports = free_ports();
    let config = dir.join("parties.toml");
    let parties: String = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut entry = format!("[[party]]\naddress = \"127.0.0.1:{p}\"\n");
            if let Some(certs) = certs {
                let file = |ext| certs.join(format!("party{i}.{ext}")).display().to_string();
                entry += &format!("cert = {:?}\nkey = {:?}\n", file("crt"), file("key"));
            }
            entry
        })
        .collect();
    let tls = if certs.is_some() { "true" } else { "false" };
    std::fs::write(&config, format!("tls = {tls}\n{parties}")).expect("config written");
    let children: Vec<_> = (0..3)
        .map(|p| {
            Command::new(env!("CARGO_BIN_EXE_mpcvm"))
                .arg("run")
                .arg(program)
                .args(["--party", &p.to_string(), "--config"])
                .arg(&config)
                .arg("--input")
                .arg(dir.join(format!("in{p}.json")))
                .arg("--stats-json")
                .arg(dir.join(format!("stats{p}.json")))
                .arg("--stream")
                .arg(std::env::var("MPC_BENCH_STREAM").unwrap_or_else(|_| "auto".into()))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("mpcvm starts")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("mpcvm ends");
        assert!(
            out.status.success(),
            "mpcvm failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut m = Measured {
        online_s: 0.0,
        round_bytes: 0,
        output_bytes: 0,
        rounds: 0,
    };
    for p in 0..3 {
        let text =
            std::fs::read_to_string(dir.join(format!("stats{p}.json"))).expect("stats written");
        let stats: serde_json::Value = serde_json::from_str(&text).expect("stats are JSON");
        let figure = |key: &str| stats[key].as_u64().unwrap_or(0);
        m.online_s = m
            .online_s
            .max(stats["online_s"].as_f64().unwrap_or(f64::NAN));
        let output = figure("output_bytes_sent");
        m.round_bytes = m
            .round_bytes
            .max(figure("online_bytes_sent").saturating_sub(output));
        m.output_bytes = m.output_bytes.max(output);
        m.rounds = figure("rounds");
    }
    m
}

fn main() {
    let runs: usize = std::env::var("MPC_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("MPC_BENCH_ONLY").ok();
    let dir: PathBuf = std::env::temp_dir().join(format!("mpc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let certs = (std::env::var("MPC_BENCH_TLS").as_deref() != Ok("0")).then(|| keygen(&dir));
    println!(
        "{:<42} {:>9} {:>9} {:>13} {:>13} {:>6} {:>12} {:>7} {:>10}",
        "case",
        "online s",
        "TLS s",
        "round B/party",
        "nonlinear B",
        "ratio",
        "output B",
        "rounds",
        "MP-SPDZ s"
    );
    for case in cases() {
        if only.as_deref().is_some_and(|w| !case.name.contains(w)) {
            continue;
        }
        let Some(compiled) = case.program.compile() else {
            continue;
        };
        let program = dir.join("bench.mpcb");
        std::fs::write(&program, compiled.program.encode().expect("encodes"))
            .expect("bytecode written");
        for (p, inputs) in case.inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("in{p}.json")), inputs).expect("inputs written");
        }
        std::fs::write(dir.join("in2.json"), "[]").expect("inputs written");
        let median = |certs: Option<&Path>| {
            let mut results: Vec<Measured> =
                (0..runs).map(|_| run_once(&dir, &program, certs)).collect();
            results.sort_by(|a, b| a.online_s.total_cmp(&b.online_s));
            results[runs / 2]
        };
        let m = median(None);
        let tls = certs.as_deref().map_or("-".to_string(), |c| {
            format!("{:.4}", median(Some(c)).online_s)
        });
        let stats = compiled.stats();
        let nonlinear_bits = stats.and_gates + (stats.nonlinear - stats.and_gates) * 64;
        let nonlinear_bytes = nonlinear_bits.div_ceil(8);
        let ratio = m.round_bytes as f64 / nonlinear_bytes.max(1) as f64;
        println!(
            "{:<42} {:>9.4} {tls:>9} {:>13} {nonlinear_bytes:>13} {ratio:>6.3} {:>12} {:>7} {:>10}",
            case.name, m.online_s, m.round_bytes, m.output_bytes, m.rounds, case.mp_spdz_s
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
