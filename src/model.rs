//! The normalised model both sources fill: vaults, keys and role assignments,
//! each remembering where it came from. Rules read only this.
//!
//! A template fills it through [`from_expansion`]; the live reader builds
//! [`Resource`]s with [`Resource::live`] from ARM GET responses, sets
//! [`Resource::scope`] with [`Scope::parse`] and, with `--probe`, [`Resource::probe`].

use crate::arm::expand::{ExpandedResource, Expansion};
use crate::arm::json::{pointer_push, pointer_tokens, Document};
use crate::diag::{Label, Location};
use crate::value::{Str, Str2, Value};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Which of the three resource kinds the CMEK rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Microsoft.KeyVault/vaults`.
    Vault,
    /// `Microsoft.KeyVault/vaults/keys`.
    Key,
    /// `Microsoft.Authorization/roleAssignments`.
    RoleAssignment,
}

impl Kind {
    /// The kind of an ARM resource type, if it is one the CMEK rules read.
    /// Old-style role assignments (`Microsoft.KeyVault/vaults/providers/roleAssignments`) count.
    pub fn of_type(resource_type: &str) -> Option<Kind> {
        let t = resource_type.to_ascii_lowercase();
        match t.as_str() {
            "microsoft.keyvault/vaults" => Some(Kind::Vault),
            "microsoft.keyvault/vaults/keys" => Some(Kind::Key),
            _ if t.ends_with("microsoft.authorization/roleassignments")
                || t.ends_with("/providers/roleassignments") =>
            {
                Some(Kind::RoleAssignment)
            }
            _ => None,
        }
    }

    /// The ARM type, as written in messages.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Vault => "Microsoft.KeyVault/vaults",
            Kind::Key => "Microsoft.KeyVault/vaults/keys",
            Kind::RoleAssignment => "Microsoft.Authorization/roleAssignments",
        }
    }
}

/// Which source filled a model item. Each source sees only part of what the rules
/// read (a template has no recovery level, the data plane no role assignments),
/// so a rule is reported only for items whose source can decide it
/// ([`crate::rules::Rule::decides`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provenance {
    /// An expanded template (`validate`, `preflight`).
    Template,
    /// Azure Resource Manager, read with the customer's identity (`check --vault --key`).
    Arm,
    /// The key's Key Vault data plane, read with the vendor's identity (`check --key-uri`).
    DataPlane,
}

impl Provenance {
    /// Every source, in the order `cmek-arm rules` lists them.
    pub const ALL: [Provenance; 3] = [Provenance::Template, Provenance::Arm, Provenance::DataPlane];

    /// As printed by `cmek-arm rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Template => "template",
            Provenance::Arm => "arm",
            Provenance::DataPlane => "data-plane",
        }
    }
}

/// What a role assignment's scope resolves to. Names may be symbolic (see
/// [`crate::value::Text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A key, by vault and key name.
    Key {
        /// Vault name.
        vault: Str2,
        /// Key name.
        key: Str2,
    },
    /// A vault.
    Vault {
        /// Vault name.
        vault: Str2,
    },
    /// A resource group, subscription, management group or the tenant root: above
    /// every vault in it. The string is the scope as written (resource ID prefix).
    Above(String),
    /// Some other resource (a storage account, another vault's secret, ...).
    Other(String),
    /// Could not be resolved; why.
    Unknown(String),
}

impl Scope {
    /// Parses a scope written as a full resource ID, a relative
    /// `Microsoft.KeyVault/vaults/<v>[/keys/<k>]`, or a resource-group/subscription ID.
    pub fn parse(scope: &str) -> Scope {
        Scope::parse_str(Str::Lit(scope))
    }

    /// [`Scope::parse`] of a plain or symbolic string: each symbol is read as
    /// (part of) one segment, as in every ID ARM accepts.
    pub fn parse_str(scope: Str<'_>) -> Scope {
        let shown = scope.display();
        let mut segs: Vec<Str2> = match scope {
            Str::Lit(s) => s
                .trim()
                .split('/')
                .map(|x| Str2::Lit(x.to_string()))
                .collect(),
            Str::Text(t) => t.name_segments(),
        };
        while segs.last().is_some_and(|s| s.as_lit() == Some("")) {
            segs.pop();
        }
        let lit = |s: &Str2, want: &str| s.as_lit().is_some_and(|x| x.eq_ignore_ascii_case(want));
        let absolute = segs.first().is_some_and(|s| s.as_lit() == Some(""));
        // Everything after the last `providers` segment names the resource.
        let resource_part: &[Str2] = match segs.iter().rposition(|s| lit(s, "providers")) {
            Some(i) if absolute || i > 0 => segs.get(i + 1..).unwrap_or_default(),
            _ if segs
                .first()
                .and_then(Str2::as_lit)
                .is_some_and(|s| s.to_ascii_lowercase().starts_with("microsoft.")) =>
            {
                &segs
            }
            _ => {
                let trimmed = shown.trim().trim_end_matches('/');
                return if segs.is_empty()
                    || (absolute && segs.get(1).is_none_or(|s| lit(s, "subscriptions")))
                {
                    Scope::Above(if trimmed.is_empty() { "/" } else { trimmed }.to_string())
                } else {
                    Scope::Other(trimmed.to_string())
                };
            }
        };
        let trimmed = shown.trim().trim_end_matches('/').to_string();
        match resource_part {
            [ns, vaults, v] if lit(ns, "microsoft.keyvault") && lit(vaults, "vaults") => {
                Scope::Vault { vault: v.clone() }
            }
            [ns, vaults, v, keys, k]
                if lit(ns, "microsoft.keyvault") && lit(vaults, "vaults") && lit(keys, "keys") =>
            {
                Scope::Key {
                    vault: v.clone(),
                    key: k.clone(),
                }
            }
            [ns, ..] if lit(ns, "microsoft.management") => Scope::Above(trimmed),
            _ => Scope::Other(trimmed),
        }
    }

    /// Whether this scope grants on key `key` of vault `vault` (on it or above
    /// it): `None` when that depends on what symbols stand for.
    pub fn covers_key(&self, vault: Str<'_>, key: Str<'_>) -> Option<bool> {
        match self {
            Scope::Key { vault: v, key: k } => and3(
                v.as_str2().equals(vault, true),
                k.as_str2().equals(key, true),
            ),
            _ => self.covers_vault(vault),
        }
    }

    /// Whether this scope is vault `vault` or above it (`None`: depends on symbols).
    pub fn covers_vault(&self, vault: Str<'_>) -> Option<bool> {
        match self {
            Scope::Vault { vault: v } => v.as_str2().equals(vault, true),
            Scope::Above(_) => Some(true),
            _ => Some(false),
        }
    }

    /// The vault it is on or in, for scopes on a vault or a key.
    pub fn vault(&self) -> Option<&Str2> {
        match self {
            Scope::Key { vault, .. } | Scope::Vault { vault } => Some(vault),
            _ => None,
        }
    }

    /// Why the names in it are not fully known (`None` when they are).
    pub fn reason(&self) -> Option<String> {
        match self {
            Scope::Key { vault, key } => vault.reason().or_else(|| key.reason()),
            Scope::Vault { vault } => vault.reason(),
            Scope::Unknown(why) => Some(why.clone()),
            _ => None,
        }
    }

    /// As written in messages.
    pub fn describe(&self) -> String {
        match self {
            Scope::Key { vault, key } => format!("key '{}/{}'", vault.display(), key.display()),
            Scope::Vault { vault } => format!("vault '{}'", vault.display()),
            Scope::Above(s) => format!("scope '{s}' (above the vault)"),
            Scope::Other(s) => format!("'{s}'"),
            Scope::Unknown(why) => format!("an unknown scope ({why})"),
        }
    }
}

/// Three-valued and: false wins, then unknown.
fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Outcome of the live wrap/unwrap probe (`check --probe`), set on a key by the live reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Wrapping and unwrapping 32 random bytes returned the same bytes.
    Passed,
    /// Unwrap returned different bytes.
    Mismatch,
    /// The data plane refused or failed; the string says which call and why.
    Failed(String),
    /// The probe could not run (e.g. the data plane was unreachable); why.
    Unknown(String),
}

/// Where one property of a template resource is written, and where its value was set.
#[derive(Debug, Clone)]
struct PropSource {
    location: Location,
    raw: Option<String>,
    /// (parameter or variable name, lower case; its label), deduplicated.
    labels: Vec<(String, Label)>,
}

/// A per-resource suppression entry (`metadata.cmek-arm.ignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The rule ID or name as written.
    pub rule: String,
    /// `metadata.cmek-arm.reason`, when given.
    pub reason: Option<String>,
    /// Where the entry is written.
    pub location: Location,
}

/// One resource in ARM shape (`name`, `location`, `properties`, ...), from a
/// template or from Azure. Values may be `Unknown`.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Which kind.
    pub kind: Kind,
    /// Full name (`vault/key` for keys), possibly unknown.
    pub name: Value,
    /// Resource ID, when it can be known.
    pub id: Value,
    /// The body in ARM resource shape.
    pub body: Value,
    /// Where it came from: a template pointer, or an Azure resource ID.
    pub origin: Location,
    /// Role assignments only: what the scope resolves to.
    pub scope: Option<Scope>,
    /// Keys only, live with `--probe`: the wrap/unwrap outcome.
    pub probe: Option<Probe>,
    /// Per-resource suppressions.
    pub suppressions: Vec<Suppression>,
    /// Set when the resource's `condition` could not be evaluated (why): it is
    /// checked, but what is wrong with it is only a note — it may not be deployed.
    pub deployed_if: Option<String>,
    /// Template resources: the symbolic name or copy loop with the copy index
    /// (`keyVault_roleAssignments[0]`), naming it where its name is unknown.
    pub handle: Option<String>,
    /// Which source filled it.
    pub provenance: Provenance,
    /// Template resources: property path (lower case, `/`-joined) -> source.
    sources: Arc<HashMap<String, PropSource>>,
}

/// The state of one property.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<T> {
    /// Not set (or `null`).
    Absent,
    /// Set, but not knowable statically; why.
    Unknown(String),
    /// Set to a value of the expected type.
    Known(T),
    /// Set to a value of another type (the type name found).
    Invalid(&'static str),
}

/// One property of a resource: its state, where it is, and where its value was set.
#[derive(Debug, Clone)]
pub struct Prop<T> {
    /// The value.
    pub val: Val<T>,
    /// The property (or, when absent, the object that lacks it).
    pub location: Location,
    /// "value set here" labels (parameter or variable the value came through).
    pub labels: Vec<Label>,
    /// The template text at the property, when it is an expression (`[...]`).
    pub raw: Option<String>,
}

impl<T> Prop<T> {
    /// Maps the known value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Prop<U> {
        Prop {
            val: match self.val {
                Val::Known(t) => Val::Known(f(t)),
                Val::Absent => Val::Absent,
                Val::Unknown(w) => Val::Unknown(w),
                Val::Invalid(t) => Val::Invalid(t),
            },
            location: self.location,
            labels: self.labels,
            raw: self.raw,
        }
    }
}

impl Resource {
    /// A resource from its parts (no template source map), read from ARM (see
    /// [`Resource::with_provenance`]). A role assignment's scope is resolved
    /// from `properties.scope`, as ARM GET responses carry it.
    pub fn new(kind: Kind, name: Value, id: Value, body: Value, origin: Location) -> Resource {
        let scope = (kind == Kind::RoleAssignment).then(|| {
            match body.path(&["properties", "scope"]).and_then(Value::as_str) {
                Some(s) => Scope::parse(s),
                None => Scope::Unknown("the role assignment has no properties.scope".into()),
            }
        });
        Resource {
            kind,
            name,
            id,
            body,
            origin,
            scope,
            probe: None,
            suppressions: Vec::new(),
            deployed_if: None,
            handle: None,
            provenance: Provenance::Arm,
            sources: Arc::default(),
        }
    }

    /// The same resource, recorded as filled by `provenance`.
    #[must_use]
    pub fn with_provenance(mut self, provenance: Provenance) -> Resource {
        self.provenance = provenance;
        self
    }

    /// Records that the property at `path` was not read but follows from
    /// something else (the data plane's purge protection from the key's recovery
    /// level): findings at it carry `why` as a label.
    #[must_use]
    pub fn derived(mut self, path: &[&str], why: impl Into<String>) -> Resource {
        let key = path.join("/").to_ascii_lowercase();
        let label = Label {
            location: self.origin.clone(),
            message: why.into(),
        };
        Arc::make_mut(&mut self.sources).insert(
            key.clone(),
            PropSource {
                location: self.origin.clone(),
                raw: None,
                labels: vec![(key, label)],
            },
        );
        self
    }

    /// A live resource from an ARM GET response body (`id`, `name`, `properties`, ...).
    pub fn live(kind: Kind, body: &serde_json::Value) -> Resource {
        let body = Value::from(body);
        let id = body.get("id").cloned().unwrap_or(Value::Null);
        let origin = Location::Azure {
            id: id.as_str().unwrap_or_default().to_string(),
        };
        let name = match (kind, id.as_str()) {
            // ARM returns the key's own name only; the model wants `vault/key`.
            (Kind::Key, Some(id)) => match Scope::parse(id) {
                Scope::Key { vault, key } => Value::String(format!("{vault}/{key}")),
                _ => body.get("name").cloned().unwrap_or(Value::Null),
            },
            _ => body.get("name").cloned().unwrap_or(Value::Null),
        };
        Resource::new(kind, name, id, body, origin)
    }

    /// The resource as `check --show-state` and `preflight --show-state` print it.
    pub fn state_json(&self) -> serde_json::Value {
        let kind = match self.kind {
            Kind::Vault => "vault",
            Kind::Key => "key",
            Kind::RoleAssignment => "roleAssignment",
        };
        let origin = match &self.origin {
            Location::Azure { id } => serde_json::json!({"azure": id}),
            Location::File { file, pointer, .. } => {
                serde_json::json!({"file": file, "pointer": pointer})
            }
            Location::None => serde_json::Value::Null,
        };
        serde_json::json!({"kind": kind, "name": self.name.to_json(), "id": self.id.to_json(),
                           "origin": origin, "body": self.body.to_json()})
    }

    /// The resource as named in messages: `Type/name` for templates, the ID for live resources.
    pub fn display(&self) -> String {
        if let Location::Azure { id } = &self.origin {
            if !id.is_empty() {
                return id.clone();
            }
        }
        match &self.name {
            Value::String(_) | Value::Text(_) => {
                format!("{}/{}", self.kind.type_name(), self.name.display())
            }
            _ => self.handle(),
        }
    }

    /// The resource's name for messages: as ARM will name it (symbols in braces),
    /// else its symbolic name and copy index, else where it is declared.
    pub fn name_for_messages(&self) -> String {
        match &self.name {
            Value::String(_) | Value::Text(_) => self.name.display(),
            _ => self.handle(),
        }
    }

    /// `keyVault_roleAssignments[0]`, or the type and declaration's pointer.
    fn handle(&self) -> String {
        match (&self.handle, &self.origin) {
            (Some(h), _) => h.clone(),
            (None, Location::File { pointer, .. }) => {
                format!("{} at {pointer}", self.kind.type_name())
            }
            _ => format!("{} with an unknown name", self.kind.type_name()),
        }
    }

    /// The name's `/`-segments (`[v, k]` for a key), when its value is a string.
    fn name_segments(&self) -> Option<Vec<Str2>> {
        match &self.name {
            Value::String(n) => Some(n.split('/').map(|x| Str2::Lit(x.to_string())).collect()),
            Value::Text(t) => Some(t.name_segments()),
            _ => None,
        }
    }

    /// The resource's own name: the last segment (`k` of `v/k`), if its value is a string.
    pub fn short_name(&self) -> Option<Str2> {
        self.name_segments()?.pop()
    }

    /// The parent vault's name for a key (`v` of `v/k`), the vault's own name.
    pub fn vault_name(&self) -> Option<Str2> {
        let segs = self.name_segments()?;
        match self.kind {
            Kind::Vault => segs.into_iter().next(),
            _ if segs.len() >= 2 => segs.into_iter().next(),
            _ => None,
        }
    }

    /// Where the property at `path` is (or the object lacking it), with its labels.
    fn source(&self, path: &[&str]) -> (Location, Vec<Label>, Option<String>) {
        locate(&self.sources, &self.origin, path)
    }

    /// The raw value at `path` with its location; `Val` holds the value itself.
    pub fn prop(&self, path: &[&str]) -> Prop<&Value> {
        let (location, labels, raw) = self.source(path);
        let mut cur = &self.body;
        let mut val = Val::Known(cur);
        for key in path {
            match cur {
                Value::Unknown(why) => {
                    val = Val::Unknown(why.clone());
                    break;
                }
                Value::Choice(c) => {
                    val = Val::Unknown(format!("it depends on {}", c.why));
                    break;
                }
                Value::Object(_) => match cur.get(key) {
                    Some(next) => cur = next,
                    None => {
                        val = Val::Absent;
                        break;
                    }
                },
                _ => {
                    val = Val::Absent;
                    break;
                }
            }
            val = Val::Known(cur);
        }
        let val = match val {
            Val::Known(Value::Null) => Val::Absent,
            Val::Known(Value::Unknown(why)) => Val::Unknown(why.clone()),
            // Rules that can decide over symbols read them with `text()`.
            Val::Known(Value::Text(t)) => Val::Unknown(t.reason()),
            // Rules see choices one option at a time (`Deployment::variants`); one
            // left here is among too many to enumerate.
            Val::Known(Value::Choice(c)) => Val::Unknown(format!("it depends on {}", c.why)),
            other => other,
        };
        Prop {
            val,
            location,
            labels,
            raw,
        }
    }

    /// A string property, plain or symbolic (where [`Resource::str`] says unknown).
    pub fn text(&self, path: &[&str]) -> Prop<Str2> {
        let (location, labels, raw) = self.source(path);
        let raw_val = path.iter().try_fold(&self.body, |v, k| match v {
            Value::Object(_) => v.get(k),
            _ => None,
        });
        let val = match raw_val {
            Some(v @ (Value::String(_) | Value::Text(_))) => Val::Known(Str2::from(v.clone())),
            _ => match self.str(path).val {
                Val::Known(s) => Val::Known(Str2::Lit(s)),
                Val::Absent => Val::Absent,
                Val::Unknown(w) => Val::Unknown(w),
                Val::Invalid(t) => Val::Invalid(t),
            },
        };
        Prop {
            val,
            location,
            labels,
            raw,
        }
    }

    /// A boolean property.
    pub fn bool(&self, path: &[&str]) -> Prop<bool> {
        self.typed(path, |v| v.as_bool())
    }

    /// A string property.
    pub fn str(&self, path: &[&str]) -> Prop<String> {
        self.typed(path, |v| v.as_str().map(str::to_string))
    }

    /// An integer property.
    pub fn int(&self, path: &[&str]) -> Prop<i64> {
        self.typed(path, Value::as_i64)
    }

    /// An array property (items may be unknown).
    pub fn array(&self, path: &[&str]) -> Prop<Vec<Value>> {
        self.typed(path, |v| v.as_array().cloned())
    }

    fn typed<T>(&self, path: &[&str], f: impl FnOnce(&Value) -> Option<T>) -> Prop<T> {
        let p = self.prop(path);
        let val = match p.val {
            Val::Known(v) => match f(v) {
                Some(t) => Val::Known(t),
                None => Val::Invalid(v.type_name()),
            },
            Val::Absent => Val::Absent,
            Val::Unknown(w) => Val::Unknown(w),
            Val::Invalid(t) => Val::Invalid(t),
        };
        Prop {
            val,
            location: p.location,
            labels: p.labels,
            raw: p.raw,
        }
    }

    /// The location of the property at `path` (or of the object that lacks it).
    pub fn location_of(&self, path: &[&str]) -> Location {
        self.source(path).0
    }

    /// The location of the resource itself.
    pub fn location(&self) -> Location {
        self.source(&[]).0
    }
}

/// Accessors named after the vault properties the rules read.
impl Resource {
    /// `properties.enablePurgeProtection`.
    pub fn purge_protection(&self) -> Prop<bool> {
        self.bool(&["properties", "enablePurgeProtection"])
    }
    /// `properties.enableSoftDelete`.
    pub fn soft_delete(&self) -> Prop<bool> {
        self.bool(&["properties", "enableSoftDelete"])
    }
    /// `properties.softDeleteRetentionInDays`.
    pub fn retention_days(&self) -> Prop<i64> {
        self.int(&["properties", "softDeleteRetentionInDays"])
    }
    /// `properties.enableRbacAuthorization`.
    pub fn rbac_authorization(&self) -> Prop<bool> {
        self.bool(&["properties", "enableRbacAuthorization"])
    }
    /// `location`.
    pub fn region(&self) -> Prop<String> {
        self.str(&["location"])
    }
    /// `properties.sku.name` (`standard` / `premium`).
    pub fn sku_name(&self) -> Prop<String> {
        self.str(&["properties", "sku", "name"])
    }
    /// `properties.tenantId`.
    pub fn tenant_id(&self) -> Prop<String> {
        self.str(&["properties", "tenantId"])
    }
    /// `properties.publicNetworkAccess`.
    pub fn public_network_access(&self) -> Prop<String> {
        self.str(&["properties", "publicNetworkAccess"])
    }
    /// `properties.networkAcls.defaultAction`.
    pub fn firewall_default_action(&self) -> Prop<String> {
        self.str(&["properties", "networkAcls", "defaultAction"])
    }
    /// `properties.networkAcls.ipRules`.
    pub fn firewall_ip_rules(&self) -> Prop<Vec<Value>> {
        self.array(&["properties", "networkAcls", "ipRules"])
    }
}

/// Accessors named after the key properties the rules read.
impl Resource {
    /// `properties.kty`.
    pub fn key_type(&self) -> Prop<String> {
        self.str(&["properties", "kty"])
    }
    /// `properties.keySize`.
    pub fn key_size(&self) -> Prop<i64> {
        self.int(&["properties", "keySize"])
    }
    /// `properties.keyOps`.
    pub fn key_ops(&self) -> Prop<Vec<Value>> {
        self.array(&["properties", "keyOps"])
    }
    /// `properties.attributes.enabled`.
    pub fn key_enabled(&self) -> Prop<bool> {
        self.bool(&["properties", "attributes", "enabled"])
    }
    /// `properties.attributes.exp` (seconds since the Unix epoch).
    pub fn key_expires(&self) -> Prop<i64> {
        self.int(&["properties", "attributes", "exp"])
    }
    /// `properties.attributes.nbf` (seconds since the Unix epoch).
    pub fn key_not_before(&self) -> Prop<i64> {
        self.int(&["properties", "attributes", "nbf"])
    }
    /// `properties.rotationPolicy.lifetimeActions`.
    pub fn rotation_actions(&self) -> Prop<Vec<Value>> {
        self.array(&["properties", "rotationPolicy", "lifetimeActions"])
    }
    /// `properties.rotationPolicy.attributes.expiryTime` (ISO 8601 duration).
    pub fn rotation_expiry(&self) -> Prop<String> {
        self.str(&["properties", "rotationPolicy", "attributes", "expiryTime"])
    }
    /// The key's recovery level: `properties.attributes.recoveryLevel` (ARM GET)
    /// or `properties.recoveryLevel`.
    pub fn recovery_level(&self) -> Prop<String> {
        let p = self.str(&["properties", "attributes", "recoveryLevel"]);
        if p.val == Val::Absent {
            let q = self.str(&["properties", "recoveryLevel"]);
            if q.val != Val::Absent {
                return q;
            }
        }
        p
    }
}

/// Accessors named after the role-assignment properties the rules read.
impl Resource {
    /// `properties.roleDefinitionId`.
    pub fn role_definition_id(&self) -> Prop<String> {
        self.str(&["properties", "roleDefinitionId"])
    }
    /// `properties.principalId`.
    pub fn principal_id(&self) -> Prop<String> {
        self.str(&["properties", "principalId"])
    }
    /// `properties.principalType`.
    pub fn principal_type(&self) -> Prop<String> {
        self.str(&["properties", "principalType"])
    }
    /// The resolved scope (`Unknown` when none was resolved).
    pub fn resolved_scope(&self) -> Scope {
        self.scope
            .clone()
            .unwrap_or_else(|| Scope::Unknown("the scope was not resolved".into()))
    }
}

/// The last `/`-segment of an ID (the GUID of a role definition or principal ID),
/// for plain or symbolic strings; `None` when a symbol may hold a `/`.
pub fn guid_tail(id: Str<'_>) -> Option<Str2> {
    match id {
        Str::Lit(s) => Some(Str2::Lit(
            s.trim()
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        )),
        Str::Text(t) => {
            // Only the text after the last literal `/` is the tail, whatever the symbols hold.
            let parts = t.parts();
            let last_slash = parts.iter().rposition(
                |p| matches!(p, crate::value::text::Part::Lit(l) if l.trim_end_matches('/').contains('/')),
            );
            match last_slash {
                Some(i) => {
                    let mut b = crate::value::TextBuilder::default();
                    if let Some(crate::value::text::Part::Lit(l)) = parts.get(i) {
                        let l = l.trim_end_matches('/');
                        b.push_str(l.rsplit('/').next().unwrap_or_default());
                    }
                    for p in parts.get(i + 1..).unwrap_or_default() {
                        match p {
                            crate::value::text::Part::Lit(l) => b.push_str(l),
                            crate::value::text::Part::Sym(sym) => b.push_sym(sym.clone()),
                        }
                    }
                    Some(Str2::from(b.finish()))
                }
                // No literal `/`: the whole text is the tail if no symbol can hold one.
                None if t
                    .symbols()
                    .all(|s| s.atom.shape != crate::value::Shape::Any) =>
                {
                    Some(Str2::Text(t.clone()))
                }
                None => Some(Str2::Text(t.clone())),
            }
        }
    }
}

/// Whether two IDs name the same GUID (trailing segment, ignoring case), for
/// plain or symbolic strings: `None` when that depends on what symbols stand for.
pub fn same_guid_str(a: Str<'_>, b: Str<'_>) -> Option<bool> {
    let (Some(x), Some(y)) = (guid_tail(a), guid_tail(b)) else {
        return None;
    };
    if x.as_lit() == Some("") || y.as_lit() == Some("") {
        return Some(false);
    }
    x.as_str2().equals(y.as_str2(), true)
}

/// True when two IDs name the same GUID: role definition and principal IDs may be
/// bare GUIDs or full resource IDs; the trailing GUID decides, case-insensitively.
pub fn same_guid(a: &str, b: &str) -> bool {
    let tail = |s: &str| {
        s.trim()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let (a, b) = (tail(a), tail(b));
    !a.is_empty() && a == b
}

/// Everything one deployment (or one live read) holds.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// Vaults, keys and role assignments that are deployed, in source order.
    pub resources: Vec<Resource>,
    /// Vaults and keys declared `existing`: not checked, but they can be scopes and parents.
    pub existing: Vec<Resource>,
    /// Suppressions written on resources of other types (for template rules' findings).
    pub others: Vec<Suppressed>,
    /// The tenant the deployment runs in, where known as a value or a symbol
    /// (templates: `subscription().tenantId`).
    pub tenant: Option<Value>,
}

/// The suppressions written on one resource that is not a vault, key or role assignment.
#[derive(Debug, Clone)]
pub struct Suppressed {
    /// `Type/name`, as findings name it.
    pub resource: String,
    /// Where it is declared.
    pub origin: Location,
    /// Its `metadata.cmek-arm.ignore` entries.
    pub entries: Vec<Suppression>,
}

impl Deployment {
    /// The deployed resources of one kind.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    /// Deployed vaults.
    pub fn vaults(&self) -> impl Iterator<Item = &Resource> {
        self.of(Kind::Vault)
    }

    /// Deployed keys.
    pub fn keys(&self) -> impl Iterator<Item = &Resource> {
        self.of(Kind::Key)
    }

    /// Deployed role assignments.
    pub fn role_assignments(&self) -> impl Iterator<Item = &Resource> {
        self.of(Kind::RoleAssignment)
    }

    /// Adds another deployment's resources (several templates in one run share one
    /// `Settings::apply`, so an `--ignore` used by any template counts as used).
    pub fn merge(&mut self, other: Deployment) {
        self.resources.extend(other.resources);
        self.existing.extend(other.existing);
        self.others.extend(other.others);
        if self.tenant.is_none() {
            self.tenant = other.tenant;
        }
    }

    /// Every way the choices in the deployed resources' properties can fall (an
    /// `if()` whose condition is unknown), as deployments without those choices,
    /// made one at a time ([`Variants::get`]); `None` when there is no choice,
    /// or more than `max` combinations (the choices then read as unknown).
    /// Combining independently over-approximates (two `if()`s on one condition
    /// give four variants, not two), which can only turn a verdict into a note,
    /// never invent one.
    pub fn variants(&self, max: usize) -> Option<Variants<'_>> {
        let mut points: Vec<(usize, Vec<Seg>, Arc<crate::value::Choice>)> = Vec::new();
        for (i, r) in self.resources.iter().enumerate() {
            collect_choices(&r.body, &mut Vec::new(), &mut |path, c| {
                points.push((i, path.to_vec(), c.clone()));
            });
            // More choices than combinations allowed: no need to find them all.
            if points.len() > max {
                return None;
            }
        }
        if points.is_empty() {
            return None;
        }
        let mut count: usize = 1;
        for (_, _, c) in &points {
            count = count.saturating_mul(c.options.len());
            if count > max {
                return None;
            }
        }
        let mut why: Vec<&str> = Vec::new();
        for (_, _, c) in &points {
            if !why.contains(&c.why.as_str()) {
                why.push(&c.why);
            }
        }
        let why = why.join("; ");
        Some(Variants {
            deployment: self,
            points,
            count,
            why,
        })
    }

    /// The vault named `name`, deployed or existing (names compare ignoring case;
    /// symbolic names only where they are the same for every value).
    pub fn vault(&self, name: Str<'_>) -> Option<&Resource> {
        self.resources.iter().chain(&self.existing).find(|r| {
            r.kind == Kind::Vault
                && r.name
                    .as_str2()
                    .is_some_and(|n| n.equals(name, true) == Some(true))
        })
    }
}

/// The combinations of a deployment's choices (see [`Deployment::variants`]).
pub struct Variants<'d> {
    deployment: &'d Deployment,
    points: Vec<(usize, Vec<Seg>, Arc<crate::value::Choice>)>,
    /// How many there are.
    pub count: usize,
    /// What decides the choices.
    pub why: String,
}

impl Variants<'_> {
    /// Combination `n` (0 ≤ n < count): the deployment with each choice replaced
    /// by one of its options.
    pub fn get(&self, mut n: usize) -> Deployment {
        let mut d = self.deployment.clone();
        for (i, path, c) in &self.points {
            let k = c.options.len().max(1);
            let pick = c.options.get(n % k).cloned().unwrap_or(Value::Null);
            n /= k;
            if let Some(r) = d.resources.get_mut(*i) {
                set_at(&mut r.body, path, pick);
            }
        }
        d
    }
}

/// A step of a path into a value.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Calls `f` with the path of every outermost choice in `v`.
fn collect_choices(
    v: &Value,
    path: &mut Vec<Seg>,
    f: &mut dyn FnMut(&[Seg], &Arc<crate::value::Choice>),
) {
    match v {
        Value::Choice(c) => f(path, c),
        Value::Object(m) => {
            for (k, x) in m {
                path.push(Seg::Key(k.clone()));
                collect_choices(x, path, f);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                collect_choices(x, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Replaces the value at `path` (which exists: it was collected from `v`).
fn set_at(v: &mut Value, path: &[Seg], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    let next = match (v, first) {
        (Value::Object(m), Seg::Key(k)) => m.get_mut(k),
        (Value::Array(a), Seg::Index(i)) => a.get_mut(*i),
        _ => None,
    };
    if let Some(next) = next {
        set_at(next, rest, new);
    }
}

/// Builds the model from an expanded template (no parameters file).
pub fn from_expansion(expansion: &Expansion, template: &Document) -> Deployment {
    from_expansion_with(expansion, template, None)
}

/// Builds the model from an expanded template and its parameters file, so
/// findings can point at the parameter value that set a property.
pub fn from_expansion_with(
    expansion: &Expansion,
    template: &Document,
    parameters: Option<&Document>,
) -> Deployment {
    let symbols = symbol_table(expansion);
    let mut deployment = Deployment {
        tenant: Some(expansion.tenant.clone()),
        ..Deployment::default()
    };
    // Copies of one declaration (copy loops) share its source map.
    let mut maps: HashMap<String, Arc<HashMap<String, PropSource>>> = HashMap::new();
    for er in &expansion.resources {
        let kind = Kind::of_type(&er.resource_type);
        // A source map walks the whole declaration (a nested deployment holds a
        // whole template) with a location per node; only the resources the CMK
        // rules read and those carrying suppressions need one.
        if kind.is_none() && er.body.path(&["metadata", "cmek-arm", "ignore"]).is_none() {
            continue;
        }
        let sources = match &er.origin {
            Location::File { pointer, .. } => maps
                .entry(pointer.clone())
                .or_insert_with(|| {
                    let mut map = HashMap::new();
                    collect_sources(template, parameters, pointer, &mut map);
                    Arc::new(map)
                })
                .clone(),
            _ => Arc::default(),
        };
        let Some(kind) = kind else {
            // Template rules report on every resource type: their suppressions count too.
            let entries = suppressions(&er.body, &sources, &er.origin);
            if !entries.is_empty() {
                let resource = match (&er.name, &er.handle, &er.origin) {
                    (Value::String(_) | Value::Text(_), _, _) => {
                        format!("{}/{}", er.resource_type, er.name.display())
                    }
                    (_, Some(h), _) => h.clone(),
                    (_, None, Location::File { pointer, .. }) => {
                        format!("{} at {pointer}", er.resource_type)
                    }
                    _ => format!("{} with an unknown name", er.resource_type),
                };
                deployment.others.push(Suppressed {
                    resource,
                    origin: er.origin.clone(),
                    entries,
                });
            }
            continue;
        };
        let mut res = Resource {
            kind,
            name: er.name.clone(),
            id: er.id.clone(),
            body: er.body.clone(),
            origin: er.origin.clone(),
            scope: None,
            probe: None,
            suppressions: Vec::new(),
            deployed_if: None,
            handle: er.handle.clone(),
            provenance: Provenance::Template,
            sources,
        };
        if kind == Kind::RoleAssignment {
            res.scope = Some(template_scope(er, &symbols));
        }
        if !matches!(er.condition, Value::Bool(true)) {
            res.deployed_if = Some(
                er.condition
                    .opaque_reason()
                    .unwrap_or_else(|| format!("it evaluates to {}", er.condition.display())),
            );
        }
        res.suppressions = suppressions(&res.body, &res.sources, &res.origin);
        if er.existing {
            deployment.existing.push(res);
        } else {
            deployment.resources.push(res);
        }
    }
    deployment
}

/// (template pointer prefix, symbolic name) -> the vault/key scope it names.
type Symbols = HashMap<(String, String), Scope>;

fn symbol_table(expansion: &Expansion) -> Symbols {
    let mut symbols = HashMap::new();
    for er in &expansion.resources {
        let Location::File { pointer, .. } = &er.origin else {
            continue;
        };
        let Some((prefix, last)) = pointer.rsplit_once('/') else {
            continue;
        };
        // Symbolic names are object keys under `resources`; array indexes are not names.
        if !prefix.ends_with("/resources") || last.parse::<usize>().is_ok() {
            continue;
        }
        let segs = match &er.name {
            Value::String(n) => n.split('/').map(|x| Str2::Lit(x.to_string())).collect(),
            Value::Text(t) => t.name_segments(),
            _ => Vec::new(),
        };
        let scope = match (Kind::of_type(&er.resource_type), segs.as_slice()) {
            (Some(Kind::Vault), [v]) => Scope::Vault { vault: v.clone() },
            (Some(Kind::Key), [v, k]) => Scope::Key {
                vault: v.clone(),
                key: k.clone(),
            },
            (Some(Kind::Vault | Kind::Key), _) => continue,
            _ => match er.id.as_str2() {
                Some(id) => Scope::parse_str(id),
                None => continue,
            },
        };
        let name = last.replace("~1", "/").replace("~0", "~");
        symbols.insert((prefix.to_string(), name.to_ascii_lowercase()), scope);
    }
    symbols
}

/// Resolves a template role assignment's scope: its `scope` property (ID, relative
/// ID or symbolic name), the old `<vault>/<key>/Microsoft.Authorization/<guid>` child
/// form, or else the deployment it is in (a resource group: above every vault).
fn template_scope(er: &ExpandedResource, symbols: &Symbols) -> Scope {
    match er.body.get("scope") {
        Some(Value::String(s)) if !s.contains('/') => {
            let prefix = match &er.origin {
                Location::File { pointer, .. } => pointer
                    .rsplit_once('/')
                    .map(|(p, _)| p.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            return symbols
                .get(&(prefix, s.to_ascii_lowercase()))
                .cloned()
                .unwrap_or_else(|| Scope::Other(s.clone()));
        }
        Some(v @ (Value::String(_) | Value::Text(_))) => {
            return v.as_str2().map_or_else(
                || Scope::Unknown("the scope is not a string".into()),
                Scope::parse_str,
            )
        }
        Some(Value::Unknown(why)) => return Scope::Unknown(why.clone()),
        Some(Value::Choice(c)) => return Scope::Unknown(format!("it depends on {}", c.why)),
        Some(Value::Null) | None => {}
        Some(other) => return Scope::Other(format!("a {} value", other.type_name())),
    }
    let t = er.resource_type.to_ascii_lowercase();
    if let Some(parent_type) = t.strip_suffix("/providers/roleassignments") {
        // Old child form: name is `<parent name segments>/Microsoft.Authorization/<guid>`.
        let segs = match &er.name {
            Value::String(n) => n.split('/').map(|x| Str2::Lit(x.to_string())).collect(),
            Value::Text(t) => t.name_segments(),
            _ => return Scope::Unknown("the role assignment's name is not known".into()),
        };
        let parent = segs.get(..segs.len().saturating_sub(2)).unwrap_or_default();
        return match (parent_type, parent) {
            ("microsoft.keyvault/vaults", [v]) => Scope::Vault { vault: v.clone() },
            ("microsoft.keyvault/vaults/keys", [v, k]) => Scope::Key {
                vault: v.clone(),
                key: k.clone(),
            },
            _ => Scope::Other(format!(
                "{parent_type}/{}",
                parent
                    .iter()
                    .map(Str2::display)
                    .collect::<Vec<_>>()
                    .join("/")
            )),
        };
    }
    let segs = match &er.id {
        Value::String(id) => id.split('/').map(|x| Str2::Lit(x.to_string())).collect(),
        Value::Text(t) => t.name_segments(),
        // Without a scope property the assignment applies where it is deployed.
        _ => return Scope::Above("the deployment's resource group".into()),
    };
    let is = |i: usize, want: &str| {
        segs.get(i)
            .and_then(Str2::as_lit)
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    let at = (0..segs.len()).rev().find(|&i| {
        is(i, "providers") && is(i + 1, "Microsoft.Authorization") && is(i + 2, "roleAssignments")
    });
    match at {
        Some(i) => {
            let mut b = crate::value::TextBuilder::default();
            for (n, seg) in segs.get(..i).unwrap_or_default().iter().enumerate() {
                if n > 0 {
                    b.push_str("/");
                }
                b.push(seg.as_str2());
            }
            let prefix = b.finish();
            prefix
                .as_str2()
                .map_or_else(|| Scope::Unknown("no scope".into()), Scope::parse_str)
        }
        None => Scope::Above("the deployment's scope".into()),
    }
}

fn expression_refs() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(parameters|variables)\s*\(\s*'([^']*)'\s*\)")
            .unwrap_or_else(|_| unreachable!("the pattern is a literal"))
    })
}

/// Records, for every node of the resource's raw template object, its location,
/// its expression text and where a parameter or variable it uses was set.
fn collect_sources(
    template: &Document,
    parameters: Option<&Document>,
    origin: &str,
    out: &mut HashMap<String, PropSource>,
) {
    let Some(raw) = template.value.pointer(origin) else {
        return;
    };
    let scope = TemplateScope::of(template, origin);
    let mut stack: Vec<(String, String, &serde_json::Value)> =
        vec![(String::new(), origin.to_string(), raw)];
    while let Some((rel, ptr, node)) = stack.pop() {
        let mut src = PropSource {
            location: template.location(&ptr),
            raw: None,
            labels: Vec::new(),
        };
        match node {
            serde_json::Value::String(s) if s.starts_with('[') && !s.starts_with("[[") => {
                src.raw = Some(s.clone());
                for cap in expression_refs().captures_iter(s) {
                    let (Some(kind), Some(name)) = (cap.get(1), cap.get(2)) else {
                        continue;
                    };
                    let is_param = kind.as_str().eq_ignore_ascii_case("parameters");
                    let Some(label) = scope.label(template, parameters, is_param, name.as_str())
                    else {
                        continue;
                    };
                    if !src.labels.iter().any(|(_, l)| *l == label) {
                        src.labels.push((name.as_str().to_ascii_lowercase(), label));
                    }
                }
                // Where a value was set, the declarations of unset parameters add nothing.
                if src
                    .labels
                    .iter()
                    .any(|(_, l)| l.message.starts_with("value set here"))
                {
                    src.labels
                        .retain(|(_, l)| l.message.starts_with("value set here"));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    stack.push((rel_push(&rel, k), pointer_push(&ptr, k), v));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let i = i.to_string();
                    stack.push((rel_push(&rel, &i), pointer_push(&ptr, &i), v));
                }
            }
            _ => {}
        }
        out.insert(rel, src);
    }
}

/// Extends a source-map key (lower case: ARM property names are case-insensitive).
fn rel_push(rel: &str, token: &str) -> String {
    if rel.is_empty() {
        token.to_ascii_lowercase()
    } else {
        format!("{rel}/{}", token.to_ascii_lowercase())
    }
}

/// The template a resource's expressions are evaluated in: the top level, or a
/// nested deployment with `expressionEvaluationOptions.scope: inner`.
struct TemplateScope {
    /// Pointer of the template object (`""` for the file's root).
    root: String,
    /// Pointer of the nested deployment resource, when nested.
    deployment: Option<String>,
}

impl TemplateScope {
    fn of(template: &Document, origin: &str) -> TemplateScope {
        let tokens: Vec<String> = pointer_tokens(origin).collect();
        let mut prefix = String::new();
        let mut scope = TemplateScope {
            root: String::new(),
            deployment: None,
        };
        let mut i = 0;
        while i < tokens.len() {
            let Some(token) = tokens.get(i) else { break };
            let deployment_ptr = prefix.clone();
            prefix = pointer_push(&prefix, token);
            let is_template = token == "template"
                && i >= 1
                && tokens.get(i - 1).is_some_and(|t| t == "properties");
            if is_template {
                let dep = deployment_ptr
                    .rsplit_once('/')
                    .map(|(p, _)| p.to_string())
                    .unwrap_or_default();
                let inner = template
                    .value
                    .pointer(&format!(
                        "{dep}/properties/expressionEvaluationOptions/scope"
                    ))
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
                if inner {
                    scope = TemplateScope {
                        root: prefix.clone(),
                        deployment: Some(dep),
                    };
                }
            }
            i += 1;
        }
        scope
    }

    /// "value set here" for `parameters('name')` or `variables('name')`.
    fn label(
        &self,
        template: &Document,
        parameters: Option<&Document>,
        is_param: bool,
        name: &str,
    ) -> Option<Label> {
        let find_key = |obj_ptr: &str, doc: &Document| -> Option<String> {
            let obj = doc.value.pointer(obj_ptr)?.as_object()?;
            obj.keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .map(|k| pointer_push(obj_ptr, k))
        };
        let at = |doc: &Document, ptr: &str, message: String| Label {
            location: doc.location(ptr),
            message,
        };
        if !is_param {
            let ptr = find_key(&format!("{}/variables", self.root), template)?;
            return Some(at(
                template,
                &ptr,
                format!("value set here (variable '{name}')"),
            ));
        }
        let given = match (&self.deployment, parameters) {
            (Some(dep), _) => {
                find_key(&format!("{dep}/properties/parameters"), template).map(|p| (template, p))
            }
            (None, Some(params)) => find_key("/parameters", params).map(|p| (params, p)),
            (None, None) => None,
        };
        if let Some((doc, ptr)) = given {
            let value_ptr = pointer_push(&ptr, "value");
            let ptr = if doc.span(&value_ptr).is_some() {
                value_ptr
            } else {
                ptr
            };
            return Some(at(
                doc,
                &ptr,
                format!("value set here (parameter '{name}')"),
            ));
        }
        let decl = find_key(&format!("{}/parameters", self.root), template)?;
        let default = pointer_push(&decl, "defaultValue");
        if template.span(&default).is_some() {
            return Some(at(
                template,
                &default,
                format!("value set here (default of parameter '{name}')"),
            ));
        }
        Some(at(
            template,
            &decl,
            format!("parameter '{name}' declared here"),
        ))
    }
}

/// Reads `metadata.cmek-arm.ignore` (+ `reason`) of a resource.
/// Where the property at `path` is (or the object lacking it), with its labels.
fn locate(
    sources: &HashMap<String, PropSource>,
    origin: &Location,
    path: &[&str],
) -> (Location, Vec<Label>, Option<String>) {
    if sources.is_empty() {
        return (origin.clone(), Vec::new(), None);
    }
    // The deepest written prefix: a value may come whole from an expression higher up.
    for len in (0..=path.len()).rev() {
        let key = path
            .get(..len)
            .unwrap_or_default()
            .join("/")
            .to_ascii_lowercase();
        if let Some(src) = sources.get(&key) {
            let exact = len == path.len();
            let rest: Vec<String> = path
                .get(len..)
                .unwrap_or_default()
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect();
            // A whole object set by one expression (AVM's `properties`) names many
            // parameters: keep those named after the property asked for (its own
            // name first, else an enclosing one's).
            let named = |part: &[String]| -> Vec<Label> {
                src.labels
                    .iter()
                    .filter(|(name, _)| exact || part.iter().any(|r| name.contains(r.as_str())))
                    .map(|(_, l)| l.clone())
                    .collect()
            };
            let mut labels = named(rest.get(rest.len().saturating_sub(1)..).unwrap_or_default());
            if labels.is_empty() {
                labels = named(&rest);
            }
            let raw = if exact { src.raw.clone() } else { None };
            return (src.location.clone(), labels, raw);
        }
    }
    (origin.clone(), Vec::new(), None)
}

/// Reads `metadata.cmek-arm.ignore` (+ `reason`) of a resource body.
fn suppressions(
    body: &Value,
    sources: &HashMap<String, PropSource>,
    origin: &Location,
) -> Vec<Suppression> {
    const AT: [&str; 2] = ["metadata", "cmek-arm"];
    let reason = body
        .path(&[AT[0], AT[1], "reason"])
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(value) = body.path(&[AT[0], AT[1], "ignore"]) else {
        return Vec::new();
    };
    let entry = |rule: &Value, path: &[&str]| {
        Some(Suppression {
            rule: rule.as_str()?.to_string(),
            reason: reason.clone(),
            location: locate(sources, origin, path).0,
        })
    };
    match value {
        // Each entry is reported at its own place when it matches nothing.
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| entry(v, &[AT[0], AT[1], "ignore", &i.to_string()]))
            .collect(),
        single => entry(single, &[AT[0], AT[1], "ignore"])
            .into_iter()
            .collect(),
    }
}

/// Test helpers: hand-built resources for rule unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A template-like resource at `/resources/<i>` of `t.json`, from JSON.
    pub fn res(kind: Kind, index: usize, json: serde_json::Value) -> Resource {
        let body = Value::from(&json);
        let name = body.get("name").cloned().unwrap_or(Value::Null);
        let mut r = Resource {
            kind,
            name,
            id: Value::unknown("no subscription in tests"),
            body,
            origin: Location::File {
                file: "t.json".into(),
                pointer: format!("/resources/{index}"),
                span: None,
            },
            scope: None,
            probe: None,
            suppressions: Vec::new(),
            deployed_if: None,
            handle: None,
            provenance: Provenance::Template,
            sources: Arc::default(),
        };
        if kind == Kind::RoleAssignment {
            r.scope = Some(match r.body.get("scope").and_then(Value::as_str) {
                Some(s) => Scope::parse(s),
                None => Scope::Above("the deployment's resource group".into()),
            });
        }
        r
    }

    /// Replaces the value at `path` (creating objects on the way), e.g. with an Unknown.
    pub fn set(res: &mut Resource, path: &[&str], value: Value) {
        let mut cur = &mut res.body;
        for key in path {
            if !matches!(cur, Value::Object(_)) {
                *cur = Value::Object(Default::default());
            }
            let Value::Object(map) = cur else { return };
            cur = map.entry((*key).to_string()).or_insert(Value::Null);
        }
        *cur = value;
    }

    /// A deployment of these resources.
    pub fn dep(resources: Vec<Resource>) -> Deployment {
        Deployment {
            resources,
            ..Deployment::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_resolve_from_every_written_form() {
        let full =
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/keys/k1";
        assert_eq!(
            Scope::parse(full),
            Scope::Key {
                vault: "kv1".into(),
                key: "k1".into()
            }
        );
        assert_eq!(
            Scope::parse("microsoft.keyvault/VAULTS/kv1"),
            Scope::Vault {
                vault: "kv1".into()
            }
        );
        assert!(matches!(
            Scope::parse("/subscriptions/0000/resourceGroups/rg"),
            Scope::Above(_)
        ));
        assert!(matches!(
            Scope::parse("/providers/Microsoft.Management/managementGroups/mg"),
            Scope::Above(_)
        ));
        assert!(matches!(
            Scope::parse("/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/secrets/s"),
            Scope::Other(_)
        ));
        assert_eq!(
            Scope::parse(full).covers_key(Str::Lit("KV1"), Str::Lit("K1")),
            Some(true)
        );
        assert_eq!(
            Scope::parse(full).covers_vault(Str::Lit("kv1")),
            Some(false)
        );
        assert_eq!(
            Scope::Above("/subscriptions/0".into()).covers_key(Str::Lit("kv1"), Str::Lit("k1")),
            Some(true)
        );
    }

    #[test]
    fn guids_compare_by_trailing_segment_case_insensitively() {
        assert!(same_guid(
            "/subscriptions/0/providers/Microsoft.Authorization/roleDefinitions/E147488A-F6F5-4113-8E2D-B22465E65BF6",
            "e147488a-f6f5-4113-8e2d-b22465e65bf6"
        ));
        assert!(!same_guid("", ""));
        assert!(!same_guid("a", "b"));
    }

    #[test]
    fn live_resources_take_names_and_scopes_from_ids() {
        let key = Resource::live(
            Kind::Key,
            &json!({"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/k",
                    "name": "k", "properties": {"attributes": {"recoveryLevel": "Recoverable"}}}),
        );
        assert_eq!(key.name.as_str(), Some("kv/k"));
        assert_eq!(key.vault_name(), Some("kv".into()));
        assert_eq!(
            key.recovery_level().val,
            Val::Known("Recoverable".to_string())
        );
        let ra = Resource::live(
            Kind::RoleAssignment,
            &json!({"id": "/x", "properties": {"scope": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"}}),
        );
        assert_eq!(ra.scope, Some(Scope::Vault { vault: "kv".into() }));
        assert!(matches!(ra.origin, Location::Azure { .. }));
    }

    #[test]
    fn props_are_known_unknown_absent_or_invalid() {
        let r = testing::res(
            Kind::Vault,
            0,
            json!({"name": "kv", "properties": {"enablePurgeProtection": "yes", "enableSoftDelete": null}}),
        );
        assert_eq!(r.purge_protection().val, Val::Invalid("string"));
        assert_eq!(r.soft_delete().val, Val::Absent);
        assert_eq!(r.rbac_authorization().val, Val::Absent);
        let mut r = r;
        r.body = Value::Object(
            [(
                "properties".to_string(),
                Value::unknown("reference() needs a deployed resource"),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(
            r.purge_protection().val,
            Val::Unknown("reference() needs a deployed resource".into())
        );
    }

    fn expanded(
        doc: &Document,
        pointer: &str,
        ty: &str,
        name: &str,
        body: serde_json::Value,
        existing: bool,
    ) -> ExpandedResource {
        ExpandedResource {
            resource_type: ty.into(),
            api_version: Value::String("2024-11-01".into()),
            name: Value::String(name.into()),
            id: Value::unknown("no subscription"),
            body: Value::from(&body),
            depends_on: Vec::new(),
            origin: doc.location(pointer),
            existing,
            condition: Value::Bool(true),
            handle: None,
        }
    }

    #[test]
    fn from_expansion_keeps_origins_labels_symbols_and_suppressions() {
        let text = r#"{
  "languageVersion": "2.0",
  "parameters": {"purge": {"type": "bool", "defaultValue": false}},
  "variables": {"kvName": "kv1"},
  "resources": {
    "old": {"existing": true, "type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01", "name": "kv0"},
    "vault": {
      "type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01",
      "name": "[variables('kvName')]",
      "metadata": {"cmek-arm": {"ignore": ["CMK009"], "reason": "rotation is manual"}},
      "properties": {"enablePurgeProtection": "[parameters('purge')]"}
    },
    "sa": {
      "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa1",
      "metadata": {"cmek-arm": {"ignore": ["ARM007"], "reason": "test"}}
    },
    "ra": {
      "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
      "name": "[guid('x')]", "scope": "old",
      "properties": {"roleDefinitionId": "r", "principalId": "p"}
    }
  }
}"#;
        let doc = crate::arm::json::parse_str("t.json", text).unwrap();
        let params =
            crate::arm::json::parse_str("p.json", r#"{"parameters": {"purge": {"value": false}}}"#)
                .unwrap();
        let exp = Expansion {
            resources: vec![
                expanded(
                    &doc,
                    "/resources/old",
                    "Microsoft.KeyVault/vaults",
                    "kv0",
                    json!({}),
                    true,
                ),
                expanded(
                    &doc,
                    "/resources/vault",
                    "Microsoft.KeyVault/vaults",
                    "kv1",
                    json!({"name": "kv1", "metadata": {"cmek-arm": {"ignore": ["CMK009"], "reason": "rotation is manual"}},
                           "properties": {"enablePurgeProtection": false}}),
                    false,
                ),
                expanded(
                    &doc,
                    "/resources/sa",
                    "Microsoft.Storage/storageAccounts",
                    "sa1",
                    json!({"metadata": {"cmek-arm": {"ignore": ["ARM007"], "reason": "test"}}}),
                    false,
                ),
                expanded(
                    &doc,
                    "/resources/ra",
                    "Microsoft.Authorization/roleAssignments",
                    "g",
                    json!({"scope": "old", "properties": {"roleDefinitionId": "r", "principalId": "p"}}),
                    false,
                ),
            ],
            ..Default::default()
        };
        let d = from_expansion_with(&exp, &doc, Some(&params));
        assert_eq!(d.existing.len(), 1);
        assert_eq!(d.others.len(), 1);
        assert_eq!(
            d.others[0].resource,
            "Microsoft.Storage/storageAccounts/sa1"
        );
        assert!(
            matches!(&d.others[0].entries[0].location, Location::File { pointer, .. }
            if pointer == "/resources/sa/metadata/cmek-arm/ignore/0")
        );
        assert_eq!(d.resources.len(), 2);
        let vault = d.vaults().next().unwrap();
        let pp = vault.purge_protection();
        assert_eq!(pp.val, Val::Known(false));
        let Location::File { pointer, .. } = &pp.location else {
            panic!("template location expected")
        };
        assert_eq!(pointer, "/resources/vault/properties/enablePurgeProtection");
        assert_eq!(pp.raw.as_deref(), Some("[parameters('purge')]"));
        assert_eq!(pp.labels.len(), 1);
        assert!(
            matches!(&pp.labels[0].location, Location::File { file, pointer, .. }
            if file == "p.json" && pointer == "/parameters/purge/value")
        );
        // Without a parameters file the default value is where the value was set.
        let d2 = from_expansion(&exp, &doc);
        let pp2 = d2.vaults().next().unwrap().purge_protection();
        assert!(
            matches!(&pp2.labels[0].location, Location::File { pointer, .. }
            if pointer == "/parameters/purge/defaultValue")
        );
        assert_eq!(vault.suppressions.len(), 1);
        assert_eq!(vault.suppressions[0].rule, "CMK009");
        assert_eq!(
            vault.suppressions[0].reason.as_deref(),
            Some("rotation is manual")
        );
        let ra = d.role_assignments().next().unwrap();
        assert_eq!(
            ra.scope,
            Some(Scope::Vault {
                vault: "kv0".into()
            })
        );
        assert!(d.vault(Str::Lit("KV0")).is_some());
    }

    #[test]
    fn nested_inner_scope_labels_point_at_the_deployment_parameters() {
        let text = r#"{
  "parameters": {"outerName": {"type": "string", "defaultValue": "kvo"}},
  "resources": [{
    "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "nested",
    "properties": {
      "expressionEvaluationOptions": {"scope": "inner"},
      "parameters": {"innerName": {"value": "[parameters('outerName')]"}},
      "template": {
        "parameters": {"innerName": {"type": "string"}},
        "resources": [{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01",
                       "name": "[parameters('innerName')]", "properties": {}}]
      }
    }
  }]
}"#;
        let doc = crate::arm::json::parse_str("t.json", text).unwrap();
        let exp = Expansion {
            resources: vec![expanded(
                &doc,
                "/resources/0/properties/template/resources/0",
                "Microsoft.KeyVault/vaults",
                "kvo",
                json!({"name": "kvo", "properties": {}}),
                false,
            )],
            ..Default::default()
        };
        let d = from_expansion(&exp, &doc);
        let v = d.vaults().next().unwrap();
        let name = v.str(&["name"]);
        assert!(
            matches!(&name.labels[0].location, Location::File { pointer, .. }
            if pointer == "/resources/0/properties/parameters/innerName/value")
        );
        // The vault lacks purge protection: the finding points at `properties`.
        assert!(
            matches!(v.purge_protection().location, Location::File { pointer, .. }
            if pointer == "/resources/0/properties/template/resources/0/properties")
        );
    }
}
