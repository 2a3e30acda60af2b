//! ## What it checks
//! (`cmek-arm preflight`.) Every Key Vault the template creates can take its name.
//! Key Vault names are global across Azure, so `preflight` asks Azure Resource
//! Manager (`Microsoft.KeyVault/checkNameAvailability`) and lists the
//! subscription's soft-deleted vaults (`deletedVaults`). It reports when the name
//! is taken and the vault is not the one in the target resource group (that one
//! the deployment updates: see PRE002), and names a soft-deleted vault of that
//! name with its scheduled purge date and the command that recovers it. A vault
//! declared with `createMode: recover` needs the soft-deleted vault instead, and
//! is reported when there is none (a note when the soft-deleted vaults cannot be
//! read: the name is then taken by the vault to recover, or not).
//!
//! ## Why it matters
//! The most common reason a CMEK deployment fails after minutes is a vault name
//! held by the customer's own soft-deleted vault from an earlier attempt. With
//! purge protection on (as CMEK requires), nobody can purge it: the name stays
//! blocked until the scheduled purge date, up to 90 days. ARM answers
//! `VaultAlreadyExists` or a conflict only when the deployment runs.
//!
//! ## Example
//! A template creating `kv-cmek-01` in a subscription that deleted a vault of
//! that name last week:
//! `error[PRE001]: Key Vault name 'kv-cmek-01' is held by a soft-deleted vault in
//! subscription ... (scheduled purge date 2025-09-30T10:00:00Z) ...`
//!
//! ## How to fix
//! Recover the soft-deleted vault (`az keyvault recover --name kv-cmek-01
//! --resource-group <its resource group> --location <its location>`), after which
//! the deployment updates it, or choose another name. Without purge protection
//! the deleted vault can also be purged (`az keyvault purge`), which destroys its
//! keys for good. A name taken by someone else's vault cannot be had: choose
//! another.
//!
//! ## References
//! - https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/check-name-availability
//! - https://learn.microsoft.com/azure/key-vault/general/key-vault-recovery
//! - https://learn.microsoft.com/cli/azure/keyvault#az-keyvault-recover

use super::PreflightInput;
use crate::azure::preflight::{DeletedVault, IdScope, Read};
use crate::diag::{Diagnostic, Level, Location};

/// The rule ID.
pub const ID: &str = "PRE001";

/// Reports on every vault the template creates.
pub fn check(input: &PreflightInput<'_>, out: &mut Vec<Diagnostic>) {
    let ctx = &input.state.context;
    for vault in input.deployment.vaults() {
        let at = vault.location_of(&["name"]);
        let report = |level: Level, message: String| {
            Diagnostic::new(ID, level, message, at.clone()).with_resource(vault.display())
        };
        let Some(name) = vault.name.as_str() else {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: the name of {} is not known before deployment, so its \
                     availability was not checked",
                    vault.display()
                ),
            ));
            continue;
        };
        let Some(state) = input.state.vault(name) else {
            out.push(report(
                Level::Note,
                format!("cannot be decided: Key Vault '{name}' was not read from Azure (see --show-state's notRead)"),
            ));
            continue;
        };
        // The vault in the target resource group is the one the deployment updates.
        if matches!(state.existing, Read::Known(Some(_))) {
            continue;
        }
        let recover = vault
            .body
            .path(&["properties", "createMode"])
            .and_then(|m| m.as_str())
            .is_some_and(|m| m.eq_ignore_ascii_case("recover"));
        match (&state.deleted, recover) {
            (Read::Known(list), true) if list.is_empty() => {
                out.push(report(
                    Level::Error,
                    format!(
                        "Key Vault '{name}' sets createMode 'recover', but subscription '{}' holds \
                         no soft-deleted vault of that name: ARM fails the deployment; remove \
                         createMode to create a new vault",
                        ctx.subscription_id
                    ),
                ));
                continue;
            }
            (Read::Known(_), true) => continue,
            (Read::Known(list), false) => {
                if let Some(deleted) = list.first() {
                    out.push(
                        report(
                            Level::Error,
                            soft_deleted(name, deleted, &ctx.subscription_id, &ctx.resource_group),
                        )
                        .with_label(
                            Location::Azure {
                                id: deleted.id.clone(),
                            },
                            "the soft-deleted vault",
                        ),
                    );
                    continue;
                }
            }
            // The name is taken by the very vault to recover, if it exists:
            // without the list, neither the recovery nor the name can be judged.
            (Read::Unknown(why), true) => {
                out.push(report(
                    Level::Note,
                    format!(
                        "cannot be decided: Key Vault '{name}' sets createMode 'recover', and \
                         whether subscription '{}' holds a soft-deleted vault of that name to \
                         recover could not be read: {why}",
                        ctx.subscription_id
                    ),
                ));
                continue;
            }
            (Read::Unknown(_), false) => {}
        }
        let availability = match &state.name_availability {
            Read::Known(a) => a,
            Read::Unknown(why) => {
                out.push(report(
                    Level::Note,
                    format!("cannot be decided: whether the name '{name}' is free: {why}"),
                ));
                continue;
            }
        };
        if availability.name_available {
            if let Read::Unknown(why) = &state.deleted {
                // checkNameAvailability said yes; a soft-deleted vault would still block it.
                out.push(report(
                    Level::Note,
                    format!(
                        "cannot be decided: whether a soft-deleted vault holds the name '{name}': \
                         {why}"
                    ),
                ));
            }
            continue;
        }
        let arm_says = match (&availability.reason, &availability.message) {
            (Some(r), Some(m)) => format!("{r}: {m}"),
            (Some(r), None) => r.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => "not available".into(),
        };
        if availability
            .reason
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("AccountNameInvalid"))
        {
            out.push(report(
                Level::Error,
                format!("Key Vault name '{name}' is not valid ({arm_says})"),
            ));
            continue;
        }
        if let Read::Unknown(why) = &state.existing {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: the name '{name}' is taken ({arm_says}), and whether by \
                     the vault in resource group '{}' could not be read: {why}",
                    ctx.resource_group
                ),
            ));
            continue;
        }
        out.push(report(
            Level::Error,
            format!(
                "Key Vault name '{name}' is already taken ({arm_says}) and no vault of that name \
                 is in resource group '{}': vault names are global, so another resource group, \
                 subscription or tenant holds it (perhaps as a soft-deleted vault); choose \
                 another name",
                ctx.resource_group
            ),
        ));
    }
}

/// The message for a name held by a soft-deleted vault: when it frees up, and how
/// to recover it (or, without purge protection, purge it).
fn soft_deleted(name: &str, d: &DeletedVault, subscription: &str, target_rg: &str) -> String {
    let location = d.location.as_deref().unwrap_or("<location>");
    let rg = d
        .vault_id
        .as_deref()
        .and_then(|id| IdScope::of(id).resource_group)
        .unwrap_or("<resource-group>");
    let deleted = d
        .deletion_date
        .as_deref()
        .map(|t| format!("deleted {t}, "))
        .unwrap_or_default();
    let purge = d.scheduled_purge_date.as_deref().unwrap_or("unknown");
    let mut msg = format!(
        "Key Vault name '{name}' is held by a soft-deleted vault in subscription \
         '{subscription}' ({deleted}resource group '{rg}', location '{location}', scheduled purge \
         date {purge}): ARM fails the deployment with a conflict. Recover it with `az keyvault \
         recover --name {name} --resource-group {rg} --location {location}`"
    );
    if !rg.eq_ignore_ascii_case(target_rg) && rg != "<resource-group>" {
        msg.push_str(&format!(
            " (it returns to resource group '{rg}', not '{target_rg}')"
        ));
    }
    match d.purge_protection_enabled {
        Some(true) => msg.push_str(&format!(
            ", or choose another name: purge protection keeps the name blocked until {purge}"
        )),
        _ => msg.push_str(&format!(
            ", choose another name, or purge it for good with `az keyvault purge --name {name} \
             --location {location}` (its keys are then lost)"
        )),
    }
    msg
}
