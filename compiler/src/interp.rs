//! The clear evaluator of a [`Circuit`]: the test oracle that every optimization and
//! every protocol is compared against. Gate semantics come from `Gate::eval_clear`, the
//! same function the VM's clear protocol uses.

use mpc_bytecode::{Gate, WireId};

use crate::circuit::Circuit;

/// The value of every wire, given each party's flattened inputs.
pub fn eval(c: &Circuit, inputs: &[Vec<u64>]) -> Result<Vec<u64>, String> {
    let mut values = Vec::with_capacity(c.gates.len());
    for gate in &c.gates {
        let mut ops = gate.operands().map(|w| values[w.index()]);
        let (a, b) = (ops.next().unwrap_or(0), ops.next().unwrap_or(0));
        let a = match *gate {
            Gate::Input { party, index, .. } | Gate::PublicInput { party, index } => inputs
                .get(party as usize)
                .and_then(|p| p.get(index as usize))
                .copied()
                .ok_or_else(|| format!("party {party} has no input {index}"))?,
            _ => a,
        };
        values.push(gate.eval_clear(a, b));
    }
    Ok(values)
}

/// The value of one wire.
pub fn eval_wire(c: &Circuit, inputs: &[Vec<u64>], w: WireId) -> Result<u64, String> {
    Ok(eval(c, inputs)?[w.index()])
}

/// The raw values of each output, in program order.
pub fn outputs(c: &Circuit, inputs: &[Vec<u64>]) -> Result<Vec<Vec<u64>>, String> {
    let values = eval(c, inputs)?;
    Ok(c.outputs
        .iter()
        .map(|o| o.wires.iter().map(|w| values[w.index()]).collect())
        .collect())
}
