//! The entry points of the fuzz targets (`tests/fuzz`), kept here so that a plain
//! `cargo test` (`tests/fuzz_regressions.rs`) runs the committed corpus and every input
//! that once crashed through exactly the code the fuzzer ran.
//!
//! Each function takes arbitrary bytes and must return: a panic, an abort on a huge
//! allocation or a hang is a finding.

use std::io::Cursor;
use std::sync::OnceLock;

use mpc_bytecode::format::MAGIC;
use mpc_bytecode::{Header, Program};
use mpc_compiler::{compile_bristol_str, compile_str, Options};
use mpc_vm::net::tcp::{read_frame, MAX_FRAME};
use mpc_vm::net::{Hello, MAX_HELLO_LEN};
use mpc_vm::{run_party, simulate, ProtocolKind, Transport, VmError};
use sha2::{Digest, Sha256};

/// Programs with more gates than this are compiled but not run: running is not what
/// the target is about, and a big (legitimate) circuit would only slow the fuzzer down.
const RUN_LIMIT_GATES: u64 = 20_000;

/// The compiler's gate and loop-iteration limit under fuzzing. The default (2^30) lets a
/// ten-line program ask for a circuit of many gigabytes, legitimately; a lower limit
/// keeps the fuzzer on bugs rather than on big programs, through the same code paths.
const COMPILE_LIMIT_GATES: usize = 1 << 20;

/// Rep3 runs start three threads; only small programs are worth it.
const RUN_REP3_LIMIT_GATES: u64 = 2_000;

/// `compile_source`: the lexer, layout, parser, checker, elaborator, optimizer and
/// scheduler on arbitrary text, as a program and as a Bristol circuit. A program that
/// compiles must survive an encode/decode round trip and run under the clear protocol.
pub fn compile_source(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let opts = Options {
        max_gates: COMPILE_LIMIT_GATES,
        ..Options::default()
    };
    if let Ok(compiled) = compile_str("fuzz.mpc", &text, &opts) {
        check_compiled_program(&compiled.program);
    }
    if let Ok(compiled) = compile_bristol_str("fuzz.txt", text.as_ref(), &opts) {
        check_compiled_program(&compiled.program);
    }
}

fn check_compiled_program(program: &Program) {
    let bytes = program.encode().expect("a compiled program encodes");
    let decoded = Program::decode(&bytes).expect("a compiled program decodes");
    assert_eq!(
        &decoded, program,
        "the bytecode round trip changed the program"
    );
    run_with_zero_inputs(program);
}

/// `load_bytecode`: [`Program::decode`] (which validates) on arbitrary bytes, and again
/// on the same bytes with the body hash fixed up, so that the fuzzer gets past the hash
/// to the round decoder and the validator. A program that loads is run by the VM.
pub fn load_bytecode(data: &[u8]) {
    load_and_run(data);
    if let Some(fixed) = with_fixed_hash(data) {
        load_and_run(&fixed);
    }
}

fn load_and_run(bytes: &[u8]) {
    let Ok(program) = Program::decode(bytes) else {
        return;
    };
    // What decodes re-encodes to a program that decodes the same.
    if let Ok(again) = program.encode() {
        let decoded = Program::decode(&again).expect("a loaded program re-encodes");
        assert_eq!(decoded, program);
    }
    // Read again through its index (as `mpcvm run --stream` does), the same rounds.
    let mut reader = mpc_bytecode::RoundReader::new(bytes).expect("it decoded whole");
    reader.keep_index();
    let checked = reader.finish().expect("it decoded whole");
    let index = checked.index.expect("the index was kept");
    let again: Result<Vec<_>, _> = index.rounds(bytes).collect();
    assert_eq!(again.expect("the same bytes read again"), program.rounds);
    run_with_zero_inputs(&program);
}

/// The bytes with the header's `body_hash` replaced by the hash of the body that follows
/// the header, or `None` when there is no decodable header.
fn with_fixed_hash(data: &[u8]) -> Option<Vec<u8>> {
    let rest = data.strip_prefix(&MAGIC)?.get(2..)?;
    let config = bincode::config::standard().with_limit::<{ 1 << 20 }>();
    let (mut header, used): (Header, usize) =
        bincode::serde::decode_from_slice(rest, config).ok()?;
    let body = &rest[used..];
    header.body_hash = Sha256::digest(body).into();
    let mut out = data[..6].to_vec();
    out.extend(bincode::serde::encode_to_vec(&header, bincode::config::standard()).ok()?);
    out.extend_from_slice(body);
    Some(out)
}

/// Runs a valid program with every input zero: under the clear protocol, and under rep3
/// (three threads) when it is small and rep3 accepts it. Errors are fine; panics are not.
fn run_with_zero_inputs(program: &Program) {
    if program.header.num_wires > RUN_LIMIT_GATES {
        return;
    }
    let parties = program.min_parties().max(1);
    let inputs: Vec<Vec<u64>> = zero_inputs(program, parties);
    let _ = simulate(program, ProtocolKind::Clear, parties, &inputs);
    if parties <= 3
        && program.header.num_wires <= RUN_REP3_LIMIT_GATES
        && ProtocolKind::Rep3.check_program(program).is_ok()
    {
        let _ = simulate(program, ProtocolKind::Rep3, 3, &zero_inputs(program, 3));
    }
}

fn zero_inputs(program: &Program, parties: u32) -> Vec<Vec<u64>> {
    let layout = program.input_layout();
    (0..parties as usize)
        .map(|p| vec![0; layout.get(p).map_or(0, Vec::len)])
        .collect()
}

/// The program a party of [`decode_frame`] runs: every kind of rep3 message (input
/// sharing, multiplication, comparison, equality, select, output opening).
pub const FRAME_PROGRAM: &str = "\
a = input(sint, party=0)
b = input(sint, party=1)
c = input(sint8, party=2)
p = a * b
lt = a < b
eq = sint8(b) == c
output(p if lt else a, name=\"x\")
output(eq, to=[0, 2], name=\"y\")
";

fn frame_program() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        compile_str("frames.mpc", FRAME_PROGRAM, &Options::default())
            .unwrap_or_else(|e| panic!("{}", e.render()))
            .program
    })
}

/// `decode_frame`: the network's decoders on arbitrary bytes. The first byte picks a
/// rep3 party (its value mod 3); the rest is read as a stream of frames (`u32` length,
/// bytes), which is what a peer's TCP connection delivers:
/// - every frame is decoded as a handshake [`Hello`] and checked against a real one;
/// - then the frames are fed, in order, as the peers' messages to the chosen party
///   running [`FRAME_PROGRAM`] under rep3 (key set-up, input sharing, rounds, outputs).
pub fn decode_frame(data: &[u8]) {
    let Some((&which, stream)) = data.split_first() else {
        return;
    };
    let party = u32::from(which % 3);
    let program = frame_program();
    let mine = Hello {
        protocol: "rep3".into(),
        protocol_version: mpc_vm::rep3::MESSAGES_VERSION,
        parties: 3,
        party,
        program_hash: program.header.body_hash,
    };
    let mut cursor = Cursor::new(stream);
    while let Ok(frame) = read_frame(&mut cursor, MAX_HELLO_LEN) {
        if let Ok(theirs) = Hello::decode(&frame) {
            assert_eq!(Hello::decode(&theirs.encode()).as_ref(), Ok(&theirs));
            let _ = mine.check_peer((party + 1) % 3, &theirs);
        }
    }
    let mut transport = FrameFeed {
        party,
        frames: Cursor::new(stream),
    };
    let inputs = vec![0; program.input_layout()[party as usize].len()];
    let _ = run_party(program, ProtocolKind::Rep3, &mut transport, &inputs);
}

/// A transport whose peers' messages are the frames of a byte string, read as the TCP
/// transport reads them; what this party sends is dropped.
struct FrameFeed<'a> {
    party: u32,
    frames: Cursor<&'a [u8]>,
}

impl Transport for FrameFeed<'_> {
    fn party(&self) -> u32 {
        self.party
    }

    fn parties(&self) -> u32 {
        3
    }

    fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
        assert_eq!(outgoing.len(), 3, "rep3 sends one message slot per party");
        (0..3u32)
            .map(|peer| {
                if peer == self.party {
                    return Ok(Vec::new());
                }
                read_frame(&mut self.frames, MAX_FRAME).map_err(|e| VmError::Peer {
                    party: peer,
                    reason: e.reason(std::time::Duration::from_secs(1)),
                })
            })
            .collect()
    }
}

/// A [`decode_frame`] input that takes `party` through a whole run: the frames its two
/// peers sent it in a real run of [`FRAME_PROGRAM`] (every input 3), in the order
/// `FrameFeed` reads them. The seeds in `fuzz/seeds/decode_frame` start from these.
pub fn real_frames(party: u32) -> Vec<u8> {
    use mpc_vm::net::local::{local_mesh, LocalTransport};

    /// Records, per exchange, what each peer sent.
    struct Recording {
        inner: LocalTransport,
        frames: Vec<u8>,
    }
    impl Transport for Recording {
        fn party(&self) -> u32 {
            self.inner.party()
        }
        fn parties(&self) -> u32 {
            self.inner.parties()
        }
        fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
            let incoming = self.inner.exchange(outgoing)?;
            for (peer, message) in incoming.iter().enumerate() {
                if peer as u32 != self.inner.party() {
                    mpc_vm::net::tcp::write_frame(&mut self.frames, message)
                        .expect("writing to a vector");
                }
            }
            Ok(incoming)
        }
    }

    let program = frame_program();
    let layout = program.input_layout();
    let mut frames: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let workers: Vec<_> = local_mesh(3)
            .into_iter()
            .enumerate()
            .map(|(p, inner)| {
                let inputs = vec![3; layout[p].len()];
                scope.spawn(move || {
                    let mut t = Recording {
                        inner,
                        frames: Vec::new(),
                    };
                    run_party(program, ProtocolKind::Rep3, &mut t, &inputs).expect("a real run");
                    t.frames
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut out = vec![party as u8];
    out.append(&mut frames[party as usize]);
    out
}
