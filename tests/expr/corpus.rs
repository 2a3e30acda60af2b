//! Every real template in ../shared/corpus/avm and quickstarts (with its parameters
//! file where one exists): loads, every expression parses, expansion completes.
//! The per-template resource counts and engine findings are a reviewed snapshot.

use crate::common::{corpus, full_context};
use cmek_arm::arm::expand::expand;
use cmek_arm::arm::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn templates(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            templates(&p, out);
        } else if p.extension().is_some_and(|e| e == "json")
            && !p.to_string_lossy().ends_with(".parameters.json")
        {
            out.push(p);
        }
    }
}

#[test]
fn corpus_templates_expand() {
    let (Some(avm), Some(qs)) = (corpus("avm"), corpus("quickstarts")) else {
        return;
    };
    let mut files = Vec::new();
    templates(&avm, &mut files);
    templates(&qs, &mut files);
    let root = avm.parent().unwrap().to_path_buf();
    let mut report = String::new();
    let mut syntax = Vec::new();
    let mut most_work = (0, String::new());
    for path in &files {
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let doc = json::parse(&rel, &std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let params_path = path.with_file_name("azuredeploy.parameters.json");
        let params = (path.file_name().unwrap() == "azuredeploy.json" && params_path.exists())
            .then(|| {
                json::parse(
                    "azuredeploy.parameters.json",
                    &std::fs::read(&params_path).unwrap(),
                )
                .unwrap()
            });
        let x = expand(&doc, params.as_ref(), &full_context());
        syntax.extend(
            x.diagnostics
                .iter()
                .filter(|d| d.rule == "ARM003")
                .map(|d| format!("{rel}: {}", d.message)),
        );
        let unknown_ids = x.resources.iter().filter(|r| r.id.is_unknown()).count();
        if x.work > most_work.0 {
            most_work = (x.work, rel.clone());
        }
        let _ = writeln!(
            report,
            "{rel}: {} resources ({} unknown IDs), {} outputs{}",
            x.resources.len(),
            unknown_ids,
            x.outputs.len(),
            if params.is_some() {
                ", with parameters file"
            } else {
                ""
            }
        );
        for d in &x.diagnostics {
            let pointer = match &d.location {
                cmek_arm::diag::Location::File { pointer, .. } => pointer.as_str(),
                _ => "",
            };
            let _ = writeln!(report, "    {} {} at {pointer}", d.rule, d.message);
        }
    }
    assert!(
        files.len() >= 174,
        "expected the 174 AVM templates and the quickstarts, found {}",
        files.len()
    );
    // Real templates stay far from the evaluation budget: a tenth of it at most
    // (the budget is what keeps hostile templates bounded, not what real ones meet).
    println!("most work: {} units ({})", most_work.0, most_work.1);
    assert!(
        most_work.0 <= cmek_arm::arm::limits::EVALUATION_BUDGET / 10,
        "{} needs {} units of the evaluation budget's {}",
        most_work.1,
        most_work.0,
        cmek_arm::arm::limits::EVALUATION_BUDGET
    );
    assert!(
        syntax.is_empty(),
        "every corpus expression parses:\n{}",
        syntax.join("\n")
    );
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("corpus_expansion", report);
    });
}
