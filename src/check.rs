//! `cmek-arm check`, library side: options -> credential and endpoints -> live
//! read -> [`LiveState`] (a `model::Deployment` plus read problems). Rules and
//! reports are applied by the caller, exactly as for `validate`.

use crate::azure::credentials::{AuthMode, Credential};
use crate::azure::endpoints::{Cloud, Endpoints};
use crate::azure::http::{self, HttpReader, RetryPolicy};
use crate::azure::reader::{self, Concurrency, Target};
pub use crate::azure::reader::{LiveState, ProblemKind, ReadProblem};
use crate::error::Error;
use crate::model::Kind;
use serde_json::{json, Value as Json};
use std::time::Duration;

/// Everything `check` was asked to do (CLI.md's `check` table).
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// What to read.
    pub target: Target,
    /// Credential source.
    pub auth: AuthMode,
    /// Cloud preset.
    pub cloud: Cloud,
    /// `--arm-endpoint`.
    pub arm_endpoint: Option<String>,
    /// `--vault-endpoint`.
    pub vault_endpoint: Option<String>,
    /// `--graph-endpoint`.
    pub graph_endpoint: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

fn invalid(flag: &str, value: &str, rule: &str) -> Error {
    Error::InvalidInput {
        flag: flag.into(),
        value: value.into(),
        rule: rule.into(),
    }
}

/// True for a GUID in the 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Key Vault naming rule: 3-24 chars `[A-Za-z0-9-]`, starts with a letter, ends
/// with a letter or digit, no `--`.
pub fn valid_vault_name(v: &str) -> bool {
    (3..=24).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !v.contains("--")
}

/// Key naming rule: 1-127 chars `[A-Za-z0-9-]`.
pub fn valid_key_name(k: &str) -> bool {
    (1..=127).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Parses `--timeout` seconds (0 < t <= 3600; fractions allowed).
pub fn parse_timeout(s: &str) -> Result<Duration, Error> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| invalid("--timeout", s, "must be a number of seconds, e.g. 30"))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(invalid(
            "--timeout",
            s,
            "must be more than 0 and at most 3600 seconds",
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl CheckOptions {
    /// Checks names and IDs before anything is sent (exit 2 with the flag named).
    pub fn validate(&self) -> Result<(), Error> {
        let t = &self.target;
        if !is_guid(&t.subscription) {
            return Err(invalid(
                "--subscription",
                &t.subscription,
                "must be a subscription ID (GUID)",
            ));
        }
        let rg_ok = !t.resource_group.is_empty()
            && t.resource_group.len() <= 90
            && !t.resource_group.ends_with('.')
            && t.resource_group
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
        if !rg_ok {
            return Err(invalid(
                "--resource-group",
                &t.resource_group,
                "1-90 letters, digits, '-', '_', '.', '(', ')', not ending with '.'",
            ));
        }
        if let Some(v) = &t.vault {
            if !valid_vault_name(v) {
                return Err(invalid(
                    "--vault",
                    v,
                    "3-24 chars [A-Za-z0-9-], starts with a letter, ends with a letter or digit, no '--'",
                ));
            }
        }
        if let Some(k) = &t.key {
            if !valid_key_name(k) {
                return Err(invalid("--key", k, "1-127 chars [A-Za-z0-9-]"));
            }
        }
        if let Some(d) = &t.from_deployment {
            let ok = (1..=64).contains(&d.len())
                && d.chars()
                    .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
            if !ok {
                return Err(invalid(
                    "--from-deployment",
                    d,
                    "1-64 letters, digits, '-', '_', '.', '(', ')'",
                ));
            }
        }
        if t.from_deployment.is_none() && (t.vault.is_none() || t.key.is_none()) {
            return Err(Error::Usage(
                "check needs --vault and --key, or --from-deployment NAME".into(),
            ));
        }
        if let Some(sp) = &t.sp_object_id {
            if !is_guid(sp) {
                return Err(invalid("--sp-object-id", sp, "must be a GUID"));
            }
        }
        Ok(())
    }

    /// The endpoints these options select.
    pub fn endpoints(&self) -> Result<Endpoints, Error> {
        Endpoints::new(
            self.cloud,
            self.arm_endpoint.as_deref(),
            self.vault_endpoint.as_deref(),
            self.graph_endpoint.as_deref(),
        )
    }
}

/// Reads the live state with the credential `--auth` selects.
pub fn run(opts: &CheckOptions) -> Result<LiveState, Error> {
    opts.validate()?;
    let endpoints = opts.endpoints()?;
    let client = http::new_http_client();
    let credential = Credential::from_mode(opts.auth, &endpoints, client.clone())?;
    run_with(opts, credential, Concurrency::Parallel)
}

/// Reads the live state with an explicit credential (tests and benchmarks).
pub fn run_with(
    opts: &CheckOptions,
    credential: Credential,
    mode: Concurrency,
) -> Result<LiveState, Error> {
    opts.validate()?;
    let endpoints = opts.endpoints()?;
    let reader = HttpReader::new(
        http::new_http_client(),
        credential,
        endpoints.clone(),
        opts.timeout,
        RetryPolicy::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(reader::read(&reader, &endpoints, &opts.target, mode))
}

/// The read model as JSON (what `check` prints until rules and reports are wired).
pub fn state_json(state: &LiveState) -> Json {
    let resources: Vec<Json> = state
        .deployment
        .resources
        .iter()
        .map(|r| {
            let kind = match r.kind {
                Kind::Vault => "vault",
                Kind::Key => "key",
                Kind::RoleAssignment => "roleAssignment",
            };
            let origin = match &r.origin {
                crate::diag::Location::Azure { id } => json!({"azure": id}),
                crate::diag::Location::File { file, pointer, .. } => {
                    json!({"file": file, "pointer": pointer})
                }
                crate::diag::Location::None => Json::Null,
            };
            json!({"kind": kind, "name": r.name.to_json(), "id": r.id.to_json(),
                   "origin": origin, "body": r.body.to_json()})
        })
        .collect();
    json!({
        "version": 1,
        "vault": state.vault,
        "key": state.key,
        "resources": resources,
        "roleNames": state.role_names,
        "principal": state.principal,
        "problems": state.problems,
        "probe": state.probe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CheckOptions {
        CheckOptions {
            target: Target {
                subscription: "00000000-0000-0000-0000-000000000000".into(),
                resource_group: "rg-1".into(),
                vault: Some("kv1".into()),
                key: Some("key-tidb".into()),
                ..Target::default()
            },
            auth: AuthMode::Env,
            cloud: Cloud::Public,
            arm_endpoint: None,
            vault_endpoint: None,
            graph_endpoint: None,
            timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn validation_names_the_flag() {
        assert!(opts().validate().is_ok());
        let mut o = opts();
        o.target.subscription = "nope".into();
        assert!(o
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--subscription"));
        let mut o = opts();
        o.target.vault = Some("a--b".into());
        assert!(o.validate().unwrap_err().to_string().contains("--vault"));
        let mut o = opts();
        o.target.key = Some("k/../x".into());
        assert!(o.validate().unwrap_err().to_string().contains("--key"));
        let mut o = opts();
        o.target.key = None;
        assert!(o.validate().is_err());
        o.target.from_deployment = Some("dep1".into());
        assert!(o.validate().is_ok());
        let mut o = opts();
        o.target.sp_object_id = Some("not-a-guid".into());
        assert!(o
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--sp-object-id"));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("abc").is_err());
        assert_eq!(parse_timeout("1.5").unwrap(), Duration::from_millis(1500));
    }
}
