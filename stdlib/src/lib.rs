//! The `.mpc` standard library, embedded in `mpcc`. `import NAME` finds `NAME.mpc` here
//! when no file of that name sits next to the importing program.

/// Every module: its name and source text.
pub const MODULES: &[(&str, &str)] = &[
    ("stats", include_str!("../stats.mpc")),
    ("sort", include_str!("../sort.mpc")),
    ("aes", include_str!("../aes.mpc")),
    ("sha256", include_str!("../sha256.mpc")),
];

/// The source of module `name`, if the standard library has it.
pub fn source(name: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
