//! Lambda functions: map, filter, reduce, sort, toObject, mapValues, groupBy.

use super::ast::Call;
use super::eval::{to_arm_string, Evaluator, Fault, R};
use crate::value::{Map, Value};

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("filter", 2, 2),
    ("groupby", 2, 2),
    ("lambda", 2, usize::MAX),
    ("lambdavariables", 1, 1),
    ("map", 2, 2),
    ("mapvalues", 2, 2),
    ("reduce", 3, 3),
    ("sort", 2, 2),
    ("toobject", 2, 3),
];

fn array_arg(ev: &Evaluator<'_, '_>, c: &Call) -> Result<Result<Vec<Value>, Value>, Fault> {
    let Some(first) = c.args.first() else {
        return Err(Fault::invalid(
            c.span,
            format!("{}() needs an array", c.name),
        ));
    };
    match ev.eval(first)? {
        Value::Array(a) => Ok(Ok(a)),
        u @ Value::Unknown(_) => Ok(Err(u)),
        Value::Choice(ch) => Ok(Err(Value::unknown(format!(
            "{}() of a value that depends on {}",
            c.name, ch.why
        )))),
        Value::Null if c.lname == "mapvalues" => Ok(Err(Value::Null)),
        v => Err(Fault::invalid(
            first.span(),
            format!("{}() needs an array, not {}", c.name, v.type_name()),
        )),
    }
}

fn lambda_at<'x>(
    ev: &Evaluator<'_, '_>,
    c: &'x Call,
    i: usize,
    want: usize,
) -> Result<super::eval::Lambda<'x>, Fault> {
    let e = c
        .args
        .get(i)
        .ok_or_else(|| Fault::invalid(c.span, format!("{}() needs a lambda", c.name)))?;
    ev.lambda(e, want, &c.name)
}

fn truthy(v: &Value, c: &Call) -> Result<Option<bool>, Fault> {
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Unknown(_) => Ok(None),
        v => Err(Fault::invalid(
            c.span,
            format!(
                "the lambda of {}() must return a boolean, not {}",
                c.name,
                v.type_name()
            ),
        )),
    }
}

pub(super) fn call(ev: &Evaluator<'_, '_>, c: &Call) -> R {
    if c.lname == "mapvalues" {
        let Some(first) = c.args.first() else {
            return Err(Fault::invalid(c.span, "mapValues() needs an object"));
        };
        let obj = match ev.eval(first)? {
            Value::Object(o) => o,
            u @ Value::Unknown(_) => return Ok(u),
            Value::Choice(ch) => {
                return Ok(Value::unknown(format!(
                    "mapValues() of a value that depends on {}",
                    ch.why
                )))
            }
            v => {
                return Err(Fault::invalid(
                    first.span(),
                    format!("mapValues() needs an object, not {}", v.type_name()),
                ))
            }
        };
        let l = lambda_at(ev, c, 1, 1)?;
        let mut out = Map::with_capacity(obj.len());
        for (k, v) in obj {
            out.insert(k, ev.apply(&l, &[v])?);
        }
        return Ok(Value::Object(out));
    }
    let items = match array_arg(ev, c)? {
        Ok(a) => a,
        Err(u) => return Ok(u),
    };
    match c.lname.as_ref() {
        "map" => {
            let l = lambda_at(ev, c, 1, 2)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, x) in items.into_iter().enumerate() {
                out.push(ev.apply(&l, &[x, Value::Int(i as i64)])?);
            }
            Ok(Value::Array(out))
        }
        "filter" => {
            let l = lambda_at(ev, c, 1, 2)?;
            let mut out = Vec::new();
            for (i, x) in items.into_iter().enumerate() {
                let keep = ev.apply(&l, &[x.clone(), Value::Int(i as i64)])?;
                match truthy(&keep, c)? {
                    Some(true) => out.push(x),
                    Some(false) => {}
                    None => return Ok(keep),
                }
            }
            Ok(Value::Array(out))
        }
        "reduce" => {
            let init = match c.args.get(1) {
                Some(e) => ev.eval(e)?,
                None => Value::Null,
            };
            let l = lambda_at(ev, c, 2, 3)?;
            let mut acc = init;
            for (i, x) in items.into_iter().enumerate() {
                acc = ev.apply(&l, &[acc, x, Value::Int(i as i64)])?;
            }
            Ok(acc)
        }
        "sort" => {
            let l = lambda_at(ev, c, 1, 2)?;
            // Insertion sort through the lambda: a fault or unknown stops it cleanly
            // (a comparator that errors cannot be used with slice::sort_by).
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for x in items {
                let mut pos = out.len();
                while pos > 0 {
                    let prev = out.get(pos - 1).cloned().unwrap_or(Value::Null);
                    let less = ev.apply(&l, &[x.clone(), prev])?;
                    match truthy(&less, c)? {
                        Some(true) => pos -= 1,
                        Some(false) => break,
                        None => return Ok(less),
                    }
                }
                out.insert(pos, x);
            }
            Ok(Value::Array(out))
        }
        "toobject" => {
            let key = lambda_at(ev, c, 1, 1)?;
            let value = match c.args.get(2) {
                Some(_) => Some(lambda_at(ev, c, 2, 1)?),
                None => None,
            };
            let mut out = Map::with_capacity(items.len());
            for x in items {
                let k = ev.apply(&key, std::slice::from_ref(&x))?;
                let k = match k {
                    Value::String(s) => s,
                    u @ Value::Unknown(_) => return Ok(u),
                    v => {
                        return Err(Fault::invalid(
                            c.span,
                            format!("toObject() keys must be strings, not {}", v.type_name()),
                        ))
                    }
                };
                let v = match &value {
                    Some(l) => ev.apply(l, &[x])?,
                    None => x,
                };
                out.insert(k, v);
            }
            Ok(Value::Object(out))
        }
        _ => {
            // groupBy
            let l = lambda_at(ev, c, 1, 1)?;
            let mut out = Map::new();
            for x in items {
                let k = ev.apply(&l, std::slice::from_ref(&x))?;
                if let Value::Unknown(_) = k {
                    return Ok(k);
                }
                let key = to_arm_string(&k);
                match out.get_mut(&key) {
                    Some(Value::Array(a)) => a.push(x),
                    _ => {
                        out.insert(key, Value::Array(vec![x]));
                    }
                }
            }
            Ok(Value::Object(out))
        }
    }
}
