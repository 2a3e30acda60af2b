//! Static views of a template's expressions, for rules that look at what is
//! written rather than what it evaluates to (unused declarations, names built
//! with `newGuid()`, outputs that return secrets).

use super::ast::Expr;
use super::eval::Ptr;
use super::parser::{parse_string, Parsed};
use crate::arm::json::pointer_push;
use serde_json::Value as Json;

/// Every expression string under `v` with its JSON pointer (from `base`), parsed.
/// Inline nested templates evaluated in their own (`inner`) scope are skipped,
/// except their `parameters`, which the outer template evaluates.
pub fn expressions(v: &Json, base: &str) -> Vec<(String, Expr)> {
    let mut out = Vec::new();
    collect(v, base, &mut out, false);
    out
}

/// Like [`expressions`], but also descending into inner-scope nested templates.
pub fn all_expressions(v: &Json, base: &str) -> Vec<(String, Expr)> {
    let mut out = Vec::new();
    collect(v, base, &mut out, true);
    out
}

fn collect(v: &Json, pointer: &str, out: &mut Vec<(String, Expr)>, everything: bool) {
    match v {
        Json::String(s) => {
            if let Ok(Parsed::Expr(e)) = parse_string(s) {
                out.push((pointer.to_string(), e));
            }
        }
        Json::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect(x, &format!("{pointer}/{i}"), out, everything);
            }
        }
        Json::Object(o) => {
            let inner = !everything && is_inner_scope(o);
            for (k, x) in o {
                if inner && k == "template" {
                    continue;
                }
                collect(x, &pointer_push(pointer, k), out, everything);
            }
        }
        _ => {}
    }
}

/// True for a deployment's `properties` whose template has its own scope.
pub fn is_inner_scope(properties: &serde_json::Map<String, Json>) -> bool {
    // Asked of every object of a template: a key scan of a small object is
    // cheaper than hashing the key, and most objects are small.
    let options = if properties.len() <= 8 {
        properties
            .iter()
            .find(|(k, _)| *k == "expressionEvaluationOptions")
            .map(|(_, v)| v)
    } else {
        properties.get("expressionEvaluationOptions")
    };
    options
        .and_then(|o| o.get("scope"))
        .and_then(Json::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("inner"))
}

/// Every string under `v`, skipping inner-scope nested templates as
/// [`expressions`] does, without parsing or building pointers: for rules that
/// only need some of the expressions and no positions (pointers for every node
/// of a large template cost more than the rule itself).
pub fn for_each_string(v: &Json, f: &mut dyn FnMut(&str)) {
    match v {
        Json::String(s) => f(s),
        Json::Array(a) => {
            for x in a {
                for_each_string(x, f);
            }
        }
        Json::Object(o) => {
            let inner = is_inner_scope(o);
            for (k, x) in o {
                if !(inner && k == "template") {
                    for_each_string(x, f);
                }
            }
        }
        _ => {}
    }
}

/// Inner-scope nested templates under `v`: (pointer of the template, template).
pub fn inner_templates<'j>(v: &'j Json, base: &str) -> Vec<(String, &'j Json)> {
    // The pointer is rendered only for the templates found, not for every node.
    fn walk<'j>(v: &'j Json, ptr: Ptr<'_>, out: &mut Vec<(String, &'j Json)>) {
        match v {
            Json::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, Ptr::Index(&ptr, i), out);
                }
            }
            Json::Object(o) => {
                let inner = is_inner_scope(o);
                for (k, x) in o {
                    let here = Ptr::Key(&ptr, k);
                    if inner && k == "template" {
                        out.push((here.render(), x));
                    }
                    walk(x, here, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, Ptr::Root(base), &mut out);
    out
}

/// Calls to `function` (lower case) in `e`, with their first argument when it is a literal.
pub fn calls<'e>(e: &'e Expr, function: &str) -> Vec<Option<&'e str>> {
    let mut out = Vec::new();
    e.walk(&mut |n| {
        if let Expr::Call(c) = n {
            if c.namespace.is_none() && c.lname == function {
                out.push(c.args.first().and_then(Expr::as_str));
            }
        }
    });
    out
}

/// True when `e` calls a function whose lower-case name satisfies `pred`.
pub fn calls_any(e: &Expr, pred: &dyn Fn(&str) -> bool) -> bool {
    let mut found = false;
    e.walk(&mut |n| {
        if let Expr::Call(c) = n {
            if c.namespace.is_none() && pred(&c.lname) {
                found = true;
            }
        }
    });
    found
}

/// The resources declared in `template` (array or symbolic-name object), child
/// resources and inline nested templates included: (pointer, full type, resource).
pub fn resources<'j>(template: &'j Json, base: &str) -> Vec<(String, String, &'j Json)> {
    fn add<'j>(
        r: &'j Json,
        pointer: String,
        parent: Option<&str>,
        out: &mut Vec<(String, String, &'j Json)>,
    ) {
        let t = r.get("type").and_then(Json::as_str).unwrap_or_default();
        let full = match parent {
            Some(p) if !t.contains('.') => format!("{p}/{t}"),
            _ => t.to_string(),
        };
        if let Some(Json::Array(children)) = r.get("resources") {
            for (i, c) in children.iter().enumerate() {
                add(c, format!("{pointer}/resources/{i}"), Some(&full), out);
            }
        }
        if let Some(inner) = r.get("properties").and_then(|p| p.get("template")) {
            out.extend(resources(inner, &format!("{pointer}/properties/template")));
        }
        out.push((pointer, full, r));
    }
    let mut out = Vec::new();
    match template.get("resources") {
        Some(Json::Array(a)) => {
            for (i, r) in a.iter().enumerate() {
                add(r, format!("{base}/resources/{i}"), None, &mut out);
            }
        }
        Some(Json::Object(o)) => {
            for (k, r) in o {
                add(
                    r,
                    pointer_push(&format!("{base}/resources"), k),
                    None,
                    &mut out,
                );
            }
        }
        _ => {}
    }
    out
}
