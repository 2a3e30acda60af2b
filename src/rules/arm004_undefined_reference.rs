//! ## What it checks
//! Expressions that ARM would reject when it evaluates them:
//! `parameters('x')` or `variables('x')` naming something the template does not
//! declare, a variable that refers to itself (directly or through others), a
//! function that does not exist or is called with the wrong number of
//! arguments, a `dependsOn` entry that names no resource of the template, and
//! an evaluation ARM would fail (a property of `null`, an index out of range,
//! a wrong argument type, `fail()`), or a limit exceeded.
//!
//! Limits (messages start with `limit exceeded:`) are ARM's documented
//! template limits, each at the place that exceeds it: more than 256
//! parameters, 512 variables, 64 outputs or 800 resources (copies included)
//! in one template, a copy count above 800, an expression over 24,576
//! characters, a template or parameters file over 4 MB, a template over 4 MB
//! or a resource over 1 MB after expansion, `range()` above 10,000 items. And
//! cmek-arm's own bounds, which keep any template of at most 4 MB within 2 s
//! and 512 MB: an evaluation budget of 2,000,000 units of work (one per
//! expression evaluated, per value built or copied, per 16 bytes of string),
//! 10,000 resources and 16 MB after expansion across all nested deployments
//! (ARM's limits are per template), nested deployments 32 deep, strings of
//! 4 MB and arrays of 100,000 items. Expansion stops where a bound is reached;
//! what was expanded before it is still checked by the other rules.
//!
//! ## Why it matters
//! The deployment fails with `InvalidTemplate` (or, for a cycle, never
//! validates), so no customer-managed key is configured at all. A template
//! past cmek-arm's own bounds is far beyond any real one (the largest of the
//! 174 Azure Verified Modules uses under a hundredth of the budget) and is
//! not checked past that point.
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
