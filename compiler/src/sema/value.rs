//! Types and values of the elaborator. Scalars of a concrete type are wires of the
//! circuit (a compile-time constant is a `Const` wire, folded by the builder); integer
//! literals stay untyped ([`Value::Lit`]) until an operation gives them a type, as in
//! LANGUAGE.md §2.

use std::fmt;
use std::rc::Rc;

use mpc_bytecode::{Scalar, ValueType, WireId};

use crate::syntax::ast::FunctionDef;

/// The type of a data value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// A scalar of a concrete type, secret or public.
    Scalar(Scalar, bool),
    /// An integer literal not yet given a type.
    Lit,
    /// `len` values of one type.
    Array(Rc<Type>, usize),
    /// Values of several types.
    Tuple(Rc<[Type]>),
}

/// `int`, the type a literal takes when nothing else decides.
pub const DEFAULT_INT: Scalar = Scalar::Int {
    bits: 64,
    signed: true,
};

impl Type {
    /// Whether any scalar inside is secret.
    pub fn is_secret(&self) -> bool {
        match self {
            Type::Scalar(_, secret) => *secret,
            Type::Lit => false,
            Type::Array(t, _) => t.is_secret(),
            Type::Tuple(ts) => ts.iter().any(Type::is_secret),
        }
    }

    /// The type at the program boundary (literals become `int`).
    pub fn value_type(&self) -> ValueType {
        match self {
            Type::Scalar(s, _) => ValueType::Scalar(*s),
            Type::Lit => ValueType::Scalar(DEFAULT_INT),
            Type::Array(t, n) => ValueType::Array(Box::new(t.value_type()), *n as u32),
            Type::Tuple(ts) => ValueType::Tuple(ts.iter().map(Type::value_type).collect()),
        }
    }

    /// The same type with every scalar made secret.
    pub fn secret(&self) -> Type {
        match self {
            Type::Scalar(s, _) => Type::Scalar(*s, true),
            Type::Lit => Type::Scalar(DEFAULT_INT, true),
            Type::Array(t, n) => Type::Array(Rc::new(t.secret()), *n),
            Type::Tuple(ts) => Type::Tuple(ts.iter().map(Type::secret).collect()),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Scalar(s, secret) => f.write_str(&s.name(*secret)),
            Type::Lit => f.write_str("int"),
            Type::Array(..) => {
                let mut t = self;
                let mut dims = String::new();
                while let Type::Array(inner, n) = t {
                    dims.push_str(&format!("[{n}]"));
                    t = inner;
                }
                write!(f, "{t}{dims}")
            }
            Type::Tuple(ts) => {
                let names: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
                write!(f, "({})", names.join(", "))
            }
        }
    }
}

/// A scalar of a concrete type: its wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ScalarVal {
    /// The type.
    pub scalar: Scalar,
    /// Whether it is secret (a constant may be secret: `sint(3)`).
    pub secret: bool,
    /// The wire holding it (arithmetic for integers and fixed point, a 1-bit Boolean
    /// word for `bool`).
    pub wire: WireId,
}

/// An array: its element type (known even when empty) and its elements.
#[derive(Clone, Debug)]
pub struct ArrayVal {
    /// The element type.
    pub elem: Type,
    /// The elements. Arrays are values: writing to one copies it if it is shared.
    pub items: Rc<Vec<Value>>,
}

/// A user function and the place it was defined.
#[derive(Debug)]
pub struct FuncVal {
    /// The definition.
    pub def: Rc<FunctionDef>,
    /// The module whose globals it sees.
    pub module: usize,
    /// For a function defined inside another: the enclosing locals when it was defined.
    pub captured: Option<Rc<super::elab::Scope>>,
}

/// The builtin functions of LANGUAGE.md §5 and §6.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `input(T, party=p, public=False)`
    Input,
    /// `output(e, to=p, name="n")`
    Output,
    /// `reveal(e)`
    Reveal,
    /// `len(a)`
    Len,
    /// `range(a, b, step)`
    Range,
    /// `sum(a)`
    Sum,
    /// `min(a, b)` or `min(a)`
    Min,
    /// `max(a, b)` or `max(a)`
    Max,
    /// `abs(x)`
    Abs,
    /// `bits(x)`
    Bits,
    /// `from_bits(T, bs)`
    FromBits,
}

impl Builtin {
    /// Looks a builtin up by name.
    pub fn by_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "input" => Builtin::Input,
            "output" => Builtin::Output,
            "reveal" => Builtin::Reveal,
            "len" => Builtin::Len,
            "range" => Builtin::Range,
            "sum" => Builtin::Sum,
            "min" => Builtin::Min,
            "max" => Builtin::Max,
            "abs" => Builtin::Abs,
            "bits" => Builtin::Bits,
            "from_bits" => Builtin::FromBits,
            _ => return None,
        })
    }
}

/// The scalar type a type name denotes, with its visibility.
pub fn scalar_type_by_name(name: &str) -> Option<(Scalar, bool)> {
    let (secret, rest) = match name.strip_prefix('s') {
        Some(rest)
            if matches!(rest, "bool" | "fix")
                || rest.starts_with("int")
                || rest.starts_with("uint") =>
        {
            (true, rest)
        }
        _ => (false, name),
    };
    let scalar = match rest {
        "bool" => Scalar::Bool,
        "fix" => Scalar::Fix,
        "int" => DEFAULT_INT,
        _ => {
            let (signed, bits) = match rest.strip_prefix("uint") {
                Some(bits) => (false, bits),
                None => (true, rest.strip_prefix("int")?),
            };
            let bits = match bits {
                "8" => 8,
                "16" => 16,
                "32" => 32,
                "64" => 64,
                _ => return None,
            };
            Scalar::Int { bits, signed }
        }
    };
    Some((scalar, secret))
}

/// A value during elaboration.
#[derive(Clone, Debug)]
pub enum Value {
    /// A typed scalar.
    Scalar(ScalarVal),
    /// An untyped integer constant.
    Lit(i128),
    /// An array.
    Array(ArrayVal),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A string (only as `name=` argument).
    Str(Rc<str>),
    /// A user function.
    Func(Rc<FuncVal>),
    /// A builtin function.
    Builtin(Builtin),
    /// A type, used in casts, `input` and annotations.
    Type(Type),
    /// An imported module.
    Module(usize),
    /// `range(start, stop, step)`.
    Range(i128, i128, i128),
    /// What a call without `return` gives.
    None,
    /// The result of an expression that failed; its error is already reported.
    Error,
}

impl Value {
    /// The type of a data value; `None` for functions, modules, types and the like.
    pub fn ty(&self) -> Option<Type> {
        Some(match self {
            Value::Scalar(s) => Type::Scalar(s.scalar, s.secret),
            Value::Lit(_) => Type::Lit,
            Value::Array(a) => Type::Array(Rc::new(a.elem.clone()), a.items.len()),
            Value::Tuple(items) => {
                Type::Tuple(items.iter().map(|v| v.ty()).collect::<Option<_>>()?)
            }
            _ => return None,
        })
    }

    /// What kind of thing this is, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Str(_) => "a string".into(),
            Value::Func(f) => format!("the function `{}`", f.def.name.name),
            Value::Builtin(_) => "a builtin function".into(),
            Value::Type(t) => format!("the type `{t}`"),
            Value::Module(_) => "a module".into(),
            Value::Range(..) => "a range".into(),
            Value::None => "nothing (the call returns no value)".into(),
            Value::Error => "an invalid value".into(),
            data => format!(
                "`{}`",
                data.ty().map_or_else(|| "?".into(), |t| t.to_string())
            ),
        }
    }
}

/// The range of values of an integer type, as `i128`.
pub fn int_range(bits: u8, signed: bool) -> (i128, i128) {
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_parse() {
        assert_eq!(scalar_type_by_name("sint"), Some((DEFAULT_INT, true)));
        assert_eq!(
            scalar_type_by_name("uint8"),
            Some((
                Scalar::Int {
                    bits: 8,
                    signed: false
                },
                false
            ))
        );
        assert_eq!(
            scalar_type_by_name("suint16"),
            Some((
                Scalar::Int {
                    bits: 16,
                    signed: false
                },
                true
            ))
        );
        assert_eq!(scalar_type_by_name("sbool"), Some((Scalar::Bool, true)));
        assert_eq!(scalar_type_by_name("fix"), Some((Scalar::Fix, false)));
        assert_eq!(scalar_type_by_name("sint7"), None);
        assert_eq!(scalar_type_by_name("size"), None);
    }

    #[test]
    fn types_print_like_the_language() {
        let row = Type::Array(Rc::new(Type::Scalar(DEFAULT_INT, true)), 3);
        assert_eq!(Type::Array(Rc::new(row), 2).to_string(), "sint64[2][3]");
    }
}
