//! The circuit IR: a flat arena of [`Gate`]s in topological order (wire `i` is the output
//! of gate `i`; operands are always smaller wires), with side tables of equal length for
//! each wire's kind (public or secret, and its domain), Boolean width and source place.
//!
//! [`CircuitBuilder`] is the only way gates enter a circuit. It canonicalizes commutative
//! operands, folds constants, applies cheap identities (`x + 0`, `x ^ x`, `not not x`, ...)
//! and hash-conses, so most constant folding never creates a gate and equal
//! subexpressions share one wire.

use std::fmt;

use mpc_bytecode::{mask, Domain, Gate, InputDesc, OutputDesc, WireId, WireKind};
use rustc_hash::FxHashMap;

use crate::source::{SourceMap, Span};

/// An index into [`Circuit::places`].
pub type PlaceId = u32;

/// What the Boolean building blocks minimize where the two conflict: rounds (the
/// default: parallel-prefix adders and carry trees) or ANDs (ripple-carry chains).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Goal {
    /// Fewest rounds.
    #[default]
    Depth,
    /// Fewest ANDs.
    Size,
}

/// A compiled circuit, before scheduling.
#[derive(Clone, Debug, Default)]
pub struct Circuit {
    /// The gates, in topological order.
    pub gates: Vec<Gate>,
    /// Public or secret (and domain) of each wire.
    pub kinds: Vec<WireKind>,
    /// Bits a Boolean wire may have set (64 for arithmetic wires).
    pub widths: Vec<u8>,
    /// The source place that created each gate.
    pub origins: Vec<PlaceId>,
    /// Source places, indexed by [`PlaceId`].
    pub places: Vec<Span>,
    /// The program's inputs, in the order `input` calls ran.
    pub inputs: Vec<InputDesc>,
    /// The program's outputs, in program order.
    pub outputs: Vec<OutputDesc>,
    /// What passes that rebuild the circuit should minimize.
    pub goal: Goal,
}

impl Circuit {
    /// The number of gates.
    pub fn len(&self) -> usize {
        self.gates.len()
    }

    /// Whether the circuit has no gates.
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }

    /// Whether gate `i` needs communication.
    pub fn is_interactive(&self, i: usize) -> bool {
        self.gates[i].is_interactive(|w| self.kinds[w.index()])
    }

    /// The communication rounds each wire waits for: the longest chain of interactive
    /// gates ending at it. One forward scan, thanks to the topological order.
    pub fn depths(&self) -> Vec<u32> {
        let mut depth = vec![0u32; self.gates.len()];
        for (i, gate) in self.gates.iter().enumerate() {
            let deepest = gate.operands().map(|w| depth[w.index()]).max().unwrap_or(0);
            depth[i] = deepest + u32::from(self.is_interactive(i));
        }
        depth
    }

    /// Checks the invariants every pass must keep. One linear scan.
    pub fn verify(&self) -> Result<(), String> {
        let n = self.gates.len();
        if [self.kinds.len(), self.widths.len(), self.origins.len()] != [n, n, n] {
            return Err("side tables out of step with the gates".into());
        }
        for (i, gate) in self.gates.iter().enumerate() {
            if let Some(op) = gate.operands().find(|w| w.index() >= i) {
                return Err(format!("w{i} reads {op}, which does not come before it"));
            }
        }
        match self
            .outputs
            .iter()
            .flat_map(|o| &o.wires)
            .find(|w| w.index() >= n)
        {
            Some(w) => Err(format!("an output reads {w}, which does not exist")),
            None => Ok(()),
        }
    }

    /// The text form: one gate a line (`w3 = mul w1 w2`), then the outputs. Secret wires
    /// are marked with `s` after the wire, so that `mpcc ir` shows what is shared.
    pub fn display(&self) -> impl fmt::Display + '_ {
        DisplayCircuit(self)
    }
}

struct DisplayCircuit<'a>(&'a Circuit);

impl fmt::Display for DisplayCircuit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        for input in &c.inputs {
            let vis = if input.public { "public" } else { "secret" };
            writeln!(
                f,
                "# input p{} {} {vis} {}",
                input.party,
                input.name,
                input.ty.name(!input.public)
            )?;
        }
        for (i, gate) in c.gates.iter().enumerate() {
            let mark = match c.kinds[i] {
                WireKind::Public => "",
                WireKind::Arith => " (arith)",
                WireKind::Bool => " (bool)",
                WireKind::Additive => " (additive)",
            };
            writeln!(f, "w{i} = {gate}{mark}")?;
        }
        for out in &c.outputs {
            let to = if out.to.is_empty() {
                "all".to_string()
            } else {
                out.to
                    .iter()
                    .map(|p| format!("p{p}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let wires: Vec<String> = out.wires.iter().map(|w| w.to_string()).collect();
            writeln!(
                f,
                "output {} : {} to {to} = [{}]",
                out.name,
                out.ty,
                wires.join(" ")
            )?;
        }
        Ok(())
    }
}

/// Adds gates to a circuit, simplifying as it goes.
pub struct CircuitBuilder {
    circuit: Circuit,
    dedup: FxHashMap<Gate, WireId>,
    place: PlaceId,
}

impl Default for CircuitBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CircuitBuilder {
    /// An empty builder for circuits of the default goal (fewest rounds).
    pub fn new() -> Self {
        Self::with_goal(Goal::Depth)
    }

    /// An empty builder whose building blocks minimize `goal`.
    pub fn with_goal(goal: Goal) -> Self {
        let mut circuit = Circuit {
            goal,
            ..Circuit::default()
        };
        circuit.places.push(Span::default());
        CircuitBuilder {
            circuit,
            dedup: FxHashMap::default(),
            place: 0,
        }
    }

    /// What the building blocks minimize.
    pub fn goal(&self) -> Goal {
        self.circuit.goal
    }

    /// Attributes the gates added from now on to `span`.
    pub fn set_place(&mut self, span: Span) {
        if self.circuit.places[self.place as usize] != span {
            self.circuit.places.push(span);
            self.place = (self.circuit.places.len() - 1) as PlaceId;
        }
    }

    /// The current source place.
    pub fn place(&self) -> Span {
        self.circuit.places[self.place as usize]
    }

    /// The number of gates so far.
    pub fn len(&self) -> usize {
        self.circuit.gates.len()
    }

    /// Whether no gate was added yet.
    pub fn is_empty(&self) -> bool {
        self.circuit.gates.is_empty()
    }

    /// The value of `w` if it is a compile-time constant.
    pub fn const_value(&self, w: WireId) -> Option<u64> {
        match self.circuit.gates[w.index()] {
            Gate::Const(c) => Some(c),
            _ => None,
        }
    }

    /// Whether `w` is a secret input element shared arithmetically: the `boolean-io`
    /// pass gives its owner a Boolean sharing of it too if the circuit asks for its bits.
    pub fn is_arith_input(&self, w: WireId) -> bool {
        matches!(
            self.circuit.gates[w.index()],
            Gate::Input {
                domain: Domain::Arith,
                ..
            }
        )
    }

    /// The kind of `w`.
    pub fn kind(&self, w: WireId) -> WireKind {
        self.circuit.kinds[w.index()]
    }

    /// The bits `w` may have set.
    pub fn width(&self, w: WireId) -> u8 {
        self.circuit.widths[w.index()]
    }

    /// A public constant.
    pub fn constant(&mut self, value: u64) -> WireId {
        self.push(Gate::Const(value))
    }

    /// Adds a gate copied from another circuit where its value had at most `width` bits
    /// set, keeping that knowledge (a rebuilt input would otherwise be assumed 64 bits).
    pub fn push_copy(&mut self, gate: Gate, width: u8) -> WireId {
        let w = self.push(gate);
        self.narrow(w, width);
        w
    }

    /// As [`CircuitBuilder::push_copy`], for a gate of a circuit already simplified and
    /// shared: it is added as it is, without looking for an equal gate.
    pub fn push_copy_unchecked(&mut self, gate: Gate, width: u8) -> WireId {
        let w = self.push_unchecked(gate);
        self.narrow(w, width);
        w
    }

    fn narrow(&mut self, w: WireId, width: u8) {
        if width < self.width(w) {
            self.set_width(w, width);
        }
    }

    /// Records that `w` may have `width` bits set (a Boolean-shared integer input).
    pub fn set_width(&mut self, w: WireId, width: u8) {
        self.circuit.widths[w.index()] = width;
    }

    /// Records an input of the program.
    pub fn declare_input(&mut self, input: InputDesc) {
        self.circuit.inputs.push(input);
    }

    /// The inputs declared so far.
    pub fn inputs(&self) -> &[InputDesc] {
        &self.circuit.inputs
    }

    /// The outputs declared so far.
    pub fn outputs(&self) -> &[OutputDesc] {
        &self.circuit.outputs
    }

    /// Records an output of the program.
    pub fn declare_output(&mut self, output: OutputDesc) {
        self.circuit.outputs.push(output);
    }

    /// The finished circuit.
    pub fn finish(self) -> Circuit {
        self.circuit
    }

    /// Finishes a circuit rebuilt from another one by a pass: that circuit's inputs,
    /// and its outputs reading the new wires `remap` gives for the old ones.
    pub fn finish_rebuilt(
        mut self,
        inputs: Vec<InputDesc>,
        outputs: Vec<OutputDesc>,
        remap: &[WireId],
    ) -> Circuit {
        self.circuit.inputs = inputs;
        self.circuit.outputs = outputs
            .into_iter()
            .map(|o| o.map_wires(|w| remap[w.index()]))
            .collect();
        self.circuit
    }

    /// Adds `gate`, unless an equal gate exists or an identity makes it unnecessary, and
    /// returns the wire with its value.
    pub fn push(&mut self, gate: Gate) -> WireId {
        let gate = canonical(gate);
        if let Some(w) = self.simplify(gate) {
            return w;
        }
        if matches!(gate, Gate::Input { .. } | Gate::PublicInput { .. }) {
            // Each input element is read once by construction: nothing to share.
            return self.push_unchecked(gate);
        }
        let next = WireId::from_index(self.circuit.gates.len());
        match self.dedup.entry(gate) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                self.push_unchecked(gate)
            }
        }
    }

    /// Adds `gate` as it is, without simplifying or sharing. Passes that rebuild a
    /// circuit which is already simplified use this.
    pub fn push_unchecked(&mut self, gate: Gate) -> WireId {
        let w = WireId::from_index(self.circuit.gates.len());
        debug_assert!(
            gate.operands().all(|op| op < w),
            "gates arrive in topological order"
        );
        let kind = gate.result_kind(|op| self.kind(op));
        let width = match gate {
            Gate::Const(c) => (64 - c.leading_zeros()) as u8,
            Gate::Input { .. } => 64,
            Gate::Xor(a, b, w) => w.min(self.width(a).max(self.width(b))),
            Gate::And(a, b, w) => w.min(self.width(a).min(self.width(b))),
            Gate::Shr(a, k, w) => w.min(self.width(a).saturating_sub(k)),
            Gate::Pext(_, m) => m.count_ones() as u8,
            Gate::PairEq(_, w) => mpc_bytecode::gate::pairs(w),
            Gate::A2B(_, w)
            | Gate::PairA2B(_, w)
            | Gate::PairAnd(_, w)
            | Gate::SplitA2B(_, _, w)
            | Gate::Not(_, w)
            | Gate::Shl(_, _, w)
            | Gate::Sar(_, _, w)
            | Gate::Broadcast(_, w) => w,
            _ => 64,
        };
        self.circuit.gates.push(gate);
        self.circuit.kinds.push(kind);
        self.circuit.widths.push(width);
        self.circuit.origins.push(self.place);
        w
    }

    /// Folds constants and applies identities; `Some` when no new gate is needed.
    fn simplify(&mut self, gate: Gate) -> Option<WireId> {
        if matches!(
            gate,
            Gate::Const(_) | Gate::Input { .. } | Gate::PublicInput { .. }
        ) {
            return None;
        }
        // The one-byte kind table is checked first: most operands are secret, and then
        // the (much larger) gate table is never touched.
        let c = |w: WireId| {
            if self.kind(w).is_public() {
                self.const_value(w)
            } else {
                None
            }
        };
        let all_const = gate.operands().all(|w| c(w).is_some());
        if all_const {
            let mut ops = gate.operands().map(|w| c(w).unwrap_or(0));
            let (a, b) = (ops.next().unwrap_or(0), ops.next().unwrap_or(0));
            return Some(self.constant(gate.eval_clear(a, b)));
        }
        let fits = |w: WireId, width: u8| self.width(w) <= width;
        match gate {
            Gate::Add(a, b) | Gate::Sub(a, b) if c(b) == Some(0) => Some(a),
            Gate::Add(a, b) if c(a) == Some(0) => Some(b),
            Gate::Sub(a, b) if a == b => Some(self.constant(0)),
            Gate::Sub(a, b) if c(a) == Some(0) => Some(self.push(Gate::Neg(b))),
            Gate::Mul(a, b) if c(a) == Some(1) => Some(b),
            Gate::Mul(a, b) if c(b) == Some(1) => Some(a),
            Gate::Mul(a, b) if c(a) == Some(0) || c(b) == Some(0) => Some(self.constant(0)),
            Gate::Neg(a) => match self.circuit.gates[a.index()] {
                Gate::Neg(x) => Some(x),
                _ => None,
            },
            Gate::Xor(a, b, _) if a == b => Some(self.constant(0)),
            Gate::Xor(a, b, w) if c(a) == Some(0) && fits(b, w) => Some(b),
            Gate::Xor(a, b, w) if c(b) == Some(0) && fits(a, w) => Some(a),
            Gate::And(a, b, w) if a == b && fits(a, w) => Some(a),
            Gate::And(a, b, _) if c(a) == Some(0) || c(b) == Some(0) => Some(self.constant(0)),
            Gate::And(a, b, w) if c(a).is_some_and(|v| v & mask(w) == mask(w)) && fits(b, w) => {
                Some(b)
            }
            Gate::And(a, b, w) if c(b).is_some_and(|v| v & mask(w) == mask(w)) && fits(a, w) => {
                Some(a)
            }
            Gate::Not(a, w) => match self.circuit.gates[a.index()] {
                Gate::Not(x, w2) if w2 == w && fits(x, w) => Some(x),
                _ => None,
            },
            Gate::Shl(_, k, w) if k >= w => Some(self.constant(0)),
            Gate::Shr(a, k, _) if k >= self.width(a) => Some(self.constant(0)),
            Gate::Shr(a, 0, w) if fits(a, w) => Some(a),
            Gate::Shl(a, 0, w) if fits(a, w) => Some(a),
            Gate::Shl(a, k, w) => match self.circuit.gates[a.index()] {
                // Bits the shift pushes out need not be cleared first.
                Gate::Shr(x, 0, low) if u16::from(low) + u16::from(k) >= u16::from(w) => {
                    Some(self.push(Gate::Shl(x, k, w)))
                }
                _ => None,
            },
            Gate::Broadcast(a, 1) if fits(a, 1) => Some(a),
            Gate::A2B(a, w) => match self.circuit.gates[a.index()] {
                // Converting back what was just converted: the Boolean word itself.
                Gate::B2A(y) => Some(self.push(Gate::Shr(y, 0, w))),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
impl CircuitBuilder {
    /// A secret arithmetic input element (tests build small circuits by hand).
    pub fn test_input(&mut self, party: u32, index: u32) -> WireId {
        self.push(Gate::Input {
            party,
            index,
            domain: mpc_bytecode::Domain::Arith,
        })
    }
}

/// Commutative gates with the smaller operand first, so that `a + b` and `b + a` share
/// one wire.
fn canonical(gate: Gate) -> Gate {
    match gate {
        Gate::Add(a, b) if b < a => Gate::Add(b, a),
        Gate::Mul(a, b) if b < a => Gate::Mul(b, a),
        Gate::Xor(a, b, w) if b < a => Gate::Xor(b, a, w),
        Gate::And(a, b, w) if b < a => Gate::And(b, a, w),
        _ => gate,
    }
}

/// What one interactive gate costs, in the units `mpcc stats` counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// AND gates in bits.
    pub and_gates: u64,
    /// Multiplications (a reshared sum of products or a bit injection counts one).
    pub mul_gates: u64,
    /// Conversions not yet expanded into ANDs and products.
    pub conversions: u64,
    /// Everything else that communicates: a truncation, an opening, a reshared word.
    pub other: u64,
}

impl Cost {
    /// The cost of `gate`, which must be interactive.
    pub fn of_interactive(gate: &Gate) -> Cost {
        let none = Cost::default();
        match *gate {
            Gate::And(_, _, w) | Gate::PairAnd(_, w) => Cost {
                and_gates: w.into(),
                ..none
            },
            Gate::PairEq(_, w) => Cost {
                and_gates: mpc_bytecode::gate::pairs(w).into(),
                ..none
            },
            Gate::Mul(..) | Gate::MulBit(..) | Gate::Reshare(_) => Cost {
                mul_gates: 1,
                ..none
            },
            Gate::A2B(..) | Gate::B2A(_) => Cost {
                conversions: 1,
                ..none
            },
            _ => Cost { other: 1, ..none },
        }
    }

    /// The communicating gates: ANDs in bits, products and the rest.
    pub fn nonlinear(&self) -> u64 {
        self.and_gates + self.mul_gates + self.other
    }
}

/// Gate counts and depth, as `mpcc stats` prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// All gates.
    pub gates: u64,
    /// Secret AND gates, counted in bits (a 64-bit word AND counts 64).
    pub and_gates: u64,
    /// Secret × secret multiplications.
    pub mul_gates: u64,
    /// Secret arithmetic↔Boolean conversions (before they are expanded into ANDs and
    /// products, which the other figures count).
    pub conversions: u64,
    /// Everything that communicates: ANDs (in bits), multiplications, and one per
    /// reshare, truncation and opening (`reveal`).
    pub nonlinear: u64,
    /// The longest chain of communicating gates.
    pub depth: u64,
    /// Communication rounds of the emitted bytecode (including opening the outputs).
    pub rounds: u64,
    /// Scalar input elements.
    pub inputs: u64,
    /// Outputs.
    pub outputs: u64,
}

impl Stats {
    /// Counts the circuit's gates; `rounds` comes from the scheduled program.
    pub fn of(c: &Circuit, rounds: usize) -> Stats {
        let mut s = Stats {
            gates: c.gates.len() as u64,
            rounds: rounds as u64,
            ..Stats::default()
        };
        for (i, gate) in c.gates.iter().enumerate() {
            // Conversions are expanded into local splits plus ANDs or products; each
            // conversion shows as its component-0 split, or as a reshared pair.
            if matches!(
                gate,
                Gate::SplitA2B(_, 0, _) | Gate::SplitB2A(_, 0, _) | Gate::PairA2B(..)
            ) {
                s.conversions += 1;
            }
            if !c.is_interactive(i) {
                continue;
            }
            let cost = Cost::of_interactive(gate);
            s.and_gates += cost.and_gates;
            s.mul_gates += cost.mul_gates;
            s.conversions += cost.conversions;
            s.nonlinear += cost.nonlinear();
        }
        s.depth = c.depths().into_iter().max().unwrap_or(0).into();
        s.inputs = c
            .inputs
            .iter()
            .map(|i| i.ty.element_count().unwrap_or(0))
            .sum();
        s.outputs = c.outputs.len() as u64;
        s
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "gates        {}", self.gates)?;
        writeln!(f, "and_gates    {}", self.and_gates)?;
        writeln!(f, "mul_gates    {}", self.mul_gates)?;
        writeln!(f, "conversions  {}", self.conversions)?;
        writeln!(f, "nonlinear    {}", self.nonlinear)?;
        writeln!(f, "depth        {}", self.depth)?;
        writeln!(f, "rounds       {}", self.rounds)?;
        writeln!(f, "inputs       {}", self.inputs)?;
        write!(f, "outputs      {}", self.outputs)
    }
}

/// Source lines of the gates, for reports: `file.mpc:LINE` of each place.
pub fn place_line(sources: &SourceMap, c: &Circuit, place: PlaceId) -> (String, usize) {
    let span = c.places[place as usize];
    (sources.get(span.file).name.clone(), sources.line_of(span))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(b: &mut CircuitBuilder, party: u32) -> WireId {
        b.test_input(party, 0)
    }

    #[test]
    fn constants_fold_and_equal_gates_share_a_wire() {
        let mut b = CircuitBuilder::new();
        let (two, three) = (b.constant(2), b.constant(3));
        let five = b.push(Gate::Add(two, three));
        assert_eq!(b.const_value(five), Some(5));
        let x = input(&mut b, 0);
        let y = input(&mut b, 1);
        let xy = b.push(Gate::Mul(x, y));
        assert_eq!(
            b.push(Gate::Mul(y, x)),
            xy,
            "commutative operands are canonical"
        );
        let n = b.len();
        assert_eq!(b.push(Gate::Mul(x, y)), xy);
        assert_eq!(b.len(), n, "no duplicate gate");
    }

    #[test]
    fn identities_need_no_gate() {
        let mut b = CircuitBuilder::new();
        let x = input(&mut b, 0);
        let zero = b.constant(0);
        let one = b.constant(1);
        assert_eq!(b.push(Gate::Add(x, zero)), x);
        assert_eq!(b.push(Gate::Mul(x, one)), x);
        let product = b.push(Gate::Mul(x, zero));
        assert_eq!(b.const_value(product), Some(0));
        let bits = b.push(Gate::A2B(x, 8));
        let not = b.push(Gate::Not(bits, 8));
        assert_eq!(b.push(Gate::Not(not, 8)), bits);
        let cancelled = b.push(Gate::Xor(bits, bits, 8));
        assert_eq!(b.const_value(cancelled), Some(0));
        let back = b.push(Gate::B2A(bits));
        assert_eq!(
            b.push(Gate::A2B(back, 8)),
            bits,
            "a2b of b2a is the word itself"
        );
    }

    #[test]
    fn depth_counts_only_communication() {
        let mut b = CircuitBuilder::new();
        let x = input(&mut b, 0);
        let y = input(&mut b, 1);
        let xy = b.push(Gate::Mul(x, y));
        let two = b.constant(2);
        let doubled = b.push(Gate::Mul(xy, two)); // public factor: local
        let sq = b.push(Gate::Mul(doubled, doubled));
        let c = b.finish();
        let d = c.depths();
        assert_eq!(
            (d[xy.index()], d[doubled.index()], d[sq.index()]),
            (1, 1, 2)
        );
    }
}
