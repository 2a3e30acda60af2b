//! `preflight` against answers no Azure API gives (issue 10's guards, which
//! `check` has, on preflight's reads): each is exit 3 naming the call, never a
//! finding about an object Azure did not send, never a request elsewhere.

use super::cli::Out;
use super::fake::*;
use super::hostile::{assert_quoted_safely, fat_assignment, page_of};
use super::preflight::{preflight, rendered};
use cmek_arm::azure::http::MAX_BODY;
use serde_json::json;

/// Exit 3, nothing on stdout, the message names `parts` and neither command by
/// name (the messages are shared by check and preflight).
fn exit_3_naming(out: &Out, parts: &[&str]) {
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    for p in parts {
        assert!(
            out.stderr.contains(p),
            "{p:?} missing from:\n{}",
            out.stderr
        );
    }
    for wrong in ["check's", "check does", "check stopped", "running check"] {
        assert!(!out.stderr.contains(wrong), "{wrong:?} in:\n{}", out.stderr);
    }
    assert_quoted_safely(&out.stderr);
}

#[test]
fn redirects_are_never_followed() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let other = Fake::start();
    for (path, call) in [
        (vault_id(), format!("reading vault '{VAULT}'")),
        (rg_id(), format!("reading resource group '{RG}'")),
        (deleted_path(), "listing soft-deleted vaults".to_string()),
        (
            permissions_path(&rg_id()),
            "reading the caller's permissions".to_string(),
        ),
    ] {
        let fake = preflight_world(&corpus);
        fake.route(
            &path,
            vec![Canned::redirect(307, &format!("{}x", other.url))],
        );
        let out = preflight(&fake, dir.path(), &[]);
        exit_3_naming(
            &out,
            &[
                &call,
                "redirect (HTTP 307)",
                &other.host(),
                "is not followed",
            ],
        );
    }
    assert!(other.seen().is_empty(), "{:?}", other.seen());
}

#[test]
fn oversized_bodies_stop_the_run() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![Canned::streamed(2 * MAX_BODY as u64)]);
    let out = preflight(&fake, dir.path(), &[]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            &format!("over the cap of {MAX_BODY} bytes"),
            "reading stopped at",
        ],
    );
    let fake = preflight_world(&corpus);
    fake.route(&provider_path(), vec![Canned::announced(512 << 20)]);
    let out = preflight(&fake, dir.path(), &[]);
    exit_3_naming(
        &out,
        &["Microsoft.KeyVault provider", "announced 536870912 bytes"],
    );
}

#[test]
fn json_with_too_many_values_stops_the_run() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let mut body = String::from("{\"id\":[");
    body.push_str(&"0,".repeat(600_000));
    body.push_str("0]}");
    let mut c = Canned::ok(json!(null));
    c.body = body;
    let fake = preflight_world(&corpus);
    fake.route(&vault_id(), vec![c]);
    let out = preflight(&fake, dir.path(), &[]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            "more than 500000 JSON values (the cap on any Azure answer)",
        ],
    );
}

#[test]
fn a_list_has_one_budget_for_all_its_pages() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    for (path, what) in [
        (ra_path_at(&key_id()), "listing role assignments at"),
        (deleted_path(), "listing soft-deleted vaults"),
    ] {
        let fake = preflight_world(&corpus);
        let item = if path == deleted_path() {
            let mut d = deleted_vault(&corpus)["value"][0].take();
            d["properties"]["tags"] = json!({"pad": "x".repeat(9 << 20)});
            d
        } else {
            fat_assignment(&corpus, &key_id(), false)
        };
        fake.route(
            &path,
            vec![page_of(&fake, &path, vec![item.clone()], Some(2))],
        );
        fake.route(
            &format!("{path}#2"),
            vec![page_of(&fake, &path, vec![item], Some(3))],
        );
        let out = preflight(&fake, dir.path(), &[]);
        exit_3_naming(&out, &[what, "its 2 pages up to GET", "on one list"]);
        assert_eq!(fake.count(&path), 2, "no third page was asked for");
    }
}

#[test]
fn list_items_of_another_shape_are_unusable() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let mut no_principal = assignment(&corpus, "a1", ROLE_CSEU, SP_OBJECT, &key_id());
    no_principal["properties"]
        .as_object_mut()
        .unwrap()
        .remove("principalId");
    let sibling = vault_id().replace(VAULT, "other-vault");
    let mut not_deleted = deleted_vault(&corpus)["value"][0].take();
    not_deleted["type"] = json!("Microsoft.KeyVault/vaults");
    let mut elsewhere = deleted_vault(&corpus)["value"][0].take();
    elsewhere["id"] = json!(
        "/subscriptions/99999999-9999-4999-8999-999999999999/providers/Microsoft.KeyVault/locations/westus/deletedVaults/x"
    );
    let cases = [
        (
            ra_path_at(&key_id()),
            json!({"value": [no_principal]}),
            "an item '",
            "that is not a role assignment",
        ),
        (
            ra_path_at(&key_id()),
            json!({"value": [assignment(&corpus, "a2", ROLE_CSEU, SP_OBJECT, &sibling)]}),
            "a role assignment at scope '",
            "other-vault",
        ),
        (
            deleted_path(),
            json!({"value": [not_deleted]}),
            "that is not a soft-deleted vault",
            "only soft-deleted vaults of subscription",
        ),
        (
            deleted_path(),
            json!({"value": [elsewhere]}),
            "the soft-deleted vault '/subscriptions/99999999",
            "is not Azure",
        ),
        (
            permissions_path(&rg_id()),
            json!({"value": [{"actions": "*", "notActions": []}]}),
            "an entry that is not a permission",
            "is not Azure",
        ),
        (
            permissions_path(&rg_id()),
            json!({"value": ["*"]}),
            "an entry that is not a permission",
            "reading the caller's permissions",
        ),
    ];
    for (path, body, a, b) in cases {
        let fake = preflight_world(&corpus);
        fake.route(&path, vec![Canned::ok(body)]);
        let out = preflight(&fake, dir.path(), &[]);
        exit_3_naming(&out, &[a, b]);
    }
}

/// The context's tenant on a run whose subscription read is answered with `c`.
fn tenant_with_subscription_answer(corpus: &std::path::Path, c: Canned) -> Out {
    let fake = preflight_world(corpus);
    fake.route(&format!("/subscriptions/{SUB}"), vec![c]);
    preflight(&fake, rendered(&[]).path(), &["--show-state"])
}

#[test]
fn the_subscription_read_has_checks_guards() {
    let Some(corpus) = corpus() else { return };
    const OTHER_TENANT: &str = "99999999-9999-4999-8999-999999999999";
    // Another subscription's tenant is not the deployment's: the token's is used.
    let out = tenant_with_subscription_answer(
        &corpus,
        Canned::ok(
            json!({"id": "/subscriptions/11111111-1111-4111-8111-111111111111",
            "subscriptionId": "11111111-1111-4111-8111-111111111111", "tenantId": OTHER_TENANT}),
        ),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["context"]["tenantId"], TENANT);
    // Too many JSON values: not parsed, so not taken either.
    let mut c = Canned::ok(json!(null));
    c.body = format!(
        "{{\"subscriptionId\":\"{SUB}\",\"tenantId\":\"{OTHER_TENANT}\",\"pad\":[{}0]}}",
        "0,".repeat(600_000)
    );
    let out = tenant_with_subscription_answer(&corpus, c);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["context"]["tenantId"], TENANT);
    // The right subscription's tenant is taken (and wins over the token's).
    let out = tenant_with_subscription_answer(
        &corpus,
        Canned::ok(json!({"subscriptionId": SUB, "tenantId": OTHER_TENANT})),
    );
    assert_eq!(out.json()["context"]["tenantId"], OTHER_TENANT);
    // A redirect is no refusal: it ends the run.
    let other = Fake::start();
    let out = tenant_with_subscription_answer(&corpus, Canned::redirect(307, &other.url));
    exit_3_naming(&out, &["reading the subscription", "redirect (HTTP 307)"]);
    assert!(other.seen().is_empty());
}

#[test]
fn a_vault_answer_about_another_resource_is_unusable() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let other = vault_id().replace(VAULT, "someone-elses-vault");
    let mut another_vault = existing_vault(&corpus);
    another_vault["id"] = json!(other);
    let mut storage = existing_vault(&corpus);
    storage["type"] = json!("Microsoft.Storage/storageAccounts");
    let mut no_properties = existing_vault(&corpus);
    no_properties.as_object_mut().unwrap().remove("properties");
    for (body, expect) in [
        (another_vault, "someone-elses-vault".to_string()),
        (
            storage,
            "a resource of type 'Microsoft.Storage/storageAccounts'".to_string(),
        ),
        (no_properties, "a resource without 'properties'".to_string()),
        (
            json!({"value": []}),
            "an object without an 'id'".to_string(),
        ),
    ] {
        let fake = preflight_world(&corpus);
        fake.route(&vault_id(), vec![Canned::ok(body)]);
        let out = preflight(&fake, dir.path(), &["--format", "json"]);
        exit_3_naming(
            &out,
            &[&format!("reading vault '{VAULT}'"), &expect, "is not Azure"],
        );
    }
    // IDs compare without case, as ARM's do.
    let fake = preflight_world(&corpus);
    let mut v = super::preflight::matching_vault(&corpus);
    v["id"] = json!(vault_id().to_ascii_uppercase());
    fake.route(&vault_id(), vec![Canned::ok(v)]);
    let out = preflight(&fake, dir.path(), &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn the_first_read_that_ends_the_run_ends_it_at_once() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    // Five more vaults: 22 reads in all (vault and name each, the deleted
    // vaults, two role assignment scopes, seven permission scopes), 8 at a time.
    let extra: Vec<String> = (1..=5).map(|i| format!("kv-extra-{i}")).collect();
    super::preflight::edit_template(dir.path(), |t| {
        let vault = t["resources"][0].clone();
        for name in &extra {
            let mut v = vault.clone();
            v["name"] = json!(name);
            t["resources"].as_array_mut().unwrap().push(v);
        }
    });
    let fake = preflight_world(&corpus);
    let slow = std::time::Duration::from_secs(2);
    fake.route(
        &deleted_path(),
        vec![Canned::ok(json!({"value": []})).slow(slow)],
    );
    for name in &extra {
        let id = vault_id().replace(VAULT, name);
        fake.route(&id, vec![Canned::error(404, "ResourceNotFound").slow(slow)]);
        fake.route(
            &permissions_path(&id),
            vec![Canned::error(404, "ResourceNotFound").slow(slow)],
        );
    }
    let other = Fake::start();
    fake.route(&vault_id(), vec![Canned::redirect(307, &other.url)]);
    let out = preflight(&fake, dir.path(), &[]);
    exit_3_naming(
        &out,
        &[&format!("reading vault '{VAULT}'"), "redirect (HTTP 307)"],
    );
    // The slow reads in flight were dropped and the rest never sent.
    let reads = fake
        .seen()
        .iter()
        .filter(|r| !r.path.contains("oauth2"))
        .count();
    // 3 context reads (group, subscription, provider) and fewer than 22 others.
    assert!(reads < 3 + 22, "{reads} requests: {:?}", fake.seen());
}

#[test]
fn the_deadline_ends_the_reads_before_and_after_the_expansion() {
    let Some(corpus) = corpus() else { return };
    let dir = rendered(&[]);
    let trickle = || Canned::trickle(std::time::Duration::from_millis(50), 2000);
    // Before the expansion: the resource group; after it: the caller's permissions.
    for (path, call) in [
        (rg_id(), format!("GET {{}}{}", rg_id())),
        (
            permissions_path(&rg_id()),
            format!("GET {{}}{}", permissions_path(&rg_id())),
        ),
    ] {
        let fake = preflight_world(&corpus);
        fake.route(&path, vec![trickle()]);
        let out = preflight(&fake, dir.path(), &["--deadline", "1"]);
        let call = call.replace("{}", fake.url.trim_end_matches('/'));
        exit_3_naming(
            &out,
            &[
                &call,
                "overall deadline of 1 s (--deadline)",
                &format!("for {} to finish its answer", fake.host()),
            ],
        );
    }
}
