//! What "compliant" means for one run: the expected values from the command line,
//! the requirement profile, the clock, and suppressions. Levels are overridden
//! and suppressions applied here and nowhere else ([`Settings::apply`]).

use crate::diag::{Diagnostic, Level, Location};
use crate::error::{Error, Result};
use crate::model::Deployment;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;

/// The built-in `tidb-cloud` profile, embedded (it documents the profile file format too).
pub const TIDB_CLOUD_TOML: &str = include_str!("profiles/tidb-cloud.toml");

/// The rule that reports a suppression matching nothing.
pub const UNUSED_SUPPRESSION: &str = "CMK018";

/// A requirement profile: levels and the vendor's requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Name (`tidb-cloud`, or the file it was read from).
    pub name: String,
    /// Rule ID -> level; `None` turns the rule off.
    pub levels: BTreeMap<&'static str, Option<Level>>,
    /// Allowed `kty` values (compared case-insensitively).
    pub key_types: Vec<String>,
    /// Allowed RSA key sizes.
    pub key_sizes: Vec<i64>,
    /// Smallest allowed key size.
    pub min_key_size: i64,
    /// Whether CMK009 asks for an automatic rotation action.
    pub rotation_required: bool,
    /// Regions the vendor supports (normalised); empty: any.
    pub supported_regions: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<String>,
    #[serde(default)]
    levels: BTreeMap<String, String>,
    key: Option<RawKey>,
    rotation: Option<RawRotation>,
    regions: Option<RawRegions>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    types: Option<Vec<String>>,
    sizes: Option<Vec<i64>>,
    min_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRotation {
    required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegions {
    supported: Option<Vec<String>>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "tidb-cloud".into(),
            levels: BTreeMap::new(),
            key_types: vec!["RSA".into(), "RSA-HSM".into()],
            key_sizes: vec![2048, 3072, 4096],
            min_key_size: 2048,
            rotation_required: true,
            supported_regions: Vec::new(),
        }
    }
}

/// Normalises a region name as ARM compares them: lower case, no spaces.
pub fn normalize_region(region: &str) -> String {
    region
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Profile {
    /// `tidb-cloud`, or a TOML profile file.
    pub fn load(name_or_file: &str) -> Result<Profile> {
        if name_or_file == "tidb-cloud" {
            return Profile::from_toml("tidb-cloud", TIDB_CLOUD_TOML);
        }
        let path = std::path::Path::new(name_or_file);
        if !path.exists() {
            return Err(Error::InvalidInput {
                flag: "--profile".into(),
                value: name_or_file.into(),
                rule: "not a built-in profile (tidb-cloud) and no such file".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
        Profile::from_toml(name_or_file, &text)
    }

    /// Parses a profile file; unset sections keep the `tidb-cloud` values.
    pub fn from_toml(file: &str, text: &str) -> Result<Profile> {
        let bad = |message: String| Error::File {
            path: file.into(),
            message,
        };
        let raw: RawProfile =
            toml::from_str(text).map_err(|e| bad(format!("not a valid profile: {e}")))?;
        let mut p = Profile {
            name: raw.name.unwrap_or_else(|| file.to_string()),
            ..Profile::default()
        };
        for (rule, level) in raw.levels {
            let Some(r) = super::find(&rule) else {
                return Err(bad(format!(
                    "[levels] names '{rule}', which is not a rule (see `cmek-arm rules`)"
                )));
            };
            let level = if level.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(
                    level
                        .parse::<Level>()
                        .map_err(|e| bad(format!("[levels] {rule}: {e}, or 'off'")))?,
                )
            };
            p.levels.insert(r.id, level);
        }
        if let Some(key) = raw.key {
            if let Some(types) = key.types {
                if types.is_empty() {
                    return Err(bad("[key] types must name at least one key type".into()));
                }
                p.key_types = types;
            }
            if let Some(sizes) = key.sizes {
                if sizes.is_empty() {
                    return Err(bad("[key] sizes must name at least one key size".into()));
                }
                p.key_sizes = sizes;
            }
            if let Some(min) = key.min_size {
                p.min_key_size = min;
            }
        }
        if let Some(rotation) = raw.rotation {
            if let Some(required) = rotation.required {
                p.rotation_required = required;
            }
        }
        if let Some(regions) = raw.regions {
            if let Some(supported) = regions.supported {
                p.supported_regions = supported.iter().map(|r| normalize_region(r)).collect();
            }
        }
        Ok(p)
    }

    /// The level a rule reports at under this profile; `None` when it is turned off.
    pub fn level(&self, rule: &super::Rule) -> Option<Level> {
        match self.levels.get(rule.id) {
            Some(level) => *level,
            None => Some(rule.level),
        }
    }
}

/// Everything a CMEK rule may compare against.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--region`, normalised.
    pub region: Option<String>,
    /// `--sp-object-id`: the vendor's service principal.
    pub sp_object_id: Option<String>,
    /// `--officer-object-id`.
    pub officer_object_id: Option<String>,
    /// `--key-suffix`.
    pub key_suffix: Option<String>,
    /// `--tenant-id`: the deployment's own tenant.
    pub tenant_id: Option<String>,
    /// "Now", for key expiry (injectable so tests are deterministic).
    pub now: OffsetDateTime,
    /// The requirement profile.
    pub profile: Profile,
    /// `--ignore`, as rule IDs.
    pub ignore: Vec<&'static str>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: None,
            sp_object_id: None,
            officer_object_id: None,
            key_suffix: None,
            tenant_id: None,
            now: OffsetDateTime::now_utc(),
            profile: Profile::default(),
            ignore: Vec::new(),
        }
    }
}

/// The command-line flags `validate` and `check` share, as given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--region`.
    pub region: Option<String>,
    /// `--sp-object-id`.
    pub sp_object_id: Option<String>,
    /// `--officer-object-id`.
    pub officer_object_id: Option<String>,
    /// `--key-suffix`.
    pub key_suffix: Option<String>,
    /// `--tenant-id`.
    pub tenant_id: Option<String>,
    /// `--profile` (name or file); `tidb-cloud` when `None`.
    pub profile: Option<String>,
    /// `--ignore`, repeated.
    pub ignore: Vec<String>,
}

fn guid_flag(flag: &str, value: &Option<String>) -> Result<Option<String>> {
    let Some(v) = value else {
        return Ok(None);
    };
    match uuid::Uuid::try_parse(v.trim()) {
        Ok(id) => Ok(Some(id.hyphenated().to_string())),
        Err(_) => Err(Error::InvalidInput {
            flag: flag.into(),
            value: v.clone(),
            rule: "must be a GUID (an object ID such as 00000000-0000-0000-0000-000000000000)"
                .into(),
        }),
    }
}

impl Settings {
    /// Settings from the command-line flags: every value checked (exit 2 naming the
    /// flag), the profile loaded, "now" taken from the clock.
    pub fn from_flags(flags: &Flags) -> Result<Settings> {
        if let Some(r) = &flags.region {
            if normalize_region(r).is_empty()
                || !normalize_region(r)
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric())
            {
                return Err(Error::InvalidInput {
                    flag: "--region".into(),
                    value: r.clone(),
                    rule: "must be a region name such as eastus or \"East US\"".into(),
                });
            }
        }
        if let Some(sfx) = &flags.key_suffix {
            if sfx.is_empty() || !sfx.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(Error::InvalidInput {
                    flag: "--key-suffix".into(),
                    value: sfx.clone(),
                    rule: "must be letters, digits and hyphens, as key names are".into(),
                });
            }
        }
        let profile = Profile::load(flags.profile.as_deref().unwrap_or("tidb-cloud"))?;
        Settings {
            sp_object_id: guid_flag("--sp-object-id", &flags.sp_object_id)?,
            officer_object_id: guid_flag("--officer-object-id", &flags.officer_object_id)?,
            tenant_id: guid_flag("--tenant-id", &flags.tenant_id)?,
            key_suffix: flags.key_suffix.clone(),
            profile,
            ..Settings::default()
        }
        .with_region(flags.region.as_deref())
        .with_ignore(&flags.ignore)
    }

    /// Sets `--region` (normalised).
    pub fn with_region(mut self, region: Option<&str>) -> Self {
        self.region = region.map(normalize_region);
        self
    }

    /// Sets `--ignore`: each a rule ID or name; anything else is a usage error.
    pub fn with_ignore<S: AsRef<str>>(mut self, rules: &[S]) -> Result<Self> {
        for rule in rules {
            let rule = rule.as_ref();
            let Some(r) = super::find(rule) else {
                return Err(Error::InvalidInput {
                    flag: "--ignore".into(),
                    value: rule.into(),
                    rule: "not a rule ID or name (see `cmek-arm rules`)".into(),
                });
            };
            if !self.ignore.contains(&r.id) {
                self.ignore.push(r.id);
            }
        }
        Ok(self)
    }

    /// Applies suppressions (`--ignore`, per-resource `metadata.cmek-arm.ignore`) and
    /// the profile's levels to every finding of a run — the one place where levels
    /// change. Call it once, on all findings (template and CMEK rules together), so
    /// a suppression that matches nothing can be reported (CMK018).
    pub fn apply(&self, diags: &mut Vec<Diagnostic>, deployment: Option<&Deployment>) {
        self.apply_inner(diags, deployment, true);
    }

    /// [`Settings::apply`] for one part of a run whose parts are reported as they
    /// finish (a fleet's keys): an `--ignore` that matches nothing in this part
    /// may match in another (or in another shard), so it is not reported here.
    pub fn apply_to_part(&self, diags: &mut Vec<Diagnostic>, deployment: Option<&Deployment>) {
        self.apply_inner(diags, deployment, false);
    }

    fn apply_inner(
        &self,
        diags: &mut Vec<Diagnostic>,
        deployment: Option<&Deployment>,
        unused_ignores: bool,
    ) {
        let mut unused: Vec<Diagnostic> = Vec::new();
        if let Some(dep) = deployment {
            let mut used: HashSet<(String, &'static str)> = HashSet::new();
            let mut seen: Vec<(String, &'static str, Diagnostic)> = Vec::new();
            let written = dep
                .resources
                .iter()
                .chain(&dep.existing)
                .map(|r| (r.display(), &r.origin, &r.suppressions))
                .chain(
                    dep.others
                        .iter()
                        .map(|o| (o.resource.clone(), &o.origin, &o.entries)),
                );
            for (display, origin, entries) in written {
                let origin = match origin {
                    Location::File { file, pointer, .. } => Some((file.as_str(), pointer.as_str())),
                    _ => None,
                };
                for s in entries {
                    let key = format!("{:?}", s.location);
                    let Some(rule) = super::find(&s.rule) else {
                        unused.push(
                            Diagnostic::new(
                                UNUSED_SUPPRESSION,
                                Level::Warning,
                                format!(
                                    "suppression on {display} names '{}', which is not a rule",
                                    s.rule
                                ),
                                s.location.clone(),
                            )
                            .with_resource(display.clone()),
                        );
                        continue;
                    };
                    let before = diags.len();
                    diags.retain(|d| !(d.rule == rule.id && belongs_to(d, &display, origin)));
                    if diags.len() < before {
                        used.insert((key.clone(), rule.id));
                    }
                    seen.push((
                        key,
                        rule.id,
                        Diagnostic::new(
                            UNUSED_SUPPRESSION,
                            Level::Warning,
                            format!(
                                "suppression of {} on {display} matches no finding; remove it",
                                rule.id
                            ),
                            s.location.clone(),
                        )
                        .with_resource(display.clone()),
                    ));
                }
            }
            // Copies of one resource (copy loops) share one written suppression: it is
            // used when any copy used it, and reported once.
            let mut reported = HashSet::new();
            for (key, id, diag) in seen {
                if !used.contains(&(key.clone(), id)) && reported.insert((key, id)) {
                    unused.push(diag);
                }
            }
        }
        for id in &self.ignore {
            let before = diags.len();
            diags.retain(|d| d.rule != *id);
            if unused_ignores && diags.len() == before && *id != UNUSED_SUPPRESSION {
                unused.push(Diagnostic::new(
                    UNUSED_SUPPRESSION,
                    Level::Warning,
                    format!("--ignore {id} matches no finding; remove it"),
                    Location::None,
                ));
            }
        }
        if !self.ignore.contains(&UNUSED_SUPPRESSION) {
            diags.extend(unused);
        }
        diags.retain_mut(|d| {
            let Some(rule) = super::find(d.rule) else {
                return true;
            };
            match self.profile.level(rule) {
                None => false,
                // Notes ("cannot be decided") stay notes; a rule's softer finding
                // (e.g. CMK010's vault-scope warning) never rises above the override,
                // nor does a harder one (PRE002's errors) stay above it. Without an
                // override, every finding keeps the level its rule gave it.
                Some(new) => {
                    if d.level == rule.level {
                        d.level = new;
                    } else if d.level != Level::Note && new != rule.level {
                        d.level = d.level.min(new);
                    }
                    true
                }
            }
        });
    }
}

/// True when a finding is about the resource `display` declared at `origin`.
fn belongs_to(d: &Diagnostic, display: &str, origin: Option<(&str, &str)>) -> bool {
    if d.resource.as_deref() == Some(display) {
        return true;
    }
    match (&d.location, origin) {
        (Location::File { file, pointer, .. }, Some((ofile, opointer))) => {
            file == ofile
                && (pointer == opointer
                    || pointer
                        .strip_prefix(opointer)
                        .is_some_and(|rest| rest.starts_with('/')))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use serde_json::json;

    #[test]
    fn the_embedded_profile_is_the_default() {
        assert_eq!(Profile::load("tidb-cloud").unwrap(), Profile::default());
    }

    #[test]
    fn profile_files_change_levels_and_requirements() {
        let p = Profile::from_toml(
            "p.toml",
            "[levels]\nCMK009 = \"error\"\nvendor-network-access = \"off\"\n[key]\nmin_size = 3072\n[regions]\nsupported = [\"East US\"]\n",
        )
        .unwrap();
        assert_eq!(p.levels.get("CMK009"), Some(&Some(Level::Error)));
        assert_eq!(p.levels.get("CMK015"), Some(&None));
        assert_eq!(p.min_key_size, 3072);
        assert_eq!(p.supported_regions, vec!["eastus".to_string()]);
        assert!(p.rotation_required);
    }

    #[test]
    fn bad_profiles_name_file_and_problem() {
        let e = Profile::from_toml("p.toml", "[levels]\nCMK999 = \"error\"\n").unwrap_err();
        assert!(
            e.to_string().contains("p.toml") && e.to_string().contains("CMK999"),
            "{e}"
        );
        let e = Profile::from_toml("p.toml", "[levels]\nCMK001 = \"loud\"\n").unwrap_err();
        assert!(e.to_string().contains("loud"), "{e}");
        let e = Profile::from_toml("p.toml", "[kee]\n").unwrap_err();
        assert!(e.to_string().contains("kee"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = Profile::load("no-such-profile").unwrap_err();
        assert!(e.to_string().contains("--profile"), "{e}");
        let e = Settings::default().with_ignore(&["CMK123"]).unwrap_err();
        assert!(e.to_string().contains("--ignore"), "{e}");
    }

    fn finding(rule: &'static str, level: Level, pointer: &str) -> Diagnostic {
        Diagnostic::new(
            rule,
            level,
            "m",
            Location::File {
                file: "t.json".into(),
                pointer: pointer.into(),
                span: None,
            },
        )
    }

    #[test]
    fn apply_overrides_levels_in_one_place() {
        let mut s = Settings::default();
        s.profile.levels.insert("CMK009", Some(Level::Error));
        s.profile.levels.insert("CMK015", None);
        s.profile.levels.insert("CMK010", Some(Level::Note));
        let mut diags = vec![
            finding("CMK009", Level::Warning, "/resources/1"),
            finding("CMK015", Level::Warning, "/resources/0"),
            finding("CMK010", Level::Warning, "/resources/1"),
            finding("CMK001", Level::Note, "/resources/0"),
        ];
        s.apply(&mut diags, None);
        let levels: Vec<_> = diags.iter().map(|d| (d.rule, d.level)).collect();
        assert_eq!(
            levels,
            vec![
                ("CMK009", Level::Error),
                ("CMK010", Level::Note),
                ("CMK001", Level::Note)
            ]
        );
    }

    #[test]
    fn a_finding_above_its_rules_level_keeps_it_unless_the_profile_lowers_the_rule() {
        let mut diags = vec![
            finding(
                "PRE002",
                Level::Error,
                "/resources/0/properties/enablePurgeProtection",
            ),
            finding("PRE002", Level::Warning, "/resources/0"),
        ];
        Settings::default().apply(&mut diags, None);
        let levels: Vec<_> = diags.iter().map(|d| d.level).collect();
        assert_eq!(levels, [Level::Error, Level::Warning]);
        let mut s = Settings::default();
        s.profile.levels.insert("PRE002", Some(Level::Note));
        s.apply(&mut diags, None);
        let levels: Vec<_> = diags.iter().map(|d| d.level).collect();
        assert_eq!(levels, [Level::Note, Level::Note]);
    }

    #[test]
    fn suppressions_remove_findings_and_unused_ones_are_reported() {
        let mut vault = testing::res(Kind::Vault, 0, json!({"name": "kv"}));
        let at = |i: usize| Location::File {
            file: "t.json".into(),
            pointer: format!("/resources/0/metadata/cmek-arm/ignore/{i}"),
            span: None,
        };
        for (i, rule) in ["CMK001", "vault-soft-delete", "CMK777"].iter().enumerate() {
            vault.suppressions.push(crate::model::Suppression {
                rule: (*rule).into(),
                reason: Some("test".into()),
                location: at(i),
            });
        }
        let dep = testing::dep(vec![vault]);
        let s = Settings::default()
            .with_ignore(&["CMK009", "CMK003"])
            .unwrap();
        let mut diags = vec![
            finding("CMK001", Level::Error, "/resources/0/properties"),
            finding("CMK001", Level::Error, "/resources/10/properties"),
            finding("CMK003", Level::Error, "/resources/0/properties"),
        ];
        s.apply(&mut diags, Some(&dep));
        let got: Vec<_> = diags
            .iter()
            .map(|d| (d.rule, d.level, d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                // /resources/10 is another resource, not a child of /resources/0.
                ("CMK001", Level::Error, "m"),
                (
                    "CMK018",
                    Level::Warning,
                    "suppression on Microsoft.KeyVault/vaults/kv names 'CMK777', which is not a rule"
                ),
                (
                    "CMK018",
                    Level::Warning,
                    "suppression of CMK002 on Microsoft.KeyVault/vaults/kv matches no finding; remove it"
                ),
                ("CMK018", Level::Warning, "--ignore CMK009 matches no finding; remove it"),
            ]
        );
        assert_eq!(diags[2].location, at(1));
    }

    #[test]
    fn flags_are_checked_and_named() {
        let ok = Settings::from_flags(&Flags {
            region: Some("East US".into()),
            sp_object_id: Some("11111111-1111-1111-1111-11111111111A".into()),
            key_suffix: Some("tidb-1234".into()),
            ignore: vec!["key-rotation-policy".into()],
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(ok.region.as_deref(), Some("eastus"));
        assert_eq!(
            ok.sp_object_id.as_deref(),
            Some("11111111-1111-1111-1111-11111111111a")
        );
        assert_eq!(ok.ignore, vec!["CMK009"]);
        for (flags, flag) in [
            (
                Flags {
                    sp_object_id: Some("my-app".into()),
                    ..Flags::default()
                },
                "--sp-object-id",
            ),
            (
                Flags {
                    tenant_id: Some("contoso.com".into()),
                    ..Flags::default()
                },
                "--tenant-id",
            ),
            (
                Flags {
                    region: Some("east/us".into()),
                    ..Flags::default()
                },
                "--region",
            ),
            (
                Flags {
                    key_suffix: Some("ti db".into()),
                    ..Flags::default()
                },
                "--key-suffix",
            ),
            (
                Flags {
                    profile: Some("/no/such.toml".into()),
                    ..Flags::default()
                },
                "--profile",
            ),
        ] {
            let e = Settings::from_flags(&flags).unwrap_err();
            assert!(e.to_string().contains(flag), "{e}");
            assert_eq!(e.exit_code(), 2);
        }
    }

    #[test]
    fn the_readme_profile_example_parses() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("```toml\n")
            .filter_map(|rest| rest.split("```").next())
            .find(|b| b.starts_with("name = \"strict\""))
            .unwrap();
        let p = Profile::from_toml("README.md", block).unwrap();
        assert_eq!(p.name, "strict");
        assert_eq!(p.levels.get("CMK015"), Some(&None));
        assert_eq!(p.supported_regions, vec!["eastus", "westeurope"]);
    }

    #[test]
    fn suppressions_on_other_resource_types_cover_findings_inside_them() {
        let mut dep = testing::dep(Vec::new());
        dep.others.push(crate::model::Suppressed {
            resource: "Microsoft.Storage/storageAccounts/sa".into(),
            origin: Location::File {
                file: "t.json".into(),
                pointer: "/resources/3".into(),
                span: None,
            },
            entries: vec![crate::model::Suppression {
                rule: "CMK002".into(),
                reason: None,
                location: Location::None,
            }],
        });
        let mut diags = vec![finding("CMK002", Level::Error, "/resources/3/location")];
        Settings::default().apply(&mut diags, Some(&dep));
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn regions_normalise() {
        assert_eq!(normalize_region("East US 2"), "eastus2");
        assert_eq!(
            Settings::default()
                .with_region(Some("West Europe"))
                .region
                .as_deref(),
            Some("westeurope")
        );
    }
}
