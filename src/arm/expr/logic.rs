//! Comparison and logical functions; `if`, `and`, `or` and `coalesce` look at
//! their arguments lazily, as ARM does.

use super::ast::{Call, ExprSpan};
use super::eval::{Dispatch, Evaluator, Fault, R};
use crate::value::{get_ci, Value};
use std::cmp::Ordering;

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("and", 1, usize::MAX),
    ("bool", 1, 1),
    ("coalesce", 1, usize::MAX),
    ("equals", 2, 2),
    ("false", 0, 0),
    ("fail", 1, 1),
    ("greater", 2, 2),
    ("greaterorequals", 2, 2),
    ("if", 3, 3),
    ("less", 2, 2),
    ("lessorequals", 2, 2),
    ("not", 1, 1),
    ("or", 1, usize::MAX),
    ("true", 0, 0),
];

/// Deep equality as `equals()` does it: strings case-sensitive, numbers by value,
/// object keys case-insensitive. `None` when the answer depends on an unknown or
/// on what a symbolic string stands for.
pub fn equal(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Unknown(_), _) | (_, Value::Unknown(_)) => None,
        (Value::Choice(c), other) | (other, Value::Choice(c)) => {
            let mut answers = c.options.iter().map(|o| equal(o, other));
            let first = answers.next().flatten()?;
            answers.all(|x| x == Some(first)).then_some(first)
        }
        (Value::Text(_), _) | (_, Value::Text(_)) => match (a.as_str2(), b.as_str2()) {
            (Some(x), Some(y)) => x.equals(y, false),
            _ => Some(false),
        },
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => {
            Some((*x as f64) == *y)
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            let mut unknown = false;
            for (p, q) in x.iter().zip(y) {
                match equal(p, q) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            let mut unknown = false;
            for (k, p) in x {
                let Some(q) = get_ci(y, k) else {
                    return Some(false);
                };
                match equal(p, q) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        (x, y) => Some(x == y),
    }
}

fn truth(v: &Value, f: &str, span: ExprSpan) -> Result<Option<bool>, Fault> {
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        // A symbolic string could be "true" or "false".
        Value::Unknown(_) | Value::Text(_) => Ok(None),
        Value::Choice(c) => {
            let mut answers = Vec::with_capacity(c.options.len());
            for o in &c.options {
                answers.push(truth(o, f, span)?);
            }
            let first = answers.first().copied().flatten();
            Ok(first.filter(|b| answers.iter().all(|x| *x == Some(*b))))
        }
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        v => Err(Fault::invalid(
            span,
            format!("{f}() needs a boolean, not {}", v.type_name()),
        )),
    }
}

/// `if`, `and`, `or`, `coalesce`.
pub(super) fn lazy(ev: &Evaluator<'_, '_>, c: &Call) -> R {
    match c.lname.as_ref() {
        "if" => {
            let (Some(cond), Some(a), Some(b)) = (c.args.first(), c.args.get(1), c.args.get(2))
            else {
                return Err(Fault::invalid(c.span, "if() takes 3 arguments"));
            };
            let cv = ev.eval(cond)?;
            match truth(&cv, "if", cond.span())? {
                Some(true) => ev.eval(a),
                Some(false) => ev.eval(b),
                None => {
                    // Both branches are evaluated only to decide; a fault in either
                    // cannot be blamed on the template while the condition is unknown.
                    // A choice between the two: rules decide where the verdict is the same for both.
                    let why = format!(
                        "which branch of if() applies (its condition {})",
                        match cv.opaque_reason() {
                            Some(r) if r.starts_with("depends on") => r,
                            Some(r) => format!("is unknown: {r}"),
                            None => "is unknown".into(),
                        }
                    );
                    let (x, y) = (ev.eval(a), ev.eval(b));
                    match (x, y) {
                        (Ok(x), Ok(y)) if equal(&x, &y) == Some(true) => Ok(x),
                        (Ok(x), Ok(y)) => Ok(Value::choice(why, vec![x, y])),
                        (Err(e), _) | (_, Err(e)) if e.kind == super::eval::FaultKind::Limit => {
                            Err(e)
                        }
                        _ => Ok(Value::unknown(why)),
                    }
                }
            }
        }
        "and" | "or" => {
            let stop = c.lname == "or";
            let mut unknown = None;
            for a in &c.args {
                let v = ev.eval(a)?;
                match truth(&v, &c.name, a.span())? {
                    Some(b) if b == stop => return Ok(Value::Bool(stop)),
                    Some(_) => {}
                    None => {
                        unknown = unknown
                            .or_else(|| Some(Value::unknown(v.opaque_reason().unwrap_or_default())))
                    }
                }
            }
            Ok(unknown.unwrap_or(Value::Bool(!stop)))
        }
        _ => {
            // coalesce: the first non-null; an unknown before it makes the result unknown.
            for a in &c.args {
                let v = ev.eval(a)?;
                match v {
                    Value::Null => continue,
                    other => return Ok(other),
                }
            }
            Ok(Value::Null)
        }
    }
}

/// ARM's culture-aware string order: letters compare ignoring case first, then lower before upper.
fn compare_strings(a: &str, b: &str) -> Ordering {
    let primary = a.to_lowercase().cmp(&b.to_lowercase());
    if primary != Ordering::Equal {
        return primary;
    }
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            return match (x.is_lowercase(), y.is_lowercase()) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => x.cmp(&y),
            };
        }
    }
    Ordering::Equal
}

/// Orders two values the way `greater`/`less`/`sort` do.
pub fn compare(a: &Value, b: &Value, f: &str, span: ExprSpan) -> Result<Ordering, Fault> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(compare_strings(x, y)),
        (x, y) => match (num(x), num(y)) {
            (Some(p), Some(q)) => Ok(p.partial_cmp(&q).unwrap_or(Ordering::Equal)),
            _ => Err(Fault::invalid(
                span,
                format!(
                    "{f}() compares two integers or two strings, not {} and {}",
                    x.type_name(),
                    y.type_name()
                ),
            )),
        },
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

pub(super) fn call(
    _ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let a = args.first().unwrap_or(&Value::Null);
    let b = args.get(1).unwrap_or(&Value::Null);
    let out = match name {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "not" => match truth(a, f, span)? {
            Some(x) => Value::Bool(!x),
            None => Value::unknown(a.opaque_reason().unwrap_or_default()),
        },
        "bool" => match a {
            Value::Bool(x) => Value::Bool(*x),
            Value::Int(i) => Value::Bool(*i != 0),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" => Value::Bool(false),
            v => {
                return Err(Fault::invalid(
                    span,
                    format!("bool() cannot convert {}", v.type_name()),
                ))
            }
        },
        "equals" => match equal(a, b) {
            Some(x) => Value::Bool(x),
            None => Value::unknown("equals() compares an unknown value"),
        },
        "greater" => Value::Bool(compare(a, b, f, span)? == Ordering::Greater),
        "greaterorequals" => Value::Bool(compare(a, b, f, span)? != Ordering::Less),
        "less" => Value::Bool(compare(a, b, f, span)? == Ordering::Less),
        "lessorequals" => Value::Bool(compare(a, b, f, span)? != Ordering::Greater),
        "fail" => {
            return Err(Fault::invalid(
                span,
                format!(
                    "the template calls fail(): {}",
                    super::eval::to_arm_string(a)
                ),
            ))
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}
