//! Faults injected into real `mpcvm run` processes: a party killed mid-run, a party
//! stopped mid-run, and a fake party 0 that completes the handshake and then hangs up,
//! sends garbage frames, sends a wrongly sized message or stalls. Every surviving
//! party must exit with status 4 within the timeout plus a few seconds, name the party
//! and the phase or round on standard error, and print nothing on standard output.
//! The baseline: the same parties over TLS with keys from `mpcvm keygen` succeed, and
//! their `--stats-json` figures agree with each other and with the program.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use mpc_compiler::{compile_str, Options};
use mpc_vm::net::tcp::{read_frame, write_frame, PREAMBLE_MAGIC};
use mpc_vm::net::{Hello, MAX_HELLO_LEN};

/// The message timeout (`timeout_s`) of every run here.
const TIMEOUT_S: u64 = 2;
/// How long after the fault a surviving party may take to exit.
const GRACE: Duration = Duration::from_secs(TIMEOUT_S + 4);

/// A fresh folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mpcvm-faults-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles `source` into `dir/prog.mpcb`; returns its path and its body hash.
fn compile(dir: &Path, source: &str) -> (PathBuf, [u8; 32]) {
    let compiled = compile_str("prog.mpc", source, &Options::default())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let bytes = compiled.program.encode().unwrap();
    let hash = mpc_bytecode::Program::decode(&bytes)
        .unwrap()
        .header
        .body_hash;
    let path = dir.join("prog.mpcb");
    std::fs::write(&path, bytes).unwrap();
    (path, hash)
}

/// A free loopback port: bound, read, released. The party that is to listen there binds
/// it again a moment later; `spawn_parties` retries in the rare case another process
/// took it in between.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain-TCP `parties.toml` for three parties at `ports`.
fn write_config(dir: &Path, ports: [u16; 3]) -> PathBuf {
    let mut text = format!("tls = false\nconnect_timeout_s = 10\ntimeout_s = {TIMEOUT_S}\n");
    for port in ports {
        text += &format!("[[party]]\naddress = \"127.0.0.1:{port}\"\n");
    }
    let path = dir.join("parties.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `mpcvm run` for party `party`, with its inputs `input` (a JSON list); its
/// figures go to `dir/statsI.json`.
fn spawn(dir: &Path, program: &Path, config: &Path, party: u32, input: &str) -> Child {
    let input_path = dir.join(format!("in{party}.json"));
    std::fs::write(&input_path, input).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mpcvm"))
        .arg("run")
        .arg(program)
        .args(["--party", &party.to_string(), "--config"])
        .arg(config)
        .arg("--input")
        .arg(&input_path)
        .arg("--stats-json")
        .arg(dir.join(format!("stats{party}.json")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpcvm starts")
}

/// How a party ended.
#[derive(Debug)]
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// When it ended, as seen by the polling loop.
    at: Instant,
}

/// Waits for `child` to end, for at most `limit` (then kills it and fails).
fn wait(mut child: Child, limit: Duration) -> Ended {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let at = Instant::now();
            let mut stdout = String::new();
            let mut stderr = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Ended {
                code: status.code(),
                stdout,
                stderr,
                at,
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mpcvm did not end within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that a surviving party failed as a peer failure (status 4), printed nothing,
/// and said `expected` (a prefix of the error, then `phase`) on standard error.
fn assert_failed(who: &str, ended: &Ended, expected: &str, phase: &str) {
    assert_eq!(ended.code, Some(4), "{who}: {ended:?}");
    assert_eq!(ended.stdout, "", "{who}: {ended:?}");
    let line = ended
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{who}: no error line: {ended:?}"));
    assert!(
        line.starts_with(&format!("error: {expected}")),
        "{who}: expected `error: {expected}...`, got `{line}`"
    );
    assert!(
        line.ends_with(phase),
        "{who}: expected `...{phase}`, got `{line}`"
    );
    eprintln!("{who}: {line}");
}

/// `acc = acc * acc + y`, `n` times: `n` dependent rounds.
fn chain(n: usize) -> String {
    format!(
        "x = input(sint, party=0)\ny = input(sint, party=1)\nacc = x\n\
         for i in range({n}):\n    acc = acc * acc + y\noutput(acc)\n"
    )
}

const INPUTS: [&str; 3] = ["[3]", "[5]", "[]"];

/// The established TCP connections to `ports` (the parties' listening ports), each
/// counted from both ends (the dialing end has a port of its own), from Linux's
/// `/proc/net/tcp`.
fn established_among(ports: &[u16; 3]) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let port = |field: &str| {
        field
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Fields: slot, local address, remote address, state (01 = established).
            fields.len() > 3
                && fields[3] == "01"
                && [fields[1], fields[2]]
                    .iter()
                    .any(|f| port(f).is_some_and(|p| ports.contains(&p)))
        })
        .count()
}

/// Starts the three parties of a long run and returns once they are connected to each
/// other and computing. Retries with other ports if one of them could not listen (a
/// port taken between choosing and binding it).
fn spawn_parties(dir: &Path, program: &Path) -> Vec<Child> {
    for _ in 0..3 {
        let ports = [free_port(), free_port(), free_port()];
        let config = write_config(dir, ports);
        let mut children: Vec<Child> = (0..3)
            .map(|p| spawn(dir, program, &config, p, INPUTS[p as usize]))
            .collect();
        let start = Instant::now();
        let mut failed = false;
        while start.elapsed() < Duration::from_secs(20) {
            failed = children
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(Some(s)) if !s.success()));
            if failed || established_among(&ports) == 6 {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        if !failed {
            // Past the hellos and the start-up exchange, into the rounds.
            thread::sleep(Duration::from_millis(300));
            return children;
        }
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    panic!("could not start three parties on free ports");
}

/// Rounds in the long runs: enough that a run takes well over a second even on a fast
/// machine, so that the fault lands in the middle.
const LONG: usize = 300_000;

/// How long after the parties connect a mid-run fault waits: usually past loading and
/// input sharing, well before the end. On a busy machine a party may still be sharing
/// inputs, so the survivors' message may name that phase instead of a round.
const INTO_THE_RUN: Duration = Duration::from_millis(1000);

/// The three parties of a long run in `dir`, [`INTO_THE_RUN`] after they connected,
/// with party 1 (the one the mid-run faults hit) still running.
fn long_run_under_way(dir: &Path) -> Vec<Child> {
    let (program, _) = compile(dir, &chain(LONG));
    let mut children = spawn_parties(dir, &program);
    thread::sleep(INTO_THE_RUN);
    if children[1].try_wait().unwrap().is_some() {
        let ended = wait(children.remove(1), Duration::ZERO);
        panic!("party 1 ended before the fault: {ended:?}");
    }
    children
}

#[test]
fn a_party_killed_mid_run_fails_the_others_at_once() {
    let dir = scratch("kill");
    let mut children = long_run_under_way(&dir);
    children[1].kill().unwrap();
    let killed = Instant::now();
    let _ = children[1].wait();
    let mut children = children.into_iter();
    let p0 = wait(children.next().unwrap(), GRACE);
    let p2 = wait(children.nth(1).unwrap(), GRACE);
    for (who, ended) in [("party 0", &p0), ("party 2", &p2)] {
        // Either it saw the connection close, or the other survivor saw it first and
        // sent word: both name party 1.
        assert_failed(who, ended, "party 1: ", ")");
        assert!(
            ["connection closed", "stopped because of it"]
                .iter()
                .any(|why| ended.stderr.contains(why)),
            "{who}: {ended:?}"
        );
        assert!(
            ended.at - killed < Duration::from_secs(3),
            "{who}: {:?}",
            ended.at - killed
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_party_stopped_mid_run_fails_the_others_after_the_timeout() {
    let dir = scratch("stop");
    let mut children = long_run_under_way(&dir);
    let pid = children[1].id().to_string();
    let stopped = Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    assert!(stopped.success());
    let at = Instant::now();
    let mut p1 = children.remove(1);
    let p0 = wait(children.remove(0), GRACE);
    let p2 = wait(children.remove(0), GRACE);
    let _ = p1.kill();
    let _ = p1.wait();
    for (who, ended) in [("party 0", &p0), ("party 2", &p2)] {
        assert_failed(who, ended, "party 1: ", ")");
        assert!(
            [
                format!("no message within {TIMEOUT_S} s"),
                "stopped because of it".to_string()
            ]
            .iter()
            .any(|why| ended.stderr.contains(why.as_str())),
            "{who}: {ended:?}"
        );
        let took = ended.at - at;
        assert!(
            took >= Duration::from_secs(TIMEOUT_S) - Duration::from_millis(100) && took < GRACE,
            "{who}: {took:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A program in which the fake party 0 has no inputs.
const SMALL: &str = "x = input(sint, party=1)\ny = input(sint, party=2)\nacc = x\n\
                     for i in range(20):\n    acc = acc * acc + y\noutput(acc)\n";

/// Runs real parties 1 and 2 against a fake party 0 that accepts their connections,
/// exchanges correct hellos and then does `misbehave` with the two connections
/// (`[to party 1, to party 2]`). Returns how parties 1 and 2 ended and when `misbehave`
/// started.
fn against_fake_party_0(
    test: &str,
    misbehave: impl FnOnce([TcpStream; 2]) + Send + 'static,
) -> (Ended, Ended, Instant) {
    let dir = scratch(test);
    let (program, hash) = compile(&dir, SMALL);
    // Party 0's port stays bound by the fake from the start: no race for it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port0 = listener.local_addr().unwrap().port();
    let config = write_config(&dir, [port0, free_port(), free_port()]);
    let fake = thread::spawn(move || {
        let mut streams: [Option<TcpStream>; 2] = [None, None];
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let mut preamble = [0u8; 8];
            s.read_exact(&mut preamble).unwrap();
            assert_eq!(preamble[..4], PREAMBLE_MAGIC);
            let peer = u32::from_le_bytes(preamble[4..].try_into().unwrap());
            streams[peer as usize - 1] = Some(s);
        }
        let streams = streams.map(Option::unwrap);
        let hello = Hello {
            protocol: "rep3".into(),
            protocol_version: mpc_vm::rep3::MESSAGES_VERSION,
            parties: 3,
            party: 0,
            program_hash: hash,
        };
        for mut s in &streams {
            write_frame(&mut s, &hello.encode()).unwrap();
        }
        for mut s in &streams {
            read_frame(&mut s, MAX_HELLO_LEN).unwrap();
        }
        let start = Instant::now();
        misbehave(streams);
        start
    });
    let p1 = spawn(&dir, &program, &config, 1, "[4]");
    let p2 = spawn(&dir, &program, &config, 2, "[6]");
    let limit = Duration::from_secs(10) + GRACE;
    let (p1, p2) = (wait(p1, limit), wait(p2, limit));
    let start = fake.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (p1, p2, start)
}

#[test]
fn a_peer_that_hangs_up_after_the_handshake_is_named() {
    let (p1, p2, at) = against_fake_party_0("hangup", drop);
    for (who, ended) in [("party 1", &p1), ("party 2", &p2)] {
        assert_failed(who, ended, "party 0: connection closed", "(start-up)");
        assert!(ended.at - at < Duration::from_secs(3), "{who}");
    }
}

#[test]
fn a_peer_that_sends_garbage_frames_is_named() {
    let (p1, p2, _) = against_fake_party_0("garbage", |streams| {
        for mut s in &streams {
            // A length prefix no party accepts, then noise.
            std::io::Write::write_all(&mut s, &[0xff, 0xff, 0xff, 0x7f, 1, 2, 3]).unwrap();
        }
        thread::sleep(Duration::from_millis(500));
    });
    for (who, ended) in [("party 1", &p1), ("party 2", &p2)] {
        assert_failed(
            who,
            ended,
            "party 0: sent a frame of 2147483647 bytes, which exceeds the limit of 1073741824",
            "(start-up)",
        );
    }
}

#[test]
fn a_peer_that_sends_a_wrongly_sized_message_is_named() {
    let (p1, p2, _) = against_fake_party_0("size", |streams| {
        // Start-up: party 2 expects a 32-byte key from party 0, party 1 nothing.
        let [mut to1, mut to2] = streams;
        write_frame(&mut to1, &[]).unwrap();
        write_frame(&mut to2, &[7; 5]).unwrap();
        // Then leave: party 1 learns it while sharing inputs.
        thread::sleep(Duration::from_millis(300));
    });
    assert_failed(
        "party 2",
        &p2,
        "party 0: sent a malformed key",
        "(start-up)",
    );
    assert_failed(
        "party 1",
        &p1,
        "party 0: connection closed",
        "(input sharing)",
    );
}

#[test]
fn a_peer_that_stalls_is_named_after_the_timeout() {
    let (p1, p2, at) = against_fake_party_0("stall", |streams| {
        thread::sleep(Duration::from_secs(TIMEOUT_S + 2));
        drop(streams);
    });
    for (who, ended) in [("party 1", &p1), ("party 2", &p2)] {
        assert_failed(
            who,
            ended,
            &format!("party 0: no message within {TIMEOUT_S} s"),
            "(start-up)",
        );
        let took = ended.at - at;
        assert!(
            took >= Duration::from_secs(TIMEOUT_S) && took < GRACE,
            "{who}: {took:?}"
        );
    }
}

#[test]
fn three_parties_over_tls_with_keygen_keys_compute_without_warnings() {
    let dir = scratch("tls");
    let (program, _) = compile(&dir, &chain(3));
    for p in 0..3 {
        let out = Command::new(env!("CARGO_BIN_EXE_mpcvm"))
            .args(["keygen", "--party", &p.to_string(), "--out"])
            .arg(dir.join("certs"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let ports = [free_port(), free_port(), free_port()];
    let mut text = format!("connect_timeout_s = 10\ntimeout_s = {TIMEOUT_S}\n");
    for (p, port) in ports.iter().enumerate() {
        text += &format!(
            "[[party]]\naddress = \"127.0.0.1:{port}\"\ncert = \"certs/party{p}.crt\"\n\
             key = \"certs/party{p}.key\"\n"
        );
    }
    let config = dir.join("parties.toml");
    std::fs::write(&config, text).unwrap();
    let children: Vec<Child> = (0..3)
        .map(|p| spawn(&dir, &program, &config, p, INPUTS[p as usize]))
        .collect();
    // acc = x, then acc = acc * acc + y three times: 3 → 14 → 201 → 40406.
    for child in children {
        let ended = wait(child, Duration::from_secs(20));
        assert_eq!(ended.code, Some(0), "{ended:?}");
        assert_eq!(ended.stdout, "out0 = 40406\n", "{ended:?}");
        assert_eq!(ended.stderr, "", "{ended:?}");
    }
    check_stats(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `--stats-json` files of a run of `chain(3)` whose output every party learns.
fn check_stats(dir: &Path) {
    let stats: Vec<serde_json::Value> = (0..3)
        .map(|p| {
            let text = std::fs::read_to_string(dir.join(format!("stats{p}.json"))).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    for (p, s) in stats.iter().enumerate() {
        for key in ["connect_s", "input_s", "online_s", "output_s"] {
            assert!(
                s[key].as_f64().is_some_and(|t| t >= 0.0),
                "party {p}: {key} in {s}"
            );
        }
        assert!(
            s["output_s"].as_f64() <= s["online_s"].as_f64(),
            "party {p}: {s}"
        );
        // Start-up keys, inputs, the synchronizing exchange, 3 products (the opening goes
        // with the last, whose share `z` each party knows before sending) and the closing
        // exchange.
        assert_eq!(s["rounds"], 7, "party {p}: {s}");
        // Three 8-byte products and this party's 8-byte component for the opening.
        assert_eq!(s["online_bytes_sent"], 32, "party {p}: {s}");
        assert_eq!(s["output_bytes_sent"], 8, "party {p}: {s}");
        let peers = s["peers"].as_array().unwrap();
        assert_eq!(peers.len(), 2, "party {p}: {s}");
        let sent: u64 = peers
            .iter()
            .map(|q| q["bytes_sent"].as_u64().unwrap())
            .sum();
        assert_eq!(s["bytes_sent"].as_u64(), Some(sent), "party {p}: {s}");
        for peer in peers {
            let q = peer["party"].as_u64().unwrap() as usize;
            let back = stats[q]["peers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["party"] == p)
                .unwrap();
            assert_eq!(
                peer["bytes_sent"], back["bytes_received"],
                "what {p} sent {q} is what {q} received from {p}"
            );
        }
    }
}
