//! The live reader over the REST API examples of the corpus, unmodified but for
//! the vault's and key's `id`: the examples describe resources in different
//! subscriptions and resource groups, and check refuses an answer about any
//! resource but the one it asked for.

use super::cli::run_raw;
use super::fake::*;

/// The subscription of the RoleAssignments_ListForScope example, so that its
/// subscription-level assignment is "above" the key being checked.
const EX_SUB: &str = "a925f2f7-5c63-4b7b-8799-25a5f97bc3b2";

#[test]
fn unmodified_rest_examples_fill_the_model() {
    let Some(dir) = corpus() else { return };
    let fake = Fake::start();
    let vault_id = vault_id().replace(SUB, EX_SUB);
    let key_id = key_id().replace(SUB, EX_SUB);
    let ra_path = ra_path().replace(SUB, EX_SUB);
    // ARM may spell an ID in its own case ("resourcegroups"); IDs compare
    // case-insensitively and ARM's spelling is kept.
    let arm_case = |id: &str| id.replace("resourceGroups", "resourcegroups");
    let mut vault = example(&dir, ex::VAULT);
    vault["id"] = serde_json::json!(arm_case(&vault_id));
    let mut key = example(&dir, ex::KEY);
    key["id"] = serde_json::json!(arm_case(&key_id));
    fake.route(&vault_id, vec![Canned::ok(vault)]);
    fake.route(&key_id, vec![Canned::ok(key)]);
    fake.route(&ra_path, vec![Canned::ok(example(&dir, ex::RA_LIST))]);
    fake.route(
        &rotation_path(),
        vec![Canned::ok(example(&dir, ex::ROTATION))],
    );
    let def = example(&dir, ex::ROLE_DEF);
    fake.route(
        "/providers/Microsoft.Authorization/roleDefinitions/0b5fe924-9a61-425c-96af-cfe6e287ca2d",
        vec![Canned::ok(def)],
    );
    let out = run_raw(
        &fake,
        &[
            "check",
            "--show-state",
            "--subscription",
            EX_SUB,
            "--resource-group",
            RG,
            "--vault",
            VAULT,
            "--key",
            KEY,
            "--sp-object-id",
            OFFICER,
            "--auth",
            "env",
            "--arm-endpoint",
            &fake.url,
            "--graph-endpoint",
            &fake.url,
            "--vault-endpoint",
            &fake.url,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    let res = j["resources"].as_array().unwrap();
    let vault = &res[0];
    assert_eq!(vault["kind"], "vault");
    // ARM's own spelling of the ID is kept as the origin.
    assert_eq!(
        vault["origin"]["azure"],
        format!("/subscriptions/{EX_SUB}/resourcegroups/{RG}/providers/Microsoft.KeyVault/vaults/{VAULT}")
    );
    assert_eq!(vault["body"]["location"], "westus");
    assert_eq!(vault["body"]["properties"]["sku"]["name"], "standard");
    // The example lacks these flags: absent, never invented.
    assert!(vault["body"]["properties"]
        .get("enablePurgeProtection")
        .is_none());
    let key = &res[1];
    assert_eq!(key["kind"], "key");
    let props = &key["body"]["properties"];
    assert_eq!(props["kty"], "RSA");
    assert_eq!(props["keySize"], 2048);
    assert_eq!(props["attributes"]["recoveryLevel"], "Purgeable");
    assert_eq!(props["rotationPolicy"]["attributes"]["expiryTime"], "P2Y");
    assert_eq!(
        props["rotationPolicy"]["lifetimeActions"][1]["action"]["type"],
        "Notify"
    );
    // The example's assignment is at the subscription: above the key, so kept.
    let ra = &res[2];
    assert_eq!(ra["kind"], "roleAssignment");
    assert_eq!(ra["body"]["properties"]["principalType"], "User");
    assert_eq!(ra["name"], "b0f43c54-e787-4862-89b1-a653fa9cf747");
    // GetRoleDefinitionByName's body names the role "roleDefinitionId" / "Role name".
    assert_eq!(j["roleNames"]["roledefinitionid"], "Role name");
    // The example principal is absent from the fake's Graph: reported, not guessed.
    assert_eq!(out.problems("principal-missing").len(), 1);
}
