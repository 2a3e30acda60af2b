//! ## What it checks
//!
//! A resource whose `location` is a literal region (`"eastus"`, or an expression
//! that is only a string literal, `"['eastus']"`) instead of a parameter, a
//! variable or `resourceGroup().location`. Not reported: `"global"` (the only
//! valid location of global resources such as DNS zones or Front Door),
//! resources declared `existing` (their location is Azure's, not the template's),
//! and any location computed by an expression.
//!
//! ## Why it matters
//!
//! A template with a fixed region deploys every customer's vault into that
//! region, whatever region their cluster is in. Customer-managed keys must live
//! in the cluster's region (rule CMK004), so a hard-coded location breaks the
//! template for everyone else, and the portal form cannot change it.
//!
//! ## Example
//!
//! ```json
//! { "type": "Microsoft.KeyVault/vaults", "name": "kv1", "location": "eastus" }
//! ```
//!
//! ## How to fix
//!
//! Declare a parameter and use it:
//!
//! ```json
//! "parameters": { "location": { "type": "string", "defaultValue": "[resourceGroup().location]" } },
//! ...
//! { "type": "Microsoft.KeyVault/vaults", "name": "kv1", "location": "[parameters('location')]" }
//! ```
//!
//! ## References
//!
//! - <https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#location-recommendation-for-parameters>
//! - arm-ttk test "Location Should Not Be Hardcoded"

use super::TemplateInput;
use crate::arm::json::pointer_push;
use crate::arm::walk::{self, is_expression};
use crate::diag::{Diagnostic, Level};

/// Rule ID.
pub const ID: &str = "ARM007";

/// The literal region a location value fixes, if it is one.
fn literal_location(value: &str) -> Option<String> {
    let t = value.trim();
    if !is_expression(t) {
        // `[[eastus]` is the literal text "[eastus]": still hard-coded.
        let literal = t
            .strip_prefix('[')
            .filter(|s| s.starts_with('['))
            .unwrap_or(t);
        return Some(literal.to_string());
    }
    // `['eastus']`: an expression that is nothing but a string literal.
    let inner = t.strip_prefix('[')?.strip_suffix(']')?.trim();
    let quoted = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    // A lone quote left after unescaping `''` means several literals, e.g. `['a', 'b']`.
    (!quoted.replace("''", "").contains('\'')).then(|| quoted.replace("''", "'"))
}

/// Reports literal resource locations.
pub fn check(input: &TemplateInput<'_>, out: &mut Vec<Diagnostic>) {
    let doc = input.template;
    for r in walk::resources(&doc.value) {
        if r.value.get("existing").and_then(|e| e.as_bool()) == Some(true) {
            continue;
        }
        let Some(location) = r.value.get("location").and_then(|l| l.as_str()) else {
            continue;
        };
        let Some(region) = literal_location(location) else {
            continue;
        };
        if region.eq_ignore_ascii_case("global") {
            continue;
        }
        let resource = r.label();
        out.push(
            Diagnostic::new(
                ID,
                Level::Warning,
                format!(
                    "{resource} has the hard-coded location '{region}'; use a parameter or [resourceGroup().location]"
                ),
                doc.location(&pointer_push(&r.pointer, "location")),
            )
            .with_resource(resource),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_found_and_expressions_are_not() {
        assert_eq!(literal_location("eastus").as_deref(), Some("eastus"));
        assert_eq!(
            literal_location("['westeurope']").as_deref(),
            Some("westeurope")
        );
        assert_eq!(literal_location("[parameters('location')]"), None);
        assert_eq!(literal_location("[resourceGroup().location]"), None);
        assert_eq!(literal_location("[[eastus]").as_deref(), Some("[eastus]"));
    }
}
