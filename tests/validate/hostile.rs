//! Hostile input: every case ends in an ARM001 finding or a usage error (exit 2),
//! never a crash, a hang or unbounded memory.

use cmek_arm::diag::Level;
use cmek_arm::validate::{run, Options, Outcome, MAX_FILE_BYTES};
use std::io::Write;
use std::path::PathBuf;

fn validate_bytes(name: &str, bytes: &[u8]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    run(&[path], &Options::default()).unwrap()
}

fn only_arm001(outcome: &Outcome) -> &str {
    assert_eq!(outcome.diagnostics.len(), 1, "{:#?}", outcome.diagnostics);
    let d = &outcome.diagnostics[0];
    assert_eq!((d.rule, d.level), ("ARM001", Level::Error));
    assert_eq!(outcome.exit_code(Level::Error), 1);
    &d.message
}

#[test]
fn not_json() {
    let outcome = validate_bytes("t.json", b"resources:\n  - type: vault\n");
    assert!(only_arm001(&outcome).starts_with("not valid JSON"));
}

#[test]
fn empty_file() {
    let outcome = validate_bytes("t.json", b"   \n");
    assert!(only_arm001(&outcome).contains("no JSON value"));
}

#[test]
fn binary_data() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    only_arm001(&validate_bytes("t.json", &bytes));
}

#[test]
fn invalid_utf8_is_reported_where_it_is() {
    let outcome = validate_bytes("t.json", b"{\n  \"a\": \"caf\xe9\"\n}");
    assert!(only_arm001(&outcome).contains("UTF-8"));
    let mut out = Vec::new();
    cmek_arm::report::Format::Json
        .emitter(false)
        .emit(
            &cmek_arm::report::Report {
                diagnostics: &outcome.diagnostics,
                sources: &outcome.sources,
            },
            &mut out,
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (
            v["findings"][0]["line"].as_u64(),
            v["findings"][0]["column"].as_u64()
        ),
        (Some(2), Some(12))
    );
}

#[test]
fn deep_nesting() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let message = only_arm001(&validate_bytes("t.json", deep.as_bytes())).to_lowercase();
    assert!(
        message.contains("depth") || message.contains("nesting"),
        "{message}"
    );
}

/// Accepted depth (below the parser's limit) in the places the schema recurses
/// into: child resources and nested deployments' inline templates.
#[test]
fn deep_but_accepted_nesting_does_not_overflow() {
    let mut resource = r#"{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2026-02-01", "name": "[parameters('x')]"}"#.to_string();
    for _ in 0..25 {
        resource = format!(
            r#"{{"type": "Microsoft.Resources/deployments", "apiVersion": "2025-04-01", "name": "d", "properties": {{"mode": "Incremental", "template": {{"$schema": "s", "contentVersion": "1.0.0.0", "resources": [{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2025-06-01", "name": "x", "resources": [{resource}]}}]}}}}}}"#
        );
    }
    let template =
        format!(r#"{{"$schema": "s", "contentVersion": "1.0.0.0", "resources": [{resource}]}}"#);
    let outcome = validate_bytes("t.json", template.as_bytes());
    // The innermost vault lacks tenantId and sku: the schema reached it, 25
    // nested deployments down, and nothing overflowed on the way.
    let deepest = outcome
        .diagnostics
        .iter()
        .filter(|d| d.rule == "ARM002")
        .filter_map(|d| match &d.location {
            cmek_arm::diag::Location::File { pointer, .. } => {
                Some(pointer.matches("/properties/template/").count())
            }
            _ => None,
        })
        .max();
    assert_eq!(deepest, Some(25), "{:#?}", outcome.diagnostics);
    assert!(outcome.diagnostics.iter().all(|d| d.rule != "ARM001"));
}

#[test]
fn hundred_megabyte_file_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    file.write_all(b"{\"variables\": {\"v\": \"").unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"\"}}").unwrap();
    file.flush().unwrap();
    drop(file);
    assert!(std::fs::metadata(&path).unwrap().len() > 100 * (1 << 20));
    let outcome = run(&[path], &Options::default()).unwrap();
    let message = only_arm001(&outcome);
    assert!(
        message.contains(&format!("{} MiB", MAX_FILE_BYTES >> 20)),
        "{message}"
    );
    // Nothing of it is kept for the report.
    assert!(outcome.sources.values().all(String::is_empty));
}

#[test]
fn unreadable_files_are_usage_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let err = run(&[missing], &Options::default()).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("missing.json"), "{err}");
    // A directory is not a template either.
    let err = run(&[PathBuf::from(dir.path())], &Options::default()).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn a_broken_parameters_file_is_a_finding_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.json");
    std::fs::write(
        &template,
        r#"{"$schema": "s", "contentVersion": "1.0.0.0", "resources": []}"#,
    )
    .unwrap();
    let params = dir.path().join("p.json");
    std::fs::write(&params, b"\x00\x01").unwrap();
    let options = Options {
        parameters: Some(params),
        ..Options::default()
    };
    let outcome = run(&[template], &options).unwrap();
    only_arm001(&outcome);
}

/// Templates built to exhaust a validator (tests/fixtures/hostile): each is
/// answered with the ARM004 finding of the bound it reaches, within the
/// evaluation budget, and everything expanded before it is still checked.
/// Their time and memory are measured in the issue's closing note
/// (`/usr/bin/time -v cmek-arm validate <file>`), not here.
#[test]
fn hostile_templates_stop_at_a_named_bound() {
    use cmek_arm::arm::limits::EVALUATION_BUDGET;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let budget = "cmek-arm's evaluation budget of 2000000 units";
    let whole = "more than 10000 resources with its nested deployments";
    let expected: &[(&str, &[&str])] = &[
        (
            "array-doubling.json",
            &["concat() builds too large an array"],
        ),
        (
            "expanded-over-4mb.json",
            &["more than 4194304 bytes after expansion, ARM's limit for one template"],
        ),
        ("lambda-bomb.json", &[budget]),
        (
            "long-expression.json",
            &["the expression is 25012 characters long; ARM's limit is 24576"],
        ),
        ("nested-12-levels.json", &[whole]),
        ("nested-800-cubed-cmek.json", &[whole]),
        ("nested-800-cubed.json", &[whole]),
        ("object-doubling.json", &[budget]),
        // Found by the fuzzer: 800 copies of 800 property copies (ARM refuses it by size too).
        (
            "property-copies-800x800.json",
            &["more than 4194304 bytes after expansion, ARM's limit for one template"],
        ),
        ("reduce-doubling.json", &[budget]),
        // Found by the fuzzer: 9,600 nested deployments each calling reference().
        ("reference-nested-12x800.json", &[budget]),
        (
            "string-doubling.json",
            &["concat() builds too long a string"],
        ),
        (
            "too-many-declarations.json",
            &[
                "declares 257 parameters; ARM's limit is 256",
                "declares 513 variables; ARM's limit is 512",
                "declares 65 outputs; ARM's limit is 64",
            ],
        ),
        (
            "too-many-resources.json",
            &["more than 800 resources (copies included), ARM's limit for one template"],
        ),
        ("tree-doubling.json", &[budget]),
    ];
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut named: Vec<&str> = expected.iter().map(|(f, _)| *f).collect();
    named.sort();
    assert_eq!(files, named, "every hostile fixture has its expectation");
    for (file, wants) in expected {
        let path = dir.join(file);
        let doc = cmek_arm::arm::json::parse(file, &std::fs::read(&path).unwrap()).unwrap();
        let x = cmek_arm::arm::expand::expand(&doc, None, &Default::default());
        // The charge that runs out may overshoot by one built value, at most
        // a string of the longest length allowed.
        let overshoot = (cmek_arm::arm::limits::MAX_STRING_BYTES / 16) as u64;
        assert!(
            x.work <= EVALUATION_BUDGET + overshoot,
            "{file}: {} units of work",
            x.work
        );
        // The whole pipeline (schema, rules, report) on the same file.
        let outcome = run(&[path], &Options::default()).unwrap();
        let limits: Vec<&str> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.rule == "ARM004" && d.message.starts_with("limit exceeded"))
            .map(|d| d.message.as_str())
            .collect();
        for want in *wants {
            assert!(
                limits.iter().any(|m| m.contains(want)),
                "{file}: no ARM004 saying '{want}' in {limits:#?}"
            );
        }
        assert!(
            outcome
                .diagnostics
                .iter()
                .all(|d| !d.message.contains("internal error")),
            "{file}"
        );
    }
}
