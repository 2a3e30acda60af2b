//! ## What it checks
//! Every suppression matches at least one finding: each `--ignore RULE`, and each
//! entry of a resource's `"metadata": {"cmek-arm": {"ignore": [...], "reason": "..."}}`.
//! An entry naming no rule is reported too. (Added to the catalogue after RULES.md;
//! `--ignore CMK018` turns it off.)
//!
//! ## Why it matters
//! A suppression outlives the problem it hid: once the template is fixed, a stale
//! `ignore` silently hides the next regression of the same rule on that resource.
//! A misspelt rule ID suppresses nothing while looking as if it did.
//!
//! ## Example
//! ```json
//! {"type": "Microsoft.KeyVault/vaults/keys", "name": "kv1/k1",
//!  "metadata": {"cmek-arm": {"ignore": ["CMK009"], "reason": "rotated by a runbook"}},
//!  "properties": {"rotationPolicy": {"lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P1Y"}}]}}}
//! ```
//! The key now rotates, so the suppression of CMK009 matches nothing.
//!
//! ## How to fix
//! Remove the suppression, or fix the rule ID it names (`cmek-arm rules` lists them).
//!
//! ## References
//! - https://docs.astral.sh/ruff/rules/unused-noqa/
//! - https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax#resources

// Reported by `Settings::apply`, which sees every finding of the run.
