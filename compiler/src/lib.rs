//! `mpcc`, the compiler of the `.mpc` language: source → tokens → layout → syntax tree
//! → elaboration (checking, unrolling, inlining) → circuit → optimization → rounds →
//! bytecode.
//!
//! ```text
//! let compiled = mpc_compiler::compile_file(Path::new("prog.mpc"), &Options::default())?;
//! std::fs::write("prog.mpcb", compiled.program.encode()?)?;
//! ```

pub mod analysis;
pub mod bristol;
pub mod circuit;
pub mod diagnostics;
pub mod interp;
pub mod lower;
pub mod opt;
pub mod sema;
pub mod source;
pub mod syntax;

use std::path::Path;

use mpc_bytecode::{Header, Program};

use circuit::{Circuit, Stats};
use diagnostics::Diagnostic;
use source::{FileId, SourceMap};

/// The protocol family programs are compiled for: three-party replicated sharing. Its
/// circuits run unchanged under the clear protocol too.
pub const TARGET: &str = "rep3";

/// The version written into bytecode headers.
pub const COMPILER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How to compile.
#[derive(Clone, Debug)]
pub struct Options {
    /// Run the optimization pipeline (off: only what correctness needs).
    pub optimize: bool,
    /// Print the time each phase takes to standard error.
    pub timings: bool,
    /// Fewest rounds (the default) or fewest ANDs where the two conflict.
    pub goal: circuit::Goal,
    /// For a Bristol Fashion circuit: how many instances to evaluate side by side (see
    /// [`bristol::import_lanes`]); 1 reads the file as it is.
    pub lanes: u32,
    /// The most gates the program may unroll to, and the most loop iterations it may
    /// unroll ([`sema::elab::MAX_GATES`] unless lowered, e.g. by the fuzz targets).
    pub max_gates: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            optimize: true,
            timings: false,
            goal: circuit::Goal::Depth,
            lanes: 1,
            max_gates: sema::elab::MAX_GATES,
        }
    }
}

/// A compiled program.
pub struct Compiled {
    /// Every source file read (the program and its imports).
    pub sources: SourceMap,
    /// The optimized circuit.
    pub circuit: Circuit,
    /// The bytecode.
    pub program: Program,
}

impl Compiled {
    /// Gate counts, depth and rounds.
    pub fn stats(&self) -> Stats {
        Stats::of(&self.circuit, self.program.communication_rounds())
    }
}

/// Why a compilation failed.
#[derive(Debug)]
pub enum CompileError {
    /// The program file could not be read.
    Io(String),
    /// The program has errors; render them with [`diagnostics::render`].
    Program(SourceMap, Vec<Diagnostic>),
}

impl CompileError {
    /// The error as text for standard error.
    pub fn render(&self) -> String {
        match self {
            CompileError::Io(msg) => format!("error: {msg}\n"),
            CompileError::Program(sources, diags) => {
                let mut text = diagnostics::render(sources, diags);
                let n = diags.len();
                text.push_str(&format!(
                    "error: could not compile: {n} error{}\n",
                    if n == 1 { "" } else { "s" }
                ));
                text
            }
        }
    }
}

/// Compiles the program in the file at `path`.
pub fn compile_file(path: &Path, opts: &Options) -> Result<Compiled, CompileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CompileError::Io(format!("cannot read `{}`: {e}", path.display())))?;
    let mut sources = SourceMap::default();
    let file = sources.add(path.display().to_string(), Some(path.to_path_buf()), text);
    compile(sources, file, opts)
}

/// Compiles program text; `name` is shown in diagnostics. Imports resolve in the
/// standard library only.
pub fn compile_str(name: &str, text: &str, opts: &Options) -> Result<Compiled, CompileError> {
    let mut sources = SourceMap::default();
    let file = sources.add(name, None, text.to_string());
    compile(sources, file, opts)
}

/// Compiles the Bristol Fashion circuit in the file at `path` (see [`bristol`]): input
/// value `i` is a secret `sbool[w_i]` of party `i`, the outputs are `out0`, `out1`, …
/// The circuit runs through the same optimization passes and scheduling as a program.
pub fn compile_bristol(path: &Path, opts: &Options) -> Result<Compiled, CompileError> {
    let cannot_read = |e: &dyn std::fmt::Display| {
        CompileError::Io(format!("cannot read `{}`: {e}", path.display()))
    };
    let size = std::fs::metadata(path).map_err(|e| cannot_read(&e))?.len();
    if size > bristol::MAX_FILE_BYTES {
        let limit = bristol::MAX_FILE_BYTES;
        return Err(cannot_read(&format!(
            "{size} bytes exceed the limit of {limit}"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| cannot_read(&e))?;
    compile_bristol_str(&path.display().to_string(), text, opts)
}

/// Compiles Bristol Fashion text; `name` is shown in diagnostics.
pub fn compile_bristol_str(
    name: &str,
    text: impl Into<String>,
    opts: &Options,
) -> Result<Compiled, CompileError> {
    let mut timer = PhaseTimer::start(opts.timings);
    let mut sources = SourceMap::default();
    let file = sources.add(name, None, text.into());
    let circuit = match bristol::import_lanes(&sources, file, opts.lanes) {
        Ok(c) => c,
        Err(diags) => return Err(CompileError::Program(sources, diags)),
    };
    timer.lap("read", circuit.len());
    optimize_and_emit(sources, circuit, opts, &mut timer)
}

/// Stack for elaboration: inlining recurses once per call level (up to 10,000 deep).
const ELABORATION_STACK: usize = 1 << 30;

fn compile(sources: SourceMap, file: FileId, opts: &Options) -> Result<Compiled, CompileError> {
    let opts = opts.clone();
    let worker = std::thread::Builder::new()
        .name("mpcc-elaborate".into())
        .stack_size(ELABORATION_STACK)
        .spawn(move || compile_on_this_thread(sources, file, &opts))
        .map_err(|e| CompileError::Io(format!("cannot start the compiler thread: {e}")))?;
    worker.join().unwrap_or_else(|_| {
        Err(CompileError::Io(
            "the compiler crashed (this is a bug in mpcc)".into(),
        ))
    })
}

/// Prints how long each phase took when `--timings` asks for it.
struct PhaseTimer {
    enabled: bool,
    last: std::time::Instant,
}

impl PhaseTimer {
    fn start(enabled: bool) -> Self {
        PhaseTimer {
            enabled,
            last: std::time::Instant::now(),
        }
    }

    fn lap(&mut self, phase: &str, gates: usize) {
        if self.enabled {
            let now = std::time::Instant::now();
            eprintln!(
                "{phase:<12} {:>8.3} s  {gates} gates",
                (now - self.last).as_secs_f64()
            );
            self.last = now;
        }
    }
}

fn compile_on_this_thread(
    sources: SourceMap,
    file: FileId,
    opts: &Options,
) -> Result<Compiled, CompileError> {
    let mut timer = PhaseTimer::start(opts.timings);
    let text = sources.get(file).text.clone();
    let module = match syntax::parse(file, &text) {
        Ok(m) => m,
        Err(diags) => return Err(CompileError::Program(sources, diags)),
    };
    let (sources, circuit) =
        sema::elab::Elaborator::run_limited(sources, file, &module.body, opts.goal, opts.max_gates);
    let circuit = match circuit {
        Ok(c) => c,
        Err(diags) => return Err(CompileError::Program(sources, diags)),
    };
    timer.lap("elaborate", circuit.len());
    optimize_and_emit(sources, circuit, opts, &mut timer)
}

/// The back end shared by programs and Bristol circuits: the optimization passes, then
/// scheduling into rounds and bytecode.
fn optimize_and_emit(
    sources: SourceMap,
    circuit: Circuit,
    opts: &Options,
    timer: &mut PhaseTimer,
) -> Result<Compiled, CompileError> {
    let passes = if opts.optimize {
        opt::default_pipeline()
    } else {
        opt::minimal_pipeline()
    };
    let circuit = match opt::run_pipeline(circuit, &passes) {
        Ok(c) => c,
        Err(e) => {
            let d = Diagnostic::bug(e, Default::default());
            return Err(CompileError::Program(sources, vec![d]));
        }
    };
    timer.lap("optimize", circuit.len());
    let program = match emit(&circuit) {
        Ok(p) => p,
        Err(e) => {
            let d = Diagnostic::bug(format!("emitting bytecode: {e}"), Default::default());
            return Err(CompileError::Program(sources, vec![d]));
        }
    };
    timer.lap("emit", circuit.len());
    Ok(Compiled {
        sources,
        circuit,
        program,
    })
}

/// Schedules the circuit into rounds and builds the bytecode.
pub fn emit(c: &Circuit) -> Result<Program, mpc_bytecode::FormatError> {
    let (rounds, outputs) = opt::schedule::schedule(c);
    let header = Header::new(COMPILER_VERSION, TARGET, c.inputs.clone(), outputs);
    Program::new(header, rounds)
}
