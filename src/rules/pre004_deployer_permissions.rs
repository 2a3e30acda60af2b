//! ## What it checks
//! (`cmek-arm preflight`.) The identity that runs `preflight` (the one that will
//! deploy) holds every action the deployment needs, at the scope where it needs
//! it, according to its effective permissions there
//! (`Microsoft.Authorization/permissions`):
//!
//! - `Microsoft.Resources/deployments/write` on the resource group (any template deployment),
//! - `Microsoft.KeyVault/vaults/write` for each vault,
//! - `Microsoft.KeyVault/vaults/keys/write` for each key,
//! - `Microsoft.Authorization/roleAssignments/write` at the scope of each role assignment.
//!
//! Permissions are matched as ARM matches them: `*` wildcards, without case, and
//! an action counts as granted when one role's `actions` match it and that same
//! role's `notActions` do not. Permissions are read on the vault when it exists,
//! else on its resource group (a new vault inherits them). Each finding says which
//! built-in role would grant what is missing.
//!
//! ## Why it matters
//! A deployer with Contributor can create the vault and the key, but not the role
//! assignments: Contributor excludes `Microsoft.Authorization/*/Write`. The
//! deployment then fails half-way, with the vault and key created and the vendor
//! without access: the most common CMEK deployment failure.
//!
//! ## Example
//! The deployer holds only Contributor on the resource group:
//! `error[PRE004]: the deploying identity ... may not create role assignments at
//! '.../vaults/kv-cmek-01': ... Microsoft.Authorization/roleAssignments/write ...
//! Owner, User Access Administrator or Role Based Access Control Administrator`.
//!
//! ## How to fix
//! Have the missing role granted on the resource group (or the vault), or have
//! someone who holds it run the deployment. For role assignments: Owner, User
//! Access Administrator, or Role Based Access Control Administrator. For the vault
//! and key: Key Vault Contributor or Contributor. Creating a key through ARM
//! (`Microsoft.KeyVault/vaults/keys/write`) is a control-plane action: a
//! data-plane role such as Key Vault Crypto Officer neither grants it nor is
//! needed for it, even in the RBAC permission model.
//!
//! A condition on a role assignment (Role Based Access Control Administrator is
//! often given one that limits which roles it may assign) does not appear in the
//! permission list and is not checked. A role assigned on a resource below the
//! vault (a key) is not read; a scope
//! above the resource group (the subscription) is judged by the resource group's
//! permissions, which can only over-state what holds above it: such a grant is a
//! note, a lack an error. A scope neither in nor above a resource group whose
//! permissions were read (another resource group that does not exist yet,
//! another subscription) is a note.
//!
//! ## References
//! - https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource-group
//! - https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
//! - https://learn.microsoft.com/azure/key-vault/general/rbac-guide

use super::PreflightInput;
use crate::azure::preflight::{action_matches, allows, assignment_scope, PermissionEntry, Read};
use crate::diag::{Diagnostic, Level, Location};

/// The rule ID.
pub const ID: &str = "PRE004";

const DEPLOY: &str = "Microsoft.Resources/deployments/write";
const VAULT_WRITE: &str = "Microsoft.KeyVault/vaults/write";
const KEY_WRITE: &str = "Microsoft.KeyVault/vaults/keys/write";
const ROLE_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

/// What to do about a missing `action`: the built-in roles that grant it.
fn advice(action: &str) -> &'static str {
    match action {
        ROLE_WRITE => {
            "Owner, User Access Administrator or Role Based Access Control Administrator there \
             or above grants it (Contributor and Key Vault Contributor do not), or someone who \
             holds one can deploy"
        }
        KEY_WRITE => {
            "Key Vault Contributor or Contributor grants it: creating a key through ARM is a \
             control-plane action, which no data-plane role (such as Key Vault Crypto Officer) \
             grants, even in the RBAC permission model"
        }
        VAULT_WRITE => "Key Vault Contributor or Contributor grants it",
        _ => "Contributor, Key Vault Contributor or Owner on the resource group grants it",
    }
}

/// One action the deployment needs somewhere.
struct Need {
    action: &'static str,
    doing: String,
    scope: Option<String>,
    location: Location,
    resource: String,
}

/// Reports every needed action the caller lacks.
pub fn check(input: &PreflightInput<'_>, out: &mut Vec<Diagnostic>) {
    let ctx = &input.state.context;
    let mut needs = vec![Need {
        action: DEPLOY,
        doing: format!(
            "deploy templates into resource group '{}'",
            ctx.resource_group
        ),
        scope: Some(ctx.resource_group_id.clone()),
        location: Location::Azure {
            id: ctx.resource_group_id.clone(),
        },
        resource: ctx.resource_group_id.clone(),
    }];
    let dep = input.deployment;
    for (res, action, doing) in dep
        .vaults()
        .map(|r| (r, VAULT_WRITE, "create or update Key Vault"))
        .chain(dep.keys().map(|r| (r, KEY_WRITE, "create key")))
    {
        needs.push(Need {
            action,
            doing: format!(
                "{doing} '{}'",
                res.name.as_str().unwrap_or("<unknown name>")
            ),
            scope: res.id.as_str().map(str::to_string),
            location: res.location(),
            resource: res.display(),
        });
    }
    for ra in dep.role_assignments() {
        let scope = ra.id.as_str().and_then(assignment_scope);
        needs.push(Need {
            action: ROLE_WRITE,
            doing: format!(
                "create role assignments at '{}'",
                scope.as_deref().unwrap_or("<unknown scope>")
            ),
            scope,
            location: ra.location(),
            resource: ra.display(),
        });
    }

    let who = match &ctx.deployer_object_id {
        Some(id) => format!("the deploying identity (object ID {id})"),
        None => "the deploying identity".to_string(),
    };
    for need in needs {
        let report = |level: Level, message: String| {
            Diagnostic::new(ID, level, message, need.location.clone())
                .with_resource(need.resource.clone())
        };
        let Some(scope) = &need.scope else {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: whether {who} may {}: the scope is not known before \
                     deployment",
                    need.doing
                ),
            ));
            continue;
        };
        let Some(applicable) = input.state.permissions_for(scope) else {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: whether {who} may {}: no permissions read apply at \
                     '{scope}' (it lies neither in nor above a scope whose permissions exist)",
                    need.doing
                ),
            ));
            continue;
        };
        let entries = match applicable.permissions {
            Read::Known(Some(entries)) => entries,
            Read::Known(None) => {
                out.push(report(
                    Level::Note,
                    format!(
                        "cannot be decided: whether {who} may {}: '{}' does not exist",
                        need.doing, applicable.read_at
                    ),
                ));
                continue;
            }
            Read::Unknown(why) => {
                out.push(report(
                    Level::Note,
                    format!("cannot be decided: whether {who} may {}: {why}", need.doing),
                ));
                continue;
            }
        };
        let granted = allows(entries, need.action);
        if granted && applicable.above {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: whether {who} may {}: {} is granted at '{}', which lies \
                     below that scope; whether it is granted above was not read",
                    need.doing, need.action, applicable.read_at
                ),
            ));
            continue;
        }
        if granted {
            continue;
        }
        let excluded = if excluded_by_not_actions(entries, need.action) {
            ", as a role's notActions exclude it (Contributor's do)"
        } else {
            ""
        };
        out.push(
            report(
                Level::Error,
                format!(
                    "{who} may not {}: its permissions at '{}' lack {}{excluded}; {}",
                    need.doing,
                    applicable.read_at,
                    need.action,
                    advice(need.action)
                ),
            )
            .with_label(
                Location::Azure {
                    id: applicable.read_at.to_string(),
                },
                "permissions read here",
            ),
        );
    }
}

/// True when an entry's actions match `action` but its own notActions take it away.
fn excluded_by_not_actions(entries: &[PermissionEntry], action: &str) -> bool {
    entries.iter().any(|e| {
        e.actions.iter().any(|p| action_matches(p, action))
            && e.not_actions.iter().any(|p| action_matches(p, action))
    })
}
