//! ## What it checks
//! The vault's `location` equals the region the vendor's cluster runs in (`--region`),
//! compared normalised (lower case, no spaces: `East US` is `eastus`). When the
//! profile lists supported regions, the vault must be in one of them. A vault in a
//! region where cross-tenant customer-managed keys for disks are unavailable
//! (usgovvirginia, usgovarizona, usgovtexas, chinanorth3) is reported as a warning.
//! A vault the template only references (`"existing": true`) is not deployed or
//! changed by it: that is a note naming `cmek-arm check`, which decides it live.
//!
//! ## Why it matters
//! The vendor's service reads the key from the cluster's region; a vault elsewhere
//! adds cross-region latency and a dependency on another region's availability, and
//! some services refuse it outright. In the listed regions the cross-tenant CMK
//! feature the vendor relies on does not exist.
//!
//! ## Example
//! ```json
//! {"type": "Microsoft.KeyVault/vaults", "location": "westus"}
//! ```
//! with `--region eastus`. Use instead:
//! ```json
//! {"type": "Microsoft.KeyVault/vaults", "location": "eastus"}
//! ```
//!
//! ## How to fix
//! Create the vault in the cluster's region (`location` parameter or
//! `resourceGroup().location` of a resource group in that region). A vault cannot
//! be moved between regions: create a new one and a new key.
//!
//! ## References
//! - https://learn.microsoft.com/azure/virtual-machines/disks-cross-tenant-customer-managed-keys
//! - https://learn.microsoft.com/azure/reliability/regions-list

use super::common::{at, name, undecided};
use super::settings::normalize_region;
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK004";

/// Regions where cross-tenant customer-managed keys for disks are unavailable.
const NO_CROSS_TENANT_CMK: &[&str] =
    &["usgovvirginia", "usgovarizona", "usgovtexas", "chinanorth3"];

/// Reports vaults outside the expected or supported regions.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    // Only a requirement that exists can be undecided.
    if s.region.is_some() || !s.profile.supported_regions.is_empty() {
        for vault in super::existing::existing_vaults(dep) {
            out.push(super::existing::note(
                ID,
                vault,
                "the location",
                &vault.region(),
            ));
        }
    }
    let supported = &s.profile.supported_regions;
    for vault in dep.vaults() {
        let p = vault.region();
        let region = match &p.val {
            Val::Known(r) => normalize_region(r),
            Val::Unknown(why) => {
                // Only a requirement that exists can be undecided.
                if s.region.is_some() || !supported.is_empty() {
                    out.push(undecided(ID, vault, "the location", why, &p));
                }
                continue;
            }
            Val::Absent | Val::Invalid(_) => {
                let msg = format!("Key Vault '{}' has no location", name(vault));
                out.push(at(ID, Level::Error, msg, vault, &p));
                continue;
            }
        };
        if let Some(expected) = s.region.as_deref().filter(|e| **e != region) {
            let msg = format!(
                "Key Vault '{}' is in '{region}', not in the cluster's region '{expected}'",
                name(vault)
            );
            out.push(at(ID, Level::Error, msg, vault, &p));
        } else if !supported.is_empty() && !supported.contains(&region) {
            let msg = format!(
                "Key Vault '{}' is in '{region}', which profile '{}' does not support ({})",
                name(vault),
                s.profile.name,
                supported.join(", ")
            );
            out.push(at(ID, Level::Error, msg, vault, &p));
        } else if NO_CROSS_TENANT_CMK.contains(&region.as_str()) {
            let msg = format!(
                "Key Vault '{}' is in '{region}', where cross-tenant customer-managed keys for disks are unavailable",
                name(vault)
            );
            out.push(at(ID, Level::Warning, msg, vault, &p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use crate::value::Value;
    use serde_json::json;

    fn run(location: serde_json::Value, s: &Settings) -> Vec<(Level, String)> {
        let v = testing::res(Kind::Vault, 0, json!({"name": "kv1", "location": location}));
        let mut out = Vec::new();
        check(&testing::dep(vec![v]), s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn matching_normalised_region_passes() {
        let s = Settings::default().with_region(Some("East US"));
        assert!(run(json!("eastus"), &s).is_empty());
        assert!(run(json!("EastUS"), &s).is_empty());
        assert!(run(json!("westus"), &Settings::default()).is_empty());
    }

    #[test]
    fn other_region_fails_and_unavailable_region_warns() {
        let s = Settings::default().with_region(Some("eastus"));
        assert_eq!(
            run(json!("West US"), &s),
            vec![(
                Level::Error,
                "Key Vault 'kv1' is in 'westus', not in the cluster's region 'eastus'".into()
            )]
        );
        let gov = Settings::default().with_region(Some("usgovvirginia"));
        assert_eq!(run(json!("usgovvirginia"), &gov)[0].0, Level::Warning);
        let mut p = Settings::default();
        p.profile.supported_regions = vec!["eastus".into()];
        assert!(run(json!("westeurope"), &p)[0]
            .1
            .contains("does not support"));
    }

    #[test]
    fn unknown_location_is_a_note_only_when_a_region_is_expected() {
        let mut v = testing::res(Kind::Vault, 0, json!({"name": "kv1"}));
        testing::set(
            &mut v,
            &["location"],
            Value::unknown("resourceGroup().location needs --resource-group-location"),
        );
        let dep = testing::dep(vec![v]);
        let mut out = Vec::new();
        check(&dep, &Settings::default(), &mut out);
        assert!(out.is_empty());
        check(
            &dep,
            &Settings::default().with_region(Some("eastus")),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Note);
    }
}
