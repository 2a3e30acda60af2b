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

/// Outputs of nested deployments feed `reference()`: by deployment name, by
/// resource ID, by symbolic name (also of a copy-loop instance), in inner and
/// outer scope, and a module declared after the resource that reads it.
#[test]
fn module_outputs_feed_reference() {
    let t = r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "languageVersion": "2.0", "contentVersion": "1.0.0.0",
      "variables": {"fromParent": "outer-scope-value"},
      "resources": {
        "consumer": {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01",
          "name": "[reference('mod').outputs.vaultName.value]", "location": "eastus", "dependsOn": ["mod", "mods"],
          "properties": {"second": "[reference(format('mods[{0}]', 1)).outputs.vaultName.value]"}},
        "mod": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "mod-deploy",
          "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"n": {"value": "kv-from-module"}},
            "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
              "contentVersion": "1.0.0.0", "parameters": {"n": {"type": "string"}}, "resources": [],
              "outputs": {"vaultName": {"type": "string", "value": "[parameters('n')]"},
                          "keyId": {"type": "string", "value": "[resourceId('Microsoft.KeyVault/vaults/keys', parameters('n'), 'k')]"}}}}},
        "mods": {"copy": {"name": "mods", "count": 2}, "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
          "name": "[format('m{0}', copyIndex())]",
          "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"n": {"value": "[format('kv{0}', copyIndex())]"}},
            "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
              "contentVersion": "1.0.0.0", "parameters": {"n": {"type": "string"}}, "resources": [],
              "outputs": {"vaultName": {"type": "string", "value": "[parameters('n')]"}}}}},
        "outer": {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outer-deploy",
          "properties": {"mode": "Incremental",
            "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
              "contentVersion": "1.0.0.0", "resources": [],
              "outputs": {"x": {"type": "string", "value": "[variables('fromParent')]"}}}}}
      },
      "outputs": {
        "fromName": {"type": "string", "value": "[reference('mod-deploy').outputs.vaultName.value]"},
        "fromId": {"type": "string", "value": "[reference(resourceId('Microsoft.Resources/deployments', 'mod-deploy'), '2022-09-01').outputs.keyId.value]"},
        "fromCopy": {"type": "string", "value": "[reference('m0').outputs.vaultName.value]"},
        "fromOuter": {"type": "string", "value": "[reference('outer').outputs.x.value]"},
        "viaTryGet": {"type": "string", "value": "[tryGet(tryGet(reference('mod'), 'outputs'), 'vaultName', 'value')]"},
        "state": {"type": "string", "value": "[reference('mod').provisioningState]"}
      }}"#;
    let x = crate::common::expand_text(t, None, &Context::default());
    assert!(x.diagnostics.is_empty(), "{:?}", x.diagnostics);
    let out = |k: &str| x.outputs[k].value.to_json();
    assert_eq!(out("fromName"), serde_json::json!("kv-from-module"));
    assert_eq!(
        out("fromId"),
        serde_json::json!({"$symbolic": "/subscriptions/{subscription().subscriptionId}/resourceGroups/{resourceGroup().name}/providers/Microsoft.KeyVault/vaults/kv-from-module/keys/k"})
    );
    assert_eq!(out("fromCopy"), serde_json::json!("kv0"));
    assert_eq!(out("fromOuter"), serde_json::json!("outer-scope-value"));
    assert_eq!(out("viaTryGet"), serde_json::json!("kv-from-module"));
    assert!(out("state").get("$unknown").is_some());
    // The consumer is declared first but expanded after the modules it depends on,
    // and still reported in declaration order.
    let consumer = &x.resources[0];
    assert_eq!(consumer.name.as_str(), Some("kv-from-module"));
    assert_eq!(
        consumer
            .body
            .path(&["properties", "second"])
            .unwrap()
            .as_str(),
        Some("kv1")
    );
}

/// A `dependsOn` written as a full resource ID still names a resource whose ID is
/// symbolic (no context given): it is not reported as naming nothing.
#[test]
fn literal_depends_on_matches_a_symbolic_id() {
    let t = r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "contentVersion": "1.0.0.0",
      "resources": [
        {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01", "name": "kv1", "location": "eastus", "properties": {}},
        {"type": "Microsoft.KeyVault/vaults/keys", "apiVersion": "2024-11-01", "name": "kv1/k",
         "dependsOn": ["/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"],
         "properties": {}},
        {"type": "Microsoft.KeyVault/vaults/keys", "apiVersion": "2024-11-01", "name": "kv1/k2",
         "dependsOn": ["/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/other"],
         "properties": {}}
      ]}"#;
    let x = crate::common::expand_text(t, None, &Context::default());
    let messages: Vec<&str> = x.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("vaults/other"), "{messages:?}");
}
