//! Object functions (and `union`/`intersection`, which also take arrays).

use super::ast::ExprSpan;
use super::eval::{want_array, want_str, Dispatch, Evaluator, Fault};
use super::logic::equal;
use crate::value::{get_ci, Map, Value};

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("createobject", 0, usize::MAX),
    ("intersection", 2, usize::MAX),
    ("items", 1, 1),
    ("json", 1, 1),
    ("null", 0, 0),
    ("objectkeys", 1, 1),
    ("shallowmerge", 1, 1),
    ("tryget", 2, usize::MAX),
    ("union", 1, usize::MAX),
];

pub(super) fn call(
    _ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let out = match name {
        "createobject" => {
            if args.len() % 2 != 0 {
                return Err(Fault::invalid(
                    span,
                    "createObject() takes key/value pairs (an even number of arguments)",
                ));
            }
            let mut map = Map::with_capacity(args.len() / 2);
            let mut it = args.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                match k {
                    Value::String(k) => {
                        map.insert(k, v);
                    }
                    Value::Unknown(why) => {
                        return Ok(Dispatch::Done(Value::unknown(format!(
                            "object key is unknown: {why}"
                        ))))
                    }
                    Value::Text(t) => {
                        return Ok(Dispatch::Done(Value::unknown(format!(
                            "object key {}",
                            t.reason()
                        ))))
                    }
                    k => {
                        return Err(Fault::invalid(
                            span,
                            format!("createObject() keys must be strings, not {}", k.type_name()),
                        ))
                    }
                }
            }
            Value::Object(map)
        }
        "json" => match args.first() {
            Some(Value::String(s)) => super::string::parse_json(s, f, span)?,
            Some(u @ Value::Unknown(_)) => u.clone(),
            Some(v) if v.opaque_reason().is_some() => {
                Value::Unknown(v.opaque_reason().unwrap_or_default())
            }
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!("json() takes a string, not {}", v.type_name()),
                ))
            }
            None => Value::Null,
        },
        "null" => Value::Null,
        "items" => match args.first() {
            Some(u @ Value::Unknown(_)) => u.clone(),
            Some(Value::Object(o)) => {
                // ARM returns the entries sorted by key.
                let mut entries: Vec<(&String, &Value)> = o.iter().collect();
                entries.sort_by_key(|e| e.0.to_lowercase());
                Value::Array(
                    entries
                        .into_iter()
                        .map(|(k, v)| {
                            let mut m = Map::new();
                            m.insert("key".into(), Value::String(k.clone()));
                            m.insert("value".into(), v.clone());
                            Value::Object(m)
                        })
                        .collect(),
                )
            }
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!("items() takes an object, not {}", v.type_name()),
                ))
            }
            None => Value::Null,
        },
        "objectkeys" => match args.first() {
            Some(u @ Value::Unknown(_)) => u.clone(),
            Some(Value::Object(o)) => Value::Array(o.keys().cloned().map(Value::String).collect()),
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!("objectKeys() takes an object, not {}", v.type_name()),
                ))
            }
            None => Value::Null,
        },
        "shallowmerge" => {
            if let Some(u) = args.iter().find(|a| a.is_unknown()) {
                return Ok(Dispatch::Done(u.clone()));
            }
            let items = want_array(&args, 0, f, span)?;
            let mut out = Map::new();
            for it in items {
                match it {
                    Value::Object(o) => {
                        for (k, v) in o {
                            insert_ci(&mut out, k, v.clone());
                        }
                    }
                    Value::Null => {}
                    Value::Unknown(_) => return Ok(Dispatch::Done(it.clone())),
                    v => {
                        return Err(Fault::invalid(
                            span,
                            format!("shallowMerge() needs objects, found {}", v.type_name()),
                        ))
                    }
                }
            }
            Value::Object(out)
        }
        "tryget" => {
            let mut cur = match args.first() {
                Some(v) => v.clone(),
                None => Value::Null,
            };
            for k in args.iter().skip(1) {
                cur = match (&cur, k) {
                    (Value::Unknown(_), _) => return Ok(Dispatch::Done(cur)),
                    (_, Value::Unknown(_)) => return Ok(Dispatch::Done(k.clone())),
                    (Value::Object(_), Value::Text(t)) => {
                        return Ok(Dispatch::Done(Value::unknown(format!(
                            "tryGet() with a key that {}",
                            t.reason()
                        ))))
                    }
                    (Value::Object(o), Value::String(key)) => match get_ci(o, key) {
                        Some(v) => v.clone(),
                        None => return Ok(Dispatch::Done(Value::Null)),
                    },
                    (Value::Array(a), i) => match i
                        .as_i64()
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| a.get(i))
                    {
                        Some(v) => v.clone(),
                        None => return Ok(Dispatch::Done(Value::Null)),
                    },
                    (Value::Null, _) => return Ok(Dispatch::Done(Value::Null)),
                    (c, k) => {
                        return Err(Fault::invalid(
                            span,
                            format!(
                                "tryGet() cannot look up {} in {}",
                                k.type_name(),
                                c.type_name()
                            ),
                        ))
                    }
                };
            }
            cur
        }
        "union" => {
            if let Some(u) = args.iter().find(|a| a.is_unknown()) {
                return Ok(Dispatch::Done(u.clone()));
            }
            if args
                .iter()
                .all(|a| matches!(a, Value::Object(_) | Value::Null))
            {
                let mut out = Map::new();
                for a in args {
                    if let Value::Object(o) = a {
                        merge_deep(&mut out, o);
                    }
                }
                Value::Object(out)
            } else if args
                .iter()
                .all(|a| matches!(a, Value::Array(_) | Value::Null))
            {
                let mut out: Vec<Value> = Vec::new();
                for a in args {
                    if let Value::Array(items) = a {
                        for x in items {
                            if !out.iter().any(|y| equal(y, &x) == Some(true)) {
                                out.push(x);
                            }
                        }
                    }
                }
                Value::Array(out)
            } else {
                return Err(Fault::invalid(
                    span,
                    "union() takes all objects or all arrays",
                ));
            }
        }
        "intersection" => {
            if let Some(u) = args.iter().find(|a| a.is_unknown()) {
                return Ok(Dispatch::Done(u.clone()));
            }
            match args.first() {
                Some(Value::Object(first)) => {
                    let mut out = Map::new();
                    'keys: for (k, v) in first {
                        for other in args.iter().skip(1) {
                            let Value::Object(o) = other else {
                                return Err(Fault::invalid(
                                    span,
                                    "intersection() takes all objects or all arrays",
                                ));
                            };
                            if o.get(k).is_none_or(|w| equal(v, w) != Some(true)) {
                                continue 'keys;
                            }
                        }
                        out.insert(k.clone(), v.clone());
                    }
                    Value::Object(out)
                }
                Some(Value::Array(first)) => {
                    let mut out: Vec<Value> = Vec::new();
                    'items: for x in first {
                        for other in args.iter().skip(1) {
                            let Value::Array(o) = other else {
                                return Err(Fault::invalid(
                                    span,
                                    "intersection() takes all objects or all arrays",
                                ));
                            };
                            if !o.iter().any(|y| equal(x, y) == Some(true)) {
                                continue 'items;
                            }
                        }
                        if !out.iter().any(|y| equal(y, x) == Some(true)) {
                            out.push(x.clone());
                        }
                    }
                    Value::Array(out)
                }
                _ => {
                    return Err(Fault::invalid(
                        span,
                        "intersection() takes all objects or all arrays",
                    ))
                }
            }
        }
        _ => {
            let _ = want_str;
            return Ok(Dispatch::Next(args));
        }
    };
    Ok(Dispatch::Done(out))
}

fn insert_ci(map: &mut Map, k: &str, v: Value) {
    if let Some(existing) = map.keys().find(|e| e.eq_ignore_ascii_case(k)).cloned() {
        map.insert(existing, v);
    } else {
        map.insert(k.to_string(), v);
    }
}

/// `union()` of objects merges nested objects recursively; other values are replaced.
fn merge_deep(into: &mut Map, from: Map) {
    for (k, v) in from {
        let existing = into.keys().find(|e| e.eq_ignore_ascii_case(&k)).cloned();
        match (existing.and_then(|e| into.get_mut(&e)), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_deep(a, b),
            (Some(slot), v) => *slot = v,
            (None, v) => {
                into.insert(k, v);
            }
        }
    }
}
