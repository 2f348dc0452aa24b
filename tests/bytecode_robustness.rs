//! The bytecode loader on hostile bytes: every truncation and many corruptions of a real
//! compiled program give an error, never a panic, a hang or a huge allocation.

use mpc_bytecode::{FormatError, Program};
use mpc_compiler::Options;
use mpc_tests::{compile, repo_root};

fn real_program() -> Vec<u8> {
    let path = repo_root().join("examples").join("millionaires.mpc");
    compile(&path, &Options::default())
        .program
        .encode()
        .expect("encodes")
}

#[test]
fn a_real_program_round_trips() {
    let bytes = real_program();
    let program = Program::decode(&bytes).expect("decodes");
    assert_eq!(program.encode().expect("encodes"), bytes);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = real_program();
    for len in 0..bytes.len() {
        assert!(
            Program::decode(&bytes[..len]).is_err(),
            "truncated to {len} bytes it still decoded"
        );
    }
}

#[test]
fn flipped_bytes_never_panic_and_body_changes_are_caught() {
    let bytes = real_program();
    let mut rejected = 0;
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x10, 0x80, 0xff] {
            let mut corrupt = bytes.clone();
            corrupt[i] ^= bit;
            if Program::decode(&corrupt).is_err() {
                rejected += 1;
            }
        }
    }
    // Almost every change is caught: the body is hashed and the header validated. A few
    // header changes (a name's letters) still give a valid program, which is fine.
    assert!(
        rejected * 10 >= bytes.len() * 4 * 9,
        "only {rejected} of {} corruptions rejected",
        bytes.len() * 4
    );
}

#[test]
fn a_huge_claimed_length_is_refused_without_allocating_it() {
    let mut bytes = b"MPCB".to_vec();
    bytes.extend_from_slice(&mpc_bytecode::FORMAT_VERSION.to_le_bytes());
    // A compiler-version string claiming 2^60 bytes (bincode varint 0xFD + u64).
    bytes.push(0xfd);
    bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(matches!(
        Program::decode(&bytes),
        Err(FormatError::Decode(_))
    ));
}
