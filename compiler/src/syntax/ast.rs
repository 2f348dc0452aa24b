//! The untyped syntax tree. Every node carries the [`Span`] of the source it came from;
//! nothing here is resolved or typed (types are checked per call site while elaborating).

use std::rc::Rc;

use crate::source::Span;

/// A parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// Top-level statements, in order.
    pub body: Vec<Stmt>,
}

/// A name with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: Rc<str>,
    /// Where it is written.
    pub span: Span,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Its whole extent (for compound statements: the header line through the block).
    pub span: Span,
}

/// The statements of LANGUAGE.md §4.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect (`output(x)`).
    Expr(Expr),
    /// `target = value`; `target` is a name, a subscript chain `a[i][j]`, or a tuple of
    /// those (`q, r = f(a)`), as an expression whose validity the elaborator checks.
    Assign {
        /// Left-hand side.
        target: Expr,
        /// Right-hand side.
        value: Expr,
    },
    /// `target op= value`.
    AugAssign {
        /// Left-hand side (a name or subscript chain).
        target: Expr,
        /// The operator before `=`.
        op: BinOp,
        /// Right-hand side.
        value: Expr,
    },
    /// `if c: ... elif d: ... else: ...`: the `(condition, block)` pairs in order.
    If {
        /// `if` and each `elif`.
        branches: Vec<(Expr, Vec<Stmt>)>,
        /// The `else` block, if any.
        orelse: Option<Vec<Stmt>>,
    },
    /// `for var in iter: body`.
    For {
        /// The loop variable.
        var: Ident,
        /// `range(...)` or an array.
        iter: Expr,
        /// The block.
        body: Vec<Stmt>,
    },
    /// `while cond: body`.
    While {
        /// The condition, a compile-time `bool`.
        cond: Expr,
        /// The block.
        body: Vec<Stmt>,
    },
    /// `def name(params) -> ret: body`.
    Def(Rc<FunctionDef>),
    /// `return`, `return e`, `return a, b` (a [`ExprKind::Tuple`]).
    Return(Option<Expr>),
    /// `pass`.
    Pass,
    /// `import module` or `import module as alias`.
    Import {
        /// The module's name.
        module: Ident,
        /// The local name, if renamed.
        alias: Option<Ident>,
    },
    /// `from module import a, b as c`.
    FromImport {
        /// The module's name.
        module: Ident,
        /// Imported names with their optional local names.
        names: Vec<(Ident, Option<Ident>)>,
    },
    /// A statement that did not parse; its error was already reported.
    Error,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// The name.
    pub name: Ident,
    /// The parameters.
    pub params: Vec<Param>,
    /// The annotated return type, if any.
    pub ret: Option<Expr>,
    /// The body.
    pub body: Vec<Stmt>,
    /// The `def` line through the block.
    pub span: Span,
}

/// A parameter: `name` or `name: type`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The name.
    pub name: Ident,
    /// The annotation, a type expression such as `sint` or `sint[N]`; `None` makes the
    /// parameter generic.
    pub ty: Option<Expr>,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its extent.
    pub span: Span,
}

/// The expressions of LANGUAGE.md §3. Type expressions (`sint[4]`, `(sint, sbool)`) are
/// ordinary expressions here: names, subscripts and tuples.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal (`42`, `0x2a`, `0b101`, `1_000`).
    Int(u64),
    /// A fixed-point literal (`2.75`, `1e-3`).
    Fix(f64),
    /// A string literal, without quotes or escapes processed beyond `\"` and `\\`.
    Str(Rc<str>),
    /// `True` or `False`.
    Bool(bool),
    /// A name.
    Name(Rc<str>),
    /// `module.name`.
    Attr(Box<Expr>, Ident),
    /// `-x`, `+x`, `~x`, `not x`.
    Unary(UnOp, Box<Expr>),
    /// `a op b` for arithmetic, bitwise and shift operators.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a op b` for one comparison; the parser turns `a < b < c` into
    /// `(a < b) and (b < c)`, as Python does.
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `a and b`, `a or b`.
    Logic(LogicOp, Box<Expr>, Box<Expr>),
    /// `then if cond else otherwise`.
    IfElse {
        /// The condition.
        cond: Box<Expr>,
        /// Value when true.
        then: Box<Expr>,
        /// Value when false.
        otherwise: Box<Expr>,
    },
    /// `func(args, name=value)`.
    Call {
        /// The callee (a name, `module.name`, or a type such as `sint32`).
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments in order.
        kwargs: Vec<(Ident, Expr)>,
    },
    /// `value[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// `value[lo:hi]` (either bound may be missing).
    Slice {
        /// The sliced value.
        value: Box<Expr>,
        /// Lower bound.
        lo: Option<Box<Expr>>,
        /// Upper bound.
        hi: Option<Box<Expr>>,
    },
    /// `[a, b, c]`.
    List(Vec<Expr>),
    /// `(a, b)` or `a, b` where a tuple is allowed.
    Tuple(Vec<Expr>),
    /// `[elt for var in iter]`.
    ListComp {
        /// The element expression.
        elt: Box<Expr>,
        /// The loop variable.
        var: Ident,
        /// `range(...)` or an array.
        iter: Box<Expr>,
    },
}

/// Unary operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `+x`
    Pos,
    /// `~x`
    Invert,
    /// `not x`
    Not,
}

/// Binary arithmetic, bitwise and shift operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (fixed point)
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
        }
    }
}

/// Comparison operators.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// `and` / `or`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogicOp {
    /// `and`
    And,
    /// `or`
    Or,
}
