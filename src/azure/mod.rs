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
//! - [`dataplane`]: the vendor's view: keys by URI, one token per customer tenant.

pub mod credentials;
pub mod dataplane;
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

/// Most JSON values (scalars, arrays, objects) one answer may hold.
///
/// Parsing multiplies memory: `[0,0,0,...]` costs two bytes per element on the
/// wire but one `serde_json::Value` (80 bytes with `preserve_order`) each in
/// memory, so a body within [`http::MAX_BODY`] could still take over a gigabyte.
/// A role assignment is about 17 values; ARM's limit of 4,000 assignments per
/// subscription is under 70,000 values in one list, so 500,000 leaves room
/// while bounding a parsed answer to about 40 MiB.
pub const MAX_JSON_VALUES: usize = 500_000;

/// Why a body could not be used as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all (serde_json's message).
    NotJson(String),
    /// More than [`MAX_JSON_VALUES`] values.
    TooManyValues,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::NotJson(e) => write!(f, "is not JSON ({e})"),
            BodyError::TooManyValues => write!(
                f,
                "holds more than {MAX_JSON_VALUES} JSON values (the cap on any Azure answer)"
            ),
        }
    }
}

/// True when `body` holds at most `max` JSON values.
fn values_at_most(body: &[u8], max: usize) -> bool {
    count_values(body, max).is_some()
}

/// How many JSON values `body` holds, or `None` as soon as that is more than
/// `max`. An upper bound found without parsing: every value after the first
/// follows a ',' or opens an array or object.
pub(crate) fn count_values(body: &[u8], max: usize) -> Option<usize> {
    let mut n = 1usize;
    if n > max {
        return None;
    }
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b'[' | b'{' => {
                n += 1;
                if n > max {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some(n)
}

impl Reply {
    /// The body as JSON, refusing bodies of more than [`MAX_JSON_VALUES`] values
    /// before anything is allocated for them.
    pub fn json(&self) -> Result<serde_json::Value, BodyError> {
        if !values_at_most(&self.body, MAX_JSON_VALUES) {
            return Err(BodyError::TooManyValues);
        }
        serde_json::from_slice(&self.body).map_err(|e| BodyError::NotJson(e.to_string()))
    }

    /// The Azure error `code` and `message` in the body, if any (ARM, Graph and the
    /// data plane all use `{"error": {"code", "message"}}`), as [`server_text`].
    pub fn error_text(&self) -> Option<String> {
        let v = self.json().ok()?;
        let e = v.get("error")?;
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
        let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
        let text = format!("{code}: {msg}");
        Some(server_text(text.trim_matches([':', ' '])))
    }

    /// [`Reply::error_text`] as ` (text)` to append to a message, or nothing.
    pub fn error_suffix(&self) -> String {
        self.error_text()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    }
}

/// Most characters of a server's text quoted in a message.
pub const MAX_QUOTED_CHARS: usize = 200;

/// Text a server sent, made fit to quote in a message: at most
/// [`MAX_QUOTED_CHARS`] characters shown (then `…`), control characters and
/// bidirectional overrides escaped (`\u{1b}`), so an answer can neither flood
/// the terminal nor rewrite it.
pub fn server_text(s: &str) -> String {
    server_text_within(s, MAX_QUOTED_CHARS)
}

/// [`server_text`] with another length bound (for values kept, such as IDs).
pub fn server_text_within(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in s.chars() {
        // Bidi embeddings, overrides and isolates reorder what a terminal shows.
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let shown: Vec<char> = if c.is_control() || bidi {
            c.escape_default().collect()
        } else {
            vec![c]
        };
        // The bound is on what is shown, escapes included.
        if len + shown.len() > max_chars {
            out.push('…');
            break;
        }
        len += shown.len();
        out.extend(shown);
    }
    out
}

/// A call that produced no usable HTTP response.
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
    /// No complete response within `--timeout`.
    Timeout {
        /// Host that was slow.
        host: String,
        /// The timeout in seconds.
        seconds: f64,
        /// Body bytes received when time ran out; `None` when not even the
        /// status line and headers had arrived.
        received: Option<usize>,
    },
    /// The answer was a redirect (3xx). Azure's APIs do not redirect these calls;
    /// none is followed, so neither the token nor anything else goes there.
    Redirect {
        /// The call ([`Call::describe`]).
        call: String,
        /// The 3xx status.
        status: u16,
        /// Host (and port) the redirect pointed to, or why there is none.
        target: String,
    },
    /// The answer was larger than [`http::MAX_BODY`]; reading stopped there.
    TooLarge {
        /// The call ([`Call::describe`]).
        call: String,
        /// The cap in bytes.
        limit: usize,
        /// Bytes received, or announced by `Content-Length`, when reading stopped.
        seen: u64,
        /// `seen` is the announced `Content-Length` (nothing was read).
        announced: bool,
    },
    /// The deadline (`--deadline`: of the run, or of one key in a fleet) passed.
    Deadline {
        /// The call ([`Call::describe`]), or the token request.
        call: String,
        /// The deadline in seconds.
        seconds: f64,
        /// Whose deadline: "the run's overall deadline", "this key's deadline".
        whose: &'static str,
        /// What the call was waiting for, e.g. "for 127.0.0.1:8080 to answer".
        during: String,
    },
}

impl CallError {
    /// True when the run must stop (exit 3) wherever this happens, even on a read
    /// whose failure otherwise only leaves a rule undecided: an answer that must
    /// not be trusted (a redirect, an oversized body) or a passed deadline.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            CallError::Redirect { .. } | CallError::TooLarge { .. } | CallError::Deadline { .. }
        )
    }
}

/// `n` bytes in the unit a reader takes in at a glance.
pub(crate) fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{n} bytes ({:.1} MiB)", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{n} bytes")
    }
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
            CallError::Timeout {
                host,
                seconds,
                received: None,
            } => {
                write!(f, "{host} did not answer within {seconds} s (--timeout)")
            }
            CallError::Timeout {
                host,
                seconds,
                received: Some(n),
            } => write!(
                f,
                "{host} did not finish sending its answer within {seconds} s (--timeout; {} of \
                 the body received)",
                bytes(*n as u64)
            ),
            CallError::Redirect {
                call,
                status,
                target,
            } => write!(
                f,
                "{call} answered with a redirect (HTTP {status}) to {target}; Azure does not \
                 redirect this call, so it is not followed and nothing is sent there. \
                 Check the endpoint flags (--arm-endpoint, --vault-endpoint, --graph-endpoint) \
                 and any proxy in between"
            ),
            CallError::TooLarge {
                call,
                limit,
                seen,
                announced,
            } => {
                let seen = bytes(*seen);
                let what = if *announced {
                    format!("announced {seen}")
                } else {
                    format!("sent more than that: reading stopped at {seen}")
                };
                write!(
                    f,
                    "{call} answered with a body over the cap of {} and {what}; Azure's \
                     answers to these reads are kilobytes, so the endpoint or a proxy in \
                     between is not Azure",
                    bytes(*limit as u64)
                )
            }
            CallError::Deadline {
                call,
                seconds,
                whose,
                during,
            } => write!(
                f,
                "{call}: {whose} of {seconds} s (--deadline) passed while waiting {during}; \
                 try again later or raise --deadline"
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_value_count_is_an_upper_bound_that_ignores_strings() {
        assert!(values_at_most(b"{}", 2));
        assert!(values_at_most(b"[1,2,3]", 4));
        assert!(!values_at_most(b"[1,2,3]", 3));
        // Commas and brackets inside strings (with escaped quotes) are text.
        assert!(values_at_most(br#"{"a":"x,[{,\",]"}"#, 3));
        // Five values, counted as six: an empty object or array counts once more.
        assert_eq!(count_values(b"[1,[2],{}]", 10), Some(6));
        assert_eq!(count_values(b"[1,[2],{}]", 5), None);
        assert_eq!(count_values(b"0", 0), None);
        let reply = |body: &[u8]| Reply {
            status: 200,
            body: body.to_vec(),
        };
        let many = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES));
        assert_eq!(reply(many.as_bytes()).json(), Err(BodyError::TooManyValues));
        let fits = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES - 3));
        assert!(reply(fits.as_bytes()).json().is_ok());
        assert!(matches!(
            reply(b"<html>").json(),
            Err(BodyError::NotJson(_))
        ));
    }

    #[test]
    fn server_text_is_bounded_and_escaped() {
        assert_eq!(server_text("plain text"), "plain text");
        assert_eq!(
            server_text("a\u{1b}[31mred\nnext\u{202e}"),
            "a\\u{1b}[31mred\\nnext\\u{202e}"
        );
        let long = "é".repeat(5000);
        let cut = server_text(&long);
        assert_eq!(cut.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(server_text_within("abc", 3), "abc");
        let reply = Reply {
            status: 403,
            body: serde_json::json!({"error": {"code": "Denied\u{7}",
                "message": format!("\u{1b}]0;owned\u{7}{}", "x".repeat(10_000))}})
            .to_string()
            .into_bytes(),
        };
        let suffix = reply.error_suffix();
        assert!(
            suffix.starts_with(" (Denied\\u{7}: \\u{1b}]0;owned"),
            "{suffix}"
        );
        assert!(!suffix.chars().any(char::is_control), "{suffix}");
        assert!(suffix.chars().count() <= MAX_QUOTED_CHARS + 4, "{suffix}");
        // Escapes count: a string of control characters is cut as soon.
        assert!(server_text(&"\u{1b}".repeat(1000)).chars().count() <= MAX_QUOTED_CHARS + 1);
        let empty = Reply {
            status: 500,
            body: b"<html>".to_vec(),
        };
        assert_eq!(empty.error_suffix(), "");
    }

    #[test]
    fn only_untrustworthy_answers_and_the_deadline_are_fatal() {
        let redirect = CallError::Redirect {
            call: "GET x".into(),
            status: 307,
            target: "evil:1".into(),
        };
        assert!(redirect.is_fatal());
        let timeout = CallError::Timeout {
            host: "h".into(),
            seconds: 1.0,
            received: None,
        };
        assert!(!timeout.is_fatal());
        assert_eq!(bytes(10), "10 bytes");
        assert_eq!(bytes(3 << 20), "3145728 bytes (3.0 MiB)");
    }
}
