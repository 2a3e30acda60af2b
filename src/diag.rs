//! Diagnostics as data (cargo-deny style): a rule, a level, a message, a primary
//! location and secondary labels. Byte spans become line/column only when printed.

use serde::Serialize;
use std::fmt;

/// How serious a finding is. Ordered: `Note < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Could not be decided, or informational.
    Note,
    /// Probably wrong; fails the run only with `--fail-on warning`.
    Warning,
    /// Breaks a requirement; fails the run.
    Error,
}

impl Level {
    /// The lower-case name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "note" => Ok(Level::Note),
            "warning" => Ok(Level::Warning),
            "error" => Ok(Level::Error),
            other => Err(format!("'{other}' is not a level (note, warning, error)")),
        }
    }
}

/// A half-open byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// Where a finding (or one of its labels) points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A place in a template or parameters file.
    File {
        /// The file as the user named it.
        file: String,
        /// JSON pointer of the value (or of the object that lacks a property).
        pointer: String,
        /// Byte span of that value, when the file was parsed with positions.
        span: Option<Span>,
    },
    /// A live Azure resource, by resource ID.
    Azure {
        /// Full Azure resource ID.
        id: String,
    },
    /// No location (e.g. a problem with the invocation itself).
    None,
}

/// A secondary location with its own message ("value set here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub location: Location,
    /// What happens there.
    pub message: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Rule ID, e.g. `CMK001`.
    pub rule: &'static str,
    /// Level after profile and overrides are applied.
    pub level: Level,
    /// One-sentence message naming the resource and the value.
    pub message: String,
    /// The resource concerned, as `Type/name` (template) or resource ID (live).
    pub resource: Option<String>,
    /// Primary location.
    pub location: Location,
    /// Secondary locations.
    pub labels: Vec<Label>,
}

impl Diagnostic {
    /// A finding at `location` with the rule's default level; levels are
    /// overridden later, in one place (`rules::Settings::apply`).
    pub fn new(
        rule: &'static str,
        level: Level,
        message: impl Into<String>,
        location: Location,
    ) -> Self {
        Diagnostic {
            rule,
            level,
            message: message.into(),
            resource: None,
            location,
            labels: Vec::new(),
        }
    }

    /// Names the resource concerned.
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, location: Location, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            location,
            message: message.into(),
        });
        self
    }
}

/// 1-based line and column (column counted in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_chars() {
        let text = "{\r\n  \"é\": 1\n}";
        assert_eq!(line_col(text, 0), (1, 1));
        let one = text.find('1').unwrap();
        assert_eq!(line_col(text, one), (2, 8));
        assert_eq!(line_col(text, text.len() + 10), (3, 2));
    }

    #[test]
    fn levels_are_ordered() {
        assert!(Level::Error > Level::Warning && Level::Warning > Level::Note);
        assert_eq!("Warning".parse::<Level>(), Ok(Level::Warning));
    }
}
