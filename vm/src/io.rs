//! Inputs and outputs as JSON (LANGUAGE.md §8).
//!
//! A party's inputs are a JSON list with one item per `input(...)` the program reads from
//! that party, in the order of the program's input descriptors. Each item is checked
//! against its declared type and flattened into raw `u64` values in storage order (the
//! order of `ValueType::for_each_scalar`), which is the order `Input` gates index:
//! - `bool`: `true`/`false` → 1/0;
//! - integers: a JSON integer within the type's range → its two's-complement bit
//!   pattern masked to the type's width (`int8` −1 → `0xff`);
//! - `fix`: any JSON number `x` → `round(x · 2^16)` (halves away from zero) as an `i64`
//!   bit pattern; it must fit in an `i64`;
//! - arrays and tuples: lists of exactly the declared length.
//!
//! Error messages count a party's inputs from 1 in the order it supplies them
//! (`input 2 (`b`)`) and index elements inside one input from 0, as the language indexes
//! arrays (`element [3][0]`). They show a rejected value only when it is short (a number,
//! a bool, a string of at most 20 characters); otherwise they describe it (`a list of 3`).
//!
//! Outputs go the other way: [`render_output`] turns raw values into JSON, and
//! [`format_value`] prints JSON as LANGUAGE.md §8 shows it (`[1, 2]`).

use std::fmt::Write as _;

use mpc_bytecode::{mask, Header, InputDesc, OutputDesc, Scalar, ValueType, FIX_FRAC_BITS};
use serde_json::Value;

/// Why JSON inputs do not fit the program.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The inputs of all parties are not a JSON object.
    #[error("the inputs must be a JSON object from party id (\"0\", \"1\", …) to that party's input list, got {got}")]
    NotAnObject {
        /// What was there instead.
        got: String,
    },
    /// A key of the inputs object is not a party id.
    #[error("the inputs name party {key:?}, which is not a party id (\"0\", \"1\", …)")]
    NotAPartyId {
        /// The key.
        key: String,
    },
    /// A key of the inputs object is a party id at or past the number of parties.
    #[error("the inputs name party {party}, but the run has {parties} part{} (ids 0 to {})", plural_y(*.parties), .parties.saturating_sub(1))]
    PartyOutOfRange {
        /// The party id.
        party: u32,
        /// The number of parties in the run.
        parties: u32,
    },
    /// More parties than a program can name.
    #[error("a run has at most {max} parties, not {parties}", max = mpc_bytecode::format::MAX_PARTIES)]
    TooManyParties {
        /// The number asked for.
        parties: u32,
    },
    /// A party's inputs are not a JSON list.
    #[error("party {party}: the inputs must be a JSON list with one item per input the program reads from party {party}, got {got}")]
    NotAList {
        /// The party.
        party: u32,
        /// What was there instead.
        got: String,
    },
    /// A party supplies fewer inputs than the program reads from it.
    #[error("party {party} supplies {supplied} input(s) but the program reads {expected}: missing `{name}` of type `{ty}`")]
    Missing {
        /// The party.
        party: u32,
        /// How many inputs it supplies.
        supplied: usize,
        /// How many the program reads from it.
        expected: usize,
        /// The name of the first missing input.
        name: String,
        /// The type of the first missing input.
        ty: String,
    },
    /// A party supplies more inputs than the program reads from it.
    #[error("party {party} supplies {supplied} input(s) but the program reads {}", reads(*.expected, *.party))]
    Extra {
        /// The party.
        party: u32,
        /// How many inputs it supplies.
        supplied: usize,
        /// How many the program reads from it.
        expected: usize,
    },
    /// An input does not have its declared type.
    #[error("party {party}: input {position} (`{name}`){}: expected {expected}, got {got}", element_path(.path))]
    Mismatch {
        /// The party.
        party: u32,
        /// The input's position among the party's inputs, counted from 1.
        position: usize,
        /// The input's name.
        name: String,
        /// Indices from the input down to the offending element, from 0; empty for the
        /// input itself.
        path: Vec<u32>,
        /// The expected type, in backticks, with a hint for lists.
        expected: String,
        /// What was there instead.
        got: String,
    },
}

fn plural_y(n: u32) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

fn reads(expected: usize, party: u32) -> String {
    if expected == 0 {
        format!("none from party {party}")
    } else {
        format!("only {expected} from party {party}")
    }
}

fn element_path(path: &[u32]) -> String {
    if path.is_empty() {
        return String::new();
    }
    let mut s = String::from(" element ");
    for i in path {
        // Writing into a String cannot fail.
        let _ = write!(s, "[{i}]");
    }
    s
}

/// A short description of a JSON value that was not what the type needed.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= 20 => Value::String(s.clone()).to_string(),
        Value::String(s) => format!("a string of {} characters", s.chars().count()),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A type error below some input, with its path collected innermost first while the
/// recursion unwinds, so that the success path never allocates.
struct Mismatch {
    reversed_path: Vec<u32>,
    expected: String,
    got: String,
}

impl Mismatch {
    fn new(expected: String, got: String) -> Self {
        Mismatch {
            reversed_path: Vec::new(),
            expected,
            got,
        }
    }

    fn at(mut self, index: usize) -> Self {
        // Lists are at most u32::MAX long: their declared length is a u32.
        self.reversed_path.push(index as u32);
        self
    }
}

/// Parses one party's inputs (see the module docs) into the flat raw values its `Input`
/// and `PublicInput` gates read.
pub fn parse_party_inputs(
    header: &Header,
    party: u32,
    values: &Value,
) -> Result<Vec<u64>, InputError> {
    let Value::Array(items) = values else {
        return Err(InputError::NotAList {
            party,
            got: describe(values),
        });
    };
    let descs: Vec<&InputDesc> = header.inputs.iter().filter(|d| d.party == party).collect();
    if let Some(first_missing) = descs.get(items.len()) {
        return Err(InputError::Missing {
            party,
            supplied: items.len(),
            expected: descs.len(),
            name: first_missing.name.clone(),
            ty: first_missing.ty.name(!first_missing.public),
        });
    }
    if items.len() > descs.len() {
        return Err(InputError::Extra {
            party,
            supplied: items.len(),
            expected: descs.len(),
        });
    }
    let total: u64 = descs.iter().filter_map(|d| d.ty.element_count()).sum();
    // The declared size comes from the program, not from the JSON: cap the reservation so
    // that a program declaring a huge input cannot make us allocate before checking.
    let mut out = Vec::with_capacity(total.min(1 << 20) as usize);
    for (position, (desc, item)) in descs.iter().zip(items).enumerate() {
        parse_value(&desc.ty, !desc.public, item, &mut out).map_err(|m| {
            let mut path = m.reversed_path;
            path.reverse();
            InputError::Mismatch {
                party,
                position: position + 1,
                name: desc.name.clone(),
                path,
                expected: m.expected,
                got: m.got,
            }
        })?;
    }
    Ok(out)
}

/// Parses the inputs of every party: `all` is an object from party id (`"0"`, `"1"`, …)
/// to that party's input list. A party without a key supplies no inputs. The result has
/// one list per party `0..parties`.
pub fn parse_all_inputs(
    header: &Header,
    parties: u32,
    all: &Value,
) -> Result<Vec<Vec<u64>>, InputError> {
    if parties > mpc_bytecode::format::MAX_PARTIES {
        return Err(InputError::TooManyParties { parties });
    }
    let Value::Object(map) = all else {
        return Err(InputError::NotAnObject { got: describe(all) });
    };
    for key in map.keys() {
        let party =
            parse_party_id(key).ok_or_else(|| InputError::NotAPartyId { key: key.clone() })?;
        if party >= parties {
            return Err(InputError::PartyOutOfRange { party, parties });
        }
    }
    let none = Value::Array(Vec::new());
    (0..parties)
        .map(|party| {
            // Keys were checked to be canonical ids above, so this lookup finds them.
            let values = map.get(&party.to_string()).unwrap_or(&none);
            parse_party_inputs(header, party, values)
        })
        .collect()
}

/// A party id written canonically: decimal digits, no sign, no leading zero.
fn parse_party_id(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    if canonical {
        key.parse().ok()
    } else {
        None
    }
}

fn parse_value(
    ty: &ValueType,
    secret: bool,
    v: &Value,
    out: &mut Vec<u64>,
) -> Result<(), Mismatch> {
    match ty {
        ValueType::Scalar(s) => {
            let raw = parse_scalar(*s, secret, v)
                .map_err(|got| Mismatch::new(format!("`{}`", s.name(secret)), got))?;
            out.push(raw);
        }
        ValueType::Array(inner, len) => {
            let items = list_of(ty, secret, *len as usize, v)?;
            for (i, item) in items.iter().enumerate() {
                parse_value(inner, secret, item, out).map_err(|m| m.at(i))?;
            }
        }
        ValueType::Tuple(types) => {
            let items = list_of(ty, secret, types.len(), v)?;
            for (i, (t, item)) in types.iter().zip(items).enumerate() {
                parse_value(t, secret, item, out).map_err(|m| m.at(i))?;
            }
        }
    }
    Ok(())
}

/// The items of `v` if it is a list of exactly `len` items.
fn list_of<'v>(
    ty: &ValueType,
    secret: bool,
    len: usize,
    v: &'v Value,
) -> Result<&'v [Value], Mismatch> {
    match v {
        Value::Array(items) if items.len() == len => Ok(items),
        _ => {
            let expected = format!("`{}` (a list of {len})", ty.name(secret));
            Err(Mismatch::new(expected, describe(v)))
        }
    }
}

/// 2^63, exactly: the bound of `i64` as a float.
const TWO_POW_63: f64 = (1u64 << 63) as f64;

/// One scalar's raw value, or a description of what was there instead.
fn parse_scalar(s: Scalar, secret: bool, v: &Value) -> Result<u64, String> {
    let n = match (s, v) {
        (Scalar::Bool, Value::Bool(b)) => return Ok(u64::from(*b)),
        (Scalar::Int { .. } | Scalar::Fix, Value::Number(n)) => n,
        _ => return Err(describe(v)),
    };
    match s {
        Scalar::Int { bits, signed } => {
            let (lo, hi): (i128, i128) = if signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            let x = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i128::from(i),
                (None, Some(u)) => i128::from(u),
                // serde_json keeps a number as a float when it has a fraction or an
                // exponent, or does not fit in 64 bits.
                (None, None) => {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    let hint = if f.fract() != 0.0 {
                        "not an integer".to_string()
                    } else if f.abs() >= TWO_POW_63 {
                        format!("`{}` holds {lo} to {hi}", s.name(secret))
                    } else {
                        "write integers without a decimal point or exponent".to_string()
                    };
                    return Err(format!("{n} ({hint})"));
                }
            };
            if x < lo || x > hi {
                return Err(format!("{n} (`{}` holds {lo} to {hi})", s.name(secret)));
            }
            // `as` keeps the low 64 bits: the two's-complement pattern of a negative x.
            Ok((x as u64) & mask(bits))
        }
        Scalar::Fix => {
            let scale = 1i64 << FIX_FRAC_BITS;
            let raw = if let Some(i) = n.as_i64() {
                i.checked_mul(scale)
            } else if n.as_u64().is_some() {
                None
            } else {
                let scaled = (n.as_f64().unwrap_or(f64::NAN) * scale as f64).round();
                // The range of i64 as floats: -2^63 is exact, 2^63 is the first value past it.
                (-TWO_POW_63..TWO_POW_63)
                    .contains(&scaled)
                    .then_some(scaled as i64)
            };
            let out_of_range = || {
                let limit = i64::MAX as f64 / scale as f64;
                format!(
                    "{n} (`{}` holds about -{limit:.3e} to {limit:.3e})",
                    s.name(secret)
                )
            };
            raw.map(|r| r as u64).ok_or_else(out_of_range)
        }
        Scalar::Bool => Err(describe(v)),
    }
}

/// An output's raw values (one per scalar element, in storage order; the low bits of
/// each, up to the scalar's width, are meaningful) as JSON: `bool` → `true`/`false`,
/// signed integers → `i64`, unsigned → `u64`, `fix` → the float `raw / 2^16`, arrays and
/// tuples → lists. Elements past the end of `values` render as `null`.
pub fn render_output(desc: &OutputDesc, values: &[u64]) -> Value {
    render(&desc.ty, &mut values.iter().copied())
}

fn render(ty: &ValueType, values: &mut impl Iterator<Item = u64>) -> Value {
    match ty {
        ValueType::Scalar(s) => values
            .next()
            .map_or(Value::Null, |raw| render_scalar(*s, raw)),
        ValueType::Array(inner, len) => {
            Value::Array((0..*len).map(|_| render(inner, values)).collect())
        }
        ValueType::Tuple(types) => Value::Array(types.iter().map(|t| render(t, values)).collect()),
    }
}

fn render_scalar(s: Scalar, raw: u64) -> Value {
    let v = s.normalize(raw);
    match s {
        Scalar::Bool => Value::Bool(v != 0),
        Scalar::Int { signed: true, .. } => Value::from(v as i64),
        Scalar::Int { signed: false, .. } => Value::from(v),
        Scalar::Fix => Value::from(v as i64 as f64 / (1u64 << FIX_FRAC_BITS) as f64),
    }
}

/// A JSON value as LANGUAGE.md §8 prints it: compact, but with a space after each comma
/// and colon (`[1, 2]`, `{"a": true}`).
pub fn format_value(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(s: &mut String, v: &Value) {
    match v {
        Value::Array(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_value(s, item);
            }
            s.push(']');
        }
        Value::Object(map) => {
            s.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_key(s, key);
                write_value(s, item);
            }
            s.push('}');
        }
        // Scalars print as serde_json prints them (`2.5`, `-3`, `true`).
        _ => {
            let _ = write!(s, "{v}");
        }
    }
}

fn write_key(s: &mut String, key: &str) {
    let _ = write!(s, "{}: ", Value::from(key));
}

/// A party's outputs as plain text: one line `name = value` per output, in program order.
pub fn format_outputs_plain(outputs: &[(String, Value)]) -> String {
    let mut s = String::new();
    for (name, value) in outputs {
        let _ = write!(s, "{name} = ");
        write_value(&mut s, value);
        s.push('\n');
    }
    s
}

/// A party's outputs as one JSON object `{"name": value, ...}` in program order (a
/// `serde_json::Map` would sort the names).
pub fn format_outputs_json(outputs: &[(String, Value)]) -> String {
    let mut s = String::from("{");
    for (i, (name, value)) in outputs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        write_key(&mut s, name);
        write_value(&mut s, value);
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use mpc_bytecode::{Header, WireId};
    use serde_json::json;

    use super::*;

    fn int(bits: u8, signed: bool) -> ValueType {
        ValueType::Scalar(Scalar::Int { bits, signed })
    }

    fn array(t: ValueType, len: u32) -> ValueType {
        ValueType::Array(Box::new(t), len)
    }

    const SINT: ValueType = ValueType::Scalar(Scalar::Int {
        bits: 64,
        signed: true,
    });
    const SBOOL: ValueType = ValueType::Scalar(Scalar::Bool);
    const SFIX: ValueType = ValueType::Scalar(Scalar::Fix);

    fn input(party: u32, name: &str, ty: ValueType) -> InputDesc {
        InputDesc {
            party,
            name: name.into(),
            ty,
            public: false,
        }
    }

    /// The header of a program that only declares inputs: reading them needs no gates.
    fn declaring(inputs: Vec<InputDesc>) -> Header {
        let header = Header::new("test", "any", inputs, vec![]);
        let program = mpc_bytecode::Program::new(header, vec![]);
        program.expect("a program without gates is valid").header
    }

    fn one_input(ty: ValueType) -> Header {
        declaring(vec![input(0, "x", ty)])
    }

    fn parse_one(ty: ValueType, value: Value) -> Result<Vec<u64>, String> {
        parse_party_inputs(&one_input(ty), 0, &json!([value])).map_err(|e| e.to_string())
    }

    #[test]
    fn values_of_every_type_flatten_in_storage_order() {
        let program = declaring(vec![
            input(0, "a", SINT),
            input(0, "b", int(8, false)),
            input(1, "other", SINT),
            input(0, "c", SBOOL),
            input(0, "d", SFIX),
            input(0, "m", array(array(int(16, true), 3), 2)),
            input(0, "t", ValueType::Tuple(vec![int(32, true), SBOOL])),
        ]);
        let values = json!([-5, 255, true, 2.5, [[1, -1, 3], [4, 5, 6]], [-2, false]]);
        let raw = parse_party_inputs(&program, 0, &values).unwrap();
        let expected = vec![
            (-5i64) as u64,
            255,
            1,
            5 << 15,
            1,
            0xffff,
            3,
            4,
            5,
            6,
            0xffff_fffe,
            0,
        ];
        assert_eq!(raw, expected);
        assert_eq!(
            parse_party_inputs(&program, 1, &json!([7])).unwrap(),
            vec![7]
        );
    }

    #[test]
    fn every_integer_width_accepts_its_range_and_rejects_one_past_each_end() {
        for bits in [8u8, 16, 32, 64] {
            for signed in [true, false] {
                let (lo, hi): (i128, i128) = if signed {
                    (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
                } else {
                    (0, (1 << bits) - 1)
                };
                let name = Scalar::Int { bits, signed }.name(true);
                let number = |x: i128| -> Value { serde_json::from_str(&x.to_string()).unwrap() };
                assert_eq!(
                    parse_one(int(bits, signed), number(lo)),
                    Ok(vec![(lo as u64) & mask(bits)]),
                    "{name} {lo}"
                );
                assert_eq!(
                    parse_one(int(bits, signed), number(hi)),
                    Ok(vec![hi as u64]),
                    "{name} {hi}"
                );
                for outside in [lo - 1, hi + 1] {
                    let err = parse_one(int(bits, signed), number(outside)).unwrap_err();
                    // Past 64 bits serde_json keeps the number as a float and prints it so.
                    let shown = number(outside).to_string();
                    let expected = format!(
                        "party 0: input 1 (`x`): expected `{name}`, got {shown} (`{name}` holds {lo} to {hi})"
                    );
                    assert_eq!(err, expected);
                }
            }
        }
    }

    #[test]
    fn negative_integers_are_masked_to_their_width() {
        assert_eq!(parse_one(int(8, true), json!(-1)), Ok(vec![0xff]));
        assert_eq!(parse_one(int(16, true), json!(-2)), Ok(vec![0xfffe]));
        assert_eq!(parse_one(int(32, true), json!(-1)), Ok(vec![0xffff_ffff]));
        assert_eq!(parse_one(int(64, true), json!(-1)), Ok(vec![u64::MAX]));
    }

    #[test]
    fn integers_must_be_written_as_integers() {
        let err = parse_one(SINT, json!(2.5)).unwrap_err();
        assert_eq!(
            err,
            "party 0: input 1 (`x`): expected `sint64`, got 2.5 (not an integer)"
        );
        let err = parse_one(SINT, json!(3.0)).unwrap_err();
        assert!(
            err.ends_with("got 3.0 (write integers without a decimal point or exponent)"),
            "{err}"
        );
        let err = parse_one(SINT, json!("12")).unwrap_err();
        assert!(err.ends_with("expected `sint64`, got \"12\""), "{err}");
        let err = parse_one(SINT, json!(true)).unwrap_err();
        assert!(err.ends_with("expected `sint64`, got true"), "{err}");
    }

    #[test]
    fn bools_are_true_or_false_only() {
        assert_eq!(parse_one(SBOOL, json!(true)), Ok(vec![1]));
        assert_eq!(parse_one(SBOOL, json!(false)), Ok(vec![0]));
        let err = parse_one(SBOOL, json!(1)).unwrap_err();
        assert_eq!(err, "party 0: input 1 (`x`): expected `sbool`, got 1");
        let err = parse_one(SBOOL, Value::Null).unwrap_err();
        assert!(err.ends_with("got null"), "{err}");
    }

    #[test]
    fn fixed_point_rounds_to_the_nearest_multiple_of_2_to_the_minus_16() {
        let fix = |v: Value| parse_one(SFIX, v).map(|raw| raw[0] as i64);
        assert_eq!(fix(json!(3)), Ok(3 << 16));
        assert_eq!(fix(json!(-0.5)), Ok(-(1 << 15)));
        assert_eq!(fix(json!(0.1)), Ok(6554)); // 6553.6
        assert_eq!(fix(json!(-0.1)), Ok(-6554));
        // Exactly half a unit rounds away from zero.
        assert_eq!(fix(json!(0.00000762939453125)), Ok(1));
        assert_eq!(fix(json!(-0.00000762939453125)), Ok(-1));
        assert_eq!(fix(json!(1e-6)), Ok(0));
        assert_eq!(fix(json!((1i64 << 47) - 1)), Ok(((1i64 << 47) - 1) << 16));
        assert_eq!(fix(json!(-(1i64 << 47))), Ok(i64::MIN));
        for too_big in [
            json!(1i64 << 47),
            json!(u64::MAX),
            json!(1e20),
            json!(-1.5e14),
        ] {
            let err = fix(too_big.clone()).unwrap_err();
            assert!(
                err.contains(&format!(
                    "got {too_big} (`sfix` holds about -1.407e14 to 1.407e14)"
                )),
                "{err}"
            );
        }
        let err = fix(json!([1.0])).unwrap_err();
        assert!(err.ends_with("expected `sfix`, got a list of 1"), "{err}");
    }

    #[test]
    fn public_inputs_are_named_with_public_types() {
        let mut program = one_input(SINT);
        program.inputs[0].public = true;
        let err = parse_party_inputs(&program, 0, &json!(["x"]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "party 0: input 1 (`x`): expected `int64`, got \"x\"");
    }

    #[test]
    fn a_mismatch_names_the_party_the_input_and_the_element() {
        let program = declaring(vec![input(1, "u", SINT), input(1, "v", array(SINT, 5))]);
        let err = parse_party_inputs(&program, 1, &json!([1, [0, 1, 2, "abc", 4]])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "party 1: input 2 (`v`) element [3]: expected `sint64`, got \"abc\""
        );
        assert!(matches!(err, InputError::Mismatch { position: 2, ref path, .. } if path == &[3]));
    }

    #[test]
    fn nested_arrays_report_the_whole_path() {
        let program = one_input(array(array(SBOOL, 2), 3));
        let err = parse_party_inputs(
            &program,
            0,
            &json!([[[true, false], [0, true], [true, true]]]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "party 0: input 1 (`x`) element [1][0]: expected `sbool`, got 0"
        );
        let err = parse_party_inputs(&program, 0, &json!([[[true, false], [true], [true, true]]]))
            .unwrap_err();
        assert_eq!(err.to_string(), "party 0: input 1 (`x`) element [1]: expected `sbool[2]` (a list of 2), got a list of 1");
    }

    #[test]
    fn arrays_and_tuples_need_exactly_their_length() {
        let err = parse_one(array(SINT, 4), json!([1, 2, 3])).unwrap_err();
        assert_eq!(
            err,
            "party 0: input 1 (`x`): expected `sint64[4]` (a list of 4), got a list of 3"
        );
        let err = parse_one(array(SINT, 4), json!([1, 2, 3, 4, 5])).unwrap_err();
        assert!(err.ends_with("got a list of 5"), "{err}");
        let err = parse_one(array(SINT, 2), json!(7)).unwrap_err();
        assert!(
            err.ends_with("expected `sint64[2]` (a list of 2), got 7"),
            "{err}"
        );
        let pair = ValueType::Tuple(vec![SINT, SBOOL]);
        let err = parse_one(pair.clone(), json!([1])).unwrap_err();
        assert_eq!(
            err,
            "party 0: input 1 (`x`): expected `(sint64, sbool)` (a list of 2), got a list of 1"
        );
        let err = parse_one(pair, json!([1, 2])).unwrap_err();
        assert_eq!(
            err,
            "party 0: input 1 (`x`) element [1]: expected `sbool`, got 2"
        );
    }

    #[test]
    fn long_strings_are_described_not_echoed() {
        let secret = "a long string that should not be printed back";
        let err = parse_one(SINT, json!(secret)).unwrap_err();
        assert!(!err.contains(secret), "{err}");
        assert!(err.ends_with("got a string of 45 characters"), "{err}");
        let err = parse_one(SINT, json!({"k": 1})).unwrap_err();
        assert!(err.ends_with("got an object"), "{err}");
    }

    #[test]
    fn missing_and_extra_inputs_are_counted() {
        let program = declaring(vec![
            input(0, "a", SINT),
            input(0, "b", SINT),
            input(2, "c", SBOOL),
        ]);
        let err = parse_party_inputs(&program, 0, &json!([1]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "party 0 supplies 1 input(s) but the program reads 2: missing `b` of type `sint64`"
        );
        let err = parse_party_inputs(&program, 0, &json!([1, 2, 3]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "party 0 supplies 3 input(s) but the program reads only 2 from party 0"
        );
        let err = parse_party_inputs(&program, 1, &json!([1]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "party 1 supplies 1 input(s) but the program reads none from party 1"
        );
        assert_eq!(parse_party_inputs(&program, 1, &json!([])), Ok(vec![]));
    }

    #[test]
    fn a_party_s_inputs_must_be_a_list() {
        let err = parse_party_inputs(&one_input(SINT), 0, &json!(5))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "party 0: the inputs must be a JSON list with one item per input the program reads from party 0, got 5"
        );
    }

    #[test]
    fn all_inputs_are_keyed_by_party_id_and_absent_parties_supply_nothing() {
        let program = declaring(vec![input(0, "a", SINT), input(2, "c", SBOOL)]);
        let all = parse_all_inputs(&program, 4, &json!({"2": [true], "0": [-1]})).unwrap();
        assert_eq!(all, vec![vec![u64::MAX], vec![], vec![1], vec![]]);
        let err = parse_all_inputs(&program, 3, &json!({"0": [1]}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "party 2 supplies 0 input(s) but the program reads 1: missing `c` of type `sbool`"
        );
    }

    #[test]
    fn keys_that_are_not_party_ids_of_the_run_are_rejected() {
        let program = declaring(vec![]);
        let err = parse_all_inputs(&program, 3, &json!({"3": []}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the inputs name party 3, but the run has 3 parties (ids 0 to 2)"
        );
        let err = parse_all_inputs(&program, 1, &json!({"1": []}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the inputs name party 1, but the run has 1 party (ids 0 to 0)"
        );
        for key in ["x", "01", "-1", "+1", "", "1.0", "99999999999"] {
            let err = parse_all_inputs(&program, 3, &json!({ key: [] })).unwrap_err();
            assert_eq!(
                err,
                InputError::NotAPartyId {
                    key: key.to_string()
                },
                "{key}"
            );
        }
        let err = parse_all_inputs(&program, 70_000, &json!({}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "a run has at most 65536 parties, not 70000");
        let err = parse_all_inputs(&program, 3, &json!([[1]]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the inputs must be a JSON object") && err.ends_with("got a list of 1"),
            "{err}"
        );
    }

    fn output(ty: ValueType) -> OutputDesc {
        let n = ty.element_count().unwrap() as u32;
        OutputDesc {
            name: "o".into(),
            ty,
            to: vec![],
            wires: (0..n).map(WireId).collect(),
        }
    }

    #[test]
    fn scalars_render_as_their_type_reads_them() {
        let one = |ty: ValueType, raw: u64| render_output(&output(ty), &[raw]);
        assert_eq!(one(SBOOL, 1), json!(true));
        assert_eq!(one(SBOOL, 0), json!(false));
        assert_eq!(one(int(8, true), 0xff), json!(-1));
        assert_eq!(one(int(8, false), 0xff), json!(255));
        // Arithmetic wires may carry junk above the type's width.
        assert_eq!(one(int(8, true), 0xabc7f), json!(127));
        assert_eq!(one(int(16, false), 0xffff_0001), json!(1));
        assert_eq!(one(int(32, true), 0x8000_0000), json!(i32::MIN));
        assert_eq!(one(SINT, u64::MAX), json!(-1));
        assert_eq!(one(int(64, false), u64::MAX), json!(u64::MAX));
        assert_eq!(one(SFIX, (-(1i64 << 15)) as u64), json!(-0.5));
        assert_eq!(one(SFIX, 5 << 16), json!(5.0));
        assert_eq!(one(SFIX, 1), json!(1.0 / 65536.0));
    }

    #[test]
    fn arrays_and_tuples_render_as_lists_in_storage_order() {
        let ty = ValueType::Tuple(vec![array(array(int(8, true), 2), 2), SBOOL]);
        let rendered = render_output(&output(ty), &[1, 0xfe, 3, 4, 1]);
        assert_eq!(rendered, json!([[[1, -2], [3, 4]], true]));
        assert_eq!(format_value(&rendered), "[[[1, -2], [3, 4]], true]");
        // Fewer values than elements: the rest is null, not a panic.
        assert_eq!(
            render_output(&output(array(SINT, 2)), &[1]),
            json!([1, null])
        );
    }

    #[test]
    fn outputs_print_in_program_order() {
        let outputs = vec![
            ("z".to_string(), json!(2.5)),
            ("a".to_string(), json!([true, false])),
        ];
        assert_eq!(
            format_outputs_plain(&outputs),
            "z = 2.5\na = [true, false]\n"
        );
        assert_eq!(
            format_outputs_json(&outputs),
            r#"{"z": 2.5, "a": [true, false]}"#
        );
        assert_eq!(format_outputs_json(&[]), "{}");
        assert_eq!(format_value(&json!({"k\"": [1, 2]})), r#"{"k\"": [1, 2]}"#);
    }

    #[test]
    fn rendering_inverts_parsing() {
        let ty = ValueType::Tuple(vec![array(int(16, true), 3), SFIX, int(64, false), SBOOL]);
        let value = json!([[-32768, 0, 32767], -1234.75, u64::MAX, true]);
        let raw = parse_one(ty.clone(), value.clone()).unwrap();
        assert_eq!(render_output(&output(ty), &raw), value);
    }
}
