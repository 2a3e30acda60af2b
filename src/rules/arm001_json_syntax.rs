//! ## What it checks
//!
//! That each template and parameters file is valid JSON. Comments (`//` and
//! `/* */`), a byte-order mark and CRLF line ends are accepted, as Azure Resource
//! Manager accepts them. Anything else (a trailing comma, a missing quote,
//! invalid UTF-8, binary data, nesting deeper than 512 levels) is reported once,
//! at the line and column of the first error; the other checks then skip the file.
//!
//! ## Why it matters
//!
//! Azure rejects the whole deployment when the template does not parse, usually
//! with a less precise position than the editor's. Nothing else can be checked
//! in a file that does not parse.
//!
//! ## Example
//!
//! ```json
//! {
//!   "contentVersion": "1.0.0.0",
//!   "resources": [],
//! }
//! ```
//!
//! The comma after `[]` is not JSON: `t.json:3:18: ARM001 [error] Trailing comma`.
//!
//! ## How to fix
//!
//! Fix the file at the reported position; an editor with JSON support (or
//! `python -m json.tool`) shows the same place. Save the file as UTF-8.
//!
//! ## References
//!
//! - <https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax>
//! - RFC 8259, The JavaScript Object Notation (JSON) Data Interchange Format

use crate::arm::json::SyntaxError;
use crate::diag::{Diagnostic, Level, Location};

/// Rule ID.
pub const ID: &str = "ARM001";

/// The finding for a file that does not parse.
pub fn diagnostic(err: &SyntaxError) -> Diagnostic {
    Diagnostic::new(
        ID,
        Level::Error,
        format!("not valid JSON: {}", err.message),
        Location::File {
            file: err.file.clone(),
            pointer: String::new(),
            span: Some(err.span),
        },
    )
}
