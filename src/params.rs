//! Render inputs as validated newtypes: once a value exists, it is valid, so the
//! renderer never re-checks and never sees a half-valid input.
//!
//! Every constructor takes the flag name it is checking so that its error names
//! the flag, the value and the rule (`Error::InvalidInput`, exit 2).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

fn invalid(flag: &str, value: &str, rule: impl Into<String>) -> Error {
    Error::InvalidInput {
        flag: flag.to_string(),
        value: value.to_string(),
        rule: rule.into(),
    }
}

/// Azure public, US Government and China region names (`az account list-locations`
/// `name` column). Built in so that a render works offline; a missing new region
/// is a one-line addition here.
pub const KNOWN_REGIONS: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "centraluseuap",
    "chilecentral",
    "chinaeast",
    "chinaeast2",
    "chinaeast3",
    "chinanorth",
    "chinanorth2",
    "chinanorth3",
    "denmarkeast",
    "eastasia",
    "eastus",
    "eastus2",
    "eastus2euap",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "usdodcentral",
    "usdodeast",
    "usgovarizona",
    "usgovtexas",
    "usgovvirginia",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
];

/// An Azure region as ARM names it (`eastus`), normalised from a display name
/// (`East US`) when needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region(String);

impl Region {
    /// Normalises (lower case, no spaces) and checks against [`KNOWN_REGIONS`].
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        // Display names differ from ARM names only by case and spaces ("East US 2").
        let normalised: String = value
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        if KNOWN_REGIONS.contains(&normalised.as_str()) {
            return Ok(Region(normalised));
        }
        let hint = KNOWN_REGIONS
            .iter()
            .find(|r| !normalised.is_empty() && (r.starts_with(&normalised)))
            .map(|r| format!(" (did you mean '{r}'?)"))
            .unwrap_or_default();
        Err(invalid(
            flag,
            value,
            format!("not a known Azure region name such as 'eastus' or 'West Europe'{hint}"),
        ))
    }

    /// The ARM region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Key Vault name: 3–24 characters `[A-Za-z0-9-]`, starting with a letter,
/// ending with a letter or digit, without `--`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultName(String);

impl VaultName {
    /// Checks the Key Vault naming rules.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        let len = value.chars().count();
        let rule = if !(3..=24).contains(&len) {
            Some(format!("must be 3-24 characters long (is {len})"))
        } else if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            Some(format!(
                "may contain only letters, digits and '-' (found {c:?})"
            ))
        } else if !value.starts_with(|c: char| c.is_ascii_alphabetic()) {
            Some("must start with a letter".to_string())
        } else if value.ends_with('-') {
            Some("must end with a letter or digit".to_string())
        } else if value.contains("--") {
            Some("must not contain '--'".to_string())
        } else {
            None
        };
        match rule {
            Some(rule) => Err(invalid(flag, value, rule)),
            None => Ok(VaultName(value.to_string())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_key_chars(flag: &str, value: &str, what: &str) -> Result<()> {
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(invalid(
            flag,
            value,
            format!("{what} may contain only letters, digits and '-' (found {c:?})"),
        ));
    }
    Ok(())
}

/// A Key Vault key name: 1–127 characters `[A-Za-z0-9-]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyName(String);

impl KeyName {
    /// The longest key name Key Vault accepts.
    pub const MAX_LEN: usize = 127;

    /// Checks the key naming rules.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        // Characters first: a length in bytes of non-ASCII input would mislead.
        check_key_chars(flag, value, "a key name")?;
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(invalid(
                flag,
                value,
                format!(
                    "must be 1-{} characters long (is {})",
                    Self::MAX_LEN,
                    value.chars().count()
                ),
            ));
        }
        Ok(KeyName(value.to_string()))
    }

    /// `<prefix>-<suffix>`, as a vendor console splits the name; the joined name
    /// must satisfy the same limits.
    pub fn join(prefix: &str, suffix: &str) -> Result<Self> {
        for (flag, part) in [("--key-prefix", prefix), ("--key-suffix", suffix)] {
            if part.is_empty() {
                return Err(invalid(flag, part, "must not be empty"));
            }
            check_key_chars(flag, part, "a key name part")?;
        }
        let joined = format!("{prefix}-{suffix}");
        KeyName::parse("--key-prefix/--key-suffix", &joined)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Entra ID object ID: a GUID in its hyphenated form, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectId(String);

impl ObjectId {
    /// Checks the `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        // uuid also accepts braces, URNs and bare hex; ARM and the portal expect
        // exactly the hyphenated form, so insist on its shape first.
        let hyphenated = value.len() == 36
            && value.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if !hyphenated || uuid::Uuid::try_parse(value).is_err() {
            return Err(invalid(
                flag,
                value,
                "must be a GUID like 00000000-0000-0000-0000-000000000000 (the object ID, not the application ID)",
            ));
        }
        if uuid::Uuid::try_parse(value).is_ok_and(|u| u.is_nil()) {
            return Err(invalid(flag, value, "the nil GUID names no principal"));
        }
        Ok(ObjectId(value.to_string()))
    }

    /// The GUID as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key type: software-protected `RSA` or HSM-protected `RSA-HSM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum KeyType {
    /// Software-protected RSA (standard vault).
    #[default]
    #[serde(rename = "RSA")]
    Rsa,
    /// HSM-protected RSA (needs the premium vault SKU).
    #[serde(rename = "RSA-HSM")]
    RsaHsm,
}

impl KeyType {
    /// Accepts `RSA` or `RSA-HSM`, any case.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        match value.to_ascii_uppercase().as_str() {
            "RSA" => Ok(KeyType::Rsa),
            "RSA-HSM" => Ok(KeyType::RsaHsm),
            _ => Err(invalid(flag, value, "must be RSA or RSA-HSM")),
        }
    }

    /// The JSON Web Key type name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::RsaHsm => "RSA-HSM",
        }
    }
}

/// RSA key size in bits: 2048, 3072 or 4096.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeySize(u32);

impl KeySize {
    /// Sizes Key Vault accepts for RSA keys.
    pub const ALLOWED: [u32; 3] = [2048, 3072, 4096];

    /// Checks the size.
    pub fn new(flag: &str, bits: i64) -> Result<Self> {
        match u32::try_from(bits) {
            Ok(b) if Self::ALLOWED.contains(&b) => Ok(KeySize(b)),
            _ => Err(invalid(
                flag,
                &bits.to_string(),
                "must be 2048, 3072 or 4096",
            )),
        }
    }

    /// Bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl Default for KeySize {
    fn default() -> Self {
        KeySize(3072)
    }
}

/// Soft-delete retention in days: 7–90.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetentionDays(u32);

impl RetentionDays {
    /// Checks the range Key Vault accepts.
    pub fn new(flag: &str, days: i64) -> Result<Self> {
        match u32::try_from(days) {
            Ok(d) if (7..=90).contains(&d) => Ok(RetentionDays(d)),
            _ => Err(invalid(
                flag,
                &days.to_string(),
                "must be between 7 and 90 days",
            )),
        }
    }

    /// Days.
    pub fn days(self) -> u32 {
        self.0
    }
}

impl Default for RetentionDays {
    fn default() -> Self {
        RetentionDays(90)
    }
}

/// An ISO 8601 duration in whole days or more (`P1Y`, `P18M`, `P90D`, `P2W`), as
/// Key Vault rotation policies take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso8601Duration {
    years: u32,
    months: u32,
    days: u32,
}

impl Iso8601Duration {
    /// Key Vault rotates at the earliest 7 days after creation.
    pub const MIN_DAYS: u32 = 7;

    /// Parses `P[nY][nM][nW][nD]`. Time parts (`PT…`) are refused: rotation
    /// policies work in days.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        let err = |rule: &str| invalid(flag, value, rule);
        let shape =
            "must be an ISO 8601 duration in years, months, weeks or days, e.g. P1Y, P18M, P90D";
        let Some(body) = value.strip_prefix('P') else {
            return Err(err(shape));
        };
        if body.contains('T') {
            return Err(err(
                "rotation works in days: hours, minutes and seconds (PT...) are not accepted",
            ));
        }
        let (mut years, mut months, mut days) = (0u32, 0u32, 0u32);
        let mut digits = String::new();
        let mut last_unit = 0;
        for c in body.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            // Designators must appear once each, in Y, M, W, D order.
            let order = match c {
                'Y' => 1,
                'M' => 2,
                'W' => 3,
                'D' => 4,
                _ => return Err(err(shape)),
            };
            if digits.is_empty() || order <= last_unit {
                return Err(err(shape));
            }
            let n: u32 = digits
                .parse()
                .ok()
                .filter(|n| *n <= 10_000)
                .ok_or_else(|| err("number too large"))?;
            digits.clear();
            last_unit = order;
            match c {
                'Y' => years = n,
                'M' => months = n,
                'W' => days += n * 7,
                _ => days += n,
            }
        }
        if !digits.is_empty() || last_unit == 0 {
            return Err(err(shape));
        }
        let d = Iso8601Duration {
            years,
            months,
            days,
        };
        if d.approx_days() < u64::from(Self::MIN_DAYS) {
            return Err(err(
                "Key Vault rotates at the earliest 7 days after creation (P7D)",
            ));
        }
        Ok(d)
    }

    /// Length in days, counting a year as 365 and a month as 30 (only for limits).
    pub fn approx_days(self) -> u64 {
        u64::from(self.years) * 365 + u64::from(self.months) * 30 + u64::from(self.days)
    }

    /// This duration plus `days` days.
    pub fn plus_days(self, days: u32) -> Self {
        Iso8601Duration {
            days: self.days.saturating_add(days),
            ..self
        }
    }
}

impl fmt::Display for Iso8601Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        for (n, unit) in [(self.years, 'Y'), (self.months, 'M'), (self.days, 'D')] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// An IPv4 address or CIDR range for the vault firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpRange(String);

impl IpRange {
    /// Accepts `a.b.c.d` or `a.b.c.d/n` with no host bits set.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        let (addr, prefix) = match value.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (value, None),
        };
        let Ok(ip) = addr.parse::<Ipv4Addr>() else {
            let rule = if addr.contains(':') {
                "Key Vault firewall rules take IPv4 addresses only"
            } else {
                "must be an IPv4 address or CIDR range, e.g. 203.0.113.0/24"
            };
            return Err(invalid(flag, value, rule));
        };
        if let Some(p) = prefix {
            let bits: u32 = p
                .parse()
                .ok()
                .filter(|b| *b <= 32 && !p.starts_with('+'))
                .ok_or_else(|| invalid(flag, value, "prefix length must be 0-32"))?;
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            let network = Ipv4Addr::from(u32::from(ip) & mask);
            if network != ip {
                return Err(invalid(
                    flag,
                    value,
                    format!("host bits are set; the range is {network}/{bits}"),
                ));
            }
        }
        Ok(IpRange(value.to_string()))
    }

    /// The address or range as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Resource tags, sorted by name so that output is byte-stable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Tags(BTreeMap<String, String>);

impl Tags {
    /// Azure allows at most 50 tags per resource.
    pub const MAX_TAGS: usize = 50;

    /// Parses `KEY=VALUE` (split at the first `=`; the value may contain anything).
    pub fn parse_pair(flag: &str, pair: &str) -> Result<(String, String)> {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(invalid(flag, pair, "must be KEY=VALUE"));
        };
        Self::check(flag, k, v)?;
        Ok((k.to_string(), v.to_string()))
    }

    /// Checks one tag against Azure's limits.
    pub fn check(flag: &str, key: &str, value: &str) -> Result<()> {
        let shown = format!("{key}={value}");
        if key.trim().is_empty() {
            return Err(invalid(flag, &shown, "tag name must not be empty"));
        }
        if key.chars().count() > 512 {
            return Err(invalid(
                flag,
                &shown,
                "tag name must be at most 512 characters",
            ));
        }
        if let Some(c) = key
            .chars()
            .find(|c| "<>%&\\?/".contains(*c) || c.is_control())
        {
            return Err(invalid(
                flag,
                &shown,
                format!("tag name must not contain {c:?} (Azure forbids < > % & \\ ? / and control characters)"),
            ));
        }
        if value.chars().count() > 256 {
            return Err(invalid(
                flag,
                &shown,
                "tag value must be at most 256 characters",
            ));
        }
        Ok(())
    }

    /// Builds the set, refusing more than [`Self::MAX_TAGS`] or names that differ
    /// only in case (Azure treats tag names case-insensitively).
    pub fn from_map(flag: &str, map: BTreeMap<String, String>) -> Result<Self> {
        if map.len() > Self::MAX_TAGS {
            return Err(invalid(
                flag,
                &format!("{} tags", map.len()),
                "Azure allows at most 50 tags per resource",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (k, v) in &map {
            Self::check(flag, k, v)?;
            if !seen.insert(k.to_lowercase()) {
                return Err(invalid(
                    flag,
                    k,
                    "tag names are case-insensitive in Azure; this name is given twice",
                ));
            }
        }
        Ok(Tags(map))
    }

    /// Tags by name.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// Tags as a params file may give them: a table, or a list of `KEY=VALUE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawTags {
    /// `{"env": "prod"}`.
    Map(BTreeMap<String, String>),
    /// `["env=prod"]`.
    List(Vec<String>),
}

impl RawTags {
    /// Name to value; in a list, a later entry for the same name wins.
    pub fn into_pairs(self, flag: &str) -> Result<BTreeMap<String, String>> {
        match self {
            RawTags::Map(m) => Ok(m),
            RawTags::List(list) => {
                let mut map = BTreeMap::new();
                for pair in list {
                    let (k, v) = Tags::parse_pair(flag, &pair)?;
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
    }
}

/// A resource group name as ARM accepts it: 1-90 characters, letters, digits,
/// `_`, `-`, `.`, `(` and `)`, not ending with `.`. (ARM also allows non-ASCII
/// letters; the Azure CLI and most scripts do not, and neither does this.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceGroupName(String);

impl ResourceGroupName {
    /// The longest resource group name ARM accepts.
    pub const MAX_LEN: usize = 90;

    /// Checks the resource group naming rules.
    pub fn parse(flag: &str, value: &str) -> Result<Self> {
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_-.()".contains(*c)))
        {
            return Err(invalid(
                flag,
                value,
                format!("a resource group name may contain only letters, digits and '_', '-', '.', '(', ')' (found {c:?})"),
            ));
        }
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(invalid(
                flag,
                value,
                format!(
                    "must be 1-{} characters long (is {})",
                    Self::MAX_LEN,
                    value.len()
                ),
            ));
        }
        if value.ends_with('.') {
            return Err(invalid(flag, value, "must not end with '.'"));
        }
        Ok(ResourceGroupName(value.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `--existing-vault`: the vault exists already; render declares only the key
/// and the role assignments and references the vault (never deploys it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingVault {
    /// `--vault-resource-group`: the vault's resource group when it is not the
    /// one the template is deployed to.
    pub resource_group: Option<ResourceGroupName>,
}

/// Render inputs before validation: what a `--params` file holds (snake_case
/// names of the CLI flags) and what flags give. Merged with flags winning.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    /// `--region`.
    pub region: Option<String>,
    /// `--vault-name`.
    pub vault_name: Option<String>,
    /// `--key-name`.
    pub key_name: Option<String>,
    /// `--key-prefix`.
    pub key_prefix: Option<String>,
    /// `--key-suffix`.
    pub key_suffix: Option<String>,
    /// `--sp-object-id`.
    pub sp_object_id: Option<String>,
    /// `--officer-object-id`.
    pub officer_object_id: Option<String>,
    /// `--key-type`.
    pub key_type: Option<String>,
    /// `--key-size`.
    pub key_size: Option<i64>,
    /// `--rotate-every`.
    pub rotate_every: Option<String>,
    /// `--no-rotation`.
    pub no_rotation: Option<bool>,
    /// `--retention-days`.
    pub retention_days: Option<i64>,
    /// `--allow-ip`, repeated.
    pub allow_ip: Option<Vec<String>>,
    /// `--tag`, repeated.
    pub tag: Option<RawTags>,
    /// `--existing-vault`.
    pub existing_vault: Option<bool>,
    /// `--vault-resource-group`.
    pub vault_resource_group: Option<String>,
}

/// The params-file JSON Schema (snake_case names, types, no unknown keys).
pub const PARAMS_SCHEMA: &str = include_str!("../schemas/cmek-params.schema.json");

impl RawParams {
    /// Reads a `--params` file: `.toml` as TOML, anything else as JSON. The
    /// content is checked against `schemas/cmek-params.schema.json`, so an unknown
    /// or mistyped key is reported by name.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::File {
            path: path.to_path_buf(),
            message: format!("cannot read the --params file: {e}"),
        })?;
        let file_err = |message: String| Error::File {
            path: path.to_path_buf(),
            message,
        };
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let value: serde_json::Value = if is_toml {
            toml::from_str(&text).map_err(|e| file_err(format!("not valid TOML: {e}")))?
        } else {
            serde_json::from_str(&text).map_err(|e| file_err(format!("not valid JSON: {e}")))?
        };
        let schema: serde_json::Value = serde_json::from_str(PARAMS_SCHEMA)
            .map_err(|e| Error::Internal(format!("params schema: {e}")))?;
        let validator = jsonschema::draft7::new(&schema)
            .map_err(|e| Error::Internal(format!("params schema: {e}")))?;
        let mut problems: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{}: {e}", at.trim_start_matches('/'))
                }
            })
            .collect();
        if !problems.is_empty() {
            problems.sort();
            return Err(file_err(format!(
                "does not match the params schema: {}",
                problems.join("; ")
            )));
        }
        serde_json::from_value(value).map_err(|e| file_err(e.to_string()))
    }

    /// Overlays `flags` on `self`: each value given by a flag wins; tags merge by
    /// name with the flag's value winning; `--allow-ip` replaces the file's list.
    pub fn overlay(mut self, flags: RawParams) -> Result<Self> {
        // A flag naming the key one way overrides a file naming it the other way;
        // likewise for rotation on/off.
        if flags.key_name.is_some() && flags.key_prefix.is_none() {
            self.key_prefix = None;
        }
        if flags.key_prefix.is_some() && flags.key_name.is_none() {
            self.key_name = None;
        }
        if flags.rotate_every.is_some() && flags.no_rotation.is_none() {
            self.no_rotation = None;
        }
        if flags.no_rotation == Some(true) && flags.rotate_every.is_none() {
            self.rotate_every = None;
        }
        macro_rules! take {
            ($($f:ident),*) => { $( if flags.$f.is_some() { self.$f = flags.$f; } )* };
        }
        take!(
            region,
            vault_name,
            key_name,
            key_prefix,
            key_suffix,
            sp_object_id,
            officer_object_id,
            key_type,
            key_size,
            rotate_every,
            no_rotation,
            retention_days,
            allow_ip,
            existing_vault,
            vault_resource_group
        );
        self.tag = match (self.tag, flags.tag) {
            (None, t) | (t, None) => t,
            (Some(file), Some(flag)) => {
                // Merge as (name, value) pairs: re-joining a table entry into
                // "name=value" would split wrongly at an '=' inside the name.
                let mut merged = file.into_pairs("--params tag")?;
                merged.extend(flag.into_pairs("--tag")?);
                Some(RawTags::Map(merged))
            }
        };
        Ok(self)
    }

    /// Validates every input into a [`RenderRequest`]; the first bad value is
    /// the error.
    pub fn validate(self) -> Result<RenderRequest> {
        let required = |flag: &str, v: Option<String>| {
            v.ok_or_else(|| Error::Usage(format!("{flag} is required (as a flag or in --params)")))
        };
        let region = Region::parse("--region", &required("--region", self.region)?)?;
        let vault_name =
            VaultName::parse("--vault-name", &required("--vault-name", self.vault_name)?)?;
        let key_suffix = self.key_suffix;
        let key_name = match (self.key_name, self.key_prefix, &key_suffix) {
            (Some(_), Some(_), _) => {
                return Err(Error::Usage(
                    "give either --key-name or --key-prefix with --key-suffix, not both".into(),
                ))
            }
            (Some(name), None, suffix) => {
                let name = KeyName::parse("--key-name", &name)?;
                if let Some(s) = suffix {
                    if !name.as_str().ends_with(s.as_str()) {
                        return Err(invalid(
                            "--key-name",
                            name.as_str(),
                            format!("must end with the vendor suffix '{s}' given by --key-suffix"),
                        ));
                    }
                }
                name
            }
            (None, Some(prefix), Some(suffix)) => KeyName::join(&prefix, suffix)?,
            (None, Some(_), None) => {
                return Err(Error::Usage("--key-prefix needs --key-suffix".into()))
            }
            (None, None, _) => {
                return Err(Error::Usage(
                    "--key-name (or --key-prefix with --key-suffix) is required".into(),
                ))
            }
        };
        let sp_object_id = ObjectId::parse(
            "--sp-object-id",
            &required("--sp-object-id", self.sp_object_id)?,
        )?;
        let officer_object_id = self
            .officer_object_id
            .map(|o| ObjectId::parse("--officer-object-id", &o))
            .transpose()?;
        let key_type = self
            .key_type
            .map(|t| KeyType::parse("--key-type", &t))
            .transpose()?
            .unwrap_or_default();
        let key_size = self
            .key_size
            .map(|s| KeySize::new("--key-size", s))
            .transpose()?
            .unwrap_or_default();
        let rotation = match (self.no_rotation.unwrap_or(false), self.rotate_every) {
            (true, Some(_)) => {
                return Err(Error::Usage(
                    "--no-rotation and --rotate-every contradict each other".into(),
                ))
            }
            (true, None) => None,
            (false, r) => Some(Iso8601Duration::parse(
                "--rotate-every",
                r.as_deref().unwrap_or("P1Y"),
            )?),
        };
        let retention_days = self
            .retention_days
            .map(|d| RetentionDays::new("--retention-days", d))
            .transpose()?
            .unwrap_or_default();
        let mut allow_ips: Vec<IpRange> = Vec::new();
        for ip in self.allow_ip.unwrap_or_default() {
            let range = IpRange::parse("--allow-ip", &ip)?;
            if allow_ips.contains(&range) {
                return Err(invalid("--allow-ip", &ip, "given twice"));
            }
            allow_ips.push(range);
        }
        let tag_map = match self.tag {
            None => BTreeMap::new(),
            Some(tags) => tags.into_pairs("--tag")?,
        };
        let tags = Tags::from_map("--tag", tag_map)?;
        let existing_vault = match (self.existing_vault.unwrap_or(false), self.vault_resource_group) {
            (false, Some(_)) => {
                return Err(Error::Usage(
                    "--vault-resource-group needs --existing-vault (a new vault is created in the resource group the template is deployed to)".into(),
                ))
            }
            (false, None) => None,
            (true, group) => {
                // The vault's own settings are not the template's to set: refuse
                // them rather than silently leave them out.
                let vault_only = [
                    ("--retention-days", self.retention_days.is_some()),
                    ("--allow-ip", !allow_ips.is_empty()),
                ];
                if let Some((flag, _)) = vault_only.iter().find(|(_, given)| *given) {
                    return Err(Error::Usage(format!(
                        "{flag} configures a new vault; with --existing-vault the vault is not rendered, so its settings stay as they are (check them with `cmek-arm check`)"
                    )));
                }
                Some(ExistingVault {
                    resource_group: group
                        .map(|g| ResourceGroupName::parse("--vault-resource-group", &g))
                        .transpose()?,
                })
            }
        };
        Ok(RenderRequest {
            region,
            vault_name,
            key_name,
            key_suffix,
            sp_object_id,
            officer_object_id,
            key_type,
            key_size,
            rotation,
            retention_days,
            allow_ips,
            tags,
            existing_vault,
        })
    }
}

/// Everything `render` needs, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRequest {
    /// Region of the cluster and the vault.
    pub region: Region,
    /// Key Vault name.
    pub vault_name: VaultName,
    /// Full key name.
    pub key_name: KeyName,
    /// The vendor suffix, when given (the portal form then checks the key name ends with it).
    pub key_suffix: Option<String>,
    /// Vendor service principal's object ID.
    pub sp_object_id: ObjectId,
    /// Who gets Crypto Officer; `None` means the deploying principal.
    pub officer_object_id: Option<ObjectId>,
    /// RSA or RSA-HSM.
    pub key_type: KeyType,
    /// Key size in bits.
    pub key_size: KeySize,
    /// Rotation interval; `None` with `--no-rotation`.
    pub rotation: Option<Iso8601Duration>,
    /// Soft-delete retention.
    pub retention_days: RetentionDays,
    /// Firewall allow-list; empty means public network access.
    pub allow_ips: Vec<IpRange>,
    /// Resource tags.
    pub tags: Tags,
    /// Set with `--existing-vault`: reference the vault, do not deploy it.
    pub existing_vault: Option<ExistingVault>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_display_names_normalise() {
        assert_eq!(
            Region::parse("--region", "East US 2").unwrap().as_str(),
            "eastus2"
        );
        assert_eq!(
            Region::parse("--region", "westeurope").unwrap().as_str(),
            "westeurope"
        );
        let err = Region::parse("--region", "eastus9")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--region") && err.contains("eastus9"), "{err}");
    }

    #[test]
    fn vault_names() {
        for ok in ["kv1", "kv-cmek-01", "A23456789012345678901234"] {
            VaultName::parse("--vault-name", ok).unwrap();
        }
        for bad in [
            "kv",
            "1kv",
            "kv-",
            "kv--1",
            "kv_1",
            "A234567890123456789012345",
            "kv√1",
        ] {
            assert!(VaultName::parse("--vault-name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_names_and_join() {
        assert_eq!(
            KeyName::join("tidb-cmek", "a1b2c3").unwrap().as_str(),
            "tidb-cmek-a1b2c3"
        );
        assert!(KeyName::join(&"a".repeat(120), "abcdefg").is_err());
        assert!(KeyName::parse("--key-name", &"a".repeat(127)).is_ok());
        assert!(KeyName::parse("--key-name", "a b").is_err());
        assert!(KeyName::parse("--key-name", "").is_err());
    }

    #[test]
    fn object_ids() {
        ObjectId::parse("--sp-object-id", "3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap();
        for bad in [
            "3f2504e04f8941d39a0c0305e82c3301",
            "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
            "00000000-0000-0000-0000-000000000000",
            "3f2504e0-4f89-41d3-9a0c-0305e82c330g",
        ] {
            assert!(ObjectId::parse("--sp-object-id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let d = |s| Iso8601Duration::parse("--rotate-every", s);
        assert_eq!(d("P1Y").unwrap().to_string(), "P1Y");
        assert_eq!(d("P2W").unwrap().to_string(), "P14D");
        assert_eq!(d("P1Y6M").unwrap().plus_days(90).to_string(), "P1Y6M90D");
        for bad in [
            "1Y",
            "P",
            "PT5H",
            "P1D",
            "P1M1Y",
            "P1Y1Y",
            "P1X",
            "P99999999Y",
            "P6D",
        ] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_ranges() {
        IpRange::parse("--allow-ip", "203.0.113.0/24").unwrap();
        IpRange::parse("--allow-ip", "203.0.113.7").unwrap();
        IpRange::parse("--allow-ip", "0.0.0.0/0").unwrap();
        for bad in [
            "203.0.113.1/24",
            "2001:db8::/32",
            "10.0.0.0/33",
            "10.0.0",
            "10.0.0.0/+8",
        ] {
            assert!(IpRange::parse("--allow-ip", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert_eq!(
            Tags::parse_pair("--tag", "a=b=c").unwrap(),
            ("a".to_string(), "b=c".to_string())
        );
        assert!(Tags::parse_pair("--tag", "noequals").is_err());
        assert!(Tags::parse_pair("--tag", "a/b=1").is_err());
        let mut m = BTreeMap::new();
        m.insert("Env".to_string(), "1".to_string());
        m.insert("env".to_string(), "2".to_string());
        assert!(Tags::from_map("--tag", m).is_err());
    }

    #[test]
    fn flags_win_over_file() {
        let file = RawParams {
            key_name: Some("from-file".into()),
            key_size: Some(2048),
            tag: Some(RawTags::List(vec!["a=1".into(), "b=1".into()])),
            ..Default::default()
        };
        let flags = RawParams {
            key_prefix: Some("p".into()),
            key_suffix: Some("s".into()),
            key_size: Some(4096),
            tag: Some(RawTags::List(vec!["b=2".into()])),
            ..Default::default()
        };
        let merged = file.overlay(flags).unwrap();
        assert_eq!(merged.key_name, None);
        assert_eq!(merged.key_size, Some(4096));
        let Some(RawTags::Map(tags)) = merged.tag else {
            panic!("tags lost")
        };
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tags, [("a", "1"), ("b", "2")]);

        // A table entry whose name holds '=' survives a merge with flag tags.
        let file = RawParams {
            tag: Some(RawTags::Map([("a=b".to_string(), "c".to_string())].into())),
            ..Default::default()
        };
        let flags = RawParams {
            tag: Some(RawTags::List(vec!["d=e".into()])),
            ..Default::default()
        };
        let Some(RawTags::Map(tags)) = file.overlay(flags).unwrap().tag else {
            panic!("tags lost")
        };
        assert_eq!(tags.get("a=b").map(String::as_str), Some("c"));
    }

    #[test]
    fn existing_vault_comes_from_a_params_file_and_its_flags_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        std::fs::write(
            &file,
            r#"{"region": "eastus", "vault_name": "kv1", "key_name": "k1",
                "sp_object_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                "existing_vault": true, "vault_resource_group": "rg-shared.vaults(1)"}"#,
        )
        .unwrap();
        let req = RawParams::from_file(&file)
            .unwrap()
            .overlay(RawParams::default())
            .unwrap()
            .validate()
            .unwrap();
        let group = req.existing_vault.and_then(|e| e.resource_group);
        assert_eq!(group.unwrap().as_str(), "rg-shared.vaults(1)");
        for bad in ["", "rg.", "rg/x", "r\u{e9}sum\u{e9}", &"r".repeat(91)] {
            let err = ResourceGroupName::parse("--vault-resource-group", bad).unwrap_err();
            assert!(err.to_string().contains("--vault-resource-group"), "{err}");
        }
        ResourceGroupName::parse("--vault-resource-group", &"r".repeat(90)).unwrap();
    }
}
