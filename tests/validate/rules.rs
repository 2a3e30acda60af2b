//! One fixture per rule (OK and bad cases side by side, ruff style) and a
//! snapshot of the text report, reviewed like code.

use cmek_arm::report::{Format, Report};
use cmek_arm::validate::{run, Options};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    // Relative to the crate root so the report shows short, stable file names.
    PathBuf::from("tests/validate/fixtures").join(name)
}

/// The text report (no colour) and exit code for `templates`, keeping only the
/// findings of the rule under test (the file name's `armNNN` prefix) so each
/// snapshot shows one rule, ruff style.
fn report(templates: &[&str], parameters: Option<&str>) -> String {
    let rule = templates[0][..6].to_ascii_uppercase();
    let options = Options {
        parameters: parameters.map(fixture),
        format: Format::Text,
        ..Options::default()
    };
    let paths: Vec<PathBuf> = templates.iter().map(|t| fixture(t)).collect();
    let mut outcome = run(&paths, &options).unwrap();
    outcome.diagnostics.retain(|d| d.rule == rule);
    let code = outcome.exit_code(options.fail_on);
    let mut out = Vec::new();
    let report = Report {
        diagnostics: &outcome.diagnostics,
        sources: &outcome.sources,
    };
    Format::Text.emitter(false).emit(&report, &mut out).unwrap();
    format!("exit code {code}\n{}", String::from_utf8(out).unwrap())
}

macro_rules! snapshot {
    ($name:literal, $value:expr) => {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn arm001_json_syntax() {
    let out = report(&["arm001_json_syntax.json"], None);
    assert!(out.contains("ARM001"));
    snapshot!("arm001_json_syntax", out);
}

#[test]
fn arm002_template_schema() {
    let out = report(&["arm002_template_schema.json"], None);
    // kv-ok, with an expression where a boolean goes and a case-insensitive enum, is clean.
    assert!(!out.contains("/resources/0/"), "{out}");
    snapshot!("arm002_template_schema", out);
}

#[test]
fn arm002_language_version_2_is_valid() {
    let out = report(&["arm002_language_version_2.json"], None);
    assert_eq!(out, "exit code 0\nAll checks passed.\n");
}

#[test]
fn arm006_api_version() {
    let out = report(&["arm006_api_version.json"], None);
    snapshot!("arm006_api_version", out);
}

#[test]
fn arm007_hardcoded_location() {
    let out = report(&["arm007_hardcoded_location.json"], None);
    assert!(
        !out.contains("ok-global") && !out.contains("okexisting"),
        "{out}"
    );
    snapshot!("arm007_hardcoded_location", out);
}

#[test]
fn arm009_parameters_file() {
    let out = report(
        &["arm009_parameters_file.json"],
        Some("arm009_parameters_file.parameters.json"),
    );
    snapshot!("arm009_parameters_file", out);
}

/// `--schema-dir`: each resource is also checked against Azure's official schema
/// for its type and apiVersion (offline, from the corpus), at the right pointer.
#[test]
fn arm002_official_schemas_with_schema_dir() {
    let Some(corpus) = super::corpus::corpus() else {
        return;
    };
    let options = Options {
        schema_dir: Some(corpus.join("arm-schemas")),
        ..Options::default()
    };
    let outcome = run(&[fixture("schema_dir.json")], &options).unwrap();
    let official: Vec<String> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.rule == "ARM002" && d.message.contains("Azure's schema"))
        .map(|d| match &d.location {
            cmek_arm::diag::Location::File { pointer, .. } => format!("{pointer}: {}", d.message),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        official,
        ["/resources/1/properties: the value is not valid under any of the schemas listed in the 'oneOf' keyword (Azure's schema for Microsoft.KeyVault/vaults@2026-02-01)"],
        "{:#?}",
        outcome.diagnostics
    );
    // Without --schema-dir, the official schemas are not consulted.
    let plain = run(&[fixture("schema_dir.json")], &Options::default()).unwrap();
    assert!(plain
        .diagnostics
        .iter()
        .all(|d| !d.message.contains("Azure's schema")));
}
