//! The vendor's view: Key Vault's data plane, reached by key URI with the
//! vendor's multi-tenant application, one token per customer tenant
//! (`check --key-uri` / `--key-uris`).
//!
//! - [`uri`]: key URIs, lists of them, `--shard`.
//! - [`challenge`]: the tenant from Key Vault's 401 challenge, from the configured authority only.
//! - [`tenants`]: one credential and one token per tenant.
//! - [`read`]: the reads of one key and the model they fill.
//!
//! [`DataPlane`] is shared by every key of a run; each key is read through a
//! [`KeyReader`], the [`AzureReader`] that holds its tenant's token and its own
//! deadline, so the probe and the rotation-policy code are the ones `check`
//! already uses. Every request goes through the vault's gate: at most
//! [`PER_VAULT`] requests in flight per vault, and when a vault answers 429 or
//! 503 with `Retry-After`, none of the run's requests to it is sent before then.

pub mod challenge;
pub mod read;
pub mod tenants;
pub mod uri;

use super::endpoints::Endpoints;
use super::http::{self, BoundedClient, Deadline, RetryPolicy, Sender};
use super::reader::LiveState;
use super::{Api, AzureReader, Call, CallError, Reply};
use crate::error::Error;
use azure_core::auth::Secret;
use azure_core::headers::{HeaderName, Headers};
use azure_core::HttpClient;
use challenge::AuthorityPolicy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenants::{AppCredential, Tenants};
use uri::KeyUri;

/// Most requests in flight to one vault. Key Vault throttles per vault (about
/// 4,000 reads and, for 3072/4096-bit keys, a few hundred wraps per 10 s); four
/// keeps a large customer's vault from taking the whole run's concurrency.
pub const PER_VAULT: usize = 4;

/// Largest data-plane answer read. A key bundle with a 4096-bit modulus is
/// about 1 KiB, a rotation policy or a wrap result less; 64 KiB bounds what a
/// fleet's concurrent reads can hold (concurrency x 2 x 64 KiB).
pub const MAX_BODY: usize = 64 << 10;

/// Idle connections kept per vault: a key's reads follow each other on one
/// host, and over TLS each new connection costs round trips of its own.
const IDLE_PER_HOST: usize = PER_VAULT;

/// One vault's share of the run.
#[derive(Debug)]
struct Vault {
    /// [`PER_VAULT`] permits, one per request in flight.
    permits: tokio::sync::Semaphore,
    /// No request is sent to the vault before this (its last `Retry-After`).
    not_before: Mutex<Instant>,
    /// The tenant its 401 challenge named, or why none was taken (once per vault).
    tenant: tokio::sync::OnceCell<Result<String, String>>,
}

/// Everything the keys of one run share.
pub struct DataPlane {
    http: Arc<dyn HttpClient>,
    endpoints: Endpoints,
    policy: AuthorityPolicy,
    tenants: Tenants,
    tenant_id: Option<String>,
    timeout: Duration,
    retry: RetryPolicy,
    per_key: Duration,
    vaults: Mutex<HashMap<String, Arc<Vault>>>,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("tenants", &self.tenants)
            .field("tenant_id", &self.tenant_id)
            .field("per_key", &self.per_key)
            .finish_non_exhaustive()
    }
}

/// How a fleet run reaches the data plane.
#[derive(Debug, Clone)]
pub struct PlaneOptions {
    /// The cloud's endpoints (vault resource and token scope).
    pub endpoints: Endpoints,
    /// Where tokens are requested (`AZURE_AUTHORITY_HOST`, else the cloud's login host).
    pub authority: url::Url,
    /// The vendor's application.
    pub app: AppCredential,
    /// `--tenant-id`: every key's tenant, no discovery.
    pub tenant_id: Option<String>,
    /// Per request (`--timeout`).
    pub timeout: Duration,
    /// Per key (`--deadline`): from its first request to its last answer.
    pub per_key: Duration,
}

/// The outcome of one key.
#[derive(Debug)]
pub struct KeyResult {
    /// The tenant its token was for, when one was found.
    pub tenant: Option<String>,
    /// What was read, or why the key could not be checked (exit 3).
    pub state: Result<LiveState, String>,
    /// From its first request to its last answer.
    pub elapsed: Duration,
}

impl DataPlane {
    /// The shared state of a run, with its own pooled, bounded HTTP client.
    pub fn new(opts: PlaneOptions) -> Result<Self, Error> {
        let http: Arc<dyn HttpClient> = Arc::new(BoundedClient::pooled(MAX_BODY, IDLE_PER_HOST)?);
        Ok(Self::with_client(opts, http))
    }

    /// As [`DataPlane::new`], over `http` (tests, benchmarks).
    pub fn with_client(opts: PlaneOptions, http: Arc<dyn HttpClient>) -> Self {
        let policy = AuthorityPolicy::new(&opts.authority, opts.endpoints.cloud);
        let tenants = Tenants::new(
            http.clone(),
            opts.authority,
            opts.endpoints.vault_scope.clone(),
            opts.app,
            opts.timeout,
        );
        DataPlane {
            http,
            endpoints: opts.endpoints,
            policy,
            tenants,
            tenant_id: opts.tenant_id,
            timeout: opts.timeout,
            retry: RetryPolicy::default(),
            per_key: opts.per_key,
            vaults: Mutex::new(HashMap::new()),
        }
    }

    fn vault(&self, host: &str) -> Arc<Vault> {
        let mut map = match self.vaults.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(host.to_string())
            .or_insert_with(|| {
                Arc::new(Vault {
                    permits: tokio::sync::Semaphore::new(PER_VAULT),
                    not_before: Mutex::new(Instant::now()),
                    tenant: tokio::sync::OnceCell::new(),
                })
            })
            .clone()
    }

    /// The cloud's Key Vault resource (`https://vault.azure.net`).
    fn vault_resource(&self) -> String {
        format!("https://{}", self.endpoints.vault_suffix)
    }

    /// Checks one key: its tenant, its token, its reads and the probe, all within
    /// the key's own deadline. Never fails the run: what went wrong is the key's.
    pub async fn check_key(&self, uri: &KeyUri, probe: bool) -> KeyResult {
        let start = Instant::now();
        let deadline = Deadline::after(self.per_key, "this key's deadline");
        let vault = self.vault(&uri.host);
        let tenant_found: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let run = async {
            let tenant = match &self.tenant_id {
                Some(t) => t.clone(),
                None => vault
                    .tenant
                    .get_or_init(|| self.discover(&vault, uri))
                    .await
                    .clone()?,
            };
            let _ = tenant_found.set(tenant.clone());
            let token = self.tenants.token(&tenant).await?;
            let reader = KeyReader {
                plane: self,
                vault: &vault,
                token,
                deadline,
            };
            read::read_key(&reader, uri, probe)
                .await
                .map(|mut state| {
                    state.tenant_id = Some(tenant.clone());
                    state
                })
                .map_err(|e| e.to_string())
        };
        // The reader's own waits end at the deadline naming their call; this
        // bounds what waits outside it (the tenant's discovery and token).
        let state = match tokio::time::timeout(self.per_key, run).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "this key's deadline of {} s (--deadline) passed while waiting for its tenant \
                 or token; try again later or raise --deadline",
                self.per_key.as_secs_f64()
            )),
        };
        KeyResult {
            tenant: tenant_found.get().cloned(),
            state,
            elapsed: start.elapsed(),
        }
    }

    /// The tenant of `uri`'s vault from Key Vault's 401 challenge to a request
    /// without a token. Bounded by the retry policy and `--timeout`, not by a
    /// key's deadline, as every key of the vault keeps its answer.
    async fn discover(&self, vault: &Vault, uri: &KeyUri) -> Result<String, String> {
        let what = format!(
            "finding the tenant of vault '{}' (for {})",
            uri.vault, uri.uri
        );
        let url = super::reader::join(
            &uri.base().map_err(|e| e.to_string())?,
            &format!("keys/{}", uri.key_path()),
            &[("api-version", super::reader::DATA_PLANE_API)],
        )
        .map_err(|e| e.to_string())?;
        let call = Call::get(Api::Vault, url);
        let sender = self.sender(None);
        let (reply, headers) = http::with_retries(&self.retry, None, &call, || {
            gated(vault, None, &call, &self.retry, || {
                sender.attempt(&call, None)
            })
        })
        .await
        .map_err(|e| format!("{what}: {e}"))?;
        if reply.status != 401 {
            return Err(format!(
                "{what}: {} answered HTTP {} to a request without a token; Key Vault answers \
                 401 with the vault's tenant, so the endpoint is not Key Vault (or pass \
                 --tenant-id)",
                call.describe(),
                reply.status
            ));
        }
        let header = headers.get_optional_str(&HeaderName::from_static("www-authenticate"));
        challenge::tenant(header, &self.policy, &self.vault_resource()).map_err(|why| {
            format!(
                "{what}: Key Vault's 401 challenge {why}; check takes a tenant only from the \
                 configured authority (AZURE_AUTHORITY_HOST, else --cloud's login host) and \
                 requested no token for this vault. Pass --tenant-id if you know the tenant"
            )
        })
    }

    fn sender(&self, deadline: Option<Deadline>) -> Sender<'_> {
        Sender {
            http: self.http.as_ref(),
            timeout: self.timeout,
            max_body: MAX_BODY,
            deadline,
        }
    }
}

/// One attempt of `call` through `vault`'s gate: a permit (within `deadline`),
/// then no earlier than the vault's last `Retry-After`; a 429/503 answer with
/// `Retry-After` holds every request to the vault back for that long (at most
/// the retry policy's longest wait).
async fn gated<F, Fut>(
    vault: &Vault,
    deadline: Option<Deadline>,
    call: &Call,
    retry: &RetryPolicy,
    attempt: F,
) -> Result<(Reply, Headers), CallError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(Reply, Headers), CallError>>,
{
    let waiting = |during: &str| Deadline::error(deadline, call.describe(), during.to_string());
    let far = Duration::from_secs(3600);
    let permit = match Deadline::budget(deadline, far) {
        None => return Err(waiting("for a turn at the vault")),
        Some((budget, _)) => match tokio::time::timeout(budget, vault.permits.acquire()).await {
            Ok(Ok(p)) => p,
            // The semaphore is never closed; a timeout is the deadline.
            _ => return Err(waiting("for a turn at the vault")),
        },
    };
    let hold = match vault.not_before.lock() {
        Ok(t) => t.saturating_duration_since(Instant::now()),
        Err(_) => Duration::ZERO,
    };
    if !hold.is_zero() {
        match Deadline::budget(deadline, hold) {
            Some((d, false)) => tokio::time::sleep(d).await,
            _ => return Err(waiting("for the vault's Retry-After to pass")),
        }
    }
    let result = attempt().await;
    drop(permit);
    if let Ok((reply, headers)) = &result {
        if matches!(reply.status, 429 | 503) {
            if let Some(wait) = http::retry_after(headers) {
                let until = Instant::now() + wait.min(retry.max_delay);
                if let Ok(mut t) = vault.not_before.lock() {
                    *t = (*t).max(until);
                }
            }
        }
    }
    result
}

/// The [`AzureReader`] of one key: its tenant's token, its vault's gate, its deadline.
pub struct KeyReader<'a> {
    plane: &'a DataPlane,
    vault: &'a Vault,
    token: Secret,
    deadline: Deadline,
}

impl AzureReader for KeyReader<'_> {
    async fn authenticate(&self, api: Api) -> Result<(), CallError> {
        match api {
            Api::Vault => Ok(()),
            other => Err(CallError::Credential {
                api: other,
                detail: "check --key-uri reads only the Key Vault data plane".into(),
            }),
        }
    }

    async fn send(&self, call: Call) -> Result<Reply, CallError> {
        self.authenticate(call.api).await?;
        let deadline = Some(self.deadline);
        let sender = self.plane.sender(deadline);
        http::with_retries(&self.plane.retry, deadline, &call, || {
            gated(self.vault, deadline, &call, &self.plane.retry, || {
                sender.attempt(&call, Some(&self.token))
            })
        })
        .await
        .map(|(reply, _)| reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault {
            permits: tokio::sync::Semaphore::new(PER_VAULT),
            not_before: Mutex::new(Instant::now()),
            tenant: tokio::sync::OnceCell::new(),
        }
    }

    #[test]
    fn retry_after_from_one_request_holds_back_every_request_to_the_vault() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let v = vault();
            let call = Call::get(
                Api::Vault,
                url::Url::parse("http://127.0.0.1:9/keys/k").unwrap(),
            );
            let retry = RetryPolicy::default();
            let throttled = || async {
                let mut h = Headers::new();
                h.insert("retry-after-ms", "300");
                Ok((
                    Reply {
                        status: 429,
                        body: Vec::new(),
                    },
                    h,
                ))
            };
            let first = gated(&v, None, &call, &retry, throttled).await.unwrap();
            assert_eq!(first.0.status, 429);
            // Another key's request to the same vault waits for the Retry-After.
            let asked = Instant::now();
            let sent = std::cell::Cell::new(None);
            let ok = || async {
                sent.set(Some(Instant::now()));
                Ok((
                    Reply {
                        status: 200,
                        body: Vec::new(),
                    },
                    Headers::new(),
                ))
            };
            gated(&v, None, &call, &retry, ok).await.unwrap();
            let waited = sent.get().unwrap() - asked;
            assert!(waited >= Duration::from_millis(280), "{waited:?}");
            // A deadline that passes first ends the wait with the deadline's error.
            gated(&v, None, &call, &retry, throttled).await.unwrap();
            let short = Deadline::after(Duration::from_millis(50), "this key's deadline");
            let err = gated(&v, Some(short), &call, &retry, ok).await.unwrap_err();
            assert!(err.to_string().contains("Retry-After"), "{err}");
            assert!(err.is_fatal());
        });
    }
}
