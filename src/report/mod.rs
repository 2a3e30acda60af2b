//! Reports: one `Emitter` per output format, all reading the same findings.
//!
//! Findings carry byte spans; lines and columns are computed here, when printed
//! (cargo-deny style), from the source texts handed over in [`Report::sources`].

use crate::diag::{Diagnostic, Level, Location};
use std::collections::BTreeMap;
use std::io;

pub mod github;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod text;

/// Source texts by file name, to turn spans into lines and columns.
pub type Sources = BTreeMap<String, String>;

/// What an emitter prints.
pub struct Report<'a> {
    /// Findings, in the order they are to be printed (see [`sort`]).
    pub diagnostics: &'a [Diagnostic],
    /// Texts of the files the findings point into (and of every file checked:
    /// formats that list checked files, like JUnit, read the keys).
    pub sources: &'a Sources,
}

/// An output format.
pub trait Emitter {
    /// Writes the whole report.
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()>;
}

/// The output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable, ruff-like, with source excerpts.
    Text,
    /// The version-1 JSON report of CLI.md.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
    /// GitHub Actions workflow commands.
    Github,
}

impl Format {
    /// Every format, in `--help` order.
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Github => "github",
        }
    }

    /// The emitter for this format; `color` only matters for text.
    pub fn emitter(self, color: bool) -> Box<dyn Emitter> {
        match self {
            Format::Text => Box::new(text::Text { color }),
            Format::Json => Box::new(json::Json),
            Format::Sarif => Box::new(sarif::Sarif),
            Format::Junit => Box::new(junit::Junit),
            Format::Github => Box::new(github::Github),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("'{s}' is not a format (text, json, sarif, junit, github)"))
    }
}

/// Colour for terminals only, and never when `NO_COLOR` is set to a non-empty
/// value (<https://no-color.org>).
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && io::stdout().is_terminal()
}

/// A location resolved for printing: file, pointer, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position<'a> {
    /// File as the user named it.
    pub file: &'a str,
    /// JSON pointer.
    pub pointer: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// 1-based line where the span ends.
    pub end_line: usize,
    /// 1-based column just past the span's end.
    pub end_column: usize,
}

/// Where `location` is, in lines and columns (`None` for live or location-less findings).
pub fn position<'a>(location: &'a Location, sources: &Sources) -> Option<Position<'a>> {
    Positions::new(sources).of(location)
}

/// Turns locations into lines and columns, indexing each file's line starts
/// once: a report with hundreds of findings in one large template must not
/// rescan the file from its start for every finding. Long lines (minified
/// templates are one line of megabytes) also get a character index, so a
/// column or an excerpt costs at most [`CHAR_STEP`] characters of scanning,
/// not the line up to the finding (2,737 findings on a 1.9 MB line took 7 s).
pub struct Positions<'s> {
    sources: &'s Sources,
    line_starts: std::cell::RefCell<BTreeMap<&'s str, std::rc::Rc<Vec<usize>>>>,
    char_marks: std::cell::RefCell<BTreeMap<(&'s str, usize), std::rc::Rc<CharMarks>>>,
}

/// Lines longer than this many bytes get a [`CharMarks`] index.
const CHAR_STEP: usize = 1024;

/// Where every [`CHAR_STEP`]th character of a long line starts (bytes from the
/// line's start), and how many characters the line has.
struct CharMarks {
    marks: Vec<usize>,
    chars: usize,
}

impl CharMarks {
    fn new(line: &str) -> Self {
        let mut marks = Vec::with_capacity(line.len() / CHAR_STEP + 1);
        let mut chars = 0;
        for (i, (b, _)) in line.char_indices().enumerate() {
            if i % CHAR_STEP == 0 {
                marks.push(b);
            }
            chars = i + 1;
        }
        CharMarks { marks, chars }
    }
}

impl<'s> Positions<'s> {
    /// An empty index over `sources`.
    pub fn new(sources: &'s Sources) -> Self {
        Positions {
            sources,
            line_starts: std::cell::RefCell::new(BTreeMap::new()),
            char_marks: std::cell::RefCell::new(BTreeMap::new()),
        }
    }

    /// The character index of a long `line` of `file` (its text is `text`), built on first use.
    fn char_marks(&self, file: &'s str, line: usize, text: &str) -> std::rc::Rc<CharMarks> {
        self.char_marks
            .borrow_mut()
            .entry((file, line))
            .or_insert_with(|| std::rc::Rc::new(CharMarks::new(text)))
            .clone()
    }

    /// Characters in `text[..byte]`, where `text` is 1-based `line` of `file`;
    /// 0 when `byte` is not a character boundary.
    fn chars_before(&self, file: &'s str, line: usize, text: &str, byte: usize) -> usize {
        if !text.is_char_boundary(byte) {
            return 0;
        }
        if text.len() <= CHAR_STEP {
            return text.get(..byte).map_or(0, |s| s.chars().count());
        }
        let index = self.char_marks(file, line, text);
        let k = index
            .marks
            .partition_point(|&m| m <= byte)
            .saturating_sub(1);
        let mark = index.marks.get(k).copied().unwrap_or(0);
        k * CHAR_STEP + text.get(mark..byte).map_or(0, |s| s.chars().count())
    }

    /// The byte offset of character `n` of `text` (1-based `line` of `file`),
    /// or its length when the line is shorter.
    fn byte_of_char(&self, file: &'s str, line: usize, text: &str, n: usize) -> usize {
        let (mark, skip) = if text.len() <= CHAR_STEP {
            (0, n)
        } else {
            let index = self.char_marks(file, line, text);
            match index.marks.get(n / CHAR_STEP) {
                Some(&m) => (m, n % CHAR_STEP),
                None => return text.len(),
            }
        };
        text.get(mark..)
            .and_then(|s| s.char_indices().nth(skip))
            .map_or(text.len(), |(b, _)| mark + b)
    }

    /// The length in characters of 1-based `line` of `file` without its line
    /// end (`\n`, trailing `\r`s), and its characters `from..to`; in time
    /// independent of the line's length.
    pub fn line_window(
        &self,
        file: &str,
        line: usize,
        from: usize,
        to: usize,
    ) -> Option<(usize, &'s str)> {
        let (name, _) = self.sources.get_key_value(file)?;
        let text = self.line_text(file, line)?;
        let trimmed = text.trim_end_matches('\r');
        let chars = if text.len() <= CHAR_STEP {
            trimmed.chars().count()
        } else {
            // Each '\r' trimmed is one byte and one character.
            self.char_marks(name, line, text).chars - (text.len() - trimmed.len())
        };
        let start = self.byte_of_char(name, line, text, from.min(chars));
        let end = self.byte_of_char(name, line, text, to.min(chars));
        Some((
            chars,
            trimmed.get(start..end.max(start)).unwrap_or_default(),
        ))
    }

    /// Byte offsets where the lines of `file` start, indexed on first use.
    fn line_starts(&self, file: &str) -> Option<(&'s str, std::rc::Rc<Vec<usize>>)> {
        let (name, text) = self.sources.get_key_value(file)?;
        let starts = self
            .line_starts
            .borrow_mut()
            .entry(name.as_str())
            .or_insert_with(|| {
                let mut starts = vec![0];
                starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
                std::rc::Rc::new(starts)
            })
            .clone();
        Some((text.as_str(), starts))
    }

    fn line_col(&self, file: &str, offset: usize) -> Option<(usize, usize)> {
        let (name, _) = self.sources.get_key_value(file)?;
        let (text, starts) = self.line_starts(file)?;
        let offset = offset.min(text.len());
        let line = starts.partition_point(|&s| s <= offset).max(1);
        let start = starts.get(line - 1).copied().unwrap_or(0);
        let end = starts.get(line).map_or(text.len(), |next| next - 1);
        let line_text = text.get(start..end).unwrap_or_default();
        let column = self.chars_before(name, line, line_text, offset.saturating_sub(start));
        Some((line, column + 1))
    }

    /// The text of 1-based `line` of `file`, without its line end.
    pub fn line_text(&self, file: &str, line: usize) -> Option<&'s str> {
        let (text, starts) = self.line_starts(file)?;
        let start = *starts.get(line.checked_sub(1)?)?;
        let end = starts.get(line).map_or(text.len(), |next| next - 1);
        text.get(start..end)
    }

    /// Where `location` is (`None` for live or location-less findings).
    pub fn of<'a>(&self, location: &'a Location) -> Option<Position<'a>> {
        let Location::File {
            file,
            pointer,
            span,
        } = location
        else {
            return None;
        };
        let found = span.and_then(|span| {
            Some((
                self.line_col(file, span.start)?,
                self.line_col(file, span.end)?,
            ))
        });
        // Without a span (or the text) the best honest answer is the file's start.
        let (start, end) = found.unwrap_or(((1, 1), (1, 1)));
        Some(Position {
            file,
            pointer,
            line: start.0,
            column: start.1,
            end_line: end.0,
            end_column: end.1,
        })
    }
}

/// The Azure resource ID of a live finding.
pub fn azure_id(location: &Location) -> Option<&str> {
    match location {
        Location::Azure { id } => Some(id),
        _ => None,
    }
}

/// Sorts findings deterministically: file, line, column, rule, then message.
/// Live findings (no file) come after file findings, ordered by resource ID.
pub fn sort(diagnostics: &mut [Diagnostic], sources: &Sources) {
    let positions = Positions::new(sources);
    diagnostics.sort_by_cached_key(|d| {
        let pos = positions.of(&d.location);
        (
            pos.is_none(),
            pos.as_ref().map(|p| p.file.to_string()),
            pos.as_ref().map_or(0, |p| p.line),
            pos.as_ref().map_or(0, |p| p.column),
            azure_id(&d.location).map(str::to_string),
            d.rule,
            d.message.clone(),
        )
    });
}

/// Counts of findings per level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Errors.
    pub error: usize,
    /// Warnings.
    pub warning: usize,
    /// Notes.
    pub note: usize,
}

impl Summary {
    /// Counts `diagnostics` by level.
    pub fn of(diagnostics: &[Diagnostic]) -> Self {
        let mut s = Summary::default();
        for d in diagnostics {
            match d.level {
                Level::Error => s.error += 1,
                Level::Warning => s.warning += 1,
                Level::Note => s.note += 1,
            }
        }
        s
    }
}

/// The rule's kebab-case name, or "" for an ID the registry does not know.
pub fn rule_name(id: &str) -> &'static str {
    crate::rules::find(id).map_or("", |r| r.name)
}

/// Writes `diagnostics` in `format` to `out` and flushes it.
pub fn write(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    format: Format,
    color: bool,
    out: &mut dyn io::Write,
) -> crate::Result<()> {
    let report = Report {
        diagnostics,
        sources,
    };
    format
        .emitter(color)
        .emit(&report, out)
        .and_then(|()| out.flush())
        .map_err(|e| crate::Error::Usage(format!("cannot write the report: {e}")))
}

/// The exit code for findings (CLI.md): 1 if any is at or above `fail_on`, else 0.
pub fn exit_code(diagnostics: &[Diagnostic], fail_on: crate::diag::Level) -> u8 {
    u8::from(diagnostics.iter().any(|d| d.level >= fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{line_col, Span};

    #[test]
    fn indexed_positions_agree_with_line_col() {
        let text = "{\r\n  \"é\": [1,\n 2]\n}\n";
        let mut sources = Sources::new();
        sources.insert("t.json".into(), text.into());
        let positions = Positions::new(&sources);
        assert_every_offset_agrees(&positions, text);
    }

    /// Line and column of every character boundary of `text` (file `t.json`)
    /// are what counting from the file's start gives.
    fn assert_every_offset_agrees(positions: &Positions<'_>, text: &str) {
        for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
            let loc = Location::File {
                file: "t.json".into(),
                pointer: String::new(),
                span: Some(Span::new(offset, offset)),
            };
            let p = positions.of(&loc).unwrap();
            assert_eq!(
                (p.line, p.column),
                line_col(text, offset),
                "offset {offset}"
            );
        }
    }

    /// Lines longer than CHAR_STEP are indexed by characters: columns and
    /// windows must be what counting from the line's start gives.
    #[test]
    fn long_lines_agree_with_line_col_and_chars() {
        let long: String = (0..3 * CHAR_STEP)
            .map(|i| ['a', 'é', '€', '\t', '𝄞'][i % 5])
            .collect();
        let text = format!("{{\r\n\"x\": \"{long}\"\r\r\n{long}");
        let mut sources = Sources::new();
        sources.insert("t.json".into(), text.clone());
        let positions = Positions::new(&sources);
        assert_every_offset_agrees(&positions, &text);
        for line in 1..=3 {
            let whole = positions
                .line_text("t.json", line)
                .unwrap()
                .trim_end_matches('\r');
            let chars: Vec<char> = whole.chars().collect();
            let n = chars.len();
            for (from, to) in [
                (0, 0),
                (0, 120),
                (1023, 1025),
                (n.saturating_sub(5), n + 10),
                (n + 3, n + 9),
            ] {
                let (len, window) = positions.line_window("t.json", line, from, to).unwrap();
                assert_eq!(len, n, "line {line}");
                let want: String = chars
                    .get(from.min(n)..to.min(n).max(from.min(n)))
                    .unwrap()
                    .iter()
                    .collect();
                assert_eq!(window, want, "line {line}, {from}..{to}");
            }
        }
    }
}
