//! `--format text`: ruff-like. One header line per finding
//! (`file:line:col: RULE [level] message`), the source line with a caret under
//! the value, labels as `= ...` lines, and a summary line at the end.

use super::{azure_id, Emitter, Position, Positions, Report, Summary};
use crate::diag::{Diagnostic, Level};
use std::io;

/// Widest source excerpt printed; minified templates have megabyte-long lines.
const MAX_EXCERPT_CHARS: usize = 120;
/// Characters kept before the caret when a long line is cut.
const CONTEXT_BEFORE: usize = 40;

/// The text emitter.
pub struct Text {
    /// ANSI colours (only on a terminal, and not with `NO_COLOR`).
    pub color: bool,
}

struct Paint(bool);

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn level(&self, level: Level) -> String {
        let code = match level {
            Level::Error => "1;31",
            Level::Warning => "1;33",
            Level::Note => "1;36",
        };
        self.paint(code, &format!("[{level}]"))
    }
}

impl Emitter for Text {
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()> {
        let p = Paint(self.color);
        let positions = Positions::new(report.sources);
        for d in report.diagnostics {
            write_one(&p, d, &positions, out)?;
        }
        let s = Summary::of(report.diagnostics);
        let total = s.error + s.warning + s.note;
        if total == 0 {
            writeln!(out, "{}", p.paint("1;32", "All checks passed."))?;
        } else {
            writeln!(
                out,
                "Found {total} finding{}: {} error{}, {} warning{}, {} note{}.",
                plural(total),
                s.error,
                plural(s.error),
                s.warning,
                plural(s.warning),
                s.note,
                plural(s.note)
            )?;
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn write_one(
    p: &Paint,
    d: &Diagnostic,
    positions: &Positions<'_>,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let pos = positions.of(&d.location);
    let place = match (&pos, azure_id(&d.location)) {
        (Some(pos), _) => format!("{}:{}:{}", pos.file, pos.line, pos.column),
        (None, Some(id)) => id.to_string(),
        (None, None) => "cmek-arm".to_string(),
    };
    writeln!(
        out,
        "{}: {} {} {}",
        p.paint("1", &place),
        p.paint("1", d.rule),
        p.level(d.level),
        d.message
    )?;
    if let Some(pos) = &pos {
        excerpt(p, positions, pos, out)?;
    }
    // `=` lines line up with the excerpt's `|` gutter.
    let pad = " ".repeat(pos.as_ref().map_or(1, |p| p.line.to_string().len()));
    if let Some(resource) = &d.resource {
        if pos.is_some() {
            writeln!(out, "{pad} {} resource: {resource}", p.paint("34", "="))?;
        }
    }
    for label in &d.labels {
        let at = match (positions.of(&label.location), azure_id(&label.location)) {
            (Some(lp), _) => format!("{}:{}:{}: ", lp.file, lp.line, lp.column),
            (None, Some(id)) => format!("{id}: "),
            (None, None) => String::new(),
        };
        writeln!(out, "{pad} {} {at}{}", p.paint("34", "="), label.message)?;
    }
    Ok(())
}

/// The source line with a caret under the span (cut to a window on long lines;
/// only the window is read, so a minified template's megabyte line costs no
/// more per finding than a short one).
fn excerpt(
    p: &Paint,
    positions: &Positions<'_>,
    pos: &Position<'_>,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let Some((len, _)) = positions.line_window(pos.file, pos.line, 0, 0) else {
        return Ok(());
    };
    let col = pos.column.saturating_sub(1).min(len);
    let end = if pos.end_line == pos.line {
        pos.end_column
            .saturating_sub(1)
            .clamp(col + 1, len.max(col + 1))
    } else {
        len.max(col + 1)
    };
    let (from, prefix) = if len > MAX_EXCERPT_CHARS && col > CONTEXT_BEFORE {
        (col - CONTEXT_BEFORE, "…")
    } else {
        (0, "")
    };
    let to = len.min(from + MAX_EXCERPT_CHARS);
    let suffix = if to < len { "…" } else { "" };
    let shown: String = positions
        .line_window(pos.file, pos.line, from, to)
        .map(|(_, w)| w)
        .unwrap_or_default()
        .chars()
        .map(|c| if c == '\t' || c.is_control() { ' ' } else { c })
        .collect();
    let caret_at = col - from + prefix.chars().count();
    let carets = end.min(to.max(col + 1)) - col;
    let gutter = pos.line.to_string();
    let pad = " ".repeat(gutter.len());
    writeln!(out, "{pad} {}", p.paint("34", "|"))?;
    writeln!(
        out,
        "{} {} {prefix}{shown}{suffix}",
        p.paint("34", &gutter),
        p.paint("34", "|")
    )?;
    writeln!(
        out,
        "{pad} {} {}{}",
        p.paint("34", "|"),
        " ".repeat(caret_at),
        p.paint("1;31", &"^".repeat(carets.max(1)))
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Sources;

    /// The excerpt as it was written before it read only its window: it
    /// collected the whole line, so it is the reference for what to print.
    fn whole_line_excerpt(line: &str, pos: &Position<'_>) -> String {
        let chars: Vec<char> = line
            .trim_end_matches('\r')
            .chars()
            .map(|c| if c == '\t' || c.is_control() { ' ' } else { c })
            .collect();
        let col = pos.column.saturating_sub(1).min(chars.len());
        let end = if pos.end_line == pos.line {
            pos.end_column
                .saturating_sub(1)
                .clamp(col + 1, chars.len().max(col + 1))
        } else {
            chars.len().max(col + 1)
        };
        let (from, prefix) = if chars.len() > MAX_EXCERPT_CHARS && col > CONTEXT_BEFORE {
            (col - CONTEXT_BEFORE, "…")
        } else {
            (0, "")
        };
        let to = chars.len().min(from + MAX_EXCERPT_CHARS);
        let suffix = if to < chars.len() { "…" } else { "" };
        let shown: String = chars.get(from..to).unwrap_or_default().iter().collect();
        let caret_at = col - from + prefix.chars().count();
        let carets = end.min(to.max(col + 1)) - col;
        let gutter = pos.line.to_string();
        let pad = " ".repeat(gutter.len());
        format!(
            "{pad} |\n{gutter} | {prefix}{shown}{suffix}\n{pad} | {}{}\n",
            " ".repeat(caret_at),
            "^".repeat(carets.max(1))
        )
    }

    /// A minified template is one long line: findings anywhere on it, on a
    /// short line and on a CRLF line print what reading the whole line printed.
    #[test]
    fn excerpts_of_long_lines_read_only_their_window() {
        let long: String = (0..5000)
            .map(|i| ['a', 'é', '\t', '€', '𝄞', '\u{1}'][i % 6])
            .collect();
        let text = format!("{{\r\n  \"k\": 1,\r\r\n{long}\n{long}\r\n");
        let mut sources = Sources::new();
        sources.insert("t.json".into(), text.clone());
        let positions = Positions::new(&sources);
        for line in 1..=4 {
            let whole = positions.line_text("t.json", line).unwrap();
            let n = whole.chars().count();
            for column in [
                1,
                2,
                41,
                42,
                100,
                1024,
                1025,
                2500,
                n.saturating_sub(3),
                n + 1,
                n + 50,
            ] {
                for (end_line, end_column) in [
                    (line, column + 1),
                    (line, column + 7),
                    (line, column + 500),
                    (line, 1),
                    (line + 1, 3),
                ] {
                    let pos = Position {
                        file: "t.json",
                        pointer: "",
                        line,
                        column,
                        end_line,
                        end_column,
                    };
                    let mut out = Vec::new();
                    excerpt(&Paint(false), &positions, &pos, &mut out).unwrap();
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        whole_line_excerpt(whole, &pos),
                        "line {line}, columns {column}..{end_column} (end line {end_line})"
                    );
                }
            }
        }
    }
}
