//! ## What it checks
//! (Live.) The key's `recoveryLevel` (as Key Vault reports it in
//! `attributes.recoveryLevel`) does not contain `Purgeable`: it is `Recoverable`
//! or `CustomizedRecoverable`, possibly with `+ProtectedSubscription`.
//!
//! ## Why it matters
//! The recovery level is what Key Vault actually enforces for this key. A level
//! containing `Purgeable` means someone can delete and purge the key — and with it
//! every byte it protects — even if the template asked for purge protection (for
//! example when the vault was created by hand or changed later).
//!
//! ## Example
//! `az keyvault key show --vault-name kv1 --name k1` returning
//! `"recoveryLevel": "Recoverable+Purgeable"`. Compliant: `"Recoverable"`.
//!
//! ## How to fix
//! Turn on purge protection on the vault: `az keyvault update --name <vault>
//! --enable-purge-protection true`. The key's level follows the vault's.
//!
//! ## References
//! - https://learn.microsoft.com/rest/api/keyvault/keys/get-key/get-key#deletionrecoverylevel
//! - https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK014";

/// Reports keys whose recovery level allows purging.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for key in dep.keys() {
        let p = key.recovery_level();
        match &p.val {
            Val::Known(level) if level.to_ascii_lowercase().contains("purgeable") => {
                let msg = format!(
                    "key '{}' has recovery level '{level}': it can be purged",
                    name(key)
                );
                out.push(at(ID, Level::Error, msg, key, &p));
            }
            Val::Unknown(why) => out.push(undecided(ID, key, "the recovery level", why, &p)),
            // Templates do not carry the recovery level: nothing to check there.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Resource};
    use serde_json::json;

    fn run(level: serde_json::Value) -> Vec<Diagnostic> {
        let key = Resource::live(
            Kind::Key,
            &json!({"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k",
                    "name": "k", "properties": {"attributes": {"recoveryLevel": level}}}),
        );
        let mut out = Vec::new();
        check(
            &crate::model::testing::dep(vec![key]),
            &Settings::default(),
            &mut out,
        );
        out
    }

    #[test]
    fn recoverable_passes_purgeable_fails() {
        assert!(run(json!("Recoverable")).is_empty());
        assert!(run(json!("CustomizedRecoverable+ProtectedSubscription")).is_empty());
        assert!(run(json!(null)).is_empty());
        let d = run(json!("Recoverable+Purgeable"));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Error);
        assert!(
            matches!(&d[0].location, crate::diag::Location::Azure { id } if id.ends_with("/keys/k"))
        );
        assert_eq!(
            run(json!("Purgeable"))[0].message,
            "key 'kv/k' has recovery level 'Purgeable': it can be purged"
        );
    }

    #[test]
    fn unknown_level_is_a_note() {
        let mut key = Resource::live(Kind::Key, &json!({"id": "/x", "name": "k"}));
        crate::model::testing::set(
            &mut key,
            &["properties", "attributes", "recoveryLevel"],
            crate::value::Value::unknown("403 on the key"),
        );
        let mut out = Vec::new();
        check(
            &crate::model::testing::dep(vec![key]),
            &Settings::default(),
            &mut out,
        );
        assert_eq!(out[0].level, Level::Note);
    }
}
