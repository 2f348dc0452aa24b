//! The parser: lex ([`token`](super::token)) → layout ([`Layout`]) → the lalrpop grammar in
//! `grammar/mpc.lalrpop` → [`Module`], with every problem turned into a [`Diagnostic`].
//!
//! All errors of a file are collected in one run: lex errors replace their text by a
//! [`Tok::Error`] token, the grammar recovers from a syntax error at the end of its
//! statement, and lalrpop's errors are translated into short messages in the style of
//! RustPython ("unexpected indentation", "expected an indented block after `:`",
//! "unclosed `(`").
//!
//! Invariant of the result: no expression is nested deeper than [`MAX_EXPR_DEPTH`] and no
//! block deeper than [`MAX_INDENT_LEVELS`](super::layout::MAX_INDENT_LEVELS), so later
//! passes may recurse over the tree (and drop it) without overflowing the stack.

use lalrpop_util::ParseError;

use super::ast::{BinOp, CmpOp, Expr, ExprKind, Ident, LogicOp, Module, Stmt, StmtKind, UnOp};
use super::layout::Layout;
use super::token::{LexError, LexErrorKind, Tok};
use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused, missing_docs, unreachable_pub)]
    mpc,
    "/mpc.rs"
);

/// The deepest expression tree the parser builds; deeper ones are reported and cut off.
pub const MAX_EXPR_DEPTH: u32 = 1000;

/// Parses one file. Returns every diagnostic of the file (lex errors, syntax errors, and
/// the error that stopped the parser, if any) when there is at least one.
pub fn parse(file: FileId, text: &str) -> Result<Module, Vec<Diagnostic>> {
    let mut layout = Layout::new(text);
    let mut lex_errors = Vec::new();
    let mut errors = Vec::new();
    let tokens = layout.by_ref().filter_map(|item| match item {
        Ok(tok) => Some(Ok::<_, LexError>(tok)),
        Err(e) => {
            lex_errors.push(e.to_diagnostic(file, text));
            match e.kind {
                // The layout already recovered: the tokens around the error are balanced.
                LexErrorKind::TabInIndentation
                | LexErrorKind::DedentToUnknownLevel
                | LexErrorKind::TooManyIndentLevels => None,
                _ => Some(Ok((e.span.start, Tok::Error, e.span.end))),
            }
        }
    });
    let result = mpc::ModuleParser::new().parse(file, &mut errors, tokens);
    errors.append(&mut lex_errors);
    let module = match result {
        Ok(module) => Some(module),
        Err(e) => {
            // The parser stops only at the end of the input (it recovers from anything
            // else), so the layout's bracket stack is final here.
            match layout.unclosed_bracket() {
                Some((open, opener)) => {
                    // The lines after an unclosed bracket are read as part of it, so an
                    // error on one of them is most likely a consequence: report only the
                    // bracket then.
                    let consequence = match &e {
                        ParseError::UnrecognizedToken {
                            token: (lo, ..), ..
                        }
                        | ParseError::ExtraToken { token: (lo, ..) } => text
                            .get(opener.end..*lo)
                            .is_some_and(|between| between.contains('\n')),
                        _ => true,
                    };
                    if !consequence {
                        errors.extend(syntax_error(file, &e));
                    }
                    let end = text.len();
                    errors.push(
                        Diagnostic::error(
                            format!("unclosed `{open}`"),
                            Span::new(file, opener.start, opener.end),
                        )
                        .with_label("never closed")
                        .with_secondary(Span::new(file, end, end), "the file ends here"),
                    );
                }
                None => errors.extend(syntax_error(file, &e)),
            }
            None
        }
    };
    match module {
        Some(module) if errors.is_empty() => Ok(module),
        _ => {
            errors.sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
            Err(errors)
        }
    }
}

// ------------------------------------------------------------- error translation

/// The diagnostic for a lalrpop error, or `None` when the offending token is
/// [`Tok::Error`], whose lex error was already reported.
fn syntax_error(file: FileId, error: &ParseError<usize, Tok, LexError>) -> Option<Diagnostic> {
    let (lo, tok, hi, expected) = match error {
        ParseError::UnrecognizedToken {
            token: (lo, tok, hi),
            expected,
        } => (*lo, Some(tok), *hi, expected.as_slice()),
        ParseError::ExtraToken {
            token: (lo, tok, hi),
        } => (*lo, Some(tok), *hi, &[][..]),
        ParseError::UnrecognizedEof { location, expected } => {
            (*location, None, *location, expected.as_slice())
        }
        ParseError::InvalidToken { location } => {
            return Some(Diagnostic::error(
                "invalid token",
                span(file, *location, *location),
            ));
        }
        // Not produced: `parse` hands lex errors to the parser as `Tok::Error`.
        ParseError::User { error } => {
            let at = span(file, error.span.start, error.span.end);
            return Some(Diagnostic::error(error.kind.message(), at));
        }
    };
    let at = span(file, lo, hi);
    let d = match tok {
        Some(Tok::Error) => return None,
        Some(Tok::Indent) => unexpected_indent(at),
        Some(_) if is_only_indent(expected) => {
            Diagnostic::error("expected an indented block after `:`", at)
                .with_label("this line should be indented")
        }
        None if is_only_indent(expected) => {
            Diagnostic::error("expected an indented block after `:`", at)
        }
        // At the start of a statement: a dangling `else`/`elif`.
        Some(tok @ (Tok::Else | Tok::Elif)) if expected.iter().any(|e| e == "\"pass\"") => {
            Diagnostic::error(format!("unexpected `{tok}`"), at)
                .with_label("not after an `if` block at this indentation")
        }
        Some(tok) => {
            let d = Diagnostic::error(format!("unexpected {}", describe(tok)), at);
            with_expected(d, expected)
        }
        None => with_expected(Diagnostic::error("unexpected end of file", at), expected),
    };
    Some(d)
}

fn is_only_indent(expected: &[String]) -> bool {
    expected.len() == 1 && expected[0] == "INDENT"
}

/// A token as the subject of "unexpected ...".
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Newline => "end of line".into(),
        Tok::Indent => "indentation".into(),
        Tok::Dedent => "end of block".into(),
        Tok::Str(_) => "string literal".into(),
        tok => format!("`{tok}`"),
    }
}

/// Terminals that can start an expression, as lalrpop names them (grammar spelling).
const EXPR_START: [&str; 12] = [
    "NAME",
    "INT",
    "FIX",
    "STRING",
    "\"True\"",
    "\"False\"",
    "\"(\"",
    "\"[\"",
    "\"-\"",
    "\"+\"",
    "\"~\"",
    "\"not\"",
];

/// Terminals that continue an expression or assign to it: listed as "an operator".
const OPERATORS: [&str; 27] = [
    "\"+\"", "\"-\"", "\"*\"", "\"**\"", "\"/\"", "\"//\"", "\"%\"", "\"&\"", "\"|\"", "\"^\"",
    "\"<<\"", "\">>\"", "\"==\"", "\"!=\"", "\"<\"", "\"<=\"", "\">\"", "\">=\"", "\"and\"",
    "\"or\"", "\"+=\"", "\"-=\"", "\"*=\"", "\"&=\"", "\"|=\"", "\"^=\"", "\"if\"",
];

/// Terminals that can start a statement but not an expression.
const STMT_START: [&str; 8] = [
    "\"def\"",
    "\"return\"",
    "\"if\"",
    "\"for\"",
    "\"while\"",
    "\"pass\"",
    "\"import\"",
    "\"from\"",
];

/// Adds "expected ..." as a note, naming groups rather than listing dozens of tokens.
fn with_expected(mut d: Diagnostic, expected: &[String]) -> Diagnostic {
    let has = |t: &str| expected.iter().any(|e| e == t);
    let statement = has("\"def\"") && has("\"pass\"");
    let expression = has("NAME") && has("INT") && has("\"(\"");
    let operator = has("\"*\"") && has("\"==\"");
    let mut items: Vec<String> = Vec::new();
    if statement {
        items.push("a statement".into());
    } else if expression {
        items.push("an expression".into());
    }
    if operator {
        items.push("an operator".into());
    }
    for e in expected {
        let e = e.as_str();
        let grouped = (statement && STMT_START.contains(&e))
            || (expression && EXPR_START.contains(&e))
            || (operator && OPERATORS.contains(&e));
        // Where a statement may start, so may a stray indented block or the end of the
        // enclosing one; suggesting either would only confuse.
        let noise = statement && (e == "INDENT" || e == "DEDENT");
        if grouped || noise || e == "LEXERROR" {
            continue;
        }
        let item = match e {
            "NEWLINE" => "end of line".to_string(),
            "INDENT" => "an indented block".to_string(),
            "DEDENT" => "end of block".to_string(),
            "NAME" => "a name".to_string(),
            "INT" => "an integer".to_string(),
            "FIX" => "a fixed-point literal".to_string(),
            "STRING" => "a string literal".to_string(),
            quoted => format!("`{}`", quoted.trim_matches('"')),
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    const SHOWN: usize = 8;
    let note = match items.as_slice() {
        [] => return d,
        [one] => format!("expected {one}"),
        [init @ .., last] if items.len() <= SHOWN => {
            format!("expected {} or {last}", init.join(", "))
        }
        many => format!("expected {}, ...", many[..SHOWN].join(", ")),
    };
    d.notes.push(note);
    d
}

/// "unexpected indentation" at an `INDENT`.
fn unexpected_indent(at: Span) -> Diagnostic {
    Diagnostic::error("unexpected indentation", at)
        .with_help("only the lines of a block after a `:` are indented")
}

// ------------------------------------------------------ helpers for the grammar

/// A span that is never reversed (lalrpop's recovery can hand out `lo > hi`).
fn span(file: FileId, lo: usize, hi: usize) -> Span {
    Span::new(file, lo.min(hi), lo.max(hi))
}

/// Where a block's last statement ends (at least `start`).
fn block_end(body: &[Stmt], start: usize) -> usize {
    body.last()
        .map_or(start, |s| s.span.end as usize)
        .max(start)
}

fn is_error(stmt: &Stmt) -> bool {
    matches!(stmt.kind, StmtKind::Error)
}

/// An expression being built, with the depth of its tree. A node that would be deeper than
/// [`MAX_EXPR_DEPTH`] is replaced by an empty placeholder with a depth above the limit,
/// which `expr` reports once for the whole outermost expression.
struct Deep {
    expr: Expr,
    depth: u32,
}

/// Takes a finished expression out of its `Deep`, reporting it if it was cut off.
fn expr(e: Deep, errors: &mut Vec<Diagnostic>) -> Expr {
    if e.depth > MAX_EXPR_DEPTH {
        errors.push(
            Diagnostic::error("expression nested too deeply", e.expr.span).with_help(format!(
                "split it up; at most {MAX_EXPR_DEPTH} levels are allowed"
            )),
        );
    }
    e.expr
}

/// A node over children whose deepest has depth `depth - 1`.
fn node(kind: ExprKind, span: Span, depth: u32) -> Deep {
    if depth > MAX_EXPR_DEPTH {
        // `kind` is at most one level over the limit: dropping it recurses boundedly.
        return Deep {
            expr: Expr {
                kind: ExprKind::Tuple(vec![]),
                span,
            },
            depth: MAX_EXPR_DEPTH + 1,
        };
    }
    Deep {
        expr: Expr { kind, span },
        depth,
    }
}

fn leaf(kind: ExprKind, span: Span) -> Deep {
    node(kind, span, 1)
}

fn deepest<'a>(items: impl IntoIterator<Item = &'a Deep>) -> u32 {
    items.into_iter().map(|e| e.depth).max().unwrap_or(0)
}

fn unwrap_all(items: Vec<Deep>) -> Vec<Expr> {
    items.into_iter().map(|e| e.expr).collect()
}

fn tuple(span: Span, items: Vec<Deep>) -> Deep {
    let depth = deepest(&items) + 1;
    node(ExprKind::Tuple(unwrap_all(items)), span, depth)
}

fn list(span: Span, items: Vec<Deep>) -> Deep {
    let depth = deepest(&items) + 1;
    node(ExprKind::List(unwrap_all(items)), span, depth)
}

fn list_comp(span: Span, elt: Deep, var: Ident, iter: Deep) -> Deep {
    let depth = deepest([&elt, &iter]) + 1;
    node(
        ExprKind::ListComp {
            elt: Box::new(elt.expr),
            var,
            iter: Box::new(iter.expr),
        },
        span,
        depth,
    )
}

fn if_else(then: Deep, cond: Deep, otherwise: Deep) -> Deep {
    let depth = deepest([&then, &cond, &otherwise]) + 1;
    let span = then.expr.span.to(otherwise.expr.span);
    let kind = ExprKind::IfElse {
        cond: Box::new(cond.expr),
        then: Box::new(then.expr),
        otherwise: Box::new(otherwise.expr),
    };
    node(kind, span, depth)
}

fn logic(op: LogicOp, l: Deep, r: Deep) -> Deep {
    let depth = deepest([&l, &r]) + 1;
    let span = l.expr.span.to(r.expr.span);
    node(
        ExprKind::Logic(op, Box::new(l.expr), Box::new(r.expr)),
        span,
        depth,
    )
}

fn binary(op: BinOp, l: Deep, r: Deep) -> Deep {
    let depth = deepest([&l, &r]) + 1;
    let span = l.expr.span.to(r.expr.span);
    node(
        ExprKind::Binary(op, Box::new(l.expr), Box::new(r.expr)),
        span,
        depth,
    )
}

fn unary(file: FileId, lo: usize, op: UnOp, e: Deep) -> Deep {
    let span = span(file, lo, e.expr.span.end as usize);
    node(ExprKind::Unary(op, Box::new(e.expr)), span, e.depth + 1)
}

/// `a < b < c` → `(a < b) and (b < c)`: each inner operand is cloned into the comparison
/// on its right. Each comparison spans its two operands, each `and` the chain so far.
fn compare_chain(first: Deep, rest: Vec<(CmpOp, Deep)>) -> Deep {
    let mut left = first;
    let mut chain: Option<Deep> = None;
    let last = rest.len();
    for (i, (op, right)) in rest.into_iter().enumerate() {
        let next_left = (i + 1 < last).then(|| Deep {
            expr: right.expr.clone(),
            depth: right.depth,
        });
        let depth = deepest([&left, &right]) + 1;
        let span = left.expr.span.to(right.expr.span);
        let cmp = node(
            ExprKind::Compare(op, Box::new(left.expr), Box::new(right.expr)),
            span,
            depth,
        );
        chain = Some(match chain {
            None => cmp,
            Some(acc) => logic(LogicOp::And, acc, cmp),
        });
        match next_left {
            Some(next) => left = next,
            None => return chain.expect("set just above"),
        }
    }
    left
}

/// A call argument before positional and keyword ones are separated.
enum Arg {
    Positional(Deep),
    Keyword(Ident, Deep),
}

/// `f(args)`, spanning from the callee to the `)` ending at `hi`. Reports a positional
/// argument after a keyword one, and a repeated keyword, as Python does.
fn call(file: FileId, errors: &mut Vec<Diagnostic>, f: Deep, args: Vec<Arg>, hi: usize) -> Deep {
    let mut depth = f.depth;
    let mut positional = Vec::new();
    let mut keywords: Vec<(Ident, Expr)> = Vec::new();
    for arg in args {
        match arg {
            Arg::Positional(e) => {
                if let Some((name, _)) = keywords.last() {
                    errors.push(
                        Diagnostic::error(
                            "positional argument after keyword argument",
                            e.expr.span,
                        )
                        .with_secondary(name.span, "keyword argument here")
                        .with_help("put the positional arguments first"),
                    );
                }
                depth = depth.max(e.depth);
                positional.push(e.expr);
            }
            Arg::Keyword(name, e) => {
                if let Some((first, _)) = keywords.iter().find(|(k, _)| k.name == name.name) {
                    errors.push(
                        Diagnostic::error(
                            format!("keyword argument `{}` repeated", name.name),
                            name.span,
                        )
                        .with_secondary(first.span, "first given here"),
                    );
                }
                depth = depth.max(e.depth);
                keywords.push((name, e.expr));
            }
        }
    }
    let span = span(file, f.expr.span.start as usize, hi);
    let kind = ExprKind::Call {
        func: Box::new(f.expr),
        args: positional,
        kwargs: keywords,
    };
    node(kind, span, depth + 1)
}

fn index(file: FileId, value: Deep, i: Deep, hi: usize) -> Deep {
    let depth = deepest([&value, &i]) + 1;
    let span = span(file, value.expr.span.start as usize, hi);
    node(
        ExprKind::Index(Box::new(value.expr), Box::new(i.expr)),
        span,
        depth,
    )
}

fn slice(file: FileId, value: Deep, lo: Option<Deep>, hi: Option<Deep>, end: usize) -> Deep {
    let depth = deepest(
        [Some(&value), lo.as_ref(), hi.as_ref()]
            .into_iter()
            .flatten(),
    ) + 1;
    let span = span(file, value.expr.span.start as usize, end);
    let kind = ExprKind::Slice {
        value: Box::new(value.expr),
        lo: lo.map(|e| Box::new(e.expr)),
        hi: hi.map(|e| Box::new(e.expr)),
    };
    node(kind, span, depth)
}

fn attr(value: Deep, name: Ident) -> Deep {
    let span = value.expr.span.to(name.span);
    node(
        ExprKind::Attr(Box::new(value.expr), name),
        span,
        value.depth + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    // ---- a compact dump of the tree: one statement per line, expressions as s-exprs ----

    fn e(x: &Expr) -> String {
        let list = |items: &[Expr]| items.iter().map(e).collect::<Vec<_>>().join(" ");
        match &x.kind {
            ExprKind::Int(n) => n.to_string(),
            ExprKind::Fix(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            ExprKind::Name(n) => n.to_string(),
            ExprKind::Attr(v, name) => format!("(. {} {})", e(v), name.name),
            ExprKind::Unary(op, v) => {
                let op = match op {
                    UnOp::Neg => "neg",
                    UnOp::Pos => "pos",
                    UnOp::Invert => "~",
                    UnOp::Not => "not",
                };
                format!("({op} {})", e(v))
            }
            ExprKind::Binary(op, l, r) => format!("({} {} {})", op.symbol(), e(l), e(r)),
            ExprKind::Compare(op, l, r) => format!("({} {} {})", op.symbol(), e(l), e(r)),
            ExprKind::Logic(op, l, r) => {
                let op = if *op == LogicOp::And { "and" } else { "or" };
                format!("({op} {} {})", e(l), e(r))
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                format!("(if {} {} {})", e(cond), e(then), e(otherwise))
            }
            ExprKind::Call { func, args, kwargs } => {
                let mut s = format!("(call {}", e(func));
                for a in args {
                    s += &format!(" {}", e(a));
                }
                for (k, v) in kwargs {
                    s += &format!(" {}={}", k.name, e(v));
                }
                s + ")"
            }
            ExprKind::Index(v, i) => format!("([] {} {})", e(v), e(i)),
            ExprKind::Slice { value, lo, hi } => {
                let bound = |b: &Option<Box<Expr>>| b.as_deref().map_or("_".to_string(), e);
                format!("([:] {} {} {})", e(value), bound(lo), bound(hi))
            }
            ExprKind::List(items) => format!("(list {})", list(items)),
            ExprKind::Tuple(items) => format!("(tuple {})", list(items)),
            ExprKind::ListComp { elt, var, iter } => {
                format!("(comp {} {} {})", e(elt), var.name, e(iter))
            }
        }
    }

    fn block(body: &[Stmt]) -> String {
        format!("{{{}}}", body.iter().map(s).collect::<Vec<_>>().join("; "))
    }

    fn s(st: &Stmt) -> String {
        match &st.kind {
            StmtKind::Expr(x) => e(x),
            StmtKind::Assign { target, value } => format!("(= {} {})", e(target), e(value)),
            StmtKind::AugAssign { target, op, value } => {
                format!("({}= {} {})", op.symbol(), e(target), e(value))
            }
            StmtKind::If { branches, orelse } => {
                let mut out = "(if".to_string();
                for (cond, body) in branches {
                    out += &format!(" {} {}", e(cond), block(body));
                }
                if let Some(body) = orelse {
                    out += &format!(" else {}", block(body));
                }
                out + ")"
            }
            StmtKind::For { var, iter, body } => {
                format!("(for {} {} {})", var.name, e(iter), block(body))
            }
            StmtKind::While { cond, body } => format!("(while {} {})", e(cond), block(body)),
            StmtKind::Def(def) => {
                let params: Vec<_> = def
                    .params
                    .iter()
                    .map(|p| match &p.ty {
                        Some(ty) => format!("{}: {}", p.name.name, e(ty)),
                        None => p.name.name.to_string(),
                    })
                    .collect();
                let ret = def
                    .ret
                    .as_ref()
                    .map_or(String::new(), |r| format!(" -> {}", e(r)));
                format!(
                    "(def {}({}){ret} {})",
                    def.name.name,
                    params.join(", "),
                    block(&def.body)
                )
            }
            StmtKind::Return(None) => "(return)".into(),
            StmtKind::Return(Some(x)) => format!("(return {})", e(x)),
            StmtKind::Pass => "pass".into(),
            StmtKind::Import { module, alias } => match alias {
                Some(alias) => format!("(import {} as {})", module.name, alias.name),
                None => format!("(import {})", module.name),
            },
            StmtKind::FromImport { module, names } => {
                let names: Vec<_> = names
                    .iter()
                    .map(|(n, alias)| match alias {
                        Some(a) => format!("{} as {}", n.name, a.name),
                        None => n.name.to_string(),
                    })
                    .collect();
                format!("(from {} import {})", module.name, names.join(", "))
            }
            StmtKind::Error => "ERROR".into(),
        }
    }

    fn parse_ok(text: &str) -> Module {
        match parse(FileId(0), text) {
            Ok(module) => module,
            Err(diags) => panic!(
                "{:?} did not parse: {}",
                shorten(text),
                errors_of(text, &diags)
            ),
        }
    }

    fn shorten(text: &str) -> &str {
        text.get(..200).unwrap_or(text)
    }

    /// The tree of a program that must parse.
    fn tree(text: &str) -> String {
        parse_ok(text)
            .body
            .iter()
            .map(s)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The single expression statement of `text`.
    fn ex(text: &str) -> String {
        tree(text)
    }

    /// `line:col: message (notes)` per diagnostic.
    fn errors_of(text: &str, diags: &[Diagnostic]) -> String {
        let mut sources = SourceMap::default();
        let file = sources.add("t.mpc", None, text.to_string());
        diags
            .iter()
            .map(|d| {
                let (line, col) = sources.line_col(file, d.primary.span.start);
                let mut out = format!("{line}:{col}: {}", d.message);
                for note in &d.notes {
                    out += &format!(" ({note})");
                }
                out
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The diagnostics of a program that must not parse.
    fn errors(text: &str) -> String {
        match parse(FileId(0), text) {
            Ok(module) => panic!("{:?} parsed: {module:?}", shorten(text)),
            Err(diags) => errors_of(text, &diags),
        }
    }

    // ---- expressions ----

    #[test]
    fn arithmetic_precedence() {
        assert_eq!(ex("-x**2"), "(neg (** x 2))");
        assert_eq!(ex("a + b * c"), "(+ a (* b c))");
        assert_eq!(ex("a * b + c"), "(+ (* a b) c)");
        assert_eq!(ex("a - b - c"), "(- (- a b) c)");
        assert_eq!(ex("a / b // c % d"), "(% (// (/ a b) c) d)");
        assert_eq!(ex("2**3**2"), "(** 2 (** 3 2))");
        assert_eq!(ex("2**-1"), "(** 2 (neg 1))");
        assert_eq!(ex("-+~x"), "(neg (pos (~ x)))");
        assert_eq!(
            ex("a | b ^ c & d << 1 + 2"),
            "(| a (^ b (& c (<< d (+ 1 2)))))"
        );
        assert_eq!(ex("a >> 1 << 2"), "(<< (>> a 1) 2)");
        assert_eq!(ex("(a + b) * c"), "(* (+ a b) c)");
    }

    #[test]
    fn logic_and_conditional_precedence() {
        assert_eq!(ex("a if c else b"), "(if c a b)");
        assert_eq!(ex("a if c else b if d else e"), "(if c a (if d b e))");
        assert_eq!(ex("a or b and c"), "(or a (and b c))");
        assert_eq!(ex("not a == b"), "(not (== a b))");
        assert_eq!(ex("not a and not b"), "(and (not a) (not b))");
        assert_eq!(ex("x or y if a and b else z"), "(if (and a b) (or x y) z)");
        assert_eq!(ex("a < b | c"), "(< a (| b c))");
    }

    #[test]
    fn chained_comparisons_become_and() {
        assert_eq!(ex("a < b"), "(< a b)");
        assert_eq!(ex("a < b <= c"), "(and (< a b) (<= b c))");
        assert_eq!(
            ex("a == b != c > d"),
            "(and (and (== a b) (!= b c)) (> c d))"
        );
        // Spans: each comparison covers its own operands, the `and` the whole chain.
        let module = parse_ok("a < b >= c");
        let StmtKind::Expr(chain) = &module.body[0].kind else {
            panic!()
        };
        let ExprKind::Logic(LogicOp::And, l, r) = &chain.kind else {
            panic!()
        };
        assert_eq!((chain.span.start, chain.span.end), (0, 10));
        assert_eq!((l.span.start, l.span.end), (0, 5));
        assert_eq!((r.span.start, r.span.end), (4, 10));
    }

    #[test]
    fn atoms() {
        assert_eq!(
            ex("f(42, 0x2a, 2.75, 1e-3, \"avg\", True, False, x)"),
            "(call f 42 42 2.75 0.001 \"avg\" True False x)"
        );
        assert_eq!(ex("()"), "(tuple )");
        assert_eq!(ex("(a,)"), "(tuple a)");
        assert_eq!(ex("(a, b)"), "(tuple a b)");
        assert_eq!(ex("(a, b,)"), "(tuple a b)");
        assert_eq!(ex("((a))"), "a");
        assert_eq!(ex("[]"), "(list )");
        assert_eq!(ex("[a, b + 1,]"), "(list a (+ b 1))");
        assert_eq!(ex("[[1, 2], [3]]"), "(list (list 1 2) (list 3))");
    }

    #[test]
    fn trailers() {
        assert_eq!(ex("a[i][j]"), "([] ([] a i) j)");
        assert_eq!(ex("a[1:2]"), "([:] a 1 2)");
        assert_eq!(ex("a[:n]"), "([:] a _ n)");
        assert_eq!(ex("a[lo:]"), "([:] a lo _)");
        assert_eq!(ex("a[:]"), "([:] a _ _)");
        assert_eq!(ex("stats.mean(xs)[0]"), "([] (call (. stats mean) xs) 0)");
        assert_eq!(ex("sint[4][2]"), "([] ([] sint 4) 2)");
        assert_eq!(ex("-a[i]**2"), "(neg (** ([] a i) 2))");
    }

    #[test]
    fn calls_with_keyword_arguments() {
        assert_eq!(ex("f()"), "(call f)");
        assert_eq!(ex("input(sint, party=0)"), "(call input sint party=0)");
        assert_eq!(
            ex("output(x,\n       to=[0, 1],\n       name=\"avg\",\n)"),
            "(call output x to=(list 0 1) name=\"avg\")"
        );
        assert_eq!(ex("f(a)(b)"), "(call (call f a) b)");
        assert_eq!(
            errors("f(a=1, b)\ng(a=1, a=2)\n"),
            "1:8: positional argument after keyword argument (help: put the positional \
             arguments first)\n2:8: keyword argument `a` repeated"
        );
    }

    #[test]
    fn comprehensions() {
        assert_eq!(ex("[f(x) for x in xs]"), "(comp (call f x) x xs)");
        assert_eq!(
            ex("[a if c else b for i in range(0, n)]"),
            "(comp (if c a b) i (call range 0 n))"
        );
        assert_eq!(ex("[[0 for j in r] for i in r]"), "(comp (comp 0 j r) i r)");
    }

    #[test]
    fn expression_spans() {
        let text = "y = f(a, b)[i].c";
        let module = parse_ok(text);
        let StmtKind::Assign { value, .. } = &module.body[0].kind else {
            panic!()
        };
        let piece = |e: &Expr| &text[e.span.start as usize..e.span.end as usize];
        assert_eq!(piece(value), "f(a, b)[i].c");
        let ExprKind::Attr(index, name) = &value.kind else {
            panic!()
        };
        assert_eq!(
            piece(index),
            "f(a, b)[i]",
            "an index spans from its value to `]`"
        );
        assert_eq!(&text[name.span.start as usize..name.span.end as usize], "c");
        let ExprKind::Index(call, _) = &index.kind else {
            panic!()
        };
        assert_eq!(
            piece(call),
            "f(a, b)",
            "a call spans from its callee to `)`"
        );
        let module = parse_ok("x = (a, b)\ny = -a\nz = a, b\n");
        let spans: Vec<_> = module
            .body
            .iter()
            .map(|st| match &st.kind {
                StmtKind::Assign { value, .. } => {
                    piece_of(&module, value, "x = (a, b)\ny = -a\nz = a, b\n")
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(spans, ["(a, b)", "-a", "a, b"]);
    }

    fn piece_of<'t>(_: &Module, e: &Expr, text: &'t str) -> &'t str {
        &text[e.span.start as usize..e.span.end as usize]
    }

    // ---- statements ----

    #[test]
    fn assignments() {
        assert_eq!(tree("x = 1"), "(= x 1)");
        assert_eq!(tree("q, r = f(a)"), "(= (tuple q r) (call f a))");
        assert_eq!(tree("a, b = b, a"), "(= (tuple a b) (tuple b a))");
        assert_eq!(tree("t = 1,"), "(= t (tuple 1))");
        assert_eq!(tree("a[i][j] = v"), "(= ([] ([] a i) j) v)");
        assert_eq!(
            tree("x += 1\nx -= 1\nx *= 2\nx &= m\nx |= m\na[i] ^= b\n"),
            "(+= x 1)\n(-= x 1)\n(*= x 2)\n(&= x m)\n(|= x m)\n(^= ([] a i) b)"
        );
        assert_eq!(tree("output(x)"), "(call output x)");
    }

    #[test]
    fn simple_statements() {
        assert_eq!(
            tree("pass\nreturn\nreturn x\nreturn a, b\n"),
            "pass\n(return)\n(return x)\n(return (tuple a b))"
        );
        assert_eq!(
            tree("import stats\nimport sort as s\nfrom sort import sort\nfrom m import a as b, c\n"),
            "(import stats)\n(import sort as s)\n(from sort import sort)\n(from m import a as b, c)"
        );
        assert_eq!(
            tree("from m import (\n    a,\n    b as c,\n)\n"),
            "(from m import a, b as c)"
        );
    }

    #[test]
    fn if_elif_else() {
        let text = "if a:\n    x = 1\nelif b:\n    x = 2\nelif c: pass\nelse:\n    x = 3\n    y = 4\nz = 5";
        assert_eq!(
            tree(text),
            "(if a {(= x 1)} b {(= x 2)} c {pass} else {(= x 3); (= y 4)})\n(= z 5)"
        );
        assert_eq!(tree("if a: pass\n"), "(if a {pass})");
        assert_eq!(
            tree("if a:\n  if b:\n    x\n  else:\n    y\n"),
            "(if a {(if b {x} else {y})})"
        );
        // The statement spans the header through its last block, not the final newline.
        let module = parse_ok(text);
        let span = module.body[0].span;
        assert_eq!(
            &text[span.start as usize..span.end as usize],
            &text[..text.find("\nz").unwrap()]
        );
    }

    #[test]
    fn loops() {
        assert_eq!(
            tree("for i in range(n):\n    s += a[i]\nwhile i < 10:\n    i += 1\n"),
            "(for i (call range n) {(+= s ([] a i))})\n(while (< i 10) {(+= i 1)})"
        );
    }

    #[test]
    fn function_definitions() {
        let text = "def f(a: sint, b, c: sint[N],) -> (sint, sbool):\n    # body\n    return a, b\n\nx = 1\n";
        assert_eq!(
            tree(text),
            "(def f(a: sint, b, c: ([] sint N)) -> (tuple sint sbool) {(return (tuple a b))})\n(= x 1)"
        );
        assert_eq!(tree("def g():\n    pass\n"), "(def g() {pass})");
        let module = parse_ok(text);
        let StmtKind::Def(def) = &module.body[0].kind else {
            panic!()
        };
        assert_eq!(def.span, module.body[0].span);
        assert_eq!(
            &text[def.span.start as usize..def.span.end as usize],
            &text[..text.find("\n\nx").unwrap()]
        );
    }

    #[test]
    fn layout_edge_cases() {
        assert_eq!(tree(""), "");
        assert_eq!(tree("# only comments\n\n"), "");
        assert_eq!(tree("x = 1"), "(= x 1)", "no final newline");
        assert_eq!(
            tree("x = [1,\n  2,\n    3]\ny = (a\n+ b)\n"),
            "(= x (list 1 2 3))\n(= y (+ a b))"
        );
        assert_eq!(
            tree("def f(a):\n    if a:\n        return 1\nx = f(1)"),
            "(def f(a) {(if a {(return 1)})})\n(= x (call f 1))"
        );
    }

    // ---- errors ----

    #[test]
    fn several_syntax_errors_in_one_run() {
        let text = "x = 1 +\ny = 2\nz = (3 4)\nif a b:\n    w = 1\nv = = 2\nok = 1\n";
        assert_eq!(
            errors(text),
            "1:8: unexpected end of line (expected an expression)\n\
             3:8: unexpected `4` (expected an operator, `(`, `)`, `[`, `,` or `.`)\n\
             4:6: unexpected `b` (expected an operator, `(`, `[`, `:` or `.`)\n\
             6:5: unexpected `=` (expected an expression)"
        );
    }

    #[test]
    fn errors_inside_blocks_recover_in_the_block() {
        let text = "def f(a):\n    x = )\n    return a\ny = f(1\n, 2)\n";
        assert_eq!(errors(text), "2:9: unexpected `)` (expected an expression)");
    }

    #[test]
    fn indentation_errors() {
        assert_eq!(
            errors("x = 1\n    y = 2\nz = 3\n"),
            "2:1: unexpected indentation (help: only the lines of a block after a `:` are indented)"
        );
        assert_eq!(
            errors("  x = 1\n"),
            "1:1: unexpected indentation (help: only the lines of a block after a `:` are indented)"
        );
        assert_eq!(
            errors("if x:\ny = 1\n"),
            "2:1: expected an indented block after `:`"
        );
        assert_eq!(
            errors("def f():\n"),
            "1:9: expected an indented block after `:`"
        );
        assert_eq!(
            errors("if x:\n    a\n  b\nc = )\n"),
            "3:1: unindent does not match any outer indentation level\n\
             4:5: unexpected `)` (expected an expression)"
        );
        assert_eq!(
            errors("if x:\n\ty = 1\n"),
            "2:1: tab in indentation (help: indent with spaces)"
        );
    }

    #[test]
    fn unclosed_brackets() {
        let text = "x = 1\ny = f(a,\n      [1, 2)\nz = 3\n";
        let diags = parse(FileId(0), text).unwrap_err();
        assert_eq!(errors_of(text, &diags), "2:6: unclosed `(`");
        assert_eq!(diags[0].secondary[0].span.start as usize, text.len());
        assert_eq!(errors("f(\n"), "1:2: unclosed `(`");
        assert_eq!(errors("x = [1,\n"), "1:5: unclosed `[`");
        // An error before the bracket, or on its line, is still reported.
        assert_eq!(
            errors("f(1 2\n"),
            "1:2: unclosed `(`\n1:5: unexpected `2` (expected an operator, `(`, `)`, `[`, `,` or `.`)"
        );
        assert_eq!(
            errors("x = = (\n"),
            "1:5: unexpected `=` (expected an expression)\n1:7: unclosed `(`"
        );
    }

    #[test]
    fn unexpected_end_of_file() {
        assert_eq!(
            errors("x = 1 if y"),
            "1:11: unexpected end of line (expected `else` or `or`)"
        );
    }

    #[test]
    fn lex_errors_are_reported_with_syntax_errors() {
        let text = "x = $\ny = 99999999999999999999\nz = \"abc\nw = (1 2)\n";
        assert_eq!(
            errors(text),
            "1:5: unexpected character `$`\n\
             2:5: integer literal too large (help: integer literals must fit in 64 bits)\n\
             3:5: unterminated string literal (help: close the string with `\"` on the same line)\n\
             4:8: unexpected `2` (expected an operator, `(`, `)`, `[`, `,` or `.`)"
        );
    }

    #[test]
    fn rendered_diagnostic() {
        let text = "def f(a):\n    return a +\n";
        let mut sources = SourceMap::default();
        let file = sources.add("prog.mpc", None, text.to_string());
        let diags = parse(file, text).unwrap_err();
        insta::assert_snapshot!(crate::diagnostics::render(&sources, &diags), @r"
        error: unexpected end of line
          ┌─ prog.mpc:2:15
          │
        2 │     return a +
          │               ^
          │
          = expected an expression
        ");
    }

    // ---- robustness ----

    #[test]
    fn garbage_never_panics() {
        let mut inputs: Vec<String> = [
            "",
            "(",
            ")",
            "[",
            "]",
            "(((",
            ")))",
            "([)]",
            "\n\n)",
            "  ",
            "\t",
            "\u{feff}x",
            "x\n  y\n z\n",
            "if:\n",
            "def",
            "def f(",
            "def f(a:",
            "for in:",
            "else:",
            "elif x:",
            "  \n    \n",
            "x = \"",
            "\"\\",
            "é = 1",
            "\r",
            "\r\n  x",
            "x\r",
            "0x",
            "1e",
            ".",
            "...",
            "x = (\n  if a:\n",
            "return return",
            "from import",
            "import",
            "a[",
            "a[:",
            "a[::]",
            "f(a=)",
            "f(=1)",
            "lambda x: x",
            "x = y = z",
            "@",
            "a if b",
            "not",
            "-",
            "**",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A deterministic pseudo-random byte soup over the language's characters.
        let alphabet = b"()[]:,.=+-*/%<>!&|^~#\"\\ \t\n\r0123456789abxyz_ifdefrnw";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in [10, 50, 200, 1000] {
            for _ in 0..50 {
                let s: String = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize] as char
                    })
                    .collect();
                inputs.push(s);
            }
        }
        inputs.push("x = ".to_string() + &"a".repeat(100_000));
        inputs.push(format!("x = f({})", "1, ".repeat(20_000)));
        for input in &inputs {
            if let Err(diags) = parse(FileId(0), input) {
                assert!(!diags.is_empty());
                for d in &diags {
                    assert!(
                        d.primary.span.end as usize <= input.len(),
                        "{input:?}: {d:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn pathological_nesting_is_an_error_not_a_crash() {
        // Each of these would be a tree far deeper than a recursive pass (or `drop`) can
        // walk on a test thread's stack.
        let deep = [
            format!("x = {}1", "-".repeat(50_000)),
            format!("x = {}", ["1"; 50_000].join(" + ")),
            format!("x = {}", ["1"; 50_000].join(" < ")),
            format!("x = {}1{}", "[".repeat(50_000), "]".repeat(50_000)),
            format!("x = a{}", ".b".repeat(50_000)),
        ];
        for text in &deep {
            let msg = errors(text);
            assert!(
                msg.contains("1:5: expression nested too deeply"),
                "{}",
                shorten(&msg)
            );
        }
        // An error after a deep prefix: recovery drops what was built so far.
        assert_eq!(
            errors(&format!("x = ({} $)", ["1"; 50_000].join(" + "))),
            "1:200004: unexpected character `$`"
        );
        // Parentheses only group, so they do not nest the tree.
        let parens = format!("x = {}1{}", "(".repeat(50_000), ")".repeat(50_000));
        assert_eq!(tree(&parens), "(= x 1)");
        // Just under the limit is fine.
        let ok = format!("x = {}1", "-".repeat(MAX_EXPR_DEPTH as usize - 1));
        assert!(parse(FileId(0), &ok).is_ok());
        let over = format!("x = {}1", "-".repeat(MAX_EXPR_DEPTH as usize));
        assert!(parse(FileId(0), &over).is_err());

        let mut blocks = String::new();
        for level in 0..150 {
            blocks += &format!("{}if x:\n", " ".repeat(level));
        }
        blocks += &format!("{}pass\n", " ".repeat(150));
        assert!(errors(&blocks).contains("too many levels of indentation"));
    }
}
