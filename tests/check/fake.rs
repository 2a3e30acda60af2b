//! A fake Azure on 127.0.0.1, one per test: token endpoint, ARM (vault, key, role
//! assignments, role definitions, deployments), Microsoft Graph and the Key Vault
//! data plane. Payloads start from the REST API examples in
//! `../shared/corpus/rest-examples` and are extended in code.
//!
//! It insists on what Azure insists on: a bearer token on every call but the
//! token request, and an `api-version` on every ARM and data-plane call.
//! Answers per path are queued: each request takes the next one, the last repeats.
//!
//! Hostile answers too: redirects, bodies far over check's cap (streamed, or
//! announced by `Content-Length`), bodies that trickle a byte at a time, and a
//! fake that redirects every request (token requests included) elsewhere.

#![allow(dead_code)]

use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The token the fake hands out (tests grep every output for it, and each of its
/// parts). A JWT, as Entra ID issues: its payload names the caller (`oid`
/// [`DEPLOYER`], `tid` [`TENANT`]), which `preflight` reads for `deployer()`.
pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyIsImlzcyI6Imh0dHBzOi8vc3RzLndpbmRvd3MubmV0LzcyZjk4OGJmLTg2ZjEtNDFhZi05MWFiLTJkN2NkMDExZGI0Ny8iLCJhcHBpZCI6IjExMTExMTExLTIyMjItMzMzMy00NDQ0LTU1NTU1NTU1NTU1NSIsImlkdHlwIjoiYXBwIiwib2lkIjoiZDNiMTBmZTUtN2ExZS00YzJiLTlkM2UtMDEyMzQ1Njc4OWFiIiwidGlkIjoiNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3In0.fake-access-token-5a1c0de-do-not-print";
/// The `oid` claim of [`TOKEN`]: the identity that deploys.
pub const DEPLOYER: &str = "d3b10fe5-7a1e-4c2b-9d3e-0123456789ab";
/// The token the fake hands out in [`TENANT_B`] (a second customer's directory).
pub const TOKEN_B: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJiMmI2MDBjYyJ9.fake-access-token-tenant-b-do-not-print";
/// A second customer's tenant.
pub const TENANT_B: &str = "b2b600cc-1111-4222-8333-9999aaaabbbb";
/// The workload-identity assertion (a projected service-account token) tests pass.
pub const FEDERATED: &str = "fake-federated-assertion-7c1e-do-not-print";
/// The client secret tests pass (tests grep every output for it).
pub const SECRET: &str = "fake-client-secret-9b2e-do-not-print";
/// Tenant and client of the environment credential.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Client ID of the environment credential.
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
/// Subscription, as in the corpus examples.
pub const SUB: &str = "00000000-0000-0000-0000-000000000000";
/// Resource group.
pub const RG: &str = "sample-group";
/// Vault.
pub const VAULT: &str = "sample-vault";
/// Key.
pub const KEY: &str = "cmek-key-tidb";
/// The vendor's service principal: object ID and application ID.
pub const SP_OBJECT: &str = "c0ffee00-1111-4222-8333-444455556666";
/// Application (client) ID of the vendor's application.
pub const SP_APP: &str = "abcdef01-2345-4678-89ab-cdef01234567";
/// The customer's officer.
pub const OFFICER: &str = "ce2ce14e-85d7-4629-bdbc-454d0519d987";
/// Key Vault Crypto Service Encryption User.
pub const ROLE_CSEU: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
/// Key Vault Crypto Officer.
pub const ROLE_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";

/// How a queued answer's body is sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// `body`, with its Content-Length.
    Whole,
    /// This many bytes of a JSON array (`[0,0,...`), chunked, no Content-Length:
    /// only counting what arrives can stop the reader.
    Streamed(u64),
    /// A Content-Length of this many bytes, then as much of them as the reader takes.
    Announced(u64),
    /// Headers at once (Content-Length `bytes`), then one byte every `every`.
    Trickle {
        /// Pause before each byte.
        every: Duration,
        /// Bytes in all.
        bytes: usize,
    },
}

/// One queued answer.
#[derive(Clone, Debug)]
pub struct Canned {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Added before answering.
    pub delay: Duration,
    /// How the body is sent.
    pub shape: Shape,
}

impl Canned {
    /// 200 with a JSON body.
    pub fn ok(body: Json) -> Self {
        Canned::status(200, body)
    }
    /// `status` with a JSON body.
    pub fn status(status: u16, body: Json) -> Self {
        Canned {
            status,
            body: body.to_string(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            shape: Shape::Whole,
        }
    }
    /// An ARM-style error.
    pub fn error(status: u16, code: &str) -> Self {
        Canned::status(
            status,
            json!({"error": {"code": code, "message": format!("{code} (fake)")}}),
        )
    }
    /// A body that is not JSON.
    pub fn garbage() -> Self {
        Canned {
            status: 200,
            body: "<html>proxy error".into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            shape: Shape::Whole,
        }
    }
    /// A redirect (`status` 3xx) to `location`, with an empty body.
    pub fn redirect(status: u16, location: &str) -> Self {
        Canned {
            body: String::new(),
            ..Canned::garbage()
        }
        .status_code(status)
        .header("Location", location)
    }
    /// 200 with `bytes` bytes of JSON array, streamed without a length.
    pub fn streamed(bytes: u64) -> Self {
        Canned {
            shape: Shape::Streamed(bytes),
            ..Canned::garbage()
        }
    }
    /// 200 announcing `bytes` bytes in Content-Length.
    pub fn announced(bytes: u64) -> Self {
        Canned {
            shape: Shape::Announced(bytes),
            ..Canned::garbage()
        }
    }
    /// 200 whose `bytes`-byte body comes one byte every `every`.
    pub fn trickle(every: Duration, bytes: usize) -> Self {
        Canned {
            shape: Shape::Trickle { every, bytes },
            ..Canned::garbage()
        }
    }
    fn status_code(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    /// With a header.
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    /// Answered after `d`.
    pub fn slow(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// One request the fake saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When it arrived.
    pub at: std::time::Instant,
    /// Method.
    pub method: String,
    /// Path (as sent, percent-encoded).
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// The Authorization header was `Bearer TOKEN`.
    pub authorized: bool,
    /// The request body (empty for token requests, which carry the secret).
    pub body: String,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Vec<Canned>>,
    seen: Vec<Seen>,
    token_requests: usize,
    latency: Duration,
    redirect_all: Option<String>,
    unwrap_mismatch: bool,
    wrap_status: Option<u16>,
    /// checkNameAvailability answers by lower-case `subscription/name` (default:
    /// available in [`SUB`] and in each subscription named here).
    names: HashMap<String, Json>,
    /// The bearer token this fake accepts (default [`TOKEN`]).
    accept: Option<String>,
    /// Key Vault's answer to a request without a token: `WWW-Authenticate`.
    challenge: Option<String>,
    /// Requests (but token requests) wait while this is set.
    paused: bool,
}

/// What [`Fake::pause`] waits on.
type Gate = Arc<(Mutex<()>, std::sync::Condvar)>;

/// The running fake.
pub struct Fake {
    /// Base URL, `http://127.0.0.1:PORT/`.
    pub url: String,
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    gate: Gate,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn url_path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Route key: lower-case path, plus `#<skiptoken>` for later pages.
fn route_key(path: &str, query: &[(String, String)]) -> String {
    let mut k = percent_decode(path).to_ascii_lowercase();
    if let Some((_, t)) = query.iter().find(|(k, _)| k == "$skiptoken") {
        k.push('#');
        k.push_str(t);
    }
    k
}

fn percent_decode(s: &str) -> String {
    url::Url::parse(&format!("http://x{s}"))
        .ok()
        .and_then(|u| {
            u.path_segments().map(|segs| {
                segs.map(|seg| {
                    percent_encoding::percent_decode_str(seg)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .collect::<Vec<_>>()
                .join("/")
            })
        })
        .map(|p| format!("/{p}"))
        .unwrap_or_else(|| s.to_string())
}

impl Fake {
    /// Starts an empty fake on an ephemeral loopback port.
    pub fn start() -> Fake {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let gate: Gate = Arc::new((Mutex::new(()), std::sync::Condvar::new()));
        let (srv, st, g) = (server.clone(), state.clone(), gate.clone());
        let thread = thread::spawn(move || {
            for req in srv.incoming_requests() {
                let (st, g) = (st.clone(), g.clone());
                // One thread per request, so concurrent calls really overlap.
                thread::spawn(move || handle(req, &st, &g));
            }
        });
        Fake {
            url: format!("http://127.0.0.1:{port}/"),
            server,
            state,
            gate,
            thread: Some(thread),
        }
    }

    /// Queues answers for `path` (case-insensitive; `#token` for a later page).
    pub fn route(&self, path: &str, answers: Vec<Canned>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_ascii_lowercase(), answers);
    }

    /// Adds `d` to every answer (benchmark).
    pub fn latency(&self, d: Duration) {
        self.state.lock().unwrap().latency = d;
    }

    /// Answers every request, the token request too, with a 307 to the same path
    /// and query under `base`.
    pub fn redirect_all(&self, base: &str) {
        self.state.lock().unwrap().redirect_all = Some(base.trim_end_matches('/').to_string());
    }

    /// The `host:port` of this fake.
    pub fn host(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    /// Makes unwrapKey return different bytes.
    pub fn unwrap_mismatch(&self) {
        self.state.lock().unwrap().unwrap_mismatch = true;
    }

    /// Makes wrapKey answer with `status`.
    pub fn wrap_status(&self, status: u16) {
        self.state.lock().unwrap().wrap_status = Some(status);
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Requests whose decoded path ends with `suffix` (case-insensitive).
    pub fn count(&self, suffix: &str) -> usize {
        let s = suffix.to_ascii_lowercase();
        self.seen()
            .iter()
            .filter(|r| percent_decode(&r.path).to_ascii_lowercase().ends_with(&s))
            .count()
    }

    /// Token requests seen.
    pub fn token_requests(&self) -> usize {
        self.state.lock().unwrap().token_requests
    }

    /// Token requests seen for `tenant`.
    pub fn token_requests_in(&self, tenant: &str) -> usize {
        let path = format!("/{tenant}/oauth2/v2.0/token");
        self.seen().iter().filter(|r| r.path == path).count()
    }

    /// Accepts `token` as the bearer token instead of [`TOKEN`].
    pub fn accept_token(&self, token: &str) {
        self.state.lock().unwrap().accept = Some(token.to_string());
    }

    /// Answers a request without a valid token as Key Vault does: 401 with
    /// `WWW-Authenticate: <challenge>`.
    pub fn challenge(&self, challenge: &str) {
        self.state.lock().unwrap().challenge = Some(challenge.to_string());
    }

    /// Holds every request (but token requests) until [`Fake::resume`] (at most 20 s).
    pub fn pause(&self) {
        self.state.lock().unwrap().paused = true;
    }

    /// Lets held requests go on.
    pub fn resume(&self) {
        self.state.lock().unwrap().paused = false;
        self.gate.1.notify_all();
    }

    /// Requests that came without a valid token.
    pub fn unauthenticated(&self) -> usize {
        self.seen().iter().filter(|r| !r.authorized).count()
    }
}

/// `limit` bytes of `[0,0,0,...` (a JSON array that never closes).
struct Zeros {
    sent: u64,
    limit: u64,
}

impl std::io::Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.limit - self.sent) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let at = self.sent + i as u64;
            *b = match at {
                0 => b'[',
                _ if at % 2 == 1 => b'0',
                _ => b',',
            };
        }
        self.sent += n as u64;
        Ok(n)
    }
}

fn respond(req: tiny_http::Request, c: &Canned) {
    if !c.delay.is_zero() {
        thread::sleep(c.delay);
    }
    let header =
        |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap();
    let mut headers = vec![header("content-type", "application/json")];
    headers.extend(c.headers.iter().map(|(k, v)| header(k, v)));
    let status = tiny_http::StatusCode(c.status);
    // Writes fail once the client hangs up, which ends the thread.
    let _ = match c.shape {
        Shape::Whole => {
            let mut rsp =
                tiny_http::Response::from_string(c.body.clone()).with_status_code(c.status);
            for h in headers {
                rsp = rsp.with_header(h);
            }
            req.respond(rsp)
        }
        Shape::Streamed(limit) => req.respond(tiny_http::Response::new(
            status,
            headers,
            Zeros { sent: 0, limit },
            None,
            None,
        )),
        // tiny_http switches large bodies to chunked unless told otherwise.
        Shape::Announced(limit) => req.respond(
            tiny_http::Response::new(
                status,
                headers,
                Zeros { sent: 0, limit },
                Some(limit as usize),
                None,
            )
            .with_chunked_threshold(usize::MAX),
        ),
        Shape::Trickle { every, bytes } => {
            // Raw HTTP, flushed byte by byte: tiny_http would buffer the body.
            let mut w = req.into_writer();
            let head = format!(
                "HTTP/1.1 {} OK\r\ncontent-type: application/json\r\ncontent-length: {bytes}\r\n\
                 connection: close\r\n\r\n",
                c.status
            );
            let mut result = w.write_all(head.as_bytes()).and_then(|_| w.flush());
            for _ in 0..bytes {
                if result.is_err() {
                    break;
                }
                thread::sleep(every);
                result = w.write_all(b" ").and_then(|_| w.flush());
            }
            result
        }
    };
}

fn handle(mut req: tiny_http::Request, st: &Mutex<State>, gate: &Gate) {
    let url = url::Url::parse(&format!("http://x{}", req.url())).unwrap();
    let path = url.path().to_string();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let accept = st
        .lock()
        .unwrap()
        .accept
        .clone()
        .unwrap_or_else(|| TOKEN.to_string());
    let authorized = req
        .headers()
        .iter()
        .any(|h| h.field.equiv("authorization") && h.value.as_str() == format!("Bearer {accept}"));
    let method = req.method().as_str().to_string();
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
    let latency = {
        let mut s = st.lock().unwrap();
        s.seen.push(Seen {
            at: std::time::Instant::now(),
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            authorized,
            body: if path.ends_with("/oauth2/v2.0/token") {
                String::new()
            } else {
                body.clone()
            },
        });
        s.latency
    };
    if !path.ends_with("/oauth2/v2.0/token") {
        // Held while paused, at most 20 s so that no test can hang on it.
        let (lock, cvar) = &**gate;
        let mut g = lock.lock().unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while st.lock().unwrap().paused && std::time::Instant::now() < until {
            g = cvar.wait_timeout(g, Duration::from_millis(50)).unwrap().0;
        }
    }
    if !latency.is_zero() {
        thread::sleep(latency);
    }
    let redirect_all = st.lock().unwrap().redirect_all.clone();
    if let Some(base) = redirect_all {
        return respond(
            req,
            &Canned::redirect(307, &format!("{base}{}", url_path_and_query(&url))),
        );
    }

    // Token endpoint: POST /{tenant}/oauth2/v2.0/token with the client secret in the body.
    if path.ends_with("/oauth2/v2.0/token") {
        st.lock().unwrap().token_requests += 1;
        let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        // One token per tenant: Key Vault refuses a token of another tenant.
        let token = match path.strip_suffix("/oauth2/v2.0/token") {
            Some(t) if t == format!("/{TENANT}") => Some(TOKEN),
            Some(t) if t == format!("/{TENANT_B}") => Some(TOKEN_B),
            _ => None,
        };
        let field = |k: &str| form.get(k).map(String::as_str);
        // A client secret, or a workload-identity assertion.
        let proof = field("client_secret") == Some(SECRET)
            || (field("client_assertion") == Some(FEDERATED)
                && field("client_assertion_type")
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        let ok = token.is_some()
            && field("client_id") == Some(CLIENT)
            && proof
            && field("grant_type") == Some("client_credentials");
        let c = if let (true, Some(token)) = (ok, token) {
            Canned::ok(json!({"token_type": "Bearer", "expires_in": 3600,
                              "ext_expires_in": 3600, "access_token": token}))
        } else {
            Canned::status(
                401,
                json!({"error": "invalid_client",
                       "error_description": "AADSTS7000215: Invalid client secret provided."}),
            )
        };
        return respond(req, &c);
    }
    // check and preflight only read: every write is refused (and recorded in
    // `seen`, so tests can assert none arrived).
    if matches!(method.as_str(), "PUT" | "PATCH" | "DELETE") {
        return respond(req, &Canned::error(405, "FakeAzureRefusesWrites"));
    }
    if !authorized {
        // Key Vault's answer to a request without a (valid) token names the tenant.
        if let Some(challenge) = st.lock().unwrap().challenge.clone() {
            return respond(
                req,
                &Canned::status(
                    401,
                    json!({"error": {"code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer or PoP token."}}),
                )
                .header("WWW-Authenticate", &challenge),
            );
        }
        return respond(req, &Canned::error(401, "AuthenticationFailed"));
    }
    let graph = path.starts_with("/v1.0/");
    if !graph {
        match query.iter().find(|(k, _)| k == "api-version") {
            None => return respond(req, &Canned::error(400, "MissingApiVersionParameter")),
            Some((_, v)) if !api_version_fits(&percent_decode(&path), v) => {
                return respond(req, &Canned::error(400, "InvalidApiVersionParameter"))
            }
            _ => {}
        }
    }

    // Data plane wrap/unwrap: a reversible transformation of the value.
    let lower = path.to_ascii_lowercase();
    if method == "POST" && (lower.ends_with("/wrapkey") || lower.ends_with("/unwrapkey")) {
        let (mismatch, wrap_status) = {
            let s = st.lock().unwrap();
            (s.unwrap_mismatch, s.wrap_status)
        };
        if let Some(status) = wrap_status {
            return respond(req, &Canned::error(status, "Forbidden"));
        }
        let j: Json = serde_json::from_str(&body).unwrap_or(Json::Null);
        let value = j["value"].as_str().unwrap_or("").to_string();
        let alg_ok = j["alg"] == "RSA-OAEP-256";
        if !alg_ok {
            return respond(req, &Canned::error(400, "BadParameter"));
        }
        let out = if lower.ends_with("/wrapkey") {
            format!("w{}", value.chars().rev().collect::<String>())
        } else if mismatch {
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string()
        } else {
            value
                .strip_prefix('w')
                .unwrap_or(&value)
                .chars()
                .rev()
                .collect()
        };
        return respond(
            req,
            &Canned::ok(json!({"kid": "https://fake/keys/k/v1", "value": out})),
        );
    }

    // ---- preflight: checkNameAvailability, the one POST that only reads ----
    if method == "POST" && lower.ends_with("/providers/microsoft.keyvault/checknameavailability") {
        let j: Json = serde_json::from_str(&body).unwrap_or(Json::Null);
        let (Some(name), Some("Microsoft.KeyVault/vaults")) =
            (j["name"].as_str(), j["type"].as_str())
        else {
            return respond(req, &Canned::error(400, "InvalidRequestContent"));
        };
        // The subscription in the path: ARM answers for that one, or not at all.
        let sub = lower
            .strip_prefix("/subscriptions/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        let answer = {
            let s = st.lock().unwrap();
            let known = sub == SUB || s.names.keys().any(|k| k.starts_with(&format!("{sub}/")));
            if !known {
                return respond(req, &Canned::error(404, "SubscriptionNotFound"));
            }
            s.names
                .get(&format!("{sub}/{}", name.to_ascii_lowercase()))
                .cloned()
                // The corpus example's answer (checkVaultNameAvailability.json).
                .unwrap_or_else(|| json!({"nameAvailable": true}))
        };
        return respond(req, &Canned::ok(answer));
    }
    // Any other POST would be an action: refused like a write.
    if method == "POST" {
        return respond(req, &Canned::error(405, "FakeAzureRefusesWrites"));
    }
    // ---- end preflight ----

    let key = route_key(&path, &query);
    let answer = {
        let mut s = st.lock().unwrap();
        match s.routes.get_mut(&key) {
            Some(list) if list.len() > 1 => Some(list.remove(0)),
            Some(list) => list.first().cloned(),
            None => None,
        }
    };
    match answer {
        Some(c) => respond(req, &c),
        None if graph => respond(req, &Canned::error(404, "Request_ResourceNotFound")),
        None => respond(req, &Canned::error(404, "ResourceNotFound")),
    }
}

/// The one api-version the fake takes for each family of paths: the version
/// of the corpus examples its answers come from, so a reader that sends
/// another family's version (two constants swapped) is refused as ARM would.
pub fn api_version_for(path: &str) -> Option<&'static str> {
    let p = path.to_ascii_lowercase();
    let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    // The last provider namespace decides (role assignments at a key are
    // Microsoft.Authorization's, under Microsoft.KeyVault's path).
    let last = segs.iter().rposition(|s| *s == "providers");
    match last.map(|i| (segs.get(i + 1).copied(), segs.len() - i)) {
        Some((Some("microsoft.authorization"), _)) => Some("2022-04-01"),
        Some((Some("microsoft.resources"), _)) => Some("2024-03-01"),
        // /subscriptions/{s}/providers/Microsoft.KeyVault: the registration.
        Some((Some("microsoft.keyvault"), 2)) => Some("2025-04-01"),
        Some((Some("microsoft.keyvault"), _)) => Some("2025-05-01"),
        Some(_) => None,
        None => match segs.as_slice() {
            ["subscriptions", _] => Some("2022-12-01"),
            ["subscriptions", _, "resourcegroups", _] => Some("2025-04-01"),
            ["keys", ..] => Some("7.5"),
            _ => None,
        },
    }
}

/// True when `version` is the one [`api_version_for`] `path` (any version the
/// readers use, for a path of no known family).
fn api_version_fits(path: &str, version: &str) -> bool {
    match api_version_for(path) {
        Some(v) => v == version,
        None => [
            "2025-05-01",
            "2022-04-01",
            "2024-03-01",
            "2022-12-01",
            "2025-04-01",
            "7.5",
        ]
        .contains(&version),
    }
}

/// The corpus folder, or `None` (tests then skip with a printed reason).
pub fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rest-examples");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (no REST examples to serve)",
            dir.display()
        );
        None
    }
}

/// The `responses.200.body` of a corpus example.
pub fn example(dir: &std::path::Path, rel: &str) -> Json {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap();
    let j: Json = serde_json::from_str(&text).unwrap();
    j["responses"]["200"]["body"].clone()
}

/// Corpus example paths.
pub mod ex {
    pub const VAULT: &str =
        "keyvault/resource-manager/Microsoft.KeyVault/stable/2025-05-01/examples/getVault.json";
    pub const KEY: &str =
        "keyvault/resource-manager/Microsoft.KeyVault/stable/2025-05-01/examples/getKey.json";
    pub const ROTATION: &str =
        "keyvault/data-plane/Microsoft.KeyVault/stable/7.5/examples/GetKeyRotationPolicy-example.json";
    pub const RA_LIST: &str = "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/RoleAssignments_ListForScope.json";
    pub const RA_GET: &str = "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/RoleAssignments_Get.json";
    pub const ROLE_DEF: &str = "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/GetRoleDefinitionByName.json";
}

/// ARM paths of the scenario's resources.
pub fn vault_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/{VAULT}")
}
/// Key resource ID.
pub fn key_id() -> String {
    format!("{}/keys/{KEY}", vault_id())
}
/// Role assignment list path at the key.
pub fn ra_path() -> String {
    format!(
        "{}/providers/Microsoft.Authorization/roleAssignments",
        key_id()
    )
}
/// Role definition path of `guid` in the subscription.
pub fn role_def_path(guid: &str) -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
}
/// Graph path of a service principal by object ID.
pub fn sp_path(id: &str) -> String {
    format!("/v1.0/servicePrincipals/{id}")
}
/// Graph path of a service principal by app ID.
pub fn sp_app_path(id: &str) -> String {
    format!("/v1.0/servicePrincipals(appId='{id}')")
}
/// Data-plane rotation policy path.
pub fn rotation_path() -> String {
    format!("/keys/{KEY}/rotationpolicy")
}
/// Deployment path.
pub fn deployment_path(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Resources/deployments/{name}"
    )
}

/// A role assignment in the corpus example's shape.
pub fn assignment(
    dir: &std::path::Path,
    name: &str,
    role: &str,
    principal: &str,
    scope: &str,
) -> Json {
    let mut a = example(dir, ex::RA_GET);
    a["name"] = json!(name);
    a["id"] = json!(format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    ));
    a["properties"]["roleDefinitionId"] = json!(role_def_path(role));
    a["properties"]["principalId"] = json!(principal);
    a["properties"]["principalType"] = json!("ServicePrincipal");
    a["properties"]["scope"] = json!(scope);
    a
}

/// The corpus's vault example as ARM answers for the scenario's vault (its
/// `id` and `name`; the example's own ID is in another resource group).
pub fn vault_body(dir: &std::path::Path) -> Json {
    let mut vault = example(dir, ex::VAULT);
    vault["id"] = json!(vault_id());
    vault["name"] = json!(VAULT);
    vault
}

/// The corpus's key example as ARM answers for the scenario's key.
pub fn key_body(dir: &std::path::Path) -> Json {
    let mut key = example(dir, ex::KEY);
    key["id"] = json!(key_id());
    key["name"] = json!(KEY);
    key
}

/// A compliant deployment: examples extended with purge protection, RBAC, a rotation
/// policy, the two role assignments and the vendor principal in Graph.
pub fn compliant(dir: &std::path::Path) -> Fake {
    let fake = Fake::start();
    let mut vault = vault_body(dir);
    vault["location"] = json!("eastus");
    let p = &mut vault["properties"];
    p["enablePurgeProtection"] = json!(true);
    p["enableSoftDelete"] = json!(true);
    p["softDeleteRetentionInDays"] = json!(90);
    p["enableRbacAuthorization"] = json!(true);
    p["vaultUri"] = json!(format!("https://{VAULT}.vault.azure.net/"));
    fake.route(&vault_id(), vec![Canned::ok(vault)]);

    let mut key = key_body(dir);
    key["properties"]["keySize"] = json!(3072);
    fake.route(&key_id(), vec![Canned::ok(key)]);
    fake.route(
        &rotation_path(),
        vec![Canned::ok(example(dir, ex::ROTATION))],
    );

    let mut list = example(dir, ex::RA_LIST);
    list["value"] = json!([
        assignment(
            dir,
            "0b5fe924-0000-4000-8000-000000000001",
            ROLE_CSEU,
            SP_OBJECT,
            &key_id()
        ),
        assignment(
            dir,
            "0b5fe924-0000-4000-8000-000000000002",
            ROLE_OFFICER,
            OFFICER,
            &vault_id()
        ),
    ]);
    fake.route(&ra_path(), vec![Canned::ok(list)]);
    for (guid, name) in [
        (ROLE_CSEU, "Key Vault Crypto Service Encryption User"),
        (ROLE_OFFICER, "Key Vault Crypto Officer"),
    ] {
        let mut def = example(dir, ex::ROLE_DEF);
        def["name"] = json!(guid);
        def["id"] = json!(role_def_path(guid));
        def["properties"]["roleName"] = json!(name);
        fake.route(&role_def_path(guid), vec![Canned::ok(def)]);
    }
    fake.route(
        &format!("/subscriptions/{SUB}"),
        vec![Canned::ok(
            json!({"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "tenantId": TENANT}),
        )],
    );
    fake.route(
        &sp_path(SP_OBJECT),
        vec![Canned::ok(
            json!({"id": SP_OBJECT, "appId": SP_APP, "displayName": "TiDB Cloud CMEK"}),
        )],
    );
    fake.route(
        &sp_app_path(SP_APP),
        vec![Canned::ok(
            json!({"id": SP_OBJECT, "appId": SP_APP, "displayName": "TiDB Cloud CMEK"}),
        )],
    );
    fake
}

// ===== preflight: resource group, provider, deleted vaults, name availability,
// permissions. Shapes from the corpus examples (ResourceGroups_Get, GetProvider,
// listDeletedVaults, checkVaultNameAvailability, GetPermissions). =====

impl Fake {
    /// Makes checkNameAvailability in [`SUB`] answer `answer` for `name`.
    pub fn name_answer(&self, name: &str, answer: Json) {
        self.name_answer_in(SUB, name, answer);
    }

    /// Makes checkNameAvailability in `subscription` answer `answer` for `name`.
    pub fn name_answer_in(&self, subscription: &str, name: &str, answer: Json) {
        self.state.lock().unwrap().names.insert(
            format!("{subscription}/{name}").to_ascii_lowercase(),
            answer,
        );
    }

    /// Makes the Microsoft.KeyVault provider's registration `state` (the
    /// GetProvider example's shape).
    pub fn provider_state(&self, dir: &std::path::Path, state: &str) {
        let mut provider = example(dir, ex_pre::PROVIDER);
        provider["id"] = json!(provider_path());
        provider["namespace"] = json!("Microsoft.KeyVault");
        provider["registrationState"] = json!(state);
        self.route(&provider_path(), vec![Canned::ok(provider)]);
    }

    /// Requests that would have changed something (PUT, PATCH, DELETE, or a POST
    /// other than the token, checkNameAvailability, wrapKey and unwrapKey).
    pub fn writes(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|r| {
                let p = r.path.to_ascii_lowercase();
                match r.method.as_str() {
                    "GET" => false,
                    "POST" => {
                        !(p.ends_with("/oauth2/v2.0/token")
                            || p.ends_with("/checknameavailability")
                            || p.ends_with("/wrapkey")
                            || p.ends_with("/unwrapkey"))
                    }
                    _ => true,
                }
            })
            .collect()
    }
}

/// Corpus example paths for preflight.
pub mod ex_pre {
    pub const RESOURCE_GROUP: &str = "resources/resource-manager/Microsoft.Resources/resources/examples/2025-04-01/ResourceGroups_Get.json";
    pub const PROVIDER: &str =
        "resources/resource-manager/Microsoft.Resources/stable/2025-04-01/examples/GetProvider.json";
    pub const DELETED_LIST: &str =
        "keyvault/resource-manager/Microsoft.KeyVault/stable/2025-05-01/examples/listDeletedVaults.json";
    pub const NAME_CHECK: &str = "keyvault/resource-manager/Microsoft.KeyVault/stable/2025-05-01/examples/checkVaultNameAvailability.json";
    pub const PERMISSIONS: &str = "authorization/resource-manager/Microsoft.Authorization/Authorization/stable/2022-04-01/examples/GetPermissions.json";
    pub const VAULT_UPDATE: &str =
        "keyvault/resource-manager/Microsoft.KeyVault/stable/2025-05-01/examples/updateVault.json";
}

/// The resource group's ID.
pub fn rg_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}")
}
/// The Microsoft.KeyVault provider's path.
pub fn provider_path() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.KeyVault")
}
/// The subscription's soft-deleted vaults.
pub fn deleted_path() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.KeyVault/deletedVaults")
}
/// The caller's permissions at `scope`.
pub fn permissions_path(scope: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/permissions")
}
/// Role assignments at `scope`.
pub fn ra_path_at(scope: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments")
}

/// Built-in roles' permissions, as `Microsoft.Authorization/permissions` lists them.
pub mod roles {
    /// Owner.
    pub const OWNER: (&[&str], &[&str]) = (&["*"], &[]);
    /// Contributor: everything but access management.
    pub const CONTRIBUTOR: (&[&str], &[&str]) = (
        &["*"],
        &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
    );
    /// User Access Administrator.
    pub const USER_ACCESS_ADMIN: (&[&str], &[&str]) = (
        &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        &[],
    );
}

/// A permissions answer in the GetPermissions example's shape, one entry per role.
pub fn permissions(dir: &std::path::Path, roles: &[(&[&str], &[&str])]) -> Json {
    let mut j = example(dir, ex_pre::PERMISSIONS);
    // The example's nextLink is the placeholder "nextlink": one page here.
    if let Some(o) = j.as_object_mut() {
        o.remove("nextLink");
    }
    j["value"] = roles
        .iter()
        .map(|(actions, not_actions)| {
            json!({"actions": actions, "notActions": not_actions,
                   "dataActions": [], "notDataActions": []})
        })
        .collect();
    j
}

/// A new deployment's world: the resource group (eastus) and subscription exist,
/// Microsoft.KeyVault is registered, the caller is Owner on the resource group,
/// no vault, no soft-deleted vault, every vault name free.
pub fn preflight_world(dir: &std::path::Path) -> Fake {
    let fake = Fake::start();
    let mut rg = example(dir, ex_pre::RESOURCE_GROUP);
    rg["id"] = json!(rg_id());
    rg["name"] = json!(RG);
    rg["location"] = json!("eastus");
    fake.route(&rg_id(), vec![Canned::ok(rg)]);
    fake.route(
        &format!("/subscriptions/{SUB}"),
        vec![Canned::ok(
            json!({"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "tenantId": TENANT}),
        )],
    );
    fake.provider_state(dir, "Registered");
    let mut deleted = example(dir, ex_pre::DELETED_LIST);
    deleted["value"] = json!([]);
    if let Some(o) = deleted.as_object_mut() {
        o.remove("nextLink");
    }
    fake.route(&deleted_path(), vec![Canned::ok(deleted)]);
    fake.route(
        &permissions_path(&rg_id()),
        vec![Canned::ok(permissions(dir, &[roles::OWNER]))],
    );
    fake
}

/// The soft-deleted vault of the listDeletedVaults example, renamed to [`VAULT`].
pub fn deleted_vault(dir: &std::path::Path) -> Json {
    let mut list = example(dir, ex_pre::DELETED_LIST);
    let mut d = list["value"][0].take();
    d["name"] = json!(VAULT);
    d["id"] = json!(format!(
        "/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westus/deletedVaults/{VAULT}"
    ));
    json!({"value": [d]})
}

/// An existing vault in the Vaults_Update example's shape (firewall Deny with
/// one IP rule, public network access disabled, tags), named [`VAULT`], with
/// purge protection and RBAC.
pub fn existing_vault(dir: &std::path::Path) -> Json {
    let mut v = example(dir, ex_pre::VAULT_UPDATE);
    v["id"] = json!(vault_id());
    v["name"] = json!(VAULT);
    v["location"] = json!("eastus");
    v["tags"] = json!({"costCenter": "4711"});
    let p = &mut v["properties"];
    p["tenantId"] = json!(TENANT);
    p["enablePurgeProtection"] = json!(true);
    p["enableSoftDelete"] = json!(true);
    p["softDeleteRetentionInDays"] = json!(90);
    p["enableRbacAuthorization"] = json!(true);
    p["publicNetworkAccess"] = json!("Disabled");
    p["networkAcls"] = json!({"bypass": "AzureServices", "defaultAction": "Deny",
                              "ipRules": [{"value": "203.0.113.7/32"}], "virtualNetworkRules": []});
    v
}

// ===== the data plane as the vendor sees it (check --key-uri): vaults in two
// tenants that name their tenant in Key Vault's 401 challenge, key bundles in the
// GetKey example's shape, rotation policies, wrap/unwrap. =====

/// Corpus example paths of the data plane.
pub mod ex_dp {
    /// GetKey (api-version 7.5).
    pub const KEY: &str =
        "keyvault/data-plane/Microsoft.KeyVault/stable/7.5/examples/GetKey-example.json";
}

/// The challenge Key Vault sends for `tenant`, naming `authority` (a login fake's URL).
pub fn kv_challenge(authority: &str, tenant: &str) -> String {
    format!(r#"Bearer authorization="{authority}{tenant}", resource="https://vault.azure.net""#)
}

/// A vault of `tenant` (on its own port): it names `tenant` at `login` in its
/// challenge and accepts only that tenant's token.
pub fn dp_vault(login: &Fake, tenant: &str) -> Fake {
    let v = Fake::start();
    v.challenge(&kv_challenge(&login.url, tenant));
    v.accept_token(if tenant == TENANT_B { TOKEN_B } else { TOKEN });
    v
}

/// The URI of key `name` in the fake vault `v`.
pub fn key_uri(v: &Fake, name: &str) -> String {
    format!("{}keys/{name}", v.url)
}

/// A compliant key bundle for key `name` of `v`: the GetKey example (RSA 2048,
/// wrapKey and unwrapKey allowed), in a purge-protected vault.
pub fn dp_bundle(dir: &std::path::Path, v: &Fake, name: &str) -> Json {
    let mut b = example(dir, ex_dp::KEY);
    b["key"]["kid"] = json!(format!(
        "{}keys/{name}/78deebed173b48e48f55abf87ed4cf71",
        v.url
    ));
    b["attributes"]["recoveryLevel"] = json!("Recoverable");
    b["attributes"]["recoverableDays"] = json!(90);
    b
}

/// Serves `bundle` as key `name` of `v`, with the corpus's rotation policy.
pub fn dp_put(dir: &std::path::Path, v: &Fake, name: &str, bundle: Json) {
    v.route(&format!("/keys/{name}"), vec![Canned::ok(bundle)]);
    v.route(
        &format!("/keys/{name}/rotationpolicy"),
        vec![Canned::ok(example(dir, ex::ROTATION))],
    );
}
