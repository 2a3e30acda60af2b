//! One fixture per template rule with passing and failing cases; the rendered
//! findings are a reviewed snapshot (ruff style).

use cmek_arm::arm::expand::{expand, Context};
use cmek_arm::arm::json;
use cmek_arm::diag::{line_col, Diagnostic, Location};
use cmek_arm::rules::{Check, TemplateInput, RULES};

fn render(doc: &json::Document, diags: &[Diagnostic]) -> String {
    let mut lines: Vec<String> = diags
        .iter()
        .map(|d| {
            let (pointer, (line, col)) = match &d.location {
                Location::File { pointer, span, .. } => (
                    pointer.as_str(),
                    span.map_or((0, 0), |s| line_col(&doc.text, s.start)),
                ),
                _ => ("", (0, 0)),
            };
            format!(
                "{} {} {}:{line}:{col} {pointer}: {}",
                d.rule, d.level, doc.file, d.message
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Runs the engine and every template rule of `ids` over a fixture.
fn run(fixture: &str, ids: &[&str]) -> String {
    let path = format!(
        "{}/tests/fixtures/rules/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc = json::parse(fixture, &std::fs::read(path).unwrap()).unwrap();
    let x = expand(&doc, None, &Context::default());
    let mut diags: Vec<Diagnostic> = x
        .diagnostics
        .into_iter()
        .filter(|d| ids.contains(&d.rule))
        .collect();
    let input = TemplateInput {
        template: &doc,
        parameters: None,
    };
    for rule in RULES.iter().filter(|r| ids.contains(&r.id)) {
        if let Check::Template(check) = rule.check {
            check(&input, &mut diags);
        }
    }
    render(&doc, &diags)
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn arm003_and_arm004() {
    let text = run("arm003_arm004.json", &["ARM003", "ARM004"]);
    assert!(!text.contains("/variables/ok"), "[[ is a literal:\n{text}");
    snapshot("rule_arm003_arm004", &text);
}

#[test]
fn arm005_unused_declaration() {
    let text = run("arm005.json", &["ARM005"]);
    assert!(
        !text.contains("'used'") && !text.contains("'vaultName'") && !text.contains("'innerUsed'"),
        "{text}"
    );
    snapshot("rule_arm005", &text);
}

#[test]
fn arm008_nondeterministic_name() {
    let text = run("arm008.json", &["ARM008"]);
    assert!(
        !text.contains("/resources/0/") && !text.contains("/resources/1/"),
        "{text}"
    );
    snapshot("rule_arm008", &text);
}

#[test]
fn arm010_secret_exposure() {
    let text = run("arm010.json", &["ARM010"]);
    assert!(
        !text.contains("securePassword") && !text.contains("output 'name'"),
        "{text}"
    );
    assert!(
        !text.contains("'emptyDefault' has a literal"),
        "an empty default is no secret:\n{text}"
    );
    snapshot("rule_arm010", &text);
}
