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
use super::probe;
use super::{server_text, Api, AzureReader, Call, CallError, Reply};
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
/// Pages followed per list before giving up (a loop guard, far above real sizes).
const MAX_PAGES: usize = 200;

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
fn foreign(what: &str, call: &Call, got: &str, asked: &str) -> Error {
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
fn expect_resource(
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

/// True when an assignment at `scope` applies to the key `key_id`: at the key,
/// above it (the vault, its resource group, the subscription, the root `/`), or
/// at a management group (above every subscription in it; ARM returned it for
/// `atScope()`, which lists only what is at or above the scope, and the
/// hierarchy itself is not check's to read).
fn scope_applies(scope: &str, key_id: &str) -> bool {
    let scope = scope.trim_end_matches('/').to_ascii_lowercase();
    let key = key_id.to_ascii_lowercase();
    if scope.is_empty() || key == scope || key.starts_with(&format!("{scope}/")) {
        return true;
    }
    scope
        .strip_prefix("/providers/microsoft.management/managementgroups/")
        .is_some_and(|mg| !mg.is_empty() && !mg.contains('/'))
}

/// Exit 3 unless `a` is a role assignment whose scope applies to `key_id`: ARM
/// lists only those for `atScope()`, so anything else means the list is not
/// the answer to the question asked.
fn expect_assignment(what: &str, call: &Call, a: &Json, key_id: &str) -> Result<(), Error> {
    let asked = format!("only role assignments at or above '{key_id}'");
    let id = str_at(a, &["id"]);
    let shaped = a.is_object()
        && id.is_some()
        && str_at(a, &["type"]).is_some_and(|t| t.eq_ignore_ascii_case(ROLE_ASSIGNMENT_TYPE))
        && str_at(a, &["properties", "roleDefinitionId"]).is_some()
        && str_at(a, &["properties", "principalId"]).is_some();
    let Some(scope) = str_at(a, &["properties", "scope"]).filter(|_| shaped) else {
        let got = match id {
            Some(id) => format!(
                "an item '{}' that is not a role assignment",
                server_text(id)
            ),
            None => "an item that is not a role assignment".to_string(),
        };
        return Err(foreign(what, call, &got, &asked));
    };
    if !scope_applies(scope, key_id) {
        return Err(foreign(
            what,
            call,
            &format!("a role assignment at scope '{}'", server_text(scope)),
            &asked,
        ));
    }
    Ok(())
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
    let sub_call = Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!("subscriptions/{}", target.subscription),
            &[("api-version", SUBSCRIPTIONS_API)],
        )?,
    );
    let ((v, k, ras, rot, sp), sub) = both(mode, round1, reader.send(sub_call)).await;
    let sub = match sub {
        Err(e) if e.is_fatal() => return Err(call_err("reading the subscription", e)),
        other => other.ok(),
    };
    state.tenant_id = sub
        .filter(|r| r.status == 200)
        .and_then(|r| r.json().ok())
        // Another subscription's tenant is no answer about this one.
        .filter(|j| {
            str_at(j, &["subscriptionId"])
                .is_some_and(|s| s.eq_ignore_ascii_case(&target.subscription))
        })
        .and_then(|j| str_at(&j, &["tenantId"]).map(str::to_string))
        .filter(|t| t.len() == 36 && uuid::Uuid::try_parse(t).is_ok());

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
        role_assignments(reader, endpoints, &ra_call, ras, &key_id).await?
    };

    // Round 2: role names and the Graph app-ID fallback, concurrently.
    let mut def_ids: Vec<String> = Vec::new();
    for a in &assignments {
        if let Some(d) = str_at(a, &["properties", "roleDefinitionId"]) {
            if !def_ids.iter().any(|x| x.eq_ignore_ascii_case(d)) {
                def_ids.push(d.to_string());
            }
        }
    }
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
        let id = str_at(&a, &["id"]).unwrap_or_default().to_string();
        let name = str_at(&a, &["name"]).unwrap_or_default().to_string();
        state.deployment.resources.push(Resource::new(
            Kind::RoleAssignment,
            Value::String(name),
            Value::String(id.clone()),
            Value::from(&a),
            Location::Azure { id },
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

fn unknown_policy_reason(state: &LiveState) -> Option<String> {
    state.problems.iter().find_map(|p| match &p.kind {
        ProblemKind::Unknown { rule } if rule == "CMK009" => Some(p.message.clone()),
        _ => None,
    })
}

/// The key's rotation policy from the data plane, as ARM shapes it.
fn rotation_policy(
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

/// Follows `nextLink` and keeps assignments whose scope contains the key.
async fn role_assignments<R: AzureReader>(
    reader: &R,
    endpoints: &Endpoints,
    first_call: &Call,
    first: Reply,
    key_id: &str,
) -> Result<Vec<Json>, Error> {
    let what = "listing role assignments";
    let needs = "Microsoft.Authorization/roleAssignments/read (e.g. Reader) on the vault";
    let mut out = Vec::new();
    let mut call = first_call.clone();
    let mut reply = first;
    for _ in 0..MAX_PAGES {
        if reply.status != 200 {
            return Err(fail(what, &call, &reply, needs));
        }
        let page = json_of(what, &call, &reply)?;
        let items = page.get("value").and_then(Json::as_array).ok_or_else(|| {
            Error::Azure(format!(
                "{what}: {} returned JSON without a 'value' list",
                call.describe()
            ))
        })?;
        for a in items {
            expect_assignment(what, &call, a, key_id)?;
            out.push(a.clone());
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
        // The token goes only to the ARM endpoint we were given.
        if url.origin() != endpoints.arm.origin() {
            return Err(Error::Azure(format!(
                "{what}: nextLink points to {}, not to {}; refusing to send the token there",
                url.origin().ascii_serialization(),
                endpoints.arm.origin().ascii_serialization()
            )));
        }
        call = Call::get(Api::Arm, url);
        reply = reader
            .send(call.clone())
            .await
            .map_err(|e| call_err(what, e))?;
    }
    Err(Error::Azure(format!(
        "{what}: more than {MAX_PAGES} pages; stopping (nextLink loop?)"
    )))
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
