//! ## What it checks
//! For every vault, a role assignment gives *Key Vault Crypto Officer*
//! (`14b46e9e-c2b7-41b4-b07b-48a6ebf60603`) or *Key Vault Administrator*
//! (`00482a5a-887f-4fb3-b363-3b7fe8e74483`) to the customer's key officer
//! (`--officer-object-id`; any principal when not given) on the vault, one of its
//! keys, or a scope above the vault.
//!
//! ## Why it matters
//! In the RBAC model nobody — not even the subscription owner — can manage keys
//! without a data-plane role. Without an officer, nobody can rotate, disable or
//! recover the key in an incident, nor revoke the vendor's access in a hurry.
//!
//! ## Example
//! A template with the vault, key and the vendor's role assignment, but no
//! assignment of Crypto Officer. Add:
//! ```json
//! {"type": "Microsoft.Authorization/roleAssignments", "scope": "Microsoft.KeyVault/vaults/kv1",
//!  "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '14b46e9e-c2b7-41b4-b07b-48a6ebf60603')]",
//!                 "principalId": "[parameters('officerObjectId')]"}}
//! ```
//!
//! ## How to fix
//! Assign *Key Vault Crypto Officer* on the vault to the person or group managing keys:
//! `az role assignment create --role "Key Vault Crypto Officer" --assignee-object-id <id>
//! --scope <vault resource ID>`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-crypto-officer
//! - https://learn.microsoft.com/azure/key-vault/general/rbac-guide

use super::common::{
    at_resource, has_role, name, scope_tri, to_principal, Tri, ADMINISTRATOR, CRYPTO_OFFICER,
};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Scope};

const ID: &str = "CMK011";

/// Reports vaults nobody (or not the given officer) can manage keys in.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let officer = s.officer_object_id.as_deref();
    let who = officer.map_or("any principal".to_string(), |p| format!("principal '{p}'"));
    // Role and principal of each assignment once, not once per vault; those
    // that cannot give the role are left out.
    let grants: Vec<_> = dep
        .role_assignments()
        .filter_map(|ra| {
            let grant =
                has_role(ra, &[CRYPTO_OFFICER, ADMINISTRATOR]).and(to_principal(ra, officer));
            (grant != Tri::No).then(|| (ra, ra.resolved_scope(), grant))
        })
        .collect();
    for vault in dep.vaults() {
        let vault_name = vault.vault_name();
        let mut maybe = None;
        let mut passed = false;
        for (ra, resolved, grant) in &grants {
            let ra = *ra;
            let scope = match (&vault_name, resolved) {
                (_, Scope::Above(_)) => Tri::Yes,
                (_, Scope::Other(_)) => Tri::No,
                (Some(vault_name), _) => scope_tri(resolved, |sc| match sc {
                    Scope::Key { vault: v, .. } => v.as_str2().equals(vault_name.as_str2(), true),
                    other => other.covers_vault(vault_name.as_str2()),
                }),
                (None, _) => Tri::Maybe("the vault's name is unknown".into()),
            };
            match grant.clone().and(scope) {
                Tri::Yes => {
                    passed = true;
                    break;
                }
                Tri::Maybe(why) => {
                    maybe.get_or_insert((ra, why));
                }
                Tri::No => {}
            }
        }
        if passed {
            continue;
        }
        if let Some((ra, why)) = maybe {
            let msg = format!(
                "cannot be decided: whether {} gives {who} Key Vault Crypto Officer on vault '{}' ({why})",
                ra.display(),
                name(vault)
            );
            out.push(at_resource(ID, Level::Note, msg, ra));
        } else {
            let msg = format!(
                "no role assignment gives {who} Key Vault Crypto Officer or Administrator on vault '{}'",
                name(vault)
            );
            out.push(at_resource(ID, Level::Warning, msg, vault));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind, Resource};
    use crate::rules::cmk010_encryption_user_role::tests::ra;
    use crate::value::Value;
    use serde_json::json;

    const OFFICER: &str = "33333333-3333-3333-3333-333333333333";

    fn run(ras: Vec<Resource>, officer: Option<&str>) -> Vec<(Level, String)> {
        let mut all = vec![testing::res(Kind::Vault, 0, json!({"name": "kv"}))];
        all.extend(ras);
        let s = Settings {
            officer_object_id: officer.map(str::to_string),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(all), &s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn officer_or_admin_on_vault_key_or_above_passes() {
        assert!(run(
            vec![ra(
                1,
                CRYPTO_OFFICER,
                OFFICER,
                Some("Microsoft.KeyVault/vaults/kv")
            )],
            Some(OFFICER)
        )
        .is_empty());
        assert!(run(
            vec![ra(
                1,
                ADMINISTRATOR,
                OFFICER,
                Some("Microsoft.KeyVault/vaults/kv/keys/k")
            )],
            Some(OFFICER)
        )
        .is_empty());
        assert!(run(vec![ra(1, CRYPTO_OFFICER, "anyone", None)], None).is_empty());
    }

    #[test]
    fn missing_or_other_principal_warns() {
        assert_eq!(
            run(vec![ra(1, CRYPTO_OFFICER, "44444444-4444-4444-4444-444444444444", Some("Microsoft.KeyVault/vaults/kv"))], Some(OFFICER)),
            vec![(Level::Warning, format!("no role assignment gives principal '{OFFICER}' Key Vault Crypto Officer or Administrator on vault 'kv'"))]
        );
        assert_eq!(
            run(
                vec![ra(
                    1,
                    CRYPTO_OFFICER,
                    OFFICER,
                    Some("Microsoft.KeyVault/vaults/other")
                )],
                None
            )[0]
            .0,
            Level::Warning
        );
    }

    #[test]
    fn deployer_object_id_unknown_is_a_note() {
        let mut r = ra(
            1,
            CRYPTO_OFFICER,
            OFFICER,
            Some("Microsoft.KeyVault/vaults/kv"),
        );
        testing::set(
            &mut r,
            &["properties", "principalId"],
            Value::unknown("deployer() needs --deployer-object-id"),
        );
        assert_eq!(run(vec![r.clone()], Some(OFFICER))[0].0, Level::Note);
        // Any principal will do when no officer is given.
        assert!(run(vec![r], None).is_empty());
    }
}
