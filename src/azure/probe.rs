//! `--probe`: wrap 32 random bytes with the key through the Key Vault data plane
//! and unwrap them again (api-version 7.5, RSA-OAEP-256). The only calls `check`
//! makes that are not reads; they change nothing in the vault.

use super::http::random_u64;
use super::reader::{join, DATA_PLANE_API};
use super::{Api, AzureReader, Call, Reply};
use crate::error::Error;
use serde::Serialize;
use serde_json::{json, Value as Json};
use url::Url;

/// The wrap algorithm: RSA-OAEP with SHA-256, supported by every RSA key size.
pub const ALG: &str = "RSA-OAEP-256";

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum ProbeOutcome {
    /// Unwrapping returned the bytes that were wrapped.
    Pass,
    /// The round trip ran but returned different bytes, or a call was rejected
    /// in a way that says the key cannot be used (disabled, wrong type, ...).
    Fail {
        /// What went wrong.
        reason: String,
    },
    /// The probe could not run (e.g. the checking identity may not wrap): CMK017 is a note.
    Unknown {
        /// Why.
        reason: String,
    },
}

fn random_bytes() -> Vec<u8> {
    (0..4).flat_map(|_| random_u64().to_le_bytes()).collect()
}

/// Wraps and unwraps 32 random bytes with `key` in the vault at `base`.
pub async fn run<R: AzureReader>(reader: &R, base: &Url, key: &str) -> Result<ProbeOutcome, Error> {
    let plain = random_bytes();
    let wrap = Call::post(
        Api::Vault,
        join(
            base,
            &format!("keys/{key}/wrapkey"),
            &[("api-version", DATA_PLANE_API)],
        )?,
        json!({"alg": ALG, "value": azure_core::base64::encode_url_safe(&plain)}),
    );
    let wrapped = match step(reader, wrap, "wrapKey").await? {
        Ok(v) => v,
        Err(outcome) => return Ok(outcome),
    };
    let unwrap = Call::post(
        Api::Vault,
        join(
            base,
            &format!("keys/{key}/unwrapkey"),
            &[("api-version", DATA_PLANE_API)],
        )?,
        json!({"alg": ALG, "value": wrapped}),
    );
    let back = match step(reader, unwrap, "unwrapKey").await? {
        Ok(v) => v,
        Err(outcome) => return Ok(outcome),
    };
    // The service may return padded or unpadded base64url.
    let decoded = azure_core::base64::decode_url_safe(back.trim_end_matches('='))
        .or_else(|_| azure_core::base64::decode_url_safe(&back));
    Ok(match decoded {
        Ok(bytes) if bytes == plain => ProbeOutcome::Pass,
        Ok(bytes) => ProbeOutcome::Fail {
            reason: format!(
                "unwrapKey returned {} bytes that differ from the 32 bytes wrapped",
                bytes.len()
            ),
        },
        Err(_) => ProbeOutcome::Fail {
            reason: "unwrapKey returned a value that is not base64url".into(),
        },
    })
}

/// One call: `Ok(Ok(value))` on success, `Ok(Err(outcome))` when the probe stops.
async fn step<R: AzureReader>(
    reader: &R,
    call: Call,
    op: &str,
) -> Result<Result<String, ProbeOutcome>, Error> {
    let reply: Reply = match reader.send(call.clone()).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Err(ProbeOutcome::Unknown {
                reason: format!("{op} could not be called: {e}"),
            }))
        }
    };
    let detail = reply
        .error_text()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    match reply.status {
        200 => {
            let j: Json = serde_json::from_slice(&reply.body).map_err(|e| {
                Error::Azure(format!(
                    "--probe: {} returned a body that is not JSON ({e})",
                    call.describe()
                ))
            })?;
            match j.get("value").and_then(Json::as_str) {
                Some(v) => Ok(Ok(v.to_string())),
                None => Ok(Err(ProbeOutcome::Fail {
                    reason: format!("{op} answered without a 'value'"),
                })),
            }
        }
        401 | 403 => Ok(Err(ProbeOutcome::Unknown {
            reason: format!(
                "{op} was refused with {}{detail}: the identity running check needs Key Vault \
                 Crypto Service Encryption User (or Crypto User) on the key to probe it",
                reply.status
            ),
        })),
        // 400: the key cannot do this (disabled, expired, wrong operations, not RSA).
        s @ (400 | 404 | 409) => Ok(Err(ProbeOutcome::Fail {
            reason: format!("{op} failed with HTTP {s}{detail}"),
        })),
        s => Err(Error::Azure(format!(
            "--probe: {} failed with HTTP {s}{detail}",
            call.describe()
        ))),
    }
}
