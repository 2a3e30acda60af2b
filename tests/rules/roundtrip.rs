//! render -> validate round trip: whatever `render` writes, the CMEK rules report
//! no error and no warning on it with the same context, for every option combination.

use super::fixtures::{context, render as render_findings, OFFICER, SP, TENANT};
use cmek_arm::arm::expand;
use cmek_arm::arm::json;
use cmek_arm::diag::{Diagnostic, Level};
use cmek_arm::model;
use cmek_arm::rules::{self, Settings};
use std::process::Command;
use time::macros::datetime;

#[test]
fn every_rendered_combination_passes_every_cmek_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for key_type in ["RSA", "RSA-HSM"] {
        for rotation in [Some("P1Y"), Some("P90D"), None] {
            for allow_ip in [None, Some("203.0.113.0/24")] {
                for officer in [None, Some(OFFICER)] {
                    // Key size changes one literal: cycling it covers every size
                    // with both key types in a third of the renders.
                    let key_size = ["2048", "3072", "4096"][checked % 3];
                    let out = dir.path().join(format!("r{checked}"));
                    let mut args = vec![
                        "render",
                        "--region",
                        "East US",
                        "--vault-name",
                        "kv-cmek-rt",
                        "--key-prefix",
                        "cmek",
                        "--key-suffix",
                        "tidb-1234",
                        "--sp-object-id",
                        SP,
                        "--key-type",
                        key_type,
                        "--key-size",
                        key_size,
                        "--out",
                        out.to_str().unwrap(),
                    ];
                    match rotation {
                        Some(r) => args.extend(["--rotate-every", r]),
                        None => args.push("--no-rotation"),
                    }
                    if let Some(ip) = allow_ip {
                        args.extend(["--allow-ip", ip]);
                    }
                    if let Some(o) = officer {
                        args.extend(["--officer-object-id", o]);
                    }
                    let status = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
                        .args(&args)
                        .output()
                        .unwrap();
                    assert!(
                        status.status.success(),
                        "{args:?}: {}",
                        String::from_utf8_lossy(&status.stderr)
                    );
                    let read = |name: &str| {
                        json::parse(name, &std::fs::read(out.join(name)).unwrap()).unwrap()
                    };
                    let template = read("azuredeploy.json");
                    let params = read("azuredeploy.parameters.json");
                    let exp = expand::expand(&template, Some(&params), &context());
                    let dep = model::from_expansion_with(&exp, &template, Some(&params));
                    let s = Settings {
                        sp_object_id: Some(SP.into()),
                        // Without --officer-object-id the deployer (context) is the officer.
                        officer_object_id: Some(OFFICER.into()),
                        key_suffix: Some("tidb-1234".into()),
                        tenant_id: Some(TENANT.into()),
                        now: datetime!(2026-01-01 0:00 UTC),
                        ..Settings::default()
                    }
                    .with_region(Some("eastus"));
                    let mut diags = rules::check_model(&dep, &s);
                    s.apply(&mut diags, Some(&dep));
                    let rotation_off = rotation.is_none();
                    let bad: Vec<&Diagnostic> = diags
                        .iter()
                        // --no-rotation is the user's explicit choice: CMK009 says so.
                        .filter(|d| !(rotation_off && d.rule == "CMK009"))
                        .filter(|d| d.level != Level::Note)
                        .collect();
                    assert!(
                        bad.is_empty(),
                        "{args:?}:\n{}",
                        render_findings(&bad, &[&template, &params])
                    );
                    assert!(dep.keys().count() == 1 && dep.vaults().count() == 1);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 24);
}

#[test]
fn the_generic_template_alone_gives_notes_never_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generic");
    let status = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
        .args([
            "render",
            "--region",
            "eastus",
            "--vault-name",
            "kv-cmek-rt",
            "--key-name",
            "cmek-tidb-1234",
        ])
        .args(["--sp-object-id", SP, "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let template = json::parse(
        "azuredeploy.json",
        &std::fs::read(out.join("azuredeploy.json")).unwrap(),
    )
    .unwrap();
    let exp = expand::expand(&template, None, &context());
    let dep = model::from_expansion(&exp, &template);
    let s = Settings {
        sp_object_id: Some(SP.into()),
        key_suffix: Some("tidb-1234".into()),
        ..Settings::default()
    }
    .with_region(Some("eastus"));
    let mut diags = rules::check_model(&dep, &s);
    s.apply(&mut diags, Some(&dep));
    let refs: Vec<&Diagnostic> = diags.iter().collect();
    // The four customer values are parameters without defaults: what depends on
    // them cannot be decided, and says so.
    assert!(
        diags.iter().all(|d| d.level == Level::Note),
        "{}",
        render_findings(&refs, &[&template])
    );
    for rule in ["CMK004", "CMK007", "CMK010"] {
        assert!(
            diags.iter().any(|d| d.rule == rule),
            "{rule} silent on unknown values"
        );
    }
}

/// `render --existing-vault` -> `validate`: no error and no warning for any option
/// combination, the vault only referenced (never deployed), and every vault rule
/// the template cannot decide says so in a note naming `cmek-arm check`.
#[test]
fn existing_vault_renders_pass_and_name_what_check_must_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for group in [None, Some("rg-shared-vaults")] {
        for key_type in ["RSA", "RSA-HSM"] {
            for officer in [None, Some(OFFICER)] {
                let out = dir.path().join(format!("e{checked}"));
                let mut args = vec![
                    "render",
                    "--existing-vault",
                    "--region",
                    "eastus",
                    "--vault-name",
                    "kv-cmek-rt",
                    "--key-prefix",
                    "cmek",
                    "--key-suffix",
                    "tidb-1234",
                    "--sp-object-id",
                    SP,
                    "--key-type",
                    key_type,
                    "--out",
                    out.to_str().unwrap(),
                ];
                if let Some(g) = group {
                    args.extend(["--vault-resource-group", g]);
                }
                if let Some(o) = officer {
                    args.extend(["--officer-object-id", o]);
                }
                let run = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
                    .args(&args)
                    .output()
                    .unwrap();
                assert!(
                    run.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&run.stderr)
                );
                // The printed instructions end with the check command for this vault.
                let stdout = String::from_utf8(run.stdout).unwrap();
                let last = stdout.lines().last().unwrap();
                assert!(
                    last.trim_start().starts_with("cmek-arm check ")
                        && last.contains("--vault kv-cmek-rt")
                        && last.contains(&format!(
                            "--resource-group {}",
                            group.unwrap_or("<resource-group>")
                        )),
                    "{stdout}"
                );
                let read = |name: &str| {
                    json::parse(name, &std::fs::read(out.join(name)).unwrap()).unwrap()
                };
                let template = read("azuredeploy.json");
                let params = read("azuredeploy.parameters.json");
                let exp = expand::expand(&template, Some(&params), &context());
                let dep = model::from_expansion_with(&exp, &template, Some(&params));
                assert_eq!(dep.vaults().count(), 0, "the vault is never deployed");
                assert_eq!(dep.existing.len(), 1);
                assert_eq!(dep.keys().count(), 1);
                assert_eq!(dep.role_assignments().count(), 2);
                // Nested into the vault's resource group (the context's when not given).
                let key_id = dep.keys().next().unwrap().id.as_str().unwrap().to_string();
                let rg = group.unwrap_or("rg-cmek");
                assert!(
                    key_id.contains(&format!(
                        "/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/kv-cmek-rt/keys/"
                    )),
                    "{key_id}"
                );
                let s = Settings {
                    sp_object_id: Some(SP.into()),
                    officer_object_id: Some(OFFICER.into()),
                    key_suffix: Some("tidb-1234".into()),
                    tenant_id: Some(TENANT.into()),
                    now: datetime!(2026-01-01 0:00 UTC),
                    ..Settings::default()
                }
                .with_region(Some("eastus"));
                let mut diags = rules::check_model(&dep, &s);
                s.apply(&mut diags, Some(&dep));
                let bad: Vec<&Diagnostic> =
                    diags.iter().filter(|d| d.level != Level::Note).collect();
                assert!(
                    bad.is_empty(),
                    "{args:?}:\n{}",
                    render_findings(&bad, &[&template, &params])
                );
                let mut noted: Vec<&str> = diags
                    .iter()
                    .filter(|d| d.message.contains("`cmek-arm check` confirms"))
                    .map(|d| d.rule)
                    .collect();
                noted.sort_unstable();
                assert_eq!(
                    noted,
                    ["CMK001", "CMK002", "CMK003", "CMK004", "CMK015", "CMK016"],
                    "{args:?}"
                );
                // An HSM key also needs a premium vault, which only check can see.
                assert_eq!(
                    diags
                        .iter()
                        .any(|d| d.rule == "CMK005" && d.message.contains("premium")),
                    key_type == "RSA-HSM",
                    "{args:?}"
                );

                // The same through the CLI, as a user runs it: exit 0 with --fail-on warning.
                let validate = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
                    .arg("validate")
                    .arg(out.join("azuredeploy.json"))
                    .arg("--parameters")
                    .arg(out.join("azuredeploy.parameters.json"))
                    .args([
                        "--region",
                        "eastus",
                        "--sp-object-id",
                        SP,
                        "--key-suffix",
                        "tidb-1234",
                    ])
                    .args([
                        "--tenant-id",
                        TENANT,
                        "--fail-on",
                        "warning",
                        "--format",
                        "json",
                    ])
                    .output()
                    .unwrap();
                let report: serde_json::Value = serde_json::from_slice(&validate.stdout).unwrap();
                assert_eq!(validate.status.code(), Some(0), "{report:#}");
                assert_eq!(report["summary"]["error"], 0, "{report:#}");
                assert_eq!(report["summary"]["warning"], 0, "{report:#}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8);
}
