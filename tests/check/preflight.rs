//! `cmek-arm preflight` against the fake Azure: each PRE rule passing and failing
//! on the template `render` writes, validate's findings unchanged, and nothing
//! ever written (the fake refuses PUT, PATCH, DELETE and other POSTs, and every
//! test asserts none arrived).

use super::cli::{run_raw_in, Out};
use super::fake::{self, *};
use serde_json::{json, Value as Json};
use std::path::Path;
use std::process::Command;

/// A hand-made role assignment's name: a random GUID, as the portal picks.
pub(super) const HAND_MADE: &str = "9f0c2b7e-4d1a-4c55-8b3e-6a2f1d0c9e87";

/// `cmek-arm render` for the fake's vault, key and vendor principal, in a fresh
/// directory (the officer defaults to the deployer, `deployer().objectId`).
pub(super) fn rendered(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
        .current_dir(dir.path())
        .args([
            "render",
            "--region",
            "eastus",
            "--vault-name",
            VAULT,
            "--key-name",
            KEY,
            "--sp-object-id",
            SP_OBJECT,
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    dir
}

/// Edits the rendered template's JSON.
pub(super) fn edit_template(dir: &Path, change: impl FnOnce(&mut Json)) {
    let path = dir.join("cmek-arm-out/azuredeploy.json");
    let mut t: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut t);
    std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
}

/// The preflight command for the rendered files (relative paths, run in `dir`).
pub(super) fn args<'a>(fake: &'a Fake, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "preflight",
        "cmek-arm-out/azuredeploy.json",
        "--parameters",
        "cmek-arm-out/azuredeploy.parameters.json",
        "--subscription",
        SUB,
        "--resource-group",
        RG,
        "--auth",
        "env",
        "--arm-endpoint",
        &fake.url,
        "--timeout",
        "5",
    ];
    a.extend_from_slice(extra);
    a
}

/// Runs preflight and asserts that nothing was written, whatever the outcome.
pub(super) fn preflight(fake: &Fake, dir: &Path, extra: &[&str]) -> Out {
    let out = run_raw_in(fake, &args(fake, extra), None, Some(dir));
    assert!(
        fake.writes().is_empty(),
        "preflight sent a write: {:?}",
        fake.writes()
    );
    out
}

/// Findings of the JSON report.
pub(super) fn findings(fake: &Fake, dir: &Path, extra: &[&str]) -> (Out, Vec<Json>) {
    let mut a = vec!["--format", "json"];
    a.extend_from_slice(extra);
    let out = preflight(fake, dir, &a);
    let list = out.json()["findings"].as_array().unwrap().clone();
    (out, list)
}

pub(super) fn of_rule<'a>(list: &'a [Json], rule: &str) -> Vec<&'a Json> {
    list.iter().filter(|f| f["rule"] == rule).collect()
}

pub(super) fn msg(f: &Json) -> &str {
    f["message"].as_str().unwrap()
}

/// The rendered vault as it would exist after deploying the template (nothing to change).
pub(super) fn matching_vault(dir: &Path) -> Json {
    let mut v = existing_vault(dir);
    v["tags"] = json!({});
    let p = &mut v["properties"];
    p["publicNetworkAccess"] = json!("Enabled");
    p["networkAcls"] = json!({"bypass": "AzureServices", "defaultAction": "Allow",
                              "ipRules": [], "virtualNetworkRules": []});
    v
}

#[test]
fn greenfield_with_owner_passes_reads_only_and_sends_what_arm_expects() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(list, Vec::<Json>::new(), "{}", out.stdout);
    // Every call authorised and versioned; the only POSTs are the token and
    // checkNameAvailability, whose body names the vault.
    let seen = fake.seen();
    for r in &seen {
        if r.path.contains("oauth2") {
            continue;
        }
        assert!(r.authorized, "{r:?}");
        assert!(r.query.iter().any(|(k, _)| k == "api-version"), "{r:?}");
        assert!(!r.path.contains("//"), "{r:?}");
    }
    let check: Vec<_> = seen
        .iter()
        .filter(|r| r.method == "POST" && !r.path.contains("oauth2"))
        .collect();
    assert_eq!(check.len(), 1, "{seen:?}");
    assert!(check[0]
        .path
        .ends_with("/providers/Microsoft.KeyVault/checkNameAvailability"));
    let body: Json = serde_json::from_str(&check[0].body).unwrap();
    assert_eq!(
        body,
        json!({"name": VAULT, "type": "Microsoft.KeyVault/vaults"})
    );
    // What was read: the vault, the deleted vaults, the provider, the group's and
    // the vault's permissions, the role assignments at the key and the vault.
    assert_eq!(fake.count(&rg_id()), 1);
    assert_eq!(fake.count(&vault_id()), 1);
    assert_eq!(fake.count(&deleted_path()), 1);
    assert_eq!(fake.count(&provider_path()), 1);
    assert_eq!(fake.count(&permissions_path(&rg_id())), 1);
    assert_eq!(fake.count(&permissions_path(&vault_id())), 1);
    assert_eq!(fake.count(&ra_path_at(&key_id())), 1);
    assert_eq!(fake.count(&ra_path_at(&vault_id())), 1);
    assert_eq!(fake.token_requests(), 1, "one ARM token, nothing else");
}

#[test]
fn show_state_prints_the_context_and_everything_read() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    let dir = rendered(&[]);
    let out = preflight(&fake, dir.path(), &["--show-state"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    assert_eq!(j["version"], 1);
    let ctx = &j["context"];
    assert_eq!(ctx["subscriptionId"], SUB);
    assert_eq!(ctx["resourceGroupLocation"], "eastus");
    assert_eq!(ctx["tenantId"], TENANT);
    assert_eq!(
        ctx["deployerObjectId"], DEPLOYER,
        "from the token's oid claim"
    );
    assert_eq!(ctx["deploymentName"], "azuredeploy", "as az names it");
    assert_eq!(j["provider"]["registrationState"], "Registered");
    assert_eq!(j["vaults"][0]["name"], VAULT);
    assert_eq!(j["vaults"][0]["existing"], Json::Null);
    assert_eq!(j["vaults"][0]["nameAvailability"]["nameAvailable"], true);
    assert_eq!(j["vaults"][0]["deleted"], json!([]));
    assert_eq!(
        j["permissions"][0]["permissions"][0]["actions"],
        json!(["*"])
    );
    // The vault does not exist yet: its permission list is null (404).
    assert_eq!(j["permissions"][1]["permissions"], Json::Null);
    assert_eq!(j["roleAssignments"].as_array().unwrap().len(), 2);
    // The template expanded with the real context: the officer is the deployer.
    let officer = j["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["kind"] == "roleAssignment"
                && r["body"]["properties"]["roleDefinitionId"]
                    .as_str()
                    .unwrap()
                    .ends_with(ROLE_OFFICER)
        })
        .unwrap();
    assert_eq!(officer["body"]["properties"]["principalId"], DEPLOYER);
    assert_eq!(j["notRead"], json!([]));
}

#[test]
fn soft_deleted_vault_holds_the_name_until_its_purge_date() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&deleted_path(), vec![Canned::ok(deleted_vault(&corpus))]);
    fake.name_answer(
        VAULT,
        json!({"nameAvailable": false, "reason": "AlreadyExists",
               "message": "The vault name 'sample-vault' is already in use."}),
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "error");
    let m = msg(pre[0]);
    assert!(m.contains("soft-deleted"), "{m}");
    assert!(m.contains("2017-04-01T00:00:59Z"), "the purge date: {m}");
    assert!(
        m.contains("az keyvault recover --name sample-vault --resource-group sample-group --location westus"),
        "{m}"
    );
    assert!(m.contains("choose another name"), "{m}");
    // Purge protection is on in the example: no purge command is offered.
    assert!(!m.contains("az keyvault purge"), "{m}");
    // At the template's vault name, where the fix goes.
    assert_eq!(pre[0]["file"], "cmek-arm-out/azuredeploy.json");
    assert_eq!(pre[0]["pointer"], "/resources/0/name");
}

#[test]
fn a_name_taken_elsewhere_is_an_error_and_a_free_one_is_not() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.name_answer(
        VAULT,
        json!({"nameAvailable": false, "reason": "AlreadyExists",
               "message": "The vault name 'sample-vault' is already in use."}),
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert!(msg(pre[0]).contains("already taken"), "{}", msg(pre[0]));
    assert!(
        msg(pre[0]).contains("already in use"),
        "ARM's words are quoted"
    );

    // The same answer for this resource group's own vault: that vault is updated.
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(matching_vault(&corpus))]);
    fake.name_answer(
        VAULT,
        json!({"nameAvailable": false, "reason": "AlreadyExists"}),
    );
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(of_rule(&list, "PRE001").is_empty(), "{}", out.stdout);
    assert!(
        of_rule(&list, "PRE002").is_empty(),
        "nothing changes: {}",
        out.stdout
    );
}

#[test]
fn contributor_only_caller_may_not_create_the_role_assignments() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(&corpus, &[roles::CONTRIBUTOR]))],
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let pre = of_rule(&list, "PRE004");
    // One per role assignment (key and vault scope); the vault and key are allowed.
    assert_eq!(pre.len(), 2, "{}", out.stdout);
    for f in &pre {
        let m = msg(f);
        assert_eq!(f["level"], "error");
        assert!(
            m.contains("Microsoft.Authorization/roleAssignments/write"),
            "{m}"
        );
        assert!(
            m.contains(
                "Owner, User Access Administrator or Role Based Access Control Administrator"
            ),
            "{m}"
        );
        assert!(
            m.contains("notActions"),
            "says why Contributor is not enough: {m}"
        );
        assert!(m.contains(DEPLOYER), "names the caller: {m}");
        assert!(
            f["pointer"].as_str().unwrap().starts_with("/resources/"),
            "{f}"
        );
    }
    assert!(pre
        .iter()
        .any(|f| msg(f).contains(&format!("vaults/{VAULT}/keys/{KEY}"))));

    // Contributor plus User Access Administrator: everything is granted.
    let fake = preflight_world(&corpus);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(
            &corpus,
            &[roles::CONTRIBUTOR, roles::USER_ACCESS_ADMIN],
        ))],
    );
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(of_rule(&list, "PRE004").is_empty());

    // A caller with only data-plane-free read access lacks the vault and key too,
    // and the key's finding says key creation is a control-plane action.
    let fake = preflight_world(&corpus);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(&corpus, &[(&["*/read"], &[])]))],
    );
    let (_, list) = findings(&fake, dir.path(), &[]);
    let pre = of_rule(&list, "PRE004");
    assert_eq!(
        pre.len(),
        5,
        "deployment, vault, key, two role assignments: {pre:?}"
    );
    let key = pre
        .iter()
        .find(|f| msg(f).contains("Microsoft.KeyVault/vaults/keys/write"))
        .unwrap();
    assert!(msg(key).contains("control-plane action"), "{}", msg(key));
}

#[test]
fn roles_on_an_existing_vault_count_for_its_key_and_role_assignments() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(matching_vault(&corpus))]);
    // Contributor on the group; Owner on the existing vault.
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(&corpus, &[roles::CONTRIBUTOR]))],
    );
    fake.route(
        &permissions_path(&vault_id()),
        vec![Canned::ok(permissions(
            &corpus,
            &[roles::CONTRIBUTOR, roles::OWNER],
        ))],
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(of_rule(&list, "PRE004").is_empty(), "{}", out.stdout);
}

#[test]
fn brownfield_vault_whose_firewall_the_template_would_open() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(existing_vault(&corpus))]);
    // ARM says the name is in use: by this very vault, so PRE001 stays silent.
    fake.name_answer(
        VAULT,
        json!({"nameAvailable": false, "reason": "AlreadyExists"}),
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "a warning: {}", out.stdout);
    assert!(of_rule(&list, "PRE001").is_empty(), "{}", out.stdout);
    let pre = of_rule(&list, "PRE002");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "warning");
    let m = msg(pre[0]);
    assert!(
        m.contains("firewall: default Deny, bypass AzureServices, allows 203.0.113.7 → all networks (no firewall): this opens the firewall"),
        "{m}"
    );
    assert!(
        m.contains("public network access: Disabled → Enabled"),
        "{m}"
    );
    assert!(m.contains("tags: {costCenter=4711} → none"), "{m}");
    // Unchanged properties are not listed.
    assert!(
        !m.contains("SKU") && !m.contains("retention") && !m.contains("RBAC"),
        "{m}"
    );
    // --fail-on warning makes it fail the run.
    let (out, _) = findings(&fake, dir.path(), &["--fail-on", "warning"]);
    assert_eq!(out.code, 1);
}

#[test]
fn turning_purge_protection_off_on_an_existing_vault_is_an_error() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    let mut vault = matching_vault(&corpus);
    vault["location"] = json!("westus");
    fake.route(&vault_id(), vec![Canned::ok(vault)]);
    let dir = rendered(&[]);
    edit_template(dir.path(), |t| {
        t["resources"][0]["properties"]["enablePurgeProtection"] = json!(false);
        t["resources"][0]["properties"]["enableRbacAuthorization"] = json!(false);
    });
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1);
    let pre = of_rule(&list, "PRE002");
    let errors: Vec<_> = pre.iter().filter(|f| f["level"] == "error").collect();
    assert_eq!(errors.len(), 2, "{}", out.stdout);
    let purge = errors
        .iter()
        .find(|f| f["pointer"] == "/resources/0/properties/enablePurgeProtection")
        .unwrap();
    assert!(
        msg(purge).contains("cannot be turned off"),
        "{}",
        msg(purge)
    );
    let moved = errors
        .iter()
        .find(|f| f["pointer"] == "/resources/0/location")
        .unwrap();
    assert!(msg(moved).contains("'westus'") && msg(moved).contains("'eastus'"));
    let warning = pre.iter().find(|f| f["level"] == "warning").unwrap();
    assert!(
        msg(warning).contains("RBAC permission model (enableRbacAuthorization): true (RBAC) → false (access policies)"),
        "{}",
        msg(warning)
    );
    // validate's own finding on the same property is there too, unchanged.
    assert_eq!(of_rule(&list, "CMK001").len(), 1);
}

#[test]
fn hand_made_role_assignment_with_a_random_name_conflicts() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(matching_vault(&corpus))]);
    // The portal's assignment: same role, principal and scope, written in other
    // cases, under a random name; next to it one inherited from the group.
    let scope_other_case = key_id()
        .to_ascii_uppercase()
        .replace("/SUBSCRIPTIONS/", "/subscriptions/");
    let mut hand = assignment(
        &corpus,
        HAND_MADE,
        &ROLE_CSEU.to_ascii_uppercase(),
        &SP_OBJECT.to_ascii_uppercase(),
        &scope_other_case,
    );
    hand["id"] = json!(format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{HAND_MADE}",
        key_id()
    ));
    let inherited = assignment(
        &corpus,
        "11111111-0000-4000-8000-000000000009",
        ROLE_CSEU,
        SP_OBJECT,
        &rg_id(),
    );
    fake.route(
        &ra_path_at(&key_id()),
        vec![Canned::ok(json!({"value": [hand, inherited]}))],
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let pre = of_rule(&list, "PRE003");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    let m = msg(pre[0]);
    assert!(m.contains(HAND_MADE), "names the existing assignment: {m}");
    assert!(m.contains("RoleAssignmentExists"), "{m}");
    assert!(
        m.contains("Key Vault Crypto Service Encryption User"),
        "{m}"
    );
    assert!(
        m.contains(&format!("az role assignment delete --ids {}", key_id())),
        "{m}"
    );

    // The template's own assignment from an earlier deployment (same name) is no conflict.
    let state = preflight(&fake, dir.path(), &["--show-state"]).json();
    let ours = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["kind"] == "roleAssignment" && r["body"]["properties"]["principalId"] == SP_OBJECT
        })
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(matching_vault(&corpus))]);
    let same = assignment(&corpus, &ours, ROLE_CSEU, SP_OBJECT, &key_id());
    fake.route(
        &ra_path_at(&key_id()),
        vec![Canned::ok(json!({"value": [same]}))],
    );
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(of_rule(&list, "PRE003").is_empty());

    // That name holding another principal cannot be updated by ARM.
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(matching_vault(&corpus))]);
    let other = assignment(&corpus, &ours, ROLE_CSEU, OFFICER, &key_id());
    fake.route(
        &ra_path_at(&key_id()),
        vec![Canned::ok(json!({"value": [other]}))],
    );
    let (_, list) = findings(&fake, dir.path(), &[]);
    let pre = of_rule(&list, "PRE003");
    assert_eq!(pre.len(), 1);
    assert!(msg(pre[0]).contains("RoleAssignmentUpdateNotPermitted"));
}

#[test]
fn unregistered_provider_warns_only_when_the_caller_may_not_register_it() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let unregistered = |fake: &Fake| fake.provider_state(&corpus, "NotRegistered");
    // A custom role scoped to what the deployment writes: no register/action.
    let fake = preflight_world(&corpus);
    unregistered(&fake);
    let custom: (&[&str], &[&str]) = (
        &[
            "Microsoft.KeyVault/vaults/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Authorization/roleAssignments/write",
        ],
        &[],
    );
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(&corpus, &[custom]))],
    );
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let pre = of_rule(&list, "PRE005");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "warning");
    assert!(msg(pre[0]).contains("NotRegistered"));
    assert!(msg(pre[0]).contains("az provider register --namespace Microsoft.KeyVault"));
    assert_eq!(pre[0]["resource"], provider_path());
    assert!(of_rule(&list, "PRE004").is_empty(), "{}", out.stdout);

    // Owner at the group: it may be enough (if assigned on the subscription): a note.
    let fake = preflight_world(&corpus);
    unregistered(&fake);
    let (_, list) = findings(&fake, dir.path(), &[]);
    let pre = of_rule(&list, "PRE005");
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0]["level"], "note");
}

#[test]
fn validate_findings_on_the_same_template_are_reported_unchanged() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    let dir = rendered(&[]);
    edit_template(dir.path(), |t| {
        let p = &mut t["resources"][0]["properties"];
        p["enablePurgeProtection"] = json!(false);
        p["softDeleteRetentionInDays"] = json!(3);
        t["resources"][1]["properties"]["keySize"] = json!(1024);
    });
    let (out, list) = findings(
        &fake,
        dir.path(),
        &["--region", "westeurope", "--key-suffix", "tidb"],
    );
    assert_eq!(out.code, 1);
    let validate = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
        .current_dir(dir.path())
        .args([
            "validate",
            "cmek-arm-out/azuredeploy.json",
            "--parameters",
            "cmek-arm-out/azuredeploy.parameters.json",
            "--format",
            "json",
            "--region",
            "westeurope",
            "--key-suffix",
            "tidb",
            "--subscription-id",
            SUB,
            "--resource-group",
            RG,
            "--resource-group-location",
            "eastus",
            "--tenant-id",
            TENANT,
            "--deployer-object-id",
            DEPLOYER,
        ])
        .output()
        .unwrap();
    let v: Json = serde_json::from_slice(&validate.stdout).unwrap();
    let v = v["findings"].as_array().unwrap().clone();
    assert!(
        v.iter().filter(|f| f["level"] == "error").count() >= 3,
        "the edits break CMK001, CMK002, CMK004, CMK005: {v:?}"
    );
    let mine: Vec<Json> = list
        .into_iter()
        .filter(|f| !f["rule"].as_str().unwrap().starts_with("PRE"))
        .collect();
    assert_eq!(mine, v);
}

#[test]
fn forbidden_reads_are_notes_naming_the_permission() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    for path in [
        deleted_path(),
        provider_path(),
        permissions_path(&rg_id()),
        permissions_path(&vault_id()),
        ra_path_at(&key_id()),
        vault_id(),
    ] {
        fake.route(&path, vec![Canned::error(403, "AuthorizationFailed")]);
    }
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for rule in ["PRE002", "PRE003", "PRE004", "PRE005"] {
        let pre = of_rule(&list, rule);
        assert!(!pre.is_empty(), "{rule}: {}", out.stdout);
        assert!(pre.iter().all(|f| f["level"] == "note"), "{rule}: {pre:?}");
        assert!(
            pre.iter().all(|f| msg(f).starts_with("cannot be decided")),
            "{pre:?}"
        );
    }
    let vault_note = &of_rule(&list, "PRE002")[0];
    assert!(msg(vault_note).contains("403 Forbidden"));
    assert!(msg(vault_note).contains("Microsoft.KeyVault/vaults/read"));
    assert!(msg(of_rule(&list, "PRE003")[0]).contains("roleAssignments/read"));
}

#[test]
fn missing_resource_group_and_broken_answers_exit_3() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let fake = preflight_world(&corpus);
    fake.route(&rg_id(), vec![Canned::error(404, "ResourceGroupNotFound")]);
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    assert!(
        out.stderr.contains("az group create --name sample-group"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fake.count(&vault_id()),
        0,
        "nothing read after the context failed"
    );

    let fake = preflight_world(&corpus);
    fake.route(&deleted_path(), vec![Canned::garbage()]);
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("listing soft-deleted vaults"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);

    let fake = preflight_world(&corpus);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(
            json!({"value": [], "nextLink": "https://evil.example.com/p2"}),
        )],
    );
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("refusing to send the token"),
        "{}",
        out.stderr
    );

    let fake = preflight_world(&corpus);
    fake.route(
        &vault_id(),
        vec![Canned::error(401, "InvalidAuthenticationToken")],
    );
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("401 Unauthorized"), "{}", out.stderr);
}

#[test]
fn the_failing_case_of_the_readme() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&deleted_path(), vec![Canned::ok(deleted_vault(&corpus))]);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(&corpus, &[roles::CONTRIBUTOR]))],
    );
    let dir = rendered(&[]);
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("preflight_text_report", out.stdout);
    });
    // The README's "Before you deploy" shows this very output.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(&out.stdout),
        "README.md's preflight sample differs from the output:\n{}",
        out.stdout
    );
}

#[test]
fn the_fake_refuses_and_records_every_write() {
    use std::io::{Read, Write};
    let fake = Fake::start();
    let addr = fake.url.trim_start_matches("http://").trim_end_matches('/');
    for (method, path) in [
        ("PUT", vault_id()),
        ("PATCH", vault_id()),
        ("DELETE", vault_id()),
        ("POST", format!("{}/purge", deleted_path())),
    ] {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "{method} {path}?api-version=2025-05-01 HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 405"), "{method}: {answer}");
    }
    let writes: Vec<String> = fake.writes().iter().map(|w| w.method.clone()).collect();
    assert_eq!(writes, ["PUT", "PATCH", "DELETE", "POST"]);
}

#[test]
fn the_brownfield_report() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(existing_vault(&corpus))]);
    let hand = assignment(&corpus, HAND_MADE, ROLE_CSEU, SP_OBJECT, &key_id());
    fake.route(
        &ra_path_at(&key_id()),
        vec![Canned::ok(json!({"value": [hand]}))],
    );
    fake.provider_state(&corpus, "NotRegistered");
    let dir = rendered(&[]);
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("preflight_text_report_brownfield", out.stdout);
    });
}

/// Adds a role assignment of the vendor's role at `scope` (a template
/// expression or ID), named `name`.
fn assign_at(dir: &Path, scope: &str, name: &str) {
    edit_template(dir, |t| {
        let mut ra = t["resources"][2].clone();
        ra["scope"] = json!(scope);
        ra["name"] = json!(name);
        ra.as_object_mut().unwrap().remove("dependsOn");
        t["resources"].as_array_mut().unwrap().push(ra);
    });
}

#[test]
fn a_grant_below_a_subscription_scope_is_a_note_and_a_sibling_scope_is_not_judged() {
    let Some(corpus) = corpus() else { return };
    // At the subscription: the group's Owner may or may not hold there.
    let dir = rendered(&[]);
    assign_at(
        dir.path(),
        "[subscription().id]",
        "[guid('at-the-subscription')]",
    );
    let fake = preflight_world(&corpus);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let pre = of_rule(&list, "PRE004");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "note");
    let m = msg(pre[0]);
    assert!(
        m.contains(&format!(
            "create role assignments at '/subscriptions/{SUB}'"
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "is granted at '{}', which lies below that scope",
            rg_id()
        )),
        "{m}"
    );

    // In a sibling resource group that does not exist yet: the deployment's
    // group says nothing about it, so a Contributor there is no error about it.
    let dir = rendered(&[]);
    let sibling = format!(
        "/subscriptions/{SUB}/resourceGroups/other-group/providers/Microsoft.KeyVault/vaults/kv9"
    );
    assign_at(dir.path(), &sibling, "[guid('in-a-sibling-group')]");
    let fake = preflight_world(&corpus);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(&corpus, &[roles::CONTRIBUTOR]))],
    );
    let (_, list) = findings(&fake, dir.path(), &[]);
    let pre = of_rule(&list, "PRE004");
    let at_sibling: Vec<_> = pre.iter().filter(|f| msg(f).contains("kv9")).collect();
    assert_eq!(at_sibling.len(), 1, "{pre:?}");
    assert_eq!(at_sibling[0]["level"], "note", "{pre:?}");
    assert!(msg(at_sibling[0]).contains("no permissions read apply at"));
    // The template's own two assignments in the group are still errors.
    assert_eq!(
        pre.iter().filter(|f| f["level"] == "error").count(),
        2,
        "{pre:?}"
    );
}

#[test]
fn forbidden_vault_permissions_are_notes_for_what_is_done_there() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(matching_vault(&corpus))]);
    fake.route(
        &permissions_path(&vault_id()),
        vec![Canned::error(403, "AuthorizationFailed")],
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let pre = of_rule(&list, "PRE004");
    // Vault, key and the two role assignments are at or below the vault.
    assert_eq!(pre.len(), 4, "{}", out.stdout);
    for f in &pre {
        assert_eq!(f["level"], "note");
        assert!(
            msg(f).contains("403 Forbidden (AuthorizationFailed"),
            "{}",
            msg(f)
        );
    }
}

/// The rendered vault with `createMode: recover`.
fn recovering(dir: &Path) {
    edit_template(dir, |t| {
        t["resources"][0]["properties"]["createMode"] = json!("recover");
    });
}

#[test]
fn create_mode_recover_needs_the_soft_deleted_vault() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    recovering(dir.path());
    let taken = json!({"nameAvailable": false, "reason": "AlreadyExists",
                       "message": "The vault name 'sample-vault' is already in use."});
    // None to recover: ARM fails.
    let fake = preflight_world(&corpus);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "error");
    assert!(msg(pre[0]).contains("holds no soft-deleted vault of that name"));
    // The soft-deleted vault is there (and holds the name): nothing to report.
    let fake = preflight_world(&corpus);
    fake.route(&deleted_path(), vec![Canned::ok(deleted_vault(&corpus))]);
    fake.name_answer(VAULT, taken.clone());
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert!(of_rule(&list, "PRE001").is_empty(), "{}", out.stdout);
    // The list cannot be read: a note, not "already taken".
    let fake = preflight_world(&corpus);
    fake.route(
        &deleted_path(),
        vec![Canned::error(403, "AuthorizationFailed")],
    );
    fake.name_answer(VAULT, taken);
    let (out, list) = findings(&fake, dir.path(), &[]);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "note", "{}", out.stdout);
    let m = msg(pre[0]);
    assert!(m.contains("sets createMode 'recover'"), "{m}");
    assert!(
        m.contains("deletedVaults/read"),
        "names the permission: {m}"
    );
    assert!(!m.contains("already taken"), "{m}");
}

#[test]
fn unreadable_soft_deleted_vaults_and_invalid_names() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    // The name is free, but a soft-deleted vault would still hold it.
    let fake = preflight_world(&corpus);
    fake.route(
        &deleted_path(),
        vec![Canned::error(403, "AuthorizationFailed")],
    );
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "note");
    assert!(msg(pre[0]).contains("whether a soft-deleted vault holds the name"));
    assert!(msg(pre[0]).contains("403 Forbidden (AuthorizationFailed"));
    // ARM finds the name invalid.
    let fake = preflight_world(&corpus);
    fake.name_answer(
        VAULT,
        json!({"nameAvailable": false, "reason": "AccountNameInvalid",
               "message": "Vault name must be between 3-24 alphanumeric characters."}),
    );
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert_eq!(pre[0]["level"], "error");
    assert!(
        msg(pre[0]).contains("is not valid (AccountNameInvalid: Vault name must be"),
        "{}",
        msg(pre[0])
    );
}

#[test]
fn values_left_to_the_deployment_are_not_claimed_as_changes() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(existing_vault(&corpus))]);
    let dir = rendered(&[]);
    // An if() on reference(): one of two values, decided only by the deployment.
    let on_vnet = "reference(resourceId('Microsoft.Network/virtualNetworks', 'vnet1'), '2023-04-01').enableDdosProtection";
    edit_template(dir.path(), |t| {
        let v = &mut t["resources"][0];
        v["tags"] = json!({"costCenter": "4711"});
        let p = &mut v["properties"];
        p["publicNetworkAccess"] = json!(format!("[if({on_vnet}, 'Disabled', 'Enabled')]"));
        p["networkAcls"] = json!({"bypass": "AzureServices",
            "defaultAction": format!("[if({on_vnet}, 'Deny', 'Allow')]"),
            "ipRules": [{"value": "203.0.113.7"}]});
        // The retention and permission model left out: not claimed either.
        p.as_object_mut()
            .unwrap()
            .remove("softDeleteRetentionInDays");
        p.as_object_mut().unwrap().remove("enableRbacAuthorization");
    });
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert!(of_rule(&list, "PRE002").is_empty(), "{}", out.stdout);
}

#[test]
fn a_soft_deleted_vault_is_found_by_its_vault_id_too() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    // The listDeletedVaults example as it is: its `name` is not the vault's name,
    // the last segment of its vaultId (and id) is.
    let mut list = example(&corpus, ex_pre::DELETED_LIST);
    list.as_object_mut().unwrap().remove("nextLink");
    assert_ne!(list["value"][0]["name"], VAULT);
    fake.route(&deleted_path(), vec![Canned::ok(list)]);
    fake.name_answer(
        VAULT,
        json!({"nameAvailable": false, "reason": "AlreadyExists"}),
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    let pre = of_rule(&list, "PRE001");
    assert_eq!(pre.len(), 1, "{}", out.stdout);
    assert!(
        msg(pre[0]).contains("held by a soft-deleted vault"),
        "{}",
        msg(pre[0])
    );
}

#[test]
fn checks_endpoint_and_tenant_flags_are_taken() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    // Data plane and Graph elsewhere: preflight calls only ARM.
    let elsewhere = Fake::start();
    let dir = rendered(&[]);
    let other_tenant = "99999999-9999-4999-8999-999999999999";
    let (out, list) = findings(
        &fake,
        dir.path(),
        &[
            "--vault-endpoint",
            &elsewhere.url,
            "--graph-endpoint",
            &elsewhere.url,
            "--tenant-id",
            other_tenant,
        ],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    // CMK016 compares the vault's tenant (the subscription's, as expanded) with --tenant-id.
    let cmk016 = of_rule(&list, "CMK016");
    assert_eq!(cmk016.len(), 1, "{}", out.stdout);
    assert!(msg(cmk016[0]).contains(other_tenant), "{}", msg(cmk016[0]));
    assert!(msg(cmk016[0]).contains(TENANT), "{}", msg(cmk016[0]));
}

/// The status line of one raw request to the fake, authorised as the readers are.
fn raw_status(fake: &Fake, method: &str, path_and_query: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = fake.host();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

#[test]
fn the_fake_takes_one_api_version_per_family_of_paths() {
    let Some(corpus) = corpus() else { return };
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::ok(existing_vault(&corpus))]);
    let ok = "HTTP/1.1 200";
    let refused = "HTTP/1.1 400";
    for (path, right, wrong) in [
        (vault_id(), "2025-05-01", "2022-04-01"),
        (deleted_path(), "2025-05-01", "2025-04-01"),
        (permissions_path(&rg_id()), "2022-04-01", "2025-05-01"),
        (provider_path(), "2025-04-01", "2025-05-01"),
        (rg_id(), "2025-04-01", "2022-12-01"),
        (format!("/subscriptions/{SUB}"), "2022-12-01", "2025-04-01"),
    ] {
        let at = |v: &str| raw_status(&fake, "GET", &format!("{path}?api-version={v}"), "");
        assert!(at(right).starts_with(ok), "{path} {right}: {}", at(right));
        assert!(
            at(wrong).starts_with(refused),
            "{path} {wrong}: {}",
            at(wrong)
        );
    }
    assert_eq!(
        fake::api_version_for(&ra_path_at(&key_id())),
        Some("2022-04-01")
    );
    assert_eq!(
        fake::api_version_for(&deployment_path("d")),
        Some("2024-03-01")
    );
    assert_eq!(fake::api_version_for(&rotation_path()), Some("7.5"));
}

#[test]
fn name_checks_are_answered_for_the_subscription_in_the_path() {
    let Some(corpus) = corpus() else { return };
    const OTHER_SUB: &str = "11111111-1111-4111-8111-111111111111";
    let fake = preflight_world(&corpus);
    let body = json!({"name": VAULT, "type": "Microsoft.KeyVault/vaults"}).to_string();
    let check_in = |sub: &str| {
        raw_status(
            &fake,
            "POST",
            &format!(
                "/subscriptions/{sub}/providers/Microsoft.KeyVault/checkNameAvailability?api-version=2025-05-01"
            ),
            &body,
        )
    };
    assert!(check_in(SUB).starts_with("HTTP/1.1 200"));
    assert!(
        check_in(OTHER_SUB).starts_with("HTTP/1.1 404"),
        "{}",
        check_in(OTHER_SUB)
    );
    // The name taken in another subscription's answer is not this deployment's answer.
    fake.name_answer_in(
        OTHER_SUB,
        VAULT,
        json!({"nameAvailable": false, "reason": "AlreadyExists"}),
    );
    let dir = rendered(&[]);
    let (out, list) = findings(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(of_rule(&list, "PRE001").is_empty(), "{}", out.stdout);
    let posted: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|r| r.path.ends_with("/checkNameAvailability"))
        .map(|r| r.path)
        .collect();
    assert!(
        posted
            .iter()
            .any(|p| p.starts_with(&format!("/subscriptions/{SUB}/"))),
        "{posted:?}"
    );
}
