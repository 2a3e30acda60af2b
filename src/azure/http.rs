//! The real [`AzureReader`]: azure_core's HTTP client (reqwest, rustls) with a
//! per-request timeout, one token per API obtained up front, and bounded retries.
//!
//! Retries are done here rather than with azure_core's retry policy because that
//! policy sleeps `max(Retry-After, backoff)` with no cap (a `Retry-After: 3600`
//! would hang `check` for an hour) and turns error responses into opaque errors,
//! losing the Azure error body that messages quote.

use super::credentials::{error_chain, Credential};
use super::endpoints::Endpoints;
use super::{Api, AzureReader, Call, CallError, Method, Reply};
use azure_core::auth::Secret;
use azure_core::headers::{HeaderName, Headers};
use azure_core::{HttpClient, Request};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Retry bounds: attempts and total time for one call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubled each retry, plus up to 50% jitter.
    pub initial_delay: Duration,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub max_delay: Duration,
    /// No retry starts after this much time has passed since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_delay: Duration::from_millis(400),
            max_delay: Duration::from_secs(10),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (1-based), honouring the
    /// server's `Retry-After` but never beyond `max_delay`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let base = self
            .initial_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        // Jitter spreads parallel retries so they don't hit a throttled API together.
        let jitter_ms = random_u64() % (base.as_millis() as u64 / 2 + 1);
        let backoff = base + Duration::from_millis(jitter_ms);
        let wanted = match retry_after {
            Some(ra) => ra,
            None => backoff,
        };
        wanted.min(self.max_delay)
    }
}

/// A random number from the standard library's per-process random hash keys;
/// good enough for jitter and probe bytes, and needs no extra crate.
pub(crate) fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Reads Azure over HTTP with a [`Credential`].
pub struct HttpReader {
    http: Arc<dyn HttpClient>,
    credential: Credential,
    endpoints: Endpoints,
    timeout: Duration,
    retry: RetryPolicy,
    tokens: Mutex<HashMap<Api, Secret>>,
}

impl fmt::Debug for HttpReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are deliberately not shown.
        f.debug_struct("HttpReader")
            .field("credential", &self.credential)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// azure_core's reqwest client, shared by the credential and the reader.
pub fn new_http_client() -> Arc<dyn HttpClient> {
    azure_core::new_http_client()
}

impl HttpReader {
    /// A reader using `credential`, with `timeout` per request.
    pub fn new(
        http: Arc<dyn HttpClient>,
        credential: Credential,
        endpoints: Endpoints,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Self {
        HttpReader {
            http,
            credential,
            endpoints,
            timeout,
            retry,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    fn scope(&self, api: Api) -> &str {
        match api {
            Api::Arm => &self.endpoints.arm_scope,
            Api::Vault => &self.endpoints.vault_scope,
            Api::Graph => &self.endpoints.graph_scope,
        }
    }

    fn cached(&self, api: Api) -> Option<Secret> {
        self.tokens.lock().ok()?.get(&api).cloned()
    }

    async fn token(&self, api: Api) -> Result<Secret, CallError> {
        if let Some(t) = self.cached(api) {
            return Ok(t);
        }
        let fut = self.credential.token(api, self.scope(api));
        let got = match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(t)) => t.token,
            Ok(Err(detail)) => return Err(CallError::Credential { api, detail }),
            Err(_) => {
                return Err(CallError::Credential {
                    api,
                    detail: format!(
                        "the token request did not finish within {} s (--timeout)",
                        self.timeout.as_secs_f64()
                    ),
                })
            }
        };
        if let Ok(mut map) = self.tokens.lock() {
            map.insert(api, got.clone());
        }
        Ok(got)
    }

    /// Who the token for `api` was issued to (its JWT claims, for `preflight`'s
    /// `deployer().objectId`); only the parsed IDs leave, never the token.
    pub(crate) async fn caller_of(&self, api: Api) -> Result<super::preflight::Caller, CallError> {
        let token = self.token(api).await?;
        Ok(super::preflight::caller_from_jwt(token.secret()))
    }

    async fn attempt(&self, call: &Call, token: &Secret) -> Result<(Reply, Headers), CallError> {
        let host = host_of(&call.url);
        let method = match call.method {
            Method::Get => azure_core::Method::Get,
            Method::Post => azure_core::Method::Post,
        };
        let mut req = Request::new(call.url.clone(), method);
        req.insert_header("authorization", format!("Bearer {}", token.secret()));
        req.insert_header("accept", "application/json");
        if let Some(body) = &call.body {
            req.insert_header("content-type", "application/json");
            req.set_body(body.to_string());
        }
        let run = async {
            let rsp = self.http.execute_request(&req).await?;
            let (status, headers, body) = rsp.deconstruct();
            let body = body.collect().await?;
            Ok::<_, azure_core::Error>((u16::from(status), headers, body.to_vec()))
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok((status, headers, body))) => Ok((Reply { status, body }, headers)),
            Ok(Err(e)) => Err(CallError::Network {
                host,
                detail: error_chain(&e),
            }),
            Err(_) => Err(CallError::Timeout {
                host,
                seconds: self.timeout.as_secs_f64(),
            }),
        }
    }
}

fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

/// `Retry-After` as seconds or an HTTP date; also the `retry-after-ms` variants.
fn retry_after(headers: &Headers) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(v) = headers.get_optional_str(&HeaderName::from_static(name)) {
            if let Ok(ms) = v.trim().parse::<u64>() {
                return Some(Duration::from_millis(ms));
            }
        }
    }
    let v = headers.get_optional_str(&HeaderName::from_static("retry-after"))?;
    if let Ok(s) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when =
        time::OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc2822)
            .ok()?;
    let secs = (when - time::OffsetDateTime::now_utc()).whole_seconds();
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl AzureReader for HttpReader {
    async fn authenticate(&self, api: Api) -> Result<(), CallError> {
        self.token(api).await.map(|_| ())
    }

    async fn send(&self, call: Call) -> Result<Reply, CallError> {
        let token = self.token(call.api).await?;
        let start = Instant::now();
        let mut retry = 0;
        let mut network_retries = 0;
        loop {
            let result = self.attempt(&call, &token).await;
            let wait = match &result {
                Ok((reply, headers)) if retryable(reply.status) => Some(retry_after(headers)),
                // A connection reset is worth one more try, not five (a host that
                // refuses connections should fail fast); a timeout is not retried
                // at all (the user chose it, and retrying would multiply it).
                Err(CallError::Network { .. }) if network_retries == 0 => {
                    network_retries += 1;
                    Some(None)
                }
                _ => None,
            };
            let done = wait.is_none()
                || retry >= self.retry.max_retries
                || start.elapsed() >= self.retry.max_total;
            if done {
                return result.map(|(reply, _)| reply);
            }
            retry += 1;
            let delay = self.retry.delay(retry, wait.flatten());
            let left = self.retry.max_total.saturating_sub(start.elapsed());
            tokio::time::sleep(delay.min(left)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy {
            max_retries: 5,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_total: Duration::from_secs(5),
        };
        let d1 = p.delay(1, None);
        assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(150));
        let d3 = p.delay(3, None);
        assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(600));
        assert_eq!(p.delay(10, None), Duration::from_secs(1));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_millis(20))),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut h = Headers::new();
        h.insert("retry-after", "2");
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let mut h = Headers::new();
        h.insert("retry-after-ms", "150");
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = Headers::new();
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let mut h = Headers::new();
        h.insert("retry-after", "soon");
        assert_eq!(retry_after(&h), None);
    }
}
