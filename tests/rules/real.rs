//! The rules over real templates from the corpus: the Azure Verified Modules
//! key-vault module (languageVersion 2.0, nested key deployments, copy loops,
//! user-defined types) with our parameters files, and the Key Vault quickstarts
//! with their own parameters files. Skips with a printed reason without the corpus.

use super::fixtures::{context, render, settings};
use cmek_arm::arm::expand;
use cmek_arm::arm::json::{self, Document};
use cmek_arm::diag::{Diagnostic, Level};
use cmek_arm::model;
use cmek_arm::rules;
use std::path::{Path, PathBuf};

fn corpus(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: {} is absent", path.display());
        None
    }
}

fn load(path: &Path, name: &str) -> Document {
    json::parse(name, &std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

/// Every CMK finding for `template` with `params`, after profile and suppressions.
fn cmk_findings(template: &Document, params: &Document) -> Vec<Diagnostic> {
    let exp = expand::expand(template, Some(params), &context());
    let dep = model::from_expansion_with(&exp, template, Some(params));
    let s = settings();
    let mut diags = rules::check_model(&dep, &s);
    s.apply(&mut diags, Some(&dep));
    diags.retain(|d| d.rule.starts_with("CMK"));
    diags
}

#[test]
fn avm_key_vault_module_compliant_and_each_break_caught() {
    let Some(module) = corpus("avm/key-vault__vault.json") else {
        return;
    };
    let template = load(&module, "avm/key-vault__vault.json");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/avm");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut report = String::new();
    for name in names {
        let variant = name.trim_end_matches(".parameters.json");
        let params = load(&dir.join(&name), &format!("avm/{name}"));
        let found = cmk_findings(&template, &params);
        let refs: Vec<&Diagnostic> = found.iter().collect();
        report.push_str(&format!(
            "## {variant}\n{}",
            render(&refs, &[&template, &params])
        ));
        if variant == "compliant" {
            let bad: Vec<_> = found.iter().filter(|d| d.level != Level::Note).collect();
            assert!(bad.is_empty(), "the compliant AVM parameters give {bad:#?}");
            continue;
        }
        // `break-cmk010-app-id`: the rule the variant breaks is in its name.
        let rule = variant
            .strip_prefix("break-")
            .and_then(|r| r.get(..6))
            .unwrap()
            .to_ascii_uppercase();
        assert!(
            found
                .iter()
                .any(|d| d.rule == rule && d.level != Level::Note),
            "{variant}: {rule} not reported; found {found:#?}"
        );
    }
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("rules_avm_key_vault", report);
    });
}

#[test]
fn quickstart_key_vault_templates_with_their_parameters() {
    let Some(dir) = corpus("quickstarts/microsoft.keyvault") else {
        return;
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    folders.sort();
    let mut report = String::new();
    for folder in folders {
        let name = folder.file_name().unwrap().to_string_lossy().to_string();
        let template = load(
            &folder.join("azuredeploy.json"),
            &format!("{name}/azuredeploy.json"),
        );
        let params = load(
            &folder.join("azuredeploy.parameters.json"),
            &format!("{name}/azuredeploy.parameters.json"),
        );
        let found = cmk_findings(&template, &params);
        let refs: Vec<&Diagnostic> = found.iter().collect();
        report.push_str(&format!(
            "## {name}\n{}",
            render(&refs, &[&template, &params])
        ));
    }
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("rules_quickstarts_key_vault", report);
    });
}

/// The AVM key-vault module validated as a new user would: only `--region`,
/// `--sp-object-id` and `--key-suffix`, no deployment context. The role IDs are
/// built with `subscriptionResourceId()` and the scopes with `resourceId()`, so
/// every verdict here is decided over the deployment's symbols.
#[test]
fn avm_key_vault_module_without_context_flags() {
    let Some(module) = corpus("avm/key-vault__vault.json") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/avm");
    let cmk = |params: &str| -> Vec<(String, String)> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
            .arg("validate")
            .arg(&module)
            .arg("--parameters")
            .arg(dir.join(params))
            .args(["--region", "eastus", "--sp-object-id", super::fixtures::SP])
            .args(["--key-suffix", "tidb", "--format", "json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{params}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with("CMK"))
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["level"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |r: &str, l: &str| (r.to_string(), l.to_string());
    assert_eq!(cmk("compliant.parameters.json"), vec![]);
    assert_eq!(
        cmk("break-cmk010-vault-scope.parameters.json"),
        vec![pair("CMK010", "warning")]
    );
    // Crypto User is the wrong role for the key, and broader than the vendor needs.
    assert_eq!(
        cmk("break-cmk010-crypto-user.parameters.json"),
        vec![pair("CMK010", "error"), pair("CMK013", "warning")]
    );
    assert_eq!(
        cmk("break-cmk013-vendor-admin.parameters.json"),
        vec![pair("CMK013", "warning")]
    );
    // Every other variant still breaks exactly what it is named after, decided.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("break-"))
        .collect();
    names.sort();
    for name in names {
        let rule = name.get(6..12).unwrap().to_ascii_uppercase();
        let found = cmk(&name);
        assert!(
            found.iter().any(|(r, l)| *r == rule && l != "note"),
            "{name}: {found:?}"
        );
        assert!(found.iter().all(|(_, l)| l != "note"), "{name}: {found:?}");
    }
}
