//! The builtin functions of LANGUAGE.md §5–§6: inputs, outputs, `reveal`, and the
//! helpers `len range sum min max abs bits from_bits`.

use std::rc::Rc;

use mpc_bytecode::{Domain, Gate, InputDesc, OutputDesc, Scalar, WireId};

use super::elab::Elaborator;
use super::value::{ArrayVal, Builtin, ScalarVal, Type, Value, DEFAULT_INT};
use crate::diagnostics::Diagnostic;
use crate::lower::ops;
use crate::source::Span;
use crate::syntax::ast::{CmpOp, Expr, Ident};

/// Most parties a program may name.
const MAX_PARTY: i128 = mpc_bytecode::format::MAX_PARTIES as i128 - 1;

impl Elaborator {
    pub(super) fn call_builtin(
        &mut self,
        builtin: Builtin,
        args: &[Expr],
        kwargs: &[(Ident, Expr)],
        span: Span,
    ) -> Value {
        let allowed: &[&str] = match builtin {
            Builtin::Input => &["party", "public"],
            Builtin::Output => &["to", "name"],
            _ => &[],
        };
        for (name, _) in kwargs {
            if !allowed.contains(&&*name.name) {
                return self.error(
                    format!("unexpected keyword argument `{}`", name.name),
                    name.span,
                );
            }
        }
        let kwarg = |name: &str| {
            kwargs
                .iter()
                .find(|(k, _)| &*k.name == name)
                .map(|(_, e)| e)
        };
        match builtin {
            Builtin::Input => self.input(args, kwarg("party"), kwarg("public"), span),
            Builtin::Output => self.output(args, kwarg("to"), kwarg("name"), span),
            Builtin::Reveal => {
                let Some(arg) = self.single_arg("reveal", args, span) else {
                    return Value::Error;
                };
                if !self.effects_allowed("reveal", span) {
                    return Value::Error;
                }
                self.reveal(arg, span)
            }
            Builtin::Len => match self.single_arg("len", args, span) {
                Some(Value::Array(a)) => Value::Lit(a.items.len() as i128),
                Some(Value::Tuple(items)) => Value::Lit(items.len() as i128),
                Some(Value::Error) | None => Value::Error,
                Some(other) => {
                    let what = other.describe();
                    self.error(format!("`len` needs an array, not {what}"), span)
                }
            },
            Builtin::Range => self.range(args, span),
            Builtin::Sum => match self.single_arg("sum", args, span) {
                Some(Value::Array(a)) => self.sum(&a, span),
                Some(Value::Error) | None => Value::Error,
                Some(other) => {
                    let what = other.describe();
                    self.error(format!("`sum` needs an array, not {what}"), span)
                }
            },
            Builtin::Min | Builtin::Max => self.min_max(builtin == Builtin::Min, args, span),
            Builtin::Abs => match self.single_arg("abs", args, span) {
                Some(v) => self.abs(v, span),
                None => Value::Error,
            },
            Builtin::Bits => match self.single_arg("bits", args, span) {
                Some(v) => self.bits(v, span),
                None => Value::Error,
            },
            Builtin::FromBits => self.builtin_from_bits(args, span),
        }
    }

    fn single_arg(&mut self, name: &str, args: &[Expr], span: Span) -> Option<Value> {
        if args.len() != 1 {
            self.error(
                format!("`{name}` takes one argument, {} given", args.len()),
                span,
            );
            return None;
        }
        Some(self.eval(&args[0]))
    }

    /// `input`, `output` and `reveal` run once, unconditionally, in the program itself.
    fn effects_allowed(&mut self, what: &str, span: Span) -> bool {
        if let Some(module) = self.module_init.clone() {
            self.report(
                Diagnostic::error(format!("module `{module}` calls `{what}`"), span)
                    .with_help("an imported module may only define functions and constants; call it from the program"),
            );
            return false;
        }
        if self.secret_conditions > 0 {
            self.report(
                Diagnostic::error(format!("`{what}` under a secret condition"), span).with_help(
                    format!(
                        "call `{what}` outside the `if`; every party must run it unconditionally"
                    ),
                ),
            );
            return false;
        }
        true
    }

    fn input(
        &mut self,
        args: &[Expr],
        party: Option<&Expr>,
        public: Option<&Expr>,
        span: Span,
    ) -> Value {
        let (type_expr, party_expr) = match (args, party) {
            ([t], Some(p)) => (t, p),
            ([t, p], None) => (t, p),
            _ => {
                return self.report(
                    Diagnostic::error("`input` takes a type and a party", span)
                        .with_help("write `input(sint, party=0)`"),
                )
            }
        };
        let ty = self.eval_type(type_expr);
        let party_value = self.eval(party_expr);
        let party = self.known_int(&party_value, party_expr.span, "the party of an input");
        let public = match public {
            None => false,
            Some(e) => {
                let v = self.eval(e);
                match v {
                    Value::Scalar(s)
                        if s.scalar == Scalar::Bool
                            && !s.secret
                            && self.b.const_value(s.wire).is_some() =>
                    {
                        self.b.const_value(s.wire) == Some(1)
                    }
                    _ => return self.error("`public=` must be `True` or `False`", e.span),
                }
            }
        };
        if !self.effects_allowed("input", span) {
            return Value::Error;
        }
        let (Some(ty), Some(party)) = (ty, party) else {
            return Value::Error;
        };
        if !(0..=MAX_PARTY).contains(&party) {
            return self.error(format!("party {party} is out of range"), party_expr.span);
        }
        if ty == Type::Lit || contains_lit(&ty) {
            return self.error(
                "`input` needs a concrete type such as `sint` or `sint32[4]`",
                type_expr.span,
            );
        }
        let value_type = ty.value_type();
        // Each element becomes a gate: refuse an input the circuit cannot hold, or the
        // bytecode may not declare, before building any of it (`input(sint[10**9], ...)`
        // used to abort allocating its elements).
        let room = (self.gates_left() as u64)
            .min(mpc_bytecode::format::MAX_INPUT_ELEMENTS.saturating_sub(self.input_elements));
        let elements = value_type.element_count().filter(|&n| n <= room);
        let Some(elements) = elements else {
            return self.error(
                format!(
                    "`{ty}` is too large for an input (a program reads at most {} input elements)",
                    mpc_bytecode::format::MAX_INPUT_ELEMENTS
                ),
                type_expr.span,
            );
        };
        self.input_elements += elements;
        let party = party as u32;
        let name = match self.name_hint.take() {
            Some(n) => n.to_string(),
            None => format!("in{}", self.b.inputs().len()),
        };
        self.b.declare_input(InputDesc {
            party,
            name,
            ty: value_type,
            public,
        });
        self.make_input(&ty, party, public)
    }

    fn make_input(&mut self, ty: &Type, party: u32, public: bool) -> Value {
        match ty {
            Type::Scalar(s, _) => {
                let next = self.next_input.entry(party).or_insert(0);
                let index = *next;
                *next += 1;
                let gate = if public {
                    Gate::PublicInput { party, index }
                } else {
                    let domain = if *s == Scalar::Bool {
                        Domain::Bool
                    } else {
                        Domain::Arith
                    };
                    Gate::Input {
                        party,
                        index,
                        domain,
                    }
                };
                let wire = self.b.push(gate);
                self.b.set_width(wire, s.bits());
                Value::Scalar(ScalarVal {
                    scalar: *s,
                    secret: !public,
                    wire,
                })
            }
            Type::Array(elem, n) => {
                let items: Vec<Value> = (0..*n)
                    .map(|_| self.make_input(elem, party, public))
                    .collect();
                let elem = if public {
                    elem.as_ref().clone()
                } else {
                    elem.secret()
                };
                Value::Array(ArrayVal {
                    elem,
                    items: Rc::new(items),
                })
            }
            Type::Tuple(ts) => Value::Tuple(Rc::new(
                ts.iter()
                    .map(|t| self.make_input(t, party, public))
                    .collect(),
            )),
            Type::Lit => Value::Error,
        }
    }

    fn output(
        &mut self,
        args: &[Expr],
        to: Option<&Expr>,
        name: Option<&Expr>,
        span: Span,
    ) -> Value {
        let [arg] = args else {
            return self.error("`output` takes one value (and `to=`, `name=`)", span);
        };
        let value = self.eval(arg);
        let (name, name_span) = match name {
            None => (format!("out{}", self.b.outputs().len()), span),
            Some(e) => match self.eval(e) {
                Value::Str(s) => (s.to_string(), e.span),
                _ => return self.error("`name=` must be a string", e.span),
            },
        };
        let recipients = match to {
            None => Some(Vec::new()),
            Some(e) => self.recipients(e),
        };
        if !self.effects_allowed("output", span) {
            return Value::Error;
        }
        let (Some(to), Some(ty)) = (recipients, value.ty()) else {
            if !matches!(value, Value::Error) {
                let what = value.describe();
                self.error(format!("cannot output {what}"), arg.span);
            }
            return Value::Error;
        };
        if let Some(first) = self.output_names.get(&name).copied() {
            return self.report(
                Diagnostic::error(format!("two outputs are named `{name}`"), name_span)
                    .with_secondary(first, "first used here")
                    .with_help("give each output a unique `name=`"),
            );
        }
        self.output_names.insert(name.clone(), name_span);
        let mut wires = Vec::new();
        self.flatten(&value, &mut wires, arg.span);
        self.b.declare_output(OutputDesc {
            name,
            ty: ty.value_type(),
            to,
            wires,
        });
        Value::None
    }

    /// The parties of `to=`: one id or a list, sorted without repeats.
    fn recipients(&mut self, e: &Expr) -> Option<Vec<u32>> {
        let v = self.eval(e);
        let items = match v {
            Value::Array(a) => a.items.as_ref().clone(),
            Value::Tuple(items) => items.as_ref().clone(),
            single => vec![single],
        };
        let mut parties = Vec::with_capacity(items.len());
        for item in items {
            let p = self.known_int(&item, e.span, "a party id")?;
            if !(0..=MAX_PARTY).contains(&p) {
                self.error(format!("party {p} is out of range"), e.span);
                return None;
            }
            parties.push(p as u32);
        }
        parties.sort_unstable();
        parties.dedup();
        if parties.is_empty() {
            self.error("`to=` names no party", e.span);
            return None;
        }
        Some(parties)
    }

    /// The wires of a data value, in storage order (literals become `int` constants).
    fn flatten(&mut self, v: &Value, out: &mut Vec<WireId>, span: Span) {
        match v {
            Value::Scalar(s) => out.push(s.wire),
            Value::Lit(n) => {
                let wire = match self.lit_as(*n, DEFAULT_INT, false, span) {
                    Some(s) => s.wire,
                    None => self.b.constant(0),
                };
                out.push(wire);
            }
            Value::Array(a) => a
                .items
                .iter()
                .for_each(|item| self.flatten(item, out, span)),
            Value::Tuple(items) => items.iter().for_each(|item| self.flatten(item, out, span)),
            _ => {}
        }
    }

    fn reveal(&mut self, v: Value, span: Span) -> Value {
        match v {
            Value::Scalar(s) if s.secret => {
                let wire = self.b.push(Gate::Open(s.wire));
                Value::Scalar(ScalarVal {
                    secret: false,
                    wire,
                    ..s
                })
            }
            Value::Scalar(_) | Value::Lit(_) | Value::Error => v,
            Value::Array(a) => {
                let items: Vec<Value> = a
                    .items
                    .iter()
                    .map(|item| self.reveal(item.clone(), span))
                    .collect();
                Value::Array(ArrayVal {
                    elem: public(&a.elem),
                    items: Rc::new(items),
                })
            }
            Value::Tuple(items) => Value::Tuple(Rc::new(
                items
                    .iter()
                    .map(|item| self.reveal(item.clone(), span))
                    .collect(),
            )),
            other => {
                let what = other.describe();
                self.error(format!("cannot reveal {what}"), span)
            }
        }
    }

    fn range(&mut self, args: &[Expr], span: Span) -> Value {
        if args.is_empty() || args.len() > 3 {
            return self.error(
                format!("`range` takes 1 to 3 arguments, {} given", args.len()),
                span,
            );
        }
        let mut bounds = Vec::with_capacity(3);
        for a in args {
            let v = self.eval(a);
            match self.known_int(&v, a.span, "a `range` bound") {
                Some(n) => bounds.push(n),
                None => return Value::Error,
            }
        }
        let (start, stop, step) = match bounds[..] {
            [stop] => (0, stop, 1),
            [start, stop] => (start, stop, 1),
            [start, stop, step] => (start, stop, step),
            _ => unreachable!("checked above"),
        };
        if step == 0 {
            return self.error("`range` step must not be zero", span);
        }
        Value::Range(start, stop, step)
    }

    fn sum(&mut self, a: &ArrayVal, span: Span) -> Value {
        match &a.elem {
            Type::Lit => {
                let total = a.items.iter().try_fold(0i128, |acc, v| match v {
                    Value::Lit(n) => acc.checked_add(*n),
                    _ => None,
                });
                match total {
                    Some(t) => Value::Lit(t),
                    None => self.error("integer constant too large", span),
                }
            }
            Type::Scalar(s @ (Scalar::Int { .. } | Scalar::Fix), secret) => {
                let wires = a.items.iter().filter_map(|v| match v {
                    Value::Scalar(x) => Some(x.wire),
                    _ => None,
                });
                let wires: Vec<WireId> = wires.collect();
                let wire = self.tree(wires, |b, l, r| b.push(Gate::Add(l, r)));
                let wire = wire.unwrap_or_else(|| self.b.constant(0));
                Value::Scalar(ScalarVal {
                    scalar: *s,
                    secret: *secret,
                    wire,
                })
            }
            other => self.error(
                format!("`sum` needs an array of numbers, not of `{other}`"),
                span,
            ),
        }
    }

    fn min_max(&mut self, is_min: bool, args: &[Expr], span: Span) -> Value {
        let name = if is_min { "min" } else { "max" };
        let items: Vec<Value> = match args {
            [] => {
                return self.error(
                    format!("`{name}` needs an array or at least two values"),
                    span,
                )
            }
            [single] => match self.eval(single) {
                Value::Array(a) => a.items.as_ref().clone(),
                Value::Error => return Value::Error,
                other => {
                    let what = other.describe();
                    return self.error(
                        format!("`{name}` of one argument needs an array, not {what}"),
                        span,
                    );
                }
            },
            many => many.iter().map(|a| self.eval(a)).collect(),
        };
        if items.is_empty() {
            return self.error(format!("`{name}` of an empty array"), span);
        }
        self.min_max_of(is_min, items, span)
    }

    /// The minimum (maximum) of values, by a tournament: depth log2(n) comparisons and
    /// selects; ties keep the earlier value.
    pub(super) fn min_max_of(&mut self, is_min: bool, items: Vec<Value>, span: Span) -> Value {
        let mut level = items;
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            let mut it = level.into_iter();
            while let Some(a) = it.next() {
                next.push(match it.next() {
                    Some(b) => self.pick(is_min, a, b, span),
                    None => a,
                });
            }
            level = next;
        }
        level.pop().unwrap_or(Value::Error)
    }

    /// The smaller (larger) of two values; the first one on ties, as Python's min/max.
    fn pick(&mut self, is_min: bool, a: Value, b: Value, span: Span) -> Value {
        if let (Value::Lit(x), Value::Lit(y)) = (&a, &b) {
            let first = if is_min { y >= x } else { y <= x };
            return Value::Lit(if first { *x } else { *y });
        }
        let take_second = if is_min {
            self.compare_values(CmpOp::Lt, b.clone(), a.clone(), span)
        } else {
            self.compare_values(CmpOp::Gt, b.clone(), a.clone(), span)
        };
        match take_second {
            Value::Scalar(c) => self.select(c.wire, &b, &a).unwrap_or(Value::Error),
            _ => Value::Error,
        }
    }

    fn compare_values(&mut self, op: CmpOp, a: Value, b: Value, span: Span) -> Value {
        let (x, y) = match (a, b) {
            (Value::Scalar(x), Value::Lit(n)) => match self.lit_as(n, x.scalar, x.secret, span) {
                Some(y) => (x, y),
                None => return Value::Error,
            },
            (Value::Lit(n), Value::Scalar(y)) => match self.lit_as(n, y.scalar, y.secret, span) {
                Some(x) => (x, y),
                None => return Value::Error,
            },
            (Value::Scalar(x), Value::Scalar(y)) if x.scalar == y.scalar => (x, y),
            (a, b) => {
                let (aw, bw) = (a.describe(), b.describe());
                return self.error(format!("cannot compare {aw} with {bw}"), span);
            }
        };
        let wire = ops::compare(&mut self.b, op, x.scalar, x.wire, y.wire);
        Value::Scalar(ScalarVal {
            scalar: Scalar::Bool,
            secret: x.secret || y.secret,
            wire,
        })
    }

    fn abs(&mut self, v: Value, span: Span) -> Value {
        match v {
            Value::Lit(n) => Value::Lit(n.abs()),
            Value::Scalar(s) if s.scalar.is_signed() => {
                let negative = ops::is_negative(&mut self.b, s.scalar, s.wire);
                let negated = self.b.push(Gate::Neg(s.wire));
                let wire = ops::select(&mut self.b, s.scalar, negative, negated, s.wire);
                Value::Scalar(ScalarVal { wire, ..s })
            }
            Value::Scalar(s) if matches!(s.scalar, Scalar::Int { .. }) => v,
            Value::Error => v,
            other => {
                let what = other.describe();
                self.error(format!("`abs` needs a number, not {what}"), span)
            }
        }
    }

    fn bits(&mut self, v: Value, span: Span) -> Value {
        let s = match v {
            Value::Lit(n) => match self.lit_as(n, DEFAULT_INT, false, span) {
                Some(s) => s,
                None => return Value::Error,
            },
            Value::Scalar(s) if matches!(s.scalar, Scalar::Int { .. } | Scalar::Bool) => s,
            Value::Error => return v,
            other => {
                let what = other.describe();
                return self.error(format!("`bits` needs an integer, not {what}"), span);
            }
        };
        let w = s.scalar.bits();
        let word = if s.scalar == Scalar::Bool {
            s.wire
        } else {
            self.b.push(Gate::A2B(s.wire, w))
        };
        let items: Vec<Value> = (0..w)
            .map(|i| {
                let bit = self.b.push(Gate::Shr(word, i, 1));
                Value::Scalar(ScalarVal {
                    scalar: Scalar::Bool,
                    secret: s.secret,
                    wire: bit,
                })
            })
            .collect();
        Value::Array(ArrayVal {
            elem: Type::Scalar(Scalar::Bool, s.secret),
            items: Rc::new(items),
        })
    }

    fn builtin_from_bits(&mut self, args: &[Expr], span: Span) -> Value {
        let [type_expr, bits_expr] = args else {
            return self.error("`from_bits` takes a type and an array of bits", span);
        };
        let ty = self.eval_type(type_expr);
        let bits = self.eval(bits_expr);
        let Some(Type::Scalar(scalar @ Scalar::Int { bits: w, .. }, secret)) = ty else {
            if ty.is_some() {
                self.error(
                    "`from_bits` needs an integer type such as `suint16`",
                    type_expr.span,
                );
            }
            return Value::Error;
        };
        let Value::Array(array) = bits else {
            if !matches!(bits, Value::Error) {
                let what = bits.describe();
                self.error(
                    format!("`from_bits` needs an array of `bool`, not {what}"),
                    bits_expr.span,
                );
            }
            return Value::Error;
        };
        if array.items.len() > usize::from(w) {
            return self.error(
                format!(
                    "{} bits do not fit in `{}`",
                    array.items.len(),
                    scalar.name(secret)
                ),
                bits_expr.span,
            );
        }
        let mut any_secret = false;
        let mut placed = Vec::with_capacity(array.items.len());
        for (i, item) in array.items.iter().enumerate() {
            let Value::Scalar(b) = item else {
                return self.error("`from_bits` needs an array of `bool`", bits_expr.span);
            };
            if b.scalar != Scalar::Bool {
                return self.error("`from_bits` needs an array of `bool`", bits_expr.span);
            }
            any_secret |= b.secret;
            placed.push(self.b.push(Gate::Shl(b.wire, i as u8, w)));
        }
        if any_secret && !secret {
            return self.report(
                Diagnostic::error(
                    format!("secret bits cannot make a public `{}`", scalar.name(false)),
                    span,
                )
                .with_help(format!("use the secret type `{}`", scalar.name(true))),
            );
        }
        let word = self.tree(placed, |b, l, r| b.push(Gate::Xor(l, r, w)));
        let word = word.unwrap_or_else(|| self.b.constant(0));
        let wire = self.b.push(Gate::B2A(word));
        Value::Scalar(ScalarVal {
            scalar,
            secret,
            wire,
        })
    }
}

/// Whether a type still contains an untyped literal.
fn contains_lit(t: &Type) -> bool {
    match t {
        Type::Lit => true,
        Type::Scalar(..) => false,
        Type::Array(e, _) => contains_lit(e),
        Type::Tuple(ts) => ts.iter().any(contains_lit),
    }
}

/// The same type with every scalar public.
fn public(t: &Type) -> Type {
    match t {
        Type::Scalar(s, _) => Type::Scalar(*s, false),
        Type::Lit => Type::Lit,
        Type::Array(e, n) => Type::Array(Rc::new(public(e)), *n),
        Type::Tuple(ts) => Type::Tuple(ts.iter().map(public).collect()),
    }
}
