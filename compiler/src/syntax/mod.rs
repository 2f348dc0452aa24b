//! Text to syntax tree: the logos lexer ([`token`]), the layout pass that turns
//! indentation into NEWLINE/INDENT/DEDENT ([`layout`]) and the lalrpop parser
//! ([`parser`]).

pub mod ast;
pub mod layout;
pub mod parser;
pub mod token;

pub use parser::parse;
