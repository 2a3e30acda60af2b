//! ## What it checks
//! (`cmek-arm preflight`.) When a Key Vault the template declares already exists in
//! the target resource group (a brownfield deployment), the properties the
//! deployment would change, each as current → deployed value: the firewall
//! (`networkAcls`), public network access, the SKU, the permission model
//! (`enableRbacAuthorization`), the soft-delete retention and the tags. A
//! property the template leaves out is deployed as Azure's default (no firewall,
//! public access `Enabled`, no tags), because deploying a vault replaces its
//! properties. The permission model and the retention are compared only when
//! the template sets them: Azure documents the permission model's default only
//! for a vault being created (`false` up to API version 2025-05-01, `true` from
//! 2026-02-01), and the retention is fixed when a vault is created, so a
//! template's other value cannot change it. A value the template leaves to the
//! deployment (`reference()`, an `if()` on one) is not claimed as a change. One
//! warning lists every change.
//!
//! It is an error, reported on its own, when the deployment cannot succeed: the
//! template sets `enablePurgeProtection` or `enableSoftDelete` to `false` on a
//! vault that has them (neither can be turned off), or puts the vault in another
//! location (a vault cannot move).
//!
//! ## Why it matters
//! ARM deploys a template's vault over the existing one without asking: a
//! firewall someone configured by hand is opened, network access re-enabled,
//! tags dropped, and the permission model switched, which can cut every
//! application off from the vault's keys. `az deployment what-if` shows some of
//! this, buried among noise; this rule names exactly what changes.
//!
//! ## Example
//! The vault `kv-cmek-01` exists with a firewall (default `Deny`, one IP rule), and
//! the template sets no `networkAcls`:
//! `warning[PRE002]: Key Vault 'kv-cmek-01' already exists in resource group 'rg';
//! deploying changes it: firewall: default Deny, allows 203.0.113.0/24 → all
//! networks (no firewall): this opens the firewall`.
//!
//! ## How to fix
//! Write the vault's current settings into the template (or its parameters) so
//! the deployment keeps them, or declare the vault `existing` so the template
//! adds only the key and the role assignments. Accept the warning only for
//! changes you intend. Purge protection and soft delete stay on: remove the
//! `false`. For another location, use another vault name.
//!
//! ## References
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/deployment-modes
//! - https://learn.microsoft.com/azure/key-vault/general/network-security
//! - https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview

use super::PreflightInput;
use crate::azure::preflight::Read;
use crate::diag::{Diagnostic, Level, Location};
use crate::model::Resource;
use crate::value::Value;
use std::collections::BTreeMap;

/// The rule ID.
pub const ID: &str = "PRE002";

/// Swagger default (Microsoft.KeyVault 2025-05-01) for what a template leaves out.
const DEFAULT_PUBLIC_ACCESS: &str = "Enabled";

/// Reports on every vault the template declares that exists already.
pub fn check(input: &PreflightInput<'_>, out: &mut Vec<Diagnostic>) {
    for vault in input.deployment.vaults() {
        let Some(name) = vault.name.as_str() else {
            continue; // PRE001 says the name is unknown.
        };
        let Some(state) = input.state.vault(name) else {
            continue;
        };
        let current = match &state.existing {
            Read::Known(Some(body)) => Value::from(body),
            Read::Known(None) => continue,
            Read::Unknown(why) => {
                out.push(
                    Diagnostic::new(
                        ID,
                        Level::Note,
                        format!(
                            "cannot be decided: whether Key Vault '{name}' exists already, and \
                             what deploying would change: {why}"
                        ),
                        vault.location(),
                    )
                    .with_resource(vault.display()),
                );
                continue;
            }
        };
        let in_azure = Location::Azure {
            id: state.id.clone(),
        };
        irreversible(vault, &current, name, &in_azure, out);
        let changes = changes(vault, &current);
        if changes.is_empty() {
            continue;
        }
        let list: Vec<String> = changes.iter().map(|c| c.text.clone()).collect();
        let mut d = Diagnostic::new(
            ID,
            Level::Warning,
            format!(
                "Key Vault '{name}' already exists in resource group '{}'; deploying changes it: {}",
                input.state.context.resource_group,
                list.join("; ")
            ),
            vault.location(),
        )
        .with_resource(vault.display())
        .with_label(in_azure.clone(), "the vault in Azure");
        for c in changes {
            if let Some(at) = c.at {
                d = d.with_label(at, format!("sets {}", c.property));
            }
        }
        out.push(d);
    }
}

/// What the deployment cannot do to an existing vault: each an error at the property.
fn irreversible(
    vault: &Resource,
    current: &Value,
    name: &str,
    in_azure: &Location,
    out: &mut Vec<Diagnostic>,
) {
    let mut error = |path: &[&str], message: String| {
        out.push(
            Diagnostic::new(ID, Level::Error, message, vault.location_of(path))
                .with_resource(vault.display())
                .with_label(in_azure.clone(), "the vault in Azure"),
        );
    };
    for (prop, what) in [
        ("enablePurgeProtection", "purge protection"),
        ("enableSoftDelete", "soft delete"),
    ] {
        let on = current.path(&["properties", prop]).and_then(Value::as_bool) == Some(true);
        let off = vault
            .body
            .path(&["properties", prop])
            .and_then(Value::as_bool)
            == Some(false);
        if on && off {
            error(
                &["properties", prop],
                format!(
                    "Key Vault '{name}' exists with {what} on, and the template sets {prop} to \
                     false: {what} cannot be turned off, so ARM fails the deployment; remove the \
                     false (or set true)"
                ),
            );
        }
    }
    let region = |v: &Value| {
        v.get("location")
            .and_then(Value::as_str)
            .map(|l| l.to_ascii_lowercase().replace(' ', ""))
    };
    if let (Some(now), Some(then)) = (region(current), region(&vault.body)) {
        if now != then {
            error(
                &["location"],
                format!(
                    "Key Vault '{name}' exists in location '{now}', and the template puts it in \
                     '{then}': a vault cannot move, so ARM fails the deployment; use the vault's \
                     location or another vault name"
                ),
            );
        }
    }
}

/// One changed property.
struct Change {
    property: &'static str,
    text: String,
    /// Where the template sets it (none when it leaves it out).
    at: Option<Location>,
}

/// The value at `path`: `None` when absent, `Some(None)` when not known before
/// deployment (unknown, symbolic, or one of several: anywhere inside it).
fn known<'v>(body: &'v Value, path: &[&str]) -> Option<Option<&'v Value>> {
    match body.path(path) {
        None | Some(Value::Null) => None,
        Some(v) if v.opaque_reason().is_some() => Some(None),
        Some(v) => Some(Some(v)),
    }
}

/// What deploying does to a property the template leaves out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Omitted {
    /// It becomes Azure's default (what `describe(None)` says).
    Default,
    /// Nothing Azure documents: not compared.
    Unknown,
}

/// Every property in the rule's list whose deployed value differs from Azure's.
fn changes(vault: &Resource, current: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    let mut compare = |property: &'static str,
                       path: &[&str],
                       omitted: Omitted,
                       describe: &dyn Fn(Option<&Value>) -> String| {
        let deployed = match known(&vault.body, path) {
            // Not known until deployment: not claimed as a change.
            Some(None) => return,
            Some(Some(v)) => Some(v),
            None if omitted == Omitted::Unknown => return,
            None => None,
        };
        let now = known(current, path).flatten();
        let (before, after) = (describe(now), describe(deployed));
        if before != after {
            let mut text = format!("{property}: {before} → {after}");
            if property == "firewall" && !opens(now) && opens(deployed) {
                // Said plainly: this is the change people do not expect.
                text.push_str(": this opens the firewall");
            }
            out.push(Change {
                property,
                text,
                at: deployed.map(|_| vault.location_of(path)),
            });
        }
    };
    compare(
        "firewall",
        &["properties", "networkAcls"],
        Omitted::Default,
        &firewall,
    );
    compare(
        "public network access",
        &["properties", "publicNetworkAccess"],
        Omitted::Default,
        &|v| {
            // Azure answers "Enabled"/"Disabled" whatever case was sent.
            match v.and_then(Value::as_str).unwrap_or(DEFAULT_PUBLIC_ACCESS) {
                s if s.eq_ignore_ascii_case("enabled") => "Enabled".into(),
                s if s.eq_ignore_ascii_case("disabled") => "Disabled".into(),
                s => s.to_string(),
            }
        },
    );
    compare(
        "SKU",
        &["properties", "sku", "name"],
        Omitted::Default,
        &|v| {
            v.and_then(Value::as_str)
                .map_or_else(|| "not set".into(), str::to_ascii_lowercase)
        },
    );
    compare(
        "RBAC permission model (enableRbacAuthorization)",
        &["properties", "enableRbacAuthorization"],
        Omitted::Unknown,
        &|v| match v.and_then(Value::as_bool) {
            Some(true) => "true (RBAC)".into(),
            _ => "false (access policies)".into(),
        },
    );
    compare("tags", &["tags"], Omitted::Default, &tags);
    out.extend(retention(vault, current));
    out
}

/// The retention is set when a vault is created: a template that sets another
/// one does not change it.
fn retention(vault: &Resource, current: &Value) -> Option<Change> {
    let path = ["properties", "softDeleteRetentionInDays"];
    let deployed = known(&vault.body, &path).flatten()?.as_i64()?;
    let now = known(current, &path).flatten()?.as_i64()?;
    (deployed != now).then(|| Change {
        property: "soft-delete retention",
        text: format!(
            "soft-delete retention: the template sets {deployed} days, which cannot change; \
             stays {now} days (it is fixed when a vault is created)"
        ),
        at: Some(vault.location_of(&path)),
    })
}

/// True when `networkAcls` blocks by default.
fn denies(acls: Option<&Value>) -> bool {
    acls.and_then(|a| a.get("defaultAction"))
        .and_then(Value::as_str)
        .is_some_and(|d| d.eq_ignore_ascii_case("deny"))
}

/// True when the vault is open to all networks (no firewall).
fn opens(acls: Option<&Value>) -> bool {
    !denies(acls)
}

/// A firewall in words, normalised so that equal rules read the same.
fn firewall(acls: Option<&Value>) -> String {
    if !denies(acls) {
        return "all networks (no firewall)".into();
    }
    let list = |key: &str, field: &str| -> Vec<String> {
        let mut v: Vec<String> = acls
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get(field).and_then(Value::as_str))
                    .map(|s| {
                        let s = s.trim().to_ascii_lowercase();
                        // Azure reports a single address as /32.
                        s.strip_suffix("/32").map(str::to_string).unwrap_or(s)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.dedup();
        v
    };
    let bypass = acls
        .and_then(|a| a.get("bypass"))
        .and_then(Value::as_str)
        .unwrap_or("AzureServices");
    let ips = list("ipRules", "value");
    let vnets = list("virtualNetworkRules", "id");
    let mut s = format!("default Deny, bypass {bypass}");
    if ips.is_empty() {
        s.push_str(", no IP rules");
    } else {
        s.push_str(&format!(", allows {}", ips.join(", ")));
    }
    if !vnets.is_empty() {
        s.push_str(&format!(", virtual networks {}", vnets.join(", ")));
    }
    s
}

/// Tags in words, sorted by name without case (Azure compares names that way).
fn tags(v: Option<&Value>) -> String {
    let map: BTreeMap<String, String> = v
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let val = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_json().to_string(),
                    };
                    (k.to_ascii_lowercase(), format!("{k}={val}"))
                })
                .collect()
        })
        .unwrap_or_default();
    if map.is_empty() {
        return "none".into();
    }
    let pairs: Vec<&str> = map.values().map(String::as_str).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn firewalls_read_the_same_when_their_rules_are_the_same() {
        let a = Value::from(&json!({"defaultAction": "Deny", "bypass": "AzureServices",
            "ipRules": [{"value": "203.0.113.7/32"}, {"value": "198.51.100.0/24"}]}));
        let b = Value::from(&json!({"defaultAction": "deny",
            "ipRules": [{"value": "198.51.100.0/24"}, {"value": "203.0.113.7"}]}));
        assert_eq!(firewall(Some(&a)), firewall(Some(&b)));
        assert_eq!(
            firewall(Some(&a)),
            "default Deny, bypass AzureServices, allows 198.51.100.0/24, 203.0.113.7"
        );
        let open = Value::from(&json!({"defaultAction": "Allow", "ipRules": []}));
        assert_eq!(firewall(Some(&open)), firewall(None));
        assert!(opens(None) && !opens(Some(&a)));
    }

    #[test]
    fn only_known_differences_are_changes() {
        let mut vault = crate::model::testing::res(
            crate::model::Kind::Vault,
            0,
            json!({"name": "kv", "tags": {},
                   "properties": {"sku": {"name": "Standard"}, "enableRbacAuthorization": true}}),
        );
        if let Value::Object(p) = &mut vault.body {
            if let Some(Value::Object(props)) = p.get_mut("properties") {
                props.insert(
                    "publicNetworkAccess".into(),
                    Value::unknown("reference() reads a deployed resource"),
                );
            }
        }
        let current = Value::from(&json!({"tags": {"a": "b"},
            "properties": {"sku": {"name": "standard"}, "enableRbacAuthorization": true,
                           "publicNetworkAccess": "Disabled", "softDeleteRetentionInDays": 30}}));
        let found: Vec<String> = changes(&vault, &current)
            .into_iter()
            .map(|c| c.text)
            .collect();
        // SKU differs only in case; public access is unknown until deployment; the
        // template leaves the retention and the permission model out: neither is
        // claimed to change.
        assert_eq!(found, ["tags: {a=b} → none"]);
    }

    /// The rendered vault's body with `properties` merged in, against `current`.
    fn changed(properties: serde_json::Value, current: serde_json::Value) -> Vec<String> {
        let mut body =
            json!({"name": "kv", "tags": {}, "properties": {"sku": {"name": "standard"}}});
        for (k, v) in properties.as_object().unwrap() {
            body["properties"][k] = v.clone();
        }
        let vault = crate::model::testing::res(crate::model::Kind::Vault, 0, body);
        changes(&vault, &Value::from(&current))
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    #[test]
    fn the_retention_and_the_permission_model_are_compared_only_when_set() {
        let current = json!({"tags": {}, "properties": {"sku": {"name": "standard"},
            "enableRbacAuthorization": true, "softDeleteRetentionInDays": 30}});
        assert_eq!(changed(json!({}), current.clone()), Vec::<String>::new());
        assert_eq!(
            changed(
                json!({"softDeleteRetentionInDays": 90, "enableRbacAuthorization": false}),
                current.clone()
            ),
            [
                "RBAC permission model (enableRbacAuthorization): true (RBAC) → false (access \
                 policies)",
                "soft-delete retention: the template sets 90 days, which cannot change; stays 30 \
                 days (it is fixed when a vault is created)"
            ]
        );
        assert_eq!(
            changed(
                json!({"softDeleteRetentionInDays": 30, "enableRbacAuthorization": true}),
                current
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn one_of_several_values_is_not_a_change() {
        let current = json!({"tags": {}, "properties": {"sku": {"name": "standard"},
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.7"}]}}});
        let mut vault = crate::model::testing::res(
            crate::model::Kind::Vault,
            0,
            json!({"name": "kv", "tags": {}, "properties": {"sku": {"name": "standard"},
                   "networkAcls": {"bypass": "AzureServices"}}}),
        );
        let why = "which branch of if() applies";
        let choice = |a: &str, b: &str| {
            Value::choice(why, vec![Value::String(a.into()), Value::String(b.into())])
        };
        if let Value::Object(body) = &mut vault.body {
            if let Some(Value::Object(p)) = body.get_mut("properties") {
                p.insert("publicNetworkAccess".into(), choice("Disabled", "Enabled"));
                if let Some(Value::Object(acls)) = p.get_mut("networkAcls") {
                    acls.insert("defaultAction".into(), choice("Deny", "Allow"));
                }
            }
        }
        assert!(matches!(
            vault.body.path(&["properties", "publicNetworkAccess"]),
            Some(Value::Choice(_))
        ));
        let found: Vec<String> = changes(&vault, &Value::from(&current))
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn virtual_network_rules_are_compared_by_id() {
        let rule = |id: &str| json!({"defaultAction": "Deny", "virtualNetworkRules": [{"id": id}]});
        let a = Value::from(&rule("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/a/subnets/x"));
        let b = Value::from(&rule("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/b/subnets/x"));
        assert_ne!(firewall(Some(&a)), firewall(Some(&b)));
        assert!(firewall(Some(&a)).ends_with("virtual networks /subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/a/subnets/x"));
    }

    #[test]
    fn tags_are_sorted_without_case() {
        let a = Value::from(&json!({"Env": "prod", "owner": "x"}));
        let b = Value::from(&json!({"owner": "x", "Env": "prod"}));
        assert_eq!(tags(Some(&a)), tags(Some(&b)));
        assert_eq!(tags(Some(&a)), "{Env=prod, owner=x}");
        assert_eq!(tags(None), "none");
        assert_ne!(tags(Some(&a)), tags(None));
    }
}
