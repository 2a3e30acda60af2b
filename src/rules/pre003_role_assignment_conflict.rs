//! ## What it checks
//! (`cmek-arm preflight`.) No role assignment of the template collides with one
//! that already exists at the same scope: the same role (compared by the role
//! definition's trailing GUID), the same principal and the same scope (compared
//! without case, after normalising the resource ID) under a different name. It
//! names the existing assignment's ID. An existing assignment with the template's
//! name but another role or principal is reported too: ARM cannot change either.
//!
//! ## Why it matters
//! A role assignment's name is its identity; the role, principal and scope are its
//! content, and ARM allows each content only once per scope. When someone has
//! granted the role by hand (the portal steps of a CMEK guide, say), the
//! template's assignment, with its own deterministic name, fails the whole
//! deployment with `RoleAssignmentExists`, after the vault and key were created.
//! An assignment with the same name and other content fails with
//! `RoleAssignmentUpdateNotPermitted`.
//!
//! ## Example
//! Key Vault Crypto Service Encryption User was given to the vendor's principal on
//! the key in the portal, as assignment `3fa1...`; the template assigns it as
//! `guid(key, principal, role)`:
//! `error[PRE003]: principal ... already holds Key Vault Crypto Service Encryption
//! User at ... through role assignment /subscriptions/.../roleAssignments/3fa1...`
//!
//! ## How to fix
//! Delete the existing assignment (`az role assignment delete --ids <its ID>`) and
//! let the deployment create its own, which grants the same, or remove the role
//! assignment from the template. For a name clash, give the template's assignment
//! another name (`guid()` of other values).
//!
//! ## References
//! - https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-already-exists
//! - https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template

use super::common::{BROAD_ROLES, ENCRYPTION_USER};
use super::PreflightInput;
use crate::azure::preflight::{assignment_scope, Read};
use crate::diag::{Diagnostic, Level, Location};
use crate::model::same_guid;

/// The rule ID.
pub const ID: &str = "PRE003";

/// The role's name when it is a well-known built-in role, else its GUID.
pub(crate) fn role_label(role_definition_id: &str) -> String {
    let guid = role_definition_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(role_definition_id);
    std::iter::once((ENCRYPTION_USER, "Key Vault Crypto Service Encryption User"))
        .chain(BROAD_ROLES.iter().copied())
        .find(|(id, _)| id.eq_ignore_ascii_case(guid))
        .map_or_else(|| format!("role {guid}"), |(_, name)| name.to_string())
}

/// Reports on every role assignment the template creates.
pub fn check(input: &PreflightInput<'_>, out: &mut Vec<Diagnostic>) {
    for ra in input.deployment.role_assignments() {
        let report = |level: Level, message: String| {
            Diagnostic::new(ID, level, message, ra.location()).with_resource(ra.display())
        };
        // Preflight expands with the real context: a symbolic name cannot be compared.
        let name = ra.short_name().and_then(|n| n.as_lit().map(str::to_string));
        let role = ra
            .body
            .path(&["properties", "roleDefinitionId"])
            .and_then(|v| v.as_str());
        let principal = ra
            .body
            .path(&["properties", "principalId"])
            .and_then(|v| v.as_str());
        let scope = ra.id.as_str().and_then(assignment_scope);
        let (Some(name), Some(role), Some(principal), Some(scope)) =
            (name.as_deref(), role, principal, scope)
        else {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: the name, role, principal or scope of {} is not known \
                     before deployment, so existing assignments were not compared",
                    ra.display()
                ),
            ));
            continue;
        };
        let existing = match input.state.assignments_at(&scope) {
            Some(Read::Known(list)) => list,
            Some(Read::Unknown(why)) => {
                out.push(report(
                    Level::Note,
                    format!("cannot be decided: existing role assignments at '{scope}': {why}"),
                ));
                continue;
            }
            None => {
                out.push(report(
                    Level::Note,
                    format!(
                        "cannot be decided: role assignments at '{scope}' were not read (see \
                         --show-state's notRead)"
                    ),
                ));
                continue;
            }
        };
        let role_name = role_label(role);
        for e in existing {
            let same_role = same_guid(&e.role_definition_id, role);
            let same_principal = same_guid(&e.principal_id, principal);
            let at = Location::Azure { id: e.id.clone() };
            if same_guid(&e.name, name) || e.name.eq_ignore_ascii_case(name) {
                if !(same_role && same_principal) {
                    out.push(
                        report(
                            Level::Error,
                            format!(
                                "role assignment '{name}' already exists at '{}' for principal \
                                 '{}' with {}: ARM cannot change its role or principal and fails \
                                 with RoleAssignmentUpdateNotPermitted; give the template's \
                                 assignment another name, or delete {}",
                                e.scope,
                                e.principal_id,
                                role_label(&e.role_definition_id),
                                e.id
                            ),
                        )
                        .with_label(at, "the existing role assignment"),
                    );
                }
                continue;
            }
            if same_role && same_principal {
                out.push(
                    report(
                        Level::Error,
                        format!(
                            "principal '{principal}' already holds {role_name} at this scope \
                             through role assignment '{}', and the template assigns it again as \
                             '{name}': ARM fails with RoleAssignmentExists; delete that one (`az \
                             role assignment delete --ids {}`) or remove this one from the \
                             template",
                            e.id, e.id
                        ),
                    )
                    .with_label(at, "the existing role assignment"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_roles_are_named() {
        assert_eq!(
            role_label("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/E147488A-F6F5-4113-8E2D-B22465E65BF6"),
            "Key Vault Crypto Service Encryption User"
        );
        assert_eq!(role_label("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"), "Owner");
        assert_eq!(role_label("abc"), "role abc");
    }
}
