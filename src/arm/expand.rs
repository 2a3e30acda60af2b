//! Template + parameters + deployment context -> the concrete resources a
//! deployment would create, each remembering its origin, plus evaluated outputs.

use crate::diag::{Diagnostic, Location};
use crate::value::Value;
use indexmap::IndexMap;

/// The deployment context from the CLI flags; `None` values evaluate to Unknown.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `--subscription-id`.
    pub subscription_id: Option<String>,
    /// `--resource-group`.
    pub resource_group: Option<String>,
    /// `--resource-group-location`.
    pub resource_group_location: Option<String>,
    /// `--tenant-id`.
    pub tenant_id: Option<String>,
    /// `--deployer-object-id`.
    pub deployer_object_id: Option<String>,
    /// Name of the top-level deployment (`deployment().name`).
    pub deployment_name: Option<String>,
}

/// One resource a deployment would create (or reference, when `existing`).
#[derive(Debug, Clone)]
pub struct ExpandedResource {
    /// Full type, e.g. `Microsoft.KeyVault/vaults/keys`.
    pub resource_type: String,
    /// `apiVersion` as evaluated.
    pub api_version: Value,
    /// Full name (`vault/key` for child resources), as evaluated.
    pub name: Value,
    /// Resource ID as ARM would compute it (Unknown where the context lacks a value).
    pub id: Value,
    /// The whole evaluated resource object (location, sku, properties, scope, tags, metadata, ...).
    pub body: Value,
    /// Resource IDs (or symbolic names resolved to IDs) this resource depends on.
    pub depends_on: Vec<Value>,
    /// Where it is declared: file and JSON pointer (inside nested templates too).
    pub origin: Location,
    /// Declared with `"existing": true`: referenced, not deployed.
    pub existing: bool,
}

/// An evaluated template output.
#[derive(Debug, Clone)]
pub struct Output {
    /// Declared type (`string`, `object`, `securestring`, ...).
    pub output_type: String,
    /// The value (Unknown where it needs deployed state).
    pub value: Value,
}

/// The result of expanding one template.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Resources in declaration order, copy loops and nested deployments flattened,
    /// false conditions left out.
    pub resources: Vec<ExpandedResource>,
    /// Top-level outputs.
    pub outputs: IndexMap<String, Output>,
    /// Findings the engine made on the way (ARM003 expression syntax, ARM004 undefined references).
    pub diagnostics: Vec<Diagnostic>,
}
