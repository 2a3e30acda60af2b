//! Values of the template language: known, symbolic, or unknown.
//!
//! A string that is not known before deployment but is the same everywhere in
//! one deployment scope (the subscription ID, a parameter without a value, and
//! strings built from them) is a symbolic [`Text`]: comparisons decide whenever
//! the answer holds for every value its symbols could take. A value that cannot
//! be known at all (`reference()` of something outside the template, `list*()`)
//! is `Unknown` carrying why. Nothing is ever guessed.

pub mod text;

use indexmap::IndexMap;
use serde_json::Value as Json;
use std::sync::Arc;
pub use text::{Atom, Shape, Str, Str2, Text, TextBuilder};

/// An ARM object: insertion-ordered; keys compare case-insensitively on lookup.
pub type Map = IndexMap<String, Value>;

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// ARM integers are 64-bit.
    Int(i64),
    /// Only from `json()`/`float()` or non-integer JSON literals.
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map),
    /// A string with symbolic parts (at least one symbol).
    Text(Text),
    /// One of several values (an `if()` whose condition cannot be decided).
    Choice(Arc<Choice>),
    /// Not knowable statically; the string says why.
    Unknown(String),
}

impl Value {
    /// An unknown value with a reason.
    pub fn unknown(why: impl Into<String>) -> Self {
        Value::Unknown(why.into())
    }

    /// True for `Unknown`.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// The first reason an unknown is found in this value, searching nested values.
    pub fn unknown_reason(&self) -> Option<&str> {
        match self {
            Value::Unknown(why) => Some(why),
            Value::Array(items) => items.iter().find_map(Value::unknown_reason),
            Value::Object(map) => map.values().find_map(Value::unknown_reason),
            _ => None,
        }
    }

    /// Why this value (or a value nested in it) is not fully known: an unknown's
    /// reason, or what a symbolic string depends on. `None` for a fully known value.
    pub fn opaque_reason(&self) -> Option<String> {
        match self {
            Value::Unknown(why) => Some(why.clone()),
            Value::Text(t) => Some(t.reason()),
            Value::Choice(c) => Some(format!("one of several values ({})", c.why)),
            Value::Array(items) => items.iter().find_map(Value::opaque_reason),
            Value::Object(map) => map.values().find_map(Value::opaque_reason),
            _ => None,
        }
    }

    /// A string, plain or symbolic.
    pub fn as_str2(&self) -> Option<Str<'_>> {
        match self {
            Value::String(s) => Some(Str::Lit(s)),
            Value::Text(t) => Some(Str::Text(t)),
            _ => None,
        }
    }

    /// The ARM type name, as `string`, `int`, `bool`, `array`, `object`, `null`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) | Value::Text(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Choice(c) => c.options.first().map_or("unknown", Value::type_name),
            Value::Unknown(_) => "unknown",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is one (a float with no fraction counts).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Property lookup as ARM does it: exact key first, then case-insensitive.
    pub fn get(&self, key: &str) -> Option<&Value> {
        get_ci(self.as_object()?, key)
    }

    /// Follows a path of property names (case-insensitive).
    pub fn path(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    /// Converts to JSON; an unknown becomes `{"$unknown": "<why>"}` (CLI.md), a
    /// symbolic string `{"$symbolic": "<text with {symbols}>"}` (see [`Text::display`]),
    /// a choice `{"$oneOf": [...], "because": "<what decides>"}`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(a) => Json::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(o) => {
                Json::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Text(t) => {
                let mut m = serde_json::Map::new();
                m.insert("$symbolic".into(), Json::String(t.display()));
                Json::Object(m)
            }
            Value::Choice(c) => {
                let mut m = serde_json::Map::new();
                m.insert(
                    "$oneOf".into(),
                    Json::Array(c.options.iter().map(Value::to_json).collect()),
                );
                m.insert("because".into(), Json::String(c.why.clone()));
                Json::Object(m)
            }
            Value::Unknown(why) => {
                let mut m = serde_json::Map::new();
                m.insert("$unknown".into(), Json::String(why.clone()));
                Json::Object(m)
            }
        }
    }

    /// What a copy of this value costs in the evaluation budget (see
    /// [`crate::arm::limits::EVALUATION_BUDGET`]): one per value, one more per
    /// object member (its key and entry) and per 16 bytes of string or key. Counting stops once it passes `cap`, so
    /// weighing a huge value costs no more than the budget it would exceed.
    pub fn weight(&self, cap: u64) -> u64 {
        let mut total = 0u64;
        let mut stack = vec![self];
        while let Some(v) = stack.pop() {
            total += 1;
            match v {
                Value::String(s) => total += s.len() as u64 / 16,
                Value::Unknown(s) => total += s.len() as u64 / 16,
                Value::Array(a) => stack.extend(a.iter()),
                Value::Object(o) => {
                    for (k, x) in o {
                        total += 1 + k.len() as u64 / 16;
                        stack.push(x);
                    }
                }
                Value::Null
                | Value::Bool(_)
                | Value::Int(_)
                | Value::Float(_)
                | Value::Text(_)
                | Value::Choice(_) => {}
            }
            if total > cap {
                break;
            }
        }
        total
    }

    /// About how many bytes this value takes as compact JSON in a deployment
    /// (ARM's size limits): exact for plain values, an estimate for symbolic,
    /// unknown and choice values. Counting stops once it passes `cap`.
    pub fn json_len(&self, cap: usize) -> usize {
        let mut total = 0usize;
        let mut stack = vec![self];
        while let Some(v) = stack.pop() {
            total += match v {
                Value::Null => 4,
                Value::Bool(b) => 4 + usize::from(!*b),
                // Digits (and sign) without formatting the number.
                Value::Int(i) => {
                    usize::from(*i < 0)
                        + i.unsigned_abs()
                            .checked_ilog10()
                            .map_or(1, |d| d as usize + 1)
                }
                Value::Float(f) => f.to_string().len(),
                // Quotes; escapes are rare in templates and not counted.
                Value::String(s) => s.len() + 2,
                Value::Unknown(s) => s.len() + 2,
                Value::Text(t) => t.display().len() + 2,
                Value::Choice(c) => {
                    stack.extend(c.options.iter().take(1));
                    0
                }
                Value::Array(a) => {
                    stack.extend(a.iter());
                    2 + a.len().saturating_sub(1)
                }
                Value::Object(o) => {
                    for (k, x) in o {
                        total += k.len() + 3;
                        stack.push(x);
                    }
                    2 + o.len().saturating_sub(1)
                }
            };
            if total > cap {
                break;
            }
        }
        total
    }

    /// Shown in messages: a string as is, a symbolic string with its symbols in
    /// braces, anything else as compact JSON.
    pub fn display(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::Text(t) => t.display(),
            other => other.to_json().to_string(),
        }
    }
}

/// Several values one of which the deployment will have: rules decide when their
/// verdict is the same for each.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// What decides between them (the undecidable condition).
    pub why: String,
    /// The values, at least two, none a choice itself.
    pub options: Vec<Value>,
}

/// Most options a choice holds; beyond it the value is unknown (bounds the work
/// of distributing functions and rules over choices).
pub const MAX_OPTIONS: usize = 8;

impl Value {
    /// One of `options` (flattened, duplicates removed): the value itself when only
    /// one is left, Unknown when there are more than [`MAX_OPTIONS`].
    pub fn choice(why: impl Into<String>, options: Vec<Value>) -> Value {
        let why = why.into();
        let mut flat: Vec<Value> = Vec::with_capacity(options.len());
        for o in options {
            let items = match o {
                Value::Choice(c) => c.options.clone(),
                other => vec![other],
            };
            for v in items {
                if !flat.contains(&v) {
                    flat.push(v);
                }
            }
        }
        match flat.len() {
            0 => Value::Null,
            1 => flat.pop().unwrap_or(Value::Null),
            n if n > MAX_OPTIONS => {
                Value::Unknown(format!("one of more than {MAX_OPTIONS} values: {why}"))
            }
            _ => Value::Choice(Arc::new(Choice { why, options: flat })),
        }
    }
}

/// Case-insensitive lookup in an ARM object (exact match wins).
pub fn get_ci<'a>(map: &'a Map, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl From<&Json> for Value {
    fn from(json: &Json) -> Self {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(a) => Value::Array(a.iter().map(Value::from).collect()),
            Json::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_is_case_insensitive_and_round_trips() {
        let v = Value::from(&json!({"Properties": {"enablePurgeProtection": true}, "n": 1.5}));
        assert_eq!(
            v.path(&["properties", "ENABLEPURGEPROTECTION"]),
            Some(&Value::Bool(true))
        );
        assert_eq!(
            v.to_json(),
            json!({"Properties": {"enablePurgeProtection": true}, "n": 1.5})
        );
    }

    #[test]
    fn json_len_is_the_compact_json_length_and_stops_at_its_cap() {
        let j = json!({"name": "kv1", "n": [1, -20, 3.5, true, false, null], "o": {}, "a": []});
        let v = Value::from(&j);
        assert_eq!(v.json_len(usize::MAX), j.to_string().len());
        let big = Value::Array(vec![Value::String("x".repeat(100)); 1000]);
        let capped = big.json_len(500);
        assert!(
            capped > 500 && capped < big.json_len(usize::MAX) / 10,
            "{capped}"
        );
    }

    #[test]
    fn weight_counts_values_members_and_string_bytes() {
        // 1 object + 2 members (key and entry each) + 2 values + 32 bytes / 16.
        let v = Value::from(&json!({"a": 1, "b": "0123456789abcdef0123456789abcdef"}));
        assert_eq!(v.weight(u64::MAX), 1 + 2 + 2 + 2);
        let big = Value::Array(vec![Value::Int(0); 10_000]);
        assert!(big.weight(100) <= 102);
    }

    #[test]
    fn unknown_is_written_with_its_reason() {
        let v = Value::Array(vec![
            Value::Int(1),
            Value::unknown("reference() needs a deployed resource"),
        ]);
        assert_eq!(
            v.unknown_reason(),
            Some("reference() needs a deployed resource")
        );
        assert_eq!(
            v.to_json(),
            json!([1, {"$unknown": "reference() needs a deployed resource"}])
        );
    }
}
