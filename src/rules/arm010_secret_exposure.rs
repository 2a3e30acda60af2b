//! ## What it checks
//! An output that returns a secret: the result of a `list*()` function (such
//! as `listKeys()`), or a `secureString`/`secureObject` parameter, in an output
//! that is not itself of a secure type. Also a `secureString` or
//! `secureObject` parameter with a literal default value.
//!
//! ## Why it matters
//! Deployment outputs are stored in the deployment history and readable by
//! anyone with read access to the resource group; a literal default is stored
//! in the template itself, which vendors publish. Either way the secret leaves
//! the Key Vault it was meant to stay in.
//!
//! ## Example
//! ```json
//! "outputs": {"storageKey": {"type": "string",
//!   "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'sa'), '2023-01-01').keys[0].value]"}}
//! ```
//!
//! ## How to fix
//! Do not output secrets; give consumers the resource ID and let them read the
//! secret with their own permissions. Remove literal defaults from secure
//! parameters (or use an empty string and require the value at deployment).
//!
//! ## References
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/outputs
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#security-recommendations-for-parameters

use super::TemplateInput;
use crate::arm::expr::parser::is_expression;
use crate::arm::expr::refs::{all_expressions, calls, calls_any};
use crate::diag::{Diagnostic, Level};
use serde_json::Value as Json;

fn is_secure(t: &str) -> bool {
    t.eq_ignore_ascii_case("securestring") || t.eq_ignore_ascii_case("secureobject")
}

/// Reports outputs returning secrets and secure parameters with literal defaults.
pub fn check(input: &TemplateInput<'_>, out: &mut Vec<Diagnostic>) {
    let root = &input.template.value;
    let params = root.get("parameters").and_then(Json::as_object);
    let secure_params: Vec<String> = params
        .into_iter()
        .flatten()
        .filter(|(_, d)| d.get("type").and_then(Json::as_str).is_some_and(is_secure))
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    for (name, decl) in params.into_iter().flatten() {
        if !decl
            .get("type")
            .and_then(Json::as_str)
            .is_some_and(is_secure)
        {
            continue;
        }
        let literal = match decl.get("defaultValue") {
            Some(Json::String(s)) => !s.is_empty() && !is_expression(s),
            Some(Json::Object(o)) => !o.is_empty(),
            Some(Json::Null) | None => false,
            Some(_) => true,
        };
        if literal {
            let pointer = crate::arm::json::pointer_push("/parameters", name) + "/defaultValue";
            out.push(Diagnostic::new(
                "ARM010",
                Level::Warning,
                format!(
                    "secure parameter '{name}' has a literal default value, stored in the template"
                ),
                input.template.location(&pointer),
            ));
        }
    }
    let Some(outputs) = root.get("outputs").and_then(Json::as_object) else {
        return;
    };
    for (name, o) in outputs {
        if o.get("type").and_then(Json::as_str).is_some_and(is_secure) {
            continue;
        }
        let base = crate::arm::json::pointer_push("/outputs", name);
        for (pointer, e) in all_expressions(o, &base) {
            let lists = calls_any(&e, &|f| f.starts_with("list"));
            let secret_param = calls(&e, "parameters")
                .into_iter()
                .flatten()
                .find(|p| secure_params.contains(&p.to_ascii_lowercase()));
            let why = match (lists, secret_param) {
                (true, _) => "the result of a list*() function".to_string(),
                (false, Some(p)) => format!("secure parameter '{p}'"),
                _ => continue,
            };
            out.push(Diagnostic::new(
                "ARM010",
                Level::Warning,
                format!(
                    "output '{name}' returns {why}; outputs are readable in the deployment history"
                ),
                input.template.location(&pointer),
            ));
        }
    }
}
