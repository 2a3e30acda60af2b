//! Array functions (several also take strings or objects, as ARM's do).

use super::ast::ExprSpan;
use super::eval::{deep_unknown, want_array, want_int, Dispatch, Evaluator, Fault};
use super::logic::equal;
use crate::value::{Str, TextBuilder, Value};

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("array", 1, 1),
    ("concat", 0, usize::MAX),
    ("contains", 2, 2),
    ("createarray", 0, usize::MAX),
    ("empty", 1, 1),
    ("first", 1, 1),
    ("flatten", 1, 1),
    ("indexfromend", 2, 2),
    ("indexof", 2, 2),
    ("lastindexof", 2, 2),
    ("last", 1, 1),
    ("length", 1, 1),
    ("range", 2, 2),
    ("skip", 2, 2),
    ("take", 2, 2),
    ("tryindexfromend", 2, 2),
];

pub(super) fn call(
    ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let out = match name {
        "array" => match args.into_iter().next() {
            Some(a @ Value::Array(_)) => a,
            Some(v) => Value::Array(vec![v]),
            None => Value::Array(Vec::new()),
        },
        "createarray" => Value::Array(args),
        "concat" => {
            if args.iter().any(|a| matches!(a, Value::Array(_))) {
                if let Some(u) = args.iter().find(|a| a.is_unknown()) {
                    return Ok(Dispatch::Done(u.clone()));
                }
                let mut out = Vec::new();
                for a in args {
                    match a {
                        Value::Array(items) => out.extend(items),
                        Value::Null => {}
                        v => {
                            return Err(Fault::invalid(
                                span,
                                format!("concat() cannot mix arrays and {}", v.type_name()),
                            ))
                        }
                    }
                    if out.len() > ev.engine.limits.max_array {
                        return Err(Fault::limit(span, "concat() builds too large an array"));
                    }
                }
                Value::Array(out)
            } else {
                let nested: Vec<Value> = args
                    .iter()
                    .filter(|a| !matches!(a, Value::Text(_)))
                    .cloned()
                    .collect();
                if let Some(u) = deep_unknown(&nested) {
                    return Ok(Dispatch::Done(u));
                }
                let mut out = TextBuilder::default();
                for a in &args {
                    match a {
                        Value::Text(t) => out.push(Str::Text(t)),
                        a => out.push_str(&super::eval::to_arm_string(a)),
                    }
                    if out.len() > ev.engine.limits.max_string {
                        return Err(Fault::limit(span, "concat() builds too long a string"));
                    }
                }
                out.finish()
            }
        }
        "contains" => {
            let (Some(container), Some(item)) = (args.first(), args.get(1)) else {
                return Err(Fault::invalid(span, "contains() takes 2 arguments"));
            };
            match (container, item) {
                (Value::Unknown(_), _) => container.clone(),
                (_, Value::Unknown(_)) => item.clone(),
                (Value::Text(t), Value::String(needle)) => match Str::Text(t).contains(needle) {
                    Some(b) => Value::Bool(b),
                    None => Value::unknown(format!("contains() of a string that {}", t.reason())),
                },
                (Value::Object(_), Value::Text(t))
                | (Value::String(_) | Value::Text(_), Value::Text(t)) => {
                    Value::unknown(format!("contains() of a string that {}", t.reason()))
                }
                (Value::Text(t), _) => {
                    Value::unknown(format!("contains() of a string that {}", t.reason()))
                }
                (Value::String(s), i) => Value::Bool(s.contains(&super::eval::to_arm_string(i))),
                (Value::Object(o), Value::String(k)) => {
                    Value::Bool(o.keys().any(|key| key.eq_ignore_ascii_case(k)))
                }
                (Value::Array(a), i) => {
                    let mut unknown = None;
                    let mut found = false;
                    for x in a {
                        match equal(x, i) {
                            Some(true) => {
                                found = true;
                                break;
                            }
                            Some(false) => {}
                            None => {
                                unknown = Some(Value::unknown("contains() compares unknown values"))
                            }
                        }
                    }
                    match (found, unknown) {
                        (true, _) => Value::Bool(true),
                        (false, Some(u)) => u,
                        (false, None) => Value::Bool(false),
                    }
                }
                (Value::Null, _) => Value::Bool(false),
                (c, _) => {
                    return Err(Fault::invalid(
                        span,
                        format!("contains() cannot search {}", c.type_name()),
                    ))
                }
            }
        }
        "empty" => match args.first() {
            Some(u @ Value::Unknown(_)) => u.clone(),
            Some(Value::Text(t)) => match t.is_empty() {
                Some(b) => Value::Bool(b),
                None => Value::unknown(format!("empty() of a string that {}", t.reason())),
            },
            Some(Value::Null) => Value::Bool(true),
            Some(Value::String(s)) => Value::Bool(s.is_empty()),
            Some(Value::Array(a)) => Value::Bool(a.is_empty()),
            Some(Value::Object(o)) => Value::Bool(o.is_empty()),
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!(
                        "empty() takes a string, array or object, not {}",
                        v.type_name()
                    ),
                ))
            }
            None => Value::Bool(true),
        },
        "first" | "last" => match args.into_iter().next() {
            Some(u @ Value::Unknown(_)) => u,
            Some(Value::Text(t)) => {
                let edge = if name == "first" {
                    t.parts().first()
                } else {
                    t.parts().last()
                };
                match edge {
                    Some(crate::value::text::Part::Lit(s)) => {
                        let c = if name == "first" {
                            s.chars().next()
                        } else {
                            s.chars().last()
                        };
                        Value::String(c.map(String::from).unwrap_or_default())
                    }
                    _ => Value::unknown(format!("{f}() of a string that {}", t.reason())),
                }
            }
            Some(Value::Array(mut a)) => {
                if name == "first" {
                    if a.is_empty() {
                        Value::Null
                    } else {
                        a.swap_remove(0)
                    }
                } else {
                    a.pop().unwrap_or(Value::Null)
                }
            }
            Some(Value::String(s)) => {
                let c = if name == "first" {
                    s.chars().next()
                } else {
                    s.chars().last()
                };
                Value::String(c.map(String::from).unwrap_or_default())
            }
            Some(Value::Null) => Value::Null,
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!("{f}() takes an array or string, not {}", v.type_name()),
                ))
            }
            None => Value::Null,
        },
        "flatten" => {
            let a = want_array(&args, 0, f, span)?;
            let mut out = Vec::new();
            for x in a {
                match x {
                    Value::Array(inner) => out.extend(inner.iter().cloned()),
                    Value::Null => {}
                    Value::Unknown(_) | Value::Choice(_) => {
                        return Ok(Dispatch::Done(Value::Unknown(
                            x.opaque_reason().unwrap_or_default(),
                        )))
                    }
                    v => {
                        return Err(Fault::invalid(
                            span,
                            format!(
                                "flatten() needs an array of arrays, found {}",
                                v.type_name()
                            ),
                        ))
                    }
                }
            }
            Value::Array(out)
        }
        "indexfromend" | "tryindexfromend" => {
            let a = want_array(&args, 0, f, span)?;
            let i = want_int(&args, 1, f, span)?;
            let len = a.len() as i64;
            if i >= 1 && i <= len {
                a.get((len - i) as usize).cloned().unwrap_or(Value::Null)
            } else if name == "tryindexfromend" {
                Value::Null
            } else {
                return Err(Fault::invalid(
                    span,
                    format!("indexFromEnd(): {i} is out of range for an array of {len}"),
                ));
            }
        }
        "indexof" | "lastindexof" => match (args.first(), args.get(1)) {
            (Some(Value::String(s)), Some(Value::String(t))) => {
                let (s, t) = (s.to_lowercase(), t.to_lowercase());
                let pos = if name == "indexof" {
                    s.find(&t)
                } else {
                    s.rfind(&t)
                };
                Value::Int(pos.map_or(-1, |p| s.get(..p).map_or(0, |x| x.chars().count()) as i64))
            }
            (Some(Value::Array(a)), Some(item)) => {
                let mut idx: Box<dyn Iterator<Item = (usize, &Value)>> = if name == "indexof" {
                    Box::new(a.iter().enumerate())
                } else {
                    Box::new(a.iter().enumerate().rev())
                };
                let mut result = Value::Int(-1);
                for (i, x) in &mut idx {
                    match equal(x, item) {
                        Some(true) => {
                            result = Value::Int(i as i64);
                            break;
                        }
                        Some(false) => {}
                        None => {
                            result = Value::unknown(format!("{f}() compares unknown values"));
                            break;
                        }
                    }
                }
                result
            }
            _ => {
                return Err(Fault::invalid(
                    span,
                    format!("{f}() takes (string, string) or (array, value)"),
                ))
            }
        },
        "length" => match args.first() {
            Some(u @ Value::Unknown(_)) => u.clone(),
            Some(Value::Text(t)) => match t.len() {
                Some(n) => Value::Int(n as i64),
                None => Value::unknown(format!("length() of a string that {}", t.reason())),
            },
            Some(Value::String(s)) => Value::Int(s.chars().count() as i64),
            Some(Value::Array(a)) => Value::Int(a.len() as i64),
            Some(Value::Object(o)) => Value::Int(o.len() as i64),
            Some(Value::Null) => Value::Int(0),
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!(
                        "length() takes a string, array or object, not {}",
                        v.type_name()
                    ),
                ))
            }
            None => Value::Int(0),
        },
        "range" => {
            let start = want_int(&args, 0, f, span)?;
            let count = want_int(&args, 1, f, span)?;
            // ARM's own limits: count 0..=10000 and start + count within int32.
            if !(0..=10_000).contains(&count) {
                return Err(Fault::limit(
                    span,
                    format!("range() count {count} is outside 0..10000"),
                ));
            }
            if start.saturating_add(count) > i64::from(i32::MAX) {
                return Err(Fault::invalid(
                    span,
                    "range() start + count exceeds 2147483647",
                ));
            }
            Value::Array((start..start + count).map(Value::Int).collect())
        }
        "skip" | "take" => {
            let n = want_int(&args, 1, f, span)?.max(0) as usize;
            match args.into_iter().next() {
                Some(Value::Array(a)) => Value::Array(if name == "skip" {
                    a.into_iter().skip(n).collect()
                } else {
                    a.into_iter().take(n).collect()
                }),
                Some(Value::String(s)) => Value::String(if name == "skip" {
                    s.chars().skip(n).collect()
                } else {
                    s.chars().take(n).collect()
                }),
                Some(v) => {
                    return Err(Fault::invalid(
                        span,
                        format!("{f}() takes an array or string, not {}", v.type_name()),
                    ))
                }
                None => Value::Null,
            }
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}
