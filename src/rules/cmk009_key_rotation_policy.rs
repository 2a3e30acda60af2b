//! ## What it checks
//! The key rotates itself: `rotationPolicy.lifetimeActions` holds an action of type
//! `rotate` (any case), and its interval (`timeAfterCreate`, or `expiryTime` minus
//! `timeBeforeExpiry`) is shorter than the policy's `expiryTime`, when that is set.
//! A profile with `rotation.required = false` only checks the interval.
//!
//! ## Why it matters
//! Regular rotation limits what one key version protects, and is expected by most
//! compliance regimes. A policy that expires keys before it rotates them leaves an
//! expired current version — the vendor's service then cannot unwrap.
//!
//! ## Example
//! ```json
//! {"rotationPolicy": {"attributes": {"expiryTime": "P90D"},
//!   "lifetimeActions": [{"trigger": {"timeAfterCreate": "P1Y"}, "action": {"type": "rotate"}}]}}
//! ```
//! Use instead:
//! ```json
//! {"rotationPolicy": {"attributes": {"expiryTime": "P2Y"},
//!   "lifetimeActions": [{"trigger": {"timeAfterCreate": "P1Y"}, "action": {"type": "rotate"}}]}}
//! ```
//!
//! ## How to fix
//! Add a rotation policy with a `rotate` action (e.g. every `P1Y`) and an `expiryTime`
//! longer than the rotation interval. Existing key:
//! `az keyvault key rotation-policy update --vault-name <v> --name <k> --value policy.json`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/keys/how-to-configure-key-rotation
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults/keys#rotationpolicy

use super::common::{at, duration_days, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};
use crate::value::Value;

const ID: &str = "CMK009";

/// Reports keys without automatic rotation or with a rotation slower than expiry.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let required = s.profile.rotation_required;
    for key in dep.keys() {
        let actions = key.rotation_actions();
        let list = match &actions.val {
            Val::Known(list) => list.clone(),
            Val::Absent => Vec::new(),
            Val::Unknown(why) => {
                out.push(undecided(ID, key, "the rotation policy", why, &actions));
                continue;
            }
            Val::Invalid(t) => {
                let msg = format!(
                    "key '{}' has lifetimeActions of type {t}, not an array",
                    name(key)
                );
                out.push(at(ID, Level::Warning, msg, key, &actions));
                continue;
            }
        };
        let is_rotate = |a: &Value| {
            a.path(&["action", "type"])
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("rotate"))
        };
        let Some(rotate) = list.iter().find(|a| is_rotate(a)) else {
            if !required {
                continue;
            }
            if let Some(why) = list.iter().find_map(Value::unknown_reason) {
                out.push(undecided(ID, key, "the rotation policy", why, &actions));
                continue;
            }
            let msg = format!(
                "key '{}' has no automatic rotation (no lifetime action of type 'rotate')",
                name(key)
            );
            out.push(at(ID, Level::Warning, msg, key, &actions));
            continue;
        };
        let expiry = key.rotation_expiry();
        let expiry_text = match &expiry.val {
            Val::Known(e) => e.clone(),
            Val::Unknown(why) => {
                out.push(undecided(
                    ID,
                    key,
                    "the rotation policy's expiryTime",
                    why,
                    &expiry,
                ));
                continue;
            }
            _ => continue,
        };
        let Some(expiry_days) = duration_days(&expiry_text) else {
            let msg = format!(
                "key '{}' has expiryTime '{expiry_text}', which is not an ISO 8601 duration",
                name(key)
            );
            out.push(at(ID, Level::Warning, msg, key, &expiry));
            continue;
        };
        let trigger = |k: &str| rotate.path(&["trigger", k]);
        let (interval_text, interval_days) =
            match (trigger("timeAfterCreate"), trigger("timeBeforeExpiry")) {
                (Some(Value::String(t)), _) => (t.clone(), duration_days(t)),
                (_, Some(Value::String(t))) => (
                    format!("{expiry_text} minus {t}"),
                    duration_days(t).map(|before| expiry_days - before),
                ),
                (Some(Value::Unknown(why)), _) | (_, Some(Value::Unknown(why))) => {
                    out.push(undecided(ID, key, "the rotation trigger", why, &actions));
                    continue;
                }
                _ => continue,
            };
        let Some(interval_days) = interval_days else {
            let msg = format!("key '{}' has a rotation trigger '{interval_text}' that is not an ISO 8601 duration", name(key));
            out.push(at(ID, Level::Warning, msg, key, &actions));
            continue;
        };
        if interval_days >= expiry_days || interval_days <= 0.0 {
            let msg = format!(
                "key '{}' rotates after {interval_text} but its versions expire after {expiry_text}; rotation must come first",
                name(key)
            );
            out.push(at(ID, Level::Warning, msg, key, &expiry));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use serde_json::json;

    fn run(policy: serde_json::Value, s: &Settings) -> Vec<(Level, String)> {
        let k = testing::res(
            Kind::Key,
            0,
            json!({"name": "kv/k", "properties": {"rotationPolicy": policy}}),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    fn rotate(trigger: serde_json::Value, expiry: &str) -> serde_json::Value {
        json!({"attributes": {"expiryTime": expiry},
               "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}},
                                   {"trigger": trigger, "action": {"type": "Rotate"}}]})
    }

    #[test]
    fn rotation_before_expiry_passes() {
        let s = Settings::default();
        assert!(run(rotate(json!({"timeAfterCreate": "P1Y"}), "P2Y"), &s).is_empty());
        assert!(run(rotate(json!({"timeBeforeExpiry": "P30D"}), "P1Y"), &s).is_empty());
    }

    #[test]
    fn missing_or_late_rotation_warns() {
        let s = Settings::default();
        assert_eq!(
            run(json!(null), &s),
            vec![(
                Level::Warning,
                "key 'kv/k' has no automatic rotation (no lifetime action of type 'rotate')".into()
            )]
        );
        assert_eq!(
            run(rotate(json!({"timeAfterCreate": "P1Y"}), "P90D"), &s),
            vec![(Level::Warning, "key 'kv/k' rotates after P1Y but its versions expire after P90D; rotation must come first".into())]
        );
        assert_eq!(
            run(rotate(json!({"timeBeforeExpiry": "P1Y"}), "P1Y"), &s).len(),
            1
        );
    }

    #[test]
    fn not_required_skips_only_the_missing_action() {
        let mut s = Settings::default();
        s.profile.rotation_required = false;
        assert!(run(json!(null), &s).is_empty());
        assert_eq!(
            run(rotate(json!({"timeAfterCreate": "P1Y"}), "P90D"), &s).len(),
            1
        );
    }

    #[test]
    fn unknown_policy_is_a_note() {
        let mut k = testing::res(Kind::Key, 0, json!({"name": "kv/k"}));
        testing::set(
            &mut k,
            &["properties", "rotationPolicy"],
            Value::unknown("no value for parameter 'policy'"),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), &Settings::default(), &mut out);
        assert_eq!(out[0].level, Level::Note);
    }
}
