//! ## What it checks
//! (`cmek-arm preflight`.) When the template declares Key Vault resources, the
//! `Microsoft.KeyVault` resource provider is registered in the subscription, or
//! the deploying identity may register it (`Microsoft.KeyVault/register/action`),
//! which ARM then does during the deployment.
//!
//! The caller's permissions are read on the resource group, which includes roles
//! assigned on the subscription but also roles assigned on the group itself,
//! while registering needs the action on the subscription. So a missing action is
//! a warning, and a present one, with the provider unregistered, is a note.
//!
//! ## Why it matters
//! In a new subscription, `Microsoft.KeyVault` is often not registered yet. A
//! deployer whose role is limited to a resource group cannot register it, and the
//! deployment fails with `MissingSubscriptionRegistration`.
//!
//! ## Example
//! `warning[PRE005]: resource provider Microsoft.KeyVault is NotRegistered in
//! subscription ... and the deploying identity may not register it ...`
//!
//! ## How to fix
//! Ask someone with Contributor or Owner on the subscription to run
//! `az provider register --namespace Microsoft.KeyVault` (once per subscription),
//! and wait until `az provider show --namespace Microsoft.KeyVault --query
//! registrationState` says `Registered`.
//!
//! ## References
//! - https://learn.microsoft.com/azure/azure-resource-manager/management/resource-providers-and-types
//! - https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-register-resource-provider

use super::PreflightInput;
use crate::azure::preflight::{allows, Read};
use crate::diag::{Diagnostic, Level, Location};

/// The rule ID.
pub const ID: &str = "PRE005";

const REGISTER: &str = "Microsoft.KeyVault/register/action";

/// Reports once per run.
pub fn check(input: &PreflightInput<'_>, out: &mut Vec<Diagnostic>) {
    let dep = input.deployment;
    if dep.vaults().next().is_none() && dep.keys().next().is_none() {
        return;
    }
    let ctx = &input.state.context;
    let id = format!(
        "/subscriptions/{}/providers/Microsoft.KeyVault",
        ctx.subscription_id
    );
    let report = |level: Level, message: String| {
        Diagnostic::new(ID, level, message, Location::Azure { id: id.clone() }).with_resource(&id)
    };
    let state = match &input.state.provider {
        Read::Known(p) => p.registration_state.as_str(),
        Read::Unknown(why) => {
            out.push(report(
                Level::Note,
                format!(
                    "cannot be decided: whether Microsoft.KeyVault is registered in subscription \
                     '{}': {why}",
                    ctx.subscription_id
                ),
            ));
            return;
        }
    };
    if state.eq_ignore_ascii_case("Registered") {
        return;
    }
    let permissions = input
        .state
        .permissions_for(&ctx.resource_group_id)
        .map(|a| a.permissions);
    let may = match permissions {
        Some(Read::Known(Some(entries))) => Some(allows(entries, REGISTER)),
        _ => None,
    };
    let fix = "ask someone with Contributor or Owner on the subscription to run `az provider \
               register --namespace Microsoft.KeyVault` before deploying";
    match may {
        Some(false) => out.push(report(
            Level::Warning,
            format!(
                "resource provider Microsoft.KeyVault is {state} in subscription '{}', and the \
                 deploying identity may not register it (no {REGISTER} in its permissions at \
                 resource group '{}'), so ARM fails the deployment with \
                 MissingSubscriptionRegistration; {fix}",
                ctx.subscription_id, ctx.resource_group
            ),
        )),
        Some(true) => out.push(report(
            Level::Note,
            format!(
                "cannot be decided: resource provider Microsoft.KeyVault is {state} in \
                 subscription '{}'; ARM registers it during the deployment if the deploying \
                 identity holds {REGISTER} on the subscription, and it holds it at resource group \
                 '{}', which suffices only when the role is assigned on the subscription; \
                 otherwise {fix}",
                ctx.subscription_id, ctx.resource_group
            ),
        )),
        None => out.push(report(
            Level::Note,
            format!(
                "cannot be decided: resource provider Microsoft.KeyVault is {state} in \
                 subscription '{}', and whether the deploying identity may register it could not \
                 be read; if it may not, {fix}",
                ctx.subscription_id
            ),
        )),
    }
}
