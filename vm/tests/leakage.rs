//! Does what a party receives depend on another party's secret input? Under rep3 it must
//! not: party 1's view of a run in which it learns no output is simulatable without
//! party 0's input, so its received bytes are distributed the same whatever that input.
//!
//! The test runs a small program (multiplication, `<`, `==`, a select) many times with
//! each of two secret inputs of party 0, records every byte party 1 receives (key
//! set-up, input sharing, every round; the outputs go to party 0 only, so the final
//! opening sends party 1 nothing), and compares the two samples:
//! - the transcripts' lengths must be equal (sizes may depend on the program only);
//! - a two-sample chi-square test on the histograms of byte values;
//! - a two-sample test of the mean of all bytes, of the mean at each byte position, and
//!   of the frequency of each bit at each position (Bonferroni-corrected over the
//!   positions and bits).
//!
//! A test fails only at p < 1e-6, so it is not flaky; the unit tests at the bottom show
//! that a transcript that leaks the input, or just one bit of a comparison, fails it.

use std::thread;

use mpc_compiler::{compile_str, Options};
use mpc_vm::net::local::{local_mesh, LocalTransport};
use mpc_vm::{run_party, ProtocolKind, Transport, VmError};
use rand_chacha::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};

/// Party 0's secret `a` meets party 1's `b`; party 0 alone learns the results.
const PROGRAM: &str = "\
a = input(sint, party=0)
b = input(sint, party=1)
p = a * b
lt = a < b
eq = a == b
output(p if lt else b, to=0, name=\"r\")
output(eq, to=0, name=\"e\")
";

/// Party 1's input, the same in every run.
const B: u64 = 1000;
/// The two secret inputs of party 0: below `b`, and equal to it (so `lt` and `eq` both
/// differ between them).
const A_LOW: u64 = 7;
const A_EQUAL: u64 = B;

const RUNS: usize = 400;

/// The significance level below which the distributions are called different.
const ALPHA: f64 = 1e-6;

/// A transport that records every message its party receives.
struct Recording {
    inner: LocalTransport,
    received: Vec<u8>,
}

impl Transport for Recording {
    fn party(&self) -> u32 {
        self.inner.party()
    }

    fn parties(&self) -> u32 {
        self.inner.parties()
    }

    fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
        let incoming = self.inner.exchange(outgoing)?;
        for message in &incoming {
            self.received.extend_from_slice(message);
        }
        Ok(incoming)
    }
}

/// One run of the program under rep3; returns the bytes party 1 received.
fn party_1_view(program: &mpc_bytecode::Program, a: u64) -> Vec<u8> {
    let inputs = [vec![a], vec![B], vec![]];
    let views: Vec<Vec<u8>> = thread::scope(|scope| {
        let workers: Vec<_> = local_mesh(3)
            .into_iter()
            .zip(&inputs)
            .map(|(inner, mine)| {
                scope.spawn(move || {
                    let mut t = Recording {
                        inner,
                        received: Vec::new(),
                    };
                    run_party(program, ProtocolKind::Rep3, &mut t, mine).expect("the run works");
                    t.received
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    views.into_iter().nth(1).unwrap()
}

/// The upper tail of the standard normal distribution, `P(Z > z)`, via `erfc`
/// (Numerical Recipes' `erfcc`: relative error below 1.2e-7 everywhere).
fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

/// The two-sided p-value of a standard normal statistic.
fn two_sided(z: f64) -> f64 {
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// `P(X > x)` for a chi-square variable with `df` degrees of freedom, by the
/// Wilson-Hilferty normal approximation (good to a few percent of p at these sizes).
fn chi_square_sf(x: f64, df: f64) -> f64 {
    let v = 2.0 / (9.0 * df);
    normal_sf(((x / df).cbrt() - (1.0 - v)) / v.sqrt())
}

/// What [`compare`] found: the smallest p-value of each test.
#[derive(Debug)]
struct Verdict {
    chi_square_p: f64,
    mean_p: f64,
    /// The smallest per-position p-value of the mean times the number of positions
    /// (Bonferroni).
    position_p: f64,
    /// The same for the frequency of each bit at each position.
    bit_p: f64,
}

impl Verdict {
    fn alike(&self) -> bool {
        [self.chi_square_p, self.mean_p, self.position_p, self.bit_p]
            .iter()
            .all(|&p| p >= ALPHA)
    }
}

/// Compares two samples of transcripts (each a list of equally long byte strings).
fn compare(xs: &[Vec<u8>], ys: &[Vec<u8>]) -> Verdict {
    let len = xs[0].len();
    assert!(
        xs.iter().chain(ys).all(|t| t.len() == len),
        "transcript lengths differ: message sizes depend on a secret input"
    );
    // Chi-square test of homogeneity of the byte-value histograms. Rare values are
    // pooled into one bin, so that every bin's expected count is large enough.
    let histogram = |ts: &[Vec<u8>]| {
        let mut h = [0f64; 256];
        ts.iter().flatten().for_each(|&b| h[usize::from(b)] += 1.0);
        h
    };
    let (hx, hy) = (histogram(xs), histogram(ys));
    let (nx, ny): (f64, f64) = (hx.iter().sum(), hy.iter().sum());
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let mut rare = (0.0, 0.0);
    for (&a, &b) in hx.iter().zip(&hy) {
        if a + b >= 20.0 {
            bins.push((a, b));
        } else {
            rare = (rare.0 + a, rare.1 + b);
        }
    }
    if rare.0 + rare.1 > 0.0 {
        bins.push(rare);
    }
    let statistic: f64 = bins
        .iter()
        .map(|&(a, b)| {
            let d = a * (ny / nx).sqrt() - b * (nx / ny).sqrt();
            d * d / (a + b)
        })
        .sum();
    let chi_square_p = if bins.len() < 2 {
        1.0
    } else {
        chi_square_sf(statistic, (bins.len() - 1) as f64)
    };

    // Mean of all bytes, and per position.
    let mean_var = |values: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = values.collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (mean, var, n)
    };
    let z = |(m1, v1, n1): (f64, f64, f64), (m2, v2, n2): (f64, f64, f64)| {
        let se = (v1 / n1 + v2 / n2).sqrt();
        if se == 0.0 {
            // Both constant: alike only if equal.
            if m1 == m2 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (m1 - m2) / se
        }
    };
    let all = |ts: &[Vec<u8>]| mean_var(&mut ts.iter().flatten().map(|&b| f64::from(b)));
    let mean_p = two_sided(z(all(xs), all(ys)));
    let at = |ts: &[Vec<u8>], i: usize| mean_var(&mut ts.iter().map(|t| f64::from(t[i])));
    let min_p = (0..len)
        .map(|i| two_sided(z(at(xs, i), at(ys, i))))
        .fold(1.0, f64::min);
    // Each bit at each position: a bit is a 0/1 value, so the same test of means is the
    // two-proportion test.
    let bit = |ts: &[Vec<u8>], i: usize, k: usize| {
        mean_var(&mut ts.iter().map(|t| f64::from((t[i] >> k) & 1)))
    };
    let min_bit_p = (0..len)
        .flat_map(|i| (0..8).map(move |k| (i, k)))
        .map(|(i, k)| two_sided(z(bit(xs, i, k), bit(ys, i, k))))
        .fold(1.0, f64::min);
    Verdict {
        chi_square_p,
        mean_p,
        position_p: (min_p * len as f64).min(1.0),
        bit_p: (min_bit_p * (8 * len) as f64).min(1.0),
    }
}

#[test]
fn what_party_1_receives_does_not_depend_on_party_0s_input() {
    let program = compile_str("leak.mpc", PROGRAM, &Options::default())
        .unwrap_or_else(|e| panic!("{}", e.render()))
        .program;
    let low: Vec<Vec<u8>> = (0..RUNS).map(|_| party_1_view(&program, A_LOW)).collect();
    let equal: Vec<Vec<u8>> = (0..RUNS).map(|_| party_1_view(&program, A_EQUAL)).collect();
    assert!(
        low[0].len() >= 64,
        "party 1 should receive a real transcript"
    );
    let verdict = compare(&low, &equal);
    eprintln!("{} bytes a run: {verdict:?}", low[0].len());
    assert!(
        verdict.alike(),
        "party 1's view depends on party 0's input: {verdict:?}"
    );
}

/// Transcripts of a fake protocol: `prefix(input)` followed by 120 random bytes.
fn fake_transcripts(seed: u64, input: u64, prefix: fn(u64) -> Vec<u8>) -> Vec<Vec<u8>> {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    (0..RUNS)
        .map(|_| {
            let mut t = prefix(input);
            let mut noise = [0u8; 120];
            rng.fill_bytes(&mut noise);
            t.extend_from_slice(&noise);
            t
        })
        .collect()
}

#[test]
fn a_transcript_with_the_input_in_the_clear_is_caught() {
    let leaky = |a: u64| a.to_le_bytes().to_vec();
    let verdict = compare(
        &fake_transcripts(1, A_LOW, leaky),
        &fake_transcripts(2, A_EQUAL, leaky),
    );
    assert!(!verdict.alike(), "{verdict:?}");
}

#[test]
fn a_transcript_leaking_one_comparison_bit_is_caught() {
    // One byte is random except its low bit, which is `a < b`: the byte's histogram and
    // mean barely move, but the bit test at its position sees it.
    let mut rng = ChaCha12Rng::seed_from_u64(3);
    let mut sample = |a: u64| -> Vec<Vec<u8>> {
        (0..RUNS)
            .map(|_| {
                let mut t = vec![0u8; 121];
                rng.fill_bytes(&mut t);
                t[17] = (t[17] & 0xfe) | u8::from(a < B);
                t
            })
            .collect()
    };
    let (low, equal) = (sample(A_LOW), sample(A_EQUAL));
    let verdict = compare(&low, &equal);
    assert!(!verdict.alike(), "{verdict:?}");
    assert!(verdict.bit_p < ALPHA, "{verdict:?}");
}

#[test]
fn two_samples_of_one_distribution_are_alike() {
    let nothing = |_| Vec::new();
    let verdict = compare(
        &fake_transcripts(4, A_LOW, nothing),
        &fake_transcripts(5, A_EQUAL, nothing),
    );
    assert!(verdict.alike(), "{verdict:?}");
}
