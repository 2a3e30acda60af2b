//! Every expression string of a document, parsed once. The syntax pass, the
//! evaluator and the rules that read expressions (ARM005, ARM008, ARM010) all
//! ask here, so a large template is parsed once rather than once per reader.

use super::ast::Expr;
use super::parser::{is_expression, parse_expression, ParseError};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// A parsed expression string, or why it does not parse; shared.
pub type ParsedExpr = Arc<Result<Expr, ParseError>>;

/// A map keyed by a string's address and length.
pub type AddrMap<V> = HashMap<(usize, usize), V, BuildHasherDefault<AddrHasher>>;

/// FxHash-style mixing for address keys: they are not attacker-chosen, so
/// SipHash's flooding resistance buys nothing, and it cost more than the lookup.
#[derive(Default)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The parsed expressions of one document, keyed by the address and length of
/// the JSON string holding them: a document's value is never changed after
/// parsing, so an address names one string for the document's lifetime.
#[derive(Debug, Default)]
pub struct ExprIndex {
    parsed: AddrMap<ParsedExpr>,
}

impl ExprIndex {
    /// Parses every expression string under `v`.
    pub fn build(v: &Json) -> Self {
        let mut index = ExprIndex::default();
        index.add(v);
        index
    }

    fn add(&mut self, v: &Json) {
        match v {
            Json::String(s) if is_expression(s) => {
                self.parsed.insert(key(s), Arc::new(parse_expression(s)));
            }
            Json::Array(a) => a.iter().for_each(|x| self.add(x)),
            Json::Object(o) => o.values().for_each(|x| self.add(x)),
            _ => {}
        }
    }

    /// The parse of `s`, when `s` is an expression string of the indexed
    /// document (not a copy of one: the lookup is by address).
    pub fn get(&self, s: &str) -> Option<&ParsedExpr> {
        self.parsed.get(&key(s))
    }

    /// The expression `s` holds, if it is an expression of the indexed document
    /// that parses.
    pub fn expr(&self, s: &str) -> Option<&Expr> {
        self.get(s).and_then(|p| p.as_ref().as_ref().ok())
    }
}

fn key(s: &str) -> (usize, usize) {
    (s.as_ptr() as usize, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_expressions_by_address_not_content() {
        let v = serde_json::json!({"a": "[concat('x')]", "b": ["[[literal]", "plain", "[bad(]"]});
        let index = ExprIndex::build(&v);
        let a = v["a"].as_str().unwrap();
        assert!(matches!(index.expr(a), Some(Expr::Call(c)) if c.lname == "concat"));
        // A copy of the same text is another string.
        let copy = String::from(a);
        assert!(index.get(copy.as_str()).is_none());
        assert!(index.get(v["b"][0].as_str().unwrap()).is_none());
        assert!(index.get(v["b"][1].as_str().unwrap()).is_none());
        let bad = index.get(v["b"][2].as_str().unwrap()).unwrap();
        assert!(bad.is_err());
    }
}
