//! ## What it checks
//! The vendor's principal (`--sp-object-id`; when not given, every principal holding
//! *Key Vault Crypto Service Encryption User*) holds no broader role on the key, the
//! vault, or anything above them: Key Vault Administrator, Crypto Officer, Crypto
//! User, Secrets Officer/User, Certificates Officer, Data Access Administrator, Key
//! Vault Contributor, Owner, Contributor, User Access Administrator or Role Based
//! Access Control Administrator.
//!
//! ## Why it matters
//! The vendor needs to wrap and unwrap, nothing more. A broader role lets the vendor
//! (or anyone who compromises its credentials) read secrets, delete or purge keys,
//! or grant itself further access — the opposite of holding your own key.
//!
//! ## Example
//! ```json
//! {"properties": {"roleDefinitionId": "...14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
//!                 "principalId": "[parameters('vendorSpObjectId')]"}}
//! ```
//! Use instead the Encryption User role `e147488a-f6f5-4113-8e2d-b22465e65bf6`.
//!
//! ## How to fix
//! Remove the broader assignment and keep only *Key Vault Crypto Service Encryption
//! User* on the key: `az role assignment delete --assignee <sp-object-id> --role <role>
//! --scope <scope>`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/role-based-access-control/best-practices#only-grant-the-access-users-need
//! - https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security

use super::common::Tri;
use super::common::{at, has_role, undecided, BROAD_ROLES, ENCRYPTION_USER};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{same_guid, Deployment, Scope, Val};

const ID: &str = "CMK013";

/// Reports broader roles held by the vendor's principal.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let vendors: Vec<String> = match &s.sp_object_id {
        Some(sp) => vec![sp.clone()],
        None => dep
            .role_assignments()
            .filter(|ra| has_role(ra, &[ENCRYPTION_USER]) == Tri::Yes)
            .filter_map(|ra| match ra.principal_id().val {
                Val::Known(p) => Some(p),
                _ => None,
            })
            .collect(),
    };
    if vendors.is_empty() {
        return;
    }
    // Broad roles matter where they reach this deployment's keys and vaults.
    let reaches = |scope: &Scope| match scope {
        Scope::Key { vault, .. } | Scope::Vault { vault } => {
            dep.vault(vault).is_some()
                || dep.keys().any(|k| {
                    k.vault_name()
                        .is_some_and(|v| v.eq_ignore_ascii_case(vault))
                })
        }
        Scope::Above(_) | Scope::Unknown(_) => true,
        Scope::Other(_) => false,
    };
    for ra in dep.role_assignments() {
        let principal = ra.principal_id();
        let Val::Known(p) = &principal.val else {
            continue;
        };
        if !vendors.iter().any(|v| same_guid(v, p)) || !reaches(&ra.resolved_scope()) {
            continue;
        }
        let role = ra.role_definition_id();
        match &role.val {
            Val::Known(id) => {
                let Some((_, role_name)) = BROAD_ROLES.iter().find(|(g, _)| same_guid(id, g))
                else {
                    continue;
                };
                let msg = format!(
                    "the vendor's principal '{p}' holds {role_name} on {}; it needs only Key Vault Crypto Service Encryption User on the key",
                    ra.resolved_scope().describe()
                );
                out.push(at(ID, Level::Warning, msg, ra, &role));
            }
            Val::Unknown(why) => out.push(undecided(
                ID,
                ra,
                "which role the vendor's principal gets",
                why,
                &role,
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing;
    use crate::rules::cmk010_encryption_user_role::tests::{ra, SP};
    use crate::rules::common::CRYPTO_OFFICER;
    use crate::value::Value;

    fn run(ras: Vec<crate::model::Resource>, sp: Option<&str>) -> Vec<(Level, String)> {
        let s = Settings {
            sp_object_id: sp.map(str::to_string),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(ras), &s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

    #[test]
    fn encryption_user_alone_passes() {
        assert!(run(
            vec![ra(
                0,
                ENCRYPTION_USER,
                SP,
                Some("Microsoft.KeyVault/vaults/kv/keys/k")
            )],
            Some(SP)
        )
        .is_empty());
        // Someone else holding Owner is not the vendor.
        assert!(run(vec![ra(0, OWNER, "other", None)], Some(SP)).is_empty());
    }

    #[test]
    fn broader_roles_of_the_vendor_warn() {
        let d = run(
            vec![
                ra(
                    0,
                    ENCRYPTION_USER,
                    SP,
                    Some("Microsoft.KeyVault/vaults/kv/keys/k"),
                ),
                ra(1, OWNER, SP, None),
            ],
            None,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, Level::Warning);
        assert!(d[0].1.contains("Owner"), "{d:?}");
        assert_eq!(
            run(
                vec![ra(
                    0,
                    CRYPTO_OFFICER,
                    &SP.to_uppercase(),
                    Some("/subscriptions/0")
                )],
                Some(SP)
            )
            .len(),
            1
        );
    }

    #[test]
    fn unknown_role_of_the_vendor_is_a_note() {
        let mut r = ra(0, ENCRYPTION_USER, SP, None);
        testing::set(
            &mut r,
            &["properties", "roleDefinitionId"],
            Value::unknown("no value for parameter 'role'"),
        );
        assert_eq!(run(vec![r], Some(SP))[0].0, Level::Note);
    }
}
