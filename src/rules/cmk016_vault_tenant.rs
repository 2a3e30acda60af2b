//! ## What it checks
//! The vault's `properties.tenantId` is the deployment's own tenant: written as
//! `[subscription().tenantId]` (or `[tenant().tenantId]`), or equal to `--tenant-id`.
//! A hard-coded tenant ID that differs from `--tenant-id` fails; one that cannot be
//! compared (no `--tenant-id`) is a note.
//! A vault the template only references (`"existing": true`) is not deployed or
//! changed by it: that is a note naming `cmek-arm check`, which decides it live.
//!
//! ## Why it matters
//! A vault trusts exactly one Microsoft Entra tenant for authentication. A template
//! copied from another organisation keeps that organisation's tenant ID: the
//! deployment then fails, or creates a vault nobody in your tenant can use.
//!
//! ## Example
//! ```json
//! {"properties": {"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"tenantId": "[subscription().tenantId]"}}
//! ```
//!
//! ## How to fix
//! Write `"tenantId": "[subscription().tenantId]"`. For a live vault in the wrong
//! tenant, see the move-subscription guide below.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/move-subscription
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{same_guid_str, Deployment, Val};
use crate::value::Str2;

const ID: &str = "CMK016";

/// Reports vaults bound to another tenant.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    for vault in super::existing::existing_vaults(dep) {
        out.push(super::existing::note(
            ID,
            vault,
            "the vault's tenant",
            &vault.tenant_id(),
        ));
    }
    // The deployment's tenant: `--tenant-id`, else the template's own tenant symbol
    // (what `subscription().tenantId` is, whatever its value).
    let expected: Option<Str2> = match (&s.tenant_id, &dep.tenant) {
        (Some(t), _) => Some(Str2::Lit(t.clone())),
        (None, Some(v)) => v.as_str2().map(|_| Str2::from(v.clone())),
        (None, None) => None,
    };
    for vault in dep.vaults() {
        let p = vault.text(&["properties", "tenantId"]);
        match &p.val {
            Val::Known(t) => match &expected {
                Some(e) => match same_guid_str(t.as_str2(), e.as_str2()) {
                    Some(true) => {}
                    Some(false) => {
                        let msg = format!(
                            "Key Vault '{}' trusts tenant '{t}', not the deployment's tenant '{e}'",
                            name(vault)
                        );
                        out.push(at(ID, Level::Error, msg, vault, &p));
                    }
                    None => {
                        let why = match (t.reason(), e.as_lit()) {
                            (Some(r), _) => r,
                            (None, _) => format!(
                                "tenantId is set to '{t}'; give --tenant-id to compare, or write [subscription().tenantId]"
                            ),
                        };
                        out.push(undecided(ID, vault, "the vault's tenant", &why, &p));
                    }
                },
                None => {
                    let why = format!("tenantId is set to '{t}'; give --tenant-id to compare, or write [subscription().tenantId]");
                    out.push(undecided(ID, vault, "the vault's tenant", &why, &p));
                }
            },
            Val::Unknown(why) => out.push(undecided(ID, vault, "the vault's tenant", why, &p)),
            Val::Absent | Val::Invalid(_) => {
                let msg = format!("Key Vault '{}' does not set tenantId", name(vault));
                out.push(at(ID, Level::Error, msg, vault, &p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind, Resource};
    use crate::value::Value;
    use serde_json::json;

    const T: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";

    fn run(v: Resource, tenant: Option<&str>) -> Vec<(Level, String)> {
        let s = Settings {
            tenant_id: tenant.map(str::to_string),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    fn vault(tenant: serde_json::Value) -> Resource {
        testing::res(
            Kind::Vault,
            0,
            json!({"name": "kv", "properties": {"tenantId": tenant}}),
        )
    }

    #[test]
    fn own_tenant_passes() {
        assert!(run(vault(json!(T.to_uppercase())), Some(T)).is_empty());
    }

    #[test]
    fn other_or_missing_tenant_fails() {
        assert_eq!(
            run(vault(json!("bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb")), Some(T)),
            vec![(Level::Error, format!("Key Vault 'kv' trusts tenant 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb', not the deployment's tenant '{T}'"))]
        );
        assert_eq!(run(vault(json!(null)), Some(T))[0].0, Level::Error);
    }

    #[test]
    fn uncomparable_or_unknown_tenant_is_a_note() {
        assert_eq!(run(vault(json!(T)), None)[0].0, Level::Note);
        let mut v = vault(json!(null));
        testing::set(
            &mut v,
            &["properties", "tenantId"],
            Value::unknown("subscription() needs --tenant-id"),
        );
        assert_eq!(run(v, None)[0].0, Level::Note);
    }

    #[test]
    fn the_deployments_own_tenant_symbol_passes_without_tenant_id() {
        let tenant = Value::Text(crate::value::Text::symbol(crate::value::Atom::new(
            "ctx:subscription().tenantId",
            "subscription().tenantId",
            crate::value::Shape::Guid,
            "not known without --tenant-id",
        )));
        let check_with = |v: Resource| {
            let mut dep = testing::dep(vec![v]);
            dep.tenant = Some(tenant.clone());
            let mut out = Vec::new();
            check(&dep, &Settings::default(), &mut out);
            out.into_iter().map(|d| d.level).collect::<Vec<_>>()
        };
        let mut v = vault(json!(null));
        testing::set(&mut v, &["properties", "tenantId"], tenant.clone());
        assert!(check_with(v).is_empty());
        // A hard-coded tenant may or may not be the deployment's: a note.
        assert_eq!(check_with(vault(json!(T))), vec![Level::Note]);
        // Not a GUID at all: never the deployment's tenant.
        assert_eq!(check_with(vault(json!("contoso"))), vec![Level::Error]);
    }
}
