//! ## What it checks
//!
//! The parameters file given with `--parameters`, against the template's
//! parameter declarations:
//!
//! - a parameter the template does not declare (names compare
//!   case-insensitively, as ARM compares them);
//! - a required parameter (no `defaultValue`, not `nullable`) the file omits;
//! - a value of the wrong JSON type for the declared `type` (`string` and
//!   `securestring` take strings, `int` integers, `bool` booleans, `object` and
//!   `secureObject` objects, `array` arrays; `$ref` to a user-defined type is
//!   followed); `null` only for `nullable` parameters or ones with a default;
//! - a value outside `allowedValues` (for arrays: every element; strings compare
//!   case-insensitively), `minLength`/`maxLength` (strings and arrays),
//!   `minValue`/`maxValue` (integers);
//! - an entry with neither `value` nor `reference`.
//!
//! Key Vault references (`"reference": {"keyVault": {"id": ...}, "secretName": ...}`)
//! are values Azure fetches at deployment time: they are not checked further.
//! Values in a parameters file are literals; ARM does not evaluate expressions there.
//!
//! ## Why it matters
//!
//! Azure validates parameters only when the deployment starts and stops at the
//! first problem. A misspelt parameter name is worse: ARM rejects it, but a
//! tool that merges parameters loosely may silently fall back to the default,
//! deploying a vault in the wrong region or a key of the wrong size.
//!
//! ## Example
//!
//! ```json
//! { "parameters": { "keySize": { "value": "3072" }, "regoin": { "value": "eastus" } } }
//! ```
//!
//! reports that `keySize` is declared `int` but gets a string, and that the
//! template declares no parameter `regoin`.
//!
//! ## How to fix
//!
//! Use the names and types the template declares (`cmek-arm expand` shows the
//! values a deployment would use), and give every required parameter a value.
//!
//! ## References
//!
//! - <https://learn.microsoft.com/azure/azure-resource-manager/templates/parameter-files>
//! - <https://learn.microsoft.com/azure/azure-resource-manager/templates/parameters>

use super::TemplateInput;
use crate::arm::json::{pointer_push, Document};
use crate::diag::{Diagnostic, Level};
use serde_json::{Map, Value as Json};

/// Rule ID.
pub const ID: &str = "ARM009";

/// How many `$ref` hops to follow before giving up (cycles are ARM004's business).
const MAX_REF_DEPTH: usize = 16;

fn finding(params: &Document, pointer: &str, message: String) -> Diagnostic {
    Diagnostic::new(ID, Level::Error, message, params.location(pointer))
}

/// The declaration with `$ref`s to `#/definitions/...` followed.
fn resolve<'a>(template: &'a Json, decl: &'a Json) -> &'a Json {
    let mut current = decl;
    for _ in 0..MAX_REF_DEPTH {
        let Some(target) = current
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .and_then(|name| template.get("definitions")?.get(name))
        else {
            break;
        };
        current = target;
    }
    current
}

/// Checks the parameters file against the template's declarations.
pub fn check(input: &TemplateInput<'_>, out: &mut Vec<Diagnostic>) {
    let Some(params) = input.parameters else {
        return;
    };
    let template = &input.template.value;
    let empty = Map::new();
    let declared = template
        .get("parameters")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let Some(given) = params.value.get("parameters").and_then(Json::as_object) else {
        out.push(finding(
            params,
            "",
            "the parameters file has no \"parameters\" object".into(),
        ));
        return;
    };
    for (name, entry) in given {
        let pointer = pointer_push("/parameters", name);
        let Some((decl_name, decl)) = declared.iter().find(|(d, _)| d.eq_ignore_ascii_case(name))
        else {
            out.push(finding(
                params,
                &pointer,
                format!(
                    "parameter '{name}' is not declared in {}",
                    input.template.file
                ),
            ));
            continue;
        };
        if entry.get("reference").is_some() {
            continue;
        }
        let Some(value) = entry.get("value") else {
            out.push(finding(
                params,
                &pointer,
                format!("parameter '{name}' has neither \"value\" nor \"reference\""),
            ));
            continue;
        };
        let decl = resolve(template, decl);
        let value_pointer = pointer_push(&pointer, "value");
        for problem in value_problems(decl, value) {
            out.push(
                finding(
                    params,
                    &value_pointer,
                    format!("parameter '{name}': {problem}"),
                )
                .with_label(
                    input
                        .template
                        .location(&pointer_push("/parameters", decl_name)),
                    "declared here",
                ),
            );
        }
    }
    for (name, decl) in declared {
        let resolved = resolve(template, decl);
        let optional =
            decl.get("defaultValue").is_some() || is_nullable(decl) || is_nullable(resolved);
        if optional || given.keys().any(|g| g.eq_ignore_ascii_case(name)) {
            continue;
        }
        out.push(
            finding(
                params,
                "/parameters",
                format!("required parameter '{name}' has no value (it has no defaultValue)"),
            )
            .with_label(
                input.template.location(&pointer_push("/parameters", name)),
                "declared here",
            ),
        );
    }
}

fn is_nullable(decl: &Json) -> bool {
    decl.get("nullable").and_then(Json::as_bool) == Some(true)
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a non-integer number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn matches_type(declared: &str, value: &Json) -> bool {
    match declared.to_ascii_lowercase().as_str() {
        "string" | "securestring" => value.is_string(),
        "int" => value.is_i64() || value.is_u64(),
        "bool" => value.is_boolean(),
        "object" | "secureobject" => value.is_object(),
        "array" => value.is_array(),
        // Unknown declared types are ARM002's finding, not ours.
        _ => true,
    }
}

fn same_value(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::String(a), Json::String(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

fn show(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

/// Everything wrong with `value` for declaration `decl`.
fn value_problems(decl: &Json, value: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let declared = decl.get("type").and_then(Json::as_str).unwrap_or("");
    if value.is_null() {
        if !(is_nullable(decl) || decl.get("defaultValue").is_some()) {
            problems.push(format!("declared {declared}, got null"));
        }
        return problems;
    }
    if !declared.is_empty() && !matches_type(declared, value) {
        problems.push(format!("declared {declared}, got {}", type_name(value)));
        return problems;
    }
    if let Some(allowed) = decl.get("allowedValues").and_then(Json::as_array) {
        let candidates: Vec<&Json> = match value {
            Json::Array(items) if declared.eq_ignore_ascii_case("array") => items.iter().collect(),
            other => vec![other],
        };
        for c in candidates {
            if !allowed.iter().any(|a| same_value(a, c)) {
                let list: Vec<String> = allowed.iter().map(show).collect();
                problems.push(format!(
                    "{} is not one of the allowed values {}",
                    show(c),
                    list.join(", ")
                ));
            }
        }
    }
    let length = match value {
        Json::String(s) => Some(s.chars().count()),
        Json::Array(a) => Some(a.len()),
        _ => None,
    };
    if let Some(len) = length {
        if let Some(min) = decl.get("minLength").and_then(Json::as_u64) {
            if (len as u64) < min {
                problems.push(format!("length {len} is below minLength {min}"));
            }
        }
        if let Some(max) = decl.get("maxLength").and_then(Json::as_u64) {
            if (len as u64) > max {
                problems.push(format!("length {len} is above maxLength {max}"));
            }
        }
    }
    if let Some(n) = value.as_i64() {
        if let Some(min) = decl.get("minValue").and_then(Json::as_i64) {
            if n < min {
                problems.push(format!("{n} is below minValue {min}"));
            }
        }
        if let Some(max) = decl.get("maxValue").and_then(Json::as_i64) {
            if n > max {
                problems.push(format!("{n} is above maxValue {max}"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_against_their_declaration() {
        let decl = json!({"type": "int", "minValue": 2048, "maxValue": 4096, "allowedValues": [2048, 3072, 4096]});
        assert_eq!(value_problems(&decl, &json!(3072)), Vec::<String>::new());
        assert_eq!(
            value_problems(&decl, &json!("3072")),
            vec!["declared int, got a string"]
        );
        assert_eq!(value_problems(&decl, &json!(8192)).len(), 2);
        let arr =
            json!({"type": "array", "allowedValues": ["wrapKey", "unwrapKey"], "minLength": 1});
        assert_eq!(
            value_problems(&arr, &json!(["WRAPKEY"])),
            Vec::<String>::new()
        );
        assert_eq!(value_problems(&arr, &json!(["sign"])).len(), 1);
        assert_eq!(value_problems(&arr, &json!([])).len(), 1);
        let nullable = json!({"type": "string", "nullable": true});
        assert!(value_problems(&nullable, &Json::Null).is_empty());
        assert_eq!(
            value_problems(&json!({"type": "string"}), &Json::Null).len(),
            1
        );
    }
}
