//! ## What it checks
//! Every Key Vault sets `properties.enableRbacAuthorization` to `true`.
//! A vault the template only references (`"existing": true`) is not deployed or
//! changed by it: that is a note naming `cmek-arm check`, which decides it live.
//!
//! ## Why it matters
//! The vendor's access is granted by Azure role assignments (*Key Vault Crypto
//! Service Encryption User* on the key). Those only take effect in the RBAC
//! permission model; a vault using access policies ignores them, and the vendor's
//! service fails to wrap its data keys.
//!
//! ## Example
//! ```json
//! {"properties": {"enableRbacAuthorization": false, "accessPolicies": [...]}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"enableRbacAuthorization": true}}
//! ```
//!
//! ## How to fix
//! Set `"enableRbacAuthorization": true` and grant access with role assignments.
//! For an existing vault: `az keyvault update --name <vault> --enable-rbac-authorization true`
//! (migrate any access policies to roles first).
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/rbac-guide
//! - https://learn.microsoft.com/azure/key-vault/general/rbac-migration

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK003";

/// Reports vaults not using the RBAC permission model.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for vault in super::existing::existing_vaults(dep) {
        out.push(super::existing::note(
            ID,
            vault,
            "enableRbacAuthorization",
            &vault.rbac_authorization(),
        ));
    }
    for vault in dep.vaults() {
        let p = vault.rbac_authorization();
        let problem = match &p.val {
            Val::Known(true) => continue,
            Val::Unknown(why) => {
                out.push(undecided(ID, vault, "enableRbacAuthorization", why, &p));
                continue;
            }
            Val::Known(false) => {
                "sets enableRbacAuthorization to false (access policies)".to_string()
            }
            Val::Absent => "does not set enableRbacAuthorization to true".to_string(),
            Val::Invalid(t) => format!("sets enableRbacAuthorization to a {t}, not true"),
        };
        let msg = format!(
            "Key Vault '{}' {problem}; role assignments take effect only in the RBAC model",
            name(vault)
        );
        out.push(at(ID, Level::Error, msg, vault, &p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use crate::value::Value;
    use serde_json::json;

    fn run(v: crate::model::Resource) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        out
    }

    #[test]
    fn only_true_passes() {
        let ok = testing::res(
            Kind::Vault,
            0,
            json!({"name": "kv", "properties": {"enableRbacAuthorization": true}}),
        );
        assert!(run(ok).is_empty());
        let off = testing::res(
            Kind::Vault,
            0,
            json!({"name": "kv", "properties": {"enableRbacAuthorization": false}}),
        );
        let d = run(off);
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("access policies"));
        let missing = testing::res(Kind::Vault, 0, json!({"name": "kv", "properties": {}}));
        assert_eq!(run(missing)[0].level, Level::Error);
    }

    #[test]
    fn unknown_whole_properties_is_a_note() {
        let mut v = testing::res(Kind::Vault, 0, json!({"name": "kv"}));
        testing::set(
            &mut v,
            &["properties"],
            Value::unknown("reference() needs a deployed resource"),
        );
        let d = run(v);
        assert_eq!(d[0].level, Level::Note);
    }
}
