//! `cmek-arm check`, library side: options -> credential and endpoints -> live
//! read -> [`LiveState`] -> [`findings`] (the CMEK rules over the model, plus
//! what could not be read, as findings) -> `Settings::apply` -> [`report`].
//!
//! The rules never know the model came from Azure: everything live-specific
//! (missing vault or key, the app-ID mix-up, unreadable inputs) is turned into
//! findings here, before the one place where levels and suppressions apply.

use crate::azure::credentials::{AuthMode, Credential};
use crate::azure::endpoints::{Cloud, Endpoints};
use crate::azure::http::{self, HttpReader};
use crate::azure::reader::{self, Concurrency, Target};
pub use crate::azure::reader::{LiveState, ProblemKind, ReadProblem};
use crate::diag::{Diagnostic, Level, Location};
use crate::error::Error;
use crate::model::{Kind, Probe};
use crate::params::{KeyName, ObjectId, VaultName};
use crate::report::{self, Sources};
use crate::rules::{self, cmk019_vault_and_key_exist, Settings};
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
    /// Per-request timeout (headers and the whole body).
    pub timeout: Duration,
    /// `--deadline`: the whole run, retries included; `None` for [`default_deadline`].
    pub deadline: Option<Duration>,
}

fn invalid(flag: &str, value: &str, rule: &str) -> Error {
    Error::InvalidInput {
        flag: flag.into(),
        value: value.into(),
        rule: rule.into(),
    }
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

/// Checks `--subscription` (check and preflight): it goes into ARM paths.
pub fn check_subscription(subscription: &str) -> Result<(), Error> {
    // Subscription IDs include the nil GUID (test tenants, the REST examples),
    // so `params::ObjectId`, which refuses it, is not the check here; the
    // 36-character form is the only one ARM paths take.
    if subscription.len() != 36 || uuid::Uuid::try_parse(subscription).is_err() {
        return Err(invalid(
            "--subscription",
            subscription,
            "must be a subscription ID (GUID)",
        ));
    }
    Ok(())
}

/// Checks `--resource-group` (check and preflight) against ARM's naming rules.
pub fn check_resource_group(resource_group: &str) -> Result<(), Error> {
    let ok = !resource_group.is_empty()
        && resource_group.len() <= 90
        && !resource_group.ends_with('.')
        && resource_group
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
    if !ok {
        return Err(invalid(
            "--resource-group",
            resource_group,
            "1-90 letters, digits, '-', '_', '.', '(', ')', not ending with '.'",
        ));
    }
    Ok(())
}

/// Parses `--deadline` seconds (0 < d <= 86400; fractions allowed).
pub fn parse_deadline(s: &str) -> Result<Duration, Error> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| invalid("--deadline", s, "must be a number of seconds, e.g. 120"))?;
    if !(secs > 0.0 && secs <= 86400.0) {
        return Err(invalid(
            "--deadline",
            s,
            "must be more than 0 and at most 86400 seconds",
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The deadline of a run without `--deadline`: four `--timeout`s, at least 60 s
/// (120 s with the default 30 s timeout).
///
/// A run is a chain of about four waits that cannot overlap (tokens, the
/// concurrent reads, further pages and role names, the probe); each is one
/// request, or a few retries inside the retry policy's 30 s. A healthy run takes
/// seconds, so this only ends runs that a slow or hostile server holds, and the
/// 60 s floor leaves room for throttling retries when `--timeout` is short.
pub fn default_deadline(timeout: Duration) -> Duration {
    timeout.saturating_mul(4).max(Duration::from_secs(60))
}

impl CheckOptions {
    /// The deadline of the whole run: `--deadline`, else [`default_deadline`].
    pub fn deadline(&self) -> Duration {
        self.deadline
            .unwrap_or_else(|| default_deadline(self.timeout))
    }

    /// Checks names and IDs before anything is sent (exit 2 with the flag named).
    pub fn validate(&self) -> Result<(), Error> {
        let t = &self.target;
        check_subscription(&t.subscription)?;
        check_resource_group(&t.resource_group)?;
        if let Some(v) = &t.vault {
            VaultName::parse("--vault", v)?;
        }
        if let Some(k) = &t.key {
            KeyName::parse("--key", k)?;
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
            // It goes into a Graph URL path: only the plain hyphenated form.
            ObjectId::parse("--sp-object-id", sp)?;
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
    let client = http::new_http_client()?;
    let credential = Credential::from_mode(opts.auth, &endpoints, client)?;
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
    let reader = HttpReader::for_run(credential, endpoints.clone(), opts.timeout, opts.deadline())?;
    let rt = runtime()?;
    rt.block_on(reader.within_deadline(reader::read(&reader, &endpoints, &opts.target, mode)))
}

/// The single-threaded runtime a run's reads share.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

/// The findings of a live read: every CMEK rule over the model, the read
/// problems as findings of the rules they concern, then `settings.apply` (levels,
/// `--ignore`) and a stable order.
pub fn findings(state: &LiveState, settings: &Settings) -> Vec<Diagnostic> {
    findings_inner(state, settings, true)
}

/// [`findings`] of one key of a fleet: the same, except that an `--ignore`
/// matching nothing is not reported (it may match another key, or another shard).
pub fn key_findings(state: &LiveState, settings: &Settings) -> Vec<Diagnostic> {
    findings_inner(state, settings, false)
}

fn findings_inner(state: &LiveState, settings: &Settings, whole_run: bool) -> Vec<Diagnostic> {
    // The rules compare against the vendor principal's object ID; when the user
    // gave its application ID, Graph told us the object ID, and the rest of the
    // report is more useful about the principal that really holds the roles.
    let mut effective = settings.clone();
    // CMK016 compares with the deployment's tenant: `--tenant-id` wins, else the
    // subscription's tenant as ARM reported it.
    if effective.tenant_id.is_none() {
        effective.tenant_id.clone_from(&state.tenant_id);
    }
    let key = state.deployment.of(Kind::Key).next();
    // Principal problems are about the grant on the key; a Graph object has no
    // Azure resource ID of its own.
    let at_key = |p: &ReadProblem| match key {
        Some(k) => (Location::Azure { id: k.display() }, k.display()),
        None => (Location::None, p.resource.clone()),
    };
    let mut extra = Vec::new();
    for p in &state.problems {
        match &p.kind {
            ProblemKind::VaultMissing | ProblemKind::KeyMissing => {
                extra.push(cmk019_vault_and_key_exist::missing(&p.message, &p.resource));
            }
            ProblemKind::PrincipalIsAppId { object_id } => {
                effective.sp_object_id = Some(object_id.clone());
                let (loc, res) = at_key(p);
                extra.push(
                    Diagnostic::new(CMK010, Level::Error, &p.message, loc).with_resource(res),
                );
            }
            ProblemKind::PrincipalMissing => {
                let (loc, res) = at_key(p);
                extra.push(
                    Diagnostic::new(CMK010, Level::Error, &p.message, loc).with_resource(res),
                );
            }
            ProblemKind::Unknown { rule } => {
                let Some(rule) = rules::find(rule) else {
                    continue;
                };
                let loc = if p.resource.starts_with('/') {
                    (
                        Location::Azure {
                            id: p.resource.clone(),
                        },
                        p.resource.clone(),
                    )
                } else {
                    at_key(p)
                };
                extra.push(
                    Diagnostic::new(
                        rule.id,
                        Level::Note,
                        format!("cannot be decided: {}", p.message),
                        loc.0,
                    )
                    .with_resource(loc.1),
                );
            }
        }
    }
    let mut diags = rules::check_model(&state.deployment, &effective);
    // An unreadable input the model already carries as unknown (the rotation
    // policy) has its note from the rule itself; one note per rule and resource.
    extra.retain(|e| {
        e.level != Level::Note
            || !diags
                .iter()
                .any(|d| d.rule == e.rule && d.level == Level::Note && d.resource == e.resource)
    });
    diags.extend(extra);
    if whole_run {
        settings.apply(&mut diags, Some(&state.deployment));
    } else {
        settings.apply_to_part(&mut diags, Some(&state.deployment));
    }
    report::sort(&mut diags, &Sources::new());
    diags.dedup();
    diags
}

const CMK010: &str = "CMK010";

/// The "sources" of live findings: the vault and key resource IDs (no text), so
/// reports that list what was checked (JUnit) show them even when clean.
pub fn sources(state: &LiveState) -> Sources {
    state
        .deployment
        .resources
        .iter()
        .filter(|r| r.kind != Kind::RoleAssignment)
        .map(|r| (r.display(), String::new()))
        .collect()
}

/// What `check` read, as JSON (`check --show-state`): the model the rules see,
/// for finding out why a rule decided as it did.
pub fn state_json(state: &LiveState) -> Json {
    let resources: Vec<Json> = state
        .deployment
        .resources
        .iter()
        .map(crate::model::Resource::state_json)
        .collect();
    let probe = state
        .deployment
        .of(Kind::Key)
        .find_map(|k| k.probe.as_ref())
        .map(|p| match p {
            Probe::Passed => json!({"outcome": "pass"}),
            Probe::Mismatch => json!({"outcome": "fail",
                "reason": "unwrapKey returned bytes that differ from the 32 bytes wrapped"}),
            Probe::Failed(why) => json!({"outcome": "fail", "reason": why}),
            Probe::Unknown(why) => json!({"outcome": "unknown", "reason": why}),
        });
    json!({
        "version": 1,
        "vault": state.vault,
        "key": state.key,
        "resources": resources,
        "roleNames": state.role_names,
        "principal": state.principal,
        "tenantId": state.tenant_id,
        "problems": state.problems,
        "probe": probe,
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
            deadline: None,
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
        let mut o = opts();
        o.target.subscription = "{00000000-0000-0000-0000-000000000000}".into();
        assert!(o.validate().is_err(), "braced GUIDs do not fit ARM paths");
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("abc").is_err());
        assert_eq!(parse_timeout("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_deadline("0").is_err());
        assert!(parse_deadline("-3").is_err());
        assert!(parse_deadline("NaN").is_err());
        assert!(parse_deadline("1e9").is_err());
        assert_eq!(parse_deadline("0.5").unwrap(), Duration::from_millis(500));
    }

    #[test]
    fn default_deadline_follows_the_timeout_with_a_floor() {
        assert_eq!(
            default_deadline(Duration::from_secs(30)),
            Duration::from_secs(120)
        );
        assert_eq!(
            default_deadline(Duration::from_millis(500)),
            Duration::from_secs(60)
        );
        let mut o = opts();
        assert_eq!(o.deadline(), Duration::from_secs(120));
        o.deadline = Some(Duration::from_secs(7));
        assert_eq!(o.deadline(), Duration::from_secs(7));
    }
}
