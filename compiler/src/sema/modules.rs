//! `import`: modules are looked up next to the importing file, then in the standard
//! library embedded in `mpcc` (LANGUAGE.md §7). Each module is loaded once; a module
//! that imports itself, directly or through others, is an error naming the cycle.

use std::path::PathBuf;

use super::elab::{Elaborator, ModuleData, Scope};
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use crate::syntax;

impl Elaborator {
    /// Loads module `name` (once) and returns its id.
    pub(super) fn import(&mut self, name: &str, span: Span) -> Option<usize> {
        let importer = self.modules[self.current_module()].file;
        let dir = self
            .sources
            .get(importer)
            .path
            .as_ref()
            .and_then(|p| p.parent().map(PathBuf::from));
        let local = dir
            .map(|d| d.join(format!("{name}.mpc")))
            .filter(|p| p.is_file());
        let (key, display, path, text) = match local {
            Some(path) => {
                let key = std::fs::canonicalize(&path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string();
                match std::fs::read_to_string(&path) {
                    Ok(text) => (key, path.display().to_string(), Some(path), text),
                    Err(e) => {
                        self.error(
                            format!("cannot read module `{}`: {e}", path.display()),
                            span,
                        );
                        return None;
                    }
                }
            }
            None => match mpc_stdlib::source(name) {
                Some(text) => {
                    let display = format!("<stdlib>/{name}.mpc");
                    (display.clone(), display, None, text.to_string())
                }
                None => {
                    self.report(
                        Diagnostic::error(format!("no module named `{name}`"), span).with_help(format!(
                            "put `{name}.mpc` next to the importing file; the standard library has: {}",
                            mpc_stdlib::MODULES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        )),
                    );
                    return None;
                }
            },
        };
        if let Some(&id) = self.module_by_key.get(&key) {
            return Some(id);
        }
        if let Some(start) = self.loading.iter().position(|k| *k == key) {
            let mut cycle: Vec<&str> = self.loading[start..].iter().map(String::as_str).collect();
            cycle.push(&key);
            self.report(
                Diagnostic::error(format!("import cycle: {}", cycle.join(" → ")), span)
                    .with_help("move what both modules need into a third module"),
            );
            return None;
        }
        let file = self.sources.add(display, path, text);
        let parsed = syntax::parse(file, &self.sources.get(file).text.clone());
        let module = match parsed {
            Ok(m) => m,
            Err(diags) => {
                for d in diags {
                    self.report(d);
                }
                return None;
            }
        };
        let id = self.modules.len();
        self.modules.push(ModuleData {
            name: name.to_string(),
            file,
            globals: Scope::default(),
        });
        self.loading.push(key.clone());
        let saved_init = self.module_init.replace(name.to_string());
        let saved_conditions = std::mem::take(&mut self.secret_conditions);
        self.run_module_body(id, &module.body);
        self.secret_conditions = saved_conditions;
        self.module_init = saved_init;
        self.loading.pop();
        self.module_by_key.insert(key, id);
        Some(id)
    }
}
