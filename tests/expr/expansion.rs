//! Expansion of templates exercising each feature: parameters file and defaults,
//! user-defined types and functions, copy loops (resource, property, output),
//! conditions, child resources, extension scopes, nested deployments (inner and
//! outer scope), languageVersion 2.0 symbolic names and `existing`.

use crate::common::full_context;
use cmek_arm::arm::expand::{expand, Context};
use cmek_arm::arm::json;

fn load(name: &str) -> json::Document {
    let path = format!("{}/tests/fixtures/expr/{name}", env!("CARGO_MANIFEST_DIR"));
    json::parse(name, &std::fs::read(path).unwrap()).unwrap()
}

fn snapshot(name: &str, value: &serde_json::Value) {
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!(name, value);
    });
}

#[test]
fn language_version_1_with_parameters_file() {
    let (t, p) = (load("v1.json"), load("v1.parameters.json"));
    let x = expand(&t, Some(&p), &full_context());
    let names: Vec<String> = x
        .resources
        .iter()
        .map(|r| format!("{} {}", r.resource_type, r.name.to_json()))
        .collect();
    // Copy loop flattened, false condition left out, child and nested resources flattened.
    assert_eq!(x.resources.len(), 9, "{names:#?}");
    assert!(!names.iter().any(|n| n.contains("diagnosticSettings")));
    let inner = x
        .resources
        .iter()
        .find(|r| r.name.as_str() == Some("kv-cmek-2"))
        .unwrap();
    assert_eq!(
        inner.id.as_str(),
        Some("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/other-rg/providers/Microsoft.KeyVault/vaults/kv-cmek-2")
    );
    // Another resource group: its location is a symbol of its own, not the outer one's.
    assert_eq!(
        inner.body.get("location").unwrap().to_json(),
        serde_json::json!({"$symbolic": "{resourceGroup().location@inner-deploy}"})
    );
    let findings: Vec<String> = x
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.rule, d.message))
        .collect();
    assert_eq!(
        findings,
        vec!["ARM004 dependsOn 'missingThing' names no resource of this template"]
    );
    snapshot("expand_v1", &x.to_json());
}

#[test]
fn language_version_2_symbolic_names() {
    let t = load("v2.json");
    let x = expand(&t, None, &full_context());
    assert!(x.diagnostics.is_empty(), "{:?}", x.diagnostics);
    assert!(x.resources.iter().any(|r| r.existing));
    snapshot("expand_v2", &x.to_json());
}

#[test]
fn without_context_ids_are_symbolic_not_invented() {
    let (t, p) = (load("v1.json"), load("v1.parameters.json"));
    let x = expand(&t, Some(&p), &Context::default());
    for r in &x.resources {
        let why =
            r.id.opaque_reason()
                .unwrap_or_else(|| panic!("{} has a known id {:?}", r.resource_type, r.id));
        assert!(why.contains("--subscription-id"), "{why}");
        let shown = r.id.display();
        assert!(
            shown.starts_with("/subscriptions/{subscription().subscriptionId}/"),
            "{shown}"
        );
    }
    // Without the parameters file the required vault name is a symbol, with a reason.
    let x = expand(&t, None, &full_context());
    assert_eq!(x.resources[0].name.display(), "{parameters('vaultName')}");
    assert!(x.resources[0]
        .name
        .opaque_reason()
        .unwrap()
        .contains("no value"));
}

#[test]
fn copy_with_unknown_count_is_one_uncertain_instance() {
    let t = r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "contentVersion": "1.0.0.0", "parameters": {"names": {"type": "array"}},
      "resources": [{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "[parameters('names')[copyIndex()]]",
                     "copy": {"name": "vaults", "count": "[length(parameters('names'))]"}, "properties": {}}]}"#;
    let x = crate::common::expand_text(t, None, &full_context());
    assert_eq!(x.resources.len(), 1);
    let why = x.resources[0].condition.unknown_reason().unwrap();
    assert!(why.contains("copy count is unknown"), "{why}");
    assert!(x.resources[0].name.is_unknown());
}
