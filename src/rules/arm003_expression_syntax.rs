//! ## What it checks
//! Every JSON string that starts with `[` and ends with `]` is a template
//! expression. ARM003 reports one that is not valid expression syntax: an
//! unbalanced parenthesis, an unterminated `'string'`, a name that is not
//! called as a function, or nesting deeper than 256 levels. A string that starts
//! with `[[` is a literal that begins with `[` and is not checked.
//!
//! ## Why it matters
//! ARM rejects the whole deployment when one expression does not parse, after
//! the pipeline has already started. cmek-arm cannot evaluate such a value either,
//! so every rule that depends on it sees it as unknown.
//!
//! ## Example
//! ```json
//! "name": "[concat('kv-', parameters('suffix')]"
//! ```
//! The closing parenthesis of `concat(` is missing.
//!
//! ## How to fix
//! Balance the parentheses and quotes; write a literal `'` inside a string as
//! `''`; start a literal string that begins with `[` with `[[`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions

// Reported by the expansion engine (`arm::expand`), which parses every expression once.
