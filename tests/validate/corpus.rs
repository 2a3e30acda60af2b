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
    let mut stack = vec![root.join("avm"), root.join("quickstarts")];
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
