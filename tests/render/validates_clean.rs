//! What `render` writes, validated the way a new user would (only `--region`,
//! `--sp-object-id` and `--key-suffix`, no deployment context): no finding and no
//! note, and the very same findings once the context is given. Values the context
//! would supply are symbols of the deployment, and every rule decides over them.

use super::common::{cases, SP};
use cmek_arm::render::render;
use serde_json::Value as Json;
use std::process::Command;

fn validate(dir: &std::path::Path, extra: &[&str]) -> Json {
    let out = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
        .current_dir(dir)
        .args([
            "validate",
            "azuredeploy.json",
            "--parameters",
            "azuredeploy.parameters.json",
            "--region",
            "eastus",
            "--sp-object-id",
            SP,
            "--key-suffix",
            "a1b2c3",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_render_case_validates_clean_without_context_flags() {
    for (case, request) in cases() {
        let dir = tempfile::tempdir().unwrap();
        for (file, content) in render(&request).unwrap().files() {
            std::fs::write(dir.path().join(file), content).unwrap();
        }
        let bare = validate(dir.path(), &[]);
        let findings = bare["findings"].as_array().unwrap();
        // --no-rotation is the user's explicit choice, and CMK009 says so.
        let unexpected: Vec<&Json> = findings
            .iter()
            .filter(|f| !(case == "no_rotation" && f["rule"] == "CMK009"))
            .collect();
        assert!(unexpected.is_empty(), "{case}: {unexpected:#?}");
        assert_eq!(bare["summary"]["note"], 0, "{case}");
        let with_context = validate(
            dir.path(),
            &[
                "--subscription-id",
                "00000000-0000-0000-0000-000000000001",
                "--resource-group",
                "rg-cmek",
                "--tenant-id",
                "11111111-1111-1111-1111-111111111111",
            ],
        );
        assert_eq!(bare["findings"], with_context["findings"], "{case}");
    }
}
