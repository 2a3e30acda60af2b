//! Helpers the CMEK rules share: building findings from model properties, role
//! IDs, and matching role assignments against what a rule looks for.

use crate::diag::{Diagnostic, Level};
use crate::model::{same_guid_str, Prop, Resource, Scope, Val};
use crate::value::Str;

/// *Key Vault Crypto Service Encryption User*.
pub const ENCRYPTION_USER: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
/// *Key Vault Crypto Officer*.
pub const CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
/// *Key Vault Administrator*.
pub const ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";

/// Built-in roles broader than Encryption User on keys, vaults or whatever holds them.
pub const BROAD_ROLES: &[(&str, &str)] = &[
    (ADMINISTRATOR, "Key Vault Administrator"),
    (CRYPTO_OFFICER, "Key Vault Crypto Officer"),
    (
        "12338af0-0e69-4776-bea7-57ae8d297424",
        "Key Vault Crypto User",
    ),
    (
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Secrets Officer",
    ),
    (
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Secrets User",
    ),
    (
        "a4417e6f-fecd-4de8-b567-7b0420556985",
        "Key Vault Certificates Officer",
    ),
    // Reads whole certificates, private keys included.
    (
        "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        "Key Vault Certificate User",
    ),
    (
        "8b54135c-b56d-4d72-a534-26097cfdc8d8",
        "Key Vault Data Access Administrator",
    ),
    (
        "f25e0fa2-a7c8-4377-a976-54943a77a395",
        "Key Vault Contributor",
    ),
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    (
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "User Access Administrator",
    ),
    (
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "Role Based Access Control Administrator",
    ),
];

/// The resource's own name for messages (`kv1`, `kv1/key1`, `{parameters('n')}`),
/// or its symbolic name and copy index when the name is unknown.
pub fn name(res: &Resource) -> String {
    res.name_for_messages()
}

/// A finding at a property (or at the object lacking it), with its "value set here" labels.
pub fn at<T>(
    rule: &'static str,
    level: Level,
    message: impl Into<String>,
    res: &Resource,
    prop: &Prop<T>,
) -> Diagnostic {
    let mut d =
        Diagnostic::new(rule, level, message, prop.location.clone()).with_resource(res.display());
    for label in &prop.labels {
        d = d.with_label(label.location.clone(), label.message.clone());
    }
    d
}

/// A finding at the resource itself.
pub fn at_resource(
    rule: &'static str,
    level: Level,
    message: impl Into<String>,
    res: &Resource,
) -> Diagnostic {
    Diagnostic::new(rule, level, message, res.location()).with_resource(res.display())
}

/// A `note`: the requirement might be broken but the value is not knowable statically.
pub fn undecided<T>(
    rule: &'static str,
    res: &Resource,
    what: &str,
    why: &str,
    prop: &Prop<T>,
) -> Diagnostic {
    at(
        rule,
        Level::Note,
        format!("cannot be decided: {what} of {} ({why})", res.display()),
        res,
        prop,
    )
}

/// Whether something holds: yes, no, or not knowable (why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tri {
    /// Holds.
    Yes,
    /// Does not hold.
    No,
    /// Not knowable statically.
    Maybe(String),
}

impl Tri {
    /// Both hold (`Maybe` wins over `Yes`, `No` wins over everything).
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Maybe(w), _) | (_, Tri::Maybe(w)) => Tri::Maybe(w),
            _ => Tri::Yes,
        }
    }
}

/// Any of several answers: yes if one is yes, no if all are no, else maybe.
fn any_of(answers: impl Iterator<Item = Option<bool>>, why: impl FnOnce() -> String) -> Tri {
    let mut maybe = false;
    for a in answers {
        match a {
            Some(true) => return Tri::Yes,
            Some(false) => {}
            None => maybe = true,
        }
    }
    if maybe {
        Tri::Maybe(why())
    } else {
        Tri::No
    }
}

/// Does the role assignment give one of `roles`? (Trailing GUIDs compare; a role
/// definition ID built from the subscription ID decides without it.)
pub fn has_role(ra: &Resource, roles: &[&str]) -> Tri {
    let p = ra.text(&["properties", "roleDefinitionId"]);
    match p.val {
        Val::Known(id) => any_of(
            roles
                .iter()
                .map(|r| same_guid_str(id.as_str2(), Str::Lit(r))),
            || {
                format!(
                    "the role definition {}",
                    id.reason().unwrap_or_else(|| "is unknown".into())
                )
            },
        ),
        Val::Unknown(why) => Tri::Maybe(format!("the role definition is unknown: {why}")),
        _ => Tri::No,
    }
}

/// Does the role assignment go to `principal` (any principal when `None`)?
pub fn to_principal(ra: &Resource, principal: Option<&str>) -> Tri {
    let Some(expected) = principal else {
        return Tri::Yes;
    };
    let p = ra.text(&["properties", "principalId"]);
    match p.val {
        Val::Known(id) => any_of(
            std::iter::once(same_guid_str(id.as_str2(), Str::Lit(expected))),
            || {
                format!(
                    "the principal {}",
                    id.reason().unwrap_or_else(|| "is unknown".into())
                )
            },
        ),
        Val::Unknown(why) => Tri::Maybe(format!("the principal is unknown: {why}")),
        _ => Tri::No,
    }
}

/// Whether the scope matches: `matches` answers `None` where that depends on
/// what symbols in the names stand for.
pub fn scope_tri(scope: &Scope, matches: impl Fn(&Scope) -> Option<bool>) -> Tri {
    match scope {
        Scope::Unknown(why) => Tri::Maybe(format!("the scope is unknown: {why}")),
        s => match matches(s) {
            Some(true) => Tri::Yes,
            Some(false) => Tri::No,
            None => Tri::Maybe(format!(
                "the scope {} {}",
                s.describe(),
                s.reason().unwrap_or_else(|| "is unknown".into())
            )),
        },
    }
}

/// Days in an ISO 8601 duration (`P1Y`, `P90D`, `P1Y2M`, `PT12H`); years count 365
/// days and months 30, as Key Vault's rotation policy treats them for comparison.
pub fn duration_days(text: &str) -> Option<f64> {
    let rest = text.trim().strip_prefix(['P', 'p'])?;
    if rest.is_empty() {
        return None;
    }
    let mut days = 0.0;
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if number.is_empty() && !in_time => in_time = true,
            d if d.is_ascii_digit() || d == '.' => number.push(d),
            unit => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                any = true;
                days += n * match (in_time, unit) {
                    (false, 'Y') => 365.0,
                    (false, 'M') => 30.0,
                    (false, 'W') => 7.0,
                    (false, 'D') => 1.0,
                    (true, 'H') => 1.0 / 24.0,
                    (true, 'M') => 1.0 / 1440.0,
                    (true, 'S') => 1.0 / 86400.0,
                    _ => return None,
                };
            }
        }
    }
    (number.is_empty() && any).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_key_vault_writes_them() {
        assert_eq!(duration_days("P1Y"), Some(365.0));
        assert_eq!(duration_days("P90D"), Some(90.0));
        assert_eq!(duration_days("P1Y2M"), Some(425.0));
        assert_eq!(duration_days("PT36H"), Some(1.5));
        assert_eq!(duration_days("P2W"), Some(14.0));
        for bad in ["", "P", "1Y", "P1", "PXD", "P1Q", "PT1D"] {
            assert_eq!(duration_days(bad), None, "{bad}");
        }
    }

    #[test]
    fn tri_combines() {
        assert_eq!(Tri::Yes.and(Tri::Maybe("x".into())), Tri::Maybe("x".into()));
        assert_eq!(Tri::Maybe("x".into()).and(Tri::No), Tri::No);
        assert_eq!(Tri::Yes.and(Tri::Yes), Tri::Yes);
    }
}
