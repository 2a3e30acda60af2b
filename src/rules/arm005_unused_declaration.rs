//! ## What it checks
//! A parameter or variable that no expression of its template references. Each
//! inline nested template with its own (`inner`) scope is checked on its own.
//! When a template computes a name (`parameters(variables('which'))`), every
//! declaration of that kind counts as used.
//!
//! ## Why it matters
//! An unused parameter still appears in the portal form and in parameters
//! files, so users fill in a value that changes nothing; often it is a
//! misspelling, and the value that was meant to be used (a key name, a
//! region) is silently ignored.
//!
//! ## Example
//! ```json
//! "parameters": {"keySize": {"type": "int", "defaultValue": 4096}},
//! "resources": [{"type": "Microsoft.KeyVault/vaults/keys", "properties": {"keySize": 2048}}]
//! ```
//!
//! ## How to fix
//! Use the declaration where it was meant to be used, or remove it.
//!
//! ## References
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#parameters

use super::TemplateInput;
use crate::arm::expr::ast::Expr;
use crate::arm::expr::refs::{for_each_string, inner_templates};
use crate::diag::{Diagnostic, Level};
use serde_json::Value as Json;
use std::collections::HashSet;

/// Reports unused parameters and variables.
pub fn check(input: &TemplateInput<'_>, out: &mut Vec<Diagnostic>) {
    let root = &input.template.value;
    let mut scopes = vec![(String::new(), root)];
    scopes.extend(inner_templates(root, ""));
    for (base, template) in scopes {
        check_scope(input, template, &base, out);
    }
}

fn check_scope(input: &TemplateInput<'_>, template: &Json, base: &str, out: &mut Vec<Diagnostic>) {
    // Names as written (borrowed from the parsed expressions); lower-cased once
    // per distinct name below rather than once per reference.
    let mut written: [HashSet<&str>; 2] = [HashSet::new(), HashSet::new()];
    let mut dynamic = [false, false];
    let exprs = input.template.expressions();
    for_each_string(template, &mut |s| {
        let Some(e) = exprs.expr(s) else {
            return;
        };
        e.walk(&mut |n| {
            let Expr::Call(c) = n else {
                return;
            };
            let i = match (&c.namespace, &*c.lname) {
                (None, "parameters") => 0,
                (None, "variables") => 1,
                _ => return,
            };
            match c.args.first().and_then(Expr::as_str) {
                Some(name) => {
                    if let Some(set) = written.get_mut(i) {
                        set.insert(name);
                    }
                }
                None => {
                    if let Some(d) = dynamic.get_mut(i) {
                        *d = true;
                    }
                }
            }
        });
    });
    let used = written.map(|names| {
        names
            .into_iter()
            .map(str::to_ascii_lowercase)
            .collect::<HashSet<String>>()
    });
    let [used_params, used_vars] = &used;
    if !dynamic[0] {
        for name in template
            .get("parameters")
            .and_then(Json::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !used_params.contains(&name.to_ascii_lowercase()) {
                let pointer = crate::arm::json::pointer_push(&format!("{base}/parameters"), name);
                out.push(Diagnostic::new(
                    "ARM005",
                    Level::Warning,
                    format!("parameter '{name}' is declared but never used"),
                    input.template.location(&pointer),
                ));
            }
        }
    }
    if !dynamic[1] {
        let Some(vars) = template.get("variables").and_then(Json::as_object) else {
            return;
        };
        let mut declared: Vec<(String, String)> = Vec::new();
        for (name, v) in vars {
            let pointer = crate::arm::json::pointer_push(&format!("{base}/variables"), name);
            if name.eq_ignore_ascii_case("copy") {
                for (i, l) in v.as_array().into_iter().flatten().enumerate() {
                    if let Some(n) = l.get("name").and_then(Json::as_str) {
                        declared.push((n.to_string(), format!("{pointer}/{i}/name")));
                    }
                }
            } else {
                declared.push((name.clone(), pointer));
            }
        }
        for (name, pointer) in declared {
            if !used_vars.contains(&name.to_ascii_lowercase()) {
                out.push(Diagnostic::new(
                    "ARM005",
                    Level::Warning,
                    format!("variable '{name}' is declared but never used"),
                    input.template.location(&pointer),
                ));
            }
        }
    }
}
