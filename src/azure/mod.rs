//! Live Azure access for `check`, behind one trait ([`AzureReader`]) so the rest
//! of the program never sees the SDK crates: moving to a newer SDK is this
//! module's work only.
//!
//! - [`credentials`]: `--auth default|env|cli|managed-identity` (azure_identity).
//! - [`endpoints`]: `--cloud` presets and endpoint overrides.
//! - [`http`]: the real reader: one token per API, retries, per-request timeout.
//! - [`reader`]: what `check` reads (vault, key, role assignments, Graph, ...).
//! - [`probe`]: the data-plane wrap/unwrap round trip.
//! - [`preflight`]: what `preflight` reads before a deployment (never writes).

pub mod credentials;
pub mod endpoints;
pub mod http;
pub mod preflight;
pub mod probe;
pub mod reader;

use std::fmt;
use std::future::Future;
use url::Url;

/// Which API a call goes to; each needs its own token audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Azure Resource Manager.
    Arm,
    /// Key Vault data plane.
    Vault,
    /// Microsoft Graph.
    Graph,
}

impl Api {
    /// Human name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Arm => "Azure Resource Manager",
            Api::Vault => "the Key Vault data plane",
            Api::Graph => "Microsoft Graph",
        }
    }
}

/// HTTP method of a call: reads only (the probe's POSTs and `preflight`'s
/// `checkNameAvailability` are POSTs that change nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST (wrapKey/unwrapKey, checkNameAvailability only).
    Post,
}

/// One request.
#[derive(Debug, Clone)]
pub struct Call {
    /// Which API (selects the token).
    pub api: Api,
    /// GET or POST.
    pub method: Method,
    /// Full URL including `api-version`.
    pub url: Url,
    /// JSON body for POST.
    pub body: Option<serde_json::Value>,
}

impl Call {
    /// A GET of `url` on `api`.
    pub fn get(api: Api, url: Url) -> Self {
        Call {
            api,
            method: Method::Get,
            url,
            body: None,
        }
    }

    /// A POST of `body` to `url` on `api`.
    pub fn post(api: Api, url: Url, body: serde_json::Value) -> Self {
        Call {
            api,
            method: Method::Post,
            url,
            body: Some(body),
        }
    }

    /// `GET https://host/path` without the query, for messages.
    pub fn describe(&self) -> String {
        let m = match self.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let mut u = self.url.clone();
        u.set_query(None);
        format!("{m} {u}")
    }
}

/// A response, successful or not (statuses are the reader's to interpret).
#[derive(Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies can be large; the status and size are what matter in a debug print.
        write!(f, "Reply({}, {} bytes)", self.status, self.body.len())
    }
}

impl Reply {
    /// The Azure error `code` and `message` in the body, if any (ARM, Graph and the
    /// data plane all use `{"error": {"code", "message"}}`).
    pub fn error_text(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let e = v.get("error")?;
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
        let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
        let text = format!("{code}: {msg}");
        Some(text.trim_matches([':', ' ']).chars().take(300).collect())
    }
}

/// A call that produced no HTTP response at all.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// No token could be obtained for the API (the credential's message, never a secret).
    Credential {
        /// The API the token was for.
        api: Api,
        /// What went wrong.
        detail: String,
    },
    /// The host could not be reached (DNS, connect, TLS, reset).
    Network {
        /// Host (and port) that failed.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// No response within `--timeout`.
    Timeout {
        /// Host that was slow.
        host: String,
        /// The timeout in seconds.
        seconds: f64,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Credential { api, detail } => write!(
                f,
                "could not get a token for {}: {detail}. Check the credential (--auth; \
                 AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, or `az login`)",
                api.as_str()
            ),
            CallError::Network { host, detail } => {
                write!(
                    f,
                    "could not reach {host}: {detail}. Check the network, proxy and endpoint flags"
                )
            }
            CallError::Timeout { host, seconds } => {
                write!(f, "{host} did not answer within {seconds} s (--timeout)")
            }
        }
    }
}

/// Read access to Azure: the seam between `check` and the SDK crates. The real
/// implementation is [`http::HttpReader`]; everything above works on this trait.
pub trait AzureReader: Send + Sync {
    /// Obtains (and keeps) the token for `api`, so later calls only reuse it.
    fn authenticate(&self, api: Api) -> impl Future<Output = Result<(), CallError>> + Send;
    /// Sends one call (with retries for 429/5xx) and returns the final response.
    fn send(&self, call: Call) -> impl Future<Output = Result<Reply, CallError>> + Send;
}
