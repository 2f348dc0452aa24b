//! The elaborator: walks the syntax tree once, checking names and types, evaluating
//! everything known at compile time, unrolling loops, inlining calls, and emitting the
//! gates of everything else into a [`CircuitBuilder`].
//!
//! Checking and lowering are one walk because every call is inlined and generic
//! parameters take the types of each call site (LANGUAGE.md §4): the types of a function
//! body are only known per call. Code that is never reached (an untaken constant branch,
//! an uncalled function) is parsed but not checked, as in the spec's "only the taken
//! branch is compiled".
//!
//! Errors produce [`Value::Error`], which later operations pass along silently, so one
//! mistake is reported once and independent mistakes are all reported.

use std::rc::Rc;

use mpc_bytecode::{Gate, Scalar, WireId, FIX_FRAC_BITS};
use rustc_hash::{FxHashMap, FxHashSet};

use super::value::{
    int_range, scalar_type_by_name, ArrayVal, Builtin, FuncVal, ScalarVal, Type, Value, DEFAULT_INT,
};
use crate::circuit::{Circuit, CircuitBuilder, Goal};
use crate::diagnostics::Diagnostic;
use crate::lower::{bits, ops};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast::{BinOp, CmpOp, Expr, ExprKind, LogicOp, Stmt, StmtKind, UnOp};

/// Deepest chain of inlined calls (LANGUAGE.md §4).
pub const MAX_INLINE_DEPTH: u32 = 10_000;
/// Most iterations of one `while` loop (LANGUAGE.md §4).
pub const MAX_WHILE_ITERATIONS: u64 = 1_000_000;
/// Most gates a circuit may have before compilation stops, and most loop iterations
/// (of all `for` loops and comprehensions together) it may unroll.
pub const MAX_GATES: usize = 1 << 30;
/// Errors after which compilation stops reporting.
const MAX_ERRORS: usize = 50;

/// Variables of one scope.
pub type Scope = FxHashMap<Rc<str>, Binding>;

/// What a name is bound to.
#[derive(Clone, Debug)]
pub enum Binding {
    /// A value.
    Value(Value),
    /// A variable assigned in only some branches of the secret `if` at this span.
    BranchLocal(Span),
}

/// A loaded module.
pub(super) struct ModuleData {
    pub(super) name: String,
    pub(super) file: FileId,
    pub(super) globals: Scope,
}

/// One activation: the program or an imported module at top level, or an inlined call.
struct Frame {
    module: usize,
    /// `None` at module level, where assignments go to the module's globals.
    locals: Option<Scope>,
    captured: Option<Rc<Scope>>,
    /// Secret `if`s entered within this frame (a `return` under one is an error).
    secret_ifs: u32,
}

/// How a statement list finished.
enum Flow {
    Normal,
    Return(Value),
}

/// A value known at compile time, as control flow needs it.
enum Known {
    Int(i128),
    Bool(bool),
}

/// The elaborator's state for one compilation.
pub struct Elaborator {
    /// The most gates, and loop iterations, the program may unroll to.
    max_gates: usize,
    /// Loop iterations unrolled so far, over all loops.
    loop_iterations: u64,
    /// Input elements declared so far, over all parties.
    pub(super) input_elements: u64,
    pub(super) sources: SourceMap,
    pub(super) b: CircuitBuilder,
    diags: Vec<Diagnostic>,
    reported: FxHashSet<(Span, String)>,
    pub(super) modules: Vec<ModuleData>,
    pub(super) module_by_key: FxHashMap<String, usize>,
    /// Modules being loaded, for cycle detection (innermost last).
    pub(super) loading: Vec<String>,
    frames: Vec<Frame>,
    /// Secret `if`s entered anywhere on the call stack.
    pub(super) secret_conditions: u32,
    call_depth: u32,
    /// The calls being inlined, innermost last.
    call_sites: Vec<Span>,
    /// The name of the variable being assigned, to name inputs.
    pub(super) name_hint: Option<Rc<str>>,
    pub(super) next_input: FxHashMap<u32, u32>,
    pub(super) output_names: FxHashMap<String, Span>,
    /// The imported module whose top level is running, if any.
    pub(super) module_init: Option<String>,
}

impl Elaborator {
    /// Elaborates the program `main` (already parsed as `body`), building blocks chosen
    /// for `goal`.
    pub fn run(
        sources: SourceMap,
        main: FileId,
        body: &[Stmt],
        goal: Goal,
    ) -> (SourceMap, Result<Circuit, Vec<Diagnostic>>) {
        Self::run_limited(sources, main, body, goal, MAX_GATES)
    }

    /// Like [`Elaborator::run`], with at most `max_gates` gates and as many loop
    /// iterations.
    pub fn run_limited(
        sources: SourceMap,
        main: FileId,
        body: &[Stmt],
        goal: Goal,
        max_gates: usize,
    ) -> (SourceMap, Result<Circuit, Vec<Diagnostic>>) {
        let mut e = Elaborator {
            max_gates,
            loop_iterations: 0,
            input_elements: 0,
            sources,
            b: CircuitBuilder::with_goal(goal),
            diags: Vec::new(),
            reported: FxHashSet::default(),
            modules: Vec::new(),
            module_by_key: FxHashMap::default(),
            loading: Vec::new(),
            frames: Vec::new(),
            secret_conditions: 0,
            call_depth: 0,
            call_sites: Vec::new(),
            name_hint: None,
            next_input: FxHashMap::default(),
            output_names: FxHashMap::default(),
            module_init: None,
        };
        let file = e.sources.get(main);
        let name = file.name.clone();
        let key = match &file.path {
            Some(path) => std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
            None => name.clone(),
        };
        e.modules.push(ModuleData {
            name,
            file: main,
            globals: Scope::default(),
        });
        e.loading.push(key);
        e.run_module_body(0, body);
        if e.over_limit() {
            // Loops stop early once over the limit, so the circuit is incomplete.
            let whole = Span {
                file: main,
                start: 0,
                end: 0,
            };
            let limit = e.max_gates;
            e.error(
                format!("the program unrolls to more than {limit} gates or loop iterations"),
                whole,
            );
        }
        let Elaborator {
            sources, b, diags, ..
        } = e;
        if diags.is_empty() {
            (sources, Ok(b.finish()))
        } else {
            (sources, Err(diags))
        }
    }

    /// Runs a module's top-level statements in a module-level frame.
    pub(super) fn run_module_body(&mut self, module: usize, body: &[Stmt]) {
        self.frames.push(Frame {
            module,
            locals: None,
            captured: None,
            secret_ifs: 0,
        });
        if let Flow::Return(_) = self.exec_block(body) {
            // Reported where the `return` was met.
        }
        self.frames.pop();
    }

    // ----- diagnostics ---------------------------------------------------------------

    /// Records an error (once per place and message) and returns [`Value::Error`].
    pub(super) fn report(&mut self, mut d: Diagnostic) -> Value {
        // An error inside an inlined function points at the call that reached it, and at
        // the program's own call when that is a different one.
        let primary = d.primary.span;
        let innermost = self.call_sites.last().copied().filter(|&s| s != primary);
        if let Some(site) = innermost {
            d = d.with_secondary(site, "in this call");
        }
        let outermost = self.call_sites.first().copied();
        if let Some(site) = outermost.filter(|&s| Some(s) != innermost && s != primary) {
            d = d.with_secondary(site, "reached from this call");
        }
        if self.diags.len() < MAX_ERRORS
            && self.reported.insert((d.primary.span, d.message.clone()))
        {
            self.diags.push(d);
        }
        Value::Error
    }

    pub(super) fn error(&mut self, message: impl Into<String>, span: Span) -> Value {
        self.report(Diagnostic::error(message, span))
    }

    fn too_many_errors(&self) -> bool {
        self.diags.len() >= MAX_ERRORS || self.over_limit()
    }

    fn over_limit(&self) -> bool {
        self.b.len() > self.max_gates || self.loop_iterations > self.max_gates as u64
    }

    /// Counts one unrolled loop iteration; false once there are too many (then the
    /// loop stops, and [`Elaborator::run`] reports it).
    fn next_iteration(&mut self) -> bool {
        self.loop_iterations += 1;
        !self.too_many_errors()
    }

    /// Room for this many more gates under the limit.
    pub(super) fn gates_left(&self) -> usize {
        self.max_gates.saturating_sub(self.b.len())
    }

    // ----- scopes --------------------------------------------------------------------

    pub(super) fn current_module(&self) -> usize {
        self.frame().module
    }

    fn frame(&self) -> &Frame {
        self.frames
            .last()
            .expect("a frame is active while elaborating")
    }

    fn scope_mut(&mut self) -> &mut Scope {
        let frame = self
            .frames
            .last_mut()
            .expect("a frame is active while elaborating");
        match &mut frame.locals {
            Some(locals) => locals,
            None => &mut self.modules[frame.module].globals,
        }
    }

    fn lookup(&self, name: &str) -> Option<Binding> {
        let frame = self.frame();
        let found = frame
            .locals
            .as_ref()
            .and_then(|l| l.get(name))
            .or_else(|| frame.captured.as_ref().and_then(|c| c.get(name)))
            .or_else(|| self.modules[frame.module].globals.get(name));
        if let Some(b) = found {
            return Some(b.clone());
        }
        if let Some(builtin) = Builtin::by_name(name) {
            return Some(Binding::Value(Value::Builtin(builtin)));
        }
        scalar_type_by_name(name)
            .map(|(s, secret)| Binding::Value(Value::Type(Type::Scalar(s, secret))))
    }

    fn get_var(&mut self, name: &str, span: Span) -> Value {
        match self.lookup(name) {
            Some(Binding::Value(v)) => v,
            Some(Binding::BranchLocal(at)) => {
                let (line, _) = self.sources.line_col(at.file, at.start);
                self.report(
                    Diagnostic::error(
                        format!("`{name}` is assigned in only some branches of the secret `if` on line {line}, so it has no value here"),
                        span,
                    )
                    .with_secondary(at, "the `if` with a secret condition")
                    .with_help(format!("assign `{name}` before the `if`, or in every branch")),
                )
            }
            None => self.error(format!("undefined name `{name}`"), span),
        }
    }

    /// Binds `name`, keeping the type of its first assignment (LANGUAGE.md §4).
    fn set_var(&mut self, name: Rc<str>, value: Value, span: Span) {
        if matches!(value, Value::Error) {
            self.scope_mut().insert(name, Binding::Value(Value::Error));
            return;
        }
        let old = self.scope_mut().get(&name).cloned();
        let value = match (old, value.ty()) {
            (Some(Binding::Value(old)), Some(new_ty)) => match old.ty() {
                Some(old_ty) if old_ty != new_ty && old_ty != Type::Lit => {
                    match self.coerce(value.clone(), &old_ty) {
                        Ok(v) => v,
                        Err(_) => {
                            self.report(
                            Diagnostic::error(
                                format!("`{name}` has type `{old_ty}` but is assigned a `{new_ty}`"),
                                span,
                            )
                            .with_help(format!(
                                "a variable keeps the type of its first assignment; convert the value, e.g. `{}`",
                                cast_hint(&old_ty, "...")
                            )),
                        );
                            return;
                        }
                    }
                }
                _ => value,
            },
            _ => value,
        };
        self.scope_mut().insert(name, Binding::Value(value));
    }

    // ----- statements ----------------------------------------------------------------

    fn exec_block(&mut self, stmts: &[Stmt]) -> Flow {
        for stmt in stmts {
            if self.too_many_errors() {
                break;
            }
            if let Flow::Return(v) = self.exec_stmt(stmt) {
                return Flow::Return(v);
            }
        }
        Flow::Normal
    }

    fn exec_stmt(&mut self, stmt: &Stmt) -> Flow {
        let outer_place = self.b.place();
        self.b.set_place(Span {
            end: stmt.span.start + 1,
            ..stmt.span
        });
        let flow = self.exec_stmt_inner(stmt);
        self.b.set_place(outer_place);
        flow
    }

    fn exec_stmt_inner(&mut self, stmt: &Stmt) -> Flow {
        match &stmt.kind {
            StmtKind::Expr(e) => {
                self.eval(e);
            }
            StmtKind::Assign { target, value } => {
                // `x = input(...)` names the input `x`; other inputs are named by position.
                self.name_hint = match (&target.kind, &value.kind) {
                    (ExprKind::Name(n), ExprKind::Call { func, .. }) if matches!(&func.kind, ExprKind::Name(f) if &**f == "input") => {
                        Some(n.clone())
                    }
                    _ => None,
                };
                let v = self.eval(value);
                self.name_hint = None;
                self.assign(target, v, value.span);
            }
            StmtKind::AugAssign { target, op, value } => {
                let current = self.eval(target);
                let rhs = self.eval(value);
                let v = self.binary(*op, current, rhs, stmt.span);
                self.assign(target, v, value.span);
            }
            StmtKind::If { branches, orelse } => {
                return self.exec_if(branches, orelse.as_deref(), stmt.span)
            }
            StmtKind::For { var, iter, body } => {
                let it = self.eval(iter);
                let items = match self.iteration_items(it, iter.span) {
                    Some(items) => items,
                    None => return Flow::Normal,
                };
                if let Some((acc, builtin, term)) = running_min_max(body) {
                    self.running_min_max(var, items, acc, builtin, term);
                    return Flow::Normal;
                }
                for item in items {
                    if !self.next_iteration() {
                        break;
                    }
                    self.set_var(var.name.clone(), item, var.span);
                    if let Flow::Return(v) = self.exec_block(body) {
                        return Flow::Return(v);
                    }
                }
            }
            StmtKind::While { cond, body } => {
                let mut iterations = 0u64;
                loop {
                    let c = self.eval(cond);
                    match self.known(&c, cond.span, "a `while` condition") {
                        Some(Known::Bool(true)) => {}
                        Some(Known::Int(n)) if n != 0 => {}
                        _ => break,
                    }
                    iterations += 1;
                    if !self.next_iteration() {
                        break;
                    }
                    if iterations > MAX_WHILE_ITERATIONS {
                        self.report(
                            Diagnostic::error(
                                format!("`while` loop still running after {MAX_WHILE_ITERATIONS} iterations at compile time"),
                                cond.span,
                            )
                            .with_help("make sure the condition becomes false; loops are unrolled when compiling"),
                        );
                        break;
                    }
                    if let Flow::Return(v) = self.exec_block(body) {
                        return Flow::Return(v);
                    }
                }
            }
            StmtKind::Def(def) => {
                let frame = self.frame();
                let captured = frame.locals.as_ref().map(|l| Rc::new(l.clone()));
                let f = FuncVal {
                    def: def.clone(),
                    module: frame.module,
                    captured,
                };
                self.scope_mut().insert(
                    def.name.name.clone(),
                    Binding::Value(Value::Func(Rc::new(f))),
                );
            }
            StmtKind::Return(value) => {
                if self.frame().locals.is_none() {
                    self.error("`return` outside a function", stmt.span);
                    return Flow::Normal;
                }
                let v = match value {
                    Some(e) => self.eval(e),
                    None => Value::None,
                };
                if self.frame().secret_ifs > 0 {
                    self.report(
                        Diagnostic::error("`return` under a secret condition", stmt.span)
                            .with_help("assign the result to a variable in each branch and return it after the `if`"),
                    );
                }
                return Flow::Return(v);
            }
            StmtKind::Pass | StmtKind::Error => {}
            StmtKind::Import { module, alias } => {
                if let Some(id) = self.import(&module.name, module.span) {
                    let local = alias.as_ref().unwrap_or(module).name.clone();
                    self.scope_mut()
                        .insert(local, Binding::Value(Value::Module(id)));
                }
            }
            StmtKind::FromImport { module, names } => {
                if let Some(id) = self.import(&module.name, module.span) {
                    for (name, alias) in names {
                        let v = match self.modules[id].globals.get(&name.name) {
                            Some(Binding::Value(v)) => v.clone(),
                            _ => self.error(
                                format!("module `{}` has no `{}`", module.name, name.name),
                                name.span,
                            ),
                        };
                        let local = alias.as_ref().unwrap_or(name).name.clone();
                        self.scope_mut().insert(local, Binding::Value(v));
                    }
                }
            }
        }
        Flow::Normal
    }

    /// `for x in items: acc = max(acc, term)` (or `min`): the terms are evaluated in
    /// order and combined with the starting value by one tournament, so the loop costs
    /// log2(n) comparison levels instead of n. The result is the same value: `max` and
    /// `min` are associative, and ties keep the earlier element either way.
    fn running_min_max(
        &mut self,
        var: &crate::syntax::ast::Ident,
        items: LoopItems,
        acc: &Expr,
        builtin: Builtin,
        term: &Expr,
    ) {
        let ExprKind::Name(acc_name) = &acc.kind else {
            return;
        };
        let mut values = vec![self.get_var(acc_name, acc.span)];
        for item in items {
            if !self.next_iteration() {
                break;
            }
            self.set_var(var.name.clone(), item, var.span);
            values.push(self.eval(term));
        }
        let result = self.min_max_of(builtin == Builtin::Min, values, term.span);
        self.set_var(acc_name.clone(), result, acc.span);
    }

    /// The values a `for` loop or comprehension iterates over.
    fn iteration_items(&mut self, it: Value, span: Span) -> Option<LoopItems> {
        match it {
            Value::Range(start, stop, step) => {
                let count = if step > 0 {
                    (stop - start + step - 1) / step
                } else {
                    (start - stop - step - 1) / -step
                };
                let count = count.max(0);
                if count > self.max_gates as i128 {
                    self.error(
                        format!("a loop of {count} iterations is too long to unroll"),
                        span,
                    );
                    return None;
                }
                // Produced one at a time: a loop's items are not built up front, so
                // `range(10**9)` costs memory only as its body builds gates, and the
                // gate limit stops it (found by fuzzing: it used to allocate 64 GB).
                Some(LoopItems::Range {
                    next: start,
                    step,
                    left: count,
                })
            }
            Value::Array(a) => Some(LoopItems::List(a.items.as_ref().clone().into_iter())),
            Value::Tuple(items) => Some(LoopItems::List(items.as_ref().clone().into_iter())),
            Value::Error => None,
            other => {
                let what = other.describe();
                self.report(
                    Diagnostic::error(format!("cannot iterate over {what}"), span).with_help(
                        "loop over `range(...)` with compile-time bounds, or over an array",
                    ),
                );
                None
            }
        }
    }

    fn exec_if(
        &mut self,
        branches: &[(Expr, Vec<Stmt>)],
        orelse: Option<&[Stmt]>,
        span: Span,
    ) -> Flow {
        let Some(((cond, body), rest)) = branches.split_first() else {
            return match orelse {
                Some(block) => self.exec_block(block),
                None => Flow::Normal,
            };
        };
        // Each condition (an `elif` too) is attributed to its own line.
        let statement_place = self.b.place();
        self.b.set_place(Span {
            end: cond.span.start + 1,
            ..cond.span
        });
        let c = self.eval(cond);
        self.b.set_place(statement_place);
        match &c {
            Value::Error => return Flow::Normal,
            Value::Lit(n) => {
                return if *n != 0 {
                    self.exec_block(body)
                } else {
                    self.exec_if(rest, orelse, span)
                };
            }
            Value::Scalar(s) if s.scalar == Scalar::Bool => {
                if !s.secret {
                    if let Some(v) = self.b.const_value(s.wire) {
                        return if v != 0 {
                            self.exec_block(body)
                        } else {
                            self.exec_if(rest, orelse, span)
                        };
                    }
                }
                self.exec_secret_if(s.wire, body, rest, orelse, span);
            }
            other => {
                let what = other.describe();
                self.error(
                    format!("an `if` condition must be a `bool` or `sbool`, not {what}"),
                    cond.span,
                );
            }
        }
        Flow::Normal
    }

    /// Runs both branches and merges the variables they assign with oblivious selects.
    fn exec_secret_if(
        &mut self,
        c: WireId,
        body: &[Stmt],
        rest: &[(Expr, Vec<Stmt>)],
        orelse: Option<&[Stmt]>,
        span: Span,
    ) {
        let before = self.scope_mut().clone();
        self.secret_conditions += 1;
        self.frames.last_mut().expect("frame").secret_ifs += 1;
        self.exec_block(body);
        let then_scope = std::mem::replace(self.scope_mut(), before.clone());
        self.exec_if(rest, orelse, span);
        let else_scope = std::mem::take(self.scope_mut());
        self.secret_conditions -= 1;
        self.frames.last_mut().expect("frame").secret_ifs -= 1;

        let mut merged = Scope::default();
        let header = Span {
            end: span.start + 2,
            ..span
        };
        let names: Vec<Rc<str>> = then_scope
            .keys()
            .chain(else_scope.keys())
            .cloned()
            .collect();
        for name in names {
            if merged.contains_key(&name) {
                continue;
            }
            let binding = match (then_scope.get(&name), else_scope.get(&name)) {
                (Some(Binding::Value(t)), Some(Binding::Value(e))) => {
                    match self.select(c, t, e) {
                        Ok(v) => Binding::Value(v),
                        Err((tt, et)) => {
                            self.report(
                            Diagnostic::error(
                                format!("`{name}` is a `{tt}` in one branch and a `{et}` in the other"),
                                header,
                            )
                            .with_help("give the variable the same type in every branch"),
                        );
                            Binding::Value(Value::Error)
                        }
                    }
                }
                _ => Binding::BranchLocal(header),
            };
            merged.insert(name, binding);
        }
        *self.scope_mut() = merged;
    }

    // ----- assignment ----------------------------------------------------------------

    /// Assigns `value` (written at `value_span`) to a target.
    fn assign(&mut self, target: &Expr, value: Value, value_span: Span) {
        match &target.kind {
            ExprKind::Name(name) => self.set_var(name.clone(), value, value_span),
            ExprKind::Tuple(targets) | ExprKind::List(targets) => {
                let items = match value {
                    Value::Tuple(items) => items.as_ref().clone(),
                    Value::Array(a) => a.items.as_ref().clone(),
                    Value::Error => vec![Value::Error; targets.len()],
                    other => {
                        let what = other.describe();
                        self.error(
                            format!("cannot unpack {what} into {} names", targets.len()),
                            target.span,
                        );
                        vec![Value::Error; targets.len()]
                    }
                };
                if items.len() != targets.len() {
                    self.error(
                        format!(
                            "cannot unpack {} values into {} names",
                            items.len(),
                            targets.len()
                        ),
                        target.span,
                    );
                    return;
                }
                for (t, v) in targets.iter().zip(items) {
                    self.assign(t, v, value_span);
                }
            }
            ExprKind::Index(..) => {
                let mut path = Vec::new();
                let mut base = target;
                while let ExprKind::Index(inner, index) = &base.kind {
                    path.push(index.as_ref());
                    base = inner;
                }
                path.reverse();
                let ExprKind::Name(name) = &base.kind else {
                    self.error("can only assign to elements of a variable", base.span);
                    return;
                };
                let container = self.get_var(name, base.span);
                let indices: Vec<(Value, Span)> =
                    path.iter().map(|e| (self.eval(e), e.span)).collect();
                let updated = self.assign_path(container, &indices, value);
                if !matches!(updated, Value::Error) {
                    self.scope_mut()
                        .insert(name.clone(), Binding::Value(updated));
                }
            }
            _ => {
                self.error("cannot assign to this expression", target.span);
            }
        }
    }

    /// `container[i0][i1]... = value`, obliviously where an index is not a constant.
    fn assign_path(&mut self, container: Value, indices: &[(Value, Span)], value: Value) -> Value {
        let Some(((index, span), rest)) = indices.split_first() else {
            return value;
        };
        let mut array = match container {
            Value::Array(a) => a,
            Value::Error => return Value::Error,
            other => {
                let what = other.describe();
                return self.error(format!("cannot assign to an element of {what}"), *span);
            }
        };
        let value_ty = match value.ty() {
            Some(t) => t,
            None => return Value::Error,
        };
        // The element type may widen: a literal array becomes typed, a public one secret.
        if rest.is_empty() {
            let secret_index = matches!(index, Value::Scalar(s) if s.secret);
            let mut wanted = match join_types(&array.elem, &value_ty) {
                Some(t) => t,
                None => {
                    return self.error(
                        format!(
                            "cannot store a `{value_ty}` in an array of `{}`",
                            array.elem
                        ),
                        *span,
                    )
                }
            };
            if secret_index {
                wanted = wanted.secret();
            }
            if wanted != array.elem {
                array = match self.coerce(Value::Array(array), &Type::Array(Rc::new(wanted), 0)) {
                    Ok(Value::Array(a)) => a,
                    _ => return Value::Error,
                };
            }
        }
        let len = array.items.len();
        match self.index_kind(index, len, *span) {
            IndexKind::Error => Value::Error,
            IndexKind::Const(i) => {
                let old = array.items[i].clone();
                let new = self.assign_path(old, rest, value);
                let new = if rest.is_empty() {
                    self.coerce_or_report(new, &array.elem.clone(), *span)
                } else {
                    new
                };
                Rc::make_mut(&mut array.items)[i] = new;
                Value::Array(array)
            }
            IndexKind::Oblivious(eqs) => {
                let elem = array.elem.clone();
                for (j, eq) in eqs.into_iter().enumerate() {
                    let old = array.items[j].clone();
                    let new = self.assign_path(old.clone(), rest, value.clone());
                    let new = if rest.is_empty() {
                        self.coerce_or_report(new, &elem, *span)
                    } else {
                        new
                    };
                    let merged = self.select(eq, &new, &old).unwrap_or(Value::Error);
                    Rc::make_mut(&mut array.items)[j] = merged;
                }
                Value::Array(array)
            }
        }
    }

    // ----- expressions ---------------------------------------------------------------

    /// Evaluates an expression.
    pub(super) fn eval(&mut self, e: &Expr) -> Value {
        match &e.kind {
            ExprKind::Int(n) => Value::Lit(i128::from(*n)),
            ExprKind::Fix(f) => self.fix_literal(*f, e.span),
            ExprKind::Str(s) => Value::Str(s.clone()),
            ExprKind::Bool(v) => self.const_scalar(Scalar::Bool, false, u64::from(*v)),
            ExprKind::Name(name) => self.get_var(name, e.span),
            ExprKind::Attr(base, name) => match self.eval(base) {
                Value::Module(id) => match self.modules[id].globals.get(&name.name) {
                    Some(Binding::Value(v)) => v.clone(),
                    _ => {
                        let module = self.modules[id].name.clone();
                        self.error(
                            format!("module `{module}` has no `{}`", name.name),
                            name.span,
                        )
                    }
                },
                Value::Error => Value::Error,
                other => {
                    let what = other.describe();
                    self.error(
                        format!("{what} has no attribute `{}`", name.name),
                        name.span,
                    )
                }
            },
            ExprKind::Unary(op, operand) => {
                let v = self.eval(operand);
                self.unary(*op, v, e.span)
            }
            ExprKind::Binary(op, l, r) => {
                let (l, r) = (self.eval(l), self.eval(r));
                self.binary(*op, l, r, e.span)
            }
            ExprKind::Compare(op, l, r) => {
                let (l, r) = (self.eval(l), self.eval(r));
                self.compare(*op, l, r, e.span)
            }
            ExprKind::Logic(op, l, r) => self.logic(*op, l, r),
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                let c = self.eval(cond);
                match self.condition(&c, cond.span) {
                    Condition::Error => Value::Error,
                    Condition::Known(true) => self.eval(then),
                    Condition::Known(false) => self.eval(otherwise),
                    Condition::Runtime(wire) => {
                        let (t, o) = (self.eval(then), self.eval(otherwise));
                        match self.select(wire, &t, &o) {
                            Ok(v) => v,
                            Err((tt, ot)) => self.error(
                                format!("the two values of a conditional expression have different types `{tt}` and `{ot}`"),
                                e.span,
                            ),
                        }
                    }
                }
            }
            ExprKind::Call { func, args, kwargs } => self.call(func, args, kwargs, e.span),
            ExprKind::Index(base, index) => {
                let b = self.eval(base);
                let i = self.eval(index);
                self.index(b, i, index.span)
            }
            ExprKind::Slice { value, lo, hi } => {
                let v = self.eval(value);
                let bound = |this: &mut Self, b: &Option<Box<Expr>>| -> Option<Option<i128>> {
                    match b {
                        None => Some(None),
                        Some(b) => {
                            let v = this.eval(b);
                            match this.known(&v, b.span, "a slice bound") {
                                Some(Known::Int(n)) => Some(Some(n)),
                                _ => None,
                            }
                        }
                    }
                };
                let (Some(lo), Some(hi)) = (bound(self, lo), bound(self, hi)) else {
                    return Value::Error;
                };
                self.slice(v, lo, hi, e.span)
            }
            ExprKind::List(items) => {
                let values: Vec<Value> = items.iter().map(|i| self.eval(i)).collect();
                self.make_array(values, e.span)
            }
            ExprKind::Tuple(items) => {
                let values: Vec<Value> = items.iter().map(|i| self.eval(i)).collect();
                if !values.is_empty() && values.iter().all(|v| matches!(v, Value::Type(_))) {
                    let types = values.into_iter().map(|v| match v {
                        Value::Type(t) => t,
                        _ => unreachable!("checked above"),
                    });
                    return Value::Type(Type::Tuple(types.collect()));
                }
                Value::Tuple(Rc::new(values))
            }
            ExprKind::ListComp { elt, var, iter } => {
                let it = self.eval(iter);
                let Some(items) = self.iteration_items(it, iter.span) else {
                    return Value::Error;
                };
                // The loop variable is local to the comprehension, as in Python 3.
                let saved = self.scope_mut().remove(&var.name);
                let mut values = Vec::new();
                for item in items {
                    if !self.next_iteration() {
                        break;
                    }
                    self.scope_mut()
                        .insert(var.name.clone(), Binding::Value(item));
                    values.push(self.eval(elt));
                }
                match saved {
                    Some(b) => self.scope_mut().insert(var.name.clone(), b),
                    None => self.scope_mut().remove(&var.name),
                };
                self.make_array(values, e.span)
            }
        }
    }

    fn fix_literal(&mut self, f: f64, span: Span) -> Value {
        let raw = (f * f64::from(1u32 << FIX_FRAC_BITS)).round();
        if !raw.is_finite() || raw.abs() >= 9.2e18 {
            return self.error("fixed-point literal out of range", span);
        }
        self.const_scalar(Scalar::Fix, false, raw as i64 as u64)
    }

    pub(super) fn const_scalar(&mut self, scalar: Scalar, secret: bool, raw: u64) -> Value {
        let wire = self.b.constant(raw);
        Value::Scalar(ScalarVal {
            scalar,
            secret,
            wire,
        })
    }

    /// An array of `values`, all converted to one element type.
    pub(super) fn make_array(&mut self, values: Vec<Value>, span: Span) -> Value {
        if values.iter().any(|v| matches!(v, Value::Error)) {
            return Value::Error;
        }
        let mut elem = Type::Lit;
        for (i, v) in values.iter().enumerate() {
            let Some(t) = v.ty() else {
                let what = v.describe();
                return self.error(format!("an array cannot hold {what}"), span);
            };
            elem = if i == 0 {
                t
            } else {
                match join_types(&elem, &t) {
                    Some(j) => j,
                    None => {
                        return self.error(
                            format!("array elements have different types `{elem}` and `{t}`"),
                            span,
                        )
                    }
                }
            };
        }
        let items = values
            .into_iter()
            .map(|v| self.coerce_or_report(v, &elem, span))
            .collect();
        Value::Array(ArrayVal {
            elem,
            items: Rc::new(items),
        })
    }

    // ----- compile-time values and conditions ----------------------------------------

    /// A compile-time constant, or an error saying why `what` needs one.
    fn known(&mut self, v: &Value, span: Span, what: &str) -> Option<Known> {
        match v {
            Value::Lit(n) => Some(Known::Int(*n)),
            Value::Error => None,
            Value::Scalar(s) if s.secret => {
                let mut d = Diagnostic::error(
                    format!("{what} must be known at compile time, but this value is secret"),
                    span,
                )
                .with_label("secret");
                if what.contains("range") || what.contains("while") {
                    d = d.with_help("loop to a public bound and guard the work with a secret `if` or a conditional expression");
                }
                self.report(d);
                None
            }
            Value::Scalar(s) => match self.b.const_value(s.wire) {
                Some(raw) => Some(match s.scalar {
                    Scalar::Bool => Known::Bool(raw != 0),
                    scalar if scalar.is_signed() => {
                        Known::Int(i128::from(scalar.normalize(raw) as i64))
                    }
                    scalar => Known::Int(i128::from(scalar.normalize(raw))),
                }),
                None => {
                    self.report(
                        Diagnostic::error(
                            format!("{what} must be known at compile time, but this value is only known when the program runs (it comes from `reveal` or a public input)"),
                            span,
                        )
                        .with_label("runtime public value"),
                    );
                    None
                }
            },
            other => {
                let what_is = other.describe();
                self.error(
                    format!("{what} must be a compile-time integer or bool, not {what_is}"),
                    span,
                );
                None
            }
        }
    }

    /// A compile-time integer (for `range`, indices, shift amounts, party ids).
    pub(super) fn known_int(&mut self, v: &Value, span: Span, what: &str) -> Option<i128> {
        match self.known(v, span, what)? {
            Known::Int(n) => Some(n),
            Known::Bool(_) => {
                self.error(format!("{what} must be an integer, not a `bool`"), span);
                None
            }
        }
    }

    fn condition(&mut self, v: &Value, span: Span) -> Condition {
        match v {
            Value::Error => Condition::Error,
            Value::Lit(n) => Condition::Known(*n != 0),
            Value::Scalar(s) if s.scalar == Scalar::Bool => match self.b.const_value(s.wire) {
                Some(c) if !s.secret => Condition::Known(c != 0),
                _ => Condition::Runtime(s.wire),
            },
            other => {
                let what = other.describe();
                self.error(
                    format!("a condition must be a `bool` or `sbool`, not {what}"),
                    span,
                );
                Condition::Error
            }
        }
    }

    // ----- operators -----------------------------------------------------------------

    fn unary(&mut self, op: UnOp, v: Value, span: Span) -> Value {
        match (op, v) {
            (_, Value::Error) => Value::Error,
            (UnOp::Neg, Value::Lit(n)) => Value::Lit(-n),
            (UnOp::Pos, Value::Lit(n)) => Value::Lit(n),
            (UnOp::Invert, Value::Lit(n)) => Value::Lit(!n),
            (UnOp::Not, Value::Lit(n)) => self.const_scalar(Scalar::Bool, false, u64::from(n == 0)),
            (op, Value::Scalar(s)) => {
                let wire = match (op, s.scalar) {
                    (UnOp::Neg, Scalar::Int { .. } | Scalar::Fix) => self.b.push(Gate::Neg(s.wire)),
                    (UnOp::Pos, Scalar::Int { .. } | Scalar::Fix) => s.wire,
                    (UnOp::Invert, Scalar::Int { .. } | Scalar::Bool)
                    | (UnOp::Not, Scalar::Bool) => ops::invert(&mut self.b, s.scalar, s.wire),
                    _ => {
                        let symbol = match op {
                            UnOp::Neg => "-",
                            UnOp::Pos => "+",
                            UnOp::Invert => "~",
                            UnOp::Not => "not",
                        };
                        return self.error(
                            format!(
                                "`{symbol}` is not defined for `{}`",
                                s.scalar.name(s.secret)
                            ),
                            span,
                        );
                    }
                };
                Value::Scalar(ScalarVal { wire, ..s })
            }
            (_, other) => {
                let what = other.describe();
                self.error(format!("unsupported operand {what}"), span)
            }
        }
    }

    /// Brings two operands to one scalar type: a literal takes the other's type; typed
    /// operands must agree in width and signedness.
    fn unify(
        &mut self,
        symbol: &str,
        a: Value,
        b: Value,
        span: Span,
    ) -> Option<(ScalarVal, ScalarVal)> {
        match (a, b) {
            (Value::Error, _) | (_, Value::Error) => None,
            (Value::Lit(n), Value::Scalar(s)) => {
                Some((self.lit_as(n, s.scalar, s.secret, span)?, s))
            }
            (Value::Scalar(s), Value::Lit(n)) => {
                Some((s, self.lit_as(n, s.scalar, s.secret, span)?))
            }
            (Value::Scalar(x), Value::Scalar(y)) if x.scalar == y.scalar => Some((x, y)),
            (Value::Scalar(x), Value::Scalar(y)) => {
                let (xt, yt) = (x.scalar.name(x.secret), y.scalar.name(y.secret));
                let (narrow, wide) = if x.scalar.bits() <= y.scalar.bits() {
                    (&xt, y.scalar)
                } else {
                    (&yt, x.scalar)
                };
                let target = wide.name(x.secret || y.secret);
                self.report(
                    Diagnostic::error(format!("operands of `{symbol}` have different types `{xt}` and `{yt}`"), span)
                        .with_help(format!("convert one operand so that both match, e.g. wrap the `{narrow}` one in `{target}(...)`")),
                );
                None
            }
            (a, b) => {
                let (aw, bw) = (a.describe(), b.describe());
                self.error(format!("`{symbol}` cannot combine {aw} and {bw}"), span);
                None
            }
        }
    }

    /// An integer literal as a public constant of `scalar`, if it fits.
    /// An integer literal as a public constant of `scalar`, if it fits; the error names
    /// the type as the context has it (`secret` for a secret operand).
    pub(super) fn lit_as(
        &mut self,
        n: i128,
        scalar: Scalar,
        secret: bool,
        span: Span,
    ) -> Option<ScalarVal> {
        let raw = match scalar {
            Scalar::Int { bits, signed } => {
                let (lo, hi) = int_range(bits, signed);
                if n < lo || n > hi {
                    self.error(
                        format!("{n} does not fit in `{}`", scalar.name(secret)),
                        span,
                    );
                    return None;
                }
                n as u64
            }
            Scalar::Fix => {
                let scaled = n
                    .checked_mul(1 << FIX_FRAC_BITS)
                    .filter(|v| i64::try_from(*v).is_ok());
                match scaled {
                    Some(v) => v as u64,
                    None => {
                        self.error(format!("{n} does not fit in `fix`"), span);
                        return None;
                    }
                }
            }
            Scalar::Bool => {
                self.error("cannot combine a `bool` with an integer", span);
                return None;
            }
        };
        let wire = self.b.constant(raw);
        Some(ScalarVal {
            scalar,
            secret: false,
            wire,
        })
    }

    pub(super) fn binary(&mut self, op: BinOp, a: Value, b: Value, span: Span) -> Value {
        let symbol = op.symbol();
        if let (Value::Lit(x), Value::Lit(y)) = (&a, &b) {
            return self.lit_binary(op, *x, *y, span);
        }
        match op {
            BinOp::Pow => return self.power(a, b, span),
            BinOp::Shl | BinOp::Shr => return self.shift(op, a, b, span),
            _ => {}
        }
        let Some((x, y)) = self.unify(symbol, a, b, span) else {
            return Value::Error;
        };
        let s = x.scalar;
        let secret = x.secret || y.secret;
        let wire = match (op, s) {
            (BinOp::Add | BinOp::Sub | BinOp::Mul, Scalar::Int { .. } | Scalar::Fix) => {
                ops::arith(&mut self.b, op, s, x.wire, y.wire)
            }
            (BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor, Scalar::Int { .. } | Scalar::Bool) => {
                ops::bitwise(&mut self.b, op, s, x.wire, y.wire)
            }
            (BinOp::Div, Scalar::Fix) => {
                if !self.check_divisor(&y, span) {
                    return Value::Error;
                }
                ops::fix_div(&mut self.b, x.wire, y.wire)
            }
            (BinOp::FloorDiv | BinOp::Mod, Scalar::Int { .. }) => {
                if !self.check_divisor(&y, span) {
                    return Value::Error;
                }
                let (q, r) = ops::divmod(&mut self.b, s, x.wire, y.wire);
                if op == BinOp::FloorDiv {
                    q
                } else {
                    r
                }
            }
            (BinOp::Div, Scalar::Int { .. }) => {
                return self.report(
                    Diagnostic::error(
                        "`/` is fixed-point division and is not defined for integers",
                        span,
                    )
                    .with_help(
                        "use `//` for floor division, or convert to fixed point with `sfix(x)`",
                    ),
                )
            }
            _ => {
                let help = match s {
                    Scalar::Bool => "on `bool`/`sbool` use `&`, `|`, `^` (or `and`, `or`), or convert with `sint(b)`",
                    _ => "see the operators of each type in the language reference",
                };
                return self.report(
                    Diagnostic::error(
                        format!("`{symbol}` is not defined for `{}`", s.name(secret)),
                        span,
                    )
                    .with_help(help),
                );
            }
        };
        Value::Scalar(ScalarVal {
            scalar: s,
            secret,
            wire,
        })
    }

    /// A public divisor that is the constant zero is a compile error (LANGUAGE.md §3).
    fn check_divisor(&mut self, y: &ScalarVal, span: Span) -> bool {
        if !y.secret
            && self
                .b
                .const_value(y.wire)
                .is_some_and(|v| y.scalar.normalize(v) == 0)
        {
            self.error("division by zero", span);
            return false;
        }
        true
    }

    fn lit_binary(&mut self, op: BinOp, x: i128, y: i128, span: Span) -> Value {
        let result = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::FloorDiv | BinOp::Mod if y == 0 => return self.error("division by zero", span),
            BinOp::FloorDiv => Some(floor_div(x, y)),
            BinOp::Mod => Some(x - floor_div(x, y) * y),
            BinOp::Div => {
                if y == 0 {
                    return self.error("division by zero", span);
                }
                return self.fix_literal(x as f64 / y as f64, span);
            }
            BinOp::Pow => match u32::try_from(y) {
                Ok(k) => x.checked_pow(k),
                Err(_) => {
                    return self.error("the exponent of `**` must be a non-negative integer", span)
                }
            },
            BinOp::BitAnd => Some(x & y),
            BinOp::BitOr => Some(x | y),
            BinOp::BitXor => Some(x ^ y),
            BinOp::Shl | BinOp::Shr if y < 0 => return self.error("negative shift amount", span),
            BinOp::Shl => u32::try_from(y)
                .ok()
                .filter(|k| *k < 127)
                .and_then(|k| x.checked_mul(1i128 << k)),
            BinOp::Shr => Some(x >> y.min(127)),
        };
        match result {
            Some(v) => Value::Lit(v),
            None => self.error("integer constant too large", span),
        }
    }

    fn shift(&mut self, op: BinOp, a: Value, b: Value, span: Span) -> Value {
        let Some(k) = self.known_int(&b, span, "a shift amount") else {
            return Value::Error;
        };
        if k < 0 {
            return self.error("negative shift amount", span);
        }
        match a {
            Value::Scalar(s) if matches!(s.scalar, Scalar::Int { .. }) => {
                let wire = ops::shift(&mut self.b, op, s.scalar, s.wire, k.min(64) as u64);
                Value::Scalar(ScalarVal { wire, ..s })
            }
            Value::Error => Value::Error,
            other => {
                let what = other.describe();
                self.error(format!("`{}` is not defined for {what}", op.symbol()), span)
            }
        }
    }

    /// `x ** k`: squarings and one balanced product (depth about 2·log2 k).
    fn power(&mut self, a: Value, b: Value, span: Span) -> Value {
        let Some(k) = self.known_int(&b, span, "the exponent of `**`") else {
            return Value::Error;
        };
        if k < 0 {
            return self.error("the exponent of `**` must be a non-negative integer", span);
        }
        let Value::Scalar(x) = a else {
            return if matches!(a, Value::Error) {
                a
            } else {
                self.error("`**` needs a number", span)
            };
        };
        if !matches!(x.scalar, Scalar::Int { .. } | Scalar::Fix) {
            return self.error(
                format!("`**` is not defined for `{}`", x.scalar.name(x.secret)),
                span,
            );
        }
        let one = match x.scalar {
            Scalar::Fix => 1u64 << FIX_FRAC_BITS,
            _ => 1,
        };
        let mut factors = Vec::new();
        let mut square = x.wire;
        let mut rest = k;
        while rest > 0 {
            if rest & 1 == 1 {
                factors.push(square);
            }
            rest >>= 1;
            if rest > 0 {
                square = ops::arith(&mut self.b, BinOp::Mul, x.scalar, square, square);
            }
        }
        let wire = match self.tree(factors, |b, l, r| ops::arith(b, BinOp::Mul, x.scalar, l, r)) {
            Some(w) => w,
            None => self.b.constant(one),
        };
        Value::Scalar(ScalarVal { wire, ..x })
    }

    /// Combines wires pairwise into a balanced tree (None for no wires).
    pub(super) fn tree(
        &mut self,
        mut level: Vec<WireId>,
        mut combine: impl FnMut(&mut CircuitBuilder, WireId, WireId) -> WireId,
    ) -> Option<WireId> {
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                next.push(match pair {
                    [l, r] => combine(&mut self.b, *l, *r),
                    [single] => *single,
                    _ => unreachable!("chunks of two"),
                });
            }
            level = next;
        }
        level.pop()
    }

    fn compare(&mut self, op: CmpOp, a: Value, b: Value, span: Span) -> Value {
        if let (Value::Lit(x), Value::Lit(y)) = (&a, &b) {
            let r = match op {
                CmpOp::Eq => x == y,
                CmpOp::Ne => x != y,
                CmpOp::Lt => x < y,
                CmpOp::Le => x <= y,
                CmpOp::Gt => x > y,
                CmpOp::Ge => x >= y,
            };
            return self.const_scalar(Scalar::Bool, false, u64::from(r));
        }
        let Some((x, y)) = self.unify(op.symbol(), a, b, span) else {
            return Value::Error;
        };
        let wire = ops::compare(&mut self.b, op, x.scalar, x.wire, y.wire);
        Value::Scalar(ScalarVal {
            scalar: Scalar::Bool,
            secret: x.secret || y.secret,
            wire,
        })
    }

    fn logic(&mut self, op: LogicOp, l: &Expr, r: &Expr) -> Value {
        let left = self.eval(l);
        let Some(lb) = self.as_bool(&left, l.span) else {
            return Value::Error;
        };
        // Compile-time operands short-circuit, as in Python; secret ones evaluate both.
        if !lb.secret {
            if let Some(v) = self.b.const_value(lb.wire) {
                let decided = (op == LogicOp::And && v == 0) || (op == LogicOp::Or && v == 1);
                if decided {
                    return Value::Scalar(lb);
                }
                let right = self.eval(r);
                return match self.as_bool(&right, r.span) {
                    Some(rb) => Value::Scalar(rb),
                    None => Value::Error,
                };
            }
        }
        let right = self.eval(r);
        let Some(rb) = self.as_bool(&right, r.span) else {
            return Value::Error;
        };
        let wire = match op {
            LogicOp::And => self.b.push(Gate::And(lb.wire, rb.wire, 1)),
            LogicOp::Or => bits::or(&mut self.b, lb.wire, rb.wire, 1),
        };
        Value::Scalar(ScalarVal {
            scalar: Scalar::Bool,
            secret: lb.secret || rb.secret,
            wire,
        })
    }

    fn as_bool(&mut self, v: &Value, span: Span) -> Option<ScalarVal> {
        match v {
            Value::Scalar(s) if s.scalar == Scalar::Bool => Some(*s),
            Value::Error => None,
            other => {
                let what = other.describe();
                self.error(
                    format!("`and`, `or` and `not` need `bool` or `sbool` operands, not {what}"),
                    span,
                );
                None
            }
        }
    }

    // ----- selection, coercion -------------------------------------------------------

    /// `c ? t : e` for values of joinable types; `Err` with both types otherwise.
    pub(super) fn select(
        &mut self,
        c: WireId,
        t: &Value,
        e: &Value,
    ) -> Result<Value, (Type, Type)> {
        let secret_c = !self.b.kind(c).is_public();
        let types = || (t.ty().unwrap_or(Type::Lit), e.ty().unwrap_or(Type::Lit));
        Ok(match (t, e) {
            (Value::Error, _) | (_, Value::Error) => Value::Error,
            (Value::Lit(x), Value::Lit(y)) if x == y => Value::Lit(*x),
            (Value::Scalar(x), Value::Scalar(y))
                if x.wire == y.wire && x.scalar == y.scalar && x.secret == y.secret =>
            {
                t.clone()
            }
            (Value::Scalar(_) | Value::Lit(_), Value::Scalar(_) | Value::Lit(_)) => {
                let joined = join_types(&t.ty().unwrap_or(Type::Lit), &e.ty().unwrap_or(Type::Lit))
                    .ok_or_else(types)?;
                let joined = match joined {
                    Type::Lit => Type::Scalar(DEFAULT_INT, false),
                    j => j,
                };
                let (Ok(Value::Scalar(x)), Ok(Value::Scalar(y))) = (
                    self.coerce(t.clone(), &joined),
                    self.coerce(e.clone(), &joined),
                ) else {
                    return Err(types());
                };
                let wire = ops::select(&mut self.b, x.scalar, c, x.wire, y.wire);
                Value::Scalar(ScalarVal {
                    scalar: x.scalar,
                    secret: x.secret || y.secret || secret_c,
                    wire,
                })
            }
            (Value::Array(x), Value::Array(y)) if x.items.len() == y.items.len() => {
                if Rc::ptr_eq(&x.items, &y.items) {
                    return Ok(t.clone());
                }
                let mut items = Vec::with_capacity(x.items.len());
                for (a, b) in x.items.iter().zip(y.items.iter()) {
                    items.push(self.select(c, a, b).map_err(|_| types())?);
                }
                let elem = items
                    .first()
                    .and_then(Value::ty)
                    .unwrap_or_else(|| x.elem.clone());
                Value::Array(ArrayVal {
                    elem,
                    items: Rc::new(items),
                })
            }
            (Value::Tuple(x), Value::Tuple(y)) if x.len() == y.len() => {
                let mut items = Vec::with_capacity(x.len());
                for (a, b) in x.iter().zip(y.iter()) {
                    items.push(self.select(c, a, b).map_err(|_| types())?);
                }
                Value::Tuple(Rc::new(items))
            }
            (Value::Func(f), Value::Func(g)) if Rc::ptr_eq(f, g) => t.clone(),
            (Value::Module(a), Value::Module(b)) if a == b => t.clone(),
            (Value::Type(a), Value::Type(b)) if a == b => t.clone(),
            (Value::Builtin(a), Value::Builtin(b)) if a == b => t.clone(),
            (Value::Str(a), Value::Str(b)) if a == b => t.clone(),
            _ => return Err(types()),
        })
    }

    /// Converts `v` to type `ty` where that loses nothing: a literal that fits, a public
    /// value to a secret one, element by element for arrays and tuples. An array type of
    /// length 0 stands for "any length" (used when only the element type changes).
    pub(super) fn coerce(&mut self, v: Value, ty: &Type) -> Result<Value, Type> {
        let found = || v.ty().unwrap_or(Type::Lit);
        match (&v, ty) {
            (Value::Error, _) => Ok(Value::Error),
            (_, _) if v.ty().as_ref() == Some(ty) => Ok(v),
            (Value::Lit(n), Type::Scalar(s, secret)) => {
                let placeholder = Span::default();
                let (lo, hi) = match s {
                    Scalar::Int { bits, signed } => int_range(*bits, *signed),
                    Scalar::Fix => (
                        i128::from(i64::MIN >> FIX_FRAC_BITS),
                        i128::from(i64::MAX >> FIX_FRAC_BITS),
                    ),
                    Scalar::Bool => return Err(found()),
                };
                if *n < lo || *n > hi {
                    return Err(found());
                }
                let s = self
                    .lit_as(*n, *s, *secret, placeholder)
                    .ok_or_else(found)?;
                Ok(Value::Scalar(ScalarVal {
                    secret: *secret,
                    ..s
                }))
            }
            (Value::Lit(_), Type::Lit) => Ok(v),
            (Value::Scalar(s), Type::Scalar(t, secret))
                if s.scalar == *t && (*secret || !s.secret) =>
            {
                Ok(Value::Scalar(ScalarVal {
                    secret: *secret,
                    ..*s
                }))
            }
            (Value::Array(a), Type::Array(elem, n)) if *n == 0 || a.items.len() == *n => {
                let mut items = Vec::with_capacity(a.items.len());
                for item in a.items.iter() {
                    items.push(self.coerce(item.clone(), elem).map_err(|_| found())?);
                }
                Ok(Value::Array(ArrayVal {
                    elem: elem.as_ref().clone(),
                    items: Rc::new(items),
                }))
            }
            (Value::Tuple(items), Type::Tuple(types)) if items.len() == types.len() => {
                let mut out = Vec::with_capacity(items.len());
                for (item, t) in items.iter().zip(types.iter()) {
                    out.push(self.coerce(item.clone(), t).map_err(|_| found())?);
                }
                Ok(Value::Tuple(Rc::new(out)))
            }
            _ => Err(found()),
        }
    }

    fn coerce_or_report(&mut self, v: Value, ty: &Type, span: Span) -> Value {
        match self.coerce(v, ty) {
            Ok(v) => v,
            Err(found) => self.error(format!("expected `{ty}`, found `{found}`"), span),
        }
    }

    // ----- indexing ------------------------------------------------------------------

    fn index_kind(&mut self, index: &Value, len: usize, span: Span) -> IndexKind {
        match index {
            Value::Error => IndexKind::Error,
            Value::Scalar(s)
                if matches!(s.scalar, Scalar::Int { .. })
                    && (s.secret || self.b.const_value(s.wire).is_none()) =>
            {
                IndexKind::Oblivious(self.index_equalities(*s, len))
            }
            _ => {
                let Some(i) = self.known_int(index, span, "an index") else {
                    return IndexKind::Error;
                };
                let resolved = if i < 0 { i + len as i128 } else { i };
                if resolved < 0 || resolved >= len as i128 {
                    self.error(
                        format!("index {i} is out of range for an array of length {len}"),
                        span,
                    );
                    return IndexKind::Error;
                }
                IndexKind::Const(resolved as usize)
            }
        }
    }

    /// One `bool` wire per position: whether the secret index selects it. Negative
    /// indices count from the end, as for constants; others select nothing.
    fn index_equalities(&mut self, index: ScalarVal, len: usize) -> Vec<WireId> {
        ops::index_matches(&mut self.b, index.scalar, index.wire, len)
    }

    /// `Σ eq_j · items[j]` over values of one type (0 when no position is selected).
    fn oblivious_read(
        &mut self,
        eqs: &[WireId],
        items: &[Value],
        elem: &Type,
        secret_index: bool,
    ) -> Value {
        match elem {
            Type::Scalar(s, secret) => {
                let mut terms = Vec::with_capacity(items.len());
                for (eq, item) in eqs.iter().zip(items) {
                    let Value::Scalar(x) = item else {
                        return Value::Error;
                    };
                    terms.push(if *s == Scalar::Bool {
                        let spread = self.b.push(Gate::Broadcast(*eq, 1));
                        self.b.push(Gate::And(spread, x.wire, 1))
                    } else {
                        let bit = self.b.push(Gate::B2A(*eq));
                        self.b.push(Gate::Mul(bit, x.wire))
                    });
                }
                let wire = if *s == Scalar::Bool {
                    self.tree(terms, |b, l, r| b.push(Gate::Xor(l, r, 1)))
                } else {
                    self.tree(terms, |b, l, r| b.push(Gate::Add(l, r)))
                };
                let wire = wire.unwrap_or_else(|| self.b.constant(0));
                Value::Scalar(ScalarVal {
                    scalar: *s,
                    secret: *secret || secret_index,
                    wire,
                })
            }
            Type::Lit => {
                let typed: Vec<Value> = items
                    .iter()
                    .map(|v| {
                        self.coerce(v.clone(), &Type::Scalar(DEFAULT_INT, false))
                            .unwrap_or(Value::Error)
                    })
                    .collect();
                self.oblivious_read(eqs, &typed, &Type::Scalar(DEFAULT_INT, false), secret_index)
            }
            Type::Array(inner, n) => {
                let mut out = Vec::with_capacity(*n);
                for p in 0..*n {
                    let column: Vec<Value> = items
                        .iter()
                        .map(|row| match row {
                            Value::Array(a) => a.items[p].clone(),
                            _ => Value::Error,
                        })
                        .collect();
                    out.push(self.oblivious_read(eqs, &column, inner, secret_index));
                }
                let elem = out
                    .first()
                    .and_then(Value::ty)
                    .unwrap_or_else(|| inner.as_ref().clone());
                Value::Array(ArrayVal {
                    elem,
                    items: Rc::new(out),
                })
            }
            Type::Tuple(types) => {
                let mut out = Vec::with_capacity(types.len());
                for (p, t) in types.iter().enumerate() {
                    let column: Vec<Value> = items
                        .iter()
                        .map(|row| match row {
                            Value::Tuple(items) => items[p].clone(),
                            _ => Value::Error,
                        })
                        .collect();
                    out.push(self.oblivious_read(eqs, &column, t, secret_index));
                }
                Value::Tuple(Rc::new(out))
            }
        }
    }

    fn index(&mut self, base: Value, index: Value, span: Span) -> Value {
        match base {
            Value::Error => Value::Error,
            Value::Type(t) => {
                let Some(n) = self.known_int(&index, span, "an array length") else {
                    return Value::Error;
                };
                if n < 0 || n > mpc_bytecode::types::MAX_ELEMENTS as i128 {
                    return self.error(format!("array length {n} is out of range"), span);
                }
                Value::Type(append_dimension(t, n as usize))
            }
            Value::Array(a) => match self.index_kind(&index, a.items.len(), span) {
                IndexKind::Error => Value::Error,
                IndexKind::Const(i) => a.items[i].clone(),
                IndexKind::Oblivious(eqs) => {
                    let secret_index = matches!(index, Value::Scalar(s) if s.secret);
                    self.oblivious_read(&eqs, &a.items, &a.elem, secret_index)
                }
            },
            Value::Tuple(items) => match self.index_kind(&index, items.len(), span) {
                IndexKind::Const(i) => items[i].clone(),
                IndexKind::Oblivious(_) => {
                    self.error("a tuple can only be indexed by a constant", span)
                }
                IndexKind::Error => Value::Error,
            },
            other => {
                let what = other.describe();
                self.error(format!("cannot index {what}"), span)
            }
        }
    }

    fn slice(&mut self, v: Value, lo: Option<i128>, hi: Option<i128>, span: Span) -> Value {
        let clamp = |i: Option<i128>, len: usize, default: usize| -> usize {
            match i {
                None => default,
                Some(i) if i < 0 => (i + len as i128).max(0) as usize,
                Some(i) => (i as usize).min(len),
            }
        };
        match v {
            Value::Array(a) => {
                let len = a.items.len();
                let (lo, hi) = (clamp(lo, len, 0), clamp(hi, len, len));
                let items = if lo < hi {
                    a.items[lo..hi].to_vec()
                } else {
                    Vec::new()
                };
                Value::Array(ArrayVal {
                    elem: a.elem,
                    items: Rc::new(items),
                })
            }
            Value::Error => Value::Error,
            other => {
                let what = other.describe();
                self.error(format!("cannot slice {what}"), span)
            }
        }
    }

    // ----- calls ---------------------------------------------------------------------

    fn call(
        &mut self,
        func: &Expr,
        args: &[Expr],
        kwargs: &[(crate::syntax::ast::Ident, Expr)],
        span: Span,
    ) -> Value {
        let f = self.eval(func);
        match f {
            Value::Error => Value::Error,
            Value::Builtin(builtin) => self.call_builtin(builtin, args, kwargs, span),
            Value::Type(t) => {
                if !kwargs.is_empty() || args.len() != 1 {
                    return self.error(
                        format!("a conversion to `{t}` takes exactly one argument"),
                        span,
                    );
                }
                let v = self.eval(&args[0]);
                self.convert(v, &t, span)
            }
            Value::Func(f) => {
                let values: Vec<(Value, Span)> =
                    args.iter().map(|a| (self.eval(a), a.span)).collect();
                let mut named = Vec::with_capacity(kwargs.len());
                for (name, e) in kwargs {
                    named.push((name.clone(), self.eval(e), e.span));
                }
                let place = self.b.place();
                let result = self.call_function(&f, values, named, span);
                self.b.set_place(place);
                result
            }
            other => {
                let what = other.describe();
                self.error(format!("{what} cannot be called"), func.span)
            }
        }
    }

    fn call_function(
        &mut self,
        f: &Rc<FuncVal>,
        args: Vec<(Value, Span)>,
        kwargs: Vec<(crate::syntax::ast::Ident, Value, Span)>,
        span: Span,
    ) -> Value {
        let def = f.def.clone();
        let name = def.name.name.clone();
        if args.len() > def.params.len() {
            return self.error(
                format!(
                    "`{name}` takes {} argument(s) but {} were given",
                    def.params.len(),
                    args.len()
                ),
                span,
            );
        }
        let mut bound: Vec<Option<(Value, Span)>> = args.into_iter().map(Some).collect();
        bound.resize(def.params.len(), None);
        for (kw, value, at) in kwargs {
            match def.params.iter().position(|p| p.name.name == kw.name) {
                Some(i) if bound[i].is_none() => bound[i] = Some((value, at)),
                Some(_) => {
                    return self.error(
                        format!("`{name}` got two values for `{}`", kw.name),
                        kw.span,
                    )
                }
                None => {
                    return self.error(format!("`{name}` has no parameter `{}`", kw.name), kw.span)
                }
            }
        }
        if self.call_depth >= MAX_INLINE_DEPTH {
            return self.report(
                Diagnostic::error(format!("calls nested more than {MAX_INLINE_DEPTH} deep while inlining `{name}`"), span)
                    .with_help("recursion must end at compile time: make sure its arguments reach a constant base case"),
            );
        }
        self.frames.push(Frame {
            module: f.module,
            locals: Some(Scope::default()),
            captured: f.captured.clone(),
            secret_ifs: 0,
        });
        self.call_depth += 1;
        for (param, arg) in def.params.iter().zip(bound) {
            let Some((value, at)) = arg else {
                self.error(
                    format!("`{name}` is missing the argument `{}`", param.name.name),
                    span,
                );
                self.set_var(param.name.name.clone(), Value::Error, param.name.span);
                continue;
            };
            let value = match &param.ty {
                Some(annotation) => {
                    let ty = self.eval_type(annotation);
                    match (ty, value) {
                        (Some(ty), value) => match self.coerce(value, &ty) {
                            Ok(v) => v,
                            Err(found) => self.report(
                                Diagnostic::error(
                                    format!(
                                        "argument `{}` of `{name}` must be `{ty}`, found `{found}`",
                                        param.name.name
                                    ),
                                    at,
                                )
                                .with_secondary(annotation.span, "declared here"),
                            ),
                        },
                        (None, _) => Value::Error,
                    }
                }
                None => value,
            };
            self.scope_mut()
                .insert(param.name.name.clone(), Binding::Value(value));
        }
        self.call_sites.push(span);
        let result = match self.exec_block(&def.body) {
            Flow::Return(v) => v,
            Flow::Normal => Value::None,
        };
        self.call_sites.pop();
        let result = match &def.ret {
            Some(annotation) if !matches!(result, Value::Error) => match self.eval_type(annotation)
            {
                Some(ty) => match self.coerce(result, &ty) {
                    Ok(v) => v,
                    Err(found) => self.report(Diagnostic::error(
                        format!("`{name}` must return `{ty}`, but returns `{found}`"),
                        annotation.span,
                    )),
                },
                None => Value::Error,
            },
            _ => result,
        };
        self.call_depth -= 1;
        self.frames.pop();
        result
    }

    /// Evaluates a type expression (`sint`, `sint[N]`, `(sint, sbool)`).
    pub(super) fn eval_type(&mut self, e: &Expr) -> Option<Type> {
        match self.eval(e) {
            Value::Type(t) => Some(t),
            Value::Error => None,
            other => {
                let what = other.describe();
                self.error(format!("expected a type, found {what}"), e.span);
                None
            }
        }
    }

    /// `T(v)`: the conversions of LANGUAGE.md §2.
    pub(super) fn convert(&mut self, v: Value, t: &Type, span: Span) -> Value {
        let Type::Scalar(to, to_secret) = *t else {
            return match self.coerce(v, t) {
                Ok(v) => v,
                Err(found) => self.error(format!("cannot convert `{found}` to `{t}`"), span),
            };
        };
        match v {
            Value::Error => Value::Error,
            Value::Lit(n) => {
                let raw = match to {
                    Scalar::Int { .. } => n as u64,
                    Scalar::Bool => u64::from(n != 0),
                    Scalar::Fix => match self.lit_as(n, Scalar::Fix, to_secret, span) {
                        Some(s) => {
                            return Value::Scalar(ScalarVal {
                                secret: to_secret,
                                ..s
                            })
                        }
                        None => return Value::Error,
                    },
                };
                self.const_scalar(to, to_secret, to.normalize(raw))
            }
            Value::Scalar(s) => {
                if s.secret && !to_secret {
                    return self.report(
                        Diagnostic::error(
                            format!(
                                "a secret `{}` cannot become a public `{}`",
                                s.scalar.name(true),
                                to.name(false)
                            ),
                            span,
                        )
                        .with_help(
                            "open it explicitly with `reveal(...)`, or convert to a secret type",
                        ),
                    );
                }
                let wire = ops::cast(&mut self.b, s.scalar, to, s.wire);
                Value::Scalar(ScalarVal {
                    scalar: to,
                    secret: to_secret || s.secret,
                    wire,
                })
            }
            Value::Array(a) => {
                let items: Vec<Value> = a
                    .items
                    .iter()
                    .map(|item| self.convert(item.clone(), t, span))
                    .collect();
                let elem = items
                    .first()
                    .and_then(Value::ty)
                    .unwrap_or(Type::Scalar(to, to_secret));
                Value::Array(ArrayVal {
                    elem,
                    items: Rc::new(items),
                })
            }
            other => {
                let what = other.describe();
                self.error(format!("cannot convert {what} to `{t}`"), span)
            }
        }
    }
}

enum Condition {
    Error,
    Known(bool),
    Runtime(WireId),
}

enum IndexKind {
    Error,
    Const(usize),
    Oblivious(Vec<WireId>),
}

/// A loop body that is exactly `acc = max(acc, term)` or `acc = min(acc, term)` (either
/// argument order) with `term` not reading `acc`: the accumulator, which builtin, and
/// the term.
/// What a `for` loop or comprehension iterates over, one item at a time.
enum LoopItems {
    /// `range(...)`: `left` more values from `next`, `step` apart.
    Range { next: i128, step: i128, left: i128 },
    /// The elements of an array or tuple.
    List(std::vec::IntoIter<Value>),
}

impl Iterator for LoopItems {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        match self {
            LoopItems::Range { next, step, left } => {
                if *left <= 0 {
                    return None;
                }
                let value = *next;
                *left -= 1;
                *next += *step;
                Some(Value::Lit(value))
            }
            LoopItems::List(items) => items.next(),
        }
    }
}

fn running_min_max(body: &[Stmt]) -> Option<(&Expr, Builtin, &Expr)> {
    let [Stmt {
        kind: StmtKind::Assign { target, value },
        ..
    }] = body
    else {
        return None;
    };
    let ExprKind::Name(acc) = &target.kind else {
        return None;
    };
    let ExprKind::Call { func, args, kwargs } = &value.kind else {
        return None;
    };
    let builtin = match &func.kind {
        ExprKind::Name(f) if &**f == "max" => Builtin::Max,
        ExprKind::Name(f) if &**f == "min" => Builtin::Min,
        _ => return None,
    };
    let is_acc = |e: &Expr| matches!(&e.kind, ExprKind::Name(n) if n == acc);
    let term = match args.as_slice() {
        [a, t] | [t, a] if is_acc(a) && !is_acc(t) => t,
        _ => return None,
    };
    (kwargs.is_empty() && !mentions(term, acc)).then_some((target, builtin, term))
}

/// Whether `e` reads the variable `name` anywhere.
fn mentions(e: &Expr, name: &str) -> bool {
    let any = |es: &[Expr]| es.iter().any(|x| mentions(x, name));
    match &e.kind {
        ExprKind::Name(n) => &**n == name,
        ExprKind::Int(_) | ExprKind::Fix(_) | ExprKind::Str(_) | ExprKind::Bool(_) => false,
        ExprKind::Attr(b, _) | ExprKind::Unary(_, b) => mentions(b, name),
        ExprKind::Binary(_, l, r)
        | ExprKind::Compare(_, l, r)
        | ExprKind::Logic(_, l, r)
        | ExprKind::Index(l, r) => mentions(l, name) || mentions(r, name),
        ExprKind::IfElse {
            cond,
            then,
            otherwise,
        } => mentions(cond, name) || mentions(then, name) || mentions(otherwise, name),
        ExprKind::Call { func, args, kwargs } => {
            mentions(func, name) || any(args) || kwargs.iter().any(|(_, v)| mentions(v, name))
        }
        ExprKind::Slice { value, lo, hi } => {
            mentions(value, name)
                || lo.as_deref().is_some_and(|x| mentions(x, name))
                || hi.as_deref().is_some_and(|x| mentions(x, name))
        }
        ExprKind::List(items) | ExprKind::Tuple(items) => any(items),
        // The comprehension's own variable may shadow the name; reading it is still safe
        // to treat as a mention.
        ExprKind::ListComp { elt, iter, .. } => mentions(elt, name) || mentions(iter, name),
    }
}

/// Python's floor division of integers.
fn floor_div(x: i128, y: i128) -> i128 {
    let q = x / y;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    }
}

/// `T[n]` on a type that is already an array adds the innermost dimension, so that
/// `sint[N][M]` is N rows of M (LANGUAGE.md §2).
fn append_dimension(t: Type, n: usize) -> Type {
    match t {
        Type::Array(inner, m) => {
            Type::Array(Rc::new(append_dimension(inner.as_ref().clone(), n)), m)
        }
        scalar => Type::Array(Rc::new(scalar), n),
    }
}

/// The type both values can take: literals adopt a number type, public becomes secret.
pub(super) fn join_types(a: &Type, b: &Type) -> Option<Type> {
    Some(match (a, b) {
        _ if a == b => a.clone(),
        (Type::Lit, Type::Scalar(s, secret)) | (Type::Scalar(s, secret), Type::Lit)
            if *s != Scalar::Bool =>
        {
            Type::Scalar(*s, *secret)
        }
        (Type::Scalar(s, x), Type::Scalar(t, y)) if s == t => Type::Scalar(*s, *x || *y),
        (Type::Array(x, n), Type::Array(y, m)) if n == m => {
            Type::Array(Rc::new(join_types(x, y)?), *n)
        }
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => Type::Tuple(
            xs.iter()
                .zip(ys.iter())
                .map(|(x, y)| join_types(x, y))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// How to write a conversion to `ty` in a help message.
fn cast_hint(ty: &Type, arg: &str) -> String {
    match ty {
        Type::Scalar(..) | Type::Lit => format!("{ty}({arg})"),
        _ => format!("a `{ty}` value"),
    }
}
