//! ## What it checks
//! The vendor's service can reach the vault: `publicNetworkAccess` is not
//! `Disabled`, and when the firewall denies by default (`networkAcls.defaultAction:
//! Deny`) it lists at least one IP rule (`networkAcls.ipRules`).
//! A vault the template only references (`"existing": true`) is not deployed or
//! changed by it: that is a note naming `cmek-arm check`, which decides it live.
//!
//! ## Why it matters
//! The vendor calls the vault from its own network, not through a private endpoint
//! in yours, and it is not one of the "trusted Microsoft services" the firewall
//! bypass lets in. A closed vault makes every wrap and unwrap fail.
//!
//! ## Example
//! ```json
//! {"properties": {"publicNetworkAccess": "Disabled"}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"publicNetworkAccess": "Enabled",
//!                 "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]}}}
//! ```
//!
//! ## How to fix
//! Enable public network access and allow the vendor's egress addresses (from the
//! vendor's documentation) in the vault firewall:
//! `az keyvault network-rule add --name <vault> --ip-address <cidr>`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/network-security
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults#networkruleset

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK015";

/// Reports vaults the vendor cannot reach over the network.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for vault in super::existing::existing_vaults(dep) {
        out.push(super::existing::note(
            ID,
            vault,
            "publicNetworkAccess",
            &vault.public_network_access(),
        ));
    }
    for vault in dep.vaults() {
        let public = vault.public_network_access();
        match &public.val {
            Val::Known(v) if v.eq_ignore_ascii_case("disabled") => {
                let msg = format!(
                    "Key Vault '{}' disables public network access; the vendor cannot reach it",
                    name(vault)
                );
                out.push(at(ID, Level::Warning, msg, vault, &public));
                continue;
            }
            Val::Unknown(why) => {
                out.push(undecided(ID, vault, "publicNetworkAccess", why, &public))
            }
            _ => {}
        }
        let action = vault.firewall_default_action();
        match &action.val {
            Val::Known(a) if a.eq_ignore_ascii_case("deny") => {}
            Val::Unknown(why) => {
                out.push(undecided(
                    ID,
                    vault,
                    "networkAcls.defaultAction",
                    why,
                    &action,
                ));
                continue;
            }
            _ => continue,
        }
        let rules = vault.firewall_ip_rules();
        match &rules.val {
            Val::Known(list) if !list.is_empty() => {}
            Val::Unknown(why) => out.push(undecided(ID, vault, "networkAcls.ipRules", why, &rules)),
            _ => {
                let msg = format!(
                    "Key Vault '{}' denies network access by default and allows no IP address; the vendor cannot reach it",
                    name(vault)
                );
                out.push(at(ID, Level::Warning, msg, vault, &rules));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use crate::value::Value;
    use serde_json::json;

    fn run(props: serde_json::Value) -> Vec<(Level, String)> {
        let v = testing::res(Kind::Vault, 0, json!({"name": "kv", "properties": props}));
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn open_or_allow_listed_vaults_pass() {
        assert!(run(json!({})).is_empty());
        assert!(run(
            json!({"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}})
        )
        .is_empty());
        assert!(run(
            json!({"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.7"}]}})
        )
        .is_empty());
    }

    #[test]
    fn closed_vaults_warn() {
        assert_eq!(
            run(json!({"publicNetworkAccess": "disabled"})),
            vec![(
                Level::Warning,
                "Key Vault 'kv' disables public network access; the vendor cannot reach it".into()
            )]
        );
        assert_eq!(
            run(json!({"networkAcls": {"defaultAction": "Deny", "ipRules": []}})).len(),
            1
        );
        assert_eq!(
            run(json!({"networkAcls": {"defaultAction": "Deny"}})).len(),
            1
        );
    }

    #[test]
    fn unknown_rules_are_a_note() {
        let mut v = testing::res(
            Kind::Vault,
            0,
            json!({"name": "kv", "properties": {"networkAcls": {"defaultAction": "Deny"}}}),
        );
        testing::set(
            &mut v,
            &["properties", "networkAcls", "ipRules"],
            Value::unknown("no value for parameter 'ips'"),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        assert_eq!(out[0].level, Level::Note);
    }
}
