//! ## What it checks
//! The key's name matches `^[A-Za-z0-9-]{1,127}$` and, when the vendor gives a
//! suffix (`--key-suffix`), ends with it (compared case-insensitively, as Key Vault
//! compares names).
//!
//! ## Why it matters
//! The vendor's console asks for the key by name and identifies its own keys by a
//! suffix; a key named otherwise is not found, and the "Test Encryption Key" step
//! fails. Key Vault rejects names with other characters.
//!
//! ## Example
//! ```json
//! {"type": "Microsoft.KeyVault/vaults/keys", "name": "kv1/cluster_key"}
//! ```
//! with `--key-suffix tidb-1234`. Use instead:
//! ```json
//! {"type": "Microsoft.KeyVault/vaults/keys", "name": "kv1/cluster-key-tidb-1234"}
//! ```
//!
//! ## How to fix
//! Copy the full key name from the vendor console, or build it as `<prefix>-<suffix>`.
//! A key cannot be renamed: create a key with the right name.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers
//! - https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};
use crate::value::{text::Part, Str2};
use regex::Regex;
use std::sync::OnceLock;

const ID: &str = "CMK007";

fn valid_name() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new("^[A-Za-z0-9-]{1,127}$").unwrap_or_else(|_| unreachable!("literal pattern"))
    })
}

/// Reports keys with an invalid name or without the vendor's suffix.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    for key in dep.keys() {
        let p = key.str(&["name"]);
        if let Val::Unknown(why) = &p.val {
            if s.key_suffix.is_some() {
                out.push(undecided(ID, key, "the key name", why, &p));
            }
            continue;
        }
        let Some(short) = key.short_name() else {
            continue;
        };
        // Characters written in the template are checked; a symbol's are ARM's to
        // check when it gets a value.
        let written_ok = match &short {
            Str2::Lit(l) => valid_name().is_match(l),
            Str2::Text(t) => t.parts().iter().all(|p| match p {
                Part::Lit(l) => l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                Part::Sym(_) => true,
            }),
        };
        if !written_ok {
            let msg = format!("key name '{short}' must be 1-127 letters, digits and hyphens");
            out.push(at(ID, Level::Error, msg, key, &p));
            continue;
        }
        let Some(suffix) = s.key_suffix.as_deref() else {
            continue;
        };
        match short.as_str2().has_affix(suffix, true) {
            Some(true) => {}
            Some(false) => {
                let msg = format!(
                    "key '{}' does not end with the vendor suffix '{suffix}'",
                    name(key)
                );
                out.push(at(ID, Level::Error, msg, key, &p));
            }
            None => {
                let why = short.reason().unwrap_or_default();
                let what = format!("whether the key name ends with the vendor suffix '{suffix}'");
                out.push(undecided(ID, key, &what, &why, &p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use crate::value::Value;
    use serde_json::json;

    fn run(name: &str, suffix: Option<&str>) -> Vec<(Level, String)> {
        let k = testing::res(Kind::Key, 0, json!({"name": name}));
        let s = Settings {
            key_suffix: suffix.map(str::to_string),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), &s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn valid_names_with_suffix_pass() {
        assert!(run("kv/cmek-TiDB-1234", Some("tidb-1234")).is_empty());
        assert!(run("kv/anything-goes", None).is_empty());
    }

    #[test]
    fn bad_characters_and_wrong_suffix_fail() {
        assert_eq!(
            run("kv/my_key", None),
            vec![(
                Level::Error,
                "key name 'my_key' must be 1-127 letters, digits and hyphens".into()
            )]
        );
        assert_eq!(run(&format!("kv/{}", "a".repeat(128)), None).len(), 1);
        assert_eq!(
            run("kv/cmek-key", Some("tidb-1234")),
            vec![(
                Level::Error,
                "key 'kv/cmek-key' does not end with the vendor suffix 'tidb-1234'".into()
            )]
        );
    }

    #[test]
    fn unknown_name_is_a_note_when_a_suffix_is_required() {
        let mut k = testing::res(Kind::Key, 0, json!({}));
        let unknown = Value::unknown("no value for parameter 'keyName'");
        k.name = unknown.clone();
        testing::set(&mut k, &["name"], unknown);
        let s = Settings {
            key_suffix: Some("x".into()),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), &s, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Note);
    }
}
