//! One scenario per CMEK rule through the binary: a compliant live deployment
//! passes every rule; one change to what Azure returns (or to a flag) makes
//! exactly the rule that checks it report, at its level, at the Azure resource.

use super::cli::{report, report_sp, Out};
use super::fake::*;
use serde_json::{json, Value as Json};
use std::path::Path;

/// Owner: a role the vendor must never hold (CMK013).
const ROLE_OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
/// Another tenant (CMK016).
const OTHER_TENANT: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";

/// What the fake serves, before it starts answering.
struct World {
    vault: Json,
    key: Json,
    assignments: Vec<Json>,
    flags: Vec<&'static str>,
}

/// Flags that give every rule something to compare against.
const FLAGS: &[&str] = &[
    "--region",
    "eastus",
    "--officer-object-id",
    OFFICER,
    "--key-suffix",
    "tidb",
    "--tenant-id",
    TENANT,
    "--probe",
    "--format",
    "json",
];

fn cseu(dir: &Path) -> Json {
    assignment(
        dir,
        "0b5fe924-0000-4000-8000-000000000001",
        ROLE_CSEU,
        SP_OBJECT,
        &key_id(),
    )
}

fn officer(dir: &Path) -> Json {
    assignment(
        dir,
        "0b5fe924-0000-4000-8000-000000000002",
        ROLE_OFFICER,
        OFFICER,
        &vault_id(),
    )
}

/// The compliant fake, made fully compliant (recoverable key, own tenant), then
/// `change`d; returns the JSON report's findings as (rule, level) pairs.
fn run(dir: &Path, change: impl FnOnce(&mut World, &Fake)) -> (Out, Vec<(String, String)>) {
    let fake = compliant(dir);
    let mut vault = example(dir, ex::VAULT);
    vault["id"] = json!(vault_id());
    vault["name"] = json!(VAULT);
    vault["location"] = json!("eastus");
    let p = &mut vault["properties"];
    p["enablePurgeProtection"] = json!(true);
    p["enableSoftDelete"] = json!(true);
    p["softDeleteRetentionInDays"] = json!(90);
    p["enableRbacAuthorization"] = json!(true);
    p["tenantId"] = json!(TENANT);
    let mut key = example(dir, ex::KEY);
    key["id"] = json!(key_id());
    key["name"] = json!(KEY);
    key["properties"]["keySize"] = json!(3072);
    key["properties"]["attributes"]["recoveryLevel"] = json!("Recoverable");
    let mut world = World {
        vault,
        key,
        assignments: vec![cseu(dir), officer(dir)],
        flags: FLAGS.to_vec(),
    };
    change(&mut world, &fake);
    fake.route(&vault_id(), vec![Canned::ok(world.vault)]);
    let key = if world.key.is_null() {
        Canned::error(404, "KeyNotFound")
    } else {
        Canned::ok(world.key)
    };
    fake.route(&key_id(), vec![key]);
    let mut list = example(dir, ex::RA_LIST);
    list["value"] = json!(world.assignments);
    fake.route(&ra_path(), vec![Canned::ok(list)]);
    let out = report(&fake, &world.flags);
    if !world.flags.contains(&"json") {
        return (out, Vec::new());
    }
    let j = out.json();
    let findings = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            // Live findings: the Azure ID in `resource`, no file fields (CLI.md);
            // only an unused `--ignore` (CMK018) is about the invocation, not a resource.
            assert!(
                f["rule"] == "CMK018"
                    || f["resource"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("/subscriptions/")),
                "{f}"
            );
            for k in ["file", "pointer", "line", "column"] {
                assert!(f.get(k).is_none(), "{k} in a live finding: {f}");
            }
            (
                f["rule"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (out, findings)
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(r, l)| (r.to_string(), l.to_string()))
        .collect()
}

#[test]
fn compliant_live_state_passes_every_rule() {
    let Some(dir) = corpus() else { return };
    let (out, findings) = run(&dir, |_, _| {});
    assert_eq!(findings, vec![], "{}", out.stdout);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.json()["summary"],
        json!({"error": 0, "warning": 0, "note": 0})
    );
}

type Change = fn(&mut World, &Fake, &Path);
/// A scenario: its name, the change, and the (rule, level) findings it must give.
type Case = (
    &'static str,
    Change,
    &'static [(&'static str, &'static str)],
);

#[test]
fn each_rule_fails_on_its_own_change() {
    let Some(dir) = corpus() else { return };
    let cases: Vec<Case> = vec![
        (
            "purge protection off",
            |w, _, _| w.vault["properties"]["enablePurgeProtection"] = json!(false),
            &[("CMK001", "error")],
        ),
        (
            "retention out of range",
            |w, _, _| w.vault["properties"]["softDeleteRetentionInDays"] = json!(120),
            &[("CMK002", "error")],
        ),
        (
            "access policies instead of RBAC",
            |w, _, _| w.vault["properties"]["enableRbacAuthorization"] = json!(false),
            &[("CMK003", "error")],
        ),
        (
            "vault in another region",
            |w, _, _| w.vault["location"] = json!("westeurope"),
            &[("CMK004", "error")],
        ),
        (
            "key too small",
            |w, _, _| w.key["properties"]["keySize"] = json!(1024),
            &[("CMK005", "error")],
        ),
        (
            "key cannot wrap",
            |w, _, _| w.key["properties"]["keyOps"] = json!(["sign", "verify"]),
            &[("CMK006", "error")],
        ),
        (
            "key name without the vendor suffix",
            |w, _, _| {
                let i = w.flags.iter().position(|f| *f == "tidb").unwrap();
                w.flags[i] = "acme";
            },
            &[("CMK007", "error")],
        ),
        (
            "key disabled",
            |w, _, _| w.key["properties"]["attributes"]["enabled"] = json!(false),
            &[("CMK008", "error")],
        ),
        (
            "no rotation policy",
            |_, f, _| f.route(&rotation_path(), vec![Canned::error(404, "KeyNotFound")]),
            &[("CMK009", "warning")],
        ),
        (
            "no encryption-user grant",
            |w, _, d| w.assignments = vec![officer(d)],
            &[("CMK010", "error")],
        ),
        (
            "no officer",
            |w, _, d| w.assignments = vec![cseu(d)],
            &[("CMK011", "warning")],
        ),
        (
            "vendor grant without principalType",
            |w, _, _| w.assignments[0]["properties"]["principalType"] = json!("User"),
            &[("CMK012", "warning")],
        ),
        (
            "vendor is also Owner of the vault",
            |w, _, d| {
                w.assignments.push(assignment(
                    d,
                    "0b5fe924-0000-4000-8000-000000000003",
                    ROLE_OWNER,
                    SP_OBJECT,
                    &vault_id(),
                ))
            },
            &[("CMK013", "warning")],
        ),
        (
            "purgeable key",
            |w, _, _| w.key["properties"]["attributes"]["recoveryLevel"] = json!("Purgeable"),
            &[("CMK014", "error")],
        ),
        (
            "public access disabled",
            |w, _, _| w.vault["properties"]["publicNetworkAccess"] = json!("Disabled"),
            &[("CMK015", "warning")],
        ),
        (
            "vault in another tenant",
            |w, _, _| w.vault["properties"]["tenantId"] = json!(OTHER_TENANT),
            &[("CMK016", "error")],
        ),
        (
            "unwrap returns other bytes",
            |_, f, _| f.unwrap_mismatch(),
            &[("CMK017", "error")],
        ),
        (
            "key does not exist",
            |w, _, _| w.key = Json::Null,
            &[("CMK019", "error")],
        ),
        (
            "--ignore of a failing rule hides it",
            |w, _, _| {
                w.vault["properties"]["enablePurgeProtection"] = json!(false);
                w.flags.extend(["--ignore", "vault-purge-protection"]);
            },
            &[],
        ),
        (
            "--ignore of a passing rule is itself reported",
            |w, _, _| w.flags.extend(["--ignore", "CMK001"]),
            &[("CMK018", "warning")],
        ),
    ];
    let mut failed = Vec::new();
    for (name, change, expected) in cases {
        let (out, findings) = run(&dir, |w, f| change(w, f, &dir));
        let want_code = i32::from(expected.iter().any(|(_, l)| *l == "error"));
        if findings != pairs(expected) || out.code != want_code {
            failed.push(format!(
                "{name}: expected {expected:?} (exit {want_code}), got {findings:?} (exit {})\n{}{}",
                out.code, out.stdout, out.stderr
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn warnings_fail_only_with_fail_on_warning() {
    let Some(dir) = corpus() else { return };
    let no_officer = |w: &mut World, _: &Fake| w.assignments = vec![cseu(&dir)];
    let (out, findings) = run(&dir, no_officer);
    assert_eq!(findings, pairs(&[("CMK011", "warning")]));
    assert_eq!(out.code, 0);
    let (out, _) = run(&dir, |w, f| {
        no_officer(w, f);
        w.flags.extend(["--fail-on", "warning"]);
    });
    assert_eq!(out.code, 1, "{}", out.stdout);
}

/// The flags of [`FLAGS`] with `--format json` replaced by `format`.
fn with_format(format: &'static str) -> Vec<&'static str> {
    let mut flags = FLAGS.to_vec();
    let i = flags.iter().position(|f| *f == "json").unwrap();
    flags[i] = format;
    flags
}

#[test]
fn application_id_is_a_cmk010_error_naming_the_object_id() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let out = report_sp(&fake, SP_APP, &["--format", "json"]);
    let j = out.json();
    let cmk010: Vec<&Json> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "CMK010")
        .collect();
    // One finding about the mix-up; the grant to the real object ID is then
    // checked (and present), so no second CMK010 about the application ID.
    assert_eq!(cmk010.len(), 1, "{}", out.stdout);
    assert_eq!(cmk010[0]["level"], "error");
    let msg = cmk010[0]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("--sp-object-id {SP_OBJECT}")),
        "{msg}"
    );
    assert_eq!(cmk010[0]["resource"], key_id());
    assert_eq!(out.code, 1);
}

#[test]
fn unknown_principal_is_a_cmk010_error() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    let stranger = "deadbeef-0000-4000-8000-000000000000";
    let out = report_sp(&fake, stranger, &["--format", "json"]);
    let j = out.json();
    let msgs: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "CMK010" && f["level"] == "error")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("no service principal")),
        "{}",
        out.stdout
    );
    assert_eq!(out.code, 1);
}

#[test]
fn unreadable_inputs_are_notes_once() {
    let Some(dir) = corpus() else { return };
    let (out, findings) = run(&dir, |_, f| {
        f.route(
            &rotation_path(),
            vec![Canned::error(403, "ForbiddenByRbac")],
        );
        f.route(
            &sp_path(SP_OBJECT),
            vec![Canned::error(403, "Authorization_RequestDenied")],
        );
    });
    assert_eq!(
        findings,
        pairs(&[("CMK009", "note"), ("CMK010", "note")]),
        "{}",
        out.stdout
    );
    assert_eq!(out.code, 0);
    let text = out.stdout;
    assert!(text.contains("Application.Read.All"), "{text}");
    assert!(text.contains("Key Vault Reader"), "{text}");
}

#[test]
fn missing_vault_is_one_cmk019_finding() {
    let Some(dir) = corpus() else { return };
    let fake = compliant(&dir);
    fake.route(&vault_id(), vec![Canned::error(404, "ResourceNotFound")]);
    fake.route(&key_id(), vec![Canned::error(404, "ResourceNotFound")]);
    fake.route(&ra_path(), vec![Canned::error(404, "ResourceNotFound")]);
    let out = report(&fake, FLAGS);
    let j = out.json();
    assert_eq!(j["findings"].as_array().unwrap().len(), 1, "{}", out.stdout);
    let f = &j["findings"][0];
    assert_eq!(f["rule"], "CMK019");
    assert_eq!(f["name"], "vault-and-key-exist");
    assert_eq!(f["resource"], vault_id());
    assert_eq!(out.code, 1);
}

#[test]
fn sarif_locates_a_live_finding_by_resource_id() {
    let Some(dir) = corpus() else { return };
    let (out, _) = run(&dir, |w, _| {
        w.vault["properties"]["enablePurgeProtection"] = json!(false);
        w.flags = with_format("sarif");
    });
    assert_eq!(out.code, 1);
    let sarif = out.json();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{}", out.stdout);
    assert_eq!(results[0]["ruleId"], "CMK001");
    assert_eq!(results[0]["level"], "error");
    let loc = &results[0]["locations"][0];
    assert!(loc.get("physicalLocation").is_none(), "{loc}");
    assert_eq!(
        loc["logicalLocations"][0],
        json!({"fullyQualifiedName": vault_id(), "kind": "resource"})
    );
}

#[test]
fn text_github_and_junit_name_the_resource() {
    let Some(dir) = corpus() else { return };
    for (format, expect) in [
        ("text", format!("{}: CMK001 [error]", vault_id())),
        ("github", format!("::error title=CMK001::{}: ", vault_id())),
        ("junit", "<failure type=\"CMK001\"".to_string()),
    ] {
        let fake = compliant(&dir);
        let mut vault = example(&dir, ex::VAULT);
        vault["id"] = json!(vault_id());
        fake.route(&vault_id(), vec![Canned::ok(vault)]);
        let out = report(&fake, &with_format(format));
        assert!(out.stdout.contains(&expect), "{format}: {}", out.stdout);
        assert_eq!(out.code, 1, "{format}");
    }
}

/// [`FLAGS`] without `--tenant-id`.
fn without_tenant_flag() -> Vec<&'static str> {
    let mut flags = FLAGS.to_vec();
    let i = flags.iter().position(|f| *f == "--tenant-id").unwrap();
    flags.drain(i..i + 2);
    flags
}

#[test]
fn vault_tenant_is_compared_with_the_subscriptions_tenant() {
    let Some(dir) = corpus() else { return };
    let (out, findings) = run(&dir, |w, _| w.flags = without_tenant_flag());
    assert_eq!(findings, vec![], "{}", out.stdout);
    let (out, findings) = run(&dir, |w, _| {
        w.flags = without_tenant_flag();
        w.vault["properties"]["tenantId"] = json!(OTHER_TENANT);
    });
    assert_eq!(findings, pairs(&[("CMK016", "error")]), "{}", out.stdout);
    assert!(out.stdout.contains(TENANT), "{}", out.stdout);
    // Without the subscription's tenant and without --tenant-id: undecided.
    let (out, findings) = run(&dir, |w, f| {
        w.flags = without_tenant_flag();
        f.route(
            &format!("/subscriptions/{SUB}"),
            vec![Canned::error(403, "AuthorizationFailed")],
        );
    });
    assert_eq!(findings, pairs(&[("CMK016", "note")]), "{}", out.stdout);
    assert_eq!(out.code, 0);
}

#[test]
fn text_report_of_a_broken_live_deployment() {
    let Some(dir) = corpus() else { return };
    let (out, _) = run(&dir, |w, _| {
        w.vault["properties"]["enablePurgeProtection"] = json!(false);
        w.key["properties"]["attributes"]["recoveryLevel"] = json!("Purgeable");
        w.assignments = vec![officer(&dir)];
        w.flags = with_format("text");
    });
    assert_eq!(out.code, 1);
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("check_text_report_live", out.stdout);
    });
}
