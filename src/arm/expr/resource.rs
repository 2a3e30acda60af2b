//! Resource functions: resource IDs as ARM builds them; `reference()` and
//! `list*()` need deployed state and are Unknown.

use super::ast::ExprSpan;
use super::eval::{Dispatch, Evaluator, Fault, Scope};
use crate::value::{Str2, TextBuilder, Value};

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
    let names: Vec<Value> = names
        .iter()
        .map(|n| Value::String((*n).to_string()))
        .collect();
    match provider_path_of(resource_type, &names)? {
        Value::String(s) => Ok(s),
        other => Err(format!("unexpected name value {}", other.display())),
    }
}

/// [`provider_path`] over names that may be symbolic: a symbol is read as (part
/// of) one name segment, as it must be in any ID ARM accepts (see
/// [`crate::value::Text::name_segments`]).
pub fn provider_path_of(resource_type: &str, names: &[Value]) -> Result<Value, String> {
    // ARM accepts a trailing `/` on the type (real quickstarts write one).
    let mut segs = resource_type.trim_end_matches('/').split('/');
    let namespace = segs.next().unwrap_or_default();
    let types: Vec<&str> = segs.collect();
    let mut parts: Vec<Str2> = Vec::new();
    for n in names {
        match n {
            Value::String(s) => parts.extend(s.split('/').map(|x| Str2::Lit(x.to_string()))),
            Value::Text(t) => parts.extend(t.name_segments()),
            other => {
                return Err(format!(
                    "a resource name must be a string, not {}",
                    other.type_name()
                ))
            }
        }
    }
    if types.is_empty() || types.len() != parts.len() {
        return Err(format!(
            "resource type '{resource_type}' needs {} name segment(s), got {}",
            types.len(),
            parts.len()
        ));
    }
    let mut out = TextBuilder::default();
    out.push_str(namespace);
    for (t, n) in types.iter().zip(&parts) {
        out.push_str("/");
        out.push_str(t);
        out.push_str("/");
        out.push(n.as_str2());
    }
    Ok(out.finish())
}

/// `/subscriptions/{sub}/resourceGroups/{rg}` of a scope (symbolic where the
/// context lacks the values), or the unknown that prevents it.
pub fn rg_id(s: &Scope) -> Result<Value, Value> {
    let (Some(sub), Some(rg)) = (s.subscription_id.as_str2(), s.resource_group.as_str2()) else {
        return Err(match (&s.subscription_id, &s.resource_group) {
            (u @ Value::Unknown(_), _) | (_, u @ Value::Unknown(_)) => u.clone(),
            _ => Value::unknown("this deployment has no resource group"),
        });
    };
    let mut b = TextBuilder::default();
    b.push_str("/subscriptions/");
    b.push(sub);
    b.push_str("/resourceGroups/");
    b.push(rg);
    Ok(b.finish())
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
        "reference" => reference(ev, &args, span)?,
        "pickzones" => Value::unknown("pickZones() reads the region's zones from Azure"),
        "providers" => Value::unknown("providers() reads the registered providers from Azure"),
        "roledefinitions" => Value::unknown("roleDefinitions() reads role definitions from Azure"),
        "resourceid"
        | "subscriptionresourceid"
        | "tenantresourceid"
        | "managementgroupresourceid"
        | "extensionresourceid" => resource_id_call(ev, name, f, &args, span)?,
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}

/// `reference()`: a nested deployment of this template (by name, ID or symbolic
/// name, as ARM resolves them) gives its outputs; anything else needs deployed state.
fn reference(ev: &Evaluator<'_, '_>, args: &[Value], span: ExprSpan) -> Result<Value, Fault> {
    let unknown = || Value::unknown("reference() reads a deployed resource");
    let Some(key) = args.first().and_then(Value::as_str2) else {
        return Ok(unknown());
    };
    if args
        .get(2)
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case("full"))
    {
        return Ok(unknown());
    }
    let known = ev.frame.deployments.borrow();
    // A scan of the deployments seen so far: charged, since copies of nested
    // deployments each calling reference() make it quadratic.
    ev.engine.charge(known.len() as u64, span)?;
    match known
        .iter()
        .find(|(k, _)| k.as_str2().and_then(|k| k.equals(key, true)) == Some(true))
    {
        Some((_, v)) => ev.engine.copy_of(v, span),
        None => Ok(unknown()),
    }
}

/// `resourceId()` and its relatives, over plain or symbolic strings.
fn resource_id_call(
    ev: &Evaluator<'_, '_>,
    name: &str,
    f: &str,
    args: &[Value],
    span: ExprSpan,
) -> Result<Value, Fault> {
    for (i, a) in args.iter().enumerate() {
        if a.as_str2().is_none() {
            return Err(Fault::invalid(
                span,
                format!(
                    "argument {} of {f}() must be a string, not {}",
                    i + 1,
                    a.type_name()
                ),
            ));
        }
    }
    let (prefix_args, rest): (&[Value], &[Value]) = if name == "extensionresourceid" {
        args.split_at(1)
    } else {
        let at = args
            .iter()
            .position(|a| a.as_str().is_some_and(looks_like_type))
            .ok_or_else(|| {
                Fault::invalid(
                    span,
                    format!("{f}() has no resource type argument like 'Microsoft.KeyVault/vaults'"),
                )
            })?;
        args.split_at(at)
    };
    let (rtype, names) = rest
        .split_first()
        .ok_or_else(|| Fault::invalid(span, format!("{f}() needs a resource type")))?;
    let Some(rtype) = rtype.as_str() else {
        return Ok(Value::unknown(format!(
            "the resource type of {f}() is not known before deployment"
        )));
    };
    let path =
        provider_path_of(rtype, names).map_err(|m| Fault::invalid(span, format!("{f}(): {m}")))?;
    let path = path.as_str2().unwrap_or(crate::value::Str::Lit(""));
    let scope = &ev.frame.scope;
    let mut b = TextBuilder::default();
    let push = |b: &mut TextBuilder, v: &Value| {
        if let Some(s) = v.as_str2() {
            b.push(s);
        }
    };
    match name {
        "extensionresourceid" => {
            let base = prefix_args.first().cloned().unwrap_or(Value::Null);
            match &base {
                Value::String(s) => b.push_str(s.trim_end_matches('/')),
                other => push(&mut b, other),
            }
        }
        "tenantresourceid" => {}
        "managementgroupresourceid" => match prefix_args.first() {
            Some(mg) => {
                b.push_str("/providers/Microsoft.Management/managementGroups/");
                push(&mut b, mg);
            }
            None => {
                return Ok(Value::unknown(
                    "management group resource IDs need the management group",
                ))
            }
        },
        "subscriptionresourceid" => {
            let sub = prefix_args.first().unwrap_or(&scope.subscription_id);
            if sub.as_str2().is_none() {
                return Ok(sub.clone());
            }
            b.push_str("/subscriptions/");
            push(&mut b, sub);
        }
        _ => {
            let (sub, rg) = match prefix_args {
                [] => (&scope.subscription_id, Some(&scope.resource_group)),
                [rg] => (&scope.subscription_id, Some(rg)),
                [s, rg, ..] => (s, Some(rg)),
            };
            let at_rg = !matches!(
                scope.level.as_str(),
                "subscription" | "managementGroup" | "tenant"
            );
            let rg = rg.filter(|r| !matches!(r, Value::Null) && (at_rg || !prefix_args.is_empty()));
            if sub.as_str2().is_none() {
                return Ok(sub.clone());
            }
            b.push_str("/subscriptions/");
            push(&mut b, sub);
            match rg {
                Some(rg) if rg.as_str2().is_some() => {
                    b.push_str("/resourceGroups/");
                    push(&mut b, rg);
                }
                Some(u @ Value::Unknown(_)) => return Ok(u.clone()),
                Some(_) => return Ok(Value::unknown("resource ID needs the resource group")),
                None => {}
            }
        }
    }
    b.push_str("/providers/");
    b.push(path);
    Ok(b.finish())
}
