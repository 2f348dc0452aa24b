//! Checking and lowering: the [`elab::Elaborator`] turns a parsed program into a circuit.

mod builtins;
pub mod elab;
mod modules;
pub mod value;
