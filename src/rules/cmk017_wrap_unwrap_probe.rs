//! ## What it checks
//! (Live, with `check --probe`.) Wrapping 32 random bytes with the key
//! (`POST {vault}/keys/{name}/wrapkey`) and unwrapping the result returns the same
//! bytes. Without `--probe` this rule reports nothing.
//!
//! ## Why it matters
//! Every other rule reads configuration; this one does what the vendor's service
//! will do. It catches what configuration cannot show: a role assignment that has
//! not propagated yet, a firewall in between, a key version that is disabled, or a
//! conditional-access policy.
//!
//! ## Example
//! `cmek-arm check --subscription ... --resource-group rg --vault kv1 --key k1 --probe`
//! reporting that unwrap returned different bytes, or that wrapkey returned 403.
//!
//! ## How to fix
//! Read the failing call in the message: 403 means the caller lacks *Key Vault
//! Crypto Service Encryption User* on the key (role assignments can take up to ten
//! minutes to apply); a network error points at the vault firewall; a mismatch is
//! a Key Vault fault to report to Azure support.
//!
//! ## References
//! - https://learn.microsoft.com/rest/api/keyvault/keys/wrap-key/wrap-key
//! - https://learn.microsoft.com/rest/api/keyvault/keys/unwrap-key/unwrap-key
//! - https://learn.microsoft.com/azure/key-vault/general/rbac-guide

use super::common::{at_resource, name};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Probe};

const ID: &str = "CMK017";

/// Reports a failed or mismatching wrap/unwrap probe.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for key in dep.keys() {
        let Some(probe) = &key.probe else {
            continue;
        };
        let (level, msg) = match probe {
            Probe::Passed => continue,
            Probe::Mismatch => (
                Level::Error,
                format!(
                    "unwrapping with key '{}' did not return the wrapped bytes",
                    name(key)
                ),
            ),
            Probe::Failed(why) => (
                Level::Error,
                format!("wrap/unwrap with key '{}' failed: {why}", name(key)),
            ),
            Probe::Unknown(why) => (
                Level::Note,
                format!(
                    "cannot be decided: whether key '{}' wraps and unwraps ({why})",
                    name(key)
                ),
            ),
        };
        out.push(at_resource(ID, level, msg, key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind, Resource};
    use serde_json::json;

    fn run(probe: Option<Probe>) -> Vec<(Level, String)> {
        let mut key = Resource::live(
            Kind::Key,
            &json!({"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k", "name": "k"}),
        );
        key.probe = probe;
        let mut out = Vec::new();
        check(&testing::dep(vec![key]), &Settings::default(), &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn passed_or_not_run_reports_nothing() {
        assert!(run(None).is_empty());
        assert!(run(Some(Probe::Passed)).is_empty());
    }

    #[test]
    fn mismatch_and_failure_are_errors_unknown_a_note() {
        assert_eq!(run(Some(Probe::Mismatch))[0].0, Level::Error);
        assert_eq!(
            run(Some(Probe::Failed("wrapkey returned 403 Forbidden".into()))),
            vec![(
                Level::Error,
                "wrap/unwrap with key 'kv/k' failed: wrapkey returned 403 Forbidden".into()
            )]
        );
        assert_eq!(
            run(Some(Probe::Unknown("vault unreachable".into())))[0].0,
            Level::Note
        );
    }
}
