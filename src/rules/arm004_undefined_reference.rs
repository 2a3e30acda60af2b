//! ## What it checks
//! Expressions that ARM would reject when it evaluates them:
//! `parameters('x')` or `variables('x')` naming something the template does not
//! declare, a variable that refers to itself (directly or through others), a
//! function that does not exist or is called with the wrong number of
//! arguments, a `dependsOn` entry that names no resource of the template, and
//! an evaluation ARM would fail (a property of `null`, an index out of range,
//! a wrong argument type, `fail()`), or a limit exceeded (copy count above
//! 800, `range()` above 10,000 items, runaway string or array sizes).
//!
//! ## Why it matters
//! The deployment fails with `InvalidTemplate` (or, for a cycle, never
//! validates), so no customer-managed key is configured at all.
//!
//! ## Example
//! ```json
//! "variables": {"vaultName": "[concat(parameters('prefix'), '-kv')]"},
//! "parameters": {"prefx": {"type": "string"}}
//! ```
//! `prefix` is not declared (the parameter is spelled `prefx`).
//!
//! ## How to fix
//! Declare the parameter or variable, fix the spelling (names are
//! case-insensitive), break the cycle, or guard the expression with `if()`,
//! `tryGet()` or `coalesce()` so it is not evaluated on `null`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions
//! - https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-invalid-template

// Reported by the expansion engine (`arm::expand`) while it evaluates the template.
