//! Answers no Azure API gives, as a hostile server or a broken proxy would: every
//! one ends check with exit 3 naming the call, never with a finding about an
//! object Azure did not send, a follow-up request elsewhere, a large allocation
//! or a hang (issue 10).

use super::cli::{check, check_sp, run_raw, target_args, Out};
use super::fake::*;
use cmek_arm::azure::http::MAX_BODY;
use serde_json::json;
use std::time::Duration;

fn exit_3_naming(out: &Out, parts: &[&str]) {
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    // Nothing was checked, so nothing is reported.
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    for p in parts {
        assert!(
            out.stderr.contains(p),
            "{p:?} missing from:\n{}",
            out.stderr
        );
    }
}

/// The number in "... (N bytes ..." after `marker` in `text`.
fn bytes_after(text: &str, marker: &str) -> u64 {
    let rest = &text[text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {text}"))
        + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {marker}: {text}"))
}

#[test]
fn oversized_streamed_body_is_cut_at_the_cap() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // Four times the cap, chunked: only counting the bytes can stop the reader.
    fake.route(&key_id(), vec![Canned::streamed(4 * MAX_BODY as u64)]);
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            &format!("reading key '{KEY}'"),
            &format!("GET {}{}", fake.url.trim_end_matches('/'), key_id()),
            &format!("cap of {MAX_BODY} bytes (16.0 MiB)"),
            "reading stopped at ",
        ],
    );
    // Reading stopped within one network chunk of the cap.
    let seen = bytes_after(&out.stderr, "reading stopped at ");
    assert!(
        seen > MAX_BODY as u64 && seen <= MAX_BODY as u64 + (1 << 20),
        "{seen}"
    );
    // An unusable answer is not retried.
    assert_eq!(fake.count(&format!("keys/{KEY}")), 1);
}

#[test]
fn oversized_announced_body_is_refused_before_reading() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&vault_id(), vec![Canned::announced(512 << 20)]);
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            "announced 536870912 bytes (512.0 MiB)",
        ],
    );
}

#[test]
fn oversized_answers_on_optional_reads_still_stop_check() {
    let Some(dir) = corpus() else { return };
    // Reads whose refusal (403) only makes a rule undecided: an untrustworthy
    // answer is not a refusal, so it is exit 3 too.
    for (path, call) in [
        (sp_path(SP_OBJECT), "looking up the vendor principal"),
        (rotation_path(), "reading the rotation policy"),
        (format!("/subscriptions/{SUB}"), "reading the subscription"),
    ] {
        let fake = compliant(&dir);
        fake.route(&path, vec![Canned::streamed(2 * MAX_BODY as u64)]);
        let out = check(&fake, &[]);
        exit_3_naming(&out, &[call, "cap of"]);
    }
}

#[test]
fn json_with_millions_of_values_is_refused_before_parsing() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // Within the byte cap, but ~80 bytes of memory per two bytes sent once parsed.
    let mut body = String::from("{\"id\":[");
    body.push_str(&"0,".repeat(3_000_000));
    body.push_str("0]}");
    assert!(body.len() < MAX_BODY);
    let mut c = Canned::ok(json!(null));
    c.body = body;
    fake.route(&vault_id(), vec![c]);
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            "more than 500000 JSON values",
        ],
    );
}

#[test]
fn redirect_to_another_origin_is_never_followed() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // What the issue saw: another origin answering for the vault.
    let other = Fake::start();
    other.route(&vault_id(), vec![Canned::ok(json!({"value": []}))]);
    let target = format!(
        "{}{}?api-version=2025-05-01",
        other.url.trim_end_matches('/'),
        vault_id()
    );
    fake.route(&vault_id(), vec![Canned::redirect(307, &target)]);
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            &format!("GET {}{}", fake.url.trim_end_matches('/'), vault_id()),
            "redirect (HTTP 307)",
            &format!("to {}", other.host()),
        ],
    );
    // Nothing at all (so no token) went to the redirect's target.
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(fake.count(&format!("vaults/{VAULT}")), 1);

    // Same origin or not, a redirect is not an answer from an Azure API.
    let fake = compliant(&dir);
    fake.route(&ra_path(), vec![Canned::redirect(302, "/elsewhere")]);
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            "listing role assignments",
            &format!("redirect (HTTP 302) to {}", fake.host()),
        ],
    );
    assert_eq!(fake.count("/elsewhere"), 0);
}

#[test]
fn redirect_on_an_optional_read_stops_check() {
    let Some(dir) = corpus() else { return };
    let other = Fake::start();
    for (path, call) in [
        (sp_path(SP_OBJECT), "looking up the vendor principal"),
        (rotation_path(), "reading the rotation policy"),
    ] {
        let fake = compliant(&dir);
        fake.route(&path, vec![Canned::redirect(308, &other.url)]);
        let out = check(&fake, &[]);
        exit_3_naming(&out, &[call, "redirect (HTTP 308)", &other.host()]);
    }
    assert!(other.seen().is_empty(), "{:?}", other.seen());
}

#[test]
fn token_request_redirect_never_reposts_the_secret() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // The configured authority answers the token POST with a 307 to the fake's
    // own token endpoint, which would hand out a token for the re-posted secret.
    let authority = Fake::start();
    authority.redirect_all(&fake.url);
    let out = run_raw(
        &fake,
        &target_args(&fake.url, &["--show-state"]),
        Some(&authority.url),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    for part in [
        "could not get a token",
        &format!("redirect (HTTP 307) to {}", fake.host()),
    ] {
        assert!(out.stderr.contains(part), "{part}: {}", out.stderr);
    }
    assert!(authority.token_requests() == 0 && !authority.seen().is_empty());
    assert_eq!(fake.token_requests(), 0, "the secret was re-posted");
    assert!(fake.seen().is_empty(), "{:?}", fake.seen());
}

#[test]
fn vault_or_key_that_is_not_the_one_asked_for_is_unusable() {
    let Some(dir) = corpus() else { return };
    let other_vault = vault_id().replace(VAULT, "someone-elses-vault");
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        // Another vault, e.g. a proxy's cache keyed wrongly.
        (
            "vault",
            {
                let mut v = vault_body(&dir);
                v["id"] = json!(other_vault);
                v
            },
            "someone-elses-vault",
        ),
        // The right ID, another resource type.
        (
            "vault",
            {
                let mut v = vault_body(&dir);
                v["type"] = json!("Microsoft.KeyVault/managedHSMs");
                v
            },
            "type 'Microsoft.KeyVault/managedHSMs'",
        ),
        // A list where one resource was asked for (the issue's redirect target).
        ("vault", json!({"value": []}), "an object without an 'id'"),
        ("key", json!([1, 2]), "JSON that is not an object"),
        (
            "key",
            {
                let mut k = key_body(&dir);
                k["id"] = json!(format!("{}/keys/other-key", vault_id()));
                k
            },
            "other-key",
        ),
        (
            "key",
            {
                let mut k = key_body(&dir);
                k.as_object_mut().unwrap().remove("properties");
                k
            },
            "without 'properties'",
        ),
    ];
    for (what, body, expect) in cases {
        let fake = compliant(&dir);
        let (path, call) = match what {
            "vault" => (vault_id(), format!("reading vault '{VAULT}'")),
            _ => (key_id(), format!("reading key '{KEY}'")),
        };
        fake.route(&path, vec![Canned::ok(body)]);
        // The report, not --show-state: no finding may come out of it.
        let out = super::cli::report(&fake, &["--format", "json"]);
        exit_3_naming(&out, &[&call, expect, &path, "is not Azure"]);
    }
    // IDs compare case-insensitively, as ARM's do.
    let fake = compliant(&dir);
    let mut v = vault_body(&dir);
    v["id"] = json!(vault_id().to_ascii_uppercase());
    v["type"] = json!("microsoft.keyvault/VAULTS");
    fake.route(&vault_id(), vec![Canned::ok(v)]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn role_assignments_outside_the_key_scope_make_the_list_unusable() {
    let Some(dir) = corpus() else { return };
    let sibling = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/other"
    );
    let mut not_an_assignment = assignment(&dir, "a9", ROLE_CSEU, SP_OBJECT, &key_id());
    not_an_assignment["type"] = json!("Microsoft.Authorization/denyAssignments");
    let mut no_scope = assignment(&dir, "a8", ROLE_CSEU, SP_OBJECT, &key_id());
    no_scope["properties"]
        .as_object_mut()
        .unwrap()
        .remove("scope");
    for (item, expect) in [
        // Another vault: atScope() never lists it for our key.
        (
            assignment(&dir, "a3", ROLE_CSEU, SP_OBJECT, &sibling),
            format!("a role assignment at scope '{sibling}'"),
        ),
        (
            not_an_assignment,
            "that is not a role assignment".to_string(),
        ),
        (no_scope, "that is not a role assignment".to_string()),
        (
            json!("a string"),
            "an item that is not a role assignment".to_string(),
        ),
    ] {
        let fake = compliant(&dir);
        let good = assignment(&dir, "a1", ROLE_CSEU, SP_OBJECT, &key_id());
        fake.route(&ra_path(), vec![Canned::ok(json!({"value": [good, item]}))]);
        let out = check(&fake, &[]);
        exit_3_naming(&out, &["listing role assignments", &expect]);
    }
    // Inherited assignments are at or above the key: the vault, the resource
    // group, the subscription, a management group and the root are kept.
    let fake = compliant(&dir);
    let scopes = [
        key_id(),
        vault_id(),
        format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
        format!("/subscriptions/{SUB}"),
        "/providers/Microsoft.Management/managementGroups/contoso-root".to_string(),
        "/".to_string(),
    ];
    let items: Vec<_> = scopes
        .iter()
        .enumerate()
        .map(|(i, s)| assignment(&dir, &format!("a{i}"), ROLE_CSEU, SP_OBJECT, s))
        .collect();
    fake.route(&ra_path(), vec![Canned::ok(json!({"value": items}))]);
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let kept = out.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "roleAssignment")
        .count();
    assert_eq!(kept, scopes.len());
}

#[test]
fn graph_answer_about_another_principal_is_unusable() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &sp_path(SP_OBJECT),
        vec![Canned::ok(
            json!({"id": OFFICER, "appId": SP_APP, "displayName": "someone"}),
        )],
    );
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            "looking up the vendor principal",
            &format!("the object with id '{OFFICER}'"),
            SP_OBJECT,
        ],
    );
    // By application ID: the answer must carry that appId.
    let fake = compliant(&dir);
    fake.route(
        &sp_app_path(SP_APP),
        vec![Canned::ok(
            json!({"id": SP_OBJECT, "appId": OFFICER, "displayName": "x"}),
        )],
    );
    let out = check_sp(&fake, SP_APP, &[]);
    exit_3_naming(&out, &[&format!("the object with appId '{OFFICER}'")]);
}

#[test]
fn another_subscriptions_tenant_is_not_taken() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &format!("/subscriptions/{SUB}"),
        vec![Canned::ok(json!({
            "id": "/subscriptions/99999999-9999-4999-8999-999999999999",
            "subscriptionId": "99999999-9999-4999-8999-999999999999",
            "tenantId": TENANT
        }))],
    );
    let out = check(&fake, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // CMK016 then asks for --tenant-id rather than trust it.
    assert!(out.json()["tenantId"].is_null(), "{}", out.stdout);
}

/// `check` with the data plane and Graph on the fake and `extra` flags, no `--show-state`
/// needed: these runs end with exit 3.
fn run_with_flags(fake: &Fake, extra: &[&str]) -> Out {
    let mut flags = vec!["--show-state", "--vault-endpoint", &fake.url];
    flags.extend_from_slice(extra);
    run_raw(fake, &target_args(&fake.url, &flags), None)
}

#[test]
fn trickling_body_is_cut_by_the_request_timeout() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // Headers at once, then a byte every 50 ms for 100 s.
    fake.route(
        &vault_id(),
        vec![Canned::trickle(Duration::from_millis(50), 2000)],
    );
    let out = run_with_flags(&fake, &["--timeout", "0.5"]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            &format!(
                "{} did not finish sending its answer within 0.5 s (--timeout;",
                fake.host()
            ),
            "bytes of the body received",
        ],
    );
    // Headers came at once; of the body, only what trickled in before the cut.
    let got = bytes_after(&out.stderr, "(--timeout; ");
    assert!(got < 20, "{got}: {}", out.stderr);
    // A timeout is not retried: that would multiply the user's bound.
    assert_eq!(fake.count(&format!("vaults/{VAULT}")), 1);
}

#[test]
fn trickling_body_is_cut_by_the_deadline() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(
        &key_id(),
        vec![Canned::trickle(Duration::from_millis(50), 2000)],
    );
    // Each request may take 20 s, the whole check 1 s.
    let out = run_with_flags(&fake, &["--timeout", "20", "--deadline", "1"]);
    exit_3_naming(
        &out,
        &[
            &format!("reading key '{KEY}'"),
            &format!("GET {}{}", fake.url.trim_end_matches('/'), key_id()),
            "overall deadline of 1 s (--deadline)",
            &format!("for {} to finish its answer", fake.host()),
        ],
    );
}

#[test]
fn retries_end_at_the_deadline() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // Throttled with a wait longer than what is left of the deadline.
    fake.route(
        &vault_id(),
        vec![Canned::error(429, "TooManyRequests").header("Retry-After", "5")],
    );
    let out = run_with_flags(&fake, &["--timeout", "5", "--deadline", "1"]);
    exit_3_naming(
        &out,
        &[
            &format!("reading vault '{VAULT}'"),
            "overall deadline of 1 s (--deadline)",
            "to retry after HTTP 429",
        ],
    );
    // The retry that could not finish in time was never started.
    assert_eq!(fake.count(&format!("vaults/{VAULT}")), 1);
}

#[test]
fn slow_token_endpoint_is_cut_by_the_deadline() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let authority = Fake::start();
    authority.latency(Duration::from_secs(3));
    let out = run_raw(
        &fake,
        &target_args(
            &fake.url,
            &["--show-state", "--timeout", "10", "--deadline", "0.5"],
        ),
        Some(&authority.url),
    );
    exit_3_naming(
        &out,
        &[
            "the token request for Azure Resource Manager",
            "overall deadline of 0.5 s (--deadline)",
        ],
    );
    assert!(fake.seen().is_empty());
}

/// No control character a server sent reaches the terminal, and no server text
/// longer than a line or two.
pub fn assert_quoted_safely(stderr: &str) {
    assert!(
        !stderr.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in:\n{stderr:?}"
    );
    assert!(stderr.len() < 2_000, "{} bytes:\n{stderr}", stderr.len());
}

#[test]
fn server_text_in_messages_is_bounded_and_escaped() {
    let Some(dir) = corpus() else { return };
    // A nextLink that is no URL: an escape sequence that clears the screen, then 10,000 bytes.
    let fake = compliant(&dir);
    let next = format!("\u{1b}[2J\u{1b}[31m{}", "A".repeat(10_000));
    fake.route(
        &ra_path(),
        vec![Canned::ok(json!({"value": [], "nextLink": next}))],
    );
    let out = check(&fake, &[]);
    exit_3_naming(&out, &["listing role assignments", "nextLink '\\u{1b}[2J"]);
    assert_quoted_safely(&out.stderr);

    // An error body whose message rewrites the terminal title and floods it.
    let fake = compliant(&dir);
    let mut c = Canned::error(400, "BadRequest");
    c.body = json!({"error": {"code": "Bad\u{7}Request",
        "message": format!("\u{1b}]0;owned\u{7}\r{}", "B".repeat(10_000))}})
    .to_string();
    fake.route(&vault_id(), vec![c]);
    let out = check(&fake, &[]);
    exit_3_naming(
        &out,
        &[
            "failed with HTTP 400 (Bad\\u{7}Request: \\u{1b}]0;owned\\u{7}\\r",
            "…)",
        ],
    );
    assert_quoted_safely(&out.stderr);

    // A foreign ID in a role assignment list.
    let fake = compliant(&dir);
    let mut item = assignment(&dir, "a1", ROLE_CSEU, SP_OBJECT, &key_id());
    item["properties"]["scope"] = json!(format!("/elsewhere\u{1b}[8m{}", "C".repeat(10_000)));
    fake.route(&ra_path(), vec![Canned::ok(json!({"value": [item]}))]);
    let out = check(&fake, &[]);
    exit_3_naming(&out, &["a role assignment at scope '/elsewhere\\u{1b}[8m"]);
    assert_quoted_safely(&out.stderr);
}

/// A page of a list at `path` (ARM's shape) holding `items`, whose nextLink is
/// page `next` of the same list on `fake`.
pub fn page_of(
    fake: &Fake,
    path: &str,
    items: Vec<serde_json::Value>,
    next: Option<u32>,
) -> Canned {
    let mut page = json!({ "value": items });
    if let Some(n) = next {
        page["nextLink"] = json!(format!(
            "{}{path}?api-version={}&$skiptoken={n}",
            fake.url.trim_end_matches('/'),
            api_version_for(path).unwrap_or("2022-04-01")
        ));
    }
    Canned::ok(page)
}

/// One real role assignment made fat by fields no rule reads: a 9 MiB
/// description, or 300,000 JSON values.
pub fn fat_assignment(dir: &std::path::Path, scope: &str, by_values: bool) -> serde_json::Value {
    let mut a = assignment(
        dir,
        "0b5fe924-0000-4000-8000-00000000fa7a",
        ROLE_CSEU,
        SP_OBJECT,
        scope,
    );
    if by_values {
        a["properties"]["extra"] = json!(vec![0; 300_000]);
    } else {
        a["properties"]["description"] = json!("x".repeat(9 << 20));
    }
    a
}

#[test]
fn a_list_has_one_budget_for_all_its_pages() {
    let Some(dir) = corpus() else { return };
    // Each page is within the caps on one answer; two together are not.
    for (by_values, expect) in [
        (
            false,
            "over the cap of 16777216 bytes (16.0 MiB) on one list",
        ),
        (true, "more than 500000 JSON values, the cap on one list"),
    ] {
        let fake = compliant(&dir);
        let fat = fat_assignment(&dir, &key_id(), by_values);
        fake.route(
            &ra_path(),
            vec![page_of(&fake, &ra_path(), vec![fat.clone()], Some(2))],
        );
        fake.route(
            &format!("{}#2", ra_path()),
            vec![page_of(&fake, &ra_path(), vec![fat], Some(3))],
        );
        let out = check(&fake, &[]);
        exit_3_naming(
            &out,
            &["listing role assignments: its 2 pages up to GET", expect],
        );
        assert_eq!(fake.count(&ra_path()), 2, "no third page was asked for");
    }
}

#[test]
fn an_endless_next_link_ends_at_the_page_bound() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // Every page points to itself.
    let good = assignment(&dir, "a1", ROLE_CSEU, SP_OBJECT, &key_id());
    fake.route(
        &ra_path(),
        vec![page_of(&fake, &ra_path(), vec![good.clone()], Some(1))],
    );
    fake.route(
        &format!("{}#1", ra_path()),
        vec![page_of(&fake, &ra_path(), vec![good], Some(1))],
    );
    let out = check(&fake, &[]);
    exit_3_naming(&out, &["listing role assignments: more than 200 pages"]);
    assert_eq!(
        fake.count(&ra_path()),
        200,
        "the first page and 199 more, no 201st"
    );
}

#[test]
fn role_names_are_read_for_a_bounded_number_of_roles() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    // The good assignment and 100 more, each of a role of its own: names
    // serve messages only, so no more than MAX_ROLE_NAMES definitions are read.
    let mut items = vec![assignment(&dir, "good", ROLE_CSEU, SP_OBJECT, &key_id())];
    for i in 0..100 {
        let role = format!("00000000-0000-4000-8000-{i:012}");
        items.push(assignment(
            &dir,
            &format!("a{i}"),
            &role,
            SP_OBJECT,
            &key_id(),
        ));
    }
    fake.route(&ra_path(), vec![page_of(&fake, &ra_path(), items, None)]);
    let out = check(&fake, &[]);
    assert!(out.code <= 1, "{}\n{}", out.stdout, out.stderr);
    let reads = fake
        .seen()
        .iter()
        .filter(|r| r.path.to_ascii_lowercase().contains("/roledefinitions/"))
        .count();
    let max = cmek_arm::azure::reader::MAX_ROLE_NAMES;
    assert!(reads > 0 && reads <= max, "{reads} role definitions read");
}
