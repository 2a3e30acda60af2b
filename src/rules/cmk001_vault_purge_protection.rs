//! ## What it checks
//! Every Key Vault sets `properties.enablePurgeProtection` to `true`. A missing
//! property, `null` or `false` fails.
//! A vault the template only references (`"existing": true`) is not deployed or
//! changed by it: that is a note naming `cmek-arm check`, which decides it live.
//!
//! ## Why it matters
//! Azure services that encrypt with a customer-managed key refuse a key in a vault
//! without purge protection: a deleted key could be purged during the retention
//! period and every byte encrypted with it would be lost for good. Purge protection
//! cannot be turned off once on, so the vendor can rely on it.
//!
//! ## Example
//! ```json
//! {"type": "Microsoft.KeyVault/vaults", "name": "kv1",
//!  "properties": {"enableSoftDelete": true}}
//! ```
//! Use instead:
//! ```json
//! {"type": "Microsoft.KeyVault/vaults", "name": "kv1",
//!  "properties": {"enableSoftDelete": true, "enablePurgeProtection": true}}
//! ```
//!
//! ## How to fix
//! Set `"enablePurgeProtection": true` on the vault (or the parameter that feeds it).
//! For an existing vault: `az keyvault update --name <vault> --enable-purge-protection true`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview#purge-protection
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK001";

/// Reports vaults without purge protection.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for vault in super::existing::existing_vaults(dep) {
        out.push(super::existing::note(
            ID,
            vault,
            "enablePurgeProtection",
            &vault.purge_protection(),
        ));
    }
    for vault in dep.vaults() {
        let p = vault.purge_protection();
        let problem = match &p.val {
            Val::Known(true) => continue,
            Val::Unknown(why) => {
                out.push(undecided(ID, vault, "enablePurgeProtection", why, &p));
                continue;
            }
            Val::Known(false) => "sets enablePurgeProtection to false".to_string(),
            Val::Absent => "does not enable purge protection".to_string(),
            Val::Invalid(t) => format!("sets enablePurgeProtection to a {t}, not true"),
        };
        let msg = format!("Key Vault '{}' {problem}", name(vault));
        out.push(at(ID, Level::Error, msg, vault, &p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use crate::value::Value;
    use serde_json::json;

    fn run(props: serde_json::Value) -> Vec<Diagnostic> {
        let v = testing::res(Kind::Vault, 0, json!({"name": "kv1", "properties": props}));
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        out
    }

    #[test]
    fn true_passes_false_missing_null_fail() {
        assert!(run(json!({"enablePurgeProtection": true})).is_empty());
        for props in [
            json!({"enablePurgeProtection": false}),
            json!({}),
            json!({"enablePurgeProtection": null}),
        ] {
            let d = run(props);
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].level, Level::Error);
            assert!(
                d[0].message.starts_with("Key Vault 'kv1'"),
                "{}",
                d[0].message
            );
        }
    }

    #[test]
    fn unknown_is_a_note() {
        let mut v = testing::res(Kind::Vault, 0, json!({"name": "kv1"}));
        testing::set(
            &mut v,
            &["properties", "enablePurgeProtection"],
            Value::unknown("reference() needs a deployed resource"),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Note);
        assert!(out[0].message.contains("cannot be decided"));
        assert!(out[0].message.contains("reference()"));
    }
}
