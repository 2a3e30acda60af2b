//! Resource functions: resource IDs as ARM builds them; `reference()` and
//! `list*()` need deployed state and are Unknown.

use super::ast::ExprSpan;
use super::eval::{want_str, Dispatch, Evaluator, Fault};
use crate::value::Value;

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("extensionresourceid", 3, usize::MAX),
    ("managementgroupresourceid", 2, usize::MAX),
    ("pickzones", 3, 5),
    ("providers", 1, 2),
    ("reference", 1, 3),
    ("roledefinitions", 1, 1),
    ("resourceid", 2, usize::MAX),
    ("subscriptionresourceid", 2, usize::MAX),
    ("tenantresourceid", 2, usize::MAX),
];

/// `Microsoft.X/a/b` + names `[n1, n2]` -> `Microsoft.X/a/n1/b/n2`. Names may be
/// given joined with `/`. Errors say what does not match.
pub fn provider_path(resource_type: &str, names: &[&str]) -> Result<String, String> {
    let mut segs = resource_type.split('/');
    let namespace = segs.next().unwrap_or_default();
    let types: Vec<&str> = segs.collect();
    let names: Vec<&str> = names.iter().flat_map(|n| n.split('/')).collect();
    if types.is_empty() || types.len() != names.len() {
        return Err(format!(
            "resource type '{resource_type}' needs {} name segment(s), got {}",
            types.len(),
            names.len()
        ));
    }
    let mut out = namespace.to_string();
    for (t, n) in types.iter().zip(&names) {
        out.push('/');
        out.push_str(t);
        out.push('/');
        out.push_str(n);
    }
    Ok(out)
}

fn looks_like_type(s: &str) -> bool {
    s.split_once('/')
        .is_some_and(|(ns, t)| ns.contains('.') && !t.is_empty())
}

pub(super) fn call(
    ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: Vec<Value>,
    span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let out = match name {
        "reference" => Value::unknown("reference() reads a deployed resource"),
        "pickzones" => Value::unknown("pickZones() reads the region's zones from Azure"),
        "providers" => Value::unknown("providers() reads the registered providers from Azure"),
        "roledefinitions" => Value::unknown("roleDefinitions() reads role definitions from Azure"),
        "resourceid"
        | "subscriptionresourceid"
        | "tenantresourceid"
        | "managementgroupresourceid"
        | "extensionresourceid" => {
            let strs: Vec<&str> = (0..args.len())
                .map(|i| want_str(&args, i, f, span))
                .collect::<Result<_, _>>()?;
            let (prefix_args, rest): (&[&str], &[&str]) = if name == "extensionresourceid" {
                strs.split_at(1)
            } else {
                let at = strs.iter().position(|s| looks_like_type(s)).ok_or_else(|| {
                    Fault::invalid(span, format!("{f}() has no resource type argument like 'Microsoft.KeyVault/vaults'"))
                })?;
                strs.split_at(at)
            };
            let (rtype, names) = rest
                .split_first()
                .ok_or_else(|| Fault::invalid(span, format!("{f}() needs a resource type")))?;
            let path = provider_path(rtype, names)
                .map_err(|m| Fault::invalid(span, format!("{f}(): {m}")))?;
            let scope = &ev.frame.scope;
            let sub = |given: Option<&&str>| -> Result<String, Value> {
                match given {
                    Some(s) => Ok((*s).to_string()),
                    None => scope.subscription_id.clone().ok_or_else(|| {
                        Value::unknown("resource ID needs the subscription ID (--subscription-id)")
                    }),
                }
            };
            let id = match name {
                "extensionresourceid" => Ok(format!(
                    "{}/providers/{path}",
                    prefix_args
                        .first()
                        .copied()
                        .unwrap_or_default()
                        .trim_end_matches('/')
                )),
                "tenantresourceid" => Ok(format!("/providers/{path}")),
                "managementgroupresourceid" => match prefix_args.first() {
                    Some(mg) => Ok(format!(
                        "/providers/Microsoft.Management/managementGroups/{mg}/providers/{path}"
                    )),
                    None => Err(Value::unknown(
                        "management group resource IDs need the management group",
                    )),
                },
                "subscriptionresourceid" => {
                    sub(prefix_args.first()).map(|s| format!("/subscriptions/{s}/providers/{path}"))
                }
                _ => {
                    let (s, rg) = match prefix_args {
                        [] => (sub(None), scope.resource_group.clone()),
                        [rg] => (sub(None), Some((*rg).to_string())),
                        [s, rg, ..] => (Ok((*s).to_string()), Some((*rg).to_string())),
                    };
                    let at_rg = !matches!(
                        scope.level.as_str(),
                        "subscription" | "managementGroup" | "tenant"
                    );
                    match (s, rg) {
                        (Err(u), _) => Err(u),
                        (Ok(s), Some(rg)) => Ok(format!(
                            "/subscriptions/{s}/resourceGroups/{rg}/providers/{path}"
                        )),
                        (Ok(s), None) if !at_rg => {
                            Ok(format!("/subscriptions/{s}/providers/{path}"))
                        }
                        (Ok(_), None) => Err(Value::unknown(
                            "resource ID needs the resource group (--resource-group)",
                        )),
                    }
                }
            };
            match id {
                Ok(id) => Value::String(id),
                Err(u) => u,
            }
        }
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}
