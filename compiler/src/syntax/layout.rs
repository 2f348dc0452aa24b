//! The layout pass: turns [`Tok::LineBreak`] into `NEWLINE`, `INDENT` and `DEDENT`, so the
//! grammar sees Python's block structure as ordinary tokens (RustPython's
//! `handle_indentations`, as an iterator adapter over the logos lexer).
//!
//! Invariants: the indentation stack is never empty (its bottom is the level 0 of the
//! module) and strictly increasing; every `INDENT` is matched by exactly one `DEDENT`
//! (at EOF the open levels are closed); `NEWLINE` follows only a line that had tokens, so
//! blank and comment-only lines produce nothing. Inside `()` and `[]` line breaks are
//! ignored (implicit line joining).
//!
//! Errors are yielded in the stream as `Err` items. Layout errors (a tab in indentation,
//! a dedent to an unknown level, too many levels) are already recovered from when they
//! are yielded: the tokens around them are balanced, so the caller may just report and
//! skip them. Other lex errors stand where their text was, like a token.

use std::collections::VecDeque;
use std::ops::Range;

use logos::Logos;

use super::token::{indent_width, LexError, LexErrorKind, Tok};

/// The deepest block nesting accepted (Python's limit): deeper blocks are an error, which
/// also bounds the depth of the statement tree.
pub const MAX_INDENT_LEVELS: usize = 100;

/// A token with its byte span, as lalrpop consumes it.
pub type Spanned = (usize, Tok, usize);

/// A line break waiting for the next real token (blank and comment-only lines overwrite
/// everything but `newline`).
#[derive(Clone, Debug)]
struct HeldBreak {
    /// Where the first line break after the last real token starts: `NEWLINE` is placed
    /// there, empty, so that a diagnostic about it points at the end of the line rather
    /// than spanning two lines.
    newline: usize,
    /// The indentation of the last line: where `INDENT`s and layout errors are placed.
    indent: Range<usize>,
    /// Its width.
    width: u32,
    /// Whether that indentation has a tab (reported with the layout tokens).
    tab: bool,
}

/// Layout tokens over the logos lexer; see the module docs.
pub struct Layout<'src> {
    raw: logos::Lexer<'src, Tok>,
    queue: VecDeque<Result<Spanned, LexError>>,
    /// Open indentation levels; `levels[0] == 0` is never popped.
    levels: Vec<u32>,
    /// Open brackets, innermost last, with their spans (for "unclosed `(`").
    brackets: Vec<(&'static str, Range<usize>)>,
    held: Option<HeldBreak>,
    /// Whether a real token was emitted since the last `NEWLINE`.
    line_has_tokens: bool,
    at_eof: bool,
}

impl<'src> Layout<'src> {
    /// Lays out `text` from its first byte.
    pub fn new(text: &'src str) -> Self {
        // The first line has no line break before it to carry its indentation; an indented
        // first statement must still be an `INDENT` (which the grammar rejects as
        // "unexpected indentation"), so fake the break.
        let first = text.trim_start_matches([' ', '\t']);
        let indent = text.len() - first.len();
        let held =
            (indent > 0 && !first.is_empty() && !first.starts_with(['#', '\r', '\n'])).then(|| {
                HeldBreak {
                    newline: 0,
                    indent: 0..indent,
                    width: indent_width(&text[..indent]),
                    tab: text[..indent].contains('\t'),
                }
            });
        Layout {
            raw: Tok::lexer(text),
            queue: VecDeque::new(),
            levels: vec![0],
            brackets: Vec::new(),
            held,
            line_has_tokens: false,
            at_eof: false,
        }
    }

    /// The innermost bracket still open (`"("` or `"["`, with its span). At EOF this is the
    /// one that was never closed.
    pub fn unclosed_bracket(&self) -> Option<(&'static str, Range<usize>)> {
        self.brackets.last().cloned()
    }

    /// Holds a line break until the next real token. A later break (a blank or
    /// comment-only line) keeps the first break's position for `NEWLINE` but takes over
    /// the indentation.
    fn hold(&mut self, span: Range<usize>, width: u32, tab: bool) {
        let newline = self.held.take().map_or(span.start, |prev| prev.newline);
        let indent = span.end - self.raw.slice().rsplit('\n').next().map_or(0, str::len)..span.end;
        self.held = Some(HeldBreak {
            newline,
            indent,
            width,
            tab,
        });
    }

    /// Emits the layout tokens for a held break, now that a real token follows it.
    fn line_break(&mut self, held: HeldBreak) {
        if std::mem::take(&mut self.line_has_tokens) {
            self.queue
                .push_back(Ok((held.newline, Tok::Newline, held.newline)));
        }
        if held.tab {
            // Reported, then the tabs are taken as spaces up to the next multiple of 8.
            let span = held.indent.clone();
            self.queue.push_back(Err(LexError {
                kind: LexErrorKind::TabInIndentation,
                span,
            }));
        }
        let width = held.width;
        let top = *self
            .levels
            .last()
            .expect("the base level 0 is never popped");
        if width > top && self.levels.len() > MAX_INDENT_LEVELS {
            // Report, and treat the line as part of the innermost block, now at this width.
            self.queue.push_back(Err(LexError {
                kind: LexErrorKind::TooManyIndentLevels,
                span: held.indent,
            }));
            *self.levels.last_mut().expect("level 0 is never popped") = width;
            return;
        }
        if width > top {
            self.levels.push(width);
            self.queue
                .push_back(Ok((held.indent.start, Tok::Indent, held.indent.end)));
            return;
        }
        // DEDENTs are empty and sit where the next token starts.
        let at = held.indent.end;
        let mut dedents = 0;
        while width < *self.levels.last().expect("level 0 is never popped") {
            self.levels.pop();
            dedents += 1;
        }
        if width != *self.levels.last().expect("level 0 is never popped") {
            // Between two levels: report it, and recover by treating the line as part of
            // the innermost block we left, now at this width, so INDENT/DEDENT stay
            // balanced and the following lines at the same width are not errors too.
            self.queue.push_back(Err(LexError {
                kind: LexErrorKind::DedentToUnknownLevel,
                span: held.indent.clone(),
            }));
            self.levels.push(width);
            dedents -= 1;
        }
        for _ in 0..dedents {
            self.queue.push_back(Ok((at, Tok::Dedent, at)));
        }
    }

    /// At EOF: the last `NEWLINE` and one `DEDENT` per open level, unless a bracket is still
    /// open. Then the statement cannot end, and the parser's end-of-file error is reported
    /// as the unclosed bracket.
    fn finish(&mut self) {
        self.at_eof = true;
        if !self.brackets.is_empty() {
            return;
        }
        let end = self.raw.source().len();
        let newline = self.held.take().map_or(end, |held| held.newline);
        if self.line_has_tokens {
            self.queue.push_back(Ok((newline, Tok::Newline, newline)));
        }
        while self.levels.len() > 1 {
            self.levels.pop();
            self.queue.push_back(Ok((end, Tok::Dedent, end)));
        }
    }
}

impl Iterator for Layout<'_> {
    type Item = Result<Spanned, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.at_eof {
                return None;
            }
            let Some(raw) = self.raw.next() else {
                self.finish();
                continue;
            };
            let span = self.raw.span();
            match raw {
                // Inside brackets a line break is just whitespace (and so is its
                // indentation, tabs included).
                Ok(Tok::LineBreak(_)) | Err(LexErrorKind::TabInIndentation)
                    if !self.brackets.is_empty() => {}
                Ok(Tok::LineBreak(width)) => self.hold(span, width, false),
                Err(LexErrorKind::TabInIndentation) => {
                    let last_line = self.raw.slice().rsplit('\n').next().unwrap_or("");
                    self.hold(span, indent_width(last_line), true);
                }
                Ok(tok) => {
                    if let Some(held) = self.held.take() {
                        self.line_break(held);
                    }
                    match tok {
                        Tok::LParen => self.brackets.push(("(", span.clone())),
                        Tok::LBracket => self.brackets.push(("[", span.clone())),
                        // A mismatched closer still closes: the parser reports the mismatch.
                        Tok::RParen | Tok::RBracket => {
                            self.brackets.pop();
                        }
                        _ => {}
                    }
                    self.line_has_tokens = true;
                    self.queue.push_back(Ok((span.start, tok, span.end)));
                }
                Err(kind) => {
                    // Bad text still occupies its line, like a token.
                    if let Some(held) = self.held.take() {
                        self.line_break(held);
                    }
                    self.line_has_tokens = true;
                    self.queue.push_back(Err(LexError { kind, span }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The laid-out stream as text: tokens as written, layout tokens in capitals, errors
    /// as `!Kind@start..end`.
    fn layout(text: &str) -> String {
        Layout::new(text)
            .map(|item| match item {
                Ok((_, tok, _)) => tok.to_string(),
                Err(e) => format!("!{:?}@{}..{}", e.kind, e.span.start, e.span.end),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn spans(text: &str) -> Vec<(usize, String, usize)> {
        Layout::new(text)
            .map(|item| item.map(|(l, t, r)| (l, t.to_string(), r)).unwrap())
            .collect()
    }

    #[test]
    fn style_guide_example() {
        let text = "def f(a,\n b):\n    if a:\n\n        # c\n        x\n    y\nz";
        assert_eq!(
            layout(text),
            "def f ( a , b ) : NEWLINE INDENT if a : NEWLINE INDENT x NEWLINE DEDENT y NEWLINE \
             DEDENT z NEWLINE"
        );
    }

    #[test]
    fn brackets_span_lines() {
        let text = "x = [1,\n  2,\n\n      # comment\n3] + f(\n(a\n),\n    b)\ny\n";
        assert_eq!(
            layout(text),
            "x = [ 1 , 2 , 3 ] + f ( ( a ) , b ) NEWLINE y NEWLINE"
        );
        // Tabs inside brackets are whitespace too.
        assert_eq!(layout("f(a,\n\tb)\n"), "f ( a , b ) NEWLINE");
    }

    #[test]
    fn blank_and_comment_lines_collapse() {
        let text =
            "# header\n\n\na = 1  # trailing\n   \n  # indented comment\n\t# tab comment\nb\n\n";
        assert_eq!(layout(text), "a = 1 NEWLINE b NEWLINE");
        assert_eq!(layout(""), "");
        assert_eq!(layout("# only a comment"), "");
        assert_eq!(layout("\n\n  \n"), "");
    }

    #[test]
    fn several_levels_dedent_at_once() {
        let text = "if a:\n  if b:\n      if c:\n       x\ny\n";
        assert_eq!(
            layout(text),
            "if a : NEWLINE INDENT if b : NEWLINE INDENT if c : NEWLINE INDENT x NEWLINE \
             DEDENT DEDENT DEDENT y NEWLINE"
        );
        // The same at EOF, without a final line break.
        assert_eq!(
            layout("if a:\n  if b:\n    x"),
            "if a : NEWLINE INDENT if b : NEWLINE INDENT x NEWLINE DEDENT DEDENT"
        );
        // Back to a middle level.
        assert_eq!(
            layout("if a:\n  if b:\n    x\n  y\n"),
            "if a : NEWLINE INDENT if b : NEWLINE INDENT x NEWLINE DEDENT y NEWLINE DEDENT"
        );
    }

    #[test]
    fn token_spans() {
        let text = "if a:\r\n  x # c\n\n  y\nz";
        assert_eq!(
            spans(text),
            [
                (0, "if", 2),
                (3, "a", 4),
                (4, ":", 5),
                (5, "NEWLINE", 5),
                (7, "INDENT", 9),
                (9, "x", 10),
                (14, "NEWLINE", 14),
                (18, "y", 19),
                (19, "NEWLINE", 19),
                (20, "DEDENT", 20),
                (20, "z", 21),
                (21, "NEWLINE", 21),
            ]
            .map(|(l, t, r)| (l, t.to_string(), r))
        );
    }

    #[test]
    fn tabs_in_indentation_are_rejected() {
        assert_eq!(
            layout("if a:\n\tx\n\ty\n"),
            "if a : NEWLINE !TabInIndentation@6..7 INDENT x NEWLINE !TabInIndentation@9..10 y \
             NEWLINE DEDENT"
        );
        assert_eq!(
            layout("  \t x\n"),
            "!TabInIndentation@0..4 INDENT x NEWLINE DEDENT"
        );
    }

    #[test]
    fn dedent_to_unknown_level_is_rejected() {
        // `y` is indented less than `x` but more than `if`: the error is reported and `y`
        // (and `z`, at the same width) stay in the `if` block.
        assert_eq!(
            layout("if a:\n    x\n  y\n  z\nw\n"),
            "if a : NEWLINE INDENT x NEWLINE !DedentToUnknownLevel@12..14 y NEWLINE z NEWLINE \
             DEDENT w NEWLINE"
        );
        assert_eq!(
            layout("if a:\n  if b:\n      x\n    y\n"),
            "if a : NEWLINE INDENT if b : NEWLINE INDENT x NEWLINE !DedentToUnknownLevel@22..26 \
             y NEWLINE DEDENT DEDENT"
        );
    }

    #[test]
    fn indented_first_line() {
        assert_eq!(layout("  x\ny\n"), "INDENT x NEWLINE DEDENT y NEWLINE");
        assert_eq!(spans("  x")[0], (0, "INDENT".to_string(), 2));
        // An indented comment or blank first line is not indentation.
        assert_eq!(layout("  # c\n  \nx\n"), "x NEWLINE");
    }

    #[test]
    fn unclosed_brackets_hold_back_the_end() {
        let mut layout = Layout::new("if a:\n  x = f((1,\n  2)\n");
        let toks: Vec<_> = layout.by_ref().map(|t| t.unwrap().1.to_string()).collect();
        assert_eq!(toks.join(" "), "if a : NEWLINE INDENT x = f ( ( 1 , 2 )");
        assert_eq!(layout.unclosed_bracket(), Some(("(", 13..14)));
    }

    #[test]
    fn lex_errors_pass_through() {
        assert_eq!(layout("a $\nb"), "a !InvalidToken@2..3 NEWLINE b NEWLINE");
        assert_eq!(layout("a\n$"), "a NEWLINE !InvalidToken@2..3 NEWLINE");
    }
}
