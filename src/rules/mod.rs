//! The rule registry: one table of ID, name, default level and where each rule
//! applies; one file per rule holding its documentation (`//!`) and its check.
//!
//! Template rules (`ARM*`) read a parsed and expanded template; CMEK rules
//! (`CMK*`) read only the normalised [`crate::model::Deployment`], so they never
//! know whether it came from a template or from Azure. Preflight rules (`PRE*`)
//! compare a template's model with what Azure holds before it is deployed.

use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Provenance};

pub mod settings;
pub use settings::{Flags, Profile, Settings};

mod common;
mod existing;

mod cmk001_vault_purge_protection;
mod cmk002_vault_soft_delete;
mod cmk003_vault_rbac_authorization;
mod cmk004_vault_region;
mod cmk005_key_type_and_size;
mod cmk006_key_operations;
mod cmk007_key_name;
mod cmk008_key_usable;
mod cmk009_key_rotation_policy;
mod cmk010_encryption_user_role;
mod cmk011_officer_role;
mod cmk012_principal_type;
mod cmk013_least_privilege;
mod cmk014_key_recovery_level;
mod cmk015_vendor_network_access;
mod cmk016_vault_tenant;
mod cmk017_wrap_unwrap_probe;
mod cmk018_unused_suppression;
pub mod cmk019_vault_and_key_exist;

mod pre001_vault_name_available;
mod pre002_existing_vault_changes;
mod pre003_role_assignment_conflict;
mod pre004_deployer_permissions;
mod pre005_provider_registered;

include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));

pub mod arm001_json_syntax;
pub mod arm002_template_schema;
pub mod arm003_expression_syntax;
pub mod arm004_undefined_reference;
pub mod arm005_unused_declaration;
pub mod arm006_api_version;
pub mod arm007_hardcoded_location;
pub mod arm008_nondeterministic_name;
pub mod arm009_parameters_file;
pub mod arm010_secret_exposure;

/// Where a rule can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// `validate` only.
    Template,
    /// `check` only.
    Live,
    /// Both.
    Both,
    /// `preflight` only: the template against what already exists in Azure.
    Preflight,
}

impl Applies {
    /// As printed by `cmek-arm rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            Applies::Template => "template",
            Applies::Live => "live",
            Applies::Both => "template, live",
            Applies::Preflight => "preflight",
        }
    }
}

/// How a rule's findings are produced.
#[derive(Clone, Copy)]
pub enum Check {
    /// Reported by the loading/expansion engine itself (syntax, schema, expressions).
    Engine,
    /// A pass over one parsed and expanded template.
    Template(fn(&TemplateInput<'_>, &mut Vec<Diagnostic>)),
    /// A CMEK rule over the normalised model (template or live alike).
    Model(fn(&Deployment, &Settings, &mut Vec<Diagnostic>)),
    /// A preflight rule: the template's model against what Azure holds.
    Preflight(fn(&PreflightInput<'_>, &mut Vec<Diagnostic>)),
}

/// What a preflight rule sees.
pub struct PreflightInput<'a> {
    /// The template's model, expanded with the real deployment context.
    pub deployment: &'a Deployment,
    /// What was read from Azure.
    pub state: &'a crate::azure::preflight::PreflightState,
}

/// What a template rule sees.
pub struct TemplateInput<'a> {
    /// The template, with spans.
    pub template: &'a crate::arm::json::Document,
    /// The parameters file, when one was given.
    pub parameters: Option<&'a crate::arm::json::Document>,
}

/// One rule of the catalogue.
#[derive(Clone, Copy)]
pub struct Rule {
    /// Stable ID, e.g. `CMK001` (a contract: never renumbered).
    pub id: &'static str,
    /// Stable kebab-case name.
    pub name: &'static str,
    /// Default level, before profile and overrides.
    pub level: Level,
    /// Where it applies.
    pub applies: Applies,
    /// How it runs.
    pub check: Check,
}

/// The rules the key's data plane can decide (`check --key-uri`): the vendor
/// reads the key bundle (type, size, operations, attributes, recovery level),
/// its rotation policy and wraps/unwraps with it, but sees no vault properties
/// (region, RBAC model, network, tenant) and no role assignments. Purge
/// protection and soft delete (CMK001, CMK002) follow from the key's
/// `recoveryLevel` and `recoverableDays`.
const DATA_PLANE: &[&str] = &[
    "CMK001", "CMK002", "CMK005", "CMK006", "CMK007", "CMK008", "CMK009", "CMK014", "CMK017",
    "CMK018", "CMK019",
];

impl Rule {
    /// Whether items filled by `source` hold what this rule needs: its findings on
    /// items of other sources are not reported (a guess would be wrong either way).
    pub fn decides(&self, source: Provenance) -> bool {
        match source {
            Provenance::Template => matches!(
                self.applies,
                Applies::Template | Applies::Both | Applies::Preflight
            ),
            Provenance::Arm => matches!(
                self.applies,
                Applies::Live | Applies::Both | Applies::Preflight
            ),
            Provenance::DataPlane => DATA_PLANE.contains(&self.id),
        }
    }

    /// The sources that can decide this rule, as `cmek-arm rules` prints them.
    pub fn sources(&self) -> String {
        let names: Vec<&str> = Provenance::ALL
            .into_iter()
            .filter(|p| self.decides(*p))
            .map(Provenance::as_str)
            .collect();
        names.join(", ")
    }

    /// The rule's documentation (its file's `//!` comment).
    pub fn doc(&self) -> &'static str {
        RULE_DOCS
            .iter()
            .find(|(id, _)| *id == self.id)
            .map_or("", |(_, doc)| doc)
    }
}

/// Every rule, in ID order.
pub static RULES: &[Rule] = &[
    Rule {
        id: arm001_json_syntax::ID,
        name: "json-syntax",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Engine,
    },
    Rule {
        id: arm002_template_schema::ID,
        name: "template-schema",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Engine,
    },
    Rule {
        id: "ARM003",
        name: "expression-syntax",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Engine,
    },
    Rule {
        id: "ARM004",
        name: "undefined-reference",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Engine,
    },
    Rule {
        id: "ARM005",
        name: "unused-declaration",
        level: Level::Warning,
        applies: Applies::Template,
        check: Check::Template(arm005_unused_declaration::check),
    },
    Rule {
        id: arm006_api_version::ID,
        name: "api-version",
        level: Level::Warning,
        applies: Applies::Template,
        check: Check::Template(arm006_api_version::check),
    },
    Rule {
        id: arm007_hardcoded_location::ID,
        name: "hardcoded-location",
        level: Level::Warning,
        applies: Applies::Template,
        check: Check::Template(arm007_hardcoded_location::check),
    },
    Rule {
        id: "ARM008",
        name: "nondeterministic-name",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Template(arm008_nondeterministic_name::check),
    },
    Rule {
        id: arm009_parameters_file::ID,
        name: "parameters-file",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Template(arm009_parameters_file::check),
    },
    Rule {
        id: "ARM010",
        name: "secret-exposure",
        level: Level::Warning,
        applies: Applies::Template,
        check: Check::Template(arm010_secret_exposure::check),
    },
    Rule {
        id: "CMK001",
        name: "vault-purge-protection",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk001_vault_purge_protection::check),
    },
    Rule {
        id: "CMK002",
        name: "vault-soft-delete",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk002_vault_soft_delete::check),
    },
    Rule {
        id: "CMK003",
        name: "vault-rbac-authorization",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk003_vault_rbac_authorization::check),
    },
    Rule {
        id: "CMK004",
        name: "vault-region",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk004_vault_region::check),
    },
    Rule {
        id: "CMK005",
        name: "key-type-and-size",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk005_key_type_and_size::check),
    },
    Rule {
        id: "CMK006",
        name: "key-operations",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk006_key_operations::check),
    },
    Rule {
        id: "CMK007",
        name: "key-name",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk007_key_name::check),
    },
    Rule {
        id: "CMK008",
        name: "key-usable",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk008_key_usable::check),
    },
    Rule {
        id: "CMK009",
        name: "key-rotation-policy",
        level: Level::Warning,
        applies: Applies::Both,
        check: Check::Model(cmk009_key_rotation_policy::check),
    },
    Rule {
        id: "CMK010",
        name: "encryption-user-role",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk010_encryption_user_role::check),
    },
    Rule {
        id: "CMK011",
        name: "officer-role",
        level: Level::Warning,
        applies: Applies::Both,
        check: Check::Model(cmk011_officer_role::check),
    },
    Rule {
        id: "CMK012",
        name: "principal-type",
        level: Level::Warning,
        applies: Applies::Both,
        check: Check::Model(cmk012_principal_type::check),
    },
    Rule {
        id: "CMK013",
        name: "least-privilege",
        level: Level::Warning,
        applies: Applies::Both,
        check: Check::Model(cmk013_least_privilege::check),
    },
    Rule {
        id: "CMK014",
        name: "key-recovery-level",
        level: Level::Error,
        applies: Applies::Live,
        check: Check::Model(cmk014_key_recovery_level::check),
    },
    Rule {
        id: "CMK015",
        name: "vendor-network-access",
        level: Level::Warning,
        applies: Applies::Both,
        check: Check::Model(cmk015_vendor_network_access::check),
    },
    Rule {
        id: "CMK016",
        name: "vault-tenant",
        level: Level::Error,
        applies: Applies::Both,
        check: Check::Model(cmk016_vault_tenant::check),
    },
    Rule {
        id: "CMK017",
        name: "wrap-unwrap-probe",
        level: Level::Error,
        applies: Applies::Live,
        check: Check::Model(cmk017_wrap_unwrap_probe::check),
    },
    // Added (RULES.md: "add, never rename"): reported by `Settings::apply`.
    Rule {
        id: "CMK018",
        name: "unused-suppression",
        level: Level::Warning,
        applies: Applies::Both,
        check: Check::Engine,
    },
    // Added: reported by `check` when Azure answers 404 for the vault or key.
    Rule {
        id: cmk019_vault_and_key_exist::ID,
        name: "vault-and-key-exist",
        level: Level::Error,
        applies: Applies::Live,
        check: Check::Engine,
    },
    Rule {
        id: "PRE001",
        name: "vault-name-available",
        level: Level::Error,
        applies: Applies::Preflight,
        check: Check::Preflight(pre001_vault_name_available::check),
    },
    Rule {
        id: "PRE002",
        name: "existing-vault-changes",
        level: Level::Warning,
        applies: Applies::Preflight,
        check: Check::Preflight(pre002_existing_vault_changes::check),
    },
    Rule {
        id: "PRE003",
        name: "role-assignment-conflict",
        level: Level::Error,
        applies: Applies::Preflight,
        check: Check::Preflight(pre003_role_assignment_conflict::check),
    },
    Rule {
        id: "PRE004",
        name: "deployer-permissions",
        level: Level::Error,
        applies: Applies::Preflight,
        check: Check::Preflight(pre004_deployer_permissions::check),
    },
    Rule {
        id: "PRE005",
        name: "provider-registered",
        level: Level::Warning,
        applies: Applies::Preflight,
        check: Check::Preflight(pre005_provider_registered::check),
    },
];

/// Runs every preflight rule. Like [`check_model`], the findings carry default
/// levels for [`Settings::apply`]; a finding on a resource whose `condition` is
/// unknown is a note, as it may not be deployed.
pub fn check_preflight(input: &PreflightInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in RULES {
        if let Check::Preflight(check) = rule.check {
            check(input, &mut out);
        }
    }
    soften_conditional(input.deployment, &mut out);
    out
}

/// Runs every CMEK rule over the model. The findings carry default levels: pass
/// them (with all other findings of the run) through [`Settings::apply`].
pub fn check_model(deployment: &Deployment, settings: &Settings) -> Vec<Diagnostic> {
    // Each variant is a full run of the rules: fewer of them on a large deployment.
    let max = (MAX_VARIANT_RESOURCES / deployment.resources.len().max(1)).min(MAX_VARIANTS);
    match deployment.variants(max) {
        None => check_one(deployment, settings),
        Some(variants) => {
            let runs: Vec<Vec<Diagnostic>> = (0..variants.count)
                .map(|n| check_one(&variants.get(n), settings))
                .collect();
            same_in_every_run(runs, &variants.why)
        }
    }
}

/// Most combinations of choices the rules are run over (each is a full run of
/// the CMEK rules, which take microseconds on a deployment's few resources).
const MAX_VARIANTS: usize = 64;
/// Most resources all the runs over variants look at together: a deployment of
/// 6,400 resources is checked once (its choices read as unknown), one of 100
/// up to 64 times. The rules are linear to quadratic in the resources.
const MAX_VARIANT_RESOURCES: usize = 6_400;

fn check_one(deployment: &Deployment, settings: &Settings) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in RULES {
        if let Check::Model(check) = rule.check {
            let from = out.len();
            check(deployment, settings, &mut out);
            keep_decidable(deployment, rule, &mut out, from);
        }
    }
    soften_conditional(deployment, &mut out);
    out
}

/// Drops the findings (from `from` on) that `rule` made about items whose
/// source cannot decide it: on the data plane's view, CMK003 would otherwise
/// report a vault "without" RBAC that the vendor simply cannot see.
fn keep_decidable(deployment: &Deployment, rule: &Rule, out: &mut Vec<Diagnostic>, from: usize) {
    if Provenance::ALL.into_iter().all(|p| rule.decides(p)) {
        return;
    }
    let source_of = |display: &str| {
        deployment
            .resources
            .iter()
            .chain(&deployment.existing)
            .find(|r| r.display() == display)
            .map(|r| r.provenance)
    };
    let mut i = from;
    while i < out.len() {
        let undecidable = out
            .get(i)
            .and_then(|d| d.resource.as_deref())
            .and_then(source_of)
            .is_some_and(|p| !rule.decides(p));
        if undecidable {
            out.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Merges the findings of the runs over every variant of a deployment: a finding
/// every run makes (same rule, level, place and resource) is a verdict that holds
/// whatever the choices are; one that only some runs make is a note.
fn same_in_every_run(runs: Vec<Vec<Diagnostic>>, why: &str) -> Vec<Diagnostic> {
    type Key = (&'static str, Level, Option<String>, String);
    let key = |d: &Diagnostic| -> Key {
        (
            d.rule,
            d.level,
            d.resource.clone(),
            format!("{:?}", d.location),
        )
    };
    let n = runs.len();
    let mut order: Vec<Key> = Vec::new();
    let mut found: std::collections::HashMap<Key, Vec<Diagnostic>> =
        std::collections::HashMap::new();
    for run in runs {
        let mut seen_here: Vec<Key> = Vec::new();
        for d in run {
            let k = key(&d);
            if seen_here.contains(&k) && d.level == Level::Note {
                continue;
            }
            seen_here.push(k.clone());
            if !found.contains_key(&k) {
                order.push(k.clone());
            }
            found.entry(k).or_default().push(d);
        }
    }
    let mut out = Vec::new();
    let mut noted: Vec<(&'static str, Option<String>, String)> = Vec::new();
    for k in order {
        let Some(mut ds) = found.remove(&k) else {
            continue;
        };
        let mut messages: Vec<String> = Vec::new();
        for d in &ds {
            if !messages.contains(&d.message) {
                messages.push(d.message.clone());
            }
        }
        let mut d = ds.swap_remove(0);
        if ds.len() + 1 >= n {
            if messages.len() > 1 {
                d.message = format!("{} (depending on {why})", messages.join("; or "));
            }
            out.push(d);
            continue;
        }
        let place = (d.rule, d.resource.clone(), format!("{:?}", d.location));
        if d.level == Level::Note || noted.contains(&place) {
            if d.level == Level::Note && !noted.contains(&place) {
                noted.push(place);
                out.push(d);
            }
            continue;
        }
        noted.push(place);
        d.level = Level::Note;
        d.message = format!(
            "cannot be decided: {} (only for some values: it depends on {why})",
            messages.join("; or ")
        );
        out.push(d);
    }
    out
}

/// A resource that may not be deployed cannot break a requirement for sure: its
/// findings become notes that say so.
fn soften_conditional(deployment: &Deployment, out: &mut [Diagnostic]) {
    for res in deployment
        .resources
        .iter()
        .filter(|r| r.deployed_if.is_some())
    {
        let display = res.display();
        let why = res.deployed_if.as_deref().unwrap_or_default();
        for d in out.iter_mut() {
            if d.level != Level::Note && d.resource.as_deref() == Some(display.as_str()) {
                d.level = Level::Note;
                d.message = format!(
                    "cannot be decided: {} if it is deployed (its condition is unknown: {why})",
                    d.message
                );
            }
        }
    }
}

/// `cmek-arm rules`: one line per rule (ID, name, level, where it applies, which
/// sources can decide it), with a profile's change shown next to the catalogue's default.
pub fn catalogue(profile: &Profile) -> String {
    let mut text = String::new();
    for r in RULES {
        let (level, note) = match profile.level(r) {
            Some(l) if l == r.level => (l.to_string(), String::new()),
            Some(l) => (l.to_string(), format!("  (default {})", r.level)),
            None => ("off".to_string(), format!("  (default {})", r.level)),
        };
        let line = format!(
            "{:<8} {:<28} {:<8} {:<15} {:<26}{note}",
            r.id,
            r.name,
            level,
            r.applies.as_str(),
            r.sources()
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `cmek-arm explain RULE`: the rule's header and documentation.
pub fn explain(id_or_name: &str) -> crate::Result<String> {
    let rule = find(id_or_name).ok_or_else(|| crate::Error::InvalidInput {
        flag: "RULE".into(),
        value: id_or_name.into(),
        rule: "not a rule ID or name (see `cmek-arm rules`)".into(),
    })?;
    Ok(format!(
        "{} ({}), default level {}\n\n{}\n",
        rule.id,
        rule.name,
        rule.level,
        rule.doc()
    ))
}

/// Looks a rule up by ID or name, case-insensitively.
pub fn find(id_or_name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id_or_name) || r.name.eq_ignore_ascii_case(id_or_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn findings_on_conditionally_deployed_resources_are_notes() {
        use crate::model::{testing, Kind};
        let mut maybe = testing::res(Kind::Vault, 0, serde_json::json!({"name": "kv-maybe"}));
        maybe.deployed_if = Some("parameter 'deploy' has no value".into());
        let sure = testing::res(Kind::Vault, 1, serde_json::json!({"name": "kv-sure"}));
        let diags = check_model(&testing::dep(vec![maybe, sure]), &Settings::default());
        let cmk001: Vec<_> = diags.iter().filter(|d| d.rule == "CMK001").collect();
        assert_eq!(cmk001.len(), 2);
        assert_eq!(cmk001[0].level, Level::Note);
        assert_eq!(
            cmk001[0].message,
            "cannot be decided: Key Vault 'kv-maybe' does not enable purge protection if it is deployed (its condition is unknown: parameter 'deploy' has no value)"
        );
        assert_eq!(cmk001[1].level, Level::Error);
    }

    #[test]
    fn data_plane_items_get_only_the_rules_the_data_plane_decides() {
        use crate::model::{testing, Kind, Provenance};
        let vault = testing::res(
            Kind::Vault,
            0,
            serde_json::json!({"name": "kv", "properties":
            {"enablePurgeProtection": false}}),
        )
        .with_provenance(Provenance::DataPlane);
        let diags = check_model(&testing::dep(vec![vault.clone()]), &Settings::default());
        let rules: Vec<&str> = diags.iter().map(|d| d.rule).collect();
        // CMK001 is decided from the recovery level; RBAC, region, network and
        // tenant are not visible from the data plane.
        assert_eq!(rules, vec!["CMK001"], "{diags:?}");
        let from_arm = vault.with_provenance(Provenance::Arm);
        let diags = check_model(&testing::dep(vec![from_arm]), &Settings::default());
        assert!(diags.iter().any(|d| d.rule == "CMK003"), "{diags:?}");
        for id in DATA_PLANE {
            let rule = find(id).unwrap();
            assert!(rule.decides(Provenance::Arm), "{id} is live too");
        }
    }

    #[test]
    fn ids_and_names_are_unique_and_documented() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for rule in RULES {
            assert!(ids.insert(rule.id), "duplicate rule ID {}", rule.id);
            assert!(names.insert(rule.name), "duplicate rule name {}", rule.name);
            assert!(!rule.doc().is_empty(), "{} has no documentation", rule.id);
        }
    }

    /// Rules added after the catalogue was written ("add, never rename").
    const ADDED: &[&str] = &["CMK018", "CMK019"];

    #[test]
    fn ids_names_and_levels_match_the_catalogue() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/design/RULES.md");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {} is absent", path.display());
            return;
        };
        let mut listed = Vec::new();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (Some(id), Some(name), Some(level)) = (cells.get(1), cells.get(2), cells.get(3))
            else {
                continue;
            };
            let is_id = id.len() == 6
                && (id.starts_with("CMK") || id.starts_with("ARM") || id.starts_with("PRE"))
                && id[3..].bytes().all(|b| b.is_ascii_digit());
            if !is_id {
                continue;
            }
            listed.push(*id);
            match find(id) {
                Some(rule) => {
                    assert_eq!(rule.name, *name, "{id}: name differs from RULES.md");
                    assert_eq!(
                        rule.level.as_str(),
                        *level,
                        "{id}: level differs from RULES.md"
                    );
                }
                // Template rules are registered by the validate engine's branch.
                None => assert!(
                    id.starts_with("ARM"),
                    "{id} from RULES.md is not registered"
                ),
            }
        }
        assert!(
            listed.iter().filter(|id| id.starts_with("CMK")).count() >= 17,
            "RULES.md tables not parsed"
        );
        assert_eq!(
            listed.iter().filter(|id| id.starts_with("PRE")).count(),
            5,
            "RULES.md's preflight table not parsed"
        );
        for rule in RULES {
            assert!(
                listed.contains(&rule.id) || ADDED.contains(&rule.id),
                "{} is not in RULES.md; add it to ADDED if it is a deliberate addition",
                rule.id
            );
        }
    }

    #[test]
    fn every_rule_doc_has_the_sections_explain_prints() {
        for rule in RULES
            .iter()
            .filter(|r| r.id.starts_with("CMK") || r.id.starts_with("PRE"))
        {
            let doc = rule.doc();
            for section in [
                "## What it checks",
                "## Why it matters",
                "## Example",
                "## How to fix",
                "## References",
            ] {
                assert!(doc.contains(section), "{} lacks {section}", rule.id);
            }
            assert!(
                doc.contains("https://"),
                "{} has no reference link",
                rule.id
            );
        }
    }
}
