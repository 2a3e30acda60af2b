//! String functions, including `guid()` and `uniqueString()` computed exactly as ARM does.

use super::ast::ExprSpan;
use super::eval::{deep_unknown, to_arm_string, want_int, want_str, Dispatch, Evaluator, Fault};
use crate::value::{Atom, Shape, Str, Text, TextBuilder, Value};
use base64::Engine as _;

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("base64", 1, 1),
    ("base64tojson", 1, 1),
    ("base64tostring", 1, 1),
    ("datauri", 1, 1),
    ("datauritostring", 1, 1),
    ("endswith", 2, 2),
    ("format", 1, usize::MAX),
    ("guid", 1, usize::MAX),
    ("newguid", 0, 0),
    ("padleft", 2, 3),
    ("replace", 3, 3),
    ("split", 2, 2),
    ("startswith", 2, 2),
    ("string", 1, 1),
    ("substring", 1, 3),
    ("tolower", 1, 1),
    ("toupper", 1, 1),
    ("trim", 1, 1),
    ("uniquestring", 1, usize::MAX),
    ("uri", 2, 2),
    ("uricomponent", 1, 1),
    ("uricomponenttostring", 1, 1),
    ("join", 2, 2),
];

pub(super) fn call(
    ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let s = |i| want_str(&args, i, f, span);
    let out = match name {
        "base64" => Value::String(base64::engine::general_purpose::STANDARD.encode(s(0)?)),
        "base64tostring" => Value::String(decode64(s(0)?, f, span)?),
        "base64tojson" => {
            let text = decode64(s(0)?, f, span)?;
            parse_json(&text, f, span)?
        }
        "datauri" => Value::String(format!(
            "data:text/plain;charset=utf8;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(s(0)?)
        )),
        "datauritostring" => {
            let uri = s(0)?;
            let (meta, data) = uri
                .split_once(',')
                .ok_or_else(|| Fault::invalid(span, "dataUriToString() needs a data URI"))?;
            if meta.ends_with(";base64") {
                Value::String(decode64(data, f, span)?)
            } else {
                Value::String(
                    percent_encoding::percent_decode_str(data)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            }
        }
        "endswith" | "startswith" => {
            let end = name == "endswith";
            match (args.first().and_then(Value::as_str2), args.get(1)) {
                (Some(text @ Str::Text(_)), Some(Value::String(affix))) => {
                    match text.has_affix(affix, end) {
                        Some(b) => Value::Bool(b),
                        None => Value::unknown(format!(
                            "{f}() of a string that {}",
                            args.first()
                                .and_then(Value::opaque_reason)
                                .unwrap_or_default()
                        )),
                    }
                }
                (_, Some(Value::Text(t))) | (Some(Str::Text(t)), _) => {
                    Value::unknown(format!("{f}() of a string that {}", t.reason()))
                }
                _ if end => Value::Bool(s(0)?.to_lowercase().ends_with(&s(1)?.to_lowercase())),
                _ => Value::Bool(s(0)?.to_lowercase().starts_with(&s(1)?.to_lowercase())),
            }
        }
        "format" => {
            let rest = args.get(1..).unwrap_or_default();
            let nested: Vec<Value> = rest
                .iter()
                .filter(|a| !matches!(a, Value::Text(_)))
                .cloned()
                .collect();
            if let Some(u) = deep_unknown(&nested) {
                return Ok(Dispatch::Done(u));
            }
            format_net(s(0)?, rest, span)?
        }
        "guid" | "uniquestring" => {
            if args.iter().any(|a| matches!(a, Value::Text(_))) {
                return Ok(Dispatch::Done(derived_symbol(name, f, &args, span)?));
            }
            let parts = strings(&args, f, span)?;
            if name == "guid" {
                Value::String(guid(&parts))
            } else {
                Value::String(unique_string(&parts))
            }
        }
        "newguid" => Value::unknown("newGuid() is different on every deployment"),
        "padleft" => {
            let text = match args.first() {
                Some(Value::String(t)) => t.clone(),
                Some(v @ (Value::Int(_) | Value::Float(_))) => to_arm_string(v),
                _ => s(0)?.to_string(),
            };
            let width = want_int(&args, 1, f, span)?;
            let pad = match args.get(2) {
                Some(_) => s(2)?.chars().next().unwrap_or(' '),
                None => ' ',
            };
            if width < 0 || width as usize > ev.engine.limits.max_string {
                return Err(Fault::limit(
                    span,
                    format!("padLeft() width {width} is out of range"),
                ));
            }
            let have = text.chars().count();
            let mut out = String::new();
            for _ in have..(width as usize) {
                out.push(pad);
            }
            out.push_str(&text);
            Value::String(out)
        }
        "replace" => {
            let from = s(1)?;
            if from.is_empty() {
                return Err(Fault::invalid(
                    span,
                    "replace() cannot replace an empty string",
                ));
            }
            let (text, to) = (s(0)?, s(2)?);
            let grow = to.len().saturating_sub(from.len());
            if grow > 0 && text.len().saturating_mul(grow + 1) > ev.engine.limits.max_string * 4 {
                return Err(Fault::limit(
                    span,
                    "replace() would build too long a string",
                ));
            }
            Value::String(text.replace(from, to))
        }
        "split" => {
            let delims: Vec<String> = match args.get(1) {
                Some(Value::String(d)) => vec![d.clone()],
                Some(Value::Array(a)) => a.iter().map(to_arm_string).collect(),
                _ => {
                    return Err(Fault::invalid(
                        span,
                        "split() delimiter must be a string or an array",
                    ))
                }
            };
            if let Some(Value::Text(t)) = args.first() {
                return Ok(Dispatch::Done(match t.split(&delims) {
                    Some(parts) => Value::Array(parts),
                    None => Value::unknown(format!(
                        "split() of a string that {}, which may hold the delimiter",
                        t.reason()
                    )),
                }));
            }
            let text = s(0)?;
            Value::Array(
                split_any(text, &delims)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            )
        }
        "string" => {
            if let Some(t @ Value::Text(_)) = args.first() {
                return Ok(Dispatch::Done(t.clone()));
            }
            if let Some(u) = deep_unknown(&args) {
                return Ok(Dispatch::Done(u));
            }
            Value::String(args.first().map(to_arm_string).unwrap_or_default())
        }
        "substring" => {
            let text = s(0)?;
            let chars: Vec<char> = text.chars().collect();
            let start = if args.len() > 1 {
                want_int(&args, 1, f, span)?
            } else {
                0
            };
            let len = if args.len() > 2 {
                want_int(&args, 2, f, span)?
            } else {
                chars.len() as i64 - start
            };
            if start < 0 || len < 0 || start.saturating_add(len) > chars.len() as i64 {
                return Err(Fault::invalid(
                    span,
                    format!(
                        "substring() start {start} and length {len} are outside the string of length {}",
                        chars.len()
                    ),
                ));
            }
            Value::String(
                chars
                    .iter()
                    .skip(start as usize)
                    .take(len as usize)
                    .collect(),
            )
        }
        "tolower" | "toupper" => match args.first() {
            Some(Value::Text(t)) => Value::Text(t.with_case(name == "toupper")),
            _ if name == "tolower" => Value::String(s(0)?.to_lowercase()),
            _ => Value::String(s(0)?.to_uppercase()),
        },
        "trim" => Value::String(s(0)?.trim().to_string()),
        "uri" => Value::String(uri_join(s(0)?, s(1)?)),
        "uricomponent" => {
            Value::String(percent_encoding::utf8_percent_encode(s(0)?, URI_COMPONENT).to_string())
        }
        "uricomponenttostring" => Value::String(
            percent_encoding::percent_decode_str(s(0)?)
                .decode_utf8_lossy()
                .into_owned(),
        ),
        "join" => {
            let Some(Value::Array(items)) = args.first() else {
                return Err(Fault::invalid(span, "join() needs an array"));
            };
            if let Some(u) = deep_unknown(items) {
                return Ok(Dispatch::Done(u));
            }
            let parts: Vec<String> = items.iter().map(to_arm_string).collect();
            Value::String(parts.join(s(1)?))
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}

// Unreserved characters per RFC 3986 stay; everything else is escaped (as .NET's
// Uri.EscapeDataString does, which ARM uses).
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn decode64(s: &str, f: &str, span: ExprSpan) -> Result<String, Fault> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| Fault::invalid(span, format!("{f}(): not base64: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|_| Fault::invalid(span, format!("{f}(): decoded bytes are not UTF-8")))
}

/// Parses JSON text into a value (`json()`, `base64ToJson()`).
///
/// ARM reads this JSON leniently (Newtonsoft): single-quoted strings, unquoted
/// property names, comments and trailing commas are accepted.
pub(super) fn parse_json(text: &str, f: &str, span: ExprSpan) -> Result<Value, Fault> {
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: true,
        allow_trailing_commas: true,
        allow_missing_commas: false,
        allow_single_quoted_strings: true,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = jsonc_parser::parse_to_ast(text, &Default::default(), &options)
        .map_err(|e| Fault::invalid(span, format!("{f}(): not valid JSON: {}", e.kind())))?;
    Ok(parsed
        .value
        .as_ref()
        .map_or(Value::Null, |v| from_ast(v, 0)))
}

fn from_ast(v: &jsonc_parser::ast::Value<'_>, depth: usize) -> Value {
    use jsonc_parser::ast::Value as A;
    if depth > crate::arm::json::MAX_DEPTH {
        return Value::unknown("JSON nested too deeply");
    }
    match v {
        A::StringLit(s) => Value::String(s.value.to_string()),
        A::NumberLit(n) => n
            .value
            .parse::<i64>()
            .map(Value::Int)
            .or_else(|_| n.value.parse::<f64>().map(Value::Float))
            .unwrap_or(Value::Null),
        A::BooleanLit(b) => Value::Bool(b.value),
        A::NullKeyword(_) => Value::Null,
        A::Array(a) => Value::Array(a.elements.iter().map(|e| from_ast(e, depth + 1)).collect()),
        A::Object(o) => Value::Object(
            o.properties
                .iter()
                .map(|p| (p.name.as_str().to_string(), from_ast(&p.value, depth + 1)))
                .collect(),
        ),
    }
}

/// `guid()` or `uniqueString()` of symbolic strings: a symbol of its own, equal to
/// every call with the same arguments (the functions are deterministic).
fn derived_symbol(name: &str, f: &str, args: &[Value], span: ExprSpan) -> Result<Value, Fault> {
    let mut key = format!("{name}(");
    let mut shown = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Value::String(s) => {
                key.push_str(&format!("L{}:{s},", s.len()));
                shown.push(format!("'{}'", short(s).replace('\'', "''")));
            }
            Value::Text(t) => {
                key.push_str(&format!("T{},", t.canonical()));
                shown.push(short(&t.display()));
            }
            v => {
                return Err(Fault::invalid(
                    span,
                    format!("{f}() takes strings, not {}", v.type_name()),
                ))
            }
        }
    }
    key.push(')');
    let shape = if name == "guid" {
        Shape::Guid
    } else {
        Shape::Unique
    };
    let why = args
        .iter()
        .filter_map(|a| match a {
            Value::Text(t) => Some(t.reason()),
            _ => None,
        })
        .next()
        .unwrap_or_default();
    Ok(Value::Text(Text::symbol(Atom::new(
        key,
        format!("{f}({})", shown.join(", ")),
        shape,
        why,
    ))))
}

/// A long resource ID as its last two segments (`…/vaults/kv1`): enough to
/// tell which resource an argument of `guid()` is, short enough to read. The
/// symbol's identity is its key, which keeps every character.
fn short(s: &str) -> String {
    if s.len() <= 48 {
        return s.to_string();
    }
    let mut tail: Vec<&str> = s.rsplitn(3, '/').take(2).collect();
    if tail.len() < 2 {
        return s.to_string();
    }
    tail.reverse();
    format!("…/{}", tail.join("/"))
}

fn strings(args: &[Value], f: &str, span: ExprSpan) -> Result<Vec<String>, Fault> {
    args.iter()
        .map(|a| match a {
            Value::String(s) => Ok(s.clone()),
            v => Err(Fault::invalid(
                span,
                format!("{f}() takes strings, not {}", v.type_name()),
            )),
        })
        .collect()
}

fn split_any(text: &str, delims: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for d in delims.iter().filter(|d| !d.is_empty()) {
            if let Some(after) = rest.strip_prefix(d.as_str()) {
                out.push(std::mem::take(&mut cur));
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            cur.push(c);
        }
        rest = chars.as_str();
    }
    out.push(cur);
    out
}

fn uri_join(base: &str, rel: &str) -> String {
    // RFC 3986 reference resolution for the forms templates use: absolute path,
    // or a path relative to the base's last segment.
    if rel.contains("://") {
        return rel.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base
        .get(scheme_end..)
        .and_then(|r| r.find('/'))
        .map_or(base.len(), |i| scheme_end + i);
    if let Some(abs) = rel.strip_prefix('/') {
        return format!("{}/{abs}", base.get(..authority_end).unwrap_or(base));
    }
    let path_base = match base.rfind('/') {
        Some(i) if i >= authority_end => base.get(..=i).unwrap_or(base).to_string(),
        _ => format!("{base}/"),
    };
    format!("{path_base}{rel}")
}

/// .NET composite formatting as `format()` uses it: `{0}`, `{1:N0}`, `{0:D3}`, `{{`/`}}`.
fn format_net(fmt: &str, args: &[Value], span: ExprSpan) -> Result<Value, Fault> {
    let mut out = TextBuilder::default();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push_char('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push_char('}');
            }
            '{' => {
                let mut spec = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    spec.push(c);
                }
                let (index, fmtspec) = spec.split_once(':').unwrap_or((&spec, ""));
                let (index, _align) = index.split_once(',').unwrap_or((index, ""));
                let i: usize = index.trim().parse().map_err(|_| {
                    Fault::invalid(span, format!("format(): '{{{spec}}}' is not a placeholder"))
                })?;
                let v = args.get(i).ok_or_else(|| {
                    Fault::invalid(
                        span,
                        format!("format(): no argument for placeholder {{{i}}}"),
                    )
                })?;
                match v {
                    // A symbolic string goes in as it is; a number format of it is unknown.
                    Value::Text(t) if fmtspec.is_empty() => out.push(Str::Text(t)),
                    Value::Text(t) => {
                        return Ok(Value::unknown(format!(
                            "format() of a string that {}",
                            t.reason()
                        )))
                    }
                    v => out.push_str(&format_one(v, fmtspec)),
                }
            }
            c => out.push_char(c),
        }
    }
    Ok(out.finish())
}

fn format_one(v: &Value, spec: &str) -> String {
    let (kind, digits) = spec.split_at(spec.len().min(1));
    let digits: usize = digits.parse().unwrap_or(0);
    match (kind, v.as_i64()) {
        ("N" | "n", Some(i)) => {
            let s = group(i.unsigned_abs());
            let s = if i < 0 { format!("-{s}") } else { s };
            if digits > 0 {
                format!("{s}.{}", "0".repeat(digits.min(64)))
            } else {
                s
            }
        }
        ("D" | "d", Some(i)) => {
            let s = format!("{:0width$}", i.unsigned_abs(), width = digits.min(64));
            if i < 0 {
                format!("-{s}")
            } else {
                s
            }
        }
        ("X", Some(i)) => format!("{:0width$X}", i, width = digits.min(64)),
        ("x", Some(i)) => format!("{:0width$x}", i, width = digits.min(64)),
        _ => to_arm_string(v),
    }
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `guid(...)`: a name-based (version 5, SHA-1) UUID in ARM's namespace
/// `11fb06fb-712d-4ddd-98c7-e71bbd588830` over the arguments joined with `-`.
pub fn guid(parts: &[String]) -> String {
    const NAMESPACE: uuid::Uuid = uuid::uuid!("11fb06fb-712d-4ddd-98c7-e71bbd588830");
    uuid::Uuid::new_v5(&NAMESPACE, parts.join("-").as_bytes()).to_string()
}

/// `uniqueString(...)`: ARM's 64-bit Murmur variant over the UTF-8 of the arguments
/// joined with `-`, written as 13 base-32 characters (`a-z2-7`).
pub fn unique_string(parts: &[String]) -> String {
    let h = murmur64(parts.join("-").as_bytes());
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..13)
        .map(|i| {
            // Five bits at a time from the top; the 13th takes the last 4 bits and a zero.
            let idx = ((h.wrapping_shl(5 * i) >> 59) & 31) as usize;
            ALPHABET.get(idx).map_or('a', |b| char::from(*b))
        })
        .collect()
}

fn murmur64(data: &[u8]) -> u64 {
    const C1: u32 = 0x239b_961b;
    const C2: u32 = 0xab0e_9789;
    let le = |b: &[u8]| -> u32 {
        b.iter()
            .rev()
            .fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
    };
    let len = data.len() as u32;
    let (mut h1, mut h2) = (0u32, 0u32);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let (a, b) = c.split_at(4);
        let k1 = le(a).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 = (h1 ^ k1)
            .rotate_left(19)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x561c_cd1b);
        let k2 = le(b).wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
        h2 = (h2 ^ k2)
            .rotate_left(13)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x0bca_a747);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let (a, b) = rest.split_at(rest.len().min(4));
        h1 ^= le(a).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        if !b.is_empty() {
            h2 ^= le(b).wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
        }
    }
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    let fmix = |mut h: u32| {
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    };
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (u64::from(h2) << 32) | u64::from(h1)
}
