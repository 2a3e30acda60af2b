//! `cmek-arm preflight`, library side: options -> credential -> the deployment's
//! context from Azure (caller, resource group and its location, tenant) -> the
//! `validate` pipeline on the template, expanded with that context -> what Azure
//! already holds for the resources it would create -> the `PRE` rules -> one
//! `Settings::apply` over every finding -> report.
//!
//! Everything `validate` reports on the same template with the same context is
//! reported unchanged; the preflight rules only add to it. Nothing is written to
//! Azure (see [`crate::azure::preflight`]).

use crate::arm::expand::Context;
use crate::azure::credentials::{AuthMode, Credential};
use crate::azure::endpoints::{Cloud, Endpoints};
use crate::azure::http::{self, HttpReader};
use crate::azure::preflight::{
    self, assignment_scope, normalize_scope, readable_scope, resource_group_of, tidy_scope,
    DeployContext, IdScope, PreflightState, Targets, VaultTarget, MAX_SCOPES, MAX_VAULTS,
};
use crate::check::{check_resource_group, check_subscription};
use crate::error::Error;
use crate::model::{Deployment, Kind};
use crate::params::VaultName;
use crate::rules::{self, Flags, PreflightInput, Settings};
use crate::validate::{self, Outcome};
use serde_json::{json, Value as Json};
use std::path::PathBuf;
use std::time::Duration;

/// Everything `preflight` was asked to do (CLI.md's `preflight`).
#[derive(Debug, Clone)]
pub struct PreflightOptions {
    /// The template to deploy.
    pub template: PathBuf,
    /// `--parameters FILE`.
    pub parameters: Option<PathBuf>,
    /// `--subscription`.
    pub subscription: String,
    /// `--resource-group`.
    pub resource_group: String,
    /// `--deployment-name`; the template's file name without extension when not
    /// given, as `az deployment group create` names it.
    pub deployment_name: Option<String>,
    /// Credential source.
    pub auth: AuthMode,
    /// Cloud preset.
    pub cloud: Cloud,
    /// `--arm-endpoint`.
    pub arm_endpoint: Option<String>,
    /// `--vault-endpoint`: checked as `check` checks it, unused (preflight
    /// calls only ARM).
    pub vault_endpoint: Option<String>,
    /// `--graph-endpoint`: checked as `check` checks it, unused.
    pub graph_endpoint: Option<String>,
    /// Per-request timeout (headers and the whole body).
    pub timeout: Duration,
    /// `--deadline`: every read of the run, retries included; `None` for
    /// [`default_deadline`].
    pub deadline: Option<Duration>,
    /// The rule context and suppressions, as `validate` takes them.
    pub flags: Flags,
}

/// The deadline of a preflight run without `--deadline`: eight `--timeout`s, at
/// least 120 s (240 s with the default 30 s timeout).
///
/// check's four waits do not fit: preflight reads the token, then the context
/// (group, subscription and provider at once), then, after expanding the
/// template, up to [`MAX_VAULTS`]·2 + 2·[`MAX_SCOPES`] + a few lists, eight at a
/// time. A rendered template needs seven of those (one round), so eight
/// timeouts let the token, the context and six rounds each wait their full
/// `--timeout` (a template of five vaults even when every answer is slow). A
/// healthy run takes seconds: this only ends runs a slow or hostile server
/// holds, and the floor leaves room for throttling retries with a short
/// `--timeout`. The template's expansion is not counted (see [`run_with`]).
pub fn default_deadline(timeout: Duration) -> Duration {
    timeout.saturating_mul(8).max(Duration::from_secs(120))
}

impl PreflightOptions {
    /// Checks every flag and that the files can be opened, before anything is
    /// sent (exit 2 naming the flag or file).
    pub fn validate(&self) -> Result<(), Error> {
        check_subscription(&self.subscription)?;
        check_resource_group(&self.resource_group)?;
        if let Some(name) = &self.deployment_name {
            let ok = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.()".contains(c));
            if !ok {
                return Err(Error::InvalidInput {
                    flag: "--deployment-name".into(),
                    value: name.clone(),
                    rule: "1-64 letters, digits, '-', '_', '.', '(', ')'".into(),
                });
            }
        }
        Settings::from_flags(&self.flags)?;
        self.endpoints()?;
        for path in std::iter::once(&self.template).chain(&self.parameters) {
            std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        }
        Ok(())
    }

    /// The deadline of the run: `--deadline`, else [`default_deadline`].
    pub fn deadline(&self) -> Duration {
        self.deadline
            .unwrap_or_else(|| default_deadline(self.timeout))
    }

    /// The endpoints these options select (only ARM is called; the others are
    /// taken, and held to check's rules, so that check's flags work here too).
    pub fn endpoints(&self) -> Result<Endpoints, Error> {
        Endpoints::new(
            self.cloud,
            self.arm_endpoint.as_deref(),
            self.vault_endpoint.as_deref(),
            self.graph_endpoint.as_deref(),
        )
    }

    /// `deployment().name`.
    pub fn deployment_name(&self) -> String {
        self.deployment_name.clone().unwrap_or_else(|| {
            self.template
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "azuredeploy".into())
        })
    }
}

/// What a preflight run found.
#[derive(Debug)]
pub struct Preflight {
    /// Everything read from Azure.
    pub state: PreflightState,
    /// The template's resources as expanded (the model the rules saw), as JSON.
    pub resources: Json,
    /// Every finding (validate's and the preflight rules'), levels applied, sorted.
    pub outcome: Outcome,
}

/// Runs preflight with the credential `--auth` selects.
pub fn run(opts: &PreflightOptions) -> Result<Preflight, Error> {
    opts.validate()?;
    let endpoints = opts.endpoints()?;
    let credential = Credential::from_mode(opts.auth, &endpoints, http::new_http_client()?)?;
    run_with(opts, credential)
}

/// Runs preflight with an explicit credential (tests and callers holding one).
pub fn run_with(opts: &PreflightOptions, credential: Credential) -> Result<Preflight, Error> {
    opts.validate()?;
    let endpoints = opts.endpoints()?;
    // Every wait ends at the deadline: a slow or hostile server cannot hold preflight.
    let mut reader =
        HttpReader::for_run(credential, endpoints.clone(), opts.timeout, opts.deadline())?;
    let rt = crate::check::runtime()?;
    let basics = rt.block_on(reader.within_deadline(preflight::read_basics(
        &reader,
        &endpoints,
        &opts.subscription,
        &opts.resource_group,
        &opts.deployment_name(),
    )))?;
    let expanding = std::time::Instant::now();

    // The template, expanded with the real context, through validate's own pipeline.
    let mut flags = opts.flags.clone();
    if flags.tenant_id.is_none() {
        flags.tenant_id.clone_from(&basics.context.tenant_id);
    }
    let settings = Settings::from_flags(&flags)?;
    let options = validate::Options {
        parameters: opts.parameters.clone(),
        flags,
        context: context(&basics.context),
        ..validate::Options::default()
    };
    let collected = validate::collect(std::slice::from_ref(&opts.template), &options, &settings)?;

    // The deadline bounds the waits for Azure; the expansion has its own budget.
    reader.pause_deadline(expanding.elapsed());
    let (targets, not_read) = targets(&collected.deployment, &basics.context);
    let state = rt.block_on(reader.within_deadline(preflight::read_state(
        &reader, &endpoints, basics, &targets, not_read,
    )))?;
    let found = rules::check_preflight(&PreflightInput {
        deployment: &collected.deployment,
        state: &state,
    });
    let resources = resources_json(&collected.deployment);
    Ok(Preflight {
        state,
        resources,
        outcome: collected.finish(&settings, found),
    })
}

/// The expansion context: everything known, nothing left symbolic.
pub fn context(c: &DeployContext) -> Context {
    Context {
        subscription_id: Some(c.subscription_id.clone()),
        resource_group: Some(c.resource_group.clone()),
        resource_group_location: Some(c.resource_group_location.clone()),
        tenant_id: c.tenant_id.clone(),
        deployer_object_id: c.deployer_object_id.clone(),
        deployment_name: Some(c.deployment_name.clone()),
        not_the_deployer: Vec::new(),
    }
}

fn same_scope(a: &str, b: &str) -> bool {
    normalize_scope(a) == normalize_scope(b)
}

/// What to read for the template's resources, within the bounds; what is left out
/// is said in the second list (and the rules that needed it report notes).
pub fn targets(dep: &Deployment, ctx: &DeployContext) -> (Targets, Vec<String>) {
    let mut t = Targets::default();
    let mut not_read = Vec::new();
    let mut permission_scopes = vec![ctx.resource_group_id.clone()];
    for vault in dep.vaults() {
        let Some(name) = vault.name.as_str() else {
            continue;
        };
        if VaultName::parse("name", name).is_err() {
            not_read.push(format!(
                "Key Vault '{name}': not a valid vault name, so it was not looked up"
            ));
            continue;
        }
        let id = vault
            .id
            .as_str()
            .filter(|id| readable_scope(id))
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{}/providers/Microsoft.KeyVault/vaults/{name}",
                    ctx.resource_group_id
                )
            });
        if t.vaults.iter().any(|v| v.id.eq_ignore_ascii_case(&id)) {
            continue;
        }
        if t.vaults.len() >= MAX_VAULTS {
            not_read.push(format!(
                "Key Vault '{name}': the template declares more than {MAX_VAULTS} vaults; only \
                 the first {MAX_VAULTS} were read"
            ));
            continue;
        }
        let subscription = IdScope::of(&id)
            .subscription
            .unwrap_or(&ctx.subscription_id)
            .to_string();
        permission_scopes.extend(resource_group_of(&id));
        permission_scopes.push(tidy_scope(&id));
        t.vaults.push(VaultTarget {
            name: name.to_string(),
            id,
            subscription,
        });
    }
    // A vault the template declares `existing` gets keys and role assignments:
    // roles granted on it (or its group) count for those.
    for vault in dep.existing.iter().filter(|r| r.kind == Kind::Vault) {
        if let Some(id) = vault.id.as_str().filter(|id| readable_scope(id)) {
            permission_scopes.extend(resource_group_of(id));
            permission_scopes.push(tidy_scope(id));
        }
    }
    for ra in dep.role_assignments() {
        let Some(scope) = ra.id.as_str().and_then(assignment_scope) else {
            continue;
        };
        if !readable_scope(&scope) {
            not_read.push(format!(
                "role assignments at '{scope}': not a resource ID that can be read"
            ));
            continue;
        }
        permission_scopes.extend(resource_group_of(&scope));
        if t.assignment_scopes.iter().any(|s| same_scope(s, &scope)) {
            continue;
        }
        if t.assignment_scopes.len() >= MAX_SCOPES {
            not_read.push(format!(
                "role assignments at '{scope}': more than {MAX_SCOPES} scopes; only the first \
                 {MAX_SCOPES} were read"
            ));
            continue;
        }
        t.assignment_scopes.push(scope);
    }
    for scope in permission_scopes {
        if t.permission_scopes.iter().any(|s| same_scope(s, &scope)) {
            continue;
        }
        if t.permission_scopes.len() >= MAX_SCOPES {
            not_read.push(format!(
                "permissions at '{scope}': more than {MAX_SCOPES} scopes; only the first \
                 {MAX_SCOPES} were read"
            ));
            continue;
        }
        t.permission_scopes.push(scope);
    }
    (t, not_read)
}

/// The template's model as `check --show-state` prints the live one.
fn resources_json(dep: &Deployment) -> Json {
    dep.resources
        .iter()
        .map(crate::model::Resource::state_json)
        .collect()
}

/// Everything `preflight` read, as JSON (`preflight --show-state`): the context the
/// template was expanded with, the template's resources, and each Azure read.
pub fn state_json(p: &Preflight) -> Json {
    let mut j = serde_json::to_value(&p.state).unwrap_or(Json::Null);
    if let Json::Object(map) = &mut j {
        map.insert("resources".into(), p.resources.clone());
        let mut with_version = serde_json::Map::new();
        with_version.insert("version".into(), json!(1));
        with_version.extend(std::mem::take(map));
        return Json::Object(with_version);
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::res;
    use crate::value::Value;
    use serde_json::json;

    const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg";

    fn ctx() -> DeployContext {
        DeployContext {
            subscription_id: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "rg".into(),
            resource_group_id: RG.into(),
            resource_group_location: "eastus".into(),
            ..DeployContext::default()
        }
    }

    fn with_id(mut r: crate::model::Resource, id: &str) -> crate::model::Resource {
        r.id = Value::String(id.into());
        r
    }

    #[test]
    fn default_deadline_fits_preflights_reads() {
        assert_eq!(
            default_deadline(Duration::from_secs(30)),
            Duration::from_secs(240)
        );
        assert_eq!(
            default_deadline(Duration::from_secs(1)),
            Duration::from_secs(120)
        );
        // More than check's for the same timeout: preflight makes more rounds of reads.
        assert!(
            default_deadline(Duration::from_secs(30))
                > crate::check::default_deadline(Duration::from_secs(30))
        );
    }

    #[test]
    fn targets_read_each_scope_once_and_within_bounds() {
        let other = "/subscriptions/11111111-0000-0000-0000-000000000000/resourceGroups/Other";
        let mut dep = Deployment::default();
        dep.resources.push(with_id(
            res(Kind::Vault, 0, json!({"name": "kv1"})),
            &format!("{RG}/providers/Microsoft.KeyVault/vaults/kv1"),
        ));
        // The same vault again, spelt otherwise: read once.
        dep.resources.push(with_id(
            res(Kind::Vault, 1, json!({"name": "KV1"})),
            &format!(
                "{}/providers/microsoft.keyvault/vaults/KV1",
                RG.to_uppercase()
                    .replace("/SUBSCRIPTIONS/", "/subscriptions/")
            ),
        ));
        dep.resources
            .push(res(Kind::Vault, 2, json!({"name": "not--valid"})));
        dep.resources.push(with_id(
            res(Kind::RoleAssignment, 3, json!({"name": "ra"})),
            &format!("{other}/providers/Microsoft.KeyVault/vaults/kv2/providers/Microsoft.Authorization/roleAssignments/ra"),
        ));
        dep.existing.push(with_id(
            res(Kind::Vault, 4, json!({"name": "kv2"})),
            &format!("{other}/providers/Microsoft.KeyVault/vaults/kv2"),
        ));
        let (t, not_read) = targets(&dep, &ctx());
        assert_eq!(t.vaults.len(), 1);
        assert_eq!(
            t.vaults[0].subscription,
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            t.assignment_scopes,
            [format!("{other}/providers/Microsoft.KeyVault/vaults/kv2")]
        );
        assert_eq!(
            t.permission_scopes,
            [
                RG.to_string(),
                format!("{RG}/providers/Microsoft.KeyVault/vaults/kv1"),
                other.to_string(),
                format!("{other}/providers/Microsoft.KeyVault/vaults/kv2"),
            ]
        );
        assert_eq!(not_read.len(), 1, "{not_read:?}");
        assert!(not_read[0].contains("not--valid"));

        let mut many = Deployment::default();
        for i in 0..MAX_VAULTS + 2 {
            many.resources
                .push(res(Kind::Vault, i, json!({"name": format!("kv{i}")})));
        }
        let (t, not_read) = targets(&many, &ctx());
        assert_eq!(t.vaults.len(), MAX_VAULTS);
        assert_eq!(not_read.len(), 2);
        assert!(t.permission_scopes.len() <= MAX_SCOPES);
    }
}
