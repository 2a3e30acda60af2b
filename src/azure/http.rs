//! The real [`AzureReader`]: a reqwest client (rustls) that never follows
//! redirects and caps every body, wrapped as azure_core's `HttpClient`; a
//! per-request timeout that covers the whole body; an overall deadline; one token
//! per API obtained up front; bounded retries.
//!
//! Retries are done here rather than with azure_core's retry policy because that
//! policy sleeps `max(Retry-After, backoff)` with no cap (a `Retry-After: 3600`
//! would hang `check` for an hour) and turns error responses into opaque errors,
//! losing the Azure error body that messages quote.
//!
//! Every byte a server sends is bounded: a body is read chunk by chunk and
//! dropped at [`MAX_BODY`]; a server that trickles bytes is cut by `--timeout`
//! (which covers the body, not just the headers) and a run by its deadline
//! ([`HttpReader::with_deadline`]), retries and their waits included.

use super::credentials::{error_chain, Credential};
use super::endpoints::Endpoints;
use super::{Api, AzureReader, Call, CallError, Method, Reply};
use azure_core::auth::Secret;
use azure_core::headers::{HeaderName, Headers};
use azure_core::{HttpClient, Request, Response, ResponseBody};
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The largest body accepted from any endpoint (token, ARM, Graph, data plane).
///
/// What check reads is kilobytes: a vault is ~3 KiB, a key ~1 KiB, a role
/// definition ~2 KiB, a Graph principal with `$select` ~0.3 KiB. The largest
/// legitimate answer is a role-assignment list: ARM allows 4,000 assignments per
/// subscription, at ~0.7 KiB each under 3 MiB even if one page held them all; a
/// deployment with outputs is smaller. 16 MiB leaves five times that while a
/// hostile server costs at most 16 MiB per concurrent read (about six at once).
pub const MAX_BODY: usize = 16 << 20;

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
    max_body: usize,
    deadline: Option<Deadline>,
    tokens: Mutex<HashMap<Api, Secret>>,
}

/// When a run (or, for a fleet, one key's check) must be over, and how long
/// that was (for messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The instant it passes.
    pub(crate) at: Instant,
    /// Its length, for messages.
    pub(crate) total: Duration,
    /// Whose deadline it is, for messages ("the run's overall deadline").
    pub(crate) whose: &'static str,
}

impl Deadline {
    /// A deadline `total` from now.
    pub(crate) fn after(total: Duration, whose: &'static str) -> Self {
        let now = Instant::now();
        Deadline {
            // Durations come from bounded flags; an overflow is no reason to panic.
            at: now
                .checked_add(total)
                .or_else(|| now.checked_add(Duration::from_secs(86_400)))
                .unwrap_or(now),
            total,
            whose,
        }
    }

    /// How long the next wait may take: `wanted`, or less when the deadline comes
    /// first (`true` then). `None` when the deadline has passed.
    pub(crate) fn budget(deadline: Option<Deadline>, wanted: Duration) -> Option<(Duration, bool)> {
        let Some(d) = deadline else {
            return Some((wanted, false));
        };
        let left = d.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            None
        } else if left < wanted {
            Some((left, true))
        } else {
            Some((wanted, false))
        }
    }

    /// The error for a call that `deadline` ended while it waited `during`.
    pub(crate) fn error(deadline: Option<Deadline>, call: String, during: String) -> CallError {
        CallError::Deadline {
            call,
            seconds: deadline.map_or(0.0, |d| d.total.as_secs_f64()),
            whose: deadline.map_or("the run's overall deadline", |d| d.whose),
            during,
        }
    }
}

impl fmt::Debug for HttpReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are deliberately not shown.
        f.debug_struct("HttpReader")
            .field("credential", &self.credential)
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .field("deadline", &self.deadline.map(|d| d.total))
            .finish_non_exhaustive()
    }
}

/// The body of a bounded client's response was cut at the cap.
#[derive(Debug, thiserror::Error)]
#[error("the response body is larger than {limit} bytes ({seen} bytes received)")]
pub struct BodyTooLarge {
    /// The cap.
    pub limit: usize,
    /// Bytes received when reading stopped.
    pub seen: usize,
}

/// A bounded client's request was answered with a redirect, which it does not follow.
#[derive(Debug, thiserror::Error)]
#[error("the server answered with a redirect (HTTP {status}) to {target}, which is not followed")]
pub struct Redirected {
    /// The 3xx status.
    pub status: u16,
    /// Host (and port) of the `Location`, or why there is none.
    pub target: String,
}

/// azure_core's `HttpClient` over a reqwest client that follows no redirect (a
/// 3xx is a [`Redirected`] error) and cuts every body at a cap (a
/// [`BodyTooLarge`] error): the one client for the credential and the reader,
/// so token requests are bounded the same way as reads.
#[derive(Debug, Clone)]
pub struct BoundedClient {
    inner: reqwest::Client,
    max_body: usize,
}

impl BoundedClient {
    /// A client whose bodies end with a [`BodyTooLarge`] error beyond `max_body` bytes.
    pub fn new(max_body: usize) -> Result<Self, crate::error::Error> {
        let inner = reqwest::Client::builder()
            // azure_core's own setting: idle pooled connections can hang in hyper
            // (hyperium/hyper#2312).
            .pool_max_idle_per_host(0)
            // A 3xx reaches the caller as it is: azure_core's default follows ten,
            // to any origin, and repeats a token request's POST body on 307/308.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                crate::error::Error::Internal(format!(
                    "cannot build the HTTP client: {}",
                    error_chain(&e)
                ))
            })?;
        Ok(BoundedClient { inner, max_body })
    }

    /// As [`BoundedClient::new`], keeping up to `idle_per_host` idle connections
    /// per host for 20 s: a fleet run makes several requests in a row to each
    /// vault, and over TLS a new connection costs round trips of its own. A
    /// connection that hangs is still cut by the per-request timeout.
    pub fn pooled(max_body: usize, idle_per_host: usize) -> Result<Self, crate::error::Error> {
        let inner = reqwest::Client::builder()
            .pool_max_idle_per_host(idle_per_host)
            .pool_idle_timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                crate::error::Error::Internal(format!(
                    "cannot build the HTTP client: {}",
                    error_chain(&e)
                ))
            })?;
        Ok(BoundedClient { inner, max_body })
    }
}

#[async_trait::async_trait]
impl HttpClient for BoundedClient {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
        let rsp = self.inner.execute_request(request).await?;
        let (status, headers, body) = rsp.deconstruct();
        let code = u16::from(status);
        if (300..400).contains(&code) {
            return Err(azure_core::Error::new(
                azure_core::error::ErrorKind::Io,
                Redirected {
                    status: code,
                    target: redirect_target(request.url(), &headers),
                },
            ));
        }
        let capped = Capped {
            inner: body,
            seen: 0,
            limit: self.max_body,
            done: false,
        };
        Ok(Response::new(status, headers, Box::pin(capped)))
    }
}

/// A body stream that fails instead of yielding more than `limit` bytes.
struct Capped {
    inner: ResponseBody,
    seen: usize,
    limit: usize,
    done: bool,
}

impl Stream for Capped {
    type Item = <ResponseBody as Stream>::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let next = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            let seen = self.seen.saturating_add(chunk.len());
            if seen > self.limit {
                // The over-long chunk is dropped here and nothing more is read.
                self.done = true;
                let limit = self.limit;
                return Poll::Ready(Some(Err(azure_core::Error::new(
                    azure_core::error::ErrorKind::Io,
                    BodyTooLarge { limit, seen },
                ))));
            }
            self.seen = seen;
        }
        next
    }
}

/// The client `check` uses: no redirects, bodies capped at [`MAX_BODY`].
pub fn new_http_client() -> Result<Arc<dyn HttpClient>, crate::error::Error> {
    Ok(Arc::new(BoundedClient::new(MAX_BODY)?))
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
            max_body: MAX_BODY,
            deadline: None,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Ends every call, retry and token request `total` from now: after that a
    /// call fails with [`CallError::Deadline`] instead of being sent or waited for.
    /// A `total` beyond what the clock can represent is no deadline.
    #[must_use]
    pub fn with_deadline(mut self, total: Duration) -> Self {
        self.deadline = Some(Deadline::after(total, "the run's overall deadline"));
        self
    }

    /// The reader of a `check` or `preflight` run: the bounded client
    /// ([`new_http_client`]), `timeout` per request, the default retries, and
    /// every wait ending `deadline` from now.
    pub fn for_run(
        credential: Credential,
        endpoints: Endpoints,
        timeout: Duration,
        deadline: Duration,
    ) -> Result<Self, crate::error::Error> {
        Ok(HttpReader::new(
            new_http_client()?,
            credential,
            endpoints,
            timeout,
            RetryPolicy::default(),
        )
        .with_deadline(deadline))
    }

    /// Moves the deadline `paused` later: time spent on work that waits for no
    /// server (preflight expanding the template between its reads) is not
    /// Azure's to use up.
    pub fn pause_deadline(&mut self, paused: Duration) {
        if let Some(d) = self.deadline {
            self.deadline = d.at.checked_add(paused).map(|at| Deadline { at, ..d });
        }
    }

    /// Runs `work` (reads through this reader) to its end or to the deadline,
    /// whichever comes first. Every wait inside the reader already ends at the
    /// deadline, naming its call; this is the guarantee for the run as a whole.
    pub async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, crate::error::Error>>,
    ) -> Result<T, crate::error::Error> {
        let Some(d) = self.deadline else {
            return work.await;
        };
        // The reader's own waits end at the deadline itself; a moment later,
        // their message (naming the call) has been returned and wins.
        let end = d.at.checked_add(Duration::from_millis(250)).unwrap_or(d.at);
        match tokio::time::timeout_at(tokio::time::Instant::from_std(end), work).await {
            Ok(result) => result,
            Err(_) => Err(crate::error::Error::Azure(format!(
                "the run did not finish within its overall deadline of {} s (--deadline); try \
                 again later or raise --deadline",
                d.total.as_secs_f64()
            ))),
        }
    }

    /// Caps bodies at `max_body` bytes instead of [`MAX_BODY`] (a client from
    /// [`new_http_client`] still stops at its own cap).
    #[must_use]
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// When the run's deadline passes, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline.map(|d| d.at)
    }

    /// How long the next wait may take: `wanted`, or less when the deadline comes
    /// first (`true` then). `None` when the deadline has passed.
    fn budget(&self, wanted: Duration) -> Option<(Duration, bool)> {
        Deadline::budget(self.deadline, wanted)
    }

    fn deadline_error(&self, call: String, during: String) -> CallError {
        Deadline::error(self.deadline, call, during)
    }

    fn sender(&self) -> Sender<'_> {
        Sender {
            http: self.http.as_ref(),
            timeout: self.timeout,
            max_body: self.max_body,
            deadline: self.deadline,
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
        let what = || format!("the token request for {}", api.as_str());
        let Some((budget, by_deadline)) = self.budget(self.timeout) else {
            return Err(self.deadline_error(what(), "to start it".into()));
        };
        let fut = self.credential.token(api, self.scope(api));
        let got = match tokio::time::timeout(budget, fut).await {
            Ok(Ok(t)) => t.token,
            Ok(Err(detail)) => return Err(CallError::Credential { api, detail }),
            Err(_) if by_deadline => {
                return Err(self.deadline_error(what(), "for the token".into()));
            }
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
        self.sender().attempt(call, Some(token)).await
    }
}

/// Sends one request and reads its whole body, within a per-request timeout,
/// a body cap and an optional deadline: the one place where bytes come in, for
/// [`HttpReader`] and for the data plane's per-key readers alike.
pub(crate) struct Sender<'a> {
    /// The client (no redirects, capped bodies).
    pub(crate) http: &'a dyn HttpClient,
    /// Per request, headers and the whole body.
    pub(crate) timeout: Duration,
    /// Largest body accepted.
    pub(crate) max_body: usize,
    /// Ends every wait, if set.
    pub(crate) deadline: Option<Deadline>,
}

impl Sender<'_> {
    /// One request and its whole body, within `--timeout` and the deadline.
    pub(crate) async fn attempt(
        &self,
        call: &Call,
        token: Option<&Secret>,
    ) -> Result<(Reply, Headers), CallError> {
        let host = host_of(&call.url);
        let Some((budget, by_deadline)) = Deadline::budget(self.deadline, self.timeout) else {
            return Err(Deadline::error(
                self.deadline,
                call.describe(),
                format!("to call {host}"),
            ));
        };
        let method = match call.method {
            Method::Get => azure_core::Method::Get,
            Method::Post => azure_core::Method::Post,
        };
        let mut req = Request::new(call.url.clone(), method);
        // Without a token: Key Vault's 401 challenge names the vault's tenant.
        if let Some(token) = token {
            req.insert_header("authorization", format!("Bearer {}", token.secret()));
        }
        req.insert_header("accept", "application/json");
        if let Some(body) = &call.body {
            req.insert_header("content-type", "application/json");
            req.set_body(body.to_string());
        }
        // What had arrived when time ran out, for the message.
        let got_headers = AtomicBool::new(false);
        let received = AtomicUsize::new(0);
        let run = async {
            let rsp = self.http.execute_request(&req).await.map_err(|e| {
                match e.downcast_ref::<Redirected>() {
                    Some(r) => CallError::Redirect {
                        call: call.describe(),
                        status: r.status,
                        target: r.target.clone(),
                    },
                    None => CallError::Network {
                        host: host.clone(),
                        detail: error_chain(&e),
                    },
                }
            })?;
            let (status, headers, mut body) = rsp.deconstruct();
            got_headers.store(true, Ordering::Relaxed);
            let status = u16::from(status);
            // A client that passes 3xx through (not ours) is held to the same rule.
            if (300..400).contains(&status) {
                return Err(CallError::Redirect {
                    call: call.describe(),
                    status,
                    target: redirect_target(&call.url, &headers),
                });
            }
            if let Some(len) = content_length(&headers).filter(|n| *n > self.max_body as u64) {
                return Err(CallError::TooLarge {
                    call: call.describe(),
                    limit: self.max_body,
                    seen: len,
                    announced: true,
                });
            }
            let mut buf = Vec::new();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| match e.downcast_ref::<BodyTooLarge>() {
                    Some(t) => CallError::TooLarge {
                        call: call.describe(),
                        limit: t.limit.min(self.max_body),
                        seen: t.seen as u64,
                        announced: false,
                    },
                    None => CallError::Network {
                        host: host.clone(),
                        detail: error_chain(&e),
                    },
                })?;
                let seen = buf.len().saturating_add(chunk.len());
                if seen > self.max_body {
                    return Err(CallError::TooLarge {
                        call: call.describe(),
                        limit: self.max_body,
                        seen: seen as u64,
                        announced: false,
                    });
                }
                buf.extend_from_slice(&chunk);
                received.store(buf.len(), Ordering::Relaxed);
            }
            Ok((Reply { status, body: buf }, headers))
        };
        match tokio::time::timeout(budget, run).await {
            Ok(result) => result,
            Err(_) => {
                let received = got_headers
                    .load(Ordering::Relaxed)
                    .then(|| received.load(Ordering::Relaxed));
                if by_deadline {
                    let during = match received {
                        None => format!("for {host} to answer"),
                        Some(n) => format!(
                            "for {host} to finish its answer ({n} bytes of the body received)"
                        ),
                    };
                    Err(Deadline::error(self.deadline, call.describe(), during))
                } else {
                    Err(CallError::Timeout {
                        host,
                        seconds: self.timeout.as_secs_f64(),
                        received,
                    })
                }
            }
        }
    }
}

/// Where a redirect points, as `host[:port]`, for the message (never followed).
fn redirect_target(from: &url::Url, headers: &Headers) -> String {
    match headers.get_optional_str(&HeaderName::from_static("location")) {
        None => "nowhere (no Location header)".into(),
        Some(loc) => match from.join(loc.trim()) {
            Ok(u) => host_of(&u),
            Err(_) => "an invalid Location".into(),
        },
    }
}

/// The `Content-Length` header, when present and a number.
fn content_length(headers: &Headers) -> Option<u64> {
    headers
        .get_optional_str(&HeaderName::from_static("content-length"))?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.to_string(),
    }
}

/// `Retry-After` as seconds or an HTTP date; also the `retry-after-ms` variants.
pub(crate) fn retry_after(headers: &Headers) -> Option<Duration> {
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

pub(crate) fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl AzureReader for HttpReader {
    async fn authenticate(&self, api: Api) -> Result<(), CallError> {
        self.token(api).await.map(|_| ())
    }

    async fn send(&self, call: Call) -> Result<Reply, CallError> {
        let token = self.token(call.api).await?;
        with_retries(&self.retry, self.deadline, &call, || {
            self.attempt(&call, &token)
        })
        .await
        .map(|(reply, _)| reply)
    }
}

/// Sends `call` through `attempt` until it is not throttled (429), failing
/// (5xx) or reset, within `retry`'s bounds and `deadline`: the answer with its
/// headers, or why there is none.
pub(crate) async fn with_retries<F, Fut>(
    retry: &RetryPolicy,
    deadline: Option<Deadline>,
    call: &Call,
    mut attempt: F,
) -> Result<(Reply, Headers), CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(Reply, Headers), CallError>>,
{
    let start = Instant::now();
    let mut n = 0;
    let mut network_retries = 0;
    loop {
        let result = attempt().await;
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
        let done = wait.is_none() || n >= retry.max_retries || start.elapsed() >= retry.max_total;
        if done {
            return result;
        }
        n += 1;
        let delay = retry.delay(n, wait.flatten());
        let left = retry.max_total.saturating_sub(start.elapsed());
        let delay = delay.min(left);
        // A retry that could only start after the deadline is not waited for.
        match Deadline::budget(deadline, delay) {
            Some((d, false)) => tokio::time::sleep(d).await,
            _ => {
                let last = match &result {
                    Ok((reply, _)) => format!("HTTP {}", reply.status),
                    Err(e) => e.to_string(),
                };
                return Err(Deadline::error(
                    deadline,
                    call.describe(),
                    format!("to retry after {last}"),
                ));
            }
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

    /// A body of `chunks` as azure_core's reqwest client would hand it over.
    fn body_of(chunks: &[&'static [u8]]) -> ResponseBody {
        // The item type names azure_core's `Bytes` without a direct dependency on `bytes`.
        fn item(c: &'static [u8]) -> <ResponseBody as Stream>::Item {
            Ok(c.into())
        }
        let items: Vec<_> = chunks.iter().map(|c| item(c)).collect();
        Response::new(
            azure_core::StatusCode::Ok,
            Headers::new(),
            Box::pin(futures::stream::iter(items)),
        )
        .into_body()
    }

    #[test]
    fn capped_body_stops_at_the_limit_and_reads_no_further() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut capped = Capped {
                inner: body_of(&[b"abcd", b"efgh", b"ijkl", b"mnop"]),
                seen: 0,
                limit: 10,
                done: false,
            };
            assert_eq!(&capped.next().await.unwrap().unwrap()[..], b"abcd");
            assert_eq!(&capped.next().await.unwrap().unwrap()[..], b"efgh");
            let err = capped.next().await.unwrap().unwrap_err();
            let too_large = err.downcast_ref::<BodyTooLarge>().unwrap();
            assert_eq!((too_large.limit, too_large.seen), (10, 12));
            assert!(capped.next().await.is_none());
            // Exactly at the limit is fine.
            let whole = Capped {
                inner: body_of(&[b"abcd", b"efgh"]),
                seen: 0,
                limit: 8,
                done: false,
            };
            let parts: Vec<_> = whole.collect().await;
            assert!(parts.iter().all(Result::is_ok) && parts.len() == 2);
        });
    }

    #[test]
    fn redirect_targets_are_resolved_against_the_request() {
        let from = url::Url::parse("https://management.azure.com/subscriptions/x").unwrap();
        let mut h = Headers::new();
        h.insert("location", "https://evil.example.com:8443/steal");
        assert_eq!(redirect_target(&from, &h), "evil.example.com:8443");
        let mut h = Headers::new();
        h.insert("location", "/elsewhere");
        assert_eq!(redirect_target(&from, &h), "management.azure.com");
        assert_eq!(
            redirect_target(&from, &Headers::new()),
            "nowhere (no Location header)"
        );
    }

    #[test]
    fn deadline_budget_shrinks_waits_and_ends_them() {
        let reader = HttpReader::new(
            Arc::new(BoundedClient::new(MAX_BODY).unwrap()),
            Credential::client_secret(
                new_http_client().unwrap(),
                "http://127.0.0.1:9/",
                "t",
                "c",
                "s",
            )
            .unwrap(),
            Endpoints::new(super::super::endpoints::Cloud::Public, None, None, None).unwrap(),
            Duration::from_secs(30),
            RetryPolicy::default(),
        );
        assert_eq!(
            reader.budget(Duration::from_secs(30)),
            Some((Duration::from_secs(30), false))
        );
        let reader = reader.with_deadline(Duration::from_secs(5));
        let (d, by_deadline) = reader.budget(Duration::from_secs(30)).unwrap();
        assert!(by_deadline && d <= Duration::from_secs(5));
        assert_eq!(
            reader.budget(Duration::from_millis(10)),
            Some((Duration::from_millis(10), false))
        );
        let reader = reader.with_deadline(Duration::ZERO);
        assert_eq!(reader.budget(Duration::from_secs(1)), None);
        // Time that waits for no server moves the deadline.
        let mut reader = reader.with_deadline(Duration::from_secs(5));
        reader.pause_deadline(Duration::from_secs(10));
        let (d, by_deadline) = reader.budget(Duration::from_secs(30)).unwrap();
        assert!(by_deadline && d > Duration::from_secs(10), "{d:?}");
        // Too far to represent: no deadline, and no overflow panic.
        let reader = reader.with_deadline(Duration::MAX);
        assert_eq!(
            reader.budget(Duration::from_secs(1)),
            Some((Duration::from_secs(1), false))
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
