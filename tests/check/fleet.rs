//! `check --key-uri` / `--key-uris`: the vendor's data-plane view of a fleet,
//! against fake vaults (one port each) in two tenants and a fake login endpoint.
//! Each vault names its tenant in Key Vault's 401 challenge and accepts only
//! that tenant's token.

use super::cli::{assert_no_secrets, Out};
use super::fake::*;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// The vendor's environment: its application (client ID and secret, or a
/// federated token file), the login fake as the authority; no tenant.
fn command(login: &Fake, args: &[&str], federated: Option<&std::path::Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cmek-arm"));
    cmd.arg("check")
        .args(args)
        .env_clear()
        .env("AZURE_CLIENT_ID", CLIENT)
        .env("AZURE_AUTHORITY_HOST", &login.url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("RUST_LOG", "trace");
    match federated {
        Some(path) => cmd.env("AZURE_FEDERATED_TOKEN_FILE", path),
        None => cmd.env("AZURE_CLIENT_SECRET", SECRET),
    };
    cmd
}

fn vendor(login: &Fake, args: &[&str]) -> Out {
    run(command(login, args, None))
}

fn run(mut cmd: Command) -> Out {
    let out = cmd.output().unwrap();
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_secrets(&out);
    out
}

/// `--format jsonl`'s lines, by URI.
fn lines(out: &Out) -> BTreeMap<String, Json> {
    out.stdout
        .lines()
        .map(|l| {
            let j: Json = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr: {}", out.stderr));
            (j["uri"].as_str().unwrap().to_string(), j)
        })
        .collect()
}

/// (rule, level) of a line's findings.
fn rules(line: &Json) -> BTreeSet<(String, String)> {
    line["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(r, l)| (r.to_string(), l.to_string()))
        .collect()
}

#[test]
fn keys_in_two_tenants_get_one_tenant_lookup_per_vault_and_one_token_per_tenant() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let (a1, a2, b1) = (
        dp_vault(&login, TENANT),
        dp_vault(&login, TENANT),
        dp_vault(&login, TENANT_B),
    );
    let mut uris = Vec::new();
    for (v, names) in [
        (&a1, &["k1", "k2"][..]),
        (&a2, &["k1"]),
        (&b1, &["k1", "k2"]),
    ] {
        for n in names {
            dp_put(&dir, v, n, dp_bundle(&dir, v, n));
            uris.push(key_uri(v, n));
        }
    }
    let mut args = vec!["--format", "jsonl"];
    for u in &uris {
        args.extend(["--key-uri", u.as_str()]);
    }
    let out = vendor(&login, &args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // No progress line: stderr is not a terminal.
    assert_eq!(out.stderr, "");
    let got = lines(&out);
    assert_eq!(got.len(), 5);
    for u in &uris {
        let l = &got[u];
        assert_eq!(l["status"], "ok", "{l}");
        assert_eq!(l["findings"], json!([]), "{l}");
        assert_eq!(l["version"], 1);
        assert!(l["milliseconds"].as_u64().is_some(), "{l}");
        let tenant = if u.starts_with(&b1.url) {
            TENANT_B
        } else {
            TENANT
        };
        assert_eq!(l["tenant"], tenant, "{l}");
    }
    assert_eq!(login.token_requests_in(TENANT), 1);
    assert_eq!(login.token_requests_in(TENANT_B), 1);
    for v in [&a1, &a2, &b1] {
        // One request without a token per vault (the tenant lookup) ...
        assert_eq!(v.unauthenticated(), 1, "{:?}", v.seen());
        // ... then every key read, its rotation policy, wrapped and unwrapped.
        for r in v.seen().iter().filter(|r| r.authorized) {
            assert!(
                r.query.contains(&("api-version".into(), "7.5".into())),
                "{r:?}"
            );
        }
        assert!(v.writes().is_empty());
    }
    assert_eq!(a1.count("/wrapkey"), 2);
    assert_eq!(a1.count("/unwrapkey"), 2);
    assert_eq!(b1.count("/rotationpolicy"), 2);
}

/// How a case changes the compliant key bundle.
type Change = Box<dyn Fn(&mut Json)>;
/// The (rule, level) pairs a case must report.
type Expected = BTreeSet<(String, String)>;

#[test]
fn each_data_plane_rule_passes_and_fails() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let v = dp_vault(&login, TENANT);
    let far_past = 1_000_000_000; // 2001
    let small_n = azure_core::base64::encode_url_safe([0xc5u8; 128]); // 1024 bits
    let cases: Vec<(&str, Change, Expected)> = vec![
        ("ok-tidb", Box::new(|_| {}), set(&[])),
        (
            "purgeable-tidb",
            Box::new(|b| b["attributes"]["recoveryLevel"] = json!("Recoverable+Purgeable")),
            set(&[("CMK001", "error"), ("CMK014", "error")]),
        ),
        (
            "no-soft-delete-tidb",
            Box::new(|b| b["attributes"]["recoveryLevel"] = json!("Purgeable")),
            set(&[
                ("CMK001", "error"),
                ("CMK002", "error"),
                ("CMK014", "error"),
            ]),
        ),
        (
            "short-retention-tidb",
            Box::new(|b| {
                b["attributes"]["recoveryLevel"] = json!("CustomizedRecoverable");
                b["attributes"]["recoverableDays"] = json!(3);
            }),
            set(&[("CMK002", "error")]),
        ),
        (
            "customized-tidb",
            Box::new(|b| {
                b["attributes"]["recoveryLevel"] =
                    json!("CustomizedRecoverable+ProtectedSubscription");
                b["attributes"]["recoverableDays"] = json!(7);
            }),
            set(&[]),
        ),
        (
            "ec-tidb",
            Box::new(|b| {
                b["key"]["kty"] = json!("EC");
                b["key"]["crv"] = json!("P-256");
            }),
            set(&[("CMK005", "error")]),
        ),
        (
            "small-tidb",
            Box::new(move |b| b["key"]["n"] = json!(small_n)),
            set(&[("CMK005", "error")]),
        ),
        (
            "sign-only-tidb",
            Box::new(|b| b["key"]["key_ops"] = json!(["sign", "verify"])),
            set(&[("CMK006", "error")]),
        ),
        ("other-name", Box::new(|_| {}), set(&[("CMK007", "error")])),
        (
            "disabled-tidb",
            Box::new(|b| b["attributes"]["enabled"] = json!(false)),
            set(&[("CMK008", "error")]),
        ),
        (
            "expired-tidb",
            Box::new(move |b| b["attributes"]["exp"] = json!(far_past)),
            set(&[("CMK008", "error")]),
        ),
        (
            "no-rotation-tidb",
            Box::new(|_| {}),
            set(&[("CMK009", "warning")]),
        ),
        (
            "policy-hidden-tidb",
            Box::new(|_| {}),
            set(&[("CMK009", "note")]),
        ),
    ];
    let mut args = vec![
        "--format".to_string(),
        "jsonl".into(),
        "--key-suffix".into(),
        "tidb".into(),
    ];
    for (name, change, _) in &cases {
        let mut b = dp_bundle(&dir, &v, name);
        change(&mut b);
        dp_put(&dir, &v, name, b);
        args.extend(["--key-uri".into(), key_uri(&v, name)]);
    }
    v.route(
        "/keys/no-rotation-tidb/rotationpolicy",
        vec![Canned::ok(json!({"id": "x", "lifetimeActions": [
            {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
            "attributes": {"expiryTime": "P2Y"}}))],
    );
    // The vendor's role does not include rotationpolicy/read: a note, not a failure.
    v.route(
        "/keys/policy-hidden-tidb/rotationpolicy",
        vec![Canned::error(403, "Forbidden")],
    );
    // Deleted (or purged) key: CMK019; no probe of a key that is not there.
    args.extend(["--key-uri".into(), key_uri(&v, "gone-tidb")]);
    // The probe, on vaults of their own (the fake's wrap answers are per vault).
    let mismatch = dp_vault(&login, TENANT);
    mismatch.unwrap_mismatch();
    let refused = dp_vault(&login, TENANT);
    refused.wrap_status(400);
    for p in [&mismatch, &refused] {
        dp_put(&dir, p, "probe-tidb", dp_bundle(&dir, p, "probe-tidb"));
        args.extend(["--key-uri".into(), key_uri(p, "probe-tidb")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = vendor(&login, &args);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let got = lines(&out);
    for (name, _, want) in &cases {
        let l = &got[&key_uri(&v, name)];
        assert_eq!(&rules(l), want, "{name}: {l}");
        let status = if want.iter().any(|(_, level)| level == "error") {
            "findings"
        } else {
            "ok"
        };
        assert_eq!(l["status"], status, "{name}: {l}");
        for f in l["findings"].as_array().unwrap() {
            assert_eq!(f["resource"], key_uri(&v, name), "{f}");
        }
    }
    let gone = &got[&key_uri(&v, "gone-tidb")];
    assert_eq!(rules(gone), set(&[("CMK019", "error")]), "{gone}");
    assert_eq!(v.count("/gone-tidb/wrapkey"), 0);
    for p in [&mismatch, &refused] {
        let l = &got[&key_uri(p, "probe-tidb")];
        assert_eq!(rules(l), set(&[("CMK017", "error")]), "{l}");
    }
    // What the data plane cannot see is never reported: RBAC, region, role
    // assignments, network, tenant.
    for l in got.values() {
        for (rule, _) in rules(l) {
            assert!(
                !["CMK003", "CMK004", "CMK010", "CMK011", "CMK012", "CMK013", "CMK015", "CMK016"]
                    .contains(&rule.as_str()),
                "{l}"
            );
        }
    }
    // The messages say what the data plane read.
    let purgeable = &got[&key_uri(&v, "purgeable-tidb")]["findings"][0];
    assert_eq!(purgeable["rule"], "CMK001");
    assert!(
        purgeable["message"]
            .as_str()
            .unwrap()
            .ends_with("sets enablePurgeProtection to false (read from the key's recoveryLevel 'Recoverable+Purgeable')"),
        "{purgeable}"
    );

    // --no-probe: not one wrap; CMK017 undecided, so not reported.
    let before = mismatch.count("/wrapkey");
    let out = vendor(
        &login,
        &[
            "--format",
            "jsonl",
            "--no-probe",
            "--key-uri",
            &key_uri(&mismatch, "probe-tidb"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mismatch.count("/wrapkey"), before);
}

#[test]
fn a_challenge_from_a_foreign_authority_gets_no_token_request() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let elsewhere = Fake::start();
    // The host a hostile or misconfigured endpoint names instead of the configured
    // one: never contacted (it only needs to be a URL), and no token is requested.
    let cases = [
        kv_challenge("https://login.evil.example/", TENANT),
        kv_challenge(&elsewhere.url, TENANT),
        format!(
            r#"Bearer authorization="{}{TENANT}", resource="https://vault.azure.cn""#,
            login.url
        ),
    ];
    for challenge in cases {
        let v = Fake::start();
        v.challenge(&challenge);
        dp_put(&dir, &v, "k1", dp_bundle(&dir, &v, "k1"));
        let out = vendor(
            &login,
            &["--format", "jsonl", "--key-uri", &key_uri(&v, "k1")],
        );
        assert_eq!(out.code, 3, "{challenge}: {}\n{}", out.stdout, out.stderr);
        let got = lines(&out);
        let l = &got[&key_uri(&v, "k1")];
        assert_eq!(l["status"], "unreachable", "{l}");
        assert_eq!(l["tenant"], Json::Null);
        let why = l["error"].as_str().unwrap();
        assert!(why.contains("requested no token"), "{why}");
        assert_eq!(login.token_requests(), 0, "{challenge}");
        assert_eq!(elsewhere.seen().len(), 0);
        // Only the request without a token reached the vault.
        assert_eq!(v.seen().len(), 1, "{:?}", v.seen());
    }
}

#[test]
fn a_throttled_vault_waits_for_retry_after_while_the_others_finish() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let (slow, fast) = (dp_vault(&login, TENANT), dp_vault(&login, TENANT));
    dp_put(&dir, &fast, "k1", dp_bundle(&dir, &fast, "k1"));
    dp_put(&dir, &slow, "k1", dp_bundle(&dir, &slow, "k1"));
    slow.route(
        "/keys/k1",
        vec![
            Canned::error(429, "Throttled").header("Retry-After", "1"),
            Canned::ok(dp_bundle(&dir, &slow, "k1")),
        ],
    );
    let out = vendor(
        &login,
        &[
            "--format",
            "jsonl",
            "--tenant-id",
            TENANT,
            "--key-uri",
            &key_uri(&slow, "k1"),
            "--key-uri",
            &key_uri(&fast, "k1"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let order: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Json>(l).unwrap()["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // The other vault's key is not held up by the throttled one.
    assert_eq!(order, [key_uri(&fast, "k1"), key_uri(&slow, "k1")]);
    let got = lines(&out);
    assert!(got[&key_uri(&slow, "k1")]["milliseconds"].as_u64().unwrap() >= 1000);
    let gets: Vec<_> = slow
        .seen()
        .into_iter()
        .filter(|r| r.authorized && r.path == "/keys/k1")
        .collect();
    assert_eq!(gets.len(), 2);
    assert!(gets[1].at - gets[0].at >= std::time::Duration::from_millis(990));
}

#[test]
fn a_vault_that_is_down_leaves_the_others_checked() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let up = dp_vault(&login, TENANT);
    dp_put(&dir, &up, "k1", dp_bundle(&dir, &up, "k1"));
    dp_put(&dir, &up, "k2", dp_bundle(&dir, &up, "k2"));
    // A port nothing listens on.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_uri = format!("http://{}/keys/k1", down.local_addr().unwrap());
    drop(down);
    let args = [
        "--key-uri",
        &key_uri(&up, "k1"),
        "--key-uri",
        &down_uri,
        "--key-uri",
        &key_uri(&up, "k2"),
    ];
    let mut jsonl = vec!["--format", "jsonl"];
    jsonl.extend(args);
    let out = vendor(&login, &jsonl);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let got = lines(&out);
    assert_eq!(got.len(), 3);
    assert_eq!(got[&key_uri(&up, "k1")]["status"], "ok");
    assert_eq!(got[&key_uri(&up, "k2")]["status"], "ok");
    let l = &got[&down_uri];
    assert_eq!(l["status"], "unreachable");
    assert!(
        l["error"].as_str().unwrap().contains("could not reach"),
        "{l}"
    );

    // The other formats: the report over the keys that were checked, and each
    // key that was not named on stderr.
    let out = vendor(&login, &args);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.starts_with(&format!("error: {down_uri}: ")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .ends_with("Checked 3 keys: 2 ok, 0 with findings, 1 unreachable.\n"),
        "{}",
        out.stdout
    );
    let mut json = vec!["--format", "json"];
    json.extend(args);
    let out = vendor(&login, &json);
    let j = out.json();
    assert_eq!(
        j["keys"],
        json!({"checked": 3, "ok": 2, "findings": 0, "unreachable": 1})
    );
    assert_eq!(j["unreachable"][0]["uri"], down_uri);
    assert_eq!(j["findings"], json!([]));
}

#[test]
fn shards_partition_the_fleet_exactly() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let vaults = [dp_vault(&login, TENANT), dp_vault(&login, TENANT_B)];
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("keys.txt");
    let mut f = std::fs::File::create(&list).unwrap();
    writeln!(f, "# the fleet").unwrap();
    let mut all = BTreeSet::new();
    for (i, v) in vaults.iter().enumerate() {
        for k in 0..8 {
            let name = format!("cmek-{i}-{k}");
            dp_put(&dir, v, &name, dp_bundle(&dir, v, &name));
            writeln!(f, "{}", key_uri(v, &name)).unwrap();
            all.insert(key_uri(v, &name));
        }
    }
    drop(f);
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = vendor(
            &login,
            &[
                "--format",
                "jsonl",
                "--key-uris",
                list.to_str().unwrap(),
                "--shard",
                &shard,
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let got = lines(&out);
        total += got.len();
        seen.extend(got.into_keys());
    }
    // Every key in exactly one shard.
    assert_eq!(total, all.len());
    assert_eq!(seen, all);
}

#[test]
fn jsonl_lines_arrive_while_the_run_goes_on() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let (held, free) = (dp_vault(&login, TENANT), dp_vault(&login, TENANT));
    for v in [&held, &free] {
        for k in ["k1", "k2"] {
            dp_put(&dir, v, k, dp_bundle(&dir, v, k));
        }
    }
    held.pause();
    let mut cmd = command(
        &login,
        &[
            "--format",
            "jsonl",
            "--key-uri",
            &key_uri(&held, "k1"),
            "--key-uri",
            &key_uri(&held, "k2"),
            "--key-uri",
            &key_uri(&free, "k1"),
            "--key-uri",
            &key_uri(&free, "k2"),
        ],
        None,
    );
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        first.push(serde_json::from_str::<Json>(&line).unwrap());
    }
    // Both lines are the free vault's, written while the held vault's keys are
    // still waiting: the run has not ended.
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the held vault answered"
    );
    for l in &first {
        assert!(l["uri"].as_str().unwrap().starts_with(&free.url), "{l}");
        assert_eq!(l["status"], "ok");
    }
    held.resume();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let rest: Vec<Json> = rest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rest.len(), 2);
    for l in rest {
        assert!(l["uri"].as_str().unwrap().starts_with(&held.url), "{l}");
    }
}

#[test]
fn workload_identity_and_an_explicit_tenant() {
    let Some(dir) = corpus() else { return };
    let login = Fake::start();
    let v = dp_vault(&login, TENANT_B);
    dp_put(&dir, &v, "k1", dp_bundle(&dir, &v, "k1"));
    let tmp = tempfile::tempdir().unwrap();
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, format!("{FEDERATED}\n")).unwrap();
    // A federated token file instead of a secret (workload identity on AKS).
    let out = run(command(
        &login,
        &["--format", "jsonl", "--key-uri", &key_uri(&v, "k1")],
        Some(&token_file),
    ));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(lines(&out)[&key_uri(&v, "k1")]["tenant"], TENANT_B);
    assert_eq!(login.token_requests_in(TENANT_B), 1);
    // --tenant-id: no request without a token.
    let before = v.unauthenticated();
    let out = vendor(
        &login,
        &[
            "--format",
            "jsonl",
            "--tenant-id",
            TENANT_B,
            "--key-uri",
            &key_uri(&v, "k1"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(v.unauthenticated(), before);
    // The wrong tenant: its token is refused by the vault, the key is unreachable.
    let out = vendor(
        &login,
        &[
            "--format",
            "jsonl",
            "--tenant-id",
            TENANT,
            "--key-uri",
            &key_uri(&v, "k1"),
        ],
    );
    assert_eq!(out.code, 3);
    let l = &lines(&out)[&key_uri(&v, "k1")];
    assert!(l["error"].as_str().unwrap().contains("401"), "{l}");
}
