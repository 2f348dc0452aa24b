//! Parties connected over loopback TCP, each on its own thread: start order, messages
//! of every size (plain and TLS), the handshake refusing a different program or a
//! certificate other than the configured one, and parties that never start or leave.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use mpc_vm::net::config::PartiesConfig;
use mpc_vm::net::tcp::TcpTransport;
use mpc_vm::net::tls::{self, Identity};
use mpc_vm::net::{Hello, PeerStats};
use mpc_vm::{Transport, VmError};

fn hello(party: u32, parties: u32, program: u8) -> Hello {
    Hello {
        protocol: "rep3".into(),
        protocol_version: 1,
        parties,
        party,
        program_hash: [program; 32],
    }
}

/// `n` loopback addresses with free ports, found by binding port 0. The listeners are
/// dropped, so each party binds its own address when it starts, as `mpcvm` does.
fn free_addresses(n: usize) -> Vec<String> {
    let listeners: Vec<_> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

fn config(addresses: Vec<String>, connect_timeout: Duration) -> PartiesConfig {
    let mut config = PartiesConfig::plain(addresses);
    config.connect_timeout = connect_timeout;
    config.timeout = Duration::from_secs(10);
    config
}

/// A TLS config: keys and certificates for every party written by [`tls::generate`]
/// into a fresh folder named after `test`, `cert` and `key` set for every party.
fn tls_config(test: &str, addresses: Vec<String>, connect_timeout: Duration) -> PartiesConfig {
    let dir = std::env::temp_dir().join(format!("mpcvm-tcp-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = config(addresses, connect_timeout);
    config.tls = true;
    for (p, entry) in config.parties.iter_mut().enumerate() {
        let (key, cert) = tls::generate(p as u32).unwrap();
        let (key_path, cert_path) = (dir.join(format!("p{p}.key")), dir.join(format!("p{p}.crt")));
        std::fs::write(&key_path, key).unwrap();
        std::fs::write(&cert_path, cert).unwrap();
        entry.cert = Some(cert_path);
        entry.key = Some(key_path);
    }
    config
}

/// Message sizes per round: empty, tiny, below and above the inline write limit, large.
const SIZES: [usize; 6] = [0, 1, 1000, 100_000, 16 << 20, 8];

/// The message party `from` sends party `to` in `round`: a size that differs per pair,
/// a fill byte per (from, to, round), and a position marker every 4099 bytes so that
/// reordered or dropped chunks show.
fn message(from: u32, to: u32, round: usize) -> Vec<u8> {
    let len = SIZES[round] + (from * 3 + to) as usize;
    let fill = (from * 16 + to * 4) as u8 ^ (round as u8) << 6;
    let mut m = vec![fill; len];
    for (k, i) in (0..len).step_by(4099).enumerate() {
        m[i] = (k as u8) ^ (from as u8);
    }
    m
}

/// Runs party `party`: waits `delay`, connects, exchanges every round of `message`s
/// and checks what arrives. Returns the transport's figures.
fn party(
    config: PartiesConfig,
    party: u32,
    delay: Duration,
) -> thread::JoinHandle<Result<Vec<PeerStats>, VmError>> {
    thread::spawn(move || {
        thread::sleep(delay);
        let n = config.parties();
        let mut t = TcpTransport::connect(&config, party, &hello(party, n, 1))?;
        assert_eq!((t.party(), t.parties()), (party, n));
        for round in 0..SIZES.len() {
            let outgoing: Vec<_> = (0..n)
                .map(|to| {
                    if to == party {
                        Vec::new()
                    } else {
                        message(party, to, round)
                    }
                })
                .collect();
            let incoming = t.exchange(&outgoing)?;
            assert_eq!(incoming.len(), n as usize);
            for (from, got) in incoming.iter().enumerate() {
                let from = from as u32;
                let expected = if from == party {
                    Vec::new()
                } else {
                    message(from, party, round)
                };
                // Not assert_eq: a 16 MB diff is no help.
                assert!(
                    *got == expected,
                    "party {party}, round {round}: the message from {from} differs \
                     ({} bytes, expected {})",
                    got.len(),
                    expected.len()
                );
            }
        }
        Ok(t.stats())
    })
}

#[test]
fn three_parties_started_in_any_order_exchange_messages_of_every_size() {
    // Each order's first party waits for the others; the last one finds them all up.
    for order in [[2, 1, 0], [0, 2, 1]] {
        let config = config(free_addresses(3), Duration::from_secs(10));
        let handles: Vec<_> = order
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                (
                    p,
                    party(config.clone(), p, Duration::from_millis(60 * k as u64)),
                )
            })
            .collect();
        for (p, handle) in handles {
            let stats = handle.join().unwrap().unwrap();
            for q in 0..3 {
                if q == p {
                    assert_eq!(stats[q as usize], PeerStats::default());
                    continue;
                }
                let total = |from, to| -> u64 {
                    (0..SIZES.len())
                        .map(|r| message(from, to, r).len() as u64)
                        .sum()
                };
                assert_eq!(
                    stats[q as usize],
                    PeerStats {
                        bytes_sent: total(p, q),
                        bytes_received: total(q, p),
                        messages: SIZES.len() as u64,
                    },
                    "order {order:?}: party {p}'s figures for party {q}"
                );
            }
        }
    }
}

#[test]
fn three_tls_parties_exchange_messages_of_every_size() {
    let config = tls_config("sizes", free_addresses(3), Duration::from_secs(10));
    let handles: Vec<_> = [1, 2, 0]
        .into_iter()
        .enumerate()
        .map(|(k, p)| party(config.clone(), p, Duration::from_millis(60 * k as u64)))
        .collect();
    for handle in handles {
        let stats = handle.join().unwrap().unwrap();
        assert_eq!(
            stats.iter().map(|s| s.messages).sum::<u64>(),
            2 * SIZES.len() as u64
        );
    }
}

/// Two parties over TLS; `certs_seen_by[p]` are the certificates party `p`'s config
/// lists, `keys[p]` party `p`'s key. Returns each party's result.
fn connect_two_tls(certs_seen_by: [Vec<String>; 2], keys: [String; 2]) -> Vec<Result<(), String>> {
    connect_tls(&certs_seen_by, &keys, Duration::from_secs(2), |_| {
        Duration::ZERO
    })
}

/// Parties over TLS, as [`connect_two_tls`] connects two, each starting after its
/// `delay`, within `connect_timeout`.
fn connect_tls(
    certs_seen_by: &[Vec<String>],
    keys: &[String],
    connect_timeout: Duration,
    delay: impl Fn(u32) -> Duration,
) -> Vec<Result<(), String>> {
    let n = keys.len() as u32;
    let mut config = config(free_addresses(n as usize), connect_timeout);
    config.tls = true;
    let handles: Vec<_> = (0..n)
        .map(|p| {
            let config = config.clone();
            let identity =
                Identity::from_pem(p, &certs_seen_by[p as usize], &keys[p as usize]).unwrap();
            let delay = delay(p);
            thread::spawn(move || {
                thread::sleep(delay);
                TcpTransport::connect_with(&config, p, &hello(p, n, 1), None, Some(&identity))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn a_tls_peer_with_another_certificate_is_refused_on_both_sides() {
    let [(key0, cert0), (key1, cert1), (_, other)] = [0, 1, 1].map(|p| tls::generate(p).unwrap());
    let refused = "refused this party's certificate (TLS alert AccessDenied): the parties.toml \
                   it uses must list the certificate of this party's key";

    // Party 1 (the dialer) presents a certificate that party 0 does not know it by.
    let results = connect_two_tls(
        [
            vec![cert0.clone(), other.clone()],
            vec![cert0.clone(), cert1.clone()],
        ],
        [key0.clone(), key1.clone()],
    );
    assert_eq!(
        results,
        [
            Err("party 1: presented a certificate that is not the one configured for party 1 in parties.toml".to_string()),
            Err(format!("party 0: TLS handshake: {refused}")),
        ]
    );

    // Party 0 (the acceptor) presents a certificate that party 1 does not know it by.
    let results = connect_two_tls(
        [
            vec![cert0.clone(), cert1.clone()],
            vec![other, cert1.clone()],
        ],
        [key0.clone(), key1.clone()],
    );
    assert_eq!(
        results[1],
        Err("party 0: presented a certificate that is not the one configured for party 0 in parties.toml".to_string())
    );
    let err = results[0].clone().unwrap_err();
    assert!(err.starts_with("party 1: TLS handshake: "), "{err}");

    // The right certificates on both sides connect.
    let results = connect_two_tls(
        [vec![cert0.clone(), cert1.clone()], vec![cert0, cert1]],
        [key0, key1],
    );
    assert_eq!(results, [Ok(()), Ok(())]);
}

#[test]
fn a_party_waiting_for_a_refused_party_learns_it_from_the_party_that_refused_it() {
    let [(key0, cert0), (key1, cert1), (key2, cert2), (_, other)] =
        [0, 1, 2, 2].map(|p| tls::generate(p).unwrap());
    // Party 0 knows party 2 by another certificate; party 1 knows the right one.
    let certs_seen_by = [
        vec![cert0.clone(), cert1.clone(), other],
        vec![cert0.clone(), cert1.clone(), cert2.clone()],
        vec![cert0, cert1, cert2],
    ];
    let keys = [key0, key1, key2];
    // Party 2 starts last, when party 1 has connected to party 0 and waits for party 2.
    let delay = |p| Duration::from_millis(if p == 2 { 500 } else { 0 });
    let results = connect_tls(&certs_seen_by, &keys, Duration::from_secs(30), delay);
    let errors: Vec<String> = results.into_iter().map(|r| r.unwrap_err()).collect();
    assert!(
        errors[0].starts_with("party 2: presented a certificate"),
        "{}",
        errors[0]
    );
    assert!(
        errors[2].starts_with("party 0: TLS handshake: refused"),
        "{}",
        errors[2]
    );
    // Not the connect timeout's "did not connect": party 1 saw party 0 leave.
    assert_eq!(
        errors[1],
        "party 0: closed the connection while the parties were connecting (it stopped: its \
         own output says why), before party 2 connected to this party"
    );
}

#[test]
fn a_tls_party_and_a_plain_party_say_what_is_wrong() {
    let addresses = free_addresses(2);
    let tls = tls_config("mixed", addresses.clone(), Duration::from_secs(2));
    let plain = config(addresses, Duration::from_secs(2));
    let handles = [(tls, 0u32), (plain, 1)].map(|(config, p)| {
        thread::spawn(move || {
            TcpTransport::connect(&config, p, &hello(p, 2, 1))
                .map(|_| ())
                .unwrap_err()
                .to_string()
        })
    });
    let [tls_side, plain_side] = handles.map(|h| h.join().unwrap());
    assert_eq!(
        tls_side,
        "party 1: TLS handshake: did not answer with TLS (does its parties.toml say `tls = false`?)"
    );
    assert!(
        plain_side.starts_with("party 0: handshake: "),
        "{plain_side}"
    );
}

/// Connects every party of `hellos` on its own thread and returns each one's result.
fn connect_all(config: &PartiesConfig, hellos: Vec<Hello>) -> Vec<Result<TcpTransport, VmError>> {
    let handles: Vec<_> = hellos
        .into_iter()
        .enumerate()
        .map(|(p, h)| {
            let config = config.clone();
            thread::spawn(move || TcpTransport::connect(&config, p as u32, &h))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn a_party_running_another_program_is_refused_by_every_party() {
    let config = config(free_addresses(3), Duration::from_secs(5));
    let results = connect_all(
        &config,
        vec![hello(0, 3, 0xaa), hello(1, 3, 0xaa), hello(2, 3, 0x9f)],
    );
    let errors: Vec<String> = results
        .into_iter()
        .map(|r| r.expect_err("a mismatch must fail").to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "party 2: runs program 9f9f9f9f9f9f…, but this party runs aaaaaaaaaaaa…",
            "party 2: runs program 9f9f9f9f9f9f…, but this party runs aaaaaaaaaaaa…",
            "party 0: runs program aaaaaaaaaaaa…, but this party runs 9f9f9f9f9f9f…",
        ]
    );
}

#[test]
fn parties_that_disagree_on_the_protocol_say_so() {
    let config = config(free_addresses(2), Duration::from_secs(5));
    let mut other = hello(1, 2, 1);
    other.protocol_version = 2;
    let results = connect_all(&config, vec![hello(0, 2, 1), other]);
    let errors: Vec<String> = results
        .into_iter()
        .map(|r| r.expect_err("a mismatch must fail").to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "party 1: runs rep3 version 2, but this party runs version 1",
            "party 0: runs rep3 version 1, but this party runs version 2",
        ]
    );
}

#[test]
fn a_party_that_never_starts_fails_the_others_within_the_connect_timeout() {
    let timeout = Duration::from_millis(500);
    let mut addresses = free_addresses(3);
    // Party 1 never starts. Port 1 is outside the range of ports the system hands
    // out, so nothing answers there and no dial can connect to itself.
    addresses[1] = "127.0.0.1:1".to_string();
    let config = config(addresses.clone(), timeout);
    let start = Instant::now();
    // Party 2 starts later, so that party 0 gives up on party 1 before party 2 does (and
    // does not see party 2 leave first).
    let handles: Vec<_> = [(0u32, 0), (2, 300)]
        .into_iter()
        .map(|(p, delay)| {
            let config = config.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(delay));
                TcpTransport::connect(&config, p, &hello(p, 3, 1)).map(|_| ())
            })
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_err().to_string())
        .collect();
    let elapsed = start.elapsed();
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    // Party 0 waits for party 1 to dial it; party 2 dials party 1.
    assert_eq!(
        errors[0],
        format!(
            "party 1: did not connect to this party ({}) within 0.5 s",
            addresses[0]
        )
    );
    assert!(
        errors[1].starts_with(
            "party 1: could not reach party 1 at 127.0.0.1:1 within 0.5 s (last attempt: "
        ),
        "{}",
        errors[1]
    );
}

#[test]
fn a_party_that_leaves_mid_run_fails_the_others_at_once() {
    let config = config(free_addresses(3), Duration::from_secs(5));
    let transports: Vec<_> = connect_all(&config, (0..3).map(|p| hello(p, 3, 1)).collect())
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let start = Instant::now();
    let handles: Vec<_> = transports
        .into_iter()
        .map(|mut t| {
            thread::spawn(move || {
                let me = t.party();
                t.exchange(&[vec![me as u8; 10], vec![me as u8; 10], vec![me as u8; 10]])?;
                if me == 1 {
                    // Leaves after one round; dropping the transport closes its sockets.
                    return Ok(());
                }
                t.exchange(&[vec![], vec![], vec![]]).map(|_| ())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(results[1], Ok(()));
    for p in [0, 2] {
        let err = results[p].clone().unwrap_err();
        // Party 1 hung up; the other may see that, or that the first party to fail
        // hung up on it too.
        assert!(
            matches!(&err, VmError::Peer { reason, .. } if reason == "connection closed"),
            "party {p}: {err}"
        );
    }
}

/// Loopback throughput and latency, for the report rather than as a check:
/// `cargo test --release -p mpc-vm --test tcp -- --ignored --nocapture`.
#[test]
#[ignore]
fn exchange_throughput() {
    let config = config(free_addresses(3), Duration::from_secs(10));
    let transports: Vec<_> = connect_all(&config, (0..3).map(|p| hello(p, 3, 1)).collect())
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let handles: Vec<_> = transports
        .into_iter()
        .map(|mut t| {
            thread::spawn(move || {
                let mut report = Vec::new();
                let me = t.party() as usize;
                // (bytes per peer, repetitions, only to the next party as rep3 multiplies)
                let cases = [
                    (8usize, 2000, false),
                    (8 << 10, 500, false),
                    (1 << 20, 50, false),
                    (8 << 20, 20, false),
                    (8 << 20, 20, true),
                    (100 << 20, 3, false),
                ];
                for (size, reps, next_only) in cases {
                    let out: Vec<_> = (0..3)
                        .map(|p| {
                            let to_next = p == (me + 1) % 3;
                            vec![7u8; if next_only && !to_next { 0 } else { size }]
                        })
                        .collect();
                    t.exchange(&out).unwrap(); // warm up
                    let mut times = Vec::new();
                    for _ in 0..reps {
                        let start = Instant::now();
                        t.exchange(&out).unwrap();
                        times.push(start.elapsed());
                    }
                    times.sort();
                    report.push((
                        size,
                        next_only,
                        times[times.len() / 2],
                        times.iter().sum::<Duration>() / reps,
                    ));
                }
                (t.party(), report)
            })
        })
        .collect();
    for h in handles {
        let (party, report) = h.join().unwrap();
        for (size, next_only, median, mean) in report {
            let peers = if next_only { 1.0 } else { 2.0 };
            let rate = peers * size as f64 / median.as_secs_f64() / 1e6;
            let to = if next_only {
                "to the next party"
            } else {
                "to each peer"
            };
            println!(
                "party {party}: {size:>10} B {to:17}: median {median:>9.1?}, mean {mean:>9.1?}, {rate:>5.0} MB/s sent"
            );
        }
    }
}
