//! Programs too large to hold decoded.
//!
//! [`StreamedProgram::open`] reads a bytecode file once, checking every round as it
//! goes, and keeps only the header and the outline (a byte per wire, and the input
//! layout): nothing is sent to another party before the whole file is known to be good.
//! While the program runs, a loader thread reads the file again and prepares each round
//! (decoding it and finding its runs) while the round before it runs. The first reading
//! keeps the SHA-256 of every stretch of about a MiB of rounds ([`BodyIndex`]), and the
//! second checks each stretch against it before decoding it, so the rounds that run are
//! the rounds that were checked, and a file that changes or goes away while it runs
//! stops the run before any output is opened.
//!
//! Memory is then the registers, the outline and two rounds, instead of the registers
//! and every round; the price is decoding the rounds during the online phase. A program
//! of 10^5 comparisons (180 MB of bytecode, 285 MB of gates decoded) runs in 500 MB
//! instead of 620 MB, and online in 1.2 to 1.6 s instead of 0.3 s.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};

use mpc_bytecode::{BodyIndex, FormatError, Header, Outline, RoundReader};

use crate::exec::{ProtocolKind, ReadyRound, VmError};

/// A bytecode file checked whole, whose rounds are read again while it runs.
#[derive(Debug)]
pub struct StreamedProgram {
    path: PathBuf,
    header: Header,
    outline: Outline,
    index: BodyIndex,
    protocol: ProtocolKind,
}

/// Why a file cannot be run streamed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file cannot be opened.
    #[error("{0}")]
    Io(std::io::Error),
    /// The file is not a valid program.
    #[error(transparent)]
    Format(FormatError),
    /// The protocol cannot run the program.
    #[error(transparent)]
    Unsupported(VmError),
}

impl StreamedProgram {
    /// Reads and checks the program at `path` for `protocol`, round by round.
    pub fn open(path: &Path, protocol: ProtocolKind) -> Result<Self, OpenError> {
        let file = File::open(path).map_err(OpenError::Io)?;
        let mut reader = RoundReader::new(file).map_err(OpenError::Format)?;
        reader.keep_index();
        let mut r = 0;
        while let Some(round) = reader.next_round().map_err(OpenError::Format)? {
            protocol
                .check_round(r, &round)
                .map_err(OpenError::Unsupported)?;
            r += 1;
        }
        let checked = reader.finish().map_err(OpenError::Format)?;
        let index = checked
            .index
            .ok_or_else(|| OpenError::Format(FormatError::Invalid("no index was kept".into())))?;
        Ok(StreamedProgram {
            path: path.to_owned(),
            header: checked.header,
            outline: checked.outline,
            index,
            protocol,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The header, letting go of the rest.
    pub fn into_header(self) -> Header {
        self.header
    }

    /// The protocol the program was checked for.
    pub fn protocol(&self) -> ProtocolKind {
        self.protocol
    }

    /// Calls `run` with the header, the outline and the rounds, which a loader thread
    /// reads while `run` consumes them.
    pub(crate) fn run<T>(
        &self,
        run: impl FnOnce(
            &Header,
            &Outline,
            &mut dyn Iterator<Item = Result<ReadyRound<'static>, VmError>>,
        ) -> T,
    ) -> T {
        std::thread::scope(|scope| {
            // A rendezvous: the loader prepares one round while another runs, so two
            // rounds are held at most.
            let (ready, rounds) = sync_channel(0);
            scope.spawn(move || {
                if let Err(e) = self.load(&ready) {
                    // The run may have ended already; then nobody needs the reason.
                    let _ = ready.send(Err(e));
                }
            });
            // `rounds` is dropped when `run` returns, which stops the loader at its
            // next round.
            let mut rounds = rounds.into_iter();
            run(&self.header, &self.outline, &mut rounds)
        })
    }

    /// Reads the file again, sending each round as it is ready; stops early when the
    /// run no longer listens.
    fn load(
        &self,
        ready: &SyncSender<Result<ReadyRound<'static>, VmError>>,
    ) -> Result<(), VmError> {
        let reread = |reason: String| VmError::Reread {
            path: self.path.display().to_string(),
            reason,
        };
        let file = File::open(&self.path).map_err(|e| reread(e.to_string()))?;
        let mut first_wire = 0;
        for round in self.index.rounds(file) {
            let round = round.map_err(|e| reread(e.to_string()))?;
            let gates = round.local.len() + round.interactive.len();
            let round = ReadyRound::new(Cow::Owned(round), first_wire, &self.outline);
            if ready.send(Ok(round)).is_err() {
                break;
            }
            first_wire += gates;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mpc_bytecode::WireId;
    use mpc_bytecode::{Domain, Gate, InputDesc, OutputDesc, Program, Round, Scalar, ValueType};

    use super::*;
    use crate::exec::{execute, run_party, run_party_reporting, Bytecode, RawOutputs};
    use crate::net::local::local_mesh;
    use crate::ClearProtocol;

    const SINT: ValueType = ValueType::Scalar(Scalar::Int {
        bits: 64,
        signed: true,
    });

    /// `steps` rounds of `acc = (acc + x) * y` on arrays of `n` from parties 0 and 1, then
    /// `acc + z` with `z` from party 2, read only in the last round. The sums go to party
    /// 0, their first element to everyone.
    fn accumulate(n: u32, steps: u32) -> Program {
        let array = ValueType::Array(Box::new(SINT), n);
        let input = |party, ty| InputDesc {
            party,
            name: format!("in{party}"),
            ty,
            public: false,
        };
        let read = |party, index| Gate::Input {
            party,
            index,
            domain: Domain::Arith,
        };
        let (x, y) = (0, n);
        let mut rounds = vec![Round {
            local: (0..n)
                .map(|i| read(0, i))
                .chain((0..n).map(|i| read(1, i)))
                .collect(),
            interactive: (0..n)
                .map(|i| Gate::Mul(WireId(x + i), WireId(y + i)))
                .collect(),
        }];
        let mut acc = 2 * n;
        for _ in 0..steps {
            let sums = acc + n;
            rounds.push(Round {
                local: (0..n)
                    .map(|i| Gate::Add(WireId(acc + i), WireId(x + i)))
                    .collect(),
                interactive: (0..n)
                    .map(|i| Gate::Mul(WireId(sums + i), WireId(y + i)))
                    .collect(),
            });
            acc = sums + n;
        }
        let z = acc + n;
        let mut last = vec![read(2, 0)];
        last.extend((0..n).map(|i| Gate::Add(WireId(acc + i), WireId(z))));
        rounds.push(Round {
            local: last,
            interactive: vec![],
        });
        let results = z + 1;
        let outputs = vec![
            OutputDesc {
                name: "sums".into(),
                ty: array.clone(),
                to: vec![0],
                wires: (results..results + n).map(WireId).collect(),
            },
            OutputDesc {
                name: "first".into(),
                ty: SINT,
                to: vec![],
                wires: vec![WireId(results)],
            },
        ];
        let inputs = vec![input(0, array.clone()), input(1, array), input(2, SINT)];
        let header = mpc_bytecode::Header::new("test", "rep3", inputs, outputs);
        Program::new(header, rounds).expect("accumulate is valid")
    }

    fn inputs(n: u32) -> Vec<Vec<u64>> {
        let xs = (0..u64::from(n))
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let ys = (0..u64::from(n)).map(|i| 3 + 2 * i).collect();
        vec![xs, ys, vec![u64::MAX - 6]]
    }

    fn write(program: &Program, test: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("mpc-vm-{}-{test}.mpcb", std::process::id()));
        std::fs::write(&path, program.encode().unwrap()).unwrap();
        path
    }

    /// Runs the three rep3 parties of `program`, streamed, in threads.
    fn run_streamed(
        program: &StreamedProgram,
        inputs: &[Vec<u64>],
    ) -> Vec<Result<RawOutputs, VmError>> {
        std::thread::scope(|scope| {
            let parties: Vec<_> = local_mesh(3)
                .into_iter()
                .zip(inputs)
                .map(|(mut transport, mine)| {
                    scope.spawn(move || {
                        let bytecode = Bytecode::Streamed(program);
                        run_party_reporting(
                            bytecode,
                            ProtocolKind::Rep3,
                            &mut transport,
                            mine,
                            &mut |_| {},
                        )
                        .map(|(raw, _)| raw)
                    })
                })
                .collect();
            parties.into_iter().map(|p| p.join().unwrap()).collect()
        })
    }

    #[test]
    fn a_streamed_program_gives_what_the_clear_evaluator_gives() {
        let (n, steps) = (10_000, 8);
        let whole = accumulate(n, steps);
        let path = write(&whole, "streamed");
        // Over a MiB: several stretches of the index.
        assert!(std::fs::metadata(&path).unwrap().len() > 1 << 20);
        let streamed = StreamedProgram::open(&path, ProtocolKind::Rep3).unwrap();
        assert_eq!(streamed.header(), &whole.header);
        let inputs = inputs(n);
        let expected =
            execute(&whole, &mut ClearProtocol::omniscient(inputs.clone()), &[]).unwrap();
        // The clear evaluator shares the executor: check it by hand too.
        let sums: Vec<u64> = (inputs[0].iter().zip(&inputs[1]))
            .map(|(&x, &y)| {
                let acc = (0..steps).fold(x.wrapping_mul(y), |acc, _| {
                    acc.wrapping_add(x).wrapping_mul(y)
                });
                acc.wrapping_add(inputs[2][0])
            })
            .collect();
        assert_eq!(expected, vec![Some(sums.clone()), Some(vec![sums[0]])]);
        let results = run_streamed(&streamed, &inputs);
        for (party, result) in results.into_iter().enumerate() {
            let raw = result.unwrap();
            // Party 0 learns both outputs, the others only the second.
            assert_eq!(raw[1], expected[1], "party {party}");
            let sums = if party == 0 {
                expected[0].clone()
            } else {
                None
            };
            assert_eq!(raw[0], sums, "party {party}");
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_that_changes_after_it_was_checked_stops_the_run() {
        let (n, steps) = (10_000, 8);
        let path = write(&accumulate(n, steps), "changed");
        let streamed = StreamedProgram::open(&path, ProtocolKind::Rep3).unwrap();
        // The same length, one byte different near the end.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let results = run_streamed(&streamed, &inputs(n));
        assert!(results.iter().all(Result::is_err));
        let reread = results
            .iter()
            .filter(|r| matches!(r, Err(VmError::Reread { .. })))
            .count();
        assert!(reread >= 1, "{results:?}");
        let message = results[0].as_ref().unwrap_err().to_string();
        assert!(message.contains("changed"), "{message}");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_program_the_protocol_cannot_run_is_refused_at_open() {
        let mut program = accumulate(4, 1);
        // A truncation: `mpcc` expands it for rep3.
        program.rounds[1].interactive[0] = Gate::Trunc(WireId(12), 16);
        let program = Program::new(program.header, program.rounds).unwrap();
        let path = write(&program, "unsupported");
        let err = StreamedProgram::open(&path, ProtocolKind::Rep3).unwrap_err();
        assert!(matches!(err, OpenError::Unsupported(_)), "{err}");
        assert!(StreamedProgram::open(&path, ProtocolKind::Clear).is_ok());
        // And whole, for the same reason.
        let mut mesh = local_mesh(3);
        let err = run_party(&program, ProtocolKind::Rep3, &mut mesh[0], &[0; 4]).unwrap_err();
        assert!(err.to_string().contains("not a rep3 operation"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
