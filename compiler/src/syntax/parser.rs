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
                    // Everything after an unclosed bracket is read as part of it, so an
                    // error there is most likely a consequence: report the bracket.
                    let after_opener = match &e {
                        ParseError::UnrecognizedToken { token: (lo, ..), .. }
                        | ParseError::ExtraToken { token: (lo, ..) } => *lo >= opener.end,
                        _ => true,
                    };
                    if !after_opener {
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
    let indented_block = "expected an indented block after `:`";
    let d = match error {
        ParseError::UnrecognizedToken { token: (_, Tok::Error, _), .. }
        | ParseError::ExtraToken { token: (_, Tok::Error, _) } => return None,
        ParseError::UnrecognizedToken { token: (lo, Tok::Indent, hi), .. }
        | ParseError::ExtraToken { token: (lo, Tok::Indent, hi) } => {
            unexpected_indent(span(file, *lo, *hi))
        }
        ParseError::UnrecognizedToken { token: (lo, _, hi), expected }
            if is_only_indent(expected) =>
        {
            Diagnostic::error(indented_block, span(file, *lo, *hi))
                .with_label("this line should be indented")
        }
        ParseError::UnrecognizedToken { token: (lo, tok, hi), expected } => {
            let d = Diagnostic::error(format!("unexpected {}", describe(tok)), span(file, *lo, *hi));
            with_expected(d, expected)
        }
        ParseError::UnrecognizedEof { location, expected } if is_only_indent(expected) => {
            Diagnostic::error(indented_block, span(file, *location, *location))
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let d = Diagnostic::error("unexpected end of file", span(file, *location, *location));
            with_expected(d, expected)
        }
        ParseError::ExtraToken { token: (lo, tok, hi) } => {
            Diagnostic::error(format!("unexpected {}", describe(tok)), span(file, *lo, *hi))
        }
        ParseError::InvalidToken { location } => {
            Diagnostic::error("invalid token", span(file, *location, *location))
        }
        // Not produced: `parse` hands lex errors to the parser as `Tok::Error`.
        ParseError::User { error } => {
            Diagnostic::error(error.kind.message(), span(file, error.span.start, error.span.end))
        }
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
    "NAME", "INT", "FIX", "STRING", "\"True\"", "\"False\"", "\"(\"", "\"[\"", "\"-\"", "\"+\"",
    "\"~\"", "\"not\"",
];

/// Terminals that continue an expression or assign to it: listed as "an operator".
const OPERATORS: [&str; 27] = [
    "\"+\"", "\"-\"", "\"*\"", "\"**\"", "\"/\"", "\"//\"", "\"%\"", "\"&\"", "\"|\"", "\"^\"",
    "\"<<\"", "\">>\"", "\"==\"", "\"!=\"", "\"<\"", "\"<=\"", "\">\"", "\">=\"", "\"and\"",
    "\"or\"", "\"+=\"", "\"-=\"", "\"*=\"", "\"&=\"", "\"|=\"", "\"^=\"", "\"if\"",
];

/// Adds "expected ..." as a note, naming groups rather than listing dozens of tokens.
fn with_expected(mut d: Diagnostic, expected: &[String]) -> Diagnostic {
    let has = |t: &str| expected.iter().any(|e| e == t);
    let expression = has("NAME") && has("INT") && has("\"(\"");
    let operator = has("\"*\"") && has("\"==\"");
    let mut items: Vec<String> = Vec::new();
    if expression {
        items.push("an expression".into());
    }
    if operator {
        items.push("an operator".into());
    }
    for e in expected {
        let grouped = (expression && EXPR_START.contains(&e.as_str()))
            || (operator && OPERATORS.contains(&e.as_str()));
        if grouped || e == "LEXERROR" {
            continue;
        }
        let item = match e.as_str() {
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
        [a, b] => format!("expected {a} or {b}"),
        many if many.len() <= SHOWN => format!("expected one of {}", many.join(", ")),
        many => format!("expected one of {}, ...", many[..SHOWN].join(", ")),
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
    body.last().map_or(start, |s| s.span.end as usize).max(start)
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
            Diagnostic::error("expression nested too deeply", e.expr.span)
                .with_help(format!("split it up; at most {MAX_EXPR_DEPTH} levels are allowed")),
        );
    }
    e.expr
}

/// A node over children whose deepest has depth `depth - 1`.
fn node(kind: ExprKind, span: Span, depth: u32) -> Deep {
    if depth > MAX_EXPR_DEPTH {
        // `kind` is at most one level over the limit: dropping it recurses boundedly.
        return Deep { expr: Expr { kind: ExprKind::Tuple(vec![]), span }, depth: MAX_EXPR_DEPTH + 1 };
    }
    Deep { expr: Expr { kind, span }, depth }
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
    node(ExprKind::ListComp { elt: Box::new(elt.expr), var, iter: Box::new(iter.expr) }, span, depth)
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
    node(ExprKind::Logic(op, Box::new(l.expr), Box::new(r.expr)), span, depth)
}

fn binary(op: BinOp, l: Deep, r: Deep) -> Deep {
    let depth = deepest([&l, &r]) + 1;
    let span = l.expr.span.to(r.expr.span);
    node(ExprKind::Binary(op, Box::new(l.expr), Box::new(r.expr)), span, depth)
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
        let next_left = (i + 1 < last)
            .then(|| Deep { expr: right.expr.clone(), depth: right.depth });
        let depth = deepest([&left, &right]) + 1;
        let span = left.expr.span.to(right.expr.span);
        let cmp = node(ExprKind::Compare(op, Box::new(left.expr), Box::new(right.expr)), span, depth);
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
                        Diagnostic::error("positional argument after keyword argument", e.expr.span)
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
                        Diagnostic::error(format!("keyword argument `{}` repeated", name.name), name.span)
                            .with_secondary(first.span, "first given here"),
                    );
                }
                depth = depth.max(e.depth);
                keywords.push((name, e.expr));
            }
        }
    }
    let span = span(file, f.expr.span.start as usize, hi);
    let kind = ExprKind::Call { func: Box::new(f.expr), args: positional, kwargs: keywords };
    node(kind, span, depth + 1)
}

fn index(file: FileId, value: Deep, i: Deep, hi: usize) -> Deep {
    let depth = deepest([&value, &i]) + 1;
    let span = span(file, value.expr.span.start as usize, hi);
    node(ExprKind::Index(Box::new(value.expr), Box::new(i.expr)), span, depth)
}

fn slice(file: FileId, value: Deep, lo: Option<Deep>, hi: Option<Deep>, end: usize) -> Deep {
    let depth = deepest([Some(&value), lo.as_ref(), hi.as_ref()].into_iter().flatten()) + 1;
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
    node(ExprKind::Attr(Box::new(value.expr), name), span, value.depth + 1)
}

