//! The same rules over live resources, built from the unmodified Azure REST API
//! examples in the corpus (the shapes `check` reads back).

use cmek_arm::diag::{Level, Location};
use cmek_arm::model::{Deployment, Kind, Probe, Resource, Scope};
use cmek_arm::rules::{self, Settings};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rest-examples");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

fn body(dir: &Path, rel: &str) -> Json {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    json["responses"]["200"]["body"].clone()
}

const KV: &str = "keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/2026-02-01/examples";
const AUTH: &str =
    "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples";

#[test]
fn rest_example_key_is_purgeable_and_reported_at_its_resource_id() {
    let Some(dir) = corpus() else { return };
    let key_json = body(&dir, &format!("{KV}/getKey.json"));
    let key = Resource::live(Kind::Key, &key_json);
    assert_eq!(key.name.as_str(), Some("sample-vault-name/sample-key-name"));
    let dep = Deployment {
        resources: vec![key],
        ..Deployment::default()
    };
    let diags = rules::check_model(&dep, &Settings::default());
    let cmk014: Vec<_> = diags.iter().filter(|d| d.rule == "CMK014").collect();
    assert_eq!(cmk014.len(), 1, "{diags:?}");
    assert_eq!(cmk014[0].level, Level::Error);
    assert_eq!(
        cmk014[0].message,
        "key 'sample-vault-name/sample-key-name' has recovery level 'Purgeable': it can be purged"
    );
    assert_eq!(
        cmk014[0].location,
        Location::Azure {
            id: key_json["id"].as_str().unwrap().to_string()
        }
    );
    // No role assignment in this read: the vendor has no access to the key.
    assert!(diags
        .iter()
        .any(|d| d.rule == "CMK010" && d.level == Level::Error));
}

#[test]
fn rest_example_vault_and_role_assignments_fill_the_model() {
    let Some(dir) = corpus() else { return };
    let vault = Resource::live(Kind::Vault, &body(&dir, &format!("{KV}/getVault.json")));
    assert!(vault.vault_name().is_some());
    let listed = body(&dir, &format!("{AUTH}/RoleAssignments_ListForScope.json"));
    let ras: Vec<Resource> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| Resource::live(Kind::RoleAssignment, a))
        .collect();
    assert_eq!(ras.len(), 1);
    // A subscription scope is above every vault in it.
    assert!(matches!(ras[0].scope, Some(Scope::Above(_))));
    let mut resources = vec![vault];
    resources.extend(ras);
    let dep = Deployment {
        resources,
        ..Deployment::default()
    };
    let s = Settings {
        officer_object_id: Some("CE2CE14E-85D7-4629-BDBC-454D0519D987".into()),
        ..Settings::default()
    };
    let diags = rules::check_model(&dep, &s);
    // The example lacks purge protection and RBAC flags (corpus README): both reported.
    for rule in ["CMK001", "CMK003"] {
        assert!(
            diags
                .iter()
                .any(|d| d.rule == rule && d.level == Level::Error),
            "{rule}: {diags:?}"
        );
    }
    // The listed role is not Crypto Officer: the officer has no key management role.
    assert!(diags
        .iter()
        .any(|d| d.rule == "CMK011" && d.level == Level::Warning));
}

#[test]
fn probe_outcome_on_a_live_key_decides_cmk017() {
    let Some(dir) = corpus() else { return };
    let mut key = Resource::live(Kind::Key, &body(&dir, &format!("{KV}/getKey.json")));
    key.probe = Some(Probe::Mismatch);
    let dep = Deployment {
        resources: vec![key],
        ..Deployment::default()
    };
    let diags = rules::check_model(&dep, &Settings::default());
    assert!(diags
        .iter()
        .any(|d| d.rule == "CMK017" && d.level == Level::Error));
}
