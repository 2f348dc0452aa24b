//! Programs that must be rejected. Each `tests/errors/NAME.mpc` marks its expected errors
//! with comment lines `#   ^^^ message` whose carets sit under the offending columns of
//! the nearest code line above. The diagnostics must match exactly (place and message),
//! and their rendered text is pinned as a snapshot for review.

use std::ops::Range;

use mpc_compiler::{compile_file, CompileError, Options};

/// `(byte range, message)` of every annotation in `src`.
fn expected_diagnostics(src: &str) -> Vec<(Range<usize>, String)> {
    let (mut expected, mut offset, mut code_line_start) = (Vec::new(), 0, 0);
    for line in src.split_inclusive('\n') {
        let is_annotation = line
            .trim_start()
            .strip_prefix('#')
            .is_some_and(|rest| rest.trim_start().starts_with('^'));
        if is_annotation {
            let (first, last) = (line.find('^').unwrap_or(0), line.rfind('^').unwrap_or(0));
            let message = line[last + 1..].trim().to_string();
            expected.push((code_line_start + first..code_line_start + last + 1, message));
        } else {
            code_line_start = offset;
        }
        offset += line.len();
    }
    expected.sort_by_key(|(r, _)| (r.start, r.end));
    expected
}

#[test]
fn rejected_programs_report_exactly_the_annotated_errors() {
    insta::glob!("errors/*.mpc", |path| {
        let src = std::fs::read_to_string(path).expect("readable");
        let err = match compile_file(path, &Options::default()) {
            Ok(_) => panic!("{} compiled, but it should be rejected", path.display()),
            Err(e) => e,
        };
        let CompileError::Program(sources, diags) = &err else {
            panic!("{}: {}", path.display(), err.render());
        };
        let main = sources.files().first().expect("the program is file 0");
        assert_eq!(main.text, src);
        let mut got: Vec<(Range<usize>, String)> = diags
            .iter()
            .map(|d| {
                (
                    d.primary.span.start as usize..d.primary.span.end as usize,
                    d.message.clone(),
                )
            })
            .collect();
        got.sort_by_key(|(r, _)| (r.start, r.end));
        assert_eq!(
            got,
            expected_diagnostics(&src),
            "{}\n{}",
            path.display(),
            err.render()
        );
        // Snapshots are rendered with the file name only, so they do not depend on where
        // the repository is checked out.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        insta::assert_snapshot!(err.render().replace(&path.display().to_string(), name));
    });
}

#[test]
fn annotations_are_read_from_the_code_line_above() {
    let src = "x = 1\ny = x + z\n#       ^ undefined name `z`\n";
    assert_eq!(
        expected_diagnostics(src),
        vec![(14..15, "undefined name `z`".to_string())]
    );
}
