//! Analyses of compiled circuits for people: where the cost comes from.

pub mod by_line;
