//! The template expression language: lexer, parser (AST with byte offsets in the
//! string), evaluator, and one file per family of functions.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod refs;

mod array;
mod cidr;
mod date;
mod deployment;
mod lambda;
mod logic;
mod numeric;
mod object;
pub mod resource;
pub mod string;

pub use eval::{Engine, Evaluator, Fault, FaultKind, Frame, Limits, Ptr, Scope};
pub use parser::{parse_string, ParseError, Parsed};

/// Every built-in function name (lower case) with its minimum and maximum argument count.
pub fn signature(lname: &str) -> Option<(usize, usize)> {
    const CORE: &[(&str, usize, usize)] = &[
        ("parameters", 1, 1),
        ("variables", 1, 1),
        ("copyindex", 0, 2),
    ];
    [
        CORE,
        array::SIGS,
        cidr::SIGS,
        date::SIGS,
        deployment::SIGS,
        lambda::SIGS,
        logic::SIGS,
        numeric::SIGS,
        object::SIGS,
        resource::SIGS,
        string::SIGS,
    ]
    .iter()
    .flat_map(|t| t.iter())
    .find(|(n, _, _)| *n == lname)
    .map(|(_, lo, hi)| (*lo, *hi))
}

/// The finding for a call with the wrong number of arguments (one wording everywhere).
pub fn arity_message(name: &str, lo: usize, hi: usize, got: usize) -> String {
    let want = if lo == hi {
        format!("{lo}")
    } else if hi == usize::MAX {
        format!("at least {lo}")
    } else {
        format!("{lo} to {hi}")
    };
    let plural = if want == "1" { "" } else { "s" };
    format!("'{name}' takes {want} argument{plural}, got {got}")
}
