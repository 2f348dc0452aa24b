//! The value types that cross the program boundary: inputs and outputs.
//!
//! A `ValueType` is a tree (arrays and tuples of scalars). On disk it is a flat preorder
//! list of nodes, so a hostile file cannot nest it deeply enough to exhaust the stack:
//! decoding rejects nesting deeper than [`MAX_TYPE_DEPTH`] before building the tree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Deepest nesting of arrays and tuples a program may declare at its boundary.
pub const MAX_TYPE_DEPTH: usize = 32;
/// Most scalar elements one input or output may hold.
pub const MAX_ELEMENTS: u64 = 1 << 31;

/// A scalar type, without its visibility.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scalar {
    /// A bit.
    Bool,
    /// A two's-complement (`signed`) or unsigned integer of `bits` bits (8, 16, 32 or 64).
    Int {
        /// Width in bits.
        bits: u8,
        /// Whether the integer is signed.
        signed: bool,
    },
    /// Signed 64-bit fixed point with [`FIX_FRAC_BITS`] fractional bits.
    Fix,
}

/// Fractional bits of `fix`/`sfix`.
pub const FIX_FRAC_BITS: u8 = 16;

impl Scalar {
    /// Width of the value's representation in bits.
    pub fn bits(self) -> u8 {
        match self {
            Scalar::Bool => 1,
            Scalar::Int { bits, .. } => bits,
            Scalar::Fix => 64,
        }
    }

    /// Whether the value is signed (fixed point is).
    pub fn is_signed(self) -> bool {
        match self {
            Scalar::Bool => false,
            Scalar::Int { signed, .. } => signed,
            Scalar::Fix => true,
        }
    }

    /// The raw 64-bit value read back as this type: sign- or zero-extended from its width.
    pub fn normalize(self, raw: u64) -> u64 {
        let bits = u32::from(self.bits());
        if bits == 64 {
            return raw;
        }
        if self.is_signed() {
            (((raw << (64 - bits)) as i64) >> (64 - bits)) as u64
        } else {
            raw & ((1u64 << bits) - 1)
        }
    }

    /// The type's name in the language, secret (`sint32`) or public (`int32`).
    pub fn name(self, secret: bool) -> String {
        let s = if secret { "s" } else { "" };
        match self {
            Scalar::Bool => format!("{s}bool"),
            Scalar::Int { bits, signed: true } => format!("{s}int{bits}"),
            Scalar::Int {
                bits,
                signed: false,
            } => format!("{s}uint{bits}"),
            Scalar::Fix => format!("{s}fix"),
        }
    }

    fn is_valid(self) -> bool {
        match self {
            Scalar::Int { bits, .. } => matches!(bits, 8 | 16 | 32 | 64),
            Scalar::Bool | Scalar::Fix => true,
        }
    }
}

/// The type of an input or output value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<TypeNode>", try_from = "Vec<TypeNode>")]
pub enum ValueType {
    /// One scalar.
    Scalar(Scalar),
    /// `len` values of one type.
    Array(Box<ValueType>, u32),
    /// Values of several types (the results of a function returning `a, b`).
    Tuple(Vec<ValueType>),
}

impl ValueType {
    /// Number of scalar elements, or `None` past [`MAX_ELEMENTS`].
    pub fn element_count(&self) -> Option<u64> {
        let n = match self {
            ValueType::Scalar(_) => 1,
            ValueType::Array(t, len) => t.element_count()?.checked_mul(u64::from(*len))?,
            ValueType::Tuple(ts) => ts
                .iter()
                .try_fold(0u64, |acc, t| acc.checked_add(t.element_count()?))?,
        };
        (n <= MAX_ELEMENTS).then_some(n)
    }

    /// Calls `f` with the scalar type of every element, in storage order.
    pub fn for_each_scalar(&self, f: &mut impl FnMut(Scalar)) {
        match self {
            ValueType::Scalar(s) => f(*s),
            ValueType::Array(t, len) => (0..*len).for_each(|_| t.for_each_scalar(f)),
            ValueType::Tuple(ts) => ts.iter().for_each(|t| t.for_each_scalar(f)),
        }
    }

    /// The type's name in the language (`sint32[4]`, `(sint, sbool)`).
    pub fn name(&self, secret: bool) -> String {
        match self {
            ValueType::Scalar(s) => s.name(secret),
            ValueType::Array(..) => {
                let mut dims = String::new();
                let mut t = self;
                while let ValueType::Array(inner, len) = t {
                    dims.push_str(&format!("[{len}]"));
                    t = inner;
                }
                format!("{}{dims}", t.name(secret))
            }
            ValueType::Tuple(ts) => {
                let names: Vec<_> = ts.iter().map(|t| t.name(secret)).collect();
                format!("({})", names.join(", "))
            }
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name(false))
    }
}

/// One node of the preorder encoding of a [`ValueType`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeNode {
    /// A leaf.
    Scalar(Scalar),
    /// An array of the given length; its element type follows.
    Array(u32),
    /// A tuple of the given arity; its element types follow.
    Tuple(u32),
}

impl From<ValueType> for Vec<TypeNode> {
    fn from(t: ValueType) -> Self {
        fn walk(t: &ValueType, out: &mut Vec<TypeNode>) {
            match t {
                ValueType::Scalar(s) => out.push(TypeNode::Scalar(*s)),
                ValueType::Array(inner, len) => {
                    out.push(TypeNode::Array(*len));
                    walk(inner, out);
                }
                ValueType::Tuple(ts) => {
                    out.push(TypeNode::Tuple(ts.len() as u32));
                    ts.iter().for_each(|t| walk(t, out));
                }
            }
        }
        let mut out = Vec::new();
        walk(&t, &mut out);
        out
    }
}

/// Why a flat type list is not a type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TypeError {
    /// Nodes missing, left over, or nested too deeply.
    #[error("malformed type descriptor")]
    Malformed,
    /// An integer width other than 8, 16, 32 or 64.
    #[error("unsupported scalar type")]
    BadScalar,
}

impl TryFrom<Vec<TypeNode>> for ValueType {
    type Error = TypeError;

    fn try_from(nodes: Vec<TypeNode>) -> Result<Self, TypeError> {
        // Check shape and depth iteratively first, so that building the tree below
        // recurses at most MAX_TYPE_DEPTH levels.
        let mut pending: Vec<u64> = vec![1];
        for node in &nodes {
            let top = pending.last_mut().ok_or(TypeError::Malformed)?;
            *top -= 1;
            if *top == 0 {
                pending.pop();
            }
            match node {
                TypeNode::Scalar(s) if !s.is_valid() => return Err(TypeError::BadScalar),
                TypeNode::Scalar(_) | TypeNode::Tuple(0) => {}
                TypeNode::Array(_) => pending.push(1),
                TypeNode::Tuple(n) => pending.push(u64::from(*n)),
            }
            if pending.len() > MAX_TYPE_DEPTH {
                return Err(TypeError::Malformed);
            }
        }
        if !pending.is_empty() {
            return Err(TypeError::Malformed);
        }
        fn build(nodes: &mut std::slice::Iter<'_, TypeNode>) -> ValueType {
            match nodes.next() {
                Some(TypeNode::Scalar(s)) => ValueType::Scalar(*s),
                Some(TypeNode::Array(len)) => ValueType::Array(Box::new(build(nodes)), *len),
                Some(TypeNode::Tuple(n)) => {
                    ValueType::Tuple((0..*n).map(|_| build(nodes)).collect())
                }
                None => unreachable!("the shape was checked above"),
            }
        }
        Ok(build(&mut nodes.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINT: Scalar = Scalar::Int {
        bits: 64,
        signed: true,
    };

    #[test]
    fn names_follow_the_language() {
        let t = ValueType::Array(
            Box::new(ValueType::Array(Box::new(ValueType::Scalar(SINT)), 3)),
            2,
        );
        assert_eq!(t.name(true), "sint64[2][3]");
        let pair = ValueType::Tuple(vec![
            ValueType::Scalar(Scalar::Fix),
            ValueType::Scalar(Scalar::Bool),
        ]);
        assert_eq!(pair.name(false), "(fix, bool)");
    }

    #[test]
    fn flat_encoding_round_trips() {
        let t = ValueType::Tuple(vec![
            ValueType::Array(Box::new(ValueType::Scalar(SINT)), 4),
            ValueType::Scalar(Scalar::Bool),
        ]);
        let flat: Vec<TypeNode> = t.clone().into();
        assert_eq!(ValueType::try_from(flat), Ok(t));
    }

    #[test]
    fn malformed_flat_types_are_rejected() {
        assert_eq!(ValueType::try_from(vec![]), Err(TypeError::Malformed));
        assert_eq!(
            ValueType::try_from(vec![TypeNode::Array(3)]),
            Err(TypeError::Malformed)
        );
        let two_roots = vec![TypeNode::Scalar(SINT), TypeNode::Scalar(SINT)];
        assert_eq!(ValueType::try_from(two_roots), Err(TypeError::Malformed));
        let deep: Vec<TypeNode> = (0..10_000).map(|_| TypeNode::Array(1)).collect();
        assert_eq!(ValueType::try_from(deep), Err(TypeError::Malformed));
        let odd = vec![TypeNode::Scalar(Scalar::Int {
            bits: 7,
            signed: true,
        })];
        assert_eq!(ValueType::try_from(odd), Err(TypeError::BadScalar));
    }

    #[test]
    fn element_counts_refuse_overflow() {
        let big = ValueType::Array(
            Box::new(ValueType::Array(
                Box::new(ValueType::Scalar(SINT)),
                u32::MAX,
            )),
            u32::MAX,
        );
        assert_eq!(big.element_count(), None);
    }

    #[test]
    fn normalize_sign_extends_signed_and_masks_unsigned() {
        let i8t = Scalar::Int {
            bits: 8,
            signed: true,
        };
        let u8t = Scalar::Int {
            bits: 8,
            signed: false,
        };
        assert_eq!(i8t.normalize(0x1ff) as i64, -1);
        assert_eq!(u8t.normalize(0x1ff), 0xff);
    }
}
