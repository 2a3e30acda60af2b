//! ## What it checks
//! Soft delete stays on: `properties.enableSoftDelete` is not `false`, and
//! `properties.softDeleteRetentionInDays`, if set, is between 7 and 90.
//! A vault the template only references (`"existing": true`) is not deployed or
//! changed by it: that is a note naming `cmek-arm check`, which decides it live.
//!
//! ## Why it matters
//! Purge protection only works on top of soft delete; a deleted vault or key can
//! be recovered only during the retention period. Azure rejects retention outside
//! 7–90 days, and a vault created with soft delete off cannot hold a CMEK key.
//!
//! ## Example
//! ```json
//! {"properties": {"enableSoftDelete": false, "softDeleteRetentionInDays": 365}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"enableSoftDelete": true, "softDeleteRetentionInDays": 90}}
//! ```
//!
//! ## How to fix
//! Remove `enableSoftDelete: false` (soft delete is on by default) and keep the
//! retention within 7–90 days (90 is the default).
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK002";

/// Reports vaults with soft delete off or a retention outside 7–90 days.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for vault in super::existing::existing_vaults(dep) {
        out.push(super::existing::note(
            ID,
            vault,
            "enableSoftDelete",
            &vault.soft_delete(),
        ));
    }
    for vault in dep.vaults() {
        let p = vault.soft_delete();
        match &p.val {
            Val::Known(true) | Val::Absent => {}
            Val::Unknown(why) => out.push(undecided(ID, vault, "enableSoftDelete", why, &p)),
            Val::Known(false) => out.push(at(
                ID,
                Level::Error,
                format!("Key Vault '{}' turns soft delete off", name(vault)),
                vault,
                &p,
            )),
            Val::Invalid(t) => out.push(at(
                ID,
                Level::Error,
                format!("Key Vault '{}' sets enableSoftDelete to a {t}", name(vault)),
                vault,
                &p,
            )),
        }
        let r = vault.retention_days();
        match &r.val {
            Val::Absent => {}
            Val::Known(days) if (7..=90).contains(days) => {}
            Val::Unknown(why) => {
                out.push(undecided(ID, vault, "softDeleteRetentionInDays", why, &r))
            }
            Val::Known(days) => out.push(at(
                ID,
                Level::Error,
                format!(
                    "Key Vault '{}' sets softDeleteRetentionInDays to {days}; it must be 7-90",
                    name(vault)
                ),
                vault,
                &r,
            )),
            Val::Invalid(t) => out.push(at(
                ID,
                Level::Error,
                format!(
                    "Key Vault '{}' sets softDeleteRetentionInDays to a {t}; it must be a number of days, 7-90",
                    name(vault)
                ),
                vault,
                &r,
            )),
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
        let v = testing::res(Kind::Vault, 0, json!({"name": "kv1", "properties": props}));
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn defaults_and_limits_pass() {
        assert!(run(json!({})).is_empty());
        assert!(run(json!({"enableSoftDelete": true, "softDeleteRetentionInDays": 7})).is_empty());
        assert!(run(json!({"softDeleteRetentionInDays": 90})).is_empty());
    }

    #[test]
    fn off_and_out_of_range_fail() {
        assert_eq!(
            run(json!({"enableSoftDelete": false, "softDeleteRetentionInDays": 6})),
            vec![
                (
                    Level::Error,
                    "Key Vault 'kv1' turns soft delete off".to_string()
                ),
                (
                    Level::Error,
                    "Key Vault 'kv1' sets softDeleteRetentionInDays to 6; it must be 7-90"
                        .to_string()
                )
            ]
        );
        assert_eq!(run(json!({"softDeleteRetentionInDays": 91})).len(), 1);
    }

    #[test]
    fn unknown_retention_is_a_note() {
        let mut v = testing::res(Kind::Vault, 0, json!({"name": "kv1"}));
        testing::set(
            &mut v,
            &["properties", "softDeleteRetentionInDays"],
            Value::unknown("no value for parameter 'days'"),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), &Settings::default(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Note);
    }
}
