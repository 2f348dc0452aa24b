//! Each pass on a small program: the IR before and after, pinned as reviewed snapshots
//! (`compiler/src/opt/snapshots/`), and the results checked equal on sample inputs.

use crate::circuit::Circuit;
use crate::source::SourceMap;
use crate::{interp, opt, sema, syntax};

/// The elaborated circuit of `text`, before any pass.
pub(super) fn elaborate(text: &str) -> Circuit {
    let mut sources = SourceMap::default();
    let file = sources.add("t.mpc", None, text.to_string());
    let module = syntax::parse(file, text).expect("parses");
    let (_, circuit) = sema::elab::Elaborator::run(sources, file, &module.body, Default::default());
    circuit.expect("compiles")
}

/// Runs `pass` on `text`'s circuit (after `before`, the passes it expects to follow),
/// checks the outputs agree on `inputs`, and returns the text for the snapshot.
fn before_and_after(
    text: &str,
    before: &[opt::Pass],
    pass: fn(Circuit) -> Circuit,
    inputs: &[Vec<u64>],
) -> String {
    let c = opt::run_pipeline(elaborate(text), before).expect("passes run");
    let after = pass(c.clone());
    after.verify().expect("valid after the pass");
    assert_eq!(
        interp::outputs(&c, inputs),
        interp::outputs(&after, inputs),
        "the pass changed a result"
    );
    format!("{}\n----- after -----\n{}", c.display(), after.display())
}

#[test]
fn boolean_io() {
    let text = "a = input(suint8, party=0)\nb = input(suint8, party=1)\noutput(a ^ b)\n";
    insta::assert_snapshot!(before_and_after(
        text,
        &[],
        opt::boolean_io::run,
        &[vec![0x5a], vec![0x0f]]
    ));
}

#[test]
fn expand_conversions() {
    let text = "a = input(sint8, party=0)\nb = input(sint8, party=1)\noutput(sint8(a == b) + a)\n";
    insta::assert_snapshot!(before_and_after(
        text,
        &[],
        opt::expand_conversions::run,
        &[vec![7], vec![7]]
    ));
}

#[test]
fn balance() {
    let text = "x = input(sint[5], party=0)\nacc = x[0]\nfor i in range(1, 5):\n    acc = acc * x[i]\noutput(acc)\n";
    insta::assert_snapshot!(before_and_after(
        text,
        &[],
        opt::balance::run,
        &[vec![2, 3, 5, 7, 11]]
    ));
}

#[test]
fn fuse_dot_products() {
    let text = "x = input(sint[3], party=0)\ny = input(sint[3], party=1)\noutput(sum([x[i] * y[i] for i in range(3)]))\n";
    insta::assert_snapshot!(before_and_after(
        text,
        &[],
        opt::dot_products::run,
        &[vec![1, 2, 3], vec![4, 5, 6]]
    ));
}

#[test]
fn eliminate_dead_gates() {
    let text =
        "a = input(sint, party=0)\nb = input(sint, party=1)\nunused = a * b\noutput(a + b)\n";
    insta::assert_snapshot!(before_and_after(
        text,
        &[],
        opt::dead_gates::run,
        &[vec![2], vec![3]]
    ));
}

#[test]
fn pack_lanes() {
    // Two equality tests of 8-bit values: their AND trees share words.
    let text = "x = input(suint8[2], party=0)\ny = input(suint8[2], party=1)\noutput([x[i] == y[i] for i in range(2)])\n";
    insta::assert_snapshot!(before_and_after(
        text,
        &[],
        opt::pack_lanes::run,
        &[vec![5, 200], vec![5, 201]]
    ));
}
