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
use crate::model::{same_guid_str, Deployment, Scope, Val};
use crate::value::{Str, Str2};

const ID: &str = "CMK013";

/// Reports broader roles held by the vendor's principal.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let vendors: Vec<Str2> = match &s.sp_object_id {
        Some(sp) => vec![Str2::Lit(sp.clone())],
        None => {
            // Each principal once: a loop may assign the role to one principal
            // thousands of times, and every assignment is compared with each.
            let mut distinct: Vec<Str2> = Vec::new();
            for ra in dep.role_assignments() {
                if has_role(ra, &[ENCRYPTION_USER]) != Tri::Yes {
                    continue;
                }
                if let Val::Known(p) = ra.text(&["properties", "principalId"]).val {
                    if !distinct.contains(&p) {
                        distinct.push(p);
                    }
                }
            }
            distinct
        }
    };
    if vendors.is_empty() {
        return;
    }
    // Broad roles matter where they reach this deployment's keys and vaults.
    let reaches = |scope: &Scope| match scope {
        Scope::Key { vault, .. } | Scope::Vault { vault } => {
            dep.vault(vault.as_str2()).is_some()
                || dep.keys().any(|k| {
                    k.vault_name()
                        .is_some_and(|v| v.as_str2().equals(vault.as_str2(), true) == Some(true))
                })
        }
        Scope::Above(_) | Scope::Unknown(_) => true,
        Scope::Other(_) => false,
    };
    for ra in dep.role_assignments() {
        let Val::Known(p) = ra.text(&["properties", "principalId"]).val else {
            continue;
        };
        let answers: Vec<Option<bool>> = vendors
            .iter()
            .map(|v| same_guid_str(v.as_str2(), p.as_str2()))
            .collect();
        let vendor = if answers.contains(&Some(true)) {
            Some(true)
        } else if answers.contains(&None) {
            None
        } else {
            Some(false)
        };
        if vendor == Some(false) {
            continue;
        }
        let role = ra.text(&["properties", "roleDefinitionId"]);
        let (role_name, known_role) = match &role.val {
            Val::Known(id) => {
                let hit = BROAD_ROLES
                    .iter()
                    .map(|(g, n)| (same_guid_str(id.as_str2(), Str::Lit(g)), *n))
                    .find(|(m, _)| *m != Some(false));
                match hit {
                    Some((Some(true), n)) => (n, true),
                    Some((_, _)) => ("a role that may be broad", false),
                    None => continue,
                }
            }
            Val::Unknown(_) => ("an unknown role", false),
            _ => continue,
        };
        // After the role: the scope's reach compares it with every key.
        if !reaches(&ra.resolved_scope()) {
            continue;
        }
        if known_role && vendor == Some(true) {
            let msg = format!(
                "the vendor's principal '{p}' holds {role_name} on {}; it needs only Key Vault Crypto Service Encryption User on the key",
                ra.resolved_scope().describe()
            );
            out.push(at(ID, Level::Warning, msg, ra, &role));
            continue;
        }
        let why = match (&role.val, vendor) {
            (Val::Unknown(why), _) => why.clone(),
            (Val::Known(id), Some(true)) => id.reason().unwrap_or_default(),
            _ => format!("the principal {}", p.reason().unwrap_or_default()),
        };
        let what = if vendor == Some(true) {
            "which role the vendor's principal gets".to_string()
        } else {
            format!("whether {role_name} goes to the vendor's principal")
        };
        out.push(undecided(ID, ra, &what, &why, &role));
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
