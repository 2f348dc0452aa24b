//! `mpc-vm`: runs `mpc` bytecode (crate `mpc-bytecode`) for one party or for all of them.
//!
//! - [`io`] turns the JSON inputs of LANGUAGE.md §8 into the flat raw values the
//!   program reads, and the raw values of outputs back into JSON.
//! - [`exec`] holds the executor, which walks a program's rounds without knowing which
//!   protocol computes them, the [`Protocol`] and [`Transport`] traits a protocol and a
//!   network implement, the `clear` protocol, and [`simulate`], which runs every party
//!   in one process.
//! - [`runs`] finds the stretches of a local section one loop can compute.
//! - [`stream`] runs programs too large to hold decoded, reading them a round at a time.
//! - [`net`] holds the transports: in-memory channels between threads and TCP between
//!   processes, with `parties.toml` and the handshake that checks the parties agree.
//!
//! Raw values are `u64`s: an n-bit integer is its two's-complement bit pattern in the low
//! n bits, a `bool` is 0 or 1, a `fix` is its value times 2^16 as an `i64` bit pattern.
#![deny(missing_docs)]

pub mod exec;
pub mod io;
pub mod net;
mod prg;
pub mod rep3;
pub mod runs;
pub mod stream;

pub use exec::{
    check_parties, execute, run_party, run_party_reporting, simulate, Bytecode, ClearProtocol,
    Operand, OutputOpening, PartyOutputs, Protocol, ProtocolKind, RawOutputs, RunStats,
    SharedInputs, Transport, VmError,
};
pub use io::{
    format_outputs_json, format_outputs_plain, format_value, parse_all_inputs, parse_party_inputs,
    render_output, InputError,
};
