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
