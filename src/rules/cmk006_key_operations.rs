//! ## What it checks
//! A key's `keyOps` is absent or empty (all operations allowed), or contains both
//! `wrapKey` and `unwrapKey`.
//!
//! ## Why it matters
//! Customer-managed-key encryption wraps each data-encryption key with the vault key
//! and unwraps it on every start. A key restricted to, say, `encrypt`/`decrypt` is
//! accepted by Key Vault but every wrap call from the vendor's service fails.
//!
//! ## Example
//! ```json
//! {"properties": {"kty": "RSA", "keyOps": ["encrypt", "decrypt"]}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"kty": "RSA", "keyOps": ["wrapKey", "unwrapKey"]}}
//! ```
//!
//! ## How to fix
//! Add `wrapKey` and `unwrapKey` to `keyOps`, or leave `keyOps` out. For an existing
//! key: `az keyvault key set-attributes --vault-name <v> --name <k> --ops wrapKey unwrapKey`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/keys/about-keys-details#key-operations
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults/keys

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};
use crate::value::Value;

const ID: &str = "CMK006";
const NEEDED: [&str; 2] = ["wrapKey", "unwrapKey"];

/// Reports keys whose operations exclude wrapping or unwrapping.
pub(crate) fn check(dep: &Deployment, _: &Settings, out: &mut Vec<Diagnostic>) {
    for key in dep.keys() {
        let ops = key.key_ops();
        let list = match &ops.val {
            Val::Absent => continue,
            Val::Known(list) if list.is_empty() => continue,
            Val::Known(list) => list,
            Val::Unknown(why) => {
                out.push(undecided(ID, key, "keyOps", why, &ops));
                continue;
            }
            Val::Invalid(t) => {
                let msg = format!("key '{}' sets keyOps to a {t}, not an array", name(key));
                out.push(at(ID, Level::Error, msg, key, &ops));
                continue;
            }
        };
        let has = |op: &str| {
            list.iter()
                .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(op)))
        };
        let missing: Vec<&str> = NEEDED.into_iter().filter(|op| !has(op)).collect();
        if missing.is_empty() {
            continue;
        }
        if let Some(why) = list.iter().find_map(Value::unknown_reason) {
            out.push(undecided(ID, key, "keyOps", why, &ops));
            continue;
        }
        let msg = format!(
            "key '{}' limits keyOps without {}; the vendor cannot wrap or unwrap with it",
            name(key),
            missing.join(" and ")
        );
        out.push(at(ID, Level::Error, msg, key, &ops));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{testing, Kind};
    use serde_json::json;

    fn run(key: crate::model::Resource) -> Vec<(Level, String)> {
        let mut out = Vec::new();
        check(&testing::dep(vec![key]), &Settings::default(), &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    fn key(props: serde_json::Value) -> crate::model::Resource {
        testing::res(Kind::Key, 0, json!({"name": "kv/k", "properties": props}))
    }

    #[test]
    fn absent_empty_or_both_pass() {
        assert!(run(key(json!({}))).is_empty());
        assert!(run(key(json!({"keyOps": []}))).is_empty());
        assert!(run(key(json!({"keyOps": ["unwrapKey", "wrapKey", "sign"]}))).is_empty());
    }

    #[test]
    fn missing_operations_fail() {
        assert_eq!(
            run(key(json!({"keyOps": ["encrypt", "wrapKey"]}))),
            vec![(Level::Error, "key 'kv/k' limits keyOps without unwrapKey; the vendor cannot wrap or unwrap with it".into())]
        );
    }

    #[test]
    fn an_unknown_item_is_a_note_unless_both_are_known() {
        let mut k = key(json!({"keyOps": ["wrapKey", null]}));
        testing::set(
            &mut k,
            &["properties", "keyOps"],
            Value::Array(vec![
                Value::String("wrapKey".into()),
                Value::unknown("no value for parameter 'op'"),
            ]),
        );
        assert_eq!(run(k)[0].0, Level::Note);
        let mut k = key(json!({}));
        testing::set(
            &mut k,
            &["properties", "keyOps"],
            Value::Array(vec![
                Value::String("wrapKey".into()),
                Value::String("unwrapKey".into()),
                Value::unknown("x"),
            ]),
        );
        assert!(run(k).is_empty());
    }
}
