//! Numeric functions. ARM integers are 64-bit; overflow is an error, not a wrap.

use super::ast::ExprSpan;
use super::eval::{want_int, Dispatch, Evaluator, Fault};
use crate::value::Value;

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("add", 2, 2),
    ("div", 2, 2),
    ("float", 1, 1),
    ("int", 1, 1),
    ("max", 1, usize::MAX),
    ("min", 1, usize::MAX),
    ("mod", 2, 2),
    ("mul", 2, 2),
    ("sub", 2, 2),
];

pub(super) fn call(
    _ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let overflow = || Fault::invalid(span, format!("{f}() overflows a 64-bit integer"));
    let out = match name {
        "add" | "sub" | "mul" | "div" | "mod" => {
            let (a, b) = (want_int(&args, 0, f, span)?, want_int(&args, 1, f, span)?);
            let r = match name {
                "add" => a.checked_add(b),
                "sub" => a.checked_sub(b),
                "mul" => a.checked_mul(b),
                _ if b == 0 => return Err(Fault::invalid(span, format!("{f}() divides by zero"))),
                "div" => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            Value::Int(r.ok_or_else(overflow)?)
        }
        "int" => match args.first() {
            Some(Value::String(s)) => Value::Int(
                s.trim()
                    .parse()
                    .map_err(|_| Fault::invalid(span, format!("int() cannot convert '{s}'")))?,
            ),
            Some(Value::Float(x)) => Value::Int(x.trunc() as i64),
            Some(v) => Value::Int(want_int(std::slice::from_ref(v), 0, f, span)?),
            None => Value::Null,
        },
        "float" => match args.first() {
            Some(Value::String(s)) => Value::Float(
                s.trim()
                    .parse()
                    .map_err(|_| Fault::invalid(span, format!("float() cannot convert '{s}'")))?,
            ),
            Some(Value::Int(i)) => Value::Float(*i as f64),
            Some(Value::Float(x)) => Value::Float(*x),
            Some(v) => {
                return Err(Fault::invalid(
                    span,
                    format!("float() cannot convert {}", v.type_name()),
                ))
            }
            None => Value::Null,
        },
        "min" | "max" => {
            let items: Vec<Value> = match args.as_slice() {
                [Value::Array(a)] => a.clone(),
                other => other.to_vec(),
            };
            if let Some(u) = items.iter().find(|v| v.is_unknown()) {
                return Ok(Dispatch::Done(u.clone()));
            }
            if let Some(why) = items
                .iter()
                .find(|v| matches!(v, Value::Choice(_)))
                .and_then(Value::opaque_reason)
            {
                return Ok(Dispatch::Done(Value::Unknown(why)));
            }
            let mut best: Option<i64> = None;
            for (i, _) in items.iter().enumerate() {
                let x = want_int(&items, i, f, span)?;
                best = Some(match best {
                    None => x,
                    Some(b) if name == "min" => b.min(x),
                    Some(b) => b.max(x),
                });
            }
            best.map_or(Value::Null, Value::Int)
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}
