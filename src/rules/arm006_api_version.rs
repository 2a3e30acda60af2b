//! ## What it checks
//!
//! Each resource's literal `apiVersion` (top-level, child and nested-deployment
//! resources alike):
//!
//! - a preview version (any suffix after the date, e.g. `2021-04-01-preview`)
//!   when a stable version of the same date or newer exists: a preview newer
//!   than every stable version may be the only way to a feature, and the rule
//!   never recommends a version older than the one in use;
//! - a stable version more than 730 days older than the newest stable version
//!   cmek-arm knows for that resource type.
//!
//! The newest stable versions are a table built into the tool
//! (`src/rules/api_versions.tsv`): every resource type that has a stable
//! version in the published Azure Resource Manager schemas
//! (Azure/azure-resource-manager-schemas), about 2,000 types.
//! Types the table does not know, and versions written as expressions, are not
//! reported.
//!
//! ## Why it matters
//!
//! Preview API versions can change or be withdrawn without notice. Old API
//! versions do not know newer properties: a Key Vault created with an API version
//! from before `enableRbacAuthorization` or `enablePurgeProtection` existed
//! silently drops them, and the CMEK setup then fails at run time.
//!
//! ## Example
//!
//! ```json
//! { "type": "Microsoft.KeyVault/vaults", "apiVersion": "2016-10-01", ... }
//! ```
//!
//! `apiVersion '2016-10-01' of Microsoft.KeyVault/vaults is 3410 days older than
//! the newest stable version 2026-02-01`.
//!
//! ## How to fix
//!
//! Use the newest stable API version of the type (`cmek-arm explain ARM006`
//! names where the table comes from), and check the resource's properties
//! against that version's reference.
//!
//! ## References
//!
//! - <https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#api-version>
//! - <https://github.com/Azure/azure-resource-manager-schemas>
//! - Refreshing the table: with `../shared/corpus/api-versions.tsv` present, run
//!   `UPDATE_API_VERSIONS=1 cargo test api_version_table` and commit the result.

use super::TemplateInput;
use crate::arm::walk::{self, is_expression};
use crate::diag::{Diagnostic, Level};
use std::collections::HashMap;
use std::sync::OnceLock;
use time::{Date, Month};

/// Rule ID.
pub const ID: &str = "ARM006";

/// How much older than the newest stable version an apiVersion may be.
pub const MAX_AGE_DAYS: i64 = 730;

/// The built-in table: `type<TAB>newest stable apiVersion`, one line each.
pub const TABLE: &str = include_str!("api_versions.tsv");

static NEWEST: OnceLock<HashMap<String, &'static str>> = OnceLock::new();

fn newest_stable(resource_type: &str) -> Option<&'static str> {
    NEWEST
        .get_or_init(|| {
            TABLE
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('\t'))
                .map(|(t, v)| (t.to_ascii_lowercase(), v))
                .collect()
        })
        .get(&resource_type.to_ascii_lowercase())
        .copied()
}

/// Builds the table from the corpus's `api-versions.tsv` (every type with its
/// versions, newest first): the newest stable version per type, types compared
/// case-insensitively, sorted for stable diffs.
pub fn table_from_corpus(tsv: &str) -> String {
    let mut newest: HashMap<String, (String, String)> = HashMap::new();
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let Some((rtype, versions)) = line.split_once('\t') else {
            continue;
        };
        let Some(best) = versions
            .split(',')
            .map(str::trim)
            .filter(|v| parse_date(v).is_some() && v.len() == 10)
            .max()
        else {
            continue;
        };
        let entry = newest
            .entry(rtype.to_ascii_lowercase())
            .or_insert_with(|| (rtype.to_string(), best.to_string()));
        if best > entry.1.as_str() {
            entry.1 = best.to_string();
        }
    }
    let mut rows: Vec<(String, String)> = newest.into_values().collect();
    rows.sort_by_key(|(t, _)| t.to_ascii_lowercase());
    let mut out = String::from(
        "# Newest stable apiVersion per resource type, for ARM006. Generated from Azure/azure-resource-manager-schemas\n\
         # (../shared/corpus/api-versions.tsv); refresh: UPDATE_API_VERSIONS=1 cargo test api_version_table\n",
    );
    for (t, v) in rows {
        out.push_str(&t);
        out.push('\t');
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// The date at the start of an apiVersion (`2024-11-01`, `2024-11-01-preview`).
fn parse_date(version: &str) -> Option<Date> {
    let mut parts = version.get(..10)?.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// What is wrong with `version` of `resource_type`, if anything.
pub fn problem(resource_type: &str, version: &str) -> Option<String> {
    let newest = newest_stable(resource_type)?;
    let newest_date = parse_date(newest)?;
    let date = parse_date(version)?;
    let suffix = version.get(10..).unwrap_or_default();
    if !suffix.is_empty() {
        // A preview is worth replacing only by a stable version at least as new
        // (same date or later); a preview newer than every stable one may be the
        // only way to a feature, and an older stable one is no advice.
        return (newest_date >= date).then(|| {
            format!(
                "apiVersion '{version}' of {resource_type} is a preview; the stable version {newest} is as new or newer"
            )
        });
    }
    let age = (newest_date - date).whole_days();
    (age > MAX_AGE_DAYS).then(|| {
        format!(
            "apiVersion '{version}' of {resource_type} is {age} days older than the newest stable version {newest} (more than {MAX_AGE_DAYS})"
        )
    })
}

/// Reports preview and outdated apiVersions.
pub fn check(input: &TemplateInput<'_>, out: &mut Vec<Diagnostic>) {
    let doc = input.template;
    for r in walk::resources(&doc.value) {
        let Some(version) = r.value.get("apiVersion").and_then(|v| v.as_str()) else {
            continue;
        };
        if is_expression(version) {
            continue;
        }
        let Some(message) = problem(&r.full_type, version) else {
            continue;
        };
        let pointer = crate::arm::json::pointer_push(&r.pointer, "apiVersion");
        out.push(
            Diagnostic::new(ID, Level::Warning, message, doc.location(&pointer))
                .with_resource(r.label()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn previews_and_old_versions_are_reported() {
        assert_eq!(
            newest_stable("microsoft.keyvault/VAULTS"),
            Some("2026-02-01")
        );
        assert!(problem("Microsoft.KeyVault/vaults", "2026-02-01").is_none());
        assert!(problem("Microsoft.KeyVault/vaults", "2024-02-02").is_none());
        let old = problem("Microsoft.KeyVault/vaults", "2016-10-01").unwrap();
        assert!(old.contains("3410 days older"), "{old}");
        let preview = problem("Microsoft.KeyVault/vaults", "2021-04-01-preview").unwrap();
        assert!(
            preview.contains("preview") && preview.contains("2026-02-01"),
            "{preview}"
        );
        // A preview newer than every stable version: no stable advice to give.
        assert!(problem("Microsoft.KeyVault/vaults", "2099-01-01-preview").is_none());
        assert!(problem("Contoso.Unknown/things", "2001-01-01").is_none());
        assert!(problem("Contoso.Unknown/things", "2001-01-01-beta").is_none());
    }

    /// The refresh procedure: compares the embedded table with the corpus and,
    /// with `UPDATE_API_VERSIONS=1`, rewrites it.
    #[test]
    fn api_version_table_is_current() {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/api-versions.tsv");
        let Ok(tsv) = std::fs::read_to_string(&source) else {
            println!("skipped: {} is absent", source.display());
            return;
        };
        let fresh = table_from_corpus(&tsv);
        if std::env::var_os("UPDATE_API_VERSIONS").is_some_and(|v| v == "1") {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules/api_versions.tsv");
            std::fs::write(&path, &fresh).unwrap();
            println!("rewrote {}", path.display());
            return;
        }
        assert!(
            fresh == TABLE,
            "src/rules/api_versions.tsv is out of date with {}; run UPDATE_API_VERSIONS=1 cargo test api_version_table",
            source.display()
        );
    }
}
