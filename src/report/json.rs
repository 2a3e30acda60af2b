//! `--format json`: exactly the version-1 report of CLI.md. Template findings
//! carry file, pointer, line and column; live findings carry the Azure resource
//! ID in `resource` and no file fields.

use super::{azure_id, rule_name, Emitter, Positions, Report, Summary};
use serde_json::{json, Map, Value};
use std::io;

/// The JSON emitter.
pub struct Json;

/// The report as a JSON value (also used by tests and by callers embedding it).
pub fn to_value(report: &Report<'_>) -> Value {
    let positions = Positions::new(report.sources);
    let findings: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| finding(d, &positions))
        .collect();
    let s = Summary::of(report.diagnostics);
    json!({
        "version": 1,
        "tool": {"name": "cmek-arm", "version": env!("CARGO_PKG_VERSION")},
        "findings": findings,
        "summary": {"error": s.error, "warning": s.warning, "note": s.note},
    })
}

/// One finding as the report's `findings` hold it (also a jsonl line's).
pub fn finding(d: &crate::diag::Diagnostic, positions: &Positions<'_>) -> Value {
    let mut f = Map::new();
    f.insert("rule".into(), json!(d.rule));
    f.insert("name".into(), json!(rule_name(d.rule)));
    f.insert("level".into(), json!(d.level.as_str()));
    f.insert("message".into(), json!(d.message));
    let resource = d.resource.as_deref().or_else(|| azure_id(&d.location));
    f.insert("resource".into(), json!(resource));
    if let Some(pos) = positions.of(&d.location) {
        f.insert("file".into(), json!(pos.file));
        f.insert("pointer".into(), json!(pos.pointer));
        f.insert("line".into(), json!(pos.line));
        f.insert("column".into(), json!(pos.column));
    }
    Value::Object(f)
}

impl Emitter for Json {
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
        writeln!(out)
    }
}
