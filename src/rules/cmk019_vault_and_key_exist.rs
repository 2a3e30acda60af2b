//! ## What it checks
//! (Live, `cmek-arm check`.) The Key Vault named by `--vault` (or by the outputs of
//! `--from-deployment`) exists in `--resource-group`, and the key named by `--key`
//! exists in it. A missing vault or key is reported once, here, instead of as a
//! failure of every rule that needs it (CMK001-CMK017 then have nothing to check
//! and stay silent). Added to the catalogue after RULES.md.
//!
//! ## Why it matters
//! The vendor's service can only encrypt with a key that exists. A 404 usually
//! means a typo in the names, the wrong subscription or resource group, a
//! deployment that has not finished, or a key that was deleted (it then sits in
//! the vault's soft-deleted keys until it is recovered or purged).
//!
//! ## Example
//! `cmek-arm check --subscription ... --resource-group rg --vault kv1 --key k1-tidb`
//! where `kv1` has no key `k1-tidb`:
//! `error[CMK019]: key 'k1-tidb' does not exist in Key Vault 'kv1'`.
//!
//! ## How to fix
//! Compare the names with `az keyvault key list --vault-name kv1 -o table` and
//! `az keyvault list -g rg -o table`. A deleted key can be recovered with
//! `az keyvault key recover --vault-name kv1 --name k1-tidb`; otherwise deploy
//! the template again.
//!
//! ## References
//! - https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview
//! - https://learn.microsoft.com/cli/azure/keyvault/key#az-keyvault-key-recover

// Reported by `check` from what the live reader could not find; there is no
// model resource for a rule to read when the vault or key is absent.

use crate::diag::{Diagnostic, Level, Location};

/// The rule ID.
pub const ID: &str = "CMK019";

/// The finding for a vault or key that Azure answered 404 for.
pub fn missing(message: &str, resource_id: &str) -> Diagnostic {
    Diagnostic::new(
        ID,
        Level::Error,
        message,
        Location::Azure {
            id: resource_id.to_string(),
        },
    )
    .with_resource(resource_id)
}
