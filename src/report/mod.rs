//! Reports: one `Emitter` per output format, all reading the same findings.

use crate::diag::Diagnostic;
use std::collections::BTreeMap;
use std::io;

/// Source texts by file name, to turn spans into lines and columns.
pub type Sources = BTreeMap<String, String>;

/// What an emitter prints.
pub struct Report<'a> {
    /// Findings, in the order they are to be printed.
    pub diagnostics: &'a [Diagnostic],
    /// Texts of the files the findings point into.
    pub sources: &'a Sources,
}

/// An output format.
pub trait Emitter {
    /// Writes the whole report.
    fn emit(&self, report: &Report<'_>, out: &mut dyn io::Write) -> io::Result<()>;
}
