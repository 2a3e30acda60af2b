//! The real templates in `../shared/corpus` (Azure Verified Modules and quickstarts)
//! are valid ARM: ARM002 must not flag any of them.

use cmek_arm::arm::{json, schema};
use std::path::{Path, PathBuf};

/// The corpus folder, or `None` (with the reason printed) when it is absent.
pub fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: {} is absent (corpus only exists in the shared workspace)",
            dir.display()
        );
        None
    }
}

/// Every template (not parameters file) under `avm/` and `quickstarts/`.
pub fn corpus_templates(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = if root.ends_with("quickstarts") {
        vec![root.to_path_buf()]
    } else {
        vec![root.join("avm"), root.join("quickstarts")]
    };
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && !path.to_string_lossy().ends_with(".parameters.json")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_schema_findings_on_real_templates() {
    let Some(root) = corpus() else { return };
    let files = corpus_templates(&root);
    assert!(
        files.len() >= 180,
        "expected the 174 AVM templates and the quickstarts, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let doc = json::parse(&path.display().to_string(), &bytes).unwrap();
        for d in schema::check(&doc).unwrap() {
            let (line, col) = match &d.location {
                cmek_arm::diag::Location::File { span: Some(s), .. } => {
                    cmek_arm::diag::line_col(&doc.text, s.start)
                }
                _ => (0, 0),
            };
            failures.push(format!("{}:{line}:{col}: {}", path.display(), d.message));
        }
    }
    assert!(
        failures.is_empty(),
        "{} ARM002 findings on valid templates:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Real quickstart parameters files fit their templates: the whole pipeline
/// finds no errors (warnings such as old apiVersions are expected), except one
/// true positive: storage-blob-encryption-with-cmk's parameters file omits the
/// required `userAssignedIdentityResourceGroupName` (upstream's CI fills it in
/// from a prerequisites step), which ARM009 must keep finding.
#[test]
fn quickstart_parameters_files_fit_their_templates() {
    let Some(root) = corpus() else { return };
    let mut checked = 0;
    for template in corpus_templates(&root.join("quickstarts")) {
        let params = template.with_file_name("azuredeploy.parameters.json");
        if template.file_name().is_none_or(|n| n != "azuredeploy.json") || !params.is_file() {
            continue;
        }
        let options = cmek_arm::validate::Options {
            parameters: Some(params.clone()),
            ..Default::default()
        };
        let outcome = cmek_arm::validate::run(std::slice::from_ref(&template), &options).unwrap();
        let expected: &[&str] = if template
            .to_string_lossy()
            .contains("storage-blob-encryption-with-cmk")
        {
            &["ARM009 required parameter 'userAssignedIdentityResourceGroupName' has no value (it has no defaultValue)"]
        } else {
            &[]
        };
        let errors: Vec<String> = outcome
            .diagnostics
            .iter()
            // This test is about templates and their parameters files; what the
            // quickstarts break of the CMEK requirements is snapshotted in tests/rules/real.rs.
            .filter(|d| d.level == cmek_arm::diag::Level::Error && d.rule.starts_with("ARM"))
            .map(|d| format!("{} {}", d.rule, d.message))
            .collect();
        assert_eq!(errors, expected, "{}", template.display());
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} quickstarts with parameters files"
    );
}
