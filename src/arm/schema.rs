//! ARM002: checks a template against the JSON Schemas in `schemas/` (template
//! structure for languageVersion 1.0 and 2.0, plus the property schemas of the
//! resource types the CMK rules read) and reports *every* violation at its own
//! JSON pointer, so each finding gets its own line and column.
//!
//! The schemas are compiled once per process: compiling costs far more than
//! validating one template, and `validate` may get hundreds of files.

use crate::arm::json::{pointer_push, Document};
use crate::diag::{Diagnostic, Level};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{json, Value as Json};
use std::sync::OnceLock;

/// Rule ID of every finding made here.
pub const RULE: &str = "ARM002";

const TEMPLATE_SCHEMA: &str = include_str!("../../schemas/arm-template.schema.json");
const RESOURCE_SCHEMAS: &str = include_str!("../../schemas/arm-resources.schema.json");

/// The GUID pattern of arm-resources.schema.json, named in messages instead of shown.
const GUID_PATTERN: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

/// Longest rendering of an offending value in a message; whole objects are useless there.
const MAX_VALUE_CHARS: usize = 60;

static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();

/// The combined schema: template structure with the resource property schemas
/// merged into its `$defs`, each allowing template expressions wherever it has a type.
pub fn combined_schema() -> Result<Json, String> {
    let mut template: Json = serde_json::from_str(TEMPLATE_SCHEMA)
        .map_err(|e| format!("schemas/arm-template.schema.json: {e}"))?;
    let resources: Json = serde_json::from_str(RESOURCE_SCHEMAS)
        .map_err(|e| format!("schemas/arm-resources.schema.json: {e}"))?;
    let Some(defs) = template.get_mut("$defs").and_then(Json::as_object_mut) else {
        return Err("schemas/arm-template.schema.json has no $defs".into());
    };
    let Some(resource_defs) = resources.get("$defs").and_then(Json::as_object) else {
        return Err("schemas/arm-resources.schema.json has no $defs".into());
    };
    for (name, schema) in resource_defs {
        defs.insert(name.clone(), allow_expressions(schema.clone()));
    }
    Ok(template)
}

fn validator() -> Result<&'static Validator, crate::Error> {
    VALIDATOR
        .get_or_init(|| {
            let schema = combined_schema()?;
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .build(&schema)
                .map_err(|e| format!("template schema does not compile: {e}"))
        })
        .as_ref()
        .map_err(|e| crate::Error::Internal(e.clone()))
}

/// Wraps every subschema that constrains a value's type or content as
/// `anyOf: [schema, expression]`: ARM evaluates any property value, so a literal
/// of the wrong type is an error but `"[parameters('x')]"` never is.
fn allow_expressions(schema: Json) -> Json {
    let Json::Object(mut map) = schema else {
        return schema;
    };
    for key in ["properties", "patternProperties", "$defs"] {
        if let Some(Json::Object(props)) = map.get_mut(key) {
            for value in props.values_mut() {
                *value = allow_expressions(value.take());
            }
        }
    }
    for key in [
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
    ] {
        if let Some(value) = map.get_mut(key) {
            if value.is_object() {
                *value = allow_expressions(value.take());
            }
        }
    }
    for key in ["allOf", "oneOf", "prefixItems"] {
        if let Some(Json::Array(items)) = map.get_mut(key) {
            for value in items.iter_mut() {
                *value = allow_expressions(value.take());
            }
        }
    }
    let constrains = ["type", "enum", "const", "pattern"]
        .iter()
        .any(|k| map.contains_key(*k));
    if constrains {
        json!({"anyOf": [Json::Object(map), {"$ref": "#/$defs/expression"}]})
    } else {
        Json::Object(map)
    }
}

/// Every schema violation in `doc`, one ARM002 finding each, in document order.
pub fn check(doc: &Document) -> Result<Vec<Diagnostic>, crate::Error> {
    let validator = validator()?;
    // Most templates are valid, and the yes/no check is cheaper than collecting errors.
    if validator.is_valid(&doc.value) {
        return Ok(Vec::new());
    }
    let mut found: Vec<(String, String)> = Vec::new();
    for error in validator.iter_errors(&doc.value) {
        explain(&error, None, &mut found);
    }
    found.sort_by_key(|(pointer, _)| doc.nearest_span(pointer).start);
    found.dedup();
    Ok(found
        .into_iter()
        .map(|(pointer, message)| {
            let resource = resource_of(doc, &pointer);
            let d = Diagnostic::new(RULE, Level::Error, message, doc.location(&pointer));
            match resource {
                Some(r) => d.with_resource(r),
                None => d,
            }
        })
        .collect())
}

/// `Type/name` of the resource that holds `pointer`, when it lies inside one.
fn resource_of(doc: &Document, pointer: &str) -> Option<String> {
    let mut tokens = pointer.split('/').skip(1);
    if tokens.next()? != "resources" {
        return None;
    }
    let key = tokens.next()?;
    let resources = doc.value.get("resources")?;
    let resource = match resources {
        Json::Array(items) => items.get(key.parse::<usize>().ok()?)?,
        Json::Object(map) => map.get(&key.replace("~1", "/").replace("~0", "~"))?,
        _ => return None,
    };
    let rtype = resource.get("type")?.as_str()?;
    resource.get("name")?.as_str()?;
    let at = format!("/resources/{key}");
    Some(crate::arm::walk::label(rtype, resource, &at))
}

/// Turns one validation error into findings (pointer, message), descending into
/// the expression wrappers so the user sees the real reason, at the real place.
/// `expression_at` is the pointer of a value that could also have been an expression.
fn explain(
    error: &ValidationError<'_>,
    expression_at: Option<&str>,
    out: &mut Vec<(String, String)>,
) {
    let pointer = error.instance_path().as_str().to_string();
    let instance = error.instance();
    let expr = expression_at == Some(pointer.as_str());
    let message = match error.kind() {
        // Every reported anyOf in our schemas is `[schema, expression]` (see
        // `allow_expressions` and the hand-written ones in arm-template.schema.json):
        // the first branch's errors are the ones that explain what is wrong.
        ValidationErrorKind::AnyOf { context } if !context.is_empty() => {
            let before = out.len();
            for e in context.first().into_iter().flatten() {
                explain(e, Some(&pointer), out);
            }
            if out.len() > before {
                return;
            }
            format!("{} is not valid here", describe(instance))
        }
        ValidationErrorKind::Type { kind } => {
            let mut expected: Vec<String> = match kind {
                TypeKind::Single(t) => vec![t.to_string()],
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
            };
            if expr {
                expected.push("a template expression".into());
            }
            format!(
                "expected {}, found {}",
                expected.join(" or "),
                describe(instance)
            )
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            format!("missing required property '{name}'")
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                let hint = if pointer.is_empty() {
                    suggest(name, TOP_LEVEL)
                        .map(|s| format!("; did you mean '{s}'?"))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                out.push((
                    pointer_push(&pointer, name),
                    format!("unknown property '{name}'{}{hint}", where_(&pointer)),
                ));
            }
            return;
        }
        ValidationErrorKind::FalseSchema => {
            let property = pointer.rsplit('/').next().unwrap_or_default();
            format!("'{property}' needs \"languageVersion\": \"2.0\"")
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(short).collect())
                .unwrap_or_default();
            not_one_of(instance, &options.join(", "), "", expr)
        }
        ValidationErrorKind::Pattern { pattern } if pattern == GUID_PATTERN => {
            let also = if expr {
                " or a template expression"
            } else {
                ""
            };
            format!("expected a GUID{also}, found {}", describe(instance))
        }
        ValidationErrorKind::Pattern { pattern } => match alternatives(pattern) {
            Some(alts) => not_one_of(instance, &alts.join(", "), " (case-insensitive)", expr),
            None if expr => format!(
                "{} neither matches the pattern {pattern} nor is a template expression",
                describe(instance)
            ),
            None => format!(
                "{} does not match the pattern {pattern}",
                describe(instance)
            ),
        },
        ValidationErrorKind::Minimum { limit } => {
            format!("{} is less than the minimum {limit}", describe(instance))
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("{} is greater than the maximum {limit}", describe(instance))
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("{} is shorter than {limit} characters", describe(instance))
        }
        _ => truncate(&error.to_string(), 200),
    };
    out.push((pointer, message));
}

fn not_one_of(instance: &Json, options: &str, note: &str, expr: bool) -> String {
    if expr {
        format!(
            "{} is neither one of {options}{note} nor a template expression",
            describe(instance)
        )
    } else {
        format!("{} is not one of {options}{note}", describe(instance))
    }
}

/// The top-level properties arm-template.schema.json allows (kept in step by a test).
const TOP_LEVEL: &[&str] = &[
    "$schema",
    "contentVersion",
    "apiProfile",
    "languageVersion",
    "metadata",
    "definitions",
    "parameters",
    "variables",
    "functions",
    "resources",
    "outputs",
    "imports",
    "extensions",
];

/// The closest known name, when it is close enough to be a typo.
fn suggest(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance (names here are short; quadratic is fine).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn where_(pointer: &str) -> String {
    if pointer.is_empty() {
        " at the top level of the template".into()
    } else {
        String::new()
    }
}

/// The alternatives of a `^(?i)(a|b|c)$` pattern, the form our schemas use for
/// case-insensitive enumerations.
fn alternatives(pattern: &str) -> Option<Vec<String>> {
    let inner = pattern.strip_prefix("^(?i)(")?.strip_suffix(")$")?;
    if inner.contains(['(', ')', '[', '\\', '*', '+', '?']) {
        return None;
    }
    Some(inner.split('|').map(|s| format!("'{s}'")).collect())
}

fn short(value: &Json) -> String {
    match value {
        Json::String(s) => truncate(&format!("'{s}'"), MAX_VALUE_CHARS),
        other => truncate(&other.to_string(), MAX_VALUE_CHARS),
    }
}

/// A short description of a value: scalars verbatim (truncated), containers by kind.
fn describe(value: &Json) -> String {
    match value {
        Json::Object(_) => "an object".into(),
        Json::Array(_) => "an array".into(),
        Json::String(_) => format!("string {}", short(value)),
        Json::Number(_) => format!("number {}", short(value)),
        Json::Bool(_) => format!("boolean {}", short(value)),
        Json::Null => "null".into(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::json::parse_str;

    fn findings(text: &str) -> Vec<(String, String)> {
        let doc = parse_str("t.json", text).unwrap();
        check(&doc)
            .unwrap()
            .into_iter()
            .map(|d| match d.location {
                crate::diag::Location::File { pointer, .. } => (pointer, d.message),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    const HEAD: &str = r#""$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0""#;

    #[test]
    fn schema_compiles() {
        validator().unwrap();
    }

    #[test]
    fn top_level_list_matches_the_schema_and_typos_get_a_hint() {
        let schema = combined_schema().unwrap();
        let props: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(props, TOP_LEVEL);
        assert_eq!(suggest("output", TOP_LEVEL), Some("outputs"));
        assert_eq!(suggest("Resources", TOP_LEVEL), Some("resources"));
        assert_eq!(suggest("extra", TOP_LEVEL), None);
    }

    #[test]
    fn minimal_templates_pass() {
        assert_eq!(findings(&format!("{{{HEAD}, \"resources\": []}}")), vec![]);
        let v2 = format!(
            "{{{HEAD}, \"languageVersion\": \"2.0\", \"definitions\": {{\"t\": {{\"type\": \"string\", \"nullable\": true}}}}, \"resources\": {{\"kv\": {{\"type\": \"Microsoft.KeyVault/vaults\", \"apiVersion\": \"2026-02-01\", \"name\": \"kv\", \"existing\": true}}}}}}"
        );
        assert_eq!(findings(&v2), vec![]);
    }

    #[test]
    fn every_violation_is_reported_at_its_pointer() {
        let text = format!(
            r#"{{{HEAD}, "extra": 1, "definitions": {{}}, "resources": [
              {{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2026-02-01", "name": "kv",
                "location": "[parameters('l')]",
                "properties": {{"tenantId": "[subscription().tenantId]",
                  "sku": {{"family": "A", "name": "Gold"}},
                  "enablePurgeProtection": "yes", "enableSoftDelete": "[parameters('x')]",
                  "networkAcls": {{"defaultAction": "deny", "ipRules": [{{}}]}}}}}},
              {{"type": "Microsoft.Authorization/roleAssignments", "name": "[guid('a')]",
                "properties": {{"principalId": "[parameters('p')]", "principalType": "Robot"}}}}
            ]}}"#
        );
        let got = findings(&text);
        let pointers: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/extra",
                "/definitions",
                "/resources/0/properties/sku/name",
                "/resources/0/properties/enablePurgeProtection",
                "/resources/0/properties/networkAcls/ipRules/0",
                "/resources/1",
                "/resources/1/properties",
                "/resources/1/properties/principalType",
            ],
            "{got:#?}"
        );
        assert_eq!(
            got[3].1,
            "expected boolean or a template expression, found string 'yes'"
        );
        assert_eq!(got[5].1, "missing required property 'apiVersion'");
        assert_eq!(got[6].1, "missing required property 'roleDefinitionId'");
        assert!(got[2].1.contains("'standard', 'premium'"), "{got:#?}");
    }

    #[test]
    fn escaped_brackets_are_literals_not_expressions() {
        let text = format!(
            r#"{{{HEAD}, "resources": [{{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2026-02-01", "name": "kv", "location": "[parameters('l')]",
                "properties": {{"tenantId": "[subscription().tenantId]", "sku": {{"family": "A", "name": "standard"}},
                "enablePurgeProtection": "[[true]"}}}}]}}"#
        );
        let got = findings(&text);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].0, "/resources/0/properties/enablePurgeProtection");
    }
}
