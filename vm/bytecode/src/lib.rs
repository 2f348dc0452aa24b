//! The contract between `mpcc` and `mpcvm`: the gate set and its clear semantics, the
//! types of inputs and outputs, and the versioned bytecode file with its validating
//! loader.
#![deny(missing_docs)]

pub mod format;
pub mod gate;
pub mod types;

pub use format::{
    BodyIndex, Checked, Domains, FormatError, Header, InputDesc, InputSlot, Outline, OutputDesc,
    Program, Round, RoundReader, Validator, FORMAT_VERSION,
};
pub use gate::{mask, Domain, Gate, WireId, WireKind};
pub use types::{Scalar, ValueType, FIX_FRAC_BITS};
