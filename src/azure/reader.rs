//! What `check` reads, and how answers become the model plus "read problems".
//!
//! Order (CLI.md, issue 5): tokens first; then one concurrent round of the
//! independent reads (vault, key, role assignments at and above the key, the
//! vendor principal in Graph, the key's rotation policy); then what depends on
//! them (further pages, role definitions, the Graph app-ID lookup); then the probe.
//!
//! API versions sent, and why:
//! - `Microsoft.KeyVault` vaults and keys: `2025-05-01`, the newest stable version
//!   whose REST examples and swagger ship in the corpus, and old enough to be
//!   served in the US Government and China clouds.
//! - `Microsoft.Authorization` role assignments and definitions: `2022-04-01`, the
//!   GA version of the `azure_mgmt_authorization` package in Cargo.toml.
//! - `Microsoft.Resources/deployments` (`--from-deployment`): `2024-03-01`.
//! - `Microsoft.Resources/subscriptions` (its `tenantId`, for CMK016): `2022-12-01`.
//! - Key Vault data plane (rotation policy, wrapKey/unwrapKey): `7.5`.
//! - Microsoft Graph: `v1.0`.

use super::endpoints::Endpoints;
use super::http::MAX_BODY;
use super::probe;
use super::{
    count_values, server_text, server_text_within, Api, AzureReader, Call, CallError, Reply,
    MAX_JSON_VALUES,
};
use crate::diag::Location;
use crate::error::Error;
use crate::model::{Deployment, Kind, Resource};
use crate::params::{KeyName, VaultName};
use crate::value::Value;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use url::Url;

/// `Microsoft.KeyVault` api-version for vaults and keys.
pub const KEYVAULT_API: &str = "2025-05-01";
/// `Microsoft.Authorization` api-version for role assignments and definitions.
pub const AUTHORIZATION_API: &str = "2022-04-01";
/// `Microsoft.Resources/deployments` api-version.
pub const DEPLOYMENTS_API: &str = "2024-03-01";
/// `Microsoft.Resources/subscriptions` api-version (the subscription's tenant).
pub const SUBSCRIPTIONS_API: &str = "2022-12-01";
/// Key Vault data-plane api-version.
pub const DATA_PLANE_API: &str = "7.5";
/// What to read.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Subscription ID.
    pub subscription: String,
    /// Resource group of the vault.
    pub resource_group: String,
    /// Vault name (may come from `--from-deployment`).
    pub vault: Option<String>,
    /// Key name (may come from `--from-deployment`).
    pub key: Option<String>,
    /// ARM deployment whose outputs name the vault and key.
    pub from_deployment: Option<String>,
    /// The vendor principal to look up in Graph.
    pub sp_object_id: Option<String>,
    /// Run the wrap/unwrap probe.
    pub probe: bool,
}

/// Whether independent reads overlap (the default) or run one after another
/// (only for the benchmark's comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Independent reads run concurrently.
    Parallel,
    /// Every read waits for the previous one.
    Sequential,
}

/// Why something could not be read or is not what was asked for. The lead's
/// rule layer turns these into findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProblemKind {
    /// The vault does not exist (404).
    VaultMissing,
    /// The key does not exist (404).
    KeyMissing,
    /// `--sp-object-id` is the application (client) ID; `object_id` is the one to use.
    PrincipalIsAppId {
        /// The service principal's object ID.
        object_id: String,
    },
    /// No service principal with that object ID or app ID exists in the tenant.
    PrincipalMissing,
    /// A value could not be read (e.g. 403 on the rotation policy): rules report a note.
    Unknown {
        /// The rule whose input is unknown.
        rule: String,
    },
}

/// One read problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadProblem {
    /// What kind.
    #[serde(flatten)]
    pub kind: ProblemKind,
    /// One sentence naming the resource and what to do.
    pub message: String,
    /// Azure resource ID (or Graph object) concerned.
    pub resource: String,
}

/// The vendor principal as Graph knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// Object ID of the service principal.
    pub object_id: String,
    /// Application (client) ID.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
}

/// Everything `check` read.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Vault, key and role assignments in ARM shape, origins are Azure IDs.
    pub deployment: Deployment,
    /// Role names by role definition GUID (lower case), for messages.
    pub role_names: BTreeMap<String, String>,
    /// The vendor principal, when `--sp-object-id` was given and Graph found it.
    pub principal: Option<Principal>,
    /// Things that could not be read or were not found.
    pub problems: Vec<ReadProblem>,
    /// The subscription's tenant (what CMK016 compares the vault's `tenantId`
    /// with), when ARM told us; `None` leaves it to `--tenant-id`.
    pub tenant_id: Option<String>,
    /// The vault and key names actually read.
    pub vault: String,
    /// The key name actually read.
    pub key: String,
}

/// Builds URLs on one base without `//` and with every segment percent-encoded.
pub(crate) fn join(base: &Url, path: &str, query: &[(&str, &str)]) -> Result<Url, Error> {
    let mut url = base.clone();
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|_| Error::Usage(format!("endpoint {base} cannot be a base URL")))?;
        // A scope with a leading '/' would otherwise produce '//' in the URL.
        segs.pop_if_empty();
        for s in path.split('/').filter(|s| !s.is_empty()) {
            segs.push(s);
        }
    }
    url.query_pairs_mut().extend_pairs(query.iter().copied());
    Ok(url)
}

/// Parses a JSON body, or says which call returned something unusable.
pub(crate) fn json_of(what: &str, call: &Call, reply: &Reply) -> Result<Json, Error> {
    reply.json().map_err(|e| {
        Error::Azure(format!(
            "{what}: {} returned a body that {e}; Azure or a proxy answered \
             with something unusable, try again or check --arm-endpoint/--vault-endpoint",
            call.describe()
        ))
    })
}

/// Says that `call` was answered with something other than what was asked for.
/// Azure never answers a read of one resource with another: the endpoint, or a
/// proxy in between, is not Azure, and check stops rather than report on an
/// object Azure did not send.
pub(crate) fn foreign(what: &str, call: &Call, got: &str, asked: &str) -> Error {
    Error::Azure(format!(
        "{what}: {} answered with {got} instead of {asked}; Azure does not answer a read with \
         anything else, so the endpoint or a proxy in between is not Azure: check the endpoint \
         flags (--arm-endpoint, --vault-endpoint, --graph-endpoint) and any proxy",
        call.describe()
    ))
}

/// Exit 3 unless `body` is the ARM resource `id` of type `kind`: an object with
/// that `id` (ARM compares IDs case-insensitively), that `type` and an object
/// of `properties`.
pub(crate) fn expect_resource(
    what: &str,
    call: &Call,
    body: &Json,
    id: &str,
    kind: &str,
) -> Result<(), Error> {
    let asked = format!("the {kind} resource '{id}'");
    if !body.is_object() {
        return Err(foreign(what, call, "JSON that is not an object", &asked));
    }
    match str_at(body, &["id"]) {
        Some(got) if got.eq_ignore_ascii_case(id) => {}
        Some(got) => {
            return Err(foreign(
                what,
                call,
                &format!("the resource '{}'", server_text(got)),
                &asked,
            ))
        }
        None => return Err(foreign(what, call, "an object without an 'id'", &asked)),
    }
    match str_at(body, &["type"]) {
        Some(got) if got.eq_ignore_ascii_case(kind) => {}
        Some(got) => {
            return Err(foreign(
                what,
                call,
                &format!("a resource of type '{}'", server_text(got)),
                &asked,
            ))
        }
        None => return Err(foreign(what, call, "an object without a 'type'", &asked)),
    }
    if !body.get("properties").is_some_and(Json::is_object) {
        return Err(foreign(
            what,
            call,
            "a resource without 'properties'",
            &asked,
        ));
    }
    Ok(())
}

/// Role assignment type as ARM names it.
const ROLE_ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// True when an assignment at `scope` applies to `target`: at it, above it (for
/// a key: the vault, its resource group, the subscription, the root `/`), or at
/// a management group (above every subscription in it; ARM returned it for
/// `atScope()`, which lists only what is at or above the scope, and the
/// hierarchy itself is not ours to read).
fn scope_applies(scope: &str, target: &str) -> bool {
    let scope = scope.trim_end_matches('/').to_ascii_lowercase();
    let target = target.trim_end_matches('/').to_ascii_lowercase();
    if scope.is_empty() || target == scope || target.starts_with(&format!("{scope}/")) {
        return true;
    }
    scope
        .strip_prefix("/providers/microsoft.management/managementgroups/")
        .is_some_and(|mg| !mg.is_empty() && !mg.contains('/'))
}

/// A role assignment as ARM lists it, reduced to what the rules read: a listed
/// item's other fields (a description, audit dates) are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedAssignment {
    /// Its resource ID.
    pub id: String,
    /// Its name (a GUID).
    pub name: String,
    /// Its role definition ID.
    pub role_definition_id: String,
    /// Its principal.
    pub principal_id: String,
    /// `User`, `Group`, `ServicePrincipal`, ... when ARM says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    /// Its scope.
    pub scope: String,
}

impl ListedAssignment {
    /// The item `a` of a list asked for with `atScope()` at `asked`; exit 3 unless
    /// it is a role assignment (every field the rules read present) at or above
    /// `asked`: ARM lists nothing else, so anything else means the list is not
    /// the answer to the question asked.
    pub(crate) fn parse(what: &str, call: &Call, a: &Json, asked: &str) -> Result<Self, Error> {
        let wanted = format!("only role assignments at or above '{asked}'");
        let field = |path: &[&str]| str_at(a, path).map(|s| server_text_within(s, 1024));
        let typed =
            str_at(a, &["type"]).is_some_and(|t| t.eq_ignore_ascii_case(ROLE_ASSIGNMENT_TYPE));
        let parts = (
            field(&["id"]),
            field(&["name"]),
            field(&["properties", "roleDefinitionId"]),
            field(&["properties", "principalId"]),
            field(&["properties", "scope"]),
        );
        let (Some(id), Some(name), Some(role), Some(principal), Some(scope)) = parts else {
            return Err(not_an_assignment(what, call, a, &wanted));
        };
        if !a.is_object() || !typed {
            return Err(not_an_assignment(what, call, a, &wanted));
        }
        if !scope_applies(&scope, asked) {
            return Err(foreign(
                what,
                call,
                &format!("a role assignment at scope '{}'", server_text(&scope)),
                &wanted,
            ));
        }
        Ok(ListedAssignment {
            id,
            name,
            role_definition_id: role,
            principal_id: principal,
            principal_type: field(&["properties", "principalType"]),
            scope,
        })
    }

    /// In ARM's shape, for the model the rules read.
    pub fn to_json(&self) -> Json {
        let mut props = serde_json::Map::new();
        props.insert(
            "roleDefinitionId".into(),
            self.role_definition_id.clone().into(),
        );
        props.insert("principalId".into(), self.principal_id.clone().into());
        if let Some(t) = &self.principal_type {
            props.insert("principalType".into(), t.clone().into());
        }
        props.insert("scope".into(), self.scope.clone().into());
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "type": ROLE_ASSIGNMENT_TYPE,
            "properties": props,
        })
    }
}

/// The exit-3 error for a list item that is not a role assignment.
fn not_an_assignment(what: &str, call: &Call, a: &Json, wanted: &str) -> Error {
    let got = match str_at(a, &["id"]) {
        Some(id) => format!(
            "an item '{}' that is not a role assignment",
            server_text(id)
        ),
        None => "an item that is not a role assignment".to_string(),
    };
    foreign(what, call, &got, wanted)
}

/// Pages followed per list before giving up (a loop guard, far above real sizes).
pub const MAX_PAGES: usize = 200;

/// Most role definitions read for their names in one check (a vault's
/// assignments use a handful of roles; Azure has about 30 for Key Vault).
pub const MAX_ROLE_NAMES: usize = 32;

/// What one list may hold, all its pages together: beyond it the list is an
/// unusable answer (exit 3). A page is capped like any answer ([`MAX_BODY`],
/// [`MAX_JSON_VALUES`]); without a cap on the sum, [`MAX_PAGES`] such pages
/// could each add their items to what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListBudget {
    /// Pages followed.
    pub pages: usize,
    /// Body bytes of all pages together.
    pub bytes: usize,
    /// JSON values of all pages together.
    pub values: usize,
}

impl ListBudget {
    /// As much for a whole list as for one answer: every list read (role
    /// assignments at a scope, soft-deleted vaults, permission entries) is far
    /// below it (4,000 role assignments per subscription are under 3 MiB and
    /// 70,000 values), and what is kept of it is then bounded by the same
    /// figures as one answer.
    pub const DEFAULT: ListBudget = ListBudget {
        pages: MAX_PAGES,
        bytes: MAX_BODY,
        values: MAX_JSON_VALUES,
    };
}

/// Every item of an ARM list, as `item` makes it (`None` drops it), following
/// `nextLink` only to the ARM endpoint (the token goes nowhere else) and within
/// `budget`. `first` is the answer to `first_call`; any page that is not a 200
/// ends the run.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn list_pages<R: AzureReader, T>(
    reader: &R,
    endpoints: &Endpoints,
    first_call: &Call,
    first: Reply,
    what: &str,
    needs: &str,
    budget: ListBudget,
    mut item: impl FnMut(&Call, &Json) -> Result<Option<T>, Error>,
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    let mut call = first_call.clone();
    let mut reply = first;
    let (mut bytes, mut values) = (0usize, 0usize);
    for page_no in 1..=budget.pages {
        if reply.status != 200 {
            return Err(fail(what, &call, &reply, needs));
        }
        bytes = bytes.saturating_add(reply.body.len());
        let counted = count_values(&reply.body, budget.values.saturating_sub(values));
        let over = match counted {
            _ if bytes > budget.bytes => Some(format!(
                "{} of bodies, over the cap of {} on one list",
                super::bytes(bytes as u64),
                super::bytes(budget.bytes as u64)
            )),
            None => Some(format!(
                "more than {} JSON values, the cap on one list",
                budget.values
            )),
            Some(n) => {
                values += n;
                None
            }
        };
        if let Some(over) = over {
            return Err(Error::Azure(format!(
                "{what}: its {page_no} pages up to {} hold {over}; Azure's lists here are far \
                 smaller, so the endpoint or a proxy in between is not Azure",
                call.describe()
            )));
        }
        let page = json_of(what, &call, &reply)?;
        // The body is parsed: only what `item` keeps stays.
        drop(reply);
        let items = page.get("value").and_then(Json::as_array).ok_or_else(|| {
            Error::Azure(format!(
                "{what}: {} returned JSON without a 'value' list",
                call.describe()
            ))
        })?;
        for a in items {
            out.extend(item(&call, a)?);
        }
        let Some(next) = page
            .get("nextLink")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Ok(out);
        };
        let url = Url::parse(next).map_err(|e| {
            Error::Azure(format!(
                "{what}: nextLink '{}' is not a URL ({e})",
                server_text(next)
            ))
        })?;
        if url.origin() != endpoints.arm.origin() {
            return Err(Error::Azure(format!(
                "{what}: nextLink points to {}, not to {}; refusing to send the token there",
                url.origin().ascii_serialization(),
                endpoints.arm.origin().ascii_serialization()
            )));
        }
        if page_no == budget.pages {
            break;
        }
        drop(page);
        call = Call::get(Api::Arm, url);
        reply = reader
            .send(call.clone())
            .await
            .map_err(|e| call_err(what, e))?;
    }
    Err(Error::Azure(format!(
        "{what}: more than {} pages; stopping (nextLink loop?)",
        budget.pages
    )))
}

/// Maps a non-success reply to the exit-3 error that says what to do.
pub(crate) fn fail(what: &str, call: &Call, reply: &Reply, needs: &str) -> Error {
    let detail = reply.error_suffix();
    let d = call.describe();
    let msg = match reply.status {
        401 => format!(
            "{what}: {d} was refused with 401 Unauthorized{detail}: the token was not accepted. \
             Check the credential (--auth, AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET or \
             `az login`) and that it belongs to the subscription's tenant"
        ),
        403 => format!(
            "{what}: {d} was refused with 403 Forbidden{detail}: the identity cmek-arm runs as \
             needs {needs}"
        ),
        408 | 429 | 500..=599 => format!(
            "{what}: {d} still failed with {} after retries{detail}; Azure is throttling or \
             unavailable, try again later",
            reply.status
        ),
        s => format!("{what}: {d} failed with HTTP {s}{detail}"),
    };
    Error::Azure(msg)
}

pub(crate) fn call_err(what: &str, e: CallError) -> Error {
    Error::Azure(format!("{what}: {e}"))
}

const READER_ROLE: &str = "the Reader role (or Microsoft.KeyVault/vaults/read and \
     Microsoft.KeyVault/vaults/keys/read) on the vault";

/// Runs two futures concurrently, or one after the other.
async fn both<A, B>(
    mode: Concurrency,
    a: impl std::future::Future<Output = A>,
    b: impl std::future::Future<Output = B>,
) -> (A, B) {
    match mode {
        Concurrency::Parallel => tokio::join!(a, b),
        Concurrency::Sequential => {
            let a = a.await;
            (a, b.await)
        }
    }
}

/// Runs a list of futures concurrently, or one after the other.
async fn all<F: std::future::Future>(mode: Concurrency, futs: Vec<F>) -> Vec<F::Output> {
    match mode {
        Concurrency::Parallel => futures::future::join_all(futs).await,
        Concurrency::Sequential => {
            let mut out = Vec::with_capacity(futs.len());
            for f in futs {
                out.push(f.await);
            }
            out
        }
    }
}

pub(crate) fn str_at<'a>(v: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Json::as_str)
}

/// The read of `subscription` (for its `tenantId`).
pub(crate) fn subscription_call(endpoints: &Endpoints, subscription: &str) -> Result<Call, Error> {
    Ok(Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!("subscriptions/{subscription}"),
            &[("api-version", SUBSCRIPTIONS_API)],
        )?,
    ))
}

/// The tenant of `subscription` from the answer to [`subscription_call`], for
/// check and preflight alike. Reading it is optional: a refusal, a body that is
/// not usable JSON (within [`MAX_JSON_VALUES`]) or that is about another
/// subscription (whose tenant is no answer about this one) is `None`; an answer
/// that must not be trusted (a redirect, an oversized body) or a passed
/// deadline ends the run.
pub(crate) fn subscription_tenant(
    answer: Result<Reply, CallError>,
    subscription: &str,
) -> Result<Option<String>, Error> {
    let reply = match answer {
        Err(e) if e.is_fatal() => return Err(call_err("reading the subscription", e)),
        Err(_) => return Ok(None),
        Ok(r) => r,
    };
    if reply.status != 200 {
        return Ok(None);
    }
    let Ok(j) = reply.json() else {
        return Ok(None);
    };
    let same =
        str_at(&j, &["subscriptionId"]).is_some_and(|s| s.eq_ignore_ascii_case(subscription));
    Ok(str_at(&j, &["tenantId"])
        .filter(|_| same)
        .filter(|t| t.len() == 36)
        .and_then(|t| uuid::Uuid::try_parse(t).ok())
        .map(|t| t.hyphenated().to_string()))
}

/// Reads the live state of `target`.
pub async fn read<R: AzureReader>(
    reader: &R,
    endpoints: &Endpoints,
    target: &Target,
    mode: Concurrency,
) -> Result<LiveState, Error> {
    // One token per API up front; every later call reuses it.
    let need_graph = target.sp_object_id.is_some();
    let (arm_tok, (graph_tok, vault_tok)) = match mode {
        Concurrency::Parallel => tokio::join!(reader.authenticate(Api::Arm), async {
            tokio::join!(
                async {
                    if need_graph {
                        Some(reader.authenticate(Api::Graph).await)
                    } else {
                        None
                    }
                },
                reader.authenticate(Api::Vault)
            )
        }),
        Concurrency::Sequential => {
            let a = reader.authenticate(Api::Arm).await;
            let g = if need_graph {
                Some(reader.authenticate(Api::Graph).await)
            } else {
                None
            };
            (a, (g, reader.authenticate(Api::Vault).await))
        }
    };
    arm_tok.map_err(|e| call_err("authentication", e))?;

    let mut state = LiveState::default();
    let (vault, key) = names(reader, endpoints, target).await?;
    state.vault = vault.clone();
    state.key = key.clone();

    let rg_path = format!(
        "subscriptions/{}/resourceGroups/{}",
        target.subscription, target.resource_group
    );
    let vault_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{vault}",
        target.subscription, target.resource_group
    );
    let key_id = format!("{vault_id}/keys/{key}");
    let api = [("api-version", KEYVAULT_API)];
    let vault_call = Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!("{rg_path}/providers/Microsoft.KeyVault/vaults/{vault}"),
            &api,
        )?,
    );
    let key_call = Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!("{rg_path}/providers/Microsoft.KeyVault/vaults/{vault}/keys/{key}"),
            &api,
        )?,
    );
    let ra_call = Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!("{key_id}/providers/Microsoft.Authorization/roleAssignments"),
            &[("api-version", AUTHORIZATION_API), ("$filter", "atScope()")],
        )?,
    );
    let vault_base = endpoints.vault_base(&vault, None)?;
    let rotation_call = Call::get(
        Api::Vault,
        join(
            &vault_base,
            &format!("keys/{key}/rotationpolicy"),
            &[("api-version", DATA_PLANE_API)],
        )?,
    );
    let graph_ok = matches!(graph_tok, Some(Ok(())));
    let sp_call = match (&target.sp_object_id, graph_ok) {
        (Some(id), true) => Some(Call::get(
            Api::Graph,
            join(
                &endpoints.graph,
                &format!("v1.0/servicePrincipals/{id}"),
                &[("$select", "id,appId,displayName")],
            )?,
        )),
        _ => None,
    };
    let vault_tok_ok = vault_tok.is_ok();

    // Round 1: everything independent, at once.
    let round1 = async {
        let ((v, k), (ras, (rot, sp))) = both(
            mode,
            both(
                mode,
                reader.send(vault_call.clone()),
                reader.send(key_call.clone()),
            ),
            both(
                mode,
                reader.send(ra_call.clone()),
                both(
                    mode,
                    async {
                        if vault_tok_ok {
                            Some(reader.send(rotation_call.clone()).await)
                        } else {
                            None
                        }
                    },
                    async {
                        match &sp_call {
                            Some(c) => Some(reader.send(c.clone()).await),
                            None => None,
                        }
                    },
                ),
            ),
        )
        .await;
        (v, k, ras, rot, sp)
    };
    // The subscription's own tenant, alongside round 1. Reading it is optional:
    // without it (403, 404, an odd answer) CMK016 asks for --tenant-id instead.
    let sub_call = subscription_call(endpoints, &target.subscription)?;
    let ((v, k, ras, rot, sp), sub) = both(mode, round1, reader.send(sub_call)).await;
    state.tenant_id = subscription_tenant(sub, &target.subscription)?;

    // Vault.
    let v = v.map_err(|e| call_err(&format!("reading vault '{vault}'"), e))?;
    let vault_json = match v.status {
        200 => {
            let what = format!("reading vault '{vault}'");
            let j = json_of(&what, &vault_call, &v)?;
            expect_resource(
                &what,
                &vault_call,
                &j,
                &vault_id,
                "Microsoft.KeyVault/vaults",
            )?;
            Some(j)
        }
        404 => {
            state.problems.push(ReadProblem {
                kind: ProblemKind::VaultMissing,
                message: format!(
                    "Key Vault '{vault}' does not exist in resource group '{}' of subscription '{}'",
                    target.resource_group, target.subscription
                ),
                resource: vault_id.clone(),
            });
            None
        }
        _ => {
            return Err(fail(
                &format!("reading vault '{vault}'"),
                &vault_call,
                &v,
                READER_ROLE,
            ))
        }
    };
    if let Some(body) = &vault_json {
        let id = str_at(body, &["id"]).unwrap_or(&vault_id).to_string();
        state.deployment.resources.push(Resource::new(
            Kind::Vault,
            Value::String(str_at(body, &["name"]).unwrap_or(&vault).to_string()),
            Value::String(id.clone()),
            Value::from(body),
            Location::Azure { id },
        ));
    }

    // Key (only meaningful when the vault exists).
    let k = k.map_err(|e| call_err(&format!("reading key '{key}'"), e))?;
    let mut key_json = match (k.status, vault_json.is_some()) {
        (200, _) => {
            let what = format!("reading key '{key}'");
            let j = json_of(&what, &key_call, &k)?;
            expect_resource(
                &what,
                &key_call,
                &j,
                &key_id,
                "Microsoft.KeyVault/vaults/keys",
            )?;
            Some(j)
        }
        (404, true) => {
            state.problems.push(ReadProblem {
                kind: ProblemKind::KeyMissing,
                message: format!("key '{key}' does not exist in Key Vault '{vault}'"),
                resource: key_id.clone(),
            });
            None
        }
        (404, false) => None,
        _ => {
            return Err(fail(
                &format!("reading key '{key}'"),
                &key_call,
                &k,
                READER_ROLE,
            ))
        }
    };

    // Rotation policy: from ARM when it has it, else from the data plane.
    if let Some(body) = key_json.as_mut() {
        let has_policy = body
            .get("properties")
            .and_then(|p| p.get("rotationPolicy"))
            .is_some_and(|p| !p.is_null());
        if !has_policy {
            let policy = rotation_policy(
                &vault,
                &key,
                &key_id,
                &rotation_call,
                rot,
                vault_tok.err(),
                &mut state,
            )?;
            if let Some(props) = body.get_mut("properties").and_then(Json::as_object_mut) {
                props.insert("rotationPolicy".into(), policy);
            }
        }
    }
    let key_body = key_json.as_ref().map(|body| {
        let mut v = Value::from(body);
        // An unreadable policy is Unknown (a note), never an absent policy (a warning).
        if let Some(why) = unknown_policy_reason(&state) {
            if let Value::Object(m) = &mut v {
                if let Some(Value::Object(p)) = m.get_mut("properties") {
                    p.insert("rotationPolicy".into(), Value::Unknown(why));
                }
            }
        }
        v
    });
    if let (Some(json), Some(body)) = (&key_json, key_body) {
        let id = str_at(json, &["id"]).unwrap_or(&key_id).to_string();
        state.deployment.resources.push(Resource::new(
            Kind::Key,
            Value::String(format!("{vault}/{key}")),
            Value::String(id.clone()),
            body,
            Location::Azure { id },
        ));
    }

    // Role assignments: first page from round 1, then nextLink pages.
    let ras = ras.map_err(|e| call_err("listing role assignments", e))?;
    // Listing at the scope of a resource that does not exist may answer 404; the
    // missing vault or key is already reported.
    let assignments = if (vault_json.is_none() || key_json.is_none()) && ras.status == 404 {
        Vec::new()
    } else {
        list_pages(
            reader,
            endpoints,
            &ra_call,
            ras,
            "listing role assignments",
            "Microsoft.Authorization/roleAssignments/read (e.g. Reader) on the vault",
            ListBudget::DEFAULT,
            |call, a| {
                ListedAssignment::parse("listing role assignments", call, a, &key_id).map(Some)
            },
        )
        .await?
    };

    // Round 2: role names and the Graph app-ID fallback, concurrently. Names
    // only serve messages (rules compare role GUIDs), so a vault with assignments
    // of more distinct roles than MAX_ROLE_NAMES has the rest shown by GUID
    // rather than one request each, all at once.
    let mut seen = std::collections::HashSet::new();
    let def_ids: Vec<String> = assignments
        .iter()
        .map(|a| &a.role_definition_id)
        .filter(|d| seen.insert(d.to_ascii_lowercase()))
        .take(MAX_ROLE_NAMES)
        .cloned()
        .collect();
    let def_calls: Vec<Call> = def_ids
        .iter()
        .map(|d| {
            join(&endpoints.arm, d, &[("api-version", AUTHORIZATION_API)])
                .map(|u| Call::get(Api::Arm, u))
        })
        .collect::<Result<_, _>>()?;
    let (defs, sp_state) = both(
        mode,
        all(
            mode,
            def_calls.iter().cloned().map(|c| reader.send(c)).collect(),
        ),
        principal(reader, endpoints, target, graph_tok, sp_call.as_ref(), sp),
    )
    .await;
    for (call, reply) in def_calls.iter().zip(defs) {
        let reply = reply.map_err(|e| call_err("reading role definitions", e))?;
        match reply.status {
            200 => {
                let j = json_of("reading role definitions", call, &reply)?;
                if let (Some(name), Some(guid)) = (
                    str_at(&j, &["properties", "roleName"]),
                    str_at(&j, &["name"]),
                ) {
                    state
                        .role_names
                        .insert(guid.to_ascii_lowercase(), name.to_string());
                }
            }
            // A missing or hidden definition only costs a name in messages.
            403 | 404 => {}
            _ => {
                return Err(fail(
                    "reading role definitions",
                    call,
                    &reply,
                    "Microsoft.Authorization/roleDefinitions/read (e.g. Reader) on the vault",
                ))
            }
        }
    }
    let (principal, problems) = sp_state?;
    state.principal = principal;
    state.problems.extend(problems);

    for a in assignments {
        state.deployment.resources.push(Resource::new(
            Kind::RoleAssignment,
            Value::String(a.name.clone()),
            Value::String(a.id.clone()),
            Value::from(&a.to_json()),
            Location::Azure { id: a.id },
        ));
    }

    // Round 3: the probe, only on a key that exists (a missing key is already
    // a finding; probing it would only repeat that). The outcome goes on the key,
    // where CMK017 reads it.
    if target.probe {
        if let Some(res) = state
            .deployment
            .resources
            .iter_mut()
            .find(|r| r.kind == Kind::Key)
        {
            res.probe = Some(probe::run(reader, &vault_base, &key).await?);
        }
    }
    Ok(state)
}

pub(crate) fn unknown_policy_reason(state: &LiveState) -> Option<String> {
    state.problems.iter().find_map(|p| match &p.kind {
        ProblemKind::Unknown { rule } if rule == "CMK009" => Some(p.message.clone()),
        _ => None,
    })
}

/// The key's rotation policy from the data plane, as ARM shapes it.
pub(crate) fn rotation_policy(
    vault: &str,
    key: &str,
    key_id: &str,
    call: &Call,
    reply: Option<Result<Reply, CallError>>,
    token_error: Option<CallError>,
    state: &mut LiveState,
) -> Result<Json, Error> {
    let what = format!("reading the rotation policy of key '{key}'");
    let mut unknown = |why: String| {
        state.problems.push(ReadProblem {
            kind: ProblemKind::Unknown {
                rule: "CMK009".into(),
            },
            message: why,
            resource: key_id.to_string(),
        });
        Json::Null
    };
    let reply = match (reply, token_error) {
        (Some(Ok(r)), _) => r,
        (_, Some(e)) | (Some(Err(e)), None) if e.is_fatal() => return Err(call_err(&what, e)),
        (_, Some(e)) | (Some(Err(e)), None) => {
            return Ok(unknown(format!(
                "the rotation policy of key '{key}' could not be read: {e}"
            )))
        }
        (None, None) => {
            return Ok(unknown(format!(
                "the rotation policy of key '{key}' was not read"
            )))
        }
    };
    match reply.status {
        200 => {
            let j = json_of(&what, call, &reply)?;
            // The data plane answers with the same lifetimeActions/attributes shape.
            let mut policy = serde_json::Map::new();
            for k in ["attributes", "lifetimeActions"] {
                if let Some(v) = j.get(k) {
                    policy.insert(k.to_string(), v.clone());
                }
            }
            Ok(Json::Object(policy))
        }
        // No policy set on this key.
        404 => Ok(Json::Null),
        401 | 403 => Ok(unknown(format!(
            "the rotation policy of key '{key}' in vault '{vault}' could not be read \
             ({} from the data plane): grant the identity running check Key Vault Reader \
             (Microsoft.KeyVault/vaults/keys/rotationpolicy/read) on the vault to decide CMK009",
            reply.status
        ))),
        _ => Err(fail(&what, call, &reply, "Key Vault Reader on the vault")),
    }
}

/// A Graph answer's JSON, or exit 3 saying Graph returned something unusable.
fn graph_json(what: &str, reply: &Reply) -> Result<Json, Error> {
    reply
        .json()
        .map_err(|e| Error::Azure(format!("{what}: Graph returned a body that {e}")))
}

/// Exit 3 unless Graph's answer is the service principal asked for: its `field`
/// (`id` or `appId`) is `asked`.
fn expect_principal(
    what: &str,
    call: &Call,
    j: &Json,
    field: &str,
    asked: &str,
) -> Result<(), Error> {
    match str_at(j, &[field]) {
        Some(got) if got.eq_ignore_ascii_case(asked) => Ok(()),
        Some(got) => Err(foreign(
            what,
            call,
            &format!("the object with {field} '{}'", server_text(got)),
            &format!("the service principal with {field} '{asked}'"),
        )),
        None => Err(foreign(
            what,
            call,
            &format!("an object without '{field}'"),
            &format!("the service principal with {field} '{asked}'"),
        )),
    }
}

/// Confirms the vendor principal in Graph; an app ID gets the object ID to use.
async fn principal<R: AzureReader>(
    reader: &R,
    endpoints: &Endpoints,
    target: &Target,
    graph_tok: Option<Result<(), CallError>>,
    by_object: Option<&Call>,
    first: Option<Result<Reply, CallError>>,
) -> Result<(Option<Principal>, Vec<ReadProblem>), Error> {
    let Some(id) = &target.sp_object_id else {
        return Ok((None, Vec::new()));
    };
    let resource = format!("servicePrincipal {id}");
    let unknown = |why: String| {
        Ok((
            None,
            vec![ReadProblem {
                kind: ProblemKind::Unknown {
                    rule: "CMK010".into(),
                },
                message: why,
                resource: resource.clone(),
            }],
        ))
    };
    let what = "looking up the vendor principal in Microsoft Graph";
    if let Some(Err(e)) = graph_tok {
        if e.is_fatal() {
            return Err(call_err(what, e));
        }
        return unknown(format!(
            "could not confirm in Microsoft Graph that service principal {id} exists: {e}"
        ));
    }
    let reply = match first {
        Some(Ok(r)) => r,
        Some(Err(e)) if e.is_fatal() => return Err(call_err(what, e)),
        Some(Err(e)) => {
            return unknown(format!(
                "could not confirm in Microsoft Graph that service principal {id} exists: {e}"
            ))
        }
        None => return Ok((None, Vec::new())),
    };
    let graph_denied = |status: u16| {
        format!(
            "could not confirm in Microsoft Graph that service principal {id} exists ({status}): \
             the identity running check needs Application.Read.All (or Directory.Read.All) in \
             Microsoft Graph"
        )
    };
    let parse = |j: &Json| Principal {
        object_id: str_at(j, &["id"]).unwrap_or_default().to_string(),
        app_id: str_at(j, &["appId"]).unwrap_or_default().to_string(),
        display_name: str_at(j, &["displayName"]).unwrap_or_default().to_string(),
    };
    match reply.status {
        200 => {
            let j = graph_json(what, &reply)?;
            if let Some(call) = by_object {
                expect_principal(what, call, &j, "id", id)?;
            }
            return Ok((Some(parse(&j)), Vec::new()));
        }
        401 | 403 => return unknown(graph_denied(reply.status)),
        // Graph answers 400 for an ID it cannot parse, 404 for an unknown object ID.
        400 | 404 => {}
        s => return unknown(format!("{what}: Graph answered HTTP {s}")),
    }
    let by_app = Call::get(
        Api::Graph,
        join(
            &endpoints.graph,
            &format!("v1.0/servicePrincipals(appId='{id}')"),
            &[("$select", "id,appId,displayName")],
        )?,
    );
    let r = match reader.send(by_app.clone()).await {
        Ok(r) => r,
        Err(e) if e.is_fatal() => return Err(call_err(what, e)),
        Err(e) => return unknown(format!("{what}: {e}")),
    };
    match r.status {
        200 => {
            let j = graph_json(what, &r)?;
            expect_principal(what, &by_app, &j, "appId", id)?;
            let p = parse(&j);
            let problem = ReadProblem {
                kind: ProblemKind::PrincipalIsAppId {
                    object_id: p.object_id.clone(),
                },
                message: format!(
                    "{id} is the application (client) ID of '{}', not its service principal's \
                     object ID: role assignments need the object ID {}; use \
                     --sp-object-id {} and assign the role to that ID",
                    p.display_name, p.object_id, p.object_id
                ),
                resource,
            };
            Ok((Some(p), vec![problem]))
        }
        401 | 403 => unknown(graph_denied(r.status)),
        400 | 404 => Ok((
            None,
            vec![ReadProblem {
                kind: ProblemKind::PrincipalMissing,
                message: format!(
                    "no service principal with object ID or application ID {id} exists in this \
                     tenant: the vendor's enterprise application has not been added (consented) \
                     here, or the ID is wrong"
                ),
                resource,
            }],
        )),
        s => unknown(format!("{what}: Graph answered HTTP {s}")),
    }
}

/// Vault and key names: flags win; otherwise the deployment's outputs.
async fn names<R: AzureReader>(
    reader: &R,
    endpoints: &Endpoints,
    target: &Target,
) -> Result<(String, String), Error> {
    if let (Some(v), Some(k)) = (&target.vault, &target.key) {
        return Ok((v.clone(), k.clone()));
    }
    let Some(dep) = &target.from_deployment else {
        return Err(Error::Usage(
            "check needs --vault and --key, or --from-deployment NAME".into(),
        ));
    };
    let what = format!("reading deployment '{dep}'");
    let call = Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!(
                "subscriptions/{}/resourceGroups/{}/providers/Microsoft.Resources/deployments/{dep}",
                target.subscription, target.resource_group
            ),
            &[("api-version", DEPLOYMENTS_API)],
        )?,
    );
    let reply = reader
        .send(call.clone())
        .await
        .map_err(|e| call_err(&what, e))?;
    match reply.status {
        200 => {}
        404 => {
            return Err(Error::Azure(format!(
                "{what}: no deployment named '{dep}' in resource group '{}' (check the name with \
                 `az deployment group list -g {}`)",
                target.resource_group, target.resource_group
            )))
        }
        _ => {
            return Err(fail(
                &what,
                &call,
                &reply,
                "Microsoft.Resources/deployments/read (e.g. Reader) on the resource group",
            ))
        }
    }
    let j = json_of(&what, &call, &reply)?;
    let outputs = j
        .get("properties")
        .and_then(|p| p.get("outputs"))
        .cloned()
        .unwrap_or(Json::Null);
    let (v, k) = names_from_outputs(&outputs);
    let vault = target.vault.clone().or(v);
    let key = target.key.clone().or(k);
    match (vault, key) {
        // Names from outputs go into URL paths: hold them to the naming rules.
        (Some(v), _) if VaultName::parse("vault", &v).is_err() => Err(Error::Azure(format!(
            "{what}: its outputs name the vault '{v}', which is not a valid Key Vault name"
        ))),
        (_, Some(k)) if KeyName::parse("key", &k).is_err() => Err(Error::Azure(format!(
            "{what}: its outputs name the key '{k}', which is not a valid key name"
        ))),
        (Some(v), Some(k)) => Ok((v, k)),
        (v, k) => Err(Error::Azure(format!(
            "{what}: its outputs do not name the {} (expected outputs such as vaultName and \
             keyName, a keyUri, or a key resource ID); pass --vault/--key instead",
            match (v, k) {
                (None, None) => "vault or the key",
                (None, _) => "vault",
                _ => "key",
            }
        ))),
    }
}

/// Finds vault and key names in ARM deployment outputs (`{name: {type, value}}`):
/// by name (`vaultName`, `keyName`, ...), else from a key URI or resource ID.
pub fn names_from_outputs(outputs: &Json) -> (Option<String>, Option<String>) {
    let Some(map) = outputs.as_object() else {
        return (None, None);
    };
    let get = |names: &[&str]| {
        map.iter().find_map(|(k, v)| {
            if names.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                v.get("value")
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .filter(|s| !s.is_empty())
            } else {
                None
            }
        })
    };
    let mut vault = get(&["vaultName", "keyVaultName", "vault"]);
    let mut key = get(&["keyName", "key", "keyVaultKeyName"]);
    for (_, v) in map {
        let Some(s) = v.get("value").and_then(Json::as_str) else {
            continue;
        };
        if let Some((vn, kn)) = parse_key_ref(s) {
            vault = vault.or(Some(vn));
            key = key.or(kn);
        }
    }
    (vault, key)
}

/// `https://<vault>.<suffix>/keys/<key>[/<version>]` or a vault/key resource ID.
fn parse_key_ref(s: &str) -> Option<(String, Option<String>)> {
    if let Ok(url) = Url::parse(s) {
        if url.scheme() == "https" {
            let host = url.host_str()?;
            let vault = host.split('.').next()?.to_string();
            let mut segs = url.path_segments()?;
            let key = match (segs.next(), segs.next()) {
                (Some("keys"), Some(k)) if !k.is_empty() => Some(k.to_string()),
                _ => None,
            };
            if host.contains(".vault.") {
                return Some((vault, key));
            }
            return None;
        }
    }
    let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
    let i = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("vaults"))?;
    let vault = parts.get(i + 1)?.to_string();
    let key = match (parts.get(i + 2), parts.get(i + 3)) {
        (Some(k), Some(name)) if k.eq_ignore_ascii_case("keys") => Some(name.to_string()),
        _ => None,
    };
    Some((vault, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    /// Serves `pages` in order, whatever is asked, and records what was asked.
    struct Pages {
        pages: Mutex<Vec<Reply>>,
        asked: Mutex<Vec<String>>,
    }

    impl AzureReader for Pages {
        async fn authenticate(&self, _: Api) -> Result<(), CallError> {
            Ok(())
        }
        async fn send(&self, call: Call) -> Result<Reply, CallError> {
            self.asked.lock().unwrap().push(call.url.to_string());
            Ok(self.pages.lock().unwrap().remove(0))
        }
    }

    const BASE: &str = "http://127.0.0.1:1/";

    fn page(status: u16, body: Json) -> Reply {
        Reply {
            status,
            body: body.to_string().into_bytes(),
        }
    }

    /// The items of a list whose first page is `first` and later pages `rest`,
    /// within `budget`, each item kept as its `n`.
    fn listed(
        first: Json,
        rest: Vec<Reply>,
        budget: ListBudget,
    ) -> (Result<Vec<i64>, Error>, Vec<String>) {
        let endpoints = Endpoints::new(
            super::super::endpoints::Cloud::Public,
            Some(BASE),
            None,
            None,
        )
        .unwrap();
        let reader = Pages {
            pages: Mutex::new(rest),
            asked: Mutex::new(Vec::new()),
        };
        let call = Call::get(Api::Arm, Url::parse(&format!("{BASE}list")).unwrap());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = rt.block_on(list_pages(
            &reader,
            &endpoints,
            &call,
            page(200, first),
            "listing things",
            "Reader",
            budget,
            |_, item| Ok(item.get("n").and_then(Json::as_i64).filter(|n| *n >= 0)),
        ));
        let asked = reader.asked.into_inner().unwrap();
        (got, asked)
    }

    fn next(n: u32) -> String {
        format!("{BASE}list?$skiptoken={n}")
    }

    #[test]
    fn pages_are_followed_and_only_kept_items_stay() {
        let (got, asked) = listed(
            json!({"value": [{"n": 1}, {"n": -1}], "nextLink": next(2)}),
            vec![page(200, json!({"value": [{"n": 2}], "nextLink": ""}))],
            ListBudget::DEFAULT,
        );
        assert_eq!(got.unwrap(), [1, 2]);
        assert_eq!(asked, [next(2)]);
    }

    #[test]
    fn one_budget_covers_every_page_of_a_list() {
        // Each page fits the budget alone; together they do not.
        let body =
            |n: i64| json!({"value": [{"n": n, "pad": "x".repeat(600)}], "nextLink": next(9)});
        let one_page = body(1).to_string().len();
        let small = ListBudget {
            pages: 100,
            bytes: one_page * 3 + 10,
            values: 1_000,
        };
        let rest: Vec<Reply> = (2..10).map(|n| page(200, body(n))).collect();
        let (got, asked) = listed(body(1), rest, small);
        let e = got.unwrap_err().to_string();
        assert!(
            e.contains("its 4 pages up to GET http://127.0.0.1:1/list hold"),
            "{e}"
        );
        assert!(
            e.contains(&format!(
                "over the cap of {} bytes on one list",
                small.bytes
            )),
            "{e}"
        );
        assert_eq!(asked.len(), 3, "nothing asked after the budget ran out");

        // JSON values, counted before a page is parsed.
        let many = |n: i64| json!({"value": [{"n": n, "v": vec![0; 40]}], "nextLink": next(9)});
        let small = ListBudget {
            pages: 100,
            bytes: 1 << 20,
            values: 100,
        };
        let (got, _) = listed(many(1), vec![page(200, many(2)), page(200, many(3))], small);
        let e = got.unwrap_err().to_string();
        assert!(
            e.contains("its 3 pages") && e.contains("more than 100 JSON values"),
            "{e}"
        );

        // Pages.
        let small = ListBudget {
            pages: 3,
            ..ListBudget::DEFAULT
        };
        let rest: Vec<Reply> = (2..10)
            .map(|n| page(200, json!({"value": [], "nextLink": next(n)})))
            .collect();
        let (got, asked) = listed(json!({"value": [], "nextLink": next(1)}), rest, small);
        assert!(got.unwrap_err().to_string().contains("more than 3 pages"));
        assert_eq!(asked.len(), 2, "pages 2 and 3, not a fourth");
    }

    #[test]
    fn a_later_page_must_be_a_list_from_the_same_origin() {
        let (got, asked) = listed(
            json!({"value": [], "nextLink": "https://evil.example.com/list"}),
            vec![],
            ListBudget::DEFAULT,
        );
        assert!(got
            .unwrap_err()
            .to_string()
            .contains("refusing to send the token there"));
        assert!(asked.is_empty());
        let (got, _) = listed(
            json!({"value": [], "nextLink": next(2)}),
            vec![page(403, json!({"error": {"code": "Denied"}}))],
            ListBudget::DEFAULT,
        );
        assert!(got
            .unwrap_err()
            .to_string()
            .contains("403 Forbidden (Denied)"));
        let (got, _) = listed(json!({"items": []}), vec![], ListBudget::DEFAULT);
        assert!(got
            .unwrap_err()
            .to_string()
            .contains("without a 'value' list"));
    }

    #[test]
    fn listed_assignments_keep_only_what_the_rules_read() {
        let call = Call::get(Api::Arm, Url::parse(BASE).unwrap());
        let key =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k";
        let a = json!({
            "id": format!("{key}/providers/Microsoft.Authorization/roleAssignments/a1"),
            "name": "a1",
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": "/r", "principalId": "p",
                           "principalType": "ServicePrincipal", "scope": "/subscriptions/s",
                           "description": "x".repeat(10_000), "createdOn": "2025-01-01"}});
        let parsed = ListedAssignment::parse("w", &call, &a, key).unwrap();
        assert_eq!(parsed.scope, "/subscriptions/s");
        let j = parsed.to_json();
        assert_eq!(j["properties"].as_object().unwrap().len(), 4, "{j}");
        assert_eq!(j["properties"]["principalType"], "ServicePrincipal");
        assert!(!j.to_string().contains("xxx") && !j.to_string().contains("createdOn"));
        // A missing field is an unusable answer, never an empty string.
        for field in ["roleDefinitionId", "principalId", "scope"] {
            let mut b = a.clone();
            b["properties"].as_object_mut().unwrap().remove(field);
            let e = ListedAssignment::parse("w", &call, &b, key)
                .unwrap_err()
                .to_string();
            assert!(e.contains("that is not a role assignment"), "{field}: {e}");
        }
        let mut b = a.clone();
        b.as_object_mut().unwrap().remove("name");
        assert!(ListedAssignment::parse("w", &call, &b, key).is_err());
    }

    #[test]
    fn join_never_doubles_slashes_and_encodes() {
        let base = Url::parse("http://127.0.0.1:1/prefix/").unwrap();
        let u = join(
            &base,
            "/subscriptions/s/providers/x y",
            &[("$filter", "atScope()")],
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:1/prefix/subscriptions/s/providers/x%20y?%24filter=atScope%28%29"
        );
    }

    #[test]
    fn assignment_scopes_at_or_above_the_key() {
        let key =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k";
        for scope in [
            key,
            "/subscriptions/S/resourcegroups/RG/providers/Microsoft.KeyVault/vaults/KV",
            "/subscriptions/s/resourceGroups/rg/",
            "/subscriptions/s",
            "/",
            "/providers/Microsoft.Management/managementGroups/root-mg",
        ] {
            assert!(scope_applies(scope, key), "{scope}");
        }
        for scope in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2",
            // A prefix of a name is not a parent scope.
            "/subscriptions/s/resourceGroups/r",
            "/subscriptions/other",
            "/providers/Microsoft.Management/managementGroups/",
            "/providers/Microsoft.Management/managementGroups/mg/subscriptions/x",
            "/providers/Microsoft.Management",
        ] {
            assert!(!scope_applies(scope, key), "{scope}");
        }
    }

    #[test]
    fn output_names() {
        let o = json!({"vaultName": {"type": "string", "value": "kv1"},
                       "keyName": {"type": "String", "value": "k-tidb"}});
        assert_eq!(
            names_from_outputs(&o),
            (Some("kv1".into()), Some("k-tidb".into()))
        );
        let o = json!({"keyUri": {"type": "string",
            "value": "https://kv2.vault.azure.net/keys/key2/abc"}});
        assert_eq!(
            names_from_outputs(&o),
            (Some("kv2".into()), Some("key2".into()))
        );
        let o = json!({"keyId": {"type": "string",
            "value": "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv3/keys/k3"}});
        assert_eq!(
            names_from_outputs(&o),
            (Some("kv3".into()), Some("k3".into()))
        );
        assert_eq!(names_from_outputs(&json!([1])), (None, None));
        assert_eq!(
            names_from_outputs(&json!({"x": {"value": "https://example.com/keys/a"}})),
            (None, None)
        );
    }
}
