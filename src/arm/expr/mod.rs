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

use std::collections::HashMap;
use std::sync::OnceLock;

pub use eval::{Engine, Evaluator, Fault, FaultKind, Frame, Limits, Ptr, Scope};
pub use parser::{parse_string, ParseError, Parsed};

/// Every built-in function name (lower case) with its minimum and maximum argument count.
fn table() -> &'static HashMap<&'static str, (usize, usize)> {
    const CORE: &[(&str, usize, usize)] = &[
        ("parameters", 1, 1),
        ("variables", 1, 1),
        ("copyindex", 0, 2),
    ];
    static TABLE: OnceLock<HashMap<&'static str, (usize, usize)>> = OnceLock::new();
    TABLE.get_or_init(|| {
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
        .map(|(n, lo, hi)| (*n, (*lo, *hi)))
        .collect()
    })
}

/// Minimum and maximum argument count of a built-in function (lower-case name).
pub fn signature(lname: &str) -> Option<(usize, usize)> {
    table().get(lname).copied()
}

/// The lower-case name of a built-in function, borrowed from the table (no
/// allocation: every call in every template goes through here).
pub fn builtin_name(name: &str) -> Option<&'static str> {
    let mut buf = [0u8; 48];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(lower).ok()?;
    table().get_key_value(lower).map(|(k, _)| *k)
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
