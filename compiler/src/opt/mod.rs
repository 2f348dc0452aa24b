//! Optimization passes over the circuit and the pipeline that runs them. A pass takes
//! the circuit by value and returns a rebuilt one; `run_pipeline` verifies the result
//! after each pass.

pub mod balance;
pub mod boolean_io;
pub mod dead_gates;
pub mod dot_products;
pub mod expand_conversions;
pub mod pack_lanes;
pub mod schedule;
#[cfg(test)]
mod snapshots_tests;

use crate::circuit::Circuit;

/// A named pass.
pub struct Pass {
    /// Stable kebab-case name, as `--skip-pass` and `--print-after` take it.
    pub name: &'static str,
    /// The transformation.
    pub run: fn(Circuit) -> Circuit,
}

/// The passes run by default, in order.
pub fn default_pipeline() -> Vec<Pass> {
    // The builder already folds constants and shares equal gates while lowering.
    vec![
        // First: it removes conversions, which expansion would otherwise turn into ANDs.
        Pass {
            name: "boolean-io",
            run: boolean_io::run,
        },
        EXPAND_CONVERSIONS,
        // After expansion, so that the ANDs of expanded conversions are balanced too.
        Pass {
            name: "balance",
            run: balance::run,
        },
        // After expansion and balancing, whose narrow ANDs it packs too.
        Pass {
            name: "pack-lanes",
            run: pack_lanes::run,
        },
        // After balancing (a balanced sum of products is still one sum), and after
        // expansion, whose bit injections are sums of products too.
        Pass {
            name: "fuse-dot-products",
            run: dot_products::run,
        },
        // Last: the passes above leave unused pieces (the carry out of an adder, say).
        Pass {
            name: "eliminate-dead-gates",
            run: dead_gates::run,
        },
    ]
}

/// Only what correctness needs: conversions expressed in the gates the protocol runs.
/// Differential tests compare this pipeline with the default one.
pub fn minimal_pipeline() -> Vec<Pass> {
    vec![EXPAND_CONVERSIONS]
}

const EXPAND_CONVERSIONS: Pass = Pass {
    name: "expand-conversions",
    run: expand_conversions::run,
};

/// Runs `passes` in order, checking the circuit's invariants.
pub fn run_pipeline(mut c: Circuit, passes: &[Pass]) -> Result<Circuit, String> {
    for pass in passes {
        c = (pass.run)(c);
        // Debug builds (and so every test) check after each pass; release builds once,
        // at the end, since the bytecode loader validates the result again anyway.
        if cfg!(debug_assertions) {
            c.verify()
                .map_err(|e| format!("after pass `{}`: {e}", pass.name))?;
        }
    }
    c.verify().map_err(|e| format!("after the passes: {e}"))?;
    Ok(c)
}
