//! Helpers for the `mpcc` end-to-end tests: run the binary in a scratch folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `mpcc` with `args` in `dir`.
pub fn mpcc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpcc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mpcc runs")
}

/// A fresh folder holding the given files.
pub fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mpcc-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write");
    }
    dir
}

/// What the command printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the command printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
