//! `eliminate-dead-gates`: removes gates that no output depends on. One backward scan
//! marks the live gates (every user comes after its operands), one forward scan copies
//! them into a dense circuit through a remap table.

use mpc_bytecode::WireId;

use crate::circuit::Circuit;

/// Which gates some output depends on.
pub fn live_gates(c: &Circuit) -> Vec<bool> {
    let mut live = vec![false; c.gates.len()];
    for w in c.outputs.iter().flat_map(|o| &o.wires) {
        live[w.index()] = true;
    }
    for i in (0..c.gates.len()).rev() {
        if live[i] {
            for w in c.gates[i].operands() {
                live[w.index()] = true;
            }
        }
    }
    live
}

/// Runs the pass.
pub fn run(c: Circuit) -> Circuit {
    let live = live_gates(&c);
    let kept = live.iter().filter(|&&l| l).count();
    let mut out = Circuit {
        gates: Vec::with_capacity(kept),
        kinds: Vec::with_capacity(kept),
        widths: Vec::with_capacity(kept),
        origins: Vec::with_capacity(kept),
        places: c.places,
        inputs: c.inputs,
        outputs: Vec::new(),
        goal: c.goal,
    };
    let mut remap = vec![WireId(u32::MAX); c.gates.len()];
    for (i, gate) in c.gates.into_iter().enumerate() {
        if live[i] {
            remap[i] = WireId::from_index(out.gates.len());
            out.gates.push(gate.map_operands(|w| remap[w.index()]));
            out.kinds.push(c.kinds[i]);
            out.widths.push(c.widths[i]);
            out.origins.push(c.origins[i]);
        }
    }
    out.outputs = c
        .outputs
        .into_iter()
        .map(|o| o.map_wires(|w| remap[w.index()]))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::CircuitBuilder;
    use mpc_bytecode::{Gate, OutputDesc, Scalar, ValueType};

    #[test]
    fn keeps_exactly_what_outputs_need() {
        let mut b = CircuitBuilder::new();
        let x = b.test_input(0, 0);
        let y = b.test_input(1, 0);
        let _unused = b.push(Gate::Mul(x, y));
        let sum = b.push(Gate::Add(x, y));
        let ty = ValueType::Scalar(Scalar::Int {
            bits: 64,
            signed: true,
        });
        b.declare_output(OutputDesc {
            name: "s".into(),
            ty,
            to: vec![],
            wires: vec![sum],
        });
        let c = run(b.finish());
        assert_eq!(
            c.display()
                .to_string()
                .lines()
                .filter(|l| l.starts_with('w'))
                .count(),
            3
        );
        assert!(!c.gates.iter().any(|g| matches!(g, Gate::Mul(..))));
        assert_eq!(c.outputs[0].wires, vec![WireId(2)]);
        c.verify().unwrap();
    }
}
