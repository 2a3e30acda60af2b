//! ## What it checks
//! Every key is an RSA key the vendor can use: `kty` is `RSA` or `RSA-HSM`, `keySize`
//! is 2048, 3072 or 4096 (a profile may raise the minimum or change the lists; an
//! unset `keySize` means Key Vault's default, 2048), and an `RSA-HSM` key lives in a
//! `premium` vault.
//!
//! ## Why it matters
//! Customer-managed keys for storage, disks and databases wrap data keys with RSA;
//! EC and oct keys cannot do that. A `standard` vault cannot hold HSM-protected
//! keys, so the deployment fails.
//!
//! ## Example
//! ```json
//! {"type": "Microsoft.KeyVault/vaults/keys", "properties": {"kty": "EC", "curveName": "P-256"}}
//! ```
//! Use instead:
//! ```json
//! {"type": "Microsoft.KeyVault/vaults/keys", "properties": {"kty": "RSA", "keySize": 3072}}
//! ```
//!
//! ## How to fix
//! Create an `RSA` (or `RSA-HSM`, with `"sku": {"family": "A", "name": "premium"}` on
//! the vault) key of an allowed size. A key's type and size cannot change: create a
//! new key.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/keys/about-keys
//! - https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults/keys

use super::common::{at, name, undecided};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK005";

/// Key Vault's size for RSA keys created without `keySize`.
const DEFAULT_RSA_SIZE: i64 = 2048;

/// Reports keys of a type or size the vendor cannot use.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let profile = &s.profile;
    for key in dep.keys() {
        let kty = key.key_type();
        let is_hsm = match &kty.val {
            Val::Known(t) if profile.key_types.iter().any(|a| a.eq_ignore_ascii_case(t)) => {
                t.eq_ignore_ascii_case("RSA-HSM")
            }
            Val::Unknown(why) => {
                out.push(undecided(ID, key, "the key type (kty)", why, &kty));
                false
            }
            other => {
                let found = match other {
                    Val::Known(t) => format!("'{t}'"),
                    Val::Invalid(t) => format!("a {t}"),
                    _ => "not set".into(),
                };
                let msg = format!(
                    "key '{}' has kty {found}; it must be one of {}",
                    name(key),
                    profile.key_types.join(", ")
                );
                out.push(at(ID, Level::Error, msg, key, &kty));
                continue;
            }
        };
        let size = key.key_size();
        let bad_size = |n: i64| !profile.key_sizes.contains(&n) || n < profile.min_key_size;
        let allowed = || {
            let sizes: Vec<String> = profile
                .key_sizes
                .iter()
                .filter(|n| **n >= profile.min_key_size)
                .map(i64::to_string)
                .collect();
            sizes.join(", ")
        };
        match &size.val {
            Val::Known(n) if bad_size(*n) => {
                let msg = format!(
                    "key '{}' has keySize {n}; it must be one of {}",
                    name(key),
                    allowed()
                );
                out.push(at(ID, Level::Error, msg, key, &size));
            }
            Val::Absent if bad_size(DEFAULT_RSA_SIZE) => {
                let msg = format!(
                    "key '{}' does not set keySize, so Key Vault creates a {DEFAULT_RSA_SIZE}-bit key; it must be one of {}",
                    name(key),
                    allowed()
                );
                out.push(at(ID, Level::Error, msg, key, &size));
            }
            Val::Invalid(t) => {
                let msg = format!("key '{}' has keySize of type {t}", name(key));
                out.push(at(ID, Level::Error, msg, key, &size));
            }
            Val::Unknown(why) => out.push(undecided(ID, key, "keySize", why, &size)),
            _ => {}
        }
        if !is_hsm {
            continue;
        }
        let Some(vault_name) = key.vault_name() else {
            continue;
        };
        let Some(vault) = dep.vault(vault_name.as_str2()) else {
            let msg = format!("whether vault '{vault_name}' is premium");
            out.push(undecided(
                ID,
                key,
                &msg,
                "the vault is not part of this deployment",
                &kty,
            ));
            continue;
        };
        let sku = vault.sku_name();
        match &sku.val {
            Val::Known(n) if n.eq_ignore_ascii_case("premium") => {}
            Val::Unknown(why) => out.push(undecided(ID, key, "the vault's SKU", why, &sku)),
            other => {
                let found = match other {
                    Val::Known(n) => format!("SKU '{n}'"),
                    _ if dep.existing.iter().any(|e| std::ptr::eq(e, vault)) => {
                        let msg = format!("whether existing vault '{vault_name}' is premium");
                        out.push(undecided(
                            ID,
                            key,
                            &msg,
                            "an existing vault's SKU is not in the template",
                            &kty,
                        ));
                        continue;
                    }
                    _ => "no SKU name".into(),
                };
                let msg = format!(
                    "RSA-HSM key '{}' needs a premium vault, but vault '{vault_name}' has {found}",
                    name(key)
                );
                out.push(
                    at(ID, Level::Error, msg, key, &kty)
                        .with_label(sku.location.clone(), "vault SKU set here"),
                );
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

    fn run(key_props: serde_json::Value, sku: &str, s: &Settings) -> Vec<(Level, String)> {
        let v = testing::res(
            Kind::Vault,
            0,
            json!({"name": "kv", "properties": {"sku": {"family": "A", "name": sku}}}),
        );
        let k = testing::res(
            Kind::Key,
            1,
            json!({"name": "kv/k1", "properties": key_props}),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![v, k]), s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn rsa_of_allowed_size_passes() {
        let s = Settings::default();
        assert!(run(json!({"kty": "RSA", "keySize": 3072}), "standard", &s).is_empty());
        assert!(run(json!({"kty": "RSA"}), "standard", &s).is_empty());
        assert!(run(json!({"kty": "RSA-HSM", "keySize": 4096}), "premium", &s).is_empty());
    }

    #[test]
    fn wrong_type_size_or_sku_fails() {
        let s = Settings::default();
        assert_eq!(
            run(json!({"kty": "EC"}), "standard", &s),
            vec![(
                Level::Error,
                "key 'kv/k1' has kty 'EC'; it must be one of RSA, RSA-HSM".into()
            )]
        );
        assert_eq!(
            run(json!({"kty": "RSA", "keySize": 1024}), "standard", &s).len(),
            1
        );
        assert_eq!(
            run(json!({"kty": "RSA-HSM", "keySize": 2048}), "standard", &s),
            vec![(
                Level::Error,
                "RSA-HSM key 'kv/k1' needs a premium vault, but vault 'kv' has SKU 'standard'"
                    .into()
            )]
        );
    }

    #[test]
    fn profile_raises_the_minimum_including_the_default_size() {
        let mut s = Settings::default();
        s.profile.min_key_size = 3072;
        assert_eq!(
            run(json!({"kty": "RSA", "keySize": 2048}), "standard", &s).len(),
            1
        );
        let d = run(json!({"kty": "RSA"}), "standard", &s);
        assert!(
            d[0].1.contains("does not set keySize") && d[0].1.contains("3072, 4096"),
            "{d:?}"
        );
    }

    #[test]
    fn unknown_size_is_a_note() {
        let mut k = testing::res(
            Kind::Key,
            0,
            json!({"name": "kv/k1", "properties": {"kty": "RSA"}}),
        );
        testing::set(
            &mut k,
            &["properties", "keySize"],
            Value::unknown("no value for parameter 'size'"),
        );
        let mut out = Vec::new();
        check(&testing::dep(vec![k]), &Settings::default(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Note);
    }
}
