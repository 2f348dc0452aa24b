//! Compile-time benchmark: `cargo bench -p mpc-compiler --bench compile`.
//!
//! Each case is compiled in a fresh child process (so that its peak memory is its own),
//! three times; the median wall time, the gate count, seconds per million gates and the
//! peak resident memory (VmHWM) are printed. The target (issue 2) is 10^6 secret
//! multiplications in at most 2 s and 1 GiB.

use std::process::Command;
use std::time::Instant;

use mpc_compiler::{compile_str, Options};

const CASES: &[(&str, &str)] = &[
    (
        "dot product, 10^6 secret multiplications",
        "N = 1000000\nx = input(sint[N], party=0)\ny = input(sint[N], party=1)\noutput(sum([x[i] * y[i] for i in range(N)]))\n",
    ),
    (
        "elementwise product, 10^6 outputs",
        "N = 1000000\nx = input(sint[N], party=0)\ny = input(sint[N], party=1)\noutput([x[i] * y[i] for i in range(N)])\n",
    ),
    (
        "10^4 comparisons of sint64",
        "N = 10000\nx = input(sint[N], party=0)\ny = input(sint[N], party=1)\noutput([x[i] < y[i] for i in range(N)])\n",
    ),
];

/// Peak resident memory of this process, in MiB, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn child(case: usize) {
    let start = Instant::now();
    let compiled = compile_str("bench.mpc", CASES[case].1, &Options::default())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let bytes = compiled.program.encode().expect("encodes");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{seconds} {} {} {}",
        compiled.circuit.len(),
        bytes.len(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}

fn main() {
    if let Ok(case) = std::env::var("MPCC_BENCH_CASE") {
        child(case.parse().expect("case index"));
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    println!(
        "{:<44} {:>9} {:>11} {:>12} {:>10}",
        "case", "seconds", "gates", "s/M gates", "peak MiB"
    );
    for (i, (name, _)) in CASES.iter().enumerate() {
        let mut runs: Vec<(f64, u64, f64)> = (0..3)
            .map(|_| {
                let out = Command::new(&exe)
                    .env("MPCC_BENCH_CASE", i.to_string())
                    .output()
                    .expect("child runs");
                let text = String::from_utf8_lossy(&out.stdout);
                let f: Vec<&str> = text.split_whitespace().collect();
                assert!(
                    f.len() == 4,
                    "child failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (
                    f[0].parse().unwrap_or(f64::NAN),
                    f[1].parse().unwrap_or(0),
                    f[3].parse().unwrap_or(f64::NAN),
                )
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (seconds, gates, mib) = runs[1];
        let per_million = seconds / (gates as f64 / 1e6);
        println!("{name:<44} {seconds:>9.3} {gates:>11} {per_million:>12.3} {mib:>10.0}");
    }
}
