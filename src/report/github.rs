//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding (`::error file=..,line=..,col=..,title=RULE::message`), escaped as
//! the runner expects (data: `%`, CR, LF; properties also `:` and `,`).

use super::{azure_id, Emitter, Positions, Report};
use crate::diag::Level;
use std::io;

/// The GitHub Actions emitter.
pub struct Github;

/// Escapes a command's message (data part).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl Emitter for Github {
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        let positions = Positions::new(report.sources);
        for d in report.diagnostics {
            let command = match d.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Note => "notice",
            };
            let mut props = Vec::new();
            let mut message = d.message.clone();
            if let Some(pos) = positions.of(&d.location) {
                props.push(format!("file={}", escape_property(pos.file)));
                props.push(format!("line={}", pos.line));
                props.push(format!("col={}", pos.column));
            } else if let Some(id) = azure_id(&d.location) {
                // Annotations without a file still need to say which resource.
                message = format!("{id}: {message}");
            }
            props.push(format!("title={}", escape_property(d.rule)));
            writeln!(
                out,
                "::{command} {}::{}",
                props.join(","),
                escape_data(&message)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_runner_spec() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("C:\\a,b.json"), "C%3A\\a%2Cb.json");
    }
}
