//! The gates behind the language's operators: Boolean building blocks ([`bits`]) and
//! the operators on scalars ([`ops`]).

pub mod bits;
pub mod ops;
