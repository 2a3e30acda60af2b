//! ## What it checks
//! A role assignment (`Microsoft.Authorization/roleAssignments`) whose name is
//! neither a GUID nor built with `guid(...)`, and any resource whose name uses
//! `newGuid()` or `utcNow()`, directly or through a parameter whose default
//! value calls them.
//!
//! ## Why it matters
//! A role assignment's name must be a GUID, and it must be the same on every
//! deployment of the same assignment: with a new name each time, a redeploy
//! fails with `RoleAssignmentExists` (the same principal, role and scope under
//! another name). Any resource named from the clock or a random GUID is created
//! again on every deployment instead of being updated.
//!
//! ## Example
//! ```json
//! "parameters": {"assignmentName": {"type": "string", "defaultValue": "[newGuid()]"}},
//! "resources": [{"type": "Microsoft.Authorization/roleAssignments",
//!                "name": "[parameters('assignmentName')]"}]
//! ```
//!
//! ## How to fix
//! Derive the name from what identifies the assignment:
//! `[guid(resourceId('Microsoft.KeyVault/vaults/keys', parameters('vaultName'), parameters('keyName')), parameters('principalId'), variables('roleDefinitionId'))]`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template#name
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string#guid

use super::TemplateInput;
use crate::arm::expr::ast::Expr;
use crate::arm::expr::parser::{parse_string, Parsed};
use crate::arm::expr::refs::{calls, calls_any, resources};
use crate::diag::{Diagnostic, Level};
use serde_json::Value as Json;

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_bare_parameter(e: &Expr) -> bool {
    matches!(e, Expr::Call(c) if c.namespace.is_none() && c.lname == "parameters")
}

fn volatile(e: &Expr) -> bool {
    calls_any(e, &|f| f == "newguid" || f == "utcnow")
}

/// Reports role assignments with non-GUID names and names built from the clock or newGuid().
pub fn check(input: &TemplateInput<'_>, out: &mut Vec<Diagnostic>) {
    let root = &input.template.value;
    let params = root.get("parameters").and_then(Json::as_object);
    // The default value of a parameter, parsed, when it is an expression.
    let default_expr = |name: &str| -> Option<Expr> {
        let decl = params?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?
            .1;
        match parse_string(decl.get("defaultValue")?.as_str()?) {
            Ok(Parsed::Expr(e)) => Some(e),
            _ => None,
        }
    };
    for (pointer, rtype, r) in resources(root, "") {
        let Some(name) = r.get("name").and_then(Json::as_str) else {
            continue;
        };
        let name_pointer = format!("{pointer}/name");
        let parsed = parse_string(name);
        let expr = match &parsed {
            Ok(Parsed::Expr(e)) => Some(e),
            _ => None,
        };
        if let Some(e) = expr {
            let via_param = calls(e, "parameters")
                .into_iter()
                .flatten()
                .find(|p| default_expr(p).is_some_and(|d| volatile(&d)));
            if volatile(e) || via_param.is_some() {
                let how = match via_param {
                    Some(p) => format!("parameter '{p}', whose default calls newGuid()/utcNow()"),
                    None => "newGuid()/utcNow()".to_string(),
                };
                out.push(
                    Diagnostic::new(
                        "ARM008",
                        Level::Error,
                        format!("the name of this {rtype} is built with {how}: every deployment creates a new one"),
                        input.template.location(&name_pointer),
                    )
                    .with_resource(crate::arm::walk::label(&rtype, r, &pointer)),
                );
                continue;
            }
        }
        if !rtype.eq_ignore_ascii_case("Microsoft.Authorization/roleAssignments") {
            continue;
        }
        let ok = match (&parsed, expr) {
            (Ok(Parsed::Literal(s)), _) => is_guid(s),
            // guid() makes a GUID; a bare parameter is the caller's value (a GUID or not).
            (_, Some(e)) => calls_any(e, &|f| f == "guid") || is_bare_parameter(e),
            _ => true,
        };
        if !ok {
            out.push(
                Diagnostic::new(
                    "ARM008",
                    Level::Error,
                    format!("role assignment name '{name}' is not a GUID or guid(...)"),
                    input.template.location(&name_pointer),
                )
                .with_resource(crate::arm::walk::label(&rtype, r, &pointer)),
            );
        }
    }
}
