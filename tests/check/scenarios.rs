//! One scenario per read path: compliant, throttling, 5xx, pagination, app ID,
//! missing vault/key, 401/403 per call, garbage, slow, probe, --from-deployment.

use super::cli::{check, check_sp, run_raw, target_args};
use super::fake::*;
use serde_json::json;
use std::time::Duration;

fn kinds(out: &super::cli::Out, kind: &str) -> Vec<serde_json::Value> {
    out.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn compliant_deployment_reads_everything_once() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    let vaults = kinds(&out, "vault");
    assert_eq!(vaults.len(), 1);
    assert_eq!(vaults[0]["origin"]["azure"], vault_id());
    assert_eq!(
        vaults[0]["body"]["properties"]["enablePurgeProtection"],
        true
    );
    let keys = kinds(&out, "key");
    assert_eq!(keys[0]["name"], format!("{VAULT}/{KEY}"));
    // ARM's key lacked a rotation policy, so the data plane's was filled in.
    assert_eq!(
        keys[0]["body"]["properties"]["rotationPolicy"]["lifetimeActions"][0]["action"]["type"],
        "Rotate"
    );
    assert_eq!(kinds(&out, "roleAssignment").len(), 2);
    assert_eq!(
        j["roleNames"][ROLE_CSEU],
        "Key Vault Crypto Service Encryption User"
    );
    assert_eq!(j["principal"]["objectId"], SP_OBJECT);
    assert_eq!(j["problems"], json!([]));
    assert!(j["probe"].is_null());
    // One token per API, every call authorised and versioned.
    assert_eq!(fake.token_requests(), 3);
    for r in fake.seen() {
        if r.path.contains("oauth2") {
            continue;
        }
        assert!(r.authorized, "{r:?}");
        assert!(r.method == "GET", "{r:?}");
        if !r.path.starts_with("/v1.0/") {
            assert!(r.query.iter().any(|(k, _)| k == "api-version"), "{r:?}");
        }
        assert!(!r.path.contains("//"), "{r:?}");
    }
    let ra = fake
        .seen()
        .into_iter()
        .find(|r| r.path.ends_with("roleAssignments"))
        .unwrap();
    assert!(ra.query.contains(&("$filter".into(), "atScope()".into())));
}

#[test]
fn throttling_is_retried_after_retry_after() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let vault = vault_body(&dir);
    fake.route(
        &vault_id(),
        vec![
            Canned::error(429, "TooManyRequests").header("Retry-After", "1"),
            Canned::ok(vault),
        ],
    );
    let t = std::time::Instant::now();
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.count(&format!("vaults/{VAULT}")), 2);
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "Retry-After not honoured"
    );
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let key = key_body(&dir);
    fake.route(
        &key_id(),
        vec![
            Canned::error(503, "ServiceUnavailable"),
            Canned::error(500, "InternalServerError"),
            Canned::ok(key),
        ],
    );
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.count(&format!("keys/{KEY}")), 3);
    assert_eq!(kinds(&out, "key").len(), 1);
}

#[test]
fn persistent_server_errors_end_with_exit_3_naming_the_call() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &vault_id(),
        vec![Canned::error(503, "ServiceUnavailable").header("Retry-After", "0")],
    );
    let out = check(&fake, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("reading vault 'sample-vault'"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("503 after retries"), "{}", out.stderr);
    // Bounded: the first attempt plus four retries.
    assert_eq!(fake.count(&format!("vaults/{VAULT}")), 5);
}

#[test]
fn role_assignments_follow_next_link() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let next = format!(
        "{}{}?api-version=2022-04-01&$filter=atScope()&$skiptoken=page2",
        fake.url.trim_end_matches('/'),
        ra_path()
    );
    let page1 = json!({"value": [assignment(&dir, "a1", ROLE_CSEU, SP_OBJECT, &key_id())],
                       "nextLink": next});
    // Inherited from the subscription: still applies to the key.
    let page2 = json!({"value": [
        assignment(&dir, "a2", ROLE_OFFICER, OFFICER, &format!("/subscriptions/{SUB}")),
    ]});
    fake.route(&ra_path(), vec![Canned::ok(page1)]);
    fake.route(&format!("{}#page2", ra_path()), vec![Canned::ok(page2)]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let names: Vec<_> = kinds(&out, "roleAssignment")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a1", "a2"]);
}

#[test]
fn next_link_to_another_host_is_refused() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &ra_path(),
        vec![Canned::ok(
            json!({"value": [], "nextLink": "https://evil.example.com/page2"}),
        )],
    );
    let out = check(&fake, &[]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("refusing to send the token"),
        "{}",
        out.stderr
    );
}

#[test]
fn application_id_instead_of_object_id_names_the_object_id() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = check_sp(&fake, SP_APP, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p = out.problems("principal-is-app-id");
    assert_eq!(p.len(), 1, "{}", out.stdout);
    assert_eq!(p[0]["object_id"], SP_OBJECT);
    let msg = p[0]["message"].as_str().unwrap();
    assert!(msg.contains(SP_APP) && msg.contains(SP_OBJECT), "{msg}");
}

#[test]
fn unknown_principal_is_reported() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = check_sp(&fake, "99999999-9999-4999-8999-999999999999", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.problems("principal-missing").len(), 1, "{}", out.stdout);
}

#[test]
fn missing_vault_is_a_problem_not_a_failure() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&vault_id(), vec![Canned::error(404, "ResourceNotFound")]);
    fake.route(&key_id(), vec![Canned::error(404, "ResourceNotFound")]);
    fake.route(&ra_path(), vec![Canned::error(404, "ResourceNotFound")]);
    let out = check(&fake, &["--probe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p = out.problems("vault-missing");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["resource"], vault_id());
    assert!(out.problems("key-missing").is_empty());
    assert!(kinds(&out, "vault").is_empty() && kinds(&out, "key").is_empty());
    // A missing key is not probed: CMK019 already says why it cannot be used.
    assert!(out.json()["probe"].is_null());
    assert_eq!(fake.count("/wrapkey"), 0);
}

#[test]
fn missing_key_is_a_problem() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&key_id(), vec![Canned::error(404, "ResourceNotFound")]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.problems("key-missing")[0]["resource"], key_id());
    assert_eq!(kinds(&out, "vault").len(), 1);
}

#[test]
fn forbidden_on_arm_reads_exits_3_with_the_missing_permission() {
    let Some(dir) = corpus() else { return };
    for (path, call, needs) in [
        (vault_id(), "reading vault", "Reader"),
        (
            key_id(),
            "reading key",
            "Microsoft.KeyVault/vaults/keys/read",
        ),
        (
            ra_path(),
            "listing role assignments",
            "roleAssignments/read",
        ),
    ] {
        let fake = compliant(&dir);
        fake.route(&path, vec![Canned::error(403, "AuthorizationFailed")]);
        let out = check(&fake, &[]);
        assert_eq!(out.code, 3, "{path}: {}", out.stderr);
        assert!(out.stderr.contains(call), "{}", out.stderr);
        assert!(out.stderr.contains("403 Forbidden"), "{}", out.stderr);
        assert!(out.stderr.contains(needs), "{}", out.stderr);
        assert!(out.stderr.contains("AuthorizationFailed"), "{}", out.stderr);
    }
}

#[test]
fn forbidden_on_optional_reads_degrades_to_unknown() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&rotation_path(), vec![Canned::error(403, "Forbidden")]);
    fake.route(
        &sp_path(SP_OBJECT),
        vec![Canned::error(403, "Authorization_RequestDenied")],
    );
    fake.route(
        &role_def_path(ROLE_CSEU),
        vec![Canned::error(403, "AuthorizationFailed")],
    );
    fake.wrap_status(403);
    let out = check(&fake, &["--probe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    let unknown = out.problems("unknown");
    let rules: Vec<_> = unknown
        .iter()
        .map(|p| p["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["CMK009", "CMK010"], "{}", out.stdout);
    assert!(unknown[0]["message"]
        .as_str()
        .unwrap()
        .contains("Key Vault Reader"));
    assert!(unknown[1]["message"]
        .as_str()
        .unwrap()
        .contains("Application.Read.All"));
    let key = &kinds(&out, "key")[0];
    assert!(
        key["body"]["properties"]["rotationPolicy"]["$unknown"].is_string(),
        "{key}"
    );
    // A hidden role definition only costs its name.
    assert!(j["roleNames"].get(ROLE_CSEU).is_none());
    assert_eq!(j["roleNames"][ROLE_OFFICER], "Key Vault Crypto Officer");
    assert_eq!(j["probe"]["outcome"], "unknown");
    assert!(j["probe"]["reason"]
        .as_str()
        .unwrap()
        .contains("Crypto Service Encryption User"));
}

#[test]
fn unauthorized_arm_exits_3_about_credentials() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &vault_id(),
        vec![Canned::error(401, "InvalidAuthenticationToken")],
    );
    let out = check(&fake, &[]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("401 Unauthorized"), "{}", out.stderr);
    assert!(out.stderr.contains("AZURE_CLIENT_SECRET"), "{}", out.stderr);
}

#[test]
fn rejected_client_secret_exits_3_before_any_read() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // A tenant the fake does not know: the token request is refused.
    let out = run_raw(
        &fake,
        &target_args(&fake.url, &["--show-state"]),
        Some(&format!("{}wrong-authority/", fake.url)),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("could not get a token"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.count(&format!("vaults/{VAULT}")), 0);
}

#[test]
fn garbage_json_exits_3() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&vault_id(), vec![Canned::garbage()]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);
    // Valid JSON of the wrong shape never panics either.
    let fake = compliant(&dir);
    fake.route(&ra_path(), vec![Canned::ok(json!({"value": 7}))]);
    fake.route(&key_id(), vec![Canned::ok(json!([1, 2]))]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn slow_response_times_out_naming_the_host() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let vault = vault_body(&dir);
    fake.route(
        &vault_id(),
        vec![Canned::ok(vault).slow(Duration::from_secs(3))],
    );
    let mut args: Vec<&str> = Vec::new();
    args.extend(["--timeout", "0.5"]);
    let out = run_raw(
        &fake,
        &target_args(
            &fake.url,
            &[
                "--show-state",
                "--vault-endpoint",
                &fake.url,
                "--timeout",
                "0.5",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("did not answer within 0.5 s"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("127.0.0.1"), "{}", out.stderr);
}

#[test]
fn probe_round_trip_passes() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = check(&fake, &["--probe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["probe"], json!({"outcome": "pass"}));
    assert_eq!(fake.count("/wrapkey"), 1);
    assert_eq!(fake.count("/unwrapkey"), 1);
    let posts = fake
        .seen()
        .into_iter()
        .filter(|r| r.method == "POST" && !r.path.contains("oauth2"))
        .count();
    assert_eq!(posts, 2, "check writes nothing but the probe");
}

#[test]
fn probe_mismatch_fails() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.unwrap_mismatch();
    let out = check(&fake, &["--probe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["probe"]["outcome"], "fail");
}

#[test]
fn from_deployment_takes_names_from_outputs() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &deployment_path("cmek"),
        vec![Canned::ok(json!({"name": "cmek", "properties": {"outputs": {
            "vaultName": {"type": "String", "value": VAULT},
            "keyUri": {"type": "String", "value": format!("https://{VAULT}.vault.azure.net/keys/{KEY}")}
        }}}))],
    );
    let args = [
        "check",
        "--show-state",
        "--subscription",
        SUB,
        "--resource-group",
        RG,
        "--from-deployment",
        "cmek",
        "--auth",
        "env",
        "--arm-endpoint",
        &fake.url,
        "--vault-endpoint",
        &fake.url,
    ];
    let out = run_raw(&fake, &args, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["key"], KEY);
    assert_eq!(kinds(&out, "key").len(), 1);
    // Outputs that are not names never reach a URL.
    fake.route(
        &deployment_path("evil"),
        vec![Canned::ok(json!({"properties": {"outputs": {
            "vaultName": {"type": "String", "value": "../../x"},
            "keyName": {"type": "String", "value": KEY}
        }}}))],
    );
    let mut evil = args.to_vec();
    evil[7] = "evil";
    let out = run_raw(&fake, &evil, None);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("not a valid Key Vault name"),
        "{}",
        out.stderr
    );
    // Unknown deployment: exit 3 naming it.
    let mut args = args.to_vec();
    args[7] = "nope";
    let out = run_raw(&fake, &args, None);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("no deployment named 'nope'"),
        "{}",
        out.stderr
    );
}

#[test]
fn non_loopback_http_is_refused_before_any_request() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = check(&fake, &["--arm-endpoint", "http://10.0.0.1/"]);
    // clap refuses the duplicate flag, or the URL rule does: usage error either way.
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = run_raw(
        &fake,
        &target_args("http://10.0.0.1/", &["--show-state"]),
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--arm-endpoint") && out.stderr.contains("loopback"),
        "{}",
        out.stderr
    );
    let out = run_raw(
        &fake,
        &target_args(&fake.url, &["--show-state"]),
        Some("http://169.254.169.254/"),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("AZURE_AUTHORITY_HOST"),
        "{}",
        out.stderr
    );
    assert!(fake.seen().is_empty());
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    for (flag, value) in [
        ("--timeout", "0"),
        ("--cloud", "mars"),
        ("--auth", "password"),
        ("--officer-object-id", "bob"),
        ("--ignore", "CMK999"),
    ] {
        let out = check(&fake, &[flag, value]);
        assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{flag}: {}", out.stderr);
    }
    let out = check_sp(&fake, "not-a-guid", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--sp-object-id"), "{}", out.stderr);
    assert!(fake.seen().is_empty());
}

#[test]
fn unreachable_host_exits_3_naming_it() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let arm = format!("http://127.0.0.1:{port}/");
    let out = run_raw(
        &fake,
        &target_args(&arm, &["--show-state", "--vault-endpoint", &fake.url]),
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("could not reach 127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_key_with_404_role_listing_is_still_a_problem() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&key_id(), vec![Canned::error(404, "ResourceNotFound")]);
    fake.route(&ra_path(), vec![Canned::error(404, "ResourceNotFound")]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.problems("key-missing").len(), 1);
    assert!(kinds(&out, "roleAssignment").is_empty());
}

#[test]
fn auth_default_uses_the_environment_when_it_is_configured() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = run_raw(
        &fake,
        &[
            "check",
            "--show-state",
            "--subscription",
            SUB,
            "--resource-group",
            RG,
            "--vault",
            VAULT,
            "--key",
            KEY,
            "--arm-endpoint",
            &fake.url,
            "--vault-endpoint",
            &fake.url,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The environment credential got the tokens from the fake's token endpoint.
    assert!(fake.token_requests() >= 1);
}

#[test]
fn rotation_policy_from_arm_wins_over_the_data_plane() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let mut key = key_body(&dir);
    key["properties"]["rotationPolicy"] = json!({
        "attributes": {"expiryTime": "P1Y"},
        "lifetimeActions": [{"trigger": {"timeAfterCreate": "P11M"}, "action": {"type": "rotate"}}]
    });
    fake.route(&key_id(), vec![Canned::ok(key)]);
    // Had the data plane been used, this 403 would make the policy unknown.
    fake.route(&rotation_path(), vec![Canned::error(403, "Forbidden")]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.problems("unknown").is_empty(), "{}", out.stdout);
    let policy = &kinds(&out, "key")[0]["body"]["properties"]["rotationPolicy"];
    assert_eq!(policy["lifetimeActions"][0]["action"]["type"], "rotate");
    assert_eq!(policy["attributes"]["expiryTime"], "P1Y");
}

#[test]
fn key_without_rotation_policy_is_null_not_unknown() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&rotation_path(), vec![Canned::error(404, "KeyNotFound")]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.problems("unknown").is_empty(), "{}", out.stdout);
    assert!(kinds(&out, "key")[0]["body"]["properties"]["rotationPolicy"].is_null());
}
