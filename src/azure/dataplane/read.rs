//! What the vendor reads of one key through the data plane (api-version 7.5),
//! and how it fills the one model the rules read.
//!
//! Reads: the key bundle (`GET keys/<name>[/<version>]`) and its rotation policy
//! (`GET keys/<name>/rotationpolicy`, a note when refused) at once, then the
//! wrap/unwrap probe. The key becomes a `Microsoft.KeyVault/vaults/keys` item in
//! ARM shape (`kty`, `keySize` from the modulus, `keyOps`, `attributes`,
//! `rotationPolicy`); the vault becomes an item holding only what the key's
//! `recoveryLevel` and `recoverableDays` say about it (purge protection, soft
//! delete, retention). Both are recorded as data-plane items and named by the
//! key URI, so every finding of the key carries it.

use super::uri::KeyUri;
use crate::azure::probe;
use crate::azure::reader::{
    self, call_err, json_of, rotation_policy, str_at, LiveState, ProblemKind, ReadProblem,
    DATA_PLANE_API,
};
use crate::azure::{Api, AzureReader, Call, Reply};
use crate::diag::Location;
use crate::error::Error;
use crate::model::{Kind, Provenance, Resource};
use crate::value::Value;
use serde_json::{json, Map, Value as Json};
use url::Url;

/// What the vendor needs on the key to read it (and to wrap and unwrap with it).
const VENDOR_ROLE: &str = "Key Vault Crypto Service Encryption User";

/// Reads `uri` with `reader` (whose token is for the vault's tenant); `probe`
/// wraps and unwraps 32 random bytes with a key that exists.
pub async fn read_key<R: AzureReader>(
    reader: &R,
    uri: &KeyUri,
    probe_key: bool,
) -> Result<LiveState, Error> {
    let api = [("api-version", DATA_PLANE_API)];
    let base = uri.base()?;
    let key_call = Call::get(
        Api::Vault,
        reader::join(&base, &format!("keys/{}", uri.key_path()), &api)?,
    );
    let rotation_call = Call::get(
        Api::Vault,
        reader::join(&base, &format!("keys/{}/rotationpolicy", uri.key), &api)?,
    );
    let (k, rot) = tokio::join!(
        reader.send(key_call.clone()),
        reader.send(rotation_call.clone())
    );
    let mut state = LiveState {
        vault: uri.vault.clone(),
        key: uri.key.clone(),
        ..LiveState::default()
    };
    let what = format!("reading key {}", uri.uri);
    let k = k.map_err(|e| call_err(&what, e))?;
    let bundle = match k.status {
        200 => {
            let j = json_of(&what, &key_call, &k)?;
            expect_bundle(&what, &key_call, &j, uri)?;
            j
        }
        404 => {
            state.problems.push(ReadProblem {
                kind: ProblemKind::KeyMissing,
                message: format!(
                    "key '{}' does not exist in Key Vault '{}' (deleted, purged or renamed{})",
                    uri.key,
                    uri.vault,
                    if uri.version.is_some() {
                        ", or the version does not exist"
                    } else {
                        ""
                    }
                ),
                resource: uri.uri.clone(),
            });
            return Ok(state);
        }
        401 => {
            return Err(Error::Azure(format!(
                "{what}: {} was refused with 401 Unauthorized{}: Key Vault did not accept the \
                 token of the vault's tenant (has the vault moved to another tenant? then \
                 pass no --tenant-id, so the tenant is found again)",
                key_call.describe(),
                detail(&k)
            )))
        }
        403 => {
            return Err(Error::Azure(format!(
                "{what}: {} was refused with 403 Forbidden{}: the vendor's application needs \
                 {VENDOR_ROLE} on the key (the customer may have removed it, or a vault \
                 firewall refuses the vendor's address)",
                key_call.describe(),
                detail(&k)
            )))
        }
        _ => return Err(reader::fail(&what, &key_call, &k, VENDOR_ROLE)),
    };
    let policy = rotation_policy(
        &uri.vault,
        &uri.key,
        &uri.uri,
        &rotation_call,
        Some(rot),
        None,
        &mut state,
    )?;
    let mut key_body = Value::from(&key_properties(&uri.key, &bundle, policy));
    if matches!(key_body.path(&["properties", "keySize"]), Some(Value::Null)) {
        put(
            &mut key_body,
            &["properties", "keySize"],
            Value::unknown(UNREADABLE_MODULUS),
        );
    }
    // An unreadable policy is unknown (a note), never an absent one (a warning).
    if let Some(why) = reader::unknown_policy_reason(&state) {
        if let Value::Object(m) = &mut key_body {
            if let Some(Value::Object(p)) = m.get_mut("properties") {
                p.insert("rotationPolicy".into(), Value::Unknown(why));
            }
        }
    }
    let origin = Location::Azure {
        id: uri.uri.clone(),
    };
    let mut vault = Resource::new(
        Kind::Vault,
        Value::String(uri.vault.clone()),
        Value::String(uri.uri.clone()),
        vault_value(&uri.vault, &bundle),
        origin.clone(),
    )
    .with_provenance(Provenance::DataPlane);
    if let Some(level) = str_at(&bundle, &["attributes", "recoveryLevel"]) {
        let why = format!("read from the key's recoveryLevel '{level}'");
        for p in [
            "enablePurgeProtection",
            "enableSoftDelete",
            "softDeleteRetentionInDays",
        ] {
            vault = vault.derived(&["properties", p], why.clone());
        }
    }
    let mut key = Resource::new(
        Kind::Key,
        Value::String(format!("{}/{}", uri.vault, uri.key)),
        Value::String(uri.uri.clone()),
        key_body,
        origin,
    )
    .with_provenance(Provenance::DataPlane);
    if probe_key {
        key.probe = Some(probe::run(reader, &base, &uri.key_path()).await?);
    }
    state.deployment.resources.push(vault);
    state.deployment.resources.push(key);
    Ok(state)
}

fn detail(reply: &Reply) -> String {
    reply
        .error_text()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default()
}

/// Exit 3 for this key unless the bundle is the key asked for: an object whose
/// `key.kid` is on the vault's host and names the key (and the version, when
/// one was asked for). Key Vault never answers with another key.
fn expect_bundle(what: &str, call: &Call, j: &Json, uri: &KeyUri) -> Result<(), Error> {
    let foreign = |got: String| {
        Error::Azure(format!(
            "{what}: {} answered with {got} instead of the key {}; Key Vault does not answer \
             a read with anything else, so the endpoint or a proxy in between is not Key Vault",
            call.describe(),
            uri.uri
        ))
    };
    let Some(kid) = str_at(j, &["key", "kid"]) else {
        return Err(foreign("an object without key.kid".into()));
    };
    let Ok(url) = Url::parse(kid) else {
        return Err(foreign(format!("the key id '{kid}', which is not a URL")));
    };
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    };
    let segs: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let same_key = matches!(segs.as_slice(), [k, name, ..] if k.eq_ignore_ascii_case("keys") && name.eq_ignore_ascii_case(&uri.key));
    let same_version = match &uri.version {
        Some(v) => segs.get(2).is_some_and(|got| got.eq_ignore_ascii_case(v)),
        None => true,
    };
    if !host.eq_ignore_ascii_case(&uri.host) || !same_key || !same_version {
        return Err(foreign(format!("the key '{kid}'")));
    }
    Ok(())
}

/// Why the key size of an RSA bundle is unknown when its modulus is unreadable.
const UNREADABLE_MODULUS: &str = "the key bundle has no readable modulus n";

/// The key bundle in the ARM shape the rules read.
fn key_properties(name: &str, bundle: &Json, policy: Json) -> Json {
    let key = bundle.get("key").cloned().unwrap_or(Json::Null);
    let mut p = Map::new();
    if let Some(kty) = key.get("kty") {
        p.insert("kty".into(), kty.clone());
    }
    let rsa = key
        .get("kty")
        .and_then(Json::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("RSA") || t.eq_ignore_ascii_case("RSA-HSM"));
    if rsa {
        match key.get("n").and_then(Json::as_str).and_then(modulus_bits) {
            Some(bits) => {
                p.insert("keySize".into(), json!(bits));
            }
            // Set unknown by the caller (`UNREADABLE_MODULUS`).
            None => {
                p.insert("keySize".into(), Json::Null);
            }
        }
    }
    if let Some(ops) = key.get("key_ops") {
        p.insert("keyOps".into(), ops.clone());
    }
    let mut attributes = Map::new();
    if let Some(a) = bundle.get("attributes").and_then(Json::as_object) {
        for k in ["enabled", "exp", "nbf", "recoveryLevel", "recoverableDays"] {
            if let Some(v) = a.get(k) {
                attributes.insert(k.into(), v.clone());
            }
        }
    }
    p.insert("attributes".into(), Json::Object(attributes));
    if let Some(kid) = key.get("kid") {
        p.insert("keyUriWithVersion".into(), kid.clone());
    }
    p.insert("rotationPolicy".into(), policy);
    json!({"type": "Microsoft.KeyVault/vaults/keys", "name": name, "properties": p})
}

/// Replaces the value at `path` of an object built here (every step exists).
fn put(v: &mut Value, path: &[&str], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        match cur {
            Value::Object(m) => match m.get_mut(*k) {
                Some(next) => cur = next,
                None => return,
            },
            _ => return,
        }
    }
    if let Value::Object(m) = cur {
        m.insert((*last).to_string(), new);
    }
}

/// The bit length of an RSA modulus given as base64url (Key Vault's `n`).
pub fn modulus_bits(n: &str) -> Option<u64> {
    let bytes = azure_core::base64::decode_url_safe(n.trim_end_matches('=')).ok()?;
    let first = bytes.iter().position(|b| *b != 0)?;
    let lead = *bytes.get(first)?;
    let len = (bytes.len() - first) as u64;
    Some((len - 1) * 8 + u64::from(8 - lead.leading_zeros()))
}

/// The vault item's body: [`vault_body`] with unknown protection where the
/// recovery level does not say.
fn vault_value(name: &str, bundle: &Json) -> Value {
    let (json, unknown) = vault_body(name, bundle);
    let mut v = Value::from(&json);
    if let Some(why) = unknown {
        for p in ["enableSoftDelete", "enablePurgeProtection"] {
            put(&mut v, &["properties", p], Value::unknown(why.clone()));
        }
    }
    v
}

/// What the key's recovery level says about its vault: purge protection is on
/// exactly when the level is `Recoverable` or `CustomizedRecoverable` (with or
/// without `+ProtectedSubscription`); `…+Purgeable` is soft delete without it;
/// `Purgeable` is neither. `recoverableDays` is the soft-delete retention.
fn vault_body(name: &str, bundle: &Json) -> (Json, Option<String>) {
    let mut p = Map::new();
    let level = str_at(bundle, &["attributes", "recoveryLevel"]);
    let (soft, purge, unknown) = match level.map(str::to_ascii_lowercase).as_deref() {
        Some(
            "recoverable"
            | "recoverable+protectedsubscription"
            | "customizedrecoverable"
            | "customizedrecoverable+protectedsubscription",
        ) => (true, true, None),
        Some("recoverable+purgeable" | "customizedrecoverable+purgeable") => (true, false, None),
        Some("purgeable") => (false, false, None),
        Some(_) => (
            false,
            false,
            Some(format!(
                "the key's recoveryLevel '{}' is not one Key Vault documents",
                level.unwrap_or_default()
            )),
        ),
        None => (
            false,
            false,
            Some("the key bundle has no attributes.recoveryLevel".to_string()),
        ),
    };
    // Set unknown by the caller when `unknown` says why.
    p.insert("enableSoftDelete".into(), json!(soft));
    p.insert("enablePurgeProtection".into(), json!(purge));
    if let Some(days) = bundle
        .get("attributes")
        .and_then(|a| a.get("recoverableDays"))
    {
        p.insert("softDeleteRetentionInDays".into(), days.clone());
    }
    // Key Vault holds HSM-protected keys only in premium vaults: an RSA-HSM key
    // that exists says what the SKU is (CMK005 asks).
    let hsm =
        str_at(bundle, &["key", "kty"]).is_some_and(|t| t.to_ascii_uppercase().ends_with("-HSM"));
    if hsm {
        p.insert("sku".into(), json!({"family": "A", "name": "premium"}));
    }
    (
        json!({"type": "Microsoft.KeyVault/vaults", "name": name, "properties": p}),
        unknown,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_size_is_the_modulus_bit_length() {
        // The corpus's GetKey example: a 2048-bit modulus.
        let n = "2HJAE5fU3Cw2Rt9hEuq-F6XjINKGa-zskfISVqopqUy60GOs2eyhxbWbJBeUXNor_gf-tXtNeuqeBgitLeVa640UDvnEjYTKWjCniTxZRaU7ewY8BfTSk-7KxoDdLsPSpX_MX4rwlAx-_1UGk5t4sQgTbm9T6Fm2oqFd37dsz5-Gj27UP2GTAShfJPFD7MqU_zIgOI0pfqsbNL5xTQVM29K6rX4jSPtylZV3uWJtkoQIQnrIHhk1d0SC0KwlBV3V7R_LVYjiXLyIXsFzSNYgQ68ZjAwt8iL7I8Osa-ehQLM13DVvLASaf7Jnu3sC3CWl3Gyirgded6cfMmswJzY87w";
        assert_eq!(modulus_bits(n), Some(2048));
        let enc = |b: &[u8]| azure_core::base64::encode_url_safe(b);
        // A leading zero byte (DER-style) and a short top byte.
        let mut m = vec![0u8, 0x80];
        m.extend([1u8; 383]);
        assert_eq!(modulus_bits(&enc(&m)), Some(3072));
        assert_eq!(modulus_bits(&enc(&[0x01, 0xff])), Some(9));
        assert_eq!(modulus_bits(&enc(&[0, 0])), None);
        assert_eq!(modulus_bits("!!"), None);
    }

    #[test]
    fn recovery_levels_say_what_the_vault_protects() {
        let body = |level: &str| {
            vault_value(
                "kv",
                &json!({"key": {"kty": "RSA"}, "attributes": {"recoveryLevel": level, "recoverableDays": 7}}),
            )
        };
        let props = |level: &str| {
            let b = body(level);
            (
                b.path(&["properties", "enableSoftDelete"])
                    .cloned()
                    .unwrap(),
                b.path(&["properties", "enablePurgeProtection"])
                    .cloned()
                    .unwrap(),
            )
        };
        let (t, f) = (Value::Bool(true), Value::Bool(false));
        assert_eq!(props("Recoverable"), (t.clone(), t.clone()));
        assert_eq!(
            props("CustomizedRecoverable+ProtectedSubscription"),
            (t.clone(), t.clone())
        );
        assert_eq!(props("Recoverable+Purgeable"), (t.clone(), f.clone()));
        assert_eq!(
            props("CustomizedRecoverable+Purgeable"),
            (t.clone(), f.clone())
        );
        assert_eq!(props("Purgeable"), (f.clone(), f));
        assert!(matches!(props("Whatever").0, Value::Unknown(w) if w.contains("'Whatever'")));
        assert_eq!(
            body("Recoverable").path(&["properties", "softDeleteRetentionInDays"]),
            Some(&Value::Int(7))
        );
        assert!(body("Recoverable").path(&["properties", "sku"]).is_none());
        let hsm = vault_value("kv", &json!({"key": {"kty": "RSA-HSM"}, "attributes": {}}));
        assert_eq!(
            hsm.path(&["properties", "sku", "name"]),
            Some(&Value::String("premium".into()))
        );
        assert!(hsm
            .path(&["properties", "enablePurgeProtection"])
            .is_some_and(Value::is_unknown));
    }
}
