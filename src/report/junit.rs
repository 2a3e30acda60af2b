//! `--format junit`: JUnit XML for CI test tabs. One `testsuite` per file
//! checked (live findings: one per resource), one `testcase` per rule and
//! resource with findings, one `failure` per finding; a file without findings
//! gets one passing test case so it shows up as checked.

use super::{azure_id, rule_name, Emitter, Positions, Report};
use crate::diag::Diagnostic;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

/// The JUnit emitter.
pub struct Junit;

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// (suite, testcase name) -> findings.
type Cases<'a> = BTreeMap<String, Vec<&'a Diagnostic>>;

impl Emitter for Junit {
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        let positions = Positions::new(report.sources);
        let mut suites: BTreeMap<String, Cases<'_>> = report
            .sources
            .keys()
            .map(|f| (f.clone(), Cases::new()))
            .collect();
        for d in report.diagnostics {
            let suite = match (positions.of(&d.location), azure_id(&d.location)) {
                (Some(pos), _) => pos.file.to_string(),
                (None, Some(id)) => id.to_string(),
                (None, None) => "cmek-arm".to_string(),
            };
            let resource = d.resource.as_deref().unwrap_or("template");
            let case = format!("{} {}: {resource}", d.rule, rule_name(d.rule));
            suites
                .entry(suite)
                .or_default()
                .entry(case)
                .or_default()
                .push(d);
        }
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        // JUnit counts failed test cases, not failure elements.
        let total_cases: usize = suites.values().map(|c| c.len().max(1)).sum();
        let total_failures: usize = suites.values().map(BTreeMap::len).sum();
        let _ = writeln!(
            xml,
            "<testsuites name=\"cmek-arm\" tests=\"{total_cases}\" failures=\"{total_failures}\">"
        );
        for (suite, cases) in &suites {
            let failures = cases.len();
            let _ = writeln!(
                xml,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
                xml_escape(suite),
                cases.len().max(1)
            );
            if cases.is_empty() {
                let _ = writeln!(
                    xml,
                    "    <testcase name=\"no findings\" classname=\"{}\"/>",
                    xml_escape(suite)
                );
            }
            for (case, findings) in cases {
                let _ = writeln!(
                    xml,
                    "    <testcase name=\"{}\" classname=\"{}\">",
                    xml_escape(case),
                    xml_escape(suite)
                );
                for d in findings {
                    let at = match positions.of(&d.location) {
                        Some(p) => format!("{}:{}:{}: ", p.file, p.line, p.column),
                        None => String::new(),
                    };
                    let _ = writeln!(
                        xml,
                        "      <failure type=\"{}\" message=\"{}\">{}{} [{}] {}</failure>",
                        d.rule,
                        xml_escape(&d.message),
                        xml_escape(&at),
                        d.rule,
                        d.level,
                        xml_escape(&d.message)
                    );
                }
                let _ = writeln!(xml, "    </testcase>");
            }
            let _ = writeln!(xml, "  </testsuite>");
        }
        xml.push_str("</testsuites>\n");
        out.write_all(xml.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            xml_escape("a<b & 'c'\u{1}\"d\""),
            "a&lt;b &amp; &apos;c&apos;&quot;d&quot;"
        );
    }
}
