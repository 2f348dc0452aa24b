//! The raw tokens of LANGUAGE.md §1, lexed by logos.
//!
//! Spaces, tabs and `#` comments are skipped, but line breaks are tokens:
//! [`Tok::LineBreak`] covers one or more line breaks (so blank and comment-only lines are
//! already merged) and carries the indentation width of the last line. logos never
//! produces [`Tok::Newline`], [`Tok::Indent`] or [`Tok::Dedent`]: the
//! [`Layout`](super::layout::Layout) pass turns line breaks into those.

use std::fmt;
use std::num::IntErrorKind;
use std::ops::Range;
use std::rc::Rc;

use logos::Logos;

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};

/// A token. Spans are kept next to it (`(start, tok, end)` triples), not inside.
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(skip r"[ \t]+")]
// logos 0.16 rejects greedy `[^\n]*` unless told it is intended (the comment must not eat
// the line break, which is a token).
#[logos(skip(r"#[^\r\n]*", allow_greedy = true))]
#[logos(error = LexErrorKind)]
pub enum Tok {
    // ---- keywords ----
    /// `def`
    #[token("def")]
    Def,
    /// `return`
    #[token("return")]
    Return,
    /// `if`
    #[token("if")]
    If,
    /// `elif`
    #[token("elif")]
    Elif,
    /// `else`
    #[token("else")]
    Else,
    /// `for`
    #[token("for")]
    For,
    /// `in`
    #[token("in")]
    In,
    /// `while`
    #[token("while")]
    While,
    /// `pass`
    #[token("pass")]
    Pass,
    /// `import`
    #[token("import")]
    Import,
    /// `from`
    #[token("from")]
    From,
    /// `as`
    #[token("as")]
    As,
    /// `and`
    #[token("and")]
    And,
    /// `or`
    #[token("or")]
    Or,
    /// `not`
    #[token("not")]
    Not,
    /// `True`
    #[token("True")]
    True,
    /// `False`
    #[token("False")]
    False,

    // ---- names and literals ----
    /// An identifier that is not a keyword.
    #[regex("[A-Za-z_][A-Za-z0-9_]*", |lex| Rc::<str>::from(lex.slice()))]
    Name(Rc<str>),
    /// An integer literal: decimal, `0x` hex or `0b` binary, with `_` between digits.
    #[regex("[0-9](_?[0-9])*", |lex| int(lex.slice(), 10))]
    #[regex("0[xX](_?[0-9a-fA-F])+", |lex| int(&lex.slice()[2..], 16))]
    #[regex("0[bB](_?[01])+", |lex| int(&lex.slice()[2..], 2))]
    Int(u64),
    /// A fixed-point literal: `2.75`, `2.`, `.5`, `1e-3`, `2.5e3`.
    #[regex(r"[0-9](_?[0-9])*\.([0-9](_?[0-9])*)?([eE][+-]?[0-9]+)?", fix)]
    #[regex(r"\.[0-9](_?[0-9])*([eE][+-]?[0-9]+)?", fix)]
    #[regex(r"[0-9](_?[0-9])*[eE][+-]?[0-9]+", fix)]
    Fix(f64),
    /// A string literal without its quotes; `\"` and `\\` are unescaped, any other
    /// backslash is kept as written.
    #[token("\"", string)]
    // Python's single quotes are an error, but lexed as one piece so it is reported once.
    #[regex("'[^'\r\n]*'", single_quoted)]
    Str(Rc<str>),

    // ---- operators ----
    /// `+`
    #[token("+")]
    Plus,
    /// `-`
    #[token("-")]
    Minus,
    /// `*`
    #[token("*")]
    Star,
    /// `**`
    #[token("**")]
    StarStar,
    /// `/`
    #[token("/")]
    Slash,
    /// `//`
    #[token("//")]
    SlashSlash,
    /// `%`
    #[token("%")]
    Percent,
    /// `&`
    #[token("&")]
    Amp,
    /// `|`
    #[token("|")]
    Pipe,
    /// `^`
    #[token("^")]
    Caret,
    /// `~`
    #[token("~")]
    Tilde,
    /// `<<`
    #[token("<<")]
    Shl,
    /// `>>`
    #[token(">>")]
    Shr,
    /// `==`
    #[token("==")]
    EqEq,
    /// `!=`
    #[token("!=")]
    NotEq,
    /// `<`
    #[token("<")]
    Lt,
    /// `<=`
    #[token("<=")]
    Le,
    /// `>`
    #[token(">")]
    Gt,
    /// `>=`
    #[token(">=")]
    Ge,
    /// `=`
    #[token("=")]
    Assign,
    /// `+=`
    #[token("+=")]
    PlusEq,
    /// `-=`
    #[token("-=")]
    MinusEq,
    /// `*=`
    #[token("*=")]
    StarEq,
    /// `&=`
    #[token("&=")]
    AmpEq,
    /// `|=`
    #[token("|=")]
    PipeEq,
    /// `^=`
    #[token("^=")]
    CaretEq,
    /// `->`
    #[token("->")]
    Arrow,

    // ---- punctuation ----
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `,`
    #[token(",")]
    Comma,
    /// `:`
    #[token(":")]
    Colon,
    /// `.`
    #[token(".")]
    Dot,

    // ---- layout ----
    /// One or more line breaks plus the indentation width of the last line. Consumed by
    /// `Layout`; the parser never sees it.
    #[regex(r"(\r?\n[ \t]*)+", line_break)]
    LineBreak(u32),
    /// End of a logical line. Produced by `Layout`, never by logos.
    Newline,
    /// The indentation grew. Produced by `Layout`, never by logos.
    Indent,
    /// The indentation went back to an enclosing level. Produced by `Layout`, never by logos.
    Dedent,
    /// Stands in for text that did not lex, after its [`LexError`] was reported. The
    /// grammar accepts it nowhere, so the parser recovers at the end of the statement
    /// instead of reporting a second error for the same text.
    Error,
}

/// Parses the digits of an integer literal (prefix already removed, `_` allowed).
fn int(digits: &str, radix: u32) -> Result<u64, LexErrorKind> {
    u64::from_str_radix(&digits.replace('_', ""), radix).map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow => LexErrorKind::IntegerTooLarge,
        _ => LexErrorKind::InvalidToken,
    })
}

fn fix(lex: &mut logos::Lexer<Tok>) -> Result<f64, LexErrorKind> {
    lex.slice()
        .replace('_', "")
        .parse()
        .map_err(|_| LexErrorKind::InvalidToken)
}

/// Lexes the rest of a string literal after its opening quote. Done by hand rather than by
/// regex so that an unterminated string is reported as such (consuming the rest of the
/// line) instead of as a stray `"`.
fn string(lex: &mut logos::Lexer<Tok>) -> Result<Rc<str>, LexErrorKind> {
    let rest = lex.remainder();
    let mut value = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                lex.bump(i + 1);
                return Ok(value.into());
            }
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => value.push(e),
                Some((_, '\n' | '\r')) | None => break,
                Some((_, e)) => {
                    value.push('\\');
                    value.push(e);
                }
            },
            '\n' | '\r' => break,
            c => value.push(c),
        }
    }
    lex.bump(rest.find(['\n', '\r']).unwrap_or(rest.len()));
    Err(LexErrorKind::UnterminatedString)
}

fn single_quoted(_: &mut logos::Lexer<Tok>) -> Result<Rc<str>, LexErrorKind> {
    Err(LexErrorKind::InvalidToken)
}

fn line_break(lex: &mut logos::Lexer<Tok>) -> Result<u32, LexErrorKind> {
    let last_line = lex.slice().rsplit('\n').next().unwrap_or("");
    // The indentation of a comment-only last line, or of trailing whitespace at the end of
    // the file, is never compared with anything, so a tab there is harmless.
    let rest = lex.remainder();
    let matters = !(rest.is_empty() || rest.starts_with('#'));
    if matters && last_line.contains('\t') {
        return Err(LexErrorKind::TabInIndentation);
    }
    Ok(indent_width(last_line))
}

/// The width of an indentation. Tabs are rejected before it matters; for error recovery
/// a tab advances to the next multiple of 8, as in Python 2.
pub(crate) fn indent_width(indentation: &str) -> u32 {
    indentation.bytes().fold(0u32, |w, b| match b {
        b'\t' => (w / 8 + 1).saturating_mul(8),
        _ => w.saturating_add(1),
    })
}

impl fmt::Display for Tok {
    /// The token as written (literals re-printed from their value), or the layout token's
    /// upper-case name; used in token dumps and in "unexpected `...`" messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Name(name) => return f.write_str(name),
            Tok::Int(n) => return write!(f, "{n}"),
            Tok::Fix(x) => return write!(f, "{x:?}"),
            Tok::Str(s) => return write!(f, "\"{s}\""),
            Tok::LineBreak(width) => return write!(f, "LINEBREAK({width})"),
            Tok::Def => "def",
            Tok::Return => "return",
            Tok::If => "if",
            Tok::Elif => "elif",
            Tok::Else => "else",
            Tok::For => "for",
            Tok::In => "in",
            Tok::While => "while",
            Tok::Pass => "pass",
            Tok::Import => "import",
            Tok::From => "from",
            Tok::As => "as",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::True => "True",
            Tok::False => "False",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::StarStar => "**",
            Tok::Slash => "/",
            Tok::SlashSlash => "//",
            Tok::Percent => "%",
            Tok::Amp => "&",
            Tok::Pipe => "|",
            Tok::Caret => "^",
            Tok::Tilde => "~",
            Tok::Shl => "<<",
            Tok::Shr => ">>",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Assign => "=",
            Tok::PlusEq => "+=",
            Tok::MinusEq => "-=",
            Tok::StarEq => "*=",
            Tok::AmpEq => "&=",
            Tok::PipeEq => "|=",
            Tok::CaretEq => "^=",
            Tok::Arrow => "->",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Dot => ".",
            Tok::Newline => "NEWLINE",
            Tok::Indent => "INDENT",
            Tok::Dedent => "DEDENT",
            Tok::Error => "ERROR",
        };
        f.write_str(s)
    }
}

/// What went wrong while lexing or laying out.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum LexErrorKind {
    /// Text that starts no token (`$`, `'`, a non-ASCII letter).
    #[default]
    InvalidToken,
    /// A tab in the indentation of a line.
    TabInIndentation,
    /// An integer literal that does not fit in 64 bits.
    IntegerTooLarge,
    /// A line indented less than its block but more than the enclosing one.
    DedentToUnknownLevel,
    /// A `"` without its closing `"` on the same line.
    UnterminatedString,
    /// Blocks nested deeper than [`MAX_INDENT_LEVELS`](super::layout::MAX_INDENT_LEVELS).
    TooManyIndentLevels,
}

impl LexErrorKind {
    /// The headline, in the style of our diagnostics.
    pub fn message(self) -> &'static str {
        match self {
            LexErrorKind::InvalidToken => "invalid token",
            LexErrorKind::TabInIndentation => "tab in indentation",
            LexErrorKind::IntegerTooLarge => "integer literal too large",
            LexErrorKind::DedentToUnknownLevel => {
                "unindent does not match any outer indentation level"
            }
            LexErrorKind::UnterminatedString => "unterminated string literal",
            LexErrorKind::TooManyIndentLevels => "too many levels of indentation",
        }
    }

    /// What to do about it, if there is something short to say.
    pub fn help(self) -> Option<&'static str> {
        match self {
            LexErrorKind::InvalidToken | LexErrorKind::DedentToUnknownLevel => None,
            LexErrorKind::TabInIndentation => Some("indent with spaces"),
            LexErrorKind::IntegerTooLarge => Some("integer literals must fit in 64 bits"),
            LexErrorKind::UnterminatedString => Some("close the string with `\"` on the same line"),
            LexErrorKind::TooManyIndentLevels => Some("move the inner blocks into functions"),
        }
    }
}

/// A lexing or layout error: what, and which bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// What went wrong.
    pub kind: LexErrorKind,
    /// The offending bytes.
    pub span: Range<usize>,
}

impl LexError {
    /// The error as a diagnostic; `text` is the lexed file, used to quote the offending
    /// character of an [`LexErrorKind::InvalidToken`].
    pub fn to_diagnostic(&self, file: FileId, text: &str) -> Diagnostic {
        let span = Span::new(file, self.span.start, self.span.end);
        let d = match (self.kind, text.get(self.span.clone())) {
            (LexErrorKind::InvalidToken, Some(s)) if s.chars().count() == 1 => {
                Diagnostic::error(format!("unexpected character `{}`", printable(s)), span)
            }
            (LexErrorKind::InvalidToken, Some(s)) if !s.is_empty() => {
                Diagnostic::error(format!("invalid token `{}`", printable(s)), span)
            }
            (kind, _) => Diagnostic::error(kind.message(), span),
        };
        match (self.kind.help(), text.get(self.span.clone())) {
            (Some(help), _) => d.with_help(help),
            (None, Some(s)) if s.starts_with('\'') => {
                d.with_help("string literals use double quotes: \"...\"")
            }
            (None, Some("\\")) => {
                d.with_help("to continue a line, wrap the expression in parentheses instead")
            }
            (None, _) => d,
        }
    }
}

/// `text` with control characters escaped, so a diagnostic never prints a raw `\r`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at bytes {}..{}",
            self.kind.message(),
            self.span.start,
            self.span.end
        )?;
        if let Some(help) = self.kind.help() {
            write!(f, "; {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LexError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw logos output, one token per entry, errors as `!Kind`.
    fn lex(text: &str) -> String {
        Tok::lexer(text)
            .map(|t| match t {
                Ok(tok) => tok.to_string(),
                Err(kind) => format!("!{kind:?}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn keywords_names_and_operators() {
        assert_eq!(
            lex("def define if_ elif x_1 True Truer not notx"),
            "def define if_ elif x_1 True Truer not notx"
        );
        assert_eq!(
            Tok::lexer("define").next(),
            Some(Ok(Tok::Name("define".into()))),
            "a keyword prefix must not split a name"
        );
        assert_eq!(
            lex("+ - * ** / // % & | ^ ~ << >> == != < <= > >= = += -= *= &= |= ^= -> ( ) [ ] , : ."),
            "+ - * ** / // % & | ^ ~ << >> == != < <= > >= = += -= *= &= |= ^= -> ( ) [ ] , : ."
        );
        assert_eq!(lex("a**-b//c"), "a ** - b // c");
    }

    #[test]
    fn integer_literals() {
        let ints: Vec<_> = Tok::lexer("42 0x2a 0B101010 1_000_000 0 18446744073709551615")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ints,
            [42, 42, 42, 1_000_000, 0, u64::MAX].map(Tok::Int),
            "all radixes and separators"
        );
        assert_eq!(lex("18446744073709551616"), "!IntegerTooLarge");
        assert_eq!(lex("0x1_0000_0000_0000_0000"), "!IntegerTooLarge");
        // A doubled or trailing separator ends the literal, as in Python.
        assert_eq!(lex("1__0"), "1 __0");
    }

    #[test]
    fn fixed_point_literals() {
        let fix: Vec<_> = Tok::lexer("2.75 1e-3 2.5E+2 .5 3. 1_0.2_5")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(fix, [2.75, 1e-3, 250.0, 0.5, 3.0, 10.25].map(Tok::Fix));
        // `1e` without exponent digits is an integer followed by a name.
        assert_eq!(lex("1ex"), "1 ex");
        assert_eq!(lex("a.b"), "a . b");
    }

    #[test]
    fn string_literals() {
        assert_eq!(
            Tok::lexer(r#""avg" "a\"b\\c\n""#).collect::<Vec<_>>(),
            vec![
                Ok(Tok::Str("avg".into())),
                Ok(Tok::Str(r#"a"b\c\n"#.into()))
            ]
        );
        let mut lexer = Tok::lexer("x = \"open\ny");
        assert_eq!(lexer.nth(2), Some(Err(LexErrorKind::UnterminatedString)));
        assert_eq!(lexer.span(), 4..9, "the error covers the rest of the line");
        assert_eq!(lexer.next(), Some(Ok(Tok::LineBreak(0))));
        assert_eq!(lex("\"trailing backslash\\"), "!UnterminatedString");
    }

    #[test]
    fn comments_and_line_breaks() {
        assert_eq!(lex("a # c\n\n   # d\n  b"), "a LINEBREAK(3) LINEBREAK(2) b");
        assert_eq!(lex("a\r\n    b"), "a LINEBREAK(4) b");
        assert_eq!(lex("a\n\t b"), "a !TabInIndentation b");
        // Tabs in a line that holds only a comment, or inside a line, are fine.
        assert_eq!(lex("a\n\t# c\n b\tc"), "a LINEBREAK(8) LINEBREAK(1) b c");
    }

    #[test]
    fn invalid_characters() {
        assert_eq!(
            lex("a $ é ! b"),
            "a !InvalidToken !InvalidToken !InvalidToken b"
        );
        // An unclosed `'` is one error up to the end of its line.
        assert_eq!(lex("a 'b c\nd"), "a !InvalidToken LINEBREAK(0) d");
        let text = "x = é";
        let mut lexer = Tok::lexer(text);
        assert_eq!(lexer.nth(2), Some(Err(LexErrorKind::InvalidToken)));
        let err = LexError {
            kind: LexErrorKind::InvalidToken,
            span: lexer.span(),
        };
        assert_eq!(
            err.to_diagnostic(FileId(0), text).message,
            "unexpected character `é`"
        );
        // A Python single-quoted string is one error, with a hint.
        let text = "f(name='avg')";
        let mut lexer = Tok::lexer(text);
        assert_eq!(lexer.nth(4), Some(Err(LexErrorKind::InvalidToken)));
        assert_eq!(lexer.span(), 7..12);
        let err = LexError {
            kind: LexErrorKind::InvalidToken,
            span: lexer.span(),
        };
        let d = err.to_diagnostic(FileId(0), text);
        assert_eq!(d.message, "invalid token `'avg'`");
        assert_eq!(
            d.notes,
            ["help: string literals use double quotes: \"...\""]
        );
        // No backslash line continuations.
        let err = LexError {
            kind: LexErrorKind::InvalidToken,
            span: 6..7,
        };
        let d = err.to_diagnostic(FileId(0), "x = 1 \\\n  + 2");
        assert_eq!(d.message, "unexpected character `\\`");
        assert!(d.notes[0].contains("parentheses"), "{:?}", d.notes);
    }
}
