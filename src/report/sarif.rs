//! `--format sarif`: SARIF 2.1.0 for code-scanning tools. The driver lists
//! every rule with its documentation; results carry a region (1-based line and
//! column) and labels become `relatedLocations`.

use super::{azure_id, Emitter, Positions, Report};
use crate::diag::Location;
use crate::rules::{self, Rule};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};
use std::io;

/// The SARIF emitter.
pub struct Sarif;

/// Characters a URI reference may not hold literally (RFC 3986), `/` excepted.
const URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'\\');

/// A file name as a SARIF `artifactLocation.uri`: relative names stay relative
/// (resolved against the run's working directory), absolute ones become `file://`.
pub fn file_uri(file: &str) -> String {
    let slashed = file.replace('\\', "/");
    let encoded = utf8_percent_encode(&slashed, URI).to_string();
    if slashed.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

/// The text of a `## Heading` section of a rule's documentation.
pub fn doc_section<'a>(doc: &'a str, heading: &str) -> Option<&'a str> {
    let marker = format!("## {heading}");
    let start = doc.find(&marker)? + marker.len();
    let rest = doc.get(start..)?;
    let end = rest.find("\n## ").unwrap_or(rest.len());
    Some(rest.get(..end)?.trim())
}

fn first_sentence(text: &str) -> String {
    let para = text.split("\n\n").next().unwrap_or(text);
    let joined = para.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.find(". ") {
        Some(i) => joined.get(..=i).unwrap_or(&joined).to_string(),
        None => joined,
    }
}

fn rule_descriptor(rule: &Rule) -> Value {
    let doc = rule.doc();
    let what = doc_section(doc, "What it checks").unwrap_or(rule.name);
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": first_sentence(what)},
        "fullDescription": {"text": what.split_whitespace().collect::<Vec<_>>().join(" ")},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": rule.level.as_str()},
    })
}

fn location(location: &Location, positions: &Positions<'_>) -> Option<Value> {
    if let Some(pos) = positions.of(location) {
        return Some(json!({
            "physicalLocation": {
                "artifactLocation": {"uri": file_uri(pos.file)},
                "region": {
                    "startLine": pos.line,
                    "startColumn": pos.column,
                    "endLine": pos.end_line,
                    "endColumn": pos.end_column,
                },
            },
            "logicalLocations": [{"fullyQualifiedName": pos.pointer, "kind": "member"}],
        }));
    }
    azure_id(location)
        .map(|id| json!({"logicalLocations": [{"fullyQualifiedName": id, "kind": "resource"}]}))
}

/// The SARIF log as a JSON value.
pub fn to_value(report: &Report<'_>) -> Value {
    let positions = Positions::new(report.sources);
    let rule_list: Vec<&Rule> = rules::RULES.iter().collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut result = json!({
                "ruleId": d.rule,
                "level": d.level.as_str(),
                "message": {"text": d.message},
            });
            if let Some(index) = rule_list.iter().position(|r| r.id == d.rule) {
                result["ruleIndex"] = json!(index);
            }
            if let Some(loc) = location(&d.location, &positions) {
                result["locations"] = json!([loc]);
            }
            let related: Vec<Value> = d
                .labels
                .iter()
                .enumerate()
                .filter_map(|(i, label)| {
                    let mut loc = location(&label.location, &positions)?;
                    loc["id"] = json!(i + 1);
                    loc["message"] = json!({"text": label.message});
                    Some(loc)
                })
                .collect();
            if !related.is_empty() {
                result["relatedLocations"] = json!(related);
            }
            if let Some(resource) = &d.resource {
                result["properties"] = json!({"resource": resource});
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cmek-arm",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/cmek-arm/cmek-arm",
                "rules": rule_list.iter().map(|r| rule_descriptor(r)).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

impl Emitter for Sarif {
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
        writeln!(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded_and_absolute_paths_are_file_uris() {
        assert_eq!(file_uri("dir\\my file#1.json"), "dir/my%20file%231.json");
        assert_eq!(file_uri("/tmp/a.json"), "file:///tmp/a.json");
    }

    #[test]
    fn doc_sections_are_found() {
        let doc = "## What it checks\nA thing. More.\n\n## Why it matters\nBecause.";
        assert_eq!(doc_section(doc, "What it checks"), Some("A thing. More."));
        assert_eq!(first_sentence("A thing. More."), "A thing.");
        assert_eq!(doc_section(doc, "Example"), None);
    }
}
