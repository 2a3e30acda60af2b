//! What `preflight` reads from Azure Resource Manager before a deployment: who is
//! deploying (the token's claims), the resource group and its location, the
//! subscription's tenant, the `Microsoft.KeyVault` provider's registration, and,
//! for the resources the template would create, whether the vault exists, whether
//! its name is free (`checkNameAvailability`, soft-deleted vaults), the role
//! assignments already at each role assignment's scope, and the caller's
//! effective permissions (`Microsoft.Authorization/permissions`).
//!
//! It only reads. The one POST, `checkNameAvailability`, is a read that ARM
//! happens to model as an action; nothing here issues PUT, PATCH or DELETE.
//!
//! A 403 on one of these reads makes that value unknown (the rule that needs it
//! reports a note naming the permission); 401, throttling that outlasts the
//! retries, server errors, network failures and unusable bodies end the run
//! (exit 3), as in `check`.
//!
//! API versions: `Microsoft.KeyVault` `2025-05-01` and `Microsoft.Authorization`
//! `2022-04-01` as `check` uses them; `Microsoft.Resources` resource groups and
//! providers `2025-04-01`, the version of the REST examples in the corpus.

use super::endpoints::Endpoints;
use super::http::HttpReader;
use super::reader::{
    call_err, expect_resource, fail, foreign, join, json_of, list_pages, str_at, subscription_call,
    subscription_tenant, ListBudget, AUTHORIZATION_API, KEYVAULT_API,
};
use super::{server_text, server_text_within, Api, AzureReader, Call, CallError, Reply};
use crate::error::Error;
use base64::Engine as _;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Serialize, Serializer};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::future::Future;

/// `Microsoft.Resources` api-version for resource groups and providers.
pub const RESOURCES_API: &str = "2025-04-01";
/// Vaults of one template whose name, existence and permissions are read.
pub const MAX_VAULTS: usize = 16;
/// Scopes whose role assignments or permissions are read.
pub const MAX_SCOPES: usize = 32;
/// Requests in flight at once: enough to overlap ARM's latency, few enough not
/// to be throttled.
const MAX_IN_FLIGHT: usize = 8;
/// Longest token whose claims are decoded (real ARM tokens are 1-3 KB).
const MAX_TOKEN_CHARS: usize = 64 * 1024;

/// Who is deploying, from the ARM token's claims (decoded, not verified: the
/// token came from the credential, and only ARM decides what it may do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The `oid` claim: the object ID `deployer().objectId` returns.
    pub object_id: Option<String>,
    /// The `tid` claim: the tenant the token was issued in.
    pub tenant_id: Option<String>,
}

fn guid_claim(claims: &Json, name: &str) -> Option<String> {
    let s = claims.get(name)?.as_str()?;
    let id = uuid::Uuid::try_parse(s).ok()?;
    Some(id.hyphenated().to_string())
}

/// The caller named by a JWT's payload (`oid`, `tid`); empty when the token is
/// not a JWT or lacks them. Only these two GUIDs leave this function.
pub fn caller_from_jwt(token: &str) -> Caller {
    if token.len() > MAX_TOKEN_CHARS {
        return Caller::default();
    }
    let Some(payload) = token.split('.').nth(1) else {
        return Caller::default();
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return Caller::default();
    };
    let Ok(claims) = serde_json::from_slice::<Json>(&bytes) else {
        return Caller::default();
    };
    Caller {
        object_id: guid_claim(&claims, "oid"),
        tenant_id: guid_claim(&claims, "tid"),
    }
}

/// Azure access for `preflight`: [`AzureReader`] plus who the token belongs to.
pub trait PreflightReader: AzureReader {
    /// The caller the ARM token was issued to (authenticating first if needed).
    fn caller(&self) -> impl Future<Output = Result<Caller, CallError>> + Send;
}

impl PreflightReader for HttpReader {
    async fn caller(&self) -> Result<Caller, CallError> {
        self.caller_of(Api::Arm).await
    }
}

/// A value read from Azure, or why it could not be read (a 403: the rule that
/// needs it reports a note instead of guessing).
#[derive(Debug, Clone, PartialEq)]
pub enum Read<T> {
    /// What Azure answered.
    Known(T),
    /// Not readable; why, naming the permission.
    Unknown(String),
}

impl<T: Serialize> Serialize for Read<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Read::Known(v) => v.serialize(s),
            Read::Unknown(why) => json!({ "$unknown": why }).serialize(s),
        }
    }
}

impl<T> Read<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Read::Known(v) => Some(v),
            Read::Unknown(_) => None,
        }
    }
}

/// The deployment's context as Azure reported it: what the template is expanded with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployContext {
    /// `--subscription`.
    pub subscription_id: String,
    /// `--resource-group`.
    pub resource_group: String,
    /// `/subscriptions/<s>/resourceGroups/<rg>`.
    pub resource_group_id: String,
    /// The resource group's location, as ARM reported it.
    pub resource_group_location: String,
    /// The subscription's tenant (else the token's `tid`).
    pub tenant_id: Option<String>,
    /// The token's `oid`: `deployer().objectId`.
    pub deployer_object_id: Option<String>,
    /// `deployment().name`.
    pub deployment_name: String,
}

/// A resource provider's registration in the subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    /// The namespace, e.g. `Microsoft.KeyVault`.
    pub namespace: String,
    /// `Registered`, `NotRegistered`, `Registering`, ...
    pub registration_state: String,
}

/// What was read before the template could be expanded.
#[derive(Debug, Clone)]
pub struct Basics {
    /// The context to expand with.
    pub context: DeployContext,
    /// `Microsoft.KeyVault`'s registration.
    pub provider: Read<Provider>,
}

/// A vault the template would create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultTarget {
    /// Its name.
    pub name: String,
    /// Its resource ID.
    pub id: String,
    /// Its subscription.
    pub subscription: String,
}

/// What to read for the resources of one template.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Vaults (at most [`MAX_VAULTS`]).
    pub vaults: Vec<VaultTarget>,
    /// Scopes of the template's role assignments (resource IDs, each once).
    pub assignment_scopes: Vec<String>,
    /// Scopes whose permissions are read: resource groups and vaults.
    pub permission_scopes: Vec<String>,
}

/// `checkNameAvailability`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NameAvailability {
    /// True when the name may be used.
    pub name_available: bool,
    /// `AlreadyExists` or `AccountNameInvalid`, when not available.
    pub reason: Option<String>,
    /// ARM's explanation.
    pub message: Option<String>,
}

/// A soft-deleted vault (`deletedVaults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedVault {
    /// Its name.
    pub name: String,
    /// Its `deletedVaults` ID.
    pub id: String,
    /// The resource ID it had.
    pub vault_id: Option<String>,
    /// Its location.
    pub location: Option<String>,
    /// When it was deleted.
    pub deletion_date: Option<String>,
    /// When Azure purges it (and the name becomes free).
    pub scheduled_purge_date: Option<String>,
    /// Whether purge protection holds it until then.
    pub purge_protection_enabled: Option<bool>,
}

impl DeletedVault {
    /// True when this was the vault `name`: by its `name`, or by the last segment
    /// of the vault's own ID or of its `deletedVaults` ID (the REST example's
    /// `name` differs from both).
    pub fn names(&self, name: &str) -> bool {
        let last = |id: &str| {
            id.trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string)
        };
        std::iter::once(Some(self.name.clone()))
            .chain([self.vault_id.as_deref().and_then(last), last(&self.id)])
            .flatten()
            .any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// One vault of the template as Azure knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultState {
    /// Its name.
    pub name: String,
    /// Its resource ID.
    pub id: String,
    /// The vault's GET body when it exists, `null` when it does not (404).
    pub existing: Read<Option<Json>>,
    /// Whether the name is free.
    pub name_availability: Read<NameAvailability>,
    /// Soft-deleted vaults of this name in its subscription.
    pub deleted: Read<Vec<DeletedVault>>,
}

/// A role assignment that already exists (what the rules read of it).
pub type ExistingAssignment = super::reader::ListedAssignment;

/// The assignments found exactly at one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeAssignments {
    /// The scope, as the template writes it.
    pub scope: String,
    /// Assignments whose scope is exactly this one (not inherited ones).
    pub assignments: Read<Vec<ExistingAssignment>>,
}

/// One entry of `Microsoft.Authorization/permissions`: one role's actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionEntry {
    /// Allowed actions (with `*` wildcards).
    pub actions: Vec<String>,
    /// Actions this same entry excludes.
    pub not_actions: Vec<String>,
}

/// The caller's permissions at one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopePermissions {
    /// The scope.
    pub scope: String,
    /// The entries, or `null` when the scope does not exist yet (404).
    pub permissions: Read<Option<Vec<PermissionEntry>>>,
}

/// Everything `preflight` read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightState {
    /// The deployment's context.
    pub context: DeployContext,
    /// `Microsoft.KeyVault`'s registration.
    pub provider: Read<Provider>,
    /// The template's vaults.
    pub vaults: Vec<VaultState>,
    /// Role assignments at the template's role assignment scopes.
    pub role_assignments: Vec<ScopeAssignments>,
    /// The caller's permissions.
    pub permissions: Vec<ScopePermissions>,
    /// What was not read, and why (a bound was reached, a name is unknown).
    pub not_read: Vec<String>,
}

/// No trailing or doubled `/`, one leading `/`, the case as written (for messages).
pub fn tidy_scope(scope: &str) -> String {
    let parts: Vec<&str> = scope.trim().split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// [`tidy_scope`] in lower case: how ARM compares scopes.
pub fn normalize_scope(scope: &str) -> String {
    tidy_scope(scope).to_ascii_lowercase()
}

/// The scope of a role assignment from its resource ID
/// (`<scope>/providers/Microsoft.Authorization/roleAssignments/<name>`), as written.
pub fn assignment_scope(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let i = lower.rfind("/providers/microsoft.authorization/roleassignments/")?;
    Some(tidy_scope(id.get(..i)?))
}

/// Where a resource ID (or scope) lies: its leading `/subscriptions/{s}` and
/// `/resourceGroups/{rg}` segments, as written. The one place IDs are taken apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdScope<'a> {
    /// The subscription, when the ID starts with `/subscriptions/{s}`.
    pub subscription: Option<&'a str>,
    /// The resource group, when `/resourceGroups/{rg}` follows.
    pub resource_group: Option<&'a str>,
}

impl<'a> IdScope<'a> {
    /// Takes `id` apart (empty segments, as in `//`, are skipped).
    pub fn of(id: &'a str) -> Self {
        let mut segs = id.split('/').filter(|s| !s.is_empty());
        let (Some(subs), Some(s)) = (segs.next(), segs.next()) else {
            return IdScope::default();
        };
        if !subs.eq_ignore_ascii_case("subscriptions") {
            return IdScope::default();
        }
        let resource_group = match (segs.next(), segs.next()) {
            (Some(rgs), Some(rg)) if rgs.eq_ignore_ascii_case("resourceGroups") => Some(rg),
            _ => None,
        };
        IdScope {
            subscription: Some(s),
            resource_group,
        }
    }

    /// `/subscriptions/{s}/resourceGroups/{rg}`, when the ID lies in a resource group.
    pub fn resource_group_id(&self) -> Option<String> {
        match (self.subscription, self.resource_group) {
            (Some(s), Some(rg)) => Some(format!("/subscriptions/{s}/resourceGroups/{rg}")),
            _ => None,
        }
    }
}

/// The resource group ID (`/subscriptions/s/resourceGroups/rg`, as written) a scope lies in.
pub fn resource_group_of(scope: &str) -> Option<String> {
    IdScope::of(scope).resource_group_id()
}

/// True when `scope` is `outer` or lies below it, compared as ARM compares scopes.
pub fn within(scope: &str, outer: &str) -> bool {
    let (scope, outer) = (normalize_scope(scope), normalize_scope(outer));
    scope == outer || outer == "/" || scope.starts_with(&format!("{outer}/"))
}

/// A scope is read only when it is made of plain ARM path segments: no `.`/`..`,
/// no characters a URL would reinterpret.
pub fn readable_scope(scope: &str) -> bool {
    let n = normalize_scope(scope);
    n.starts_with("/subscriptions/")
        && n.len() <= 1024
        && n.split('/').skip(1).all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
        })
}

/// Longest permission pattern matched ([`action_matches`]).
pub const MAX_ACTION_LEN: usize = 512;

/// `*`-wildcard match, case-insensitive, as ARM matches actions: `*` stands for
/// any sequence of characters, `/` included; a pattern over [`MAX_ACTION_LEN`]
/// matches nothing.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    // Real actions are under 200 characters; the match is O(pattern × action),
    // so a megabyte-long "pattern" from a server is not one.
    if pattern.len() > MAX_ACTION_LEN {
        return false;
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let a: Vec<char> = action.to_lowercase().chars().collect();
    // Greedy match with one backtrack point: linear in practice, O(p·a) at worst.
    let (mut pi, mut ai) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ai));
                pi += 1;
            }
            Some(c) if Some(c) == a.get(ai) => {
                pi += 1;
                ai += 1;
            }
            _ => match star {
                Some((sp, sa)) => {
                    pi = sp + 1;
                    ai = sa + 1;
                    star = Some((sp, sa + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// True when some entry's actions match `action` and that same entry's
/// notActions do not (ARM's effective permission: a union over the caller's roles).
pub fn allows(entries: &[PermissionEntry], action: &str) -> bool {
    entries.iter().any(|e| {
        e.actions.iter().any(|p| action_matches(p, action))
            && !e.not_actions.iter().any(|p| action_matches(p, action))
    })
}

/// The permissions that apply at a scope, and where they were read.
#[derive(Debug, Clone, Copy)]
pub struct Applicable<'a> {
    /// The scope whose permission list applies.
    pub read_at: &'a str,
    /// That list.
    pub permissions: &'a Read<Option<Vec<PermissionEntry>>>,
    /// The scope lies above every scope read (e.g. the subscription): the list is
    /// the resource group's, which may hold more than applies above it.
    pub above: bool,
}

impl PreflightState {
    /// The state of the template's vault `name`.
    pub fn vault(&self, name: &str) -> Option<&VaultState> {
        self.vaults
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }

    /// The assignments read at `scope`.
    pub fn assignments_at(&self, scope: &str) -> Option<&Read<Vec<ExistingAssignment>>> {
        let n = normalize_scope(scope);
        self.role_assignments
            .iter()
            .find(|s| normalize_scope(&s.scope) == n)
            .map(|s| &s.assignments)
    }

    /// The permission list that applies at `scope`: the deepest scope read that
    /// contains it and exists; for a scope the deployment's resource group lies
    /// in (its subscription, a management group, the root), that group's list,
    /// marked `above` (what holds above the group is at most what holds in it).
    /// `None` for any other scope (a sibling group that does not exist yet,
    /// another subscription): no list read says anything about it.
    pub fn permissions_for(&self, scope: &str) -> Option<Applicable<'_>> {
        let deepest = self
            .permissions
            .iter()
            .filter(|p| within(scope, &p.scope))
            // A scope that does not exist yet (404) inherits its parent's.
            .filter(|p| !matches!(p.permissions, Read::Known(None)))
            .max_by_key(|p| p.scope.len());
        if let Some(p) = deepest {
            return Some(Applicable {
                read_at: &p.scope,
                permissions: &p.permissions,
                above: false,
            });
        }
        let rg = normalize_scope(&self.context.resource_group_id);
        if !within(&rg, scope) {
            return None;
        }
        self.permissions
            .iter()
            .find(|p| normalize_scope(&p.scope) == rg)
            .map(|p| Applicable {
                read_at: &p.scope,
                permissions: &p.permissions,
                above: true,
            })
    }
}

/// A 403 makes the value unknown, naming what reading it needs; anything else
/// that is not a success ends the run (exit 3) with the call named.
fn refused_or_fail<T>(
    what: &str,
    call: &Call,
    reply: &Reply,
    needs: &str,
) -> Result<Read<T>, Error> {
    if reply.status == 403 {
        let detail = reply.error_suffix();
        Ok(Read::Unknown(format!(
            "{what}: {} was refused with 403 Forbidden{detail}; reading it needs {needs}",
            call.describe()
        )))
    } else {
        Err(fail(what, call, reply, needs))
    }
}

/// Reads the context the template is expanded with: the caller, the resource
/// group (which must exist: its location is `resourceGroup().location`), the
/// subscription's tenant, and the provider's registration.
pub async fn read_basics<R: PreflightReader>(
    reader: &R,
    endpoints: &Endpoints,
    subscription: &str,
    resource_group: &str,
    deployment_name: &str,
) -> Result<Basics, Error> {
    reader
        .authenticate(Api::Arm)
        .await
        .map_err(|e| call_err("authentication", e))?;
    let caller = reader
        .caller()
        .await
        .map_err(|e| call_err("authentication", e))?;
    let rg_path = format!("subscriptions/{subscription}/resourceGroups/{resource_group}");
    let rg_call = Call::get(
        Api::Arm,
        join(&endpoints.arm, &rg_path, &[("api-version", RESOURCES_API)])?,
    );
    let sub_call = subscription_call(endpoints, subscription)?;
    let provider_call = Call::get(
        Api::Arm,
        join(
            &endpoints.arm,
            &format!("subscriptions/{subscription}/providers/Microsoft.KeyVault"),
            &[("api-version", RESOURCES_API)],
        )?,
    );
    let (rg, sub, provider) = tokio::join!(
        reader.send(rg_call.clone()),
        reader.send(sub_call),
        reader.send(provider_call.clone())
    );

    let what = format!("reading resource group '{resource_group}'");
    let rg = rg.map_err(|e| call_err(&what, e))?;
    match rg.status {
        200 => {}
        404 => {
            return Err(Error::Azure(format!(
                "{what}: resource group '{resource_group}' does not exist in subscription \
                 '{subscription}', and the deployment needs it: create it with `az group create \
                 --name {resource_group} --location <region>`, or check --subscription and \
                 --resource-group"
            )))
        }
        403 => {
            return Err(Error::Azure(format!(
                "{what}: {} was refused with 403 Forbidden{}: the identity running preflight \
                 needs read access to the resource group (e.g. Reader), which deploying into \
                 it needs too",
                rg_call.describe(),
                rg.error_suffix()
            )))
        }
        _ => return Err(fail(&what, &rg_call, &rg, "Reader on the resource group")),
    }
    let body = json_of(&what, &rg_call, &rg)?;
    let location = str_at(&body, &["location"])
        .map(|l| l.to_ascii_lowercase().replace(' ', ""))
        .filter(|l| !l.is_empty() && l.len() <= 64 && l.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| {
            Error::Azure(format!(
                "{what}: {} answered without a usable 'location'",
                rg_call.describe()
            ))
        })?;

    // The subscription's tenant is optional: the token's own tenant is the same
    // one whenever the token can read the subscription at all.
    let tenant = subscription_tenant(sub, subscription)?.or_else(|| caller.tenant_id.clone());

    let what = "reading the Microsoft.KeyVault provider's registration";
    let provider = provider.map_err(|e| call_err(what, e))?;
    let provider = match provider.status {
        200 => {
            let j = json_of(what, &provider_call, &provider)?;
            match str_at(&j, &["registrationState"]) {
                Some(state) => Read::Known(Provider {
                    namespace: str_at(&j, &["namespace"])
                        .unwrap_or("Microsoft.KeyVault")
                        .chars()
                        .take(128)
                        .collect(),
                    registration_state: state.chars().take(64).collect(),
                }),
                None => {
                    return Err(Error::Azure(format!(
                        "{what}: {} answered without 'registrationState'",
                        provider_call.describe()
                    )))
                }
            }
        }
        404 => Read::Unknown(format!(
            "{what}: ARM answered 404 for {}",
            provider_call.describe()
        )),
        _ => refused_or_fail(
            what,
            &provider_call,
            &provider,
            "Microsoft.Resources/subscriptions/providers/read on the subscription (e.g. Reader)",
        )?,
    };

    Ok(Basics {
        context: DeployContext {
            subscription_id: subscription.to_string(),
            resource_group: resource_group.to_string(),
            resource_group_id: format!("/{rg_path}"),
            resource_group_location: location,
            tenant_id: tenant,
            deployer_object_id: caller.object_id,
            deployment_name: deployment_name.to_string(),
        },
        provider,
    })
}

/// One read of [`read_state`].
enum Job<'a> {
    Vault(&'a VaultTarget),
    Name(&'a VaultTarget),
    Deleted(&'a str),
    Assignments(&'a str),
    Permissions(&'a str),
}

/// Its outcome.
enum Done {
    Vault(String, Read<Option<Json>>),
    Name(String, Read<NameAvailability>),
    Deleted(String, Read<Vec<DeletedVault>>),
    Assignments(String, Read<Vec<ExistingAssignment>>),
    Permissions(String, Read<Option<Vec<PermissionEntry>>>),
}

/// The first page's refusal, or what was kept of every item of every page.
enum Listed<T> {
    Items(Vec<T>),
    Refused(Reply),
}

/// Sends `first`; a refusal of it is the caller's to judge, anything else is the
/// whole list through [`list_pages`] (one budget for all its pages).
async fn list_all<R: AzureReader, T>(
    reader: &R,
    endpoints: &Endpoints,
    first: &Call,
    what: &str,
    needs: &str,
    item: impl FnMut(&Call, &Json) -> Result<Option<T>, Error>,
) -> Result<Listed<T>, Error> {
    let reply = reader
        .send(first.clone())
        .await
        .map_err(|e| call_err(what, e))?;
    if reply.status != 200 {
        return Ok(Listed::Refused(reply));
    }
    let items = list_pages(
        reader,
        endpoints,
        first,
        reply,
        what,
        needs,
        ListBudget::DEFAULT,
        item,
    )
    .await?;
    Ok(Listed::Items(items))
}

/// Soft-deleted vault type as ARM names it.
const DELETED_VAULT_TYPE: &str = "Microsoft.KeyVault/deletedVaults";

/// An item of `deletedVaults` in `subscription`; exit 3 unless it is one.
fn deleted_vault(
    what: &str,
    call: &Call,
    d: &Json,
    subscription: &str,
) -> Result<DeletedVault, Error> {
    let wanted = format!("only soft-deleted vaults of subscription '{subscription}'");
    let typed = str_at(d, &["type"]).is_some_and(|t| t.eq_ignore_ascii_case(DELETED_VAULT_TYPE));
    let props = d.get("properties").filter(|p| p.is_object());
    let (Some(name), Some(id), true, Some(_)) =
        (text(d, &["name"]), text(d, &["id"]), typed, props)
    else {
        let got = match str_at(d, &["id"]) {
            Some(id) => format!(
                "an item '{}' that is not a soft-deleted vault",
                server_text(id)
            ),
            None => "an item that is not a soft-deleted vault".to_string(),
        };
        return Err(foreign(what, call, &got, &wanted));
    };
    let in_subscription = IdScope::of(&id)
        .subscription
        .is_some_and(|s| s.eq_ignore_ascii_case(subscription));
    if !in_subscription {
        return Err(foreign(
            what,
            call,
            &format!("the soft-deleted vault '{}'", server_text(&id)),
            &wanted,
        ));
    }
    Ok(DeletedVault {
        name,
        id,
        vault_id: text(d, &["properties", "vaultId"]),
        location: text(d, &["properties", "location"]),
        deletion_date: text(d, &["properties", "deletionDate"]),
        scheduled_purge_date: text(d, &["properties", "scheduledPurgeDate"]),
        purge_protection_enabled: d
            .get("properties")
            .and_then(|p| p.get("purgeProtectionEnabled"))
            .and_then(Json::as_bool),
    })
}

/// An item of `Microsoft.Authorization/permissions`; exit 3 unless it is an
/// object whose `actions` and `notActions` (each optional) are lists of strings.
fn permission_entry(what: &str, call: &Call, e: &Json) -> Result<PermissionEntry, Error> {
    let list = |key: &str| -> Option<Vec<String>> {
        match e.get(key) {
            None | Some(Json::Null) => Some(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(|s| s.chars().take(512).collect()))
                .collect(),
            Some(_) => None,
        }
    };
    match (e.is_object(), list("actions"), list("notActions")) {
        (true, Some(actions), Some(not_actions)) => Ok(PermissionEntry {
            actions,
            not_actions,
        }),
        _ => Err(foreign(
            what,
            call,
            "an entry that is not a permission (an object with lists of actions)",
            "the caller's permissions",
        )),
    }
}

/// A string of an answer, bounded and with control characters escaped: these
/// end up in messages.
fn text(v: &Json, path: &[&str]) -> Option<String> {
    str_at(v, path).map(|s| server_text_within(s, 1024))
}

async fn run_job<R: AzureReader>(
    reader: &R,
    endpoints: &Endpoints,
    job: Job<'_>,
) -> Result<Done, Error> {
    match job {
        Job::Vault(v) => {
            let what = format!("reading vault '{}'", v.name);
            let call = Call::get(
                Api::Arm,
                join(&endpoints.arm, &v.id, &[("api-version", KEYVAULT_API)])?,
            );
            let reply = reader
                .send(call.clone())
                .await
                .map_err(|e| call_err(&what, e))?;
            let read = match reply.status {
                200 => {
                    let j = json_of(&what, &call, &reply)?;
                    // Another resource is no answer about this vault (issue 10).
                    expect_resource(&what, &call, &j, &v.id, "Microsoft.KeyVault/vaults")?;
                    Read::Known(Some(j))
                }
                404 => Read::Known(None),
                _ => refused_or_fail(
                    &what,
                    &call,
                    &reply,
                    "Microsoft.KeyVault/vaults/read on the resource group (e.g. Reader)",
                )?,
            };
            Ok(Done::Vault(v.id.clone(), read))
        }
        Job::Name(v) => {
            let what = format!("checking whether the vault name '{}' is available", v.name);
            let call = Call::post(
                Api::Arm,
                join(
                    &endpoints.arm,
                    &format!(
                        "subscriptions/{}/providers/Microsoft.KeyVault/checkNameAvailability",
                        v.subscription
                    ),
                    &[("api-version", KEYVAULT_API)],
                )?,
                json!({"name": v.name, "type": "Microsoft.KeyVault/vaults"}),
            );
            let reply = reader
                .send(call.clone())
                .await
                .map_err(|e| call_err(&what, e))?;
            let read = match reply.status {
                200 => {
                    let j = json_of(&what, &call, &reply)?;
                    let Some(available) = j.get("nameAvailable").and_then(Json::as_bool) else {
                        return Err(Error::Azure(format!(
                            "{what}: {} answered without 'nameAvailable'",
                            call.describe()
                        )));
                    };
                    Read::Known(NameAvailability {
                        name_available: available,
                        reason: str_at(&j, &["reason"]).map(server_text),
                        message: str_at(&j, &["message"]).map(server_text),
                    })
                }
                _ => refused_or_fail(
                    &what,
                    &call,
                    &reply,
                    "Microsoft.KeyVault/checkNameAvailability/read on the subscription \
                     (e.g. Reader)",
                )?,
            };
            Ok(Done::Name(v.id.clone(), read))
        }
        Job::Deleted(subscription) => {
            let what = "listing soft-deleted vaults";
            let needs = "Microsoft.KeyVault/deletedVaults/read on the subscription (e.g. Reader \
                         or Key Vault Contributor on the subscription)";
            let call = Call::get(
                Api::Arm,
                join(
                    &endpoints.arm,
                    &format!(
                        "subscriptions/{subscription}/providers/Microsoft.KeyVault/deletedVaults"
                    ),
                    &[("api-version", KEYVAULT_API)],
                )?,
            );
            let item = |call: &Call, d: &Json| deleted_vault(what, call, d, subscription).map(Some);
            let read = match list_all(reader, endpoints, &call, what, needs, item).await? {
                Listed::Items(items) => Read::Known(items),
                Listed::Refused(reply) => refused_or_fail(what, &call, &reply, needs)?,
            };
            Ok(Done::Deleted(subscription.to_string(), read))
        }
        Job::Assignments(scope) => {
            let what = format!("listing role assignments at '{scope}'");
            let needs = "Microsoft.Authorization/roleAssignments/read at that scope (e.g. Reader)";
            let call = Call::get(
                Api::Arm,
                join(
                    &endpoints.arm,
                    &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"),
                    &[("api-version", AUTHORIZATION_API), ("$filter", "atScope()")],
                )?,
            );
            // atScope() also returns inherited assignments: only those exactly at
            // the scope can collide with the template's.
            let item = |call: &Call, a: &Json| {
                let a = ExistingAssignment::parse(&what, call, a, scope)?;
                Ok((normalize_scope(&a.scope) == normalize_scope(scope)).then_some(a))
            };
            let read = match list_all(reader, endpoints, &call, &what, needs, item).await? {
                Listed::Items(items) => Read::Known(items),
                // The scope does not exist yet: nothing can be assigned there.
                Listed::Refused(r) if r.status == 404 => Read::Known(Vec::new()),
                Listed::Refused(r) => refused_or_fail(&what, &call, &r, needs)?,
            };
            Ok(Done::Assignments(scope.to_string(), read))
        }
        Job::Permissions(scope) => {
            let what = format!("reading the caller's permissions at '{scope}'");
            let needs = "nothing beyond a role at that scope; Azure refused to say";
            let call = Call::get(
                Api::Arm,
                join(
                    &endpoints.arm,
                    &format!("{scope}/providers/Microsoft.Authorization/permissions"),
                    &[("api-version", AUTHORIZATION_API)],
                )?,
            );
            let item = |call: &Call, e: &Json| permission_entry(&what, call, e).map(Some);
            let read = match list_all(reader, endpoints, &call, &what, needs, item).await? {
                Listed::Items(items) => Read::Known(Some(items)),
                Listed::Refused(r) if r.status == 404 => Read::Known(None),
                Listed::Refused(r) => refused_or_fail(&what, &call, &r, needs)?,
            };
            Ok(Done::Permissions(scope.to_string(), read))
        }
    }
}

/// Reads what the rules compare the template with, [`MAX_IN_FLIGHT`] requests at
/// a time. `context`, `provider` and `not_read` are carried into the state.
pub async fn read_state<R: AzureReader>(
    reader: &R,
    endpoints: &Endpoints,
    basics: Basics,
    targets: &Targets,
    not_read: Vec<String>,
) -> Result<PreflightState, Error> {
    let mut subscriptions: Vec<&str> = targets
        .vaults
        .iter()
        .map(|v| v.subscription.as_str())
        .collect();
    subscriptions.sort_unstable();
    subscriptions.dedup();
    let jobs: Vec<Job<'_>> = targets
        .vaults
        .iter()
        .flat_map(|v| [Job::Vault(v), Job::Name(v)])
        .chain(subscriptions.into_iter().map(Job::Deleted))
        .chain(
            targets
                .assignment_scopes
                .iter()
                .map(|s| Job::Assignments(s)),
        )
        .chain(
            targets
                .permission_scopes
                .iter()
                .map(|s| Job::Permissions(s)),
        )
        .collect();
    // The first read that ends the run ends it at once: what is in flight is
    // dropped and nothing more is sent (so one error is reported, not a race
    // between several).
    let done: Vec<Done> = stream::iter(jobs)
        .map(|job| Ok::<_, Error>(run_job(reader, endpoints, job)))
        .try_buffer_unordered(MAX_IN_FLIGHT)
        .try_collect()
        .await?;

    let mut existing = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut deleted = BTreeMap::new();
    let mut assignments = BTreeMap::new();
    let mut permissions = BTreeMap::new();
    for d in done {
        match d {
            Done::Vault(id, r) => {
                existing.insert(id, r);
            }
            Done::Name(id, r) => {
                names.insert(id, r);
            }
            Done::Deleted(sub, r) => {
                deleted.insert(sub, r);
            }
            Done::Assignments(scope, r) => {
                assignments.insert(scope, r);
            }
            Done::Permissions(scope, r) => {
                permissions.insert(scope, r);
            }
        }
    }
    fn missing<T>(what: &str) -> Read<T> {
        Read::Unknown(format!("{what} was not read"))
    }
    let vaults = targets
        .vaults
        .iter()
        .map(|v| VaultState {
            name: v.name.clone(),
            id: v.id.clone(),
            existing: existing
                .remove(&v.id)
                .unwrap_or_else(|| missing("the vault")),
            name_availability: names
                .remove(&v.id)
                .unwrap_or_else(|| missing("the name's availability")),
            deleted: match deleted.get(&v.subscription) {
                Some(Read::Known(list)) => {
                    Read::Known(list.iter().filter(|d| d.names(&v.name)).cloned().collect())
                }
                Some(Read::Unknown(why)) => Read::Unknown(why.clone()),
                None => missing("the soft-deleted vaults"),
            },
        })
        .collect();
    Ok(PreflightState {
        context: basics.context,
        provider: basics.provider,
        vaults,
        role_assignments: targets
            .assignment_scopes
            .iter()
            .map(|s| ScopeAssignments {
                scope: s.clone(),
                assignments: assignments
                    .remove(s)
                    .unwrap_or_else(|| missing("the role assignments")),
            })
            .collect(),
        permissions: targets
            .permission_scopes
            .iter()
            .map(|s| ScopePermissions {
                scope: s.clone(),
                permissions: permissions
                    .remove(s)
                    .unwrap_or_else(|| missing("the permissions")),
            })
            .collect(),
        not_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actions: &[&str], not_actions: &[&str]) -> PermissionEntry {
        PermissionEntry {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards_match_like_arm() {
        assert!(action_matches("*", "Microsoft.KeyVault/vaults/write"));
        // A server's megabyte of stars and letters is no action (and no hang).
        let huge = "*a".repeat(1 << 19) + "*";
        assert!(!action_matches(&huge, "Microsoft.KeyVault/vaults/write"));
        assert!(action_matches(
            &"*".repeat(MAX_ACTION_LEN),
            "Microsoft.KeyVault/vaults/write"
        ));
        assert!(action_matches(
            "Microsoft.KeyVault/*",
            "microsoft.keyvault/vaults/keys/write"
        ));
        assert!(action_matches("*/read", "Microsoft.KeyVault/vaults/read"));
        assert!(action_matches(
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/roleAssignments/write"
        ));
        assert!(!action_matches(
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/roleAssignments/read"
        ));
        assert!(!action_matches("*/read", "Microsoft.KeyVault/vaults/write"));
        assert!(!action_matches(
            "Microsoft.KeyVault/vaults",
            "Microsoft.KeyVault/vaults/write"
        ));
        assert!(action_matches("a*b*c", "axxbyyc"));
        assert!(!action_matches("a*b*c", "axxbyy"));
        assert!(action_matches("**", ""));
        assert!(!action_matches("", "x"));
    }

    #[test]
    fn not_actions_exclude_only_within_their_own_entry() {
        let contributor = entry(
            &["*"],
            &[
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ],
        );
        let ra_write = "Microsoft.Authorization/roleAssignments/write";
        assert!(allows(
            std::slice::from_ref(&contributor),
            "Microsoft.KeyVault/vaults/write"
        ));
        assert!(!allows(std::slice::from_ref(&contributor), ra_write));
        // A second role (User Access Administrator) grants what the first excludes.
        let uaa = entry(&["*/read", "Microsoft.Authorization/*"], &[]);
        assert!(allows(&[contributor.clone(), uaa], ra_write));
        assert!(!allows(&[], ra_write));
    }

    #[test]
    fn the_groups_permissions_stand_for_scopes_above_it_only() {
        let rg = "/subscriptions/s/resourceGroups/rg";
        let vault = format!("{rg}/providers/Microsoft.KeyVault/vaults/kv");
        let state = PreflightState {
            context: DeployContext {
                resource_group_id: rg.into(),
                ..DeployContext::default()
            },
            provider: Read::Unknown(String::new()),
            vaults: Vec::new(),
            role_assignments: Vec::new(),
            permissions: vec![
                ScopePermissions {
                    scope: rg.into(),
                    permissions: Read::Known(Some(vec![entry(&["*"], &[])])),
                },
                // A vault that does not exist yet inherits the group's.
                ScopePermissions {
                    scope: vault.clone(),
                    permissions: Read::Known(None),
                },
                ScopePermissions {
                    scope: "/subscriptions/s/resourceGroups/sibling".into(),
                    permissions: Read::Known(None),
                },
            ],
            not_read: Vec::new(),
        };
        let at = |scope: &str| state.permissions_for(scope).map(|a| (a.read_at, a.above));
        assert_eq!(at(&format!("{vault}/keys/k")), Some((rg, false)));
        assert_eq!(at("/SUBSCRIPTIONS/S/resourcegroups/RG"), Some((rg, false)));
        assert_eq!(at("/subscriptions/s"), Some((rg, true)));
        assert_eq!(at("/"), Some((rg, true)));
        // Neither above nor within the group: nothing read applies.
        assert_eq!(
            at("/subscriptions/s/resourceGroups/sibling/providers/x/y/z"),
            None
        );
        assert_eq!(at("/subscriptions/other"), None);
        assert_eq!(at("/subscriptions/s/resourceGroups/rg2"), None);
    }

    #[test]
    fn scopes_normalise_and_nest() {
        let id = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/KV/keys/k/providers/Microsoft.Authorization/roleAssignments/0b5f";
        let scope = assignment_scope(id).unwrap();
        assert_eq!(
            scope,
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/KV/keys/k"
        );
        assert_eq!(
            resource_group_of(&scope.to_ascii_lowercase()).as_deref(),
            Some("/subscriptions/s/resourceGroups/rg")
        );
        assert_eq!(normalize_scope("//subscriptions//S/"), "/subscriptions/s");
        let vault = IdScope::of("/Subscriptions/S//resourcegroups/RG/providers/x/vaults/kv");
        assert_eq!(
            (vault.subscription, vault.resource_group),
            (Some("S"), Some("RG"))
        );
        assert_eq!(
            IdScope::of("/subscriptions/S").resource_group_id(),
            None,
            "a subscription scope lies in no group"
        );
        assert_eq!(IdScope::of("/subscriptions/S").subscription, Some("S"));
        // Only a leading /subscriptions counts: not one further down the path.
        assert_eq!(
            IdScope::of("/providers/Microsoft.Management/managementGroups/mg/subscriptions/S"),
            IdScope::default()
        );
        assert_eq!(
            IdScope::of("Microsoft.KeyVault/vaults/kv"),
            IdScope::default()
        );
        assert!(within(&scope, "/subscriptions/s/resourcegroups/rg"));
        assert!(!within(
            "/subscriptions/s/resourcegroups/rg2",
            "/subscriptions/s/resourcegroups/rg"
        ));
        assert!(readable_scope(&scope));
        assert!(!readable_scope("/subscriptions/s/../../x"));
        assert!(!readable_scope("/subscriptions/s/a?b"));
        assert!(!readable_scope("Microsoft.KeyVault/vaults/kv"));
    }

    #[test]
    fn claims_come_from_the_payload_only() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            br#"{"oid":"CE2CE14E-85D7-4629-BDBC-454D0519D987","tid":"72f988bf-86f1-41af-91ab-2d7cd011db47"}"#,
        );
        let c = caller_from_jwt(&format!("eyJhbGciOiJub25lIn0.{payload}.sig"));
        assert_eq!(
            c.object_id.as_deref(),
            Some("ce2ce14e-85d7-4629-bdbc-454d0519d987")
        );
        assert_eq!(
            c.tenant_id.as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert_eq!(caller_from_jwt("opaque-token"), Caller::default());
        assert_eq!(caller_from_jwt("a.!!!.c"), Caller::default());
        let not_guid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"oid":"x"}"#);
        assert_eq!(
            caller_from_jwt(&format!("a.{not_guid}.c")),
            Caller::default()
        );
    }
}
