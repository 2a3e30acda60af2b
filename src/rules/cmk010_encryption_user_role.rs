//! ## What it checks
//! For every key, a role assignment gives *Key Vault Crypto Service Encryption User*
//! (`e147488a-f6f5-4113-8e2d-b22465e65bf6`) to the vendor's service principal
//! (`--sp-object-id`; any principal when not given) with the key as its scope.
//! The same role on the vault (or a resource group or subscription above it) works
//! but is a warning: it reaches every key in the vault.
//!
//! Role definition and principal IDs compare by their trailing GUID, so a bare GUID
//! and a full `.../roleDefinitions/<guid>` ID are the same role. The scope may be a
//! full resource ID, `Microsoft.KeyVault/vaults/<v>/keys/<k>` or a symbolic name.
//!
//! Live (`cmek-arm check --sp-object-id`), the principal is also looked up in
//! Microsoft Graph: an ID that is the vendor application's *application (client)
//! ID* is an error naming the service principal's object ID to use (the other
//! rules are then checked against that object ID), and an ID no service principal
//! in the tenant has is an error too. When Graph cannot be asked (no
//! `Application.Read.All`), that is a note.
//!
//! ## Why it matters
//! This is the grant that breaks most CMEK setups: without it the vendor's service
//! cannot wrap or unwrap with the key, and encryption setup fails — often only when
//! the cluster is created. An assignment to the application (client) ID instead of
//! the service principal's object ID also fails silently.
//!
//! ## Example
//! ```json
//! {"type": "Microsoft.Authorization/roleAssignments", "scope": "Microsoft.KeyVault/vaults/kv1",
//!  "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'e147488a-f6f5-4113-8e2d-b22465e65bf6')]",
//!                 "principalId": "[parameters('vendorSpObjectId')]"}}
//! ```
//! Use instead `"scope": "Microsoft.KeyVault/vaults/kv1/keys/cmek-key-tidb"`.
//!
//! ## How to fix
//! Assign the role on the key to the service principal's *object ID* (Enterprise
//! applications → the vendor's application → Object ID):
//! `az role assignment create --role "Key Vault Crypto Service Encryption User"
//! --assignee-object-id <sp-object-id> --assignee-principal-type ServicePrincipal
//! --scope <key resource ID>`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-crypto-service-encryption-user
//! - https://learn.microsoft.com/azure/key-vault/general/rbac-guide
//! - https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template

use super::common::{
    at, at_resource, has_role, name, scope_tri, to_principal, Tri, ENCRYPTION_USER,
};
use super::Settings;
use crate::diag::{Diagnostic, Level, Location};
use crate::model::{Deployment, Scope, Val};

const ID: &str = "CMK010";

/// Reports keys the vendor's principal is not given Encryption User on.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let sp = s.sp_object_id.as_deref();
    let who = sp.map_or("any principal".to_string(), |p| format!("principal '{p}'"));
    // What each assignment grants, worked out once rather than once per key
    // (keys times assignments is the work; a template may hold thousands).
    // Assignments of other roles can neither pass nor be a near miss.
    let grants: Vec<_> = dep
        .role_assignments()
        .filter_map(|ra| {
            let role = has_role(ra, &[ENCRYPTION_USER]);
            (role != Tri::No).then(|| (ra, ra.resolved_scope(), role, to_principal(ra, sp)))
        })
        .collect();
    for key in dep.keys() {
        // A key whose name is unknown can still be decided: without any assignment
        // of the role to the principal, it fails whatever its name.
        let names = key.vault_name().zip(key.short_name());
        let unknown_name = || Tri::Maybe("the key's name is unknown".into());
        let mut on_vault = None;
        // An assignment that may be on the key leaves every verdict open; one that
        // may be on the vault only the warning or the error.
        let mut maybe = None;
        let mut maybe_above = None;
        let mut near_misses: Vec<(Location, String)> = Vec::new();
        let mut passed = false;
        for (ra, scope, role, principal) in &grants {
            let ra = *ra;
            let (on_key, above) = match &names {
                Some((vault, key_name)) => (
                    scope_tri(scope, |sc| match sc {
                        Scope::Key { .. } => sc.covers_key(vault.as_str2(), key_name.as_str2()),
                        _ => Some(false),
                    }),
                    scope_tri(scope, |sc| sc.covers_vault(vault.as_str2())),
                ),
                None => match scope {
                    Scope::Above(_) => (Tri::No, Tri::Yes),
                    Scope::Other(_) => (Tri::No, Tri::No),
                    _ => (unknown_name(), unknown_name()),
                },
            };
            match role.clone().and(principal.clone()).and(on_key.clone()) {
                Tri::Yes => {
                    passed = true;
                    break;
                }
                Tri::Maybe(why) => {
                    maybe.get_or_insert((ra, why));
                }
                Tri::No => {}
            }
            match role.clone().and(principal.clone()).and(above) {
                Tri::Yes => {
                    on_vault.get_or_insert((ra, scope.clone()));
                }
                Tri::Maybe(why) => {
                    maybe_above.get_or_insert((ra, why));
                }
                Tri::No => {}
            }
            if *role == Tri::Yes && on_key == Tri::Yes && *principal == Tri::No {
                if let Val::Known(p) = ra.principal_id().val {
                    near_misses.push((
                        ra.principal_id().location,
                        format!(
                            "the role goes to principal '{p}' here, not to '{}'",
                            sp.unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        if passed {
            continue;
        }
        let undecided = match on_vault {
            Some(_) => maybe,
            None => maybe.or(maybe_above),
        };
        if let Some((ra, why)) = undecided {
            let msg = format!(
                "cannot be decided: whether {} gives {who} Key Vault Crypto Service Encryption User on key '{}' ({why})",
                ra.display(),
                name(key)
            );
            out.push(at_resource(ID, Level::Note, msg, ra));
        } else if let Some((ra, scope)) = on_vault {
            let msg = format!(
                "{who} holds Key Vault Crypto Service Encryption User on {}, not on key '{}': it reaches every key there",
                scope.describe(),
                name(key)
            );
            let p = ra.str(&["scope"]);
            out.push(at(ID, Level::Warning, msg, ra, &p));
        } else {
            let msg = format!(
                "no role assignment gives {who} Key Vault Crypto Service Encryption User on key '{}'",
                name(key)
            );
            let mut d = at_resource(ID, Level::Error, msg, key);
            for (loc, m) in near_misses {
                d = d.with_label(loc, m);
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{testing, Kind, Resource};
    use crate::value::Value;
    use serde_json::json;

    pub(crate) const SP: &str = "11111111-1111-1111-1111-111111111111";

    pub(crate) fn ra(i: usize, role: &str, principal: &str, scope: Option<&str>) -> Resource {
        let mut body = json!({"name": format!("ra{i}"), "properties": {
            "roleDefinitionId": format!("/subscriptions/0/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal, "principalType": "ServicePrincipal"}});
        if let Some(s) = scope {
            body["scope"] = json!(s);
        }
        testing::res(Kind::RoleAssignment, i, body)
    }

    fn run(ras: Vec<Resource>, sp: Option<&str>) -> Vec<(Level, String)> {
        let mut all = vec![testing::res(Kind::Key, 0, json!({"name": "kv/k"}))];
        all.extend(ras);
        let s = Settings {
            sp_object_id: sp.map(str::to_string),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(all), &s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn on_the_key_passes_in_any_written_form() {
        for scope in [
            "Microsoft.KeyVault/vaults/kv/keys/k",
            "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/KV/keys/K",
        ] {
            let r = ra(
                1,
                &ENCRYPTION_USER.to_uppercase(),
                &SP.to_uppercase(),
                Some(scope),
            );
            assert!(run(vec![r], Some(SP)).is_empty(), "{scope}");
        }
        assert!(run(
            vec![ra(
                1,
                ENCRYPTION_USER,
                "someone",
                Some("Microsoft.KeyVault/vaults/kv/keys/k")
            )],
            None
        )
        .is_empty());
    }

    #[test]
    fn vault_scope_warns_and_missing_fails() {
        assert_eq!(
            run(
                vec![ra(
                    1,
                    ENCRYPTION_USER,
                    SP,
                    Some("Microsoft.KeyVault/vaults/kv")
                )],
                Some(SP)
            )[0]
            .0,
            Level::Warning
        );
        assert_eq!(
            run(vec![ra(1, ENCRYPTION_USER, SP, None)], Some(SP))[0].0,
            Level::Warning
        );
        assert_eq!(
            run(vec![ra(1, ENCRYPTION_USER, "22222222-2222-2222-2222-222222222222", Some("Microsoft.KeyVault/vaults/kv/keys/k"))], Some(SP)),
            vec![(Level::Error, format!("no role assignment gives principal '{SP}' Key Vault Crypto Service Encryption User on key 'kv/k'"))]
        );
        assert_eq!(
            run(
                vec![ra(
                    1,
                    ENCRYPTION_USER,
                    SP,
                    Some("Microsoft.KeyVault/vaults/kv/keys/other")
                )],
                Some(SP)
            )[0]
            .0,
            Level::Error
        );
        assert_eq!(run(vec![], None)[0].0, Level::Error);
    }

    #[test]
    fn unknown_principal_or_scope_is_a_note() {
        let mut r = ra(
            1,
            ENCRYPTION_USER,
            SP,
            Some("Microsoft.KeyVault/vaults/kv/keys/k"),
        );
        testing::set(
            &mut r,
            &["properties", "principalId"],
            Value::unknown("no value for parameter 'sp'"),
        );
        let d = run(vec![r], Some(SP));
        assert_eq!(d[0].0, Level::Note);
        assert!(d[0].1.contains("no value for parameter 'sp'"), "{d:?}");
        let mut r = ra(1, ENCRYPTION_USER, SP, None);
        r.scope = Some(Scope::Unknown(
            "reference() needs a deployed resource".into(),
        ));
        assert_eq!(run(vec![r], Some(SP))[0].0, Level::Note);
    }
}
