//! ## What it checks
//! The key can be used now: `attributes.enabled` is not `false`; `attributes.exp`
//! (expiry, seconds since 1970), if set, is in the future — a warning when it is
//! less than 30 days away; `attributes.nbf` (not before), if set, is in the past.
//!
//! ## Why it matters
//! A disabled, expired or not-yet-valid key refuses wrap and unwrap: the vendor's
//! service loses access to the data it encrypts, and a cluster cannot start.
//!
//! ## Example
//! ```json
//! {"properties": {"kty": "RSA", "attributes": {"enabled": false, "exp": 1700000000}}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"kty": "RSA", "attributes": {"enabled": true}}}
//! ```
//!
//! ## How to fix
//! Enable the key, and prefer a rotation policy with `expiryTime` over a fixed `exp`.
//! For an existing key: `az keyvault key set-attributes --vault-name <v> --name <k>
//! --enabled true --expires <date>`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/keys/about-keys-details#key-attributes
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults/keys

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const ID: &str = "CMK008";

/// Expiry closer than this is a warning.
const WARN_SECONDS: i64 = 30 * 24 * 3600;

fn date(epoch: i64) -> String {
    OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{epoch} (seconds since 1970)"))
}

/// Reports disabled, expired or not-yet-valid keys.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let now = s.now.unix_timestamp();
    for key in dep.keys() {
        let enabled = key.key_enabled();
        match &enabled.val {
            Val::Known(false) => {
                let msg = format!(
                    "key '{}' is disabled (attributes.enabled is false)",
                    name(key)
                );
                out.push(at(ID, Level::Error, msg, key, &enabled));
            }
            Val::Unknown(why) => out.push(undecided(ID, key, "attributes.enabled", why, &enabled)),
            _ => {}
        }
        let exp = key.key_expires();
        match &exp.val {
            Val::Known(t) if *t <= now => {
                let msg = format!("key '{}' expired on {}", name(key), date(*t));
                out.push(at(ID, Level::Error, msg, key, &exp));
            }
            Val::Known(t) if *t - now < WARN_SECONDS => {
                let msg = format!(
                    "key '{}' expires on {}, in less than 30 days",
                    name(key),
                    date(*t)
                );
                out.push(at(ID, Level::Warning, msg, key, &exp));
            }
            Val::Unknown(why) => out.push(undecided(ID, key, "attributes.exp", why, &exp)),
            Val::Invalid(t) => {
                let msg = format!(
                    "key '{}' sets attributes.exp to a {t}, not seconds since 1970",
                    name(key)
                );
                out.push(at(ID, Level::Error, msg, key, &exp));
            }
            _ => {}
        }
        let nbf = key.key_not_before();
        match &nbf.val {
            Val::Known(t) if *t > now => {
                let msg = format!("key '{}' is not valid before {}", name(key), date(*t));
                out.push(at(ID, Level::Error, msg, key, &nbf));
            }
            Val::Unknown(why) => out.push(undecided(ID, key, "attributes.nbf", why, &nbf)),
            Val::Invalid(t) => {
                let msg = format!(
                    "key '{}' sets attributes.nbf to a {t}, not seconds since 1970",
                    name(key)
                );
                out.push(at(ID, Level::Error, msg, key, &nbf));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use crate::value::Value;
    use serde_json::json;
    use time::macros::datetime;

    fn settings() -> Settings {
        Settings {
            now: datetime!(2026-01-01 0:00 UTC),
            ..Settings::default()
        }
    }

    fn run(attrs: serde_json::Value) -> Vec<(Level, String)> {
        let k = testing::res(
            Kind::Key,
            0,
            json!({"name": "kv/k", "properties": {"attributes": attrs}}),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), &settings(), &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn enabled_valid_keys_pass() {
        assert!(run(json!({})).is_empty());
        assert!(run(json!({"enabled": true, "exp": NOW + 31 * 86400, "nbf": NOW - 1})).is_empty());
    }

    #[test]
    fn disabled_expired_soon_and_future_keys_are_reported() {
        assert_eq!(
            run(json!({"enabled": false, "exp": NOW, "nbf": NOW + 86400})),
            vec![
                (
                    Level::Error,
                    "key 'kv/k' is disabled (attributes.enabled is false)".into()
                ),
                (
                    Level::Error,
                    "key 'kv/k' expired on 2026-01-01T00:00:00Z".into()
                ),
                (
                    Level::Error,
                    "key 'kv/k' is not valid before 2026-01-02T00:00:00Z".into()
                ),
            ]
        );
        assert_eq!(
            run(json!({"exp": NOW + 29 * 86400})),
            vec![(
                Level::Warning,
                "key 'kv/k' expires on 2026-01-30T00:00:00Z, in less than 30 days".into()
            )]
        );
    }

    #[test]
    fn unknown_expiry_is_a_note() {
        let mut k = testing::res(Kind::Key, 0, json!({"name": "kv/k"}));
        testing::set(
            &mut k,
            &["properties", "attributes", "exp"],
            Value::unknown("utcNow() is only known at deployment"),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), &settings(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Note);
    }
}
