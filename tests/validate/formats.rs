//! The report formats, on hand-made findings: a template finding with a label
//! and a live finding (Azure resource ID, no file).

use cmek_arm::diag::{Diagnostic, Level, Location, Span};
use cmek_arm::report::{self, Format, Report, Sources};
use serde_json::Value;

const TEMPLATE: &str =
    "{\n  \"resources\": [\n    {\"location\": \"eastus\", \"x\": \"a,b:c\"}\n  ]\n}\n";

fn findings() -> (Vec<Diagnostic>, Sources) {
    let mut sources = Sources::new();
    sources.insert("dir/t 1.json".into(), TEMPLATE.into());
    let at = |needle: &str| {
        let start = TEMPLATE.find(needle).unwrap();
        Some(Span::new(start, start + needle.len()))
    };
    let file = |pointer: &str, span| Location::File {
        file: "dir/t 1.json".into(),
        pointer: pointer.into(),
        span,
    };
    let mut diags = vec![
        Diagnostic::new(
            "ARM007",
            Level::Warning,
            "hard-coded location 'eastus'\nsecond line 100%",
            file("/resources/0/location", at("\"eastus\"")),
        )
        .with_resource("Microsoft.KeyVault/vaults/kv1")
        .with_label(
            file("/resources/0", at("{\"location\"")),
            "resource declared here",
        ),
        Diagnostic::new(
            "ARM002",
            Level::Error,
            "bad <value> & \"quote\"",
            file("/resources/0/x", at("\"a,b:c\"")),
        ),
        Diagnostic::new(
            "ARM006",
            Level::Note,
            "live finding",
            Location::Azure {
                id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
                    .into(),
            },
        ),
    ];
    report::sort(&mut diags, &sources);
    (diags, sources)
}

fn render(format: Format, color: bool) -> String {
    let (diags, sources) = findings();
    let mut out = Vec::new();
    format
        .emitter(color)
        .emit(
            &Report {
                diagnostics: &diags,
                sources: &sources,
            },
            &mut out,
        )
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn findings_sort_by_file_line_column_then_live() {
    let (diags, _) = findings();
    let rules: Vec<&str> = diags.iter().map(|d| d.rule).collect();
    assert_eq!(rules, vec!["ARM007", "ARM002", "ARM006"]);
}

#[test]
fn json_is_the_version_1_contract() {
    let v: Value = serde_json::from_str(&render(Format::Json, false)).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["tool"]["name"], "cmek-arm");
    assert_eq!(
        v["summary"],
        serde_json::json!({"error": 1, "warning": 1, "note": 1})
    );
    let first = v["findings"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["rule", "name", "level", "message", "resource", "file", "pointer", "line", "column"]
    );
    assert_eq!(first["name"], "hardcoded-location");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(3), Some(18))
    );
    let live = v["findings"][2].as_object().unwrap();
    assert_eq!(
        live.keys().map(String::as_str).collect::<Vec<_>>(),
        ["rule", "name", "level", "message", "resource"]
    );
    assert!(live["resource"]
        .as_str()
        .unwrap()
        .starts_with("/subscriptions/"));
}

#[test]
fn sarif_follows_the_2_1_0_structure() {
    let log: Value = serde_json::from_str(&render(Format::Sarif, false)).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("sarif-2.1.0-subset.schema.json")).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path().as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The subset schema is strict enough to catch a misspelt or missing property.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    broken["runs"][0]["results"][1]["mesage"] = broken["runs"][0]["results"][1]["message"].take();
    assert_eq!(validator.iter_errors(&broken).count(), 3);

    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), cmek_arm::rules::RULES.len());
    for result in run["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
    let first = &run["results"][0];
    let region = &first["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(3), Some(18))
    );
    assert_eq!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "dir/t%201.json"
    );
    assert_eq!(
        first["relatedLocations"][0]["message"]["text"],
        "resource declared here"
    );
    let live = &run["results"][2];
    assert!(live["locations"][0].get("physicalLocation").is_none());
    assert_eq!(
        live["locations"][0]["logicalLocations"][0]["kind"],
        "resource"
    );
    // Each rule's help is its documentation.
    let arm007 = rules.iter().find(|r| r["id"] == "ARM007").unwrap();
    assert!(arm007["help"]["text"]
        .as_str()
        .unwrap()
        .contains("## How to fix"));
    assert_eq!(arm007["defaultConfiguration"]["level"], "warning");
}

#[test]
fn github_annotations_escape_data_and_properties() {
    let out = render(Format::Github, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "::warning file=dir/t 1.json,line=3,col=18,title=ARM007::hard-coded location 'eastus'%0Asecond line 100%25",
            "::error file=dir/t 1.json,line=3,col=33,title=ARM002::bad <value> & \"quote\"",
            "::notice title=ARM006::/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1: live finding",
        ]
    );
}

#[test]
fn junit_escapes_and_groups_by_file() {
    let out = render(Format::Junit, false);
    assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    assert_eq!(out.matches("<testsuite ").count(), 2, "{out}");
    assert!(
        out.contains("message=\"bad &lt;value&gt; &amp; &quot;quote&quot;\""),
        "{out}"
    );
    assert_eq!(out.matches("<failure ").count(), 3);
    assert_eq!(
        out.matches("<testsuite").count(),
        out.matches("</testsuite").count()
    );
}

#[test]
fn text_colours_only_when_asked() {
    let plain = render(Format::Text, false);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains("dir/t 1.json:3:18: ARM007 [warning] hard-coded location"));
    assert!(
        plain.contains("  = dir/t 1.json:3:5: resource declared here"),
        "{plain}"
    );
    assert!(
        plain.ends_with("Found 3 findings: 1 error, 1 warning, 1 note.\n"),
        "{plain}"
    );
    let coloured = render(Format::Text, true);
    assert!(
        coloured.contains("\x1b[1;33m[warning]\x1b[0m"),
        "{coloured}"
    );
}

#[test]
fn text_cuts_long_lines_around_the_caret() {
    let line = format!(
        "{{\"pad\": \"{}\", \"location\": \"eastus\"}}",
        "x".repeat(5000)
    );
    let start = line.find("\"eastus\"").unwrap();
    let mut sources = Sources::new();
    sources.insert("min.json".into(), line.clone());
    let d = Diagnostic::new(
        "ARM007",
        Level::Warning,
        "hard-coded",
        Location::File {
            file: "min.json".into(),
            pointer: "/location".into(),
            span: Some(Span::new(start, start + 8)),
        },
    );
    let mut out = Vec::new();
    Format::Text
        .emitter(false)
        .emit(
            &Report {
                diagnostics: &[d],
                sources: &sources,
            },
            &mut out,
        )
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[2].len() < 200, "{}", lines[2]);
    // Columns on screen are characters ("…" is one), not bytes.
    let col = |l: &str, pat: &str| l[..l.find(pat).unwrap()].chars().count();
    assert_eq!(col(lines[3], "^"), col(lines[2], "\"eastus\""), "{out}");
    assert_eq!(lines[3].matches('^').count(), 8);
}
