//! Compiler diagnostics: our own plain-data type, rendered with codespan-reporting in
//! one place ([`render`]), without colour, so the text is the same on a terminal, in a
//! file and in snapshot tests.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

use crate::source::{SourceMap, Span};

/// How serious a diagnostic is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The program is accepted.
    Warning,
    /// The program is rejected.
    Error,
    /// The compiler broke an invariant of its own.
    Bug,
}

/// A span with a short message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What, in a few words (may be empty).
    pub message: String,
}

/// One message about the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious.
    pub severity: Severity,
    /// The headline: lower case, no final period, types in backticks.
    pub message: String,
    /// The place the message is about.
    pub primary: Label,
    /// Related places.
    pub secondary: Vec<Label>,
    /// What to do about it (`help: ...`) and other notes.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// An internal error: says it is a compiler bug.
    pub fn bug(message: impl Into<String>, span: Span) -> Self {
        let mut d = Diagnostic::error(message, span);
        d.severity = Severity::Bug;
        d.notes
            .push("this is a bug in mpcc; please report it with the program".into());
        d
    }

    /// Sets the label under the primary span.
    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// Adds a related place.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a `help:` note saying what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.notes.push(format!("help: {}", help.into()));
        self
    }
}

/// Renders diagnostics sorted by place, as `error: ...` followed by
/// `┌─ file.mpc:LINE:COL`, the source line and a marker under the span.
pub fn render(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut files = SimpleFiles::new();
    for f in sources.files() {
        files.add(f.name.clone(), f.text.clone());
    }
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| {
        (
            d.primary.span.file,
            d.primary.span.start,
            d.primary.span.end,
        )
    });
    let config = term::Config::default();
    let mut out = String::new();
    for d in sorted {
        let severity = match d.severity {
            Severity::Warning => codespan_reporting::diagnostic::Severity::Warning,
            Severity::Error => codespan_reporting::diagnostic::Severity::Error,
            Severity::Bug => codespan_reporting::diagnostic::Severity::Bug,
        };
        let label = |style: fn(usize, std::ops::Range<usize>) -> CsLabel<usize>, l: &Label| {
            style(
                l.span.file.0 as usize,
                l.span.start as usize..l.span.end as usize,
            )
            .with_message(l.message.clone())
        };
        let labels = std::iter::once(label(CsLabel::primary, &d.primary))
            .chain(d.secondary.iter().map(|l| label(CsLabel::secondary, l)))
            .collect();
        let cs = CsDiagnostic::new(severity)
            .with_message(d.message.clone())
            .with_labels(labels)
            .with_notes(d.notes.clone());
        // Writing into a memory buffer cannot fail; a span outside its file would be a bug
        // of ours, and is rendered without its snippet rather than lost.
        if term::emit_to_string(&mut out, &config, &files, &cs).is_err() {
            let (line, col) = sources.line_col(d.primary.span.file, d.primary.span.start);
            let name = &sources.get(d.primary.span.file).name;
            out.push_str(&format!("error: {}\n  at {name}:{line}:{col}\n", d.message));
        }
    }
    out
}
