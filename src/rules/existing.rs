//! Vaults a template only references (`"existing": true`, languageVersion 2.0):
//! the deployment relies on them but never deploys them, so their settings are
//! Azure's, not the template's. The vault rules report such a vault as a note
//! (not decidable from the template) that names `cmek-arm check`, which reads
//! the settings live; they never report it as a failure.

use super::common::undecided;
use crate::diag::Diagnostic;
use crate::model::{Deployment, Kind, Prop, Resource};
use crate::value::Value;

/// Why an existing vault's setting cannot be decided from the template.
const WHY: &str =
    "the vault is declared `existing`: the template does not deploy or change it, so `cmek-arm check` confirms this setting live";

/// The vaults the template references as `existing` and does not also deploy.
/// A nested deployment often references the vault its parent deploys (e.g. a
/// key module): that vault is checked as deployed. When a name is not known,
/// the reference is taken to be that deployed vault, which is checked anyway.
pub(crate) fn existing_vaults(dep: &Deployment) -> impl Iterator<Item = &Resource> {
    dep.existing.iter().filter(move |e| {
        e.kind == Kind::Vault
            && !dep.vaults().any(|v| match (&v.name, &e.name) {
                (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                _ => true,
            })
    })
}

/// The note for `what` (a property) of an existing vault.
pub(crate) fn note<T>(
    rule: &'static str,
    vault: &Resource,
    what: &str,
    prop: &Prop<T>,
) -> Diagnostic {
    undecided(rule, vault, what, WHY, prop)
}
