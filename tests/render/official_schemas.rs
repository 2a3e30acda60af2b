//! Every rendered file and resource validates against Azure's official schemas
//! (draft-04, `$ref`s resolved offline from ../shared/corpus/arm-schemas).

use super::common::{arm_schemas_dir, cases, existing_vault_cases};
use cmek_arm::arm::azure_schemas::AzureSchemas;
use cmek_arm::render::render;
use serde_json::{json, Value};

fn schemas() -> Option<AzureSchemas> {
    Some(AzureSchemas::open(&arm_schemas_dir()?).unwrap())
}

#[test]
fn rendered_output_passes_the_official_schemas() {
    let Some(schemas) = schemas() else { return };
    for (case, request) in cases() {
        let rendered = render(&request).unwrap();
        let template: Value = serde_json::from_str(&rendered.template).unwrap();
        let parameters: Value = serde_json::from_str(&rendered.parameters).unwrap();
        let ui: Value = serde_json::from_str(&rendered.ui_definition).unwrap();

        assert_eq!(
            schemas.validate_template(&template).unwrap(),
            [],
            "{case}: template body"
        );
        assert_eq!(
            schemas.validate_parameters(&parameters).unwrap(),
            [],
            "{case}: parameters"
        );
        assert_eq!(
            schemas.validate_ui_definition(&ui).unwrap(),
            [],
            "{case}: createUiDefinition"
        );

        let resources = template["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 4, "{case}");
        for (i, resource) in resources.iter().enumerate() {
            let ty = resource["type"].as_str().unwrap();
            let api = resource["apiVersion"].as_str().unwrap();
            let violations = schemas.validate_resource(ty, api, resource).unwrap();
            assert_eq!(violations, [], "{case}: resource {i} ({ty}@{api})");
        }
    }
}

/// `render --existing-vault`: the parameters file, the form, the key and both
/// role assignments pass their official schemas; the vault is only an `existing`
/// reference and the one deployed resource is the nested deployment that holds
/// them. Azure's 2019-04-01 template schema predates languageVersion 2.0 (which
/// `existing` needs) and refuses the `languageVersion` property, so each
/// template body must fail with exactly that and nothing else.
#[test]
fn existing_vault_render_passes_the_official_schemas() {
    let Some(schemas) = schemas() else { return };
    for (case, request) in existing_vault_cases() {
        let rendered = render(&request).unwrap();
        let template: Value = serde_json::from_str(&rendered.template).unwrap();
        let parameters: Value = serde_json::from_str(&rendered.parameters).unwrap();
        let ui: Value = serde_json::from_str(&rendered.ui_definition).unwrap();
        assert_eq!(
            schemas.validate_parameters(&parameters).unwrap(),
            [],
            "{case}: parameters"
        );
        assert_eq!(
            schemas.validate_ui_definition(&ui).unwrap(),
            [],
            "{case}: createUiDefinition"
        );

        let resources = template["resources"].as_object().unwrap();
        assert_eq!(resources.len(), 1, "{case}");
        let nested = &resources["keyAndRoles"];
        assert_eq!(nested["type"], "Microsoft.Resources/deployments", "{case}");
        let inner = &nested["properties"]["template"];
        for (what, body) in [("template", &template), ("nested template", inner)] {
            assert_eq!(body["languageVersion"], "2.0", "{case}: {what}");
            let violations = schemas.validate_template(body).unwrap();
            assert!(
                violations.len() == 1 && violations[0].message.contains("languageVersion"),
                "{case}: {what}: {violations:?}"
            );
            let mut without = body.clone();
            without.as_object_mut().unwrap().remove("languageVersion");
            assert_eq!(
                schemas.validate_template(&without).unwrap(),
                [],
                "{case}: {what} without languageVersion"
            );
        }

        let inner_resources = inner["resources"].as_object().unwrap();
        let vault = &inner_resources["vault"];
        assert_eq!(
            vault["existing"], true,
            "{case}: the vault is only referenced"
        );
        assert_eq!(vault["type"], "Microsoft.KeyVault/vaults", "{case}");
        let mut checked = Vec::new();
        for (symbol, resource) in inner_resources {
            if resource.get("existing").is_some() {
                continue;
            }
            let ty = resource["type"].as_str().unwrap();
            let api = resource["apiVersion"].as_str().unwrap();
            let violations = schemas.validate_resource(ty, api, resource).unwrap();
            assert_eq!(violations, [], "{case}: {symbol} ({ty}@{api})");
            checked.push(ty);
        }
        assert_eq!(
            checked,
            [
                "Microsoft.KeyVault/vaults/keys",
                "Microsoft.Authorization/roleAssignments",
                "Microsoft.Authorization/roleAssignments"
            ],
            "{case}"
        );
    }
}

/// The validator must be able to fail: a broken vault, template, parameters file
/// and form each report violations at the right pointer.
#[test]
fn official_schemas_report_violations_at_their_pointer() {
    let Some(schemas) = schemas() else { return };
    let vault = json!({
        "type": "Microsoft.KeyVault/vaults", "apiVersion": "2026-02-01", "name": "kv1",
        "location": "eastus",
        "properties": {
            "tenantId": "[subscription().tenantId]",
            "sku": {"family": "A", "name": "gold"},
            "enablePurgeProtection": "yes"
        }
    });
    let v = schemas
        .validate_resource("microsoft.keyvault/VAULTS", "2026-02-01", &vault)
        .unwrap();
    let pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
    assert!(pointers.contains(&"/properties"), "{v:?}");

    let key = json!({"type": "Microsoft.KeyVault/vaults/keys", "apiVersion": "2026-02-01",
        "name": "kv1/k1", "properties": {"kty": "RSA", "keySize": 3072}});
    // The resource schema's name pattern allows no '/': top-level keys must use
    // an expression for their name, as render does.
    assert!(!schemas
        .validate_resource("Microsoft.KeyVault/vaults/keys", "2026-02-01", &key)
        .unwrap()
        .is_empty());

    let template = json!({"$schema": "x", "contentVersion": "1.0", "resources": [], "bogus": 1});
    let v = schemas.validate_template(&template).unwrap();
    assert!(v.iter().any(|v| v.pointer == "/contentVersion"), "{v:?}");
    assert!(v.iter().any(|v| v.message.contains("bogus")), "{v:?}");

    let template =
        json!({"$schema": "x", "contentVersion": "1.0.0.0", "resources": [{"type": "t"}]});
    let v = schemas.validate_template(&template).unwrap();
    assert!(
        v.iter().any(|v| v.pointer.starts_with("/resources")),
        "{v:?}"
    );

    let v = schemas
        .validate_parameters(
            &json!({"$schema": "x", "contentVersion": "1.0.0.0", "parameters": {"a": 1}}),
        )
        .unwrap();
    assert!(v.iter().any(|v| v.pointer == "/parameters/a"), "{v:?}");

    let v = schemas
        .validate_ui_definition(&json!({"handler": "Microsoft.Azure.CreateUIDef", "version": "0.1.2-preview",
            "parameters": {"basics": [{"name": "x", "type": "Microsoft.Common.TextBox"}], "steps": [], "outputs": {}}}))
        .unwrap();
    assert!(
        v.iter()
            .any(|v| v.pointer.starts_with("/parameters/basics/0")),
        "{v:?}"
    );

    let types = schemas.resource_types();
    for (ty, api) in [
        ("Microsoft.KeyVault/vaults", "2026-02-01"),
        ("Microsoft.KeyVault/vaults/keys", "2023-07-01"),
        ("Microsoft.Authorization/roleAssignments", "2022-04-01"),
    ] {
        assert!(
            types.contains(&(ty.to_string(), api.to_string())),
            "{ty}@{api}"
        );
    }

    let err = schemas
        .validate_resource("Microsoft.KeyVault/vaults", "1999-01-01", &vault)
        .unwrap_err();
    assert!(err.to_string().contains("1999-01-01"), "{err}");
}
