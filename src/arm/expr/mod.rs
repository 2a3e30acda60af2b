//! The template expression language: lexer, parser (AST with byte offsets in the
//! string), evaluator, and one file per family of functions.

pub mod ast;
pub mod eval;
pub mod index;
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

/// FNV-1a: function names are short and trusted-shape; SipHash's DoS resistance
/// is not needed for a fixed table, and lookups happen for every call parsed.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Table = HashMap<&'static str, (usize, usize), std::hash::BuildHasherDefault<Fnv>>;

/// Every built-in function name (lower case) with its minimum and maximum argument count.
fn table() -> &'static Table {
    const CORE: &[(&str, usize, usize)] = &[
        ("parameters", 1, 1),
        ("variables", 1, 1),
        ("copyindex", 0, 2),
    ];
    static TABLE: OnceLock<Table> = OnceLock::new();
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
