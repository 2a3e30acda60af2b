//! `--probe`: wrap 32 random bytes with the key through the Key Vault data plane
//! and unwrap them again (api-version 7.5, RSA-OAEP-256). The only calls `check`
//! makes that are not reads; they change nothing in the vault.

use super::http::random_u64;
use super::reader::{join, DATA_PLANE_API};
use super::{Api, AzureReader, Call, Reply};
use crate::error::Error;
use crate::model::Probe;
use serde_json::{json, Value as Json};
use url::Url;

/// The wrap algorithm: RSA-OAEP with SHA-256, supported by every RSA key size.
pub const ALG: &str = "RSA-OAEP-256";

fn random_bytes() -> Vec<u8> {
    (0..4).flat_map(|_| random_u64().to_le_bytes()).collect()
}

/// Wraps and unwraps 32 random bytes with `key` in the vault at `base`.
pub async fn run<R: AzureReader>(reader: &R, base: &Url, key: &str) -> Result<Probe, Error> {
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
        Ok(bytes) if bytes == plain => Probe::Passed,
        Ok(_) => Probe::Mismatch,
        Err(_) => Probe::Failed("unwrapKey returned a value that is not base64url".into()),
    })
}

/// One call: `Ok(Ok(value))` on success, `Ok(Err(outcome))` when the probe stops.
async fn step<R: AzureReader>(
    reader: &R,
    call: Call,
    op: &str,
) -> Result<Result<String, Probe>, Error> {
    let reply: Reply = match reader.send(call.clone()).await {
        Ok(r) => r,
        // An untrustworthy answer or the passed deadline stops check; anything
        // else only leaves the probe undecided.
        Err(e) if e.is_fatal() => return Err(Error::Azure(format!("--probe: {op}: {e}"))),
        Err(e) => {
            return Ok(Err(Probe::Unknown(format!(
                "{op} could not be called: {e}"
            ))))
        }
    };
    let detail = reply.error_suffix();
    match reply.status {
        200 => {
            let j: Json = reply.json().map_err(|e| {
                Error::Azure(format!(
                    "--probe: {} returned a body that {e}",
                    call.describe()
                ))
            })?;
            match j.get("value").and_then(Json::as_str) {
                Some(v) => Ok(Ok(v.to_string())),
                None => Ok(Err(Probe::Failed(format!(
                    "{op} answered without a 'value'"
                )))),
            }
        }
        401 | 403 => Ok(Err(Probe::Unknown(format!(
            "{op} was refused with {}{detail}: the identity running check needs Key Vault \
                 Crypto Service Encryption User (or Crypto User) on the key to probe it",
            reply.status
        )))),
        // 400: the key cannot do this (disabled, expired, wrong operations, not RSA).
        s @ (400 | 404 | 409) => Ok(Err(Probe::Failed(format!(
            "{op} failed with HTTP {s}{detail}"
        )))),
        s => Err(Error::Azure(format!(
            "--probe: {} failed with HTTP {s}{detail}",
            call.describe()
        ))),
    }
}
