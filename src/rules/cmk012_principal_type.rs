//! ## What it checks
//! The role assignments that give the vendor's principal (`--sp-object-id`; when
//! not given, any principal) *Key Vault Crypto Service Encryption User* set
//! `properties.principalType` to `ServicePrincipal`.
//!
//! ## Why it matters
//! The vendor's service principal is often created in the customer's tenant
//! minutes before the deployment. Without `principalType`, Azure looks the
//! principal up in Microsoft Entra ID first, and replication delay makes the
//! assignment fail with `PrincipalNotFound`. With it, the lookup is skipped.
//!
//! ## Example
//! ```json
//! {"properties": {"roleDefinitionId": "...e147488a-f6f5-4113-8e2d-b22465e65bf6",
//!                 "principalId": "[parameters('vendorSpObjectId')]"}}
//! ```
//! Use instead:
//! ```json
//! {"properties": {"roleDefinitionId": "...e147488a-f6f5-4113-8e2d-b22465e65bf6",
//!                 "principalId": "[parameters('vendorSpObjectId')]",
//!                 "principalType": "ServicePrincipal"}}
//! ```
//!
//! ## How to fix
//! Add `"principalType": "ServicePrincipal"` to the role assignment's properties
//! (`--assignee-principal-type ServicePrincipal` with `az role assignment create`).
//!
//! ## References
//! - https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template#new-service-principal
//! - https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---assigning-a-role-to-a-new-principal-sometimes-fails

use super::common::{at, has_role, to_principal, undecided, Tri, ENCRYPTION_USER};
use super::Settings;
use crate::diag::{Diagnostic, Level};
use crate::model::{Deployment, Val};

const ID: &str = "CMK012";

/// Reports the vendor's role assignments without `principalType: ServicePrincipal`.
pub(crate) fn check(dep: &Deployment, s: &Settings, out: &mut Vec<Diagnostic>) {
    let sp = s.sp_object_id.as_deref();
    for ra in dep.role_assignments() {
        // Only the vendor's grant is in question; an undecidable one is CMK010's note.
        if has_role(ra, &[ENCRYPTION_USER]).and(to_principal(ra, sp)) != Tri::Yes {
            continue;
        }
        let p = ra.principal_type();
        match &p.val {
            Val::Known(t) if t.eq_ignore_ascii_case("ServicePrincipal") => {}
            Val::Unknown(why) => out.push(undecided(ID, ra, "principalType", why, &p)),
            Val::Known(t) => {
                let msg = format!(
                    "{} gives the vendor's role to principalType '{t}', not 'ServicePrincipal'",
                    ra.display()
                );
                out.push(at(ID, Level::Warning, msg, ra, &p));
            }
            Val::Absent | Val::Invalid(_) => {
                let msg = format!(
                    "{} does not set principalType 'ServicePrincipal'; a new service principal can fail with PrincipalNotFound",
                    ra.display()
                );
                out.push(at(ID, Level::Warning, msg, ra, &p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing;
    use crate::rules::cmk010_encryption_user_role::tests::{ra, SP};
    use crate::rules::common::CRYPTO_OFFICER;
    use crate::value::Value;

    fn run(r: crate::model::Resource) -> Vec<(Level, String)> {
        let s = Settings {
            sp_object_id: Some(SP.into()),
            ..Settings::default()
        };
        let mut out = Vec::new();
        check(&testing::dep(vec![r]), &s, &mut out);
        out.into_iter().map(|d| (d.level, d.message)).collect()
    }

    #[test]
    fn service_principal_passes_others_warn() {
        assert!(run(ra(0, ENCRYPTION_USER, SP, None)).is_empty());
        let mut r = ra(0, ENCRYPTION_USER, SP, None);
        testing::set(&mut r, &["properties", "principalType"], Value::Null);
        assert_eq!(run(r)[0].0, Level::Warning);
        let mut r = ra(0, ENCRYPTION_USER, SP, None);
        testing::set(
            &mut r,
            &["properties", "principalType"],
            Value::String("User".into()),
        );
        assert!(run(r)[0].1.contains("'User'"));
        // Other roles and other principals are not the vendor's grant.
        let mut r = ra(0, CRYPTO_OFFICER, SP, None);
        testing::set(&mut r, &["properties", "principalType"], Value::Null);
        assert!(run(r).is_empty());
    }

    #[test]
    fn unknown_principal_type_is_a_note() {
        let mut r = ra(0, ENCRYPTION_USER, SP, None);
        testing::set(
            &mut r,
            &["properties", "principalType"],
            Value::unknown("no value for parameter 'type'"),
        );
        assert_eq!(run(r)[0].0, Level::Note);
    }
}
