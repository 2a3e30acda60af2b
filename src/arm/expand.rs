//! Template + parameters + deployment context -> the concrete resources a
//! deployment would create, each remembering its origin, plus evaluated outputs.

use crate::arm::expr::ast::ExprSpan;
use crate::arm::expr::eval::Finding;
use crate::arm::expr::parser::is_expression;
use crate::arm::expr::{
    resource::{provider_path_of, rg_id},
    Engine, Evaluator, FaultKind, Frame, Limits, Ptr, Scope,
};
use crate::arm::json::{pointer_push, Document};
use crate::diag::{Diagnostic, Level, Location, Span};
use crate::value::{Atom, Map, Shape, Str, Str2, Text, TextBuilder, Value};
use indexmap::IndexMap;
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};

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
    /// Principals known not to be the deployer, when `--deployer-object-id` is not
    /// given: the vendor's service principal (`--sp-object-id`). The customer runs
    /// the deployment; a vendor principal able to deploy it would already hold
    /// roles over the vault that CMK013 forbids, which `check` and `preflight`
    /// read live.
    pub not_the_deployer: Vec<String>,
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
    /// The evaluated `condition`: `true`, or Unknown when it cannot be decided
    /// (resources whose condition is `false` are left out).
    pub condition: Value,
    /// Its symbolic name (languageVersion 2.0) or copy loop name, with the copy
    /// index: `keyVault_roleAssignments[0]`; names it where its name is unknown.
    pub handle: Option<String>,
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
#[derive(Debug, Clone)]
pub struct Expansion {
    /// Resources in declaration order, copy loops and nested deployments flattened,
    /// false conditions left out.
    pub resources: Vec<ExpandedResource>,
    /// Top-level outputs.
    pub outputs: IndexMap<String, Output>,
    /// Findings the engine made on the way (ARM003 expression syntax, ARM004 undefined references).
    pub diagnostics: Vec<Diagnostic>,
    /// The deployment's tenant: `--tenant-id`, else the symbol every
    /// `subscription().tenantId` and `tenant().tenantId` of the template is.
    pub tenant: Value,
    /// Units of the evaluation budget used ([`crate::arm::limits::EVALUATION_BUDGET`]).
    pub work: u64,
}

impl Default for Expansion {
    fn default() -> Self {
        Expansion {
            resources: Vec::new(),
            outputs: IndexMap::new(),
            diagnostics: Vec::new(),
            tenant: Value::unknown("the template was not expanded"),
            work: 0,
        }
    }
}

use crate::arm::expr::eval::is_over_expression_limit;
use crate::arm::limits::{
    ARM_MAX_EXPRESSION_CHARS, ARM_MAX_OUTPUTS, ARM_MAX_PARAMETERS, ARM_MAX_RESOURCES,
    ARM_MAX_RESOURCE_BYTES, ARM_MAX_TEMPLATE_BYTES, ARM_MAX_VARIABLES, MAX_NESTING,
    MAX_TOTAL_BYTES, MAX_TOTAL_RESOURCES,
};

const DEPLOYMENTS: &str = "Microsoft.Resources/deployments";

/// Expands `template` with an optional parameters file in the deployment context `ctx`.
///
/// Never fails: problems are findings in [`Expansion::diagnostics`] and the
/// values concerned are Unknown.
pub fn expand(template: &Document, parameters: Option<&Document>, ctx: &Context) -> Expansion {
    expand_with(template, parameters, ctx, Limits::default())
}

/// [`expand`] with explicit limits (steps, sizes, nesting).
pub fn expand_with(
    template: &Document,
    parameters: Option<&Document>,
    ctx: &Context,
    limits: Limits,
) -> Expansion {
    // Evaluation recurses (variables referring to variables, JSON nesting, nested
    // deployments); every depth is limited, and a thread with a known, large stack
    // makes those limits safe whatever thread the caller runs on (test threads have 2 MiB).
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("cmek-arm-expand".into())
            .stack_size(EXPAND_STACK)
            .spawn_scoped(s, || expand_here(template, parameters, ctx, limits))
            .ok()
            .and_then(|h| h.join().ok())
    })
    .unwrap_or_else(|| internal_error(template))
}

/// [`expand`] on the calling thread, which must have been started with a
/// stack of at least [`EXPAND_STACK`] bytes (validate's workers are): no
/// thread per template.
pub fn expand_on_big_stack(
    template: &Document,
    parameters: Option<&Document>,
    ctx: &Context,
) -> Expansion {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expand_here(template, parameters, ctx, Limits::default())
    }))
    .unwrap_or_else(|_| internal_error(template))
}

/// The expansion of a template whose expansion panicked.
fn internal_error(template: &Document) -> Expansion {
    let mut out = Expansion::default();
    out.diagnostics.push(Diagnostic::new(
        "ARM004",
        Level::Error,
        "the template could not be expanded (internal error; please report it)",
        Location::File {
            file: template.file.clone(),
            pointer: String::new(),
            span: None,
        },
    ));
    out
}

/// Stack an expansion runs on (reserved, not committed, until used).
pub const EXPAND_STACK: usize = 256 << 20;

fn expand_here(
    template: &Document,
    parameters: Option<&Document>,
    ctx: &Context,
    limits: Limits,
) -> Expansion {
    let engine = Engine::new(limits).with_index(template.expressions().clone());
    let mut out = Expansion::default();
    syntax_pass(template, &mut out.diagnostics);
    let provided = parameters
        .map(|p| parameter_values(&p.value))
        .unwrap_or_default();
    let scope = top_scope(ctx, engine.next_id(), level_of(&template.value));
    out.tenant = scope.tenant_id.clone();
    file_limits(template, parameters, &mut out.diagnostics);
    declaration_limits(
        template,
        &template.value,
        Ptr::Root(""),
        &mut out.diagnostics,
    );
    let mut x = Expander {
        engine: &engine,
        doc: template,
        resources: Vec::new(),
        moved_out: 0,
        declared: Vec::new(),
        meters: Vec::new(),
        total_bytes: 0,
        stopped: false,
    };
    let frame = Frame::new(&template.value, "", provided, scope);
    let ev = Evaluator::new(&engine, &frame);
    x.resources_of(&ev, &template.value, "", 0);
    out.outputs = x.outputs(&ev, &template.value, "");
    if engine.exhausted() && !engine.exhaustion_reported() {
        // It ran out where findings were muted (an `existing` resource, the
        // pass that learns symbolic names' IDs): said at the template's top.
        engine.report(Finding {
            kind: FaultKind::Limit,
            message: engine.exhaustion_message(),
            pointer: String::new(),
            span: None,
        });
    }
    let declared = std::mem::take(&mut x.declared);
    x.check_depends_on(&declared);
    resolve_depends_on(&mut x.resources);
    out.resources = x.resources;
    out.work = engine.work();
    let mut seen: HashSet<_> = out
        .diagnostics
        .iter()
        .map(|d| (d.rule, d.message.clone(), pointer_of(&d.location)))
        .collect();
    for f in engine.take_findings() {
        let d = finding_diag(template, &f);
        if seen.insert((d.rule, d.message.clone(), pointer_of(&d.location))) {
            out.diagnostics.push(d);
        }
    }
    out
}

/// A context value: the flag's value, or a symbol of deployment scope `id`.
fn context_value(given: &Option<String>, id: u64, what: &str, shape: Shape, why: &str) -> Value {
    match given {
        Some(v) => Value::String(v.clone()),
        None => symbol(id, what, "", shape, why),
    }
}

/// A symbol of deployment scope `id`: `what` is how it is written in a template
/// (`resourceGroup().location`), `label` tells nested scopes apart.
fn symbol(id: u64, what: &str, label: &str, shape: Shape, why: &str) -> Value {
    // The tenant and the deploying principal are one for the whole deployment.
    let key = match what {
        "subscription().tenantId" | "deployer().objectId" => format!("ctx:{what}"),
        _ => format!("ctx:{id}:{what}"),
    };
    Value::Text(Text::symbol(Atom::new(
        key,
        format!("{what}{label}"),
        shape,
        why,
    )))
}

/// The top-level deployment scope: the context's values, symbols where it lacks them.
fn top_scope(ctx: &Context, id: u64, level: String) -> Scope {
    let at_rg = level == "resourceGroup";
    Scope {
        subscription_id: context_value(
            &ctx.subscription_id,
            id,
            "subscription().subscriptionId",
            Shape::Guid,
            "not known without --subscription-id",
        ),
        resource_group: if at_rg || ctx.resource_group.is_some() {
            context_value(
                &ctx.resource_group,
                id,
                "resourceGroup().name",
                Shape::Name,
                "not known without --resource-group",
            )
        } else {
            Value::Null
        },
        resource_group_location: context_value(
            &ctx.resource_group_location,
            id,
            "resourceGroup().location",
            Shape::Name,
            "not known without --resource-group-location",
        ),
        tenant_id: context_value(
            &ctx.tenant_id,
            id,
            "subscription().tenantId",
            Shape::Guid,
            "not known without --tenant-id",
        ),
        deployer_object_id: match &ctx.deployer_object_id {
            Some(v) => Value::String(v.clone()),
            None => Value::Text(Text::symbol(Atom::excluding(
                "ctx:deployer().objectId",
                "deployer().objectId",
                Shape::Guid,
                "not known without --deployer-object-id",
                ctx.not_the_deployer.clone(),
            ))),
        },
        deployment_name: context_value(
            &ctx.deployment_name,
            id,
            "deployment().name",
            Shape::Name,
            "chosen when deploying",
        ),
        level,
    }
}

/// A string (plain or symbolic) as the scope value; anything else is unknown.
fn scope_string(v: Value, what: &str) -> Value {
    match v {
        Value::String(_) | Value::Text(_) | Value::Unknown(_) => v,
        other => Value::unknown(format!("{what} is a {}, not a string", other.type_name())),
    }
}

/// The order to expand declarations in: each after the ones its `dependsOn` names
/// by symbolic name (languageVersion 2.0), declaration order otherwise and where
/// the dependencies form a cycle (ARM rejects cycles; this only must not loop).
fn dependency_order(decls: &[(String, Option<&str>, &Json)]) -> Vec<usize> {
    let index: HashMap<String, usize> = decls
        .iter()
        .enumerate()
        .filter_map(|(i, (_, sym, _))| sym.map(|s| (s.to_ascii_lowercase(), i)))
        .collect();
    if index.is_empty() {
        return (0..decls.len()).collect();
    }
    let deps: Vec<Vec<usize>> = decls
        .iter()
        .map(|(_, _, r)| {
            r.get("dependsOn")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .filter_map(|d| index.get(&d.to_ascii_lowercase()).copied())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    // Depth-first, each declaration once: O(declarations + dependencies).
    let mut state = vec![0u8; decls.len()]; // 0 new, 1 in progress, 2 done
    let mut out = Vec::with_capacity(decls.len());
    for start in 0..decls.len() {
        let mut stack = vec![(start, 0usize)];
        while let Some((node, next)) = stack.pop() {
            if next == 0 {
                if state.get(node).copied().unwrap_or(2) != 0 {
                    continue;
                }
                if let Some(s) = state.get_mut(node) {
                    *s = 1;
                }
            }
            let children = deps.get(node).map_or(&[][..], Vec::as_slice);
            match children.get(next) {
                Some(&child) => {
                    stack.push((node, next + 1));
                    if state.get(child).copied() == Some(0) {
                        stack.push((child, 0));
                    }
                }
                None => {
                    if let Some(s) = state.get_mut(node) {
                        *s = 2;
                    }
                    out.push(node);
                }
            }
        }
    }
    out
}

fn pointer_of(l: &Location) -> String {
    match l {
        Location::File { pointer, .. } => pointer.clone(),
        _ => String::new(),
    }
}

/// `parameters.<name>.value` of a deployment parameters file (or of a nested
/// deployment's `properties.parameters`); a Key Vault `reference` is Unknown.
pub fn parameter_values(json: &Json) -> IndexMap<String, Value> {
    let params = json.get("parameters").unwrap_or(json);
    let mut out = IndexMap::new();
    if let Some(map) = params.as_object() {
        for (k, v) in map {
            if k == "$schema" || k == "contentVersion" {
                continue;
            }
            out.insert(k.clone(), parameter_value(v));
        }
    }
    out
}

fn parameter_value(v: &Json) -> Value {
    if let Some(value) = v.get("value") {
        return Value::from(value);
    }
    if v.get("reference").is_some() {
        return Value::unknown("the value is a Key Vault secret reference");
    }
    Value::unknown("the parameter entry has no value")
}

fn level_of(template: &Json) -> String {
    let schema = template
        .get("$schema")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if schema.contains("subscriptiondeploymenttemplate") {
        "subscription"
    } else if schema.contains("managementgroupdeploymenttemplate") {
        "managementGroup"
    } else if schema.contains("tenantdeploymenttemplate") {
        "tenant"
    } else {
        "resourceGroup"
    }
    .to_string()
}

/// ARM004 for a template or parameters file over ARM's 4 MB (the file as
/// written; the expanded size is metered while expanding).
fn file_limits(template: &Document, parameters: Option<&Document>, diags: &mut Vec<Diagnostic>) {
    for (doc, what) in [
        (Some(template), "template"),
        (parameters, "parameters file"),
    ] {
        let Some(doc) = doc else { continue };
        if doc.text.len() > ARM_MAX_TEMPLATE_BYTES {
            diags.push(Diagnostic::new(
                "ARM004",
                Level::Error,
                format!(
                    "limit exceeded: the {what} is {} bytes; ARM's limit is {ARM_MAX_TEMPLATE_BYTES} (4 MB)",
                    doc.text.len()
                ),
                location(doc, "", None),
            ));
        }
    }
}

/// ARM004 for a template (the top one, or a nested deployment's inline one)
/// declaring more parameters, variables or outputs than ARM accepts, at the
/// first one over the limit. Expansion goes on: declarations cost no work.
fn declaration_limits(doc: &Document, template: &Json, base: Ptr<'_>, diags: &mut Vec<Diagnostic>) {
    let sections = [
        ("parameters", ARM_MAX_PARAMETERS),
        ("variables", ARM_MAX_VARIABLES),
        ("outputs", ARM_MAX_OUTPUTS),
    ];
    for (section, max) in sections {
        let Some(map) = template.get(section).and_then(Json::as_object) else {
            continue;
        };
        // Each variable copy loop declares one variable.
        let loops = |k: &str, v: &Json| match v.as_array() {
            Some(l) if section == "variables" && k.eq_ignore_ascii_case("copy") => Some(l.len()),
            _ => None,
        };
        let count: usize = map.iter().map(|(k, v)| loops(k, v).unwrap_or(1)).sum();
        if count <= max {
            continue;
        }
        // The first declaration over the limit: (name, loop index).
        let mut seen = 0;
        let Some((name, index)) = map.iter().find_map(|(k, v)| {
            let n = loops(k, v).unwrap_or(1);
            let hit = (seen + n > max).then(|| (k, loops(k, v).map(|_| max - seen)));
            seen += n;
            hit
        }) else {
            continue;
        };
        let at = Ptr::Key(&base, section);
        let at = Ptr::Key(&at, name);
        let pointer = match index {
            Some(i) => Ptr::Index(&at, i).render(),
            None => at.render(),
        };
        diags.push(Diagnostic::new(
            "ARM004",
            Level::Error,
            format!(
                "limit exceeded: the template declares {count} {section}; ARM's limit is {max} per template"
            ),
            location(doc, &pointer, None),
        ));
    }
    if let Some(resources) = template.get("resources") {
        nested_declaration_limits(doc, resources, Ptr::Key(&base, "resources"), diags);
    }
}

/// [`declaration_limits`] for the nested deployments among `resources` (and
/// their 1.0 child resources, which belong to the same template).
fn nested_declaration_limits(
    doc: &Document,
    resources: &Json,
    at: Ptr<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut each = |r: &Json, here: Ptr<'_>| {
        if let Some(children) = r.get("resources") {
            nested_declaration_limits(doc, children, Ptr::Key(&here, "resources"), diags);
        }
        if let Some(inner) = r.get("properties").and_then(|p| p.get("template")) {
            let props = Ptr::Key(&here, "properties");
            declaration_limits(doc, inner, Ptr::Key(&props, "template"), diags);
        }
    };
    match resources {
        Json::Array(a) => {
            for (i, r) in a.iter().enumerate() {
                each(r, Ptr::Index(&at, i));
            }
        }
        Json::Object(o) => {
            for (k, r) in o {
                each(r, Ptr::Key(&at, k));
            }
        }
        _ => {}
    }
}

/// Parses every expression string of the file once (ARM003 for syntax errors;
/// ARM004 for unknown built-in functions and wrong argument counts, found even
/// in branches that are never evaluated).
fn syntax_pass(doc: &Document, diags: &mut Vec<Diagnostic>) {
    fn walk(doc: &Document, v: &Json, ptr: Ptr<'_>, diags: &mut Vec<Diagnostic>) {
        match v {
            Json::String(s) if is_expression(s) && is_over_expression_limit(s) => {
                let pointer = ptr.render();
                diags.push(Diagnostic::new(
                    "ARM004",
                    Level::Error,
                    format!(
                        "limit exceeded: the expression is {} characters long; ARM's limit is {ARM_MAX_EXPRESSION_CHARS}",
                        s.chars().count()
                    ),
                    location(doc, &pointer, None),
                ));
            }
            Json::String(s) if is_expression(s) => {
                let Some(parsed) = doc.expressions().get(s) else {
                    return;
                };
                match parsed.as_ref() {
                    Err(e) => {
                        let pointer = ptr.render();
                        diags.push(Diagnostic::new(
                            "ARM003",
                            Level::Error,
                            format!("invalid template expression: {}", e.message),
                            location(doc, &pointer, Some(e.span)),
                        ));
                    }
                    Ok(expr) => {
                        let mut bad = Vec::new();
                        expr.walk(&mut |e| {
                            if let crate::arm::expr::ast::Expr::Call(c) = e {
                                if c.namespace.is_some() || c.lname.starts_with("list") {
                                    return;
                                }
                                match crate::arm::expr::signature(&c.lname) {
                                    None => bad.push((
                                        format!("'{}' is not a template function", c.name),
                                        c.name_span,
                                    )),
                                    Some((lo, hi)) if c.args.len() < lo || c.args.len() > hi => bad
                                        .push((
                                            crate::arm::expr::arity_message(
                                                &c.name,
                                                lo,
                                                hi,
                                                c.args.len(),
                                            ),
                                            c.span,
                                        )),
                                    _ => {}
                                }
                            }
                        });
                        for (message, span) in bad {
                            let pointer = ptr.render();
                            diags.push(Diagnostic::new(
                                "ARM004",
                                Level::Error,
                                message,
                                location(doc, &pointer, Some(span)),
                            ));
                        }
                    }
                }
            }
            Json::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(doc, x, Ptr::Index(&ptr, i), diags);
                }
            }
            Json::Object(o) => {
                for (k, x) in o {
                    walk(doc, x, Ptr::Key(&ptr, k), diags);
                }
            }
            _ => {}
        }
    }
    walk(doc, &doc.value, Ptr::Root(""), diags);
}

/// A location for `pointer`, narrowed to the expression's span when the JSON
/// string has no escapes (so string offsets are file offsets).
fn location(doc: &Document, pointer: &str, span: Option<ExprSpan>) -> Location {
    let whole = doc.span(pointer);
    let narrowed = match (whole, span) {
        (Some(w), Some(s)) => {
            let raw = doc
                .text
                .get(w.start + 1..w.end.saturating_sub(1))
                .unwrap_or_default();
            if raw.contains('\\') || s.end > raw.len() {
                Some(w)
            } else {
                Some(Span::new(
                    w.start + 1 + s.start,
                    w.start + 1 + s.end.max(s.start),
                ))
            }
        }
        (w, _) => w,
    };
    Location::File {
        file: doc.file.clone(),
        pointer: pointer.to_string(),
        span: narrowed.or_else(|| Some(doc.nearest_span(pointer))),
    }
}

fn finding_diag(doc: &Document, f: &Finding) -> Diagnostic {
    let message = match f.kind {
        FaultKind::Undefined => f.message.clone(),
        FaultKind::Invalid => format!("ARM would reject this expression: {}", f.message),
        FaultKind::Limit => format!("limit exceeded: {}", f.message),
    };
    Diagnostic::new(
        "ARM004",
        Level::Error,
        message,
        location(doc, &f.pointer, f.span),
    )
}

/// A resource as declared, for the `dependsOn` check.
struct Declared {
    names: Vec<String>,
    symbol: Option<String>,
}

struct Expander<'d> {
    engine: &'d Engine,
    doc: &'d Document,
    resources: Vec<ExpandedResource>,
    // Resources set aside while a template's declarations are expanded out of order.
    moved_out: usize,
    declared: Vec<Declared>,
    // One per template being expanded (the top one, then each nested deployment's):
    // ARM's limits are per template.
    meters: Vec<Meter>,
    // Expanded bytes of every template together.
    total_bytes: usize,
    // A bound of the whole expansion was reached: nothing more is expanded.
    stopped: bool,
}

/// What one template has expanded to so far, against ARM's per-template limits.
#[derive(Default)]
struct Meter {
    resources: usize,
    bytes: usize,
    stopped: bool,
}

/// The parent of a nested (child) resource in language version 1.0.
struct Parent {
    resource_type: String,
    name: Value,
    id: Value,
}

impl<'d> Expander<'d> {
    fn limit(&self, pointer: &str, message: String) {
        self.engine.report(Finding {
            kind: FaultKind::Limit,
            message,
            pointer: pointer.to_string(),
            span: None,
        });
    }

    /// Expands `template.resources` (array, or object keyed by symbolic name),
    /// metered as one template.
    fn resources_of(&mut self, ev: &Evaluator<'_, '_>, template: &Json, base: &str, depth: usize) {
        self.meters.push(Meter::default());
        self.template_resources(ev, template, base, depth);
        self.meters.pop();
    }

    /// False once a bound stops the current template or the whole expansion.
    fn may_go_on(&mut self, pointer: &str) -> bool {
        if self.stopped || self.engine.exhausted() {
            return false;
        }
        if self.meters.last().is_some_and(|m| m.stopped) {
            return false;
        }
        if self.resources.len() + self.moved_out >= MAX_TOTAL_RESOURCES {
            self.stopped = true;
            self.limit(
                pointer,
                format!(
                    "expansion stopped: the deployment has more than {MAX_TOTAL_RESOURCES} resources with its nested deployments (cmek-arm's bound; ARM's limit is {ARM_MAX_RESOURCES} per template); what was expanded before this point is still checked"
                ),
            );
            return false;
        }
        true
    }

    /// Counts one expanded resource of `size` bytes against ARM's per-template
    /// limits and the whole expansion's; false when it must not be kept.
    fn meter(&mut self, pointer: &str, size: usize) -> bool {
        if size > ARM_MAX_RESOURCE_BYTES {
            self.limit(
                pointer,
                format!(
                    "the resource is more than {ARM_MAX_RESOURCE_BYTES} bytes after expansion, ARM's limit for one resource definition (1 MB); it is left out"
                ),
            );
            return false;
        }
        let Some(m) = self.meters.last_mut() else {
            return true;
        };
        m.resources += 1;
        m.bytes += size;
        self.total_bytes += size;
        let over = if m.resources > ARM_MAX_RESOURCES {
            Some(format!(
                "the template has more than {ARM_MAX_RESOURCES} resources (copies included), ARM's limit for one template; expansion of this template stopped here"
            ))
        } else if m.bytes > ARM_MAX_TEMPLATE_BYTES {
            Some(format!(
                "the template is more than {ARM_MAX_TEMPLATE_BYTES} bytes after expansion, ARM's limit for one template (4 MB, copies and values included); expansion of this template stopped here"
            ))
        } else {
            None
        };
        if let Some(message) = over {
            m.stopped = true;
            self.limit(pointer, message);
            return false;
        }
        if self.total_bytes > MAX_TOTAL_BYTES {
            self.stopped = true;
            self.limit(
                pointer,
                format!(
                    "expansion stopped: the deployment is more than {MAX_TOTAL_BYTES} bytes after expansion with its nested deployments (cmek-arm's bound; ARM's limit is {ARM_MAX_TEMPLATE_BYTES} per template); what was expanded before this point is still checked"
                ),
            );
            return false;
        }
        true
    }

    fn template_resources(
        &mut self,
        ev: &Evaluator<'_, '_>,
        template: &Json,
        base: &str,
        depth: usize,
    ) {
        let Some(resources) = template.get("resources") else {
            return;
        };
        let decls: Vec<(String, Option<&str>, &Json)> = match resources {
            Json::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("{base}/resources/{i}"), None, r))
                .collect(),
            Json::Object(o) => o
                .iter()
                .map(|(k, r)| {
                    (
                        pointer_push(&format!("{base}/resources"), k),
                        Some(k.as_str()),
                        r,
                    )
                })
                .collect(),
            _ => return,
        };
        // Symbolic names first, so scopes and dependsOn can name resources declared later.
        for (pointer, symbol, r) in &decls {
            if let Some(sym) = symbol {
                // The real expansion below reports any fault; this pass only learns IDs.
                self.engine.mute(true);
                let id = self.quick_id(ev, r, pointer);
                self.engine.mute(false);
                ev.frame
                    .symbols
                    .borrow_mut()
                    .insert(sym.to_ascii_lowercase(), id);
            }
        }
        let order = dependency_order(&decls);
        if order.iter().enumerate().all(|(i, &j)| i == j) {
            for (pointer, symbol, r) in decls {
                self.resource(ev, r, &pointer, symbol, None, depth);
            }
            return;
        }
        // A module's outputs are known only once it is expanded: expand what others
        // depend on first, then put the results back in declaration order.
        let mut chunks: Vec<(usize, Vec<ExpandedResource>)> = Vec::with_capacity(order.len());
        for i in order {
            let Some((pointer, symbol, r)) = decls.get(i) else {
                continue;
            };
            let start = self.resources.len();
            self.resource(ev, r, pointer, *symbol, None, depth);
            let chunk = self.resources.split_off(start);
            self.moved_out += chunk.len();
            chunks.push((i, chunk));
        }
        chunks.sort_by_key(|(i, _)| *i);
        for (_, chunk) in chunks {
            self.moved_out -= chunk.len();
            self.resources.extend(chunk);
        }
    }

    fn quick_id(&self, ev: &Evaluator<'_, '_>, r: &Json, pointer: &str) -> Value {
        if r.get("copy").is_some() {
            return Value::unknown("a copy loop has one ID per instance");
        }
        let rtype = r.get("type").and_then(Json::as_str).unwrap_or_default();
        let root = Ptr::Root(pointer);
        // A resource behind a false (or undecidable) condition may have a name that
        // cannot be evaluated; it is looked at only when it is expanded.
        if let Some(c) = r.get("condition") {
            if !matches!(
                ev.eval_json(c, Ptr::Key(&root, "condition")),
                Value::Bool(true)
            ) {
                return Value::unknown("the resource is deployed only under a condition");
            }
        }
        let name = r
            .get("name")
            .map_or(Value::Null, |n| ev.eval_json(n, Ptr::Key(&root, "name")));
        let scope = r
            .get("scope")
            .map(|s| ev.eval_json(s, Ptr::Key(&root, "scope")));
        resource_id(ev, rtype, &name, scope.as_ref(), r, &root)
    }

    fn resource(
        &mut self,
        ev: &Evaluator<'_, '_>,
        r: &Json,
        pointer: &str,
        symbol: Option<&str>,
        parent: Option<&Parent>,
        depth: usize,
    ) {
        let root = Ptr::Root(pointer);
        let Some(obj) = r.as_object() else {
            return;
        };
        let mut declared = Declared {
            names: Vec::new(),
            symbol: symbol.map(str::to_ascii_lowercase),
        };
        let existing = obj.get("existing").and_then(Json::as_bool) == Some(true);
        let mut uncertain: Option<Value> = None;
        if existing {
            self.engine.mute(true);
        }
        let loop_name = obj
            .get("copy")
            .and_then(|c| c.get("name"))
            .and_then(Json::as_str);
        let instances: Vec<(Option<i64>, Evaluator<'_, '_>)> = match obj.get("copy") {
            Some(copy) => {
                let cp = Ptr::Key(&root, "copy");
                let name = copy.get("name").and_then(Json::as_str);
                let count = copy
                    .get("count")
                    .map_or(Value::Int(0), |c| ev.eval_json(c, Ptr::Key(&cp, "count")));
                match ev.copy_count(&count, &cp) {
                    Ok(n) => (0..n)
                        .map(|i| (Some(i), ev.with_copy(name, i, true)))
                        .collect(),
                    // Unknown count: one representative instance, so the resource's shape is
                    // still seen; its condition says it may not exist.
                    Err(u) if matches!(count, Value::Unknown(_) | Value::Choice(_)) => {
                        uncertain = Some(u);
                        vec![(None, ev.with_copy(name, 0, true))]
                    }
                    Err(_) => Vec::new(),
                }
            }
            None => vec![(None, ev.clone())],
        };
        for (copy_index, iev) in instances {
            if !self.may_go_on(pointer) {
                break;
            }
            let condition = match obj.get("condition") {
                Some(c) => iev.eval_json(c, Ptr::Key(&root, "condition")),
                None => Value::Bool(true),
            };
            if matches!(condition, Value::Bool(false)) {
                continue;
            }
            let condition = match (&uncertain, condition) {
                (Some(u), Value::Bool(true)) => u.clone(),
                (_, c) => c,
            };
            let short_type = obj.get("type").and_then(Json::as_str).unwrap_or_default();
            let resource_type = match parent {
                Some(p) if !short_type.contains('.') => format!("{}/{short_type}", p.resource_type),
                _ => short_type.to_string(),
            };
            let mut name = obj
                .get("name")
                .map_or(Value::Null, |n| iev.eval_json(n, Ptr::Key(&root, "name")));
            if let (Some(p), Value::String(n)) = (parent, &name) {
                let want = resource_type.split('/').count() - 1;
                if n.split('/').count() < want {
                    name = match &p.name {
                        Value::String(pn) => Value::String(format!("{pn}/{n}")),
                        u => u.clone(),
                    };
                }
            }
            if let Value::String(n) = &name {
                declared.names.push(n.to_ascii_lowercase());
            }
            let scope = obj
                .get("scope")
                .map(|s| iev.eval_json(s, Ptr::Key(&root, "scope")));
            let id = match parent {
                Some(p) if scope.is_none() => child_id(&p.id, &resource_type, &name),
                _ => resource_id(&iev, &resource_type, &name, scope.as_ref(), r, &root),
            };
            let nested = resource_type.eq_ignore_ascii_case(DEPLOYMENTS);
            let mut body = Map::with_capacity(obj.len());
            for (k, v) in obj {
                let lk = k.to_ascii_lowercase();
                if matches!(
                    lk.as_str(),
                    "copy" | "condition" | "resources" | "dependson"
                ) {
                    continue;
                }
                let here = Ptr::Key(&root, k);
                let value = match lk.as_str() {
                    "name" => name.clone(),
                    "type" => Value::String(resource_type.clone()),
                    "scope" => scope.clone().unwrap_or(Value::Null),
                    "properties" if nested => nested_properties(&iev, v, here),
                    _ => iev.eval_json(v, here),
                };
                body.insert(k.clone(), value);
            }
            let mut depends_on = Vec::new();
            if let Some(Json::Array(deps)) = obj.get("dependsOn") {
                let dp = Ptr::Key(&root, "dependsOn");
                for (i, d) in deps.iter().enumerate() {
                    let v = iev.eval_json(d, Ptr::Index(&dp, i));
                    let v = match &v {
                        Value::String(s) if !s.contains('/') => iev
                            .frame
                            .symbols
                            .borrow()
                            .get(&s.to_ascii_lowercase())
                            .cloned()
                            .unwrap_or(v),
                        _ => v,
                    };
                    depends_on.push(v);
                }
            }
            if let Some(p) = parent {
                depends_on.push(p.id.clone());
            }
            let body = Value::Object(body);
            let size = body.json_len(ARM_MAX_TEMPLATE_BYTES);
            if !self.meter(pointer, size) {
                break;
            }
            let api_version = body.get("apiVersion").cloned().unwrap_or(Value::Null);
            let properties = body.get("properties").cloned();
            self.resources.push(ExpandedResource {
                resource_type: resource_type.clone(),
                api_version,
                name: name.clone(),
                id: id.clone(),
                body,
                depends_on,
                origin: self.doc.location(pointer),
                existing,
                condition: condition.clone(),
                handle: match (symbol.or(loop_name), copy_index) {
                    (Some(h), Some(i)) => Some(format!("{h}[{i}]")),
                    (Some(h), None) => Some(h.to_string()),
                    (None, _) => None,
                },
            });
            if nested {
                if depth + 1 > MAX_NESTING {
                    self.limit(
                        pointer,
                        format!(
                            "nested deployments deeper than {MAX_NESTING} (cmek-arm's bound; ARM documents none) are not followed"
                        ),
                    );
                } else if let Some(outputs) =
                    self.nested(&iev, r, pointer, &name, properties.as_ref(), depth + 1)
                {
                    // `reference()` of this deployment, by name, ID or symbolic name.
                    let reference = deployment_reference(outputs);
                    let mut keys = vec![name.clone(), id.clone()];
                    if let Some(sym) = symbol {
                        keys.push(Value::String(match copy_index {
                            Some(i) => format!("{sym}[{i}]"),
                            None => sym.to_string(),
                        }));
                    }
                    let mut known = iev.frame.deployments.borrow_mut();
                    for k in keys.into_iter().filter(|k| k.as_str2().is_some()) {
                        known.push((k, reference.clone()));
                    }
                }
            }
            if let Some(Json::Array(children)) = obj.get("resources") {
                let me = Parent {
                    resource_type: resource_type.clone(),
                    name: name.clone(),
                    id: id.clone(),
                };
                for (i, c) in children.iter().enumerate() {
                    self.resource(
                        &iev,
                        c,
                        &format!("{pointer}/resources/{i}"),
                        None,
                        Some(&me),
                        depth,
                    );
                }
            }
        }
        if existing {
            self.engine.mute(false);
        }
        self.declared.push(declared);
    }

    /// Follows an inline nested deployment: inner scope gets its own frame with the
    /// parameters passed in `properties.parameters`; outer scope shares the parent's.
    /// Returns the nested template's outputs (what `reference()` of it reads).
    fn nested(
        &mut self,
        ev: &Evaluator<'_, '_>,
        r: &Json,
        pointer: &str,
        name: &Value,
        properties: Option<&Value>,
        depth: usize,
    ) -> Option<IndexMap<String, Output>> {
        let props = r.get("properties")?;
        let template = props.get("template")?;
        let base = format!("{pointer}/properties/template");
        let inner = props
            .get("expressionEvaluationOptions")
            .and_then(|o| o.get("scope"))
            .and_then(Json::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
        if !inner {
            self.resources_of(ev, template, &base, depth);
            return Some(self.outputs(ev, template, &base));
        }
        let provided: IndexMap<String, Value> = properties
            .and_then(|p| p.get("parameters"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let value = match v {
                            Value::Object(o) => match crate::value::get_ci(o, "value") {
                                Some(x) => x.clone(),
                                None => Value::unknown("the value is a Key Vault secret reference"),
                            },
                            Value::Unknown(_) => v.clone(),
                            _ => Value::unknown("the parameter entry has no value"),
                        };
                        (k.clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let outer = &ev.frame.scope;
        let text = |key: &str| {
            r.get(key)
                .map(|j| ev.eval_json(j, Ptr::Key(&Ptr::Root(pointer), key)))
        };
        let mut scope = outer.clone();
        scope.level = level_of(template);
        let id = self.engine.next_id();
        let label = format!("@{}", name.display());
        // Another subscription or resource group is a scope of its own: its
        // location is a symbol of its own, never equal to the outer one's.
        let same = |a: &Value, b: &Value| match (a.as_str2(), b.as_str2()) {
            (Some(x), Some(y)) => x.equals(y, true) == Some(true),
            _ => false,
        };
        let mut moved = false;
        if let Some(v) = text("subscriptionId") {
            moved |= !same(&v, &outer.subscription_id);
            scope.subscription_id = scope_string(v, "subscriptionId");
        }
        if let Some(v) = text("resourceGroup") {
            moved |= !same(&v, &outer.resource_group);
            scope.resource_group = scope_string(v, "resourceGroup");
        }
        if moved {
            scope.resource_group_location = symbol(
                id,
                "resourceGroup().location",
                &label,
                Shape::Name,
                "not known before deployment",
            );
        }
        scope.deployment_name = scope_string(name.clone(), "the deployment name");
        // A frame costs its declarations (copies of a nested deployment each make one).
        let declarations: usize = ["parameters", "variables", "functions", "definitions"]
            .iter()
            .filter_map(|k| template.get(*k))
            .map(|d| {
                d.as_object()
                    .map_or_else(|| d.as_array().map_or(0, Vec::len), |o| o.len())
            })
            .sum();
        if !self
            .engine
            .charge_at(1 + declarations as u64, Ptr::Root(pointer))
        {
            return None;
        }
        let mut frame = Frame::new(template, &base, provided, scope);
        frame.id = id;
        frame.label = label;
        let iev = Evaluator::new(self.engine, &frame);
        for extra in &frame.undeclared {
            self.engine.report(Finding {
                kind: FaultKind::Undefined,
                message: format!("the nested template declares no parameter '{extra}'"),
                pointer: format!("{pointer}/properties/parameters/{extra}"),
                span: None,
            });
        }
        self.resources_of(&iev, template, &base, depth);
        Some(self.outputs(&iev, template, &base))
    }

    fn outputs(
        &self,
        ev: &Evaluator<'_, '_>,
        template: &Json,
        base: &str,
    ) -> IndexMap<String, Output> {
        let mut out = IndexMap::new();
        let Some(outputs) = template.get("outputs").and_then(Json::as_object) else {
            return out;
        };
        for (k, o) in outputs {
            let pointer = pointer_push(&format!("{base}/outputs"), k);
            let root = Ptr::Root(&pointer);
            if let Some(c) = o.get("condition") {
                if matches!(
                    ev.eval_json(c, Ptr::Key(&root, "condition")),
                    Value::Bool(false)
                ) {
                    continue;
                }
            }
            let output_type = o
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            let value = if let Some(copy) = o.get("copy") {
                let cp = Ptr::Key(&root, "copy");
                let count = copy
                    .get("count")
                    .map_or(Value::Int(0), |c| ev.eval_json(c, Ptr::Key(&cp, "count")));
                match ev.copy_count(&count, &cp) {
                    Ok(n) => {
                        let input = copy.get("input").unwrap_or(&Json::Null);
                        Value::Array(
                            (0..n)
                                .map(|i| {
                                    ev.with_copy(None, i, true)
                                        .eval_json(input, Ptr::Key(&cp, "input"))
                                })
                                .collect(),
                        )
                    }
                    Err(u) => u,
                }
            } else {
                o.get("value")
                    .map_or(Value::Null, |v| ev.eval_json(v, Ptr::Key(&root, "value")))
            };
            out.insert(k.clone(), Output { output_type, value });
        }
        out
    }

    /// ARM004 for `dependsOn` entries that name no resource of the template.
    fn check_depends_on(&self, declared: &[Declared]) {
        let id_list: Vec<String> = self
            .resources
            .iter()
            .filter_map(|r| r.id.as_str().map(str::to_ascii_lowercase))
            .collect();
        let ids: HashSet<&str> = id_list.iter().map(String::as_str).collect();
        // Every tail of every ID after a `/`: an entry may name a resource by
        // the end of its ID (`Microsoft.KeyVault/vaults/kv1`). Made only for an
        // entry no cheaper lookup finds (most templates have none).
        let tails: std::cell::OnceCell<HashSet<&str>> = std::cell::OnceCell::new();
        let tails = || {
            tails.get_or_init(|| {
                id_list
                    .iter()
                    .flat_map(|id| id.match_indices('/').filter_map(|(i, _)| id.get(i + 1..)))
                    .collect()
            })
        };
        // IDs that are not plain strings: an entry may still be one of them.
        let some_id_unknown = self
            .resources
            .iter()
            .any(|x| x.id.as_str2().is_none() && x.id.is_unknown());
        let symbolic: Vec<Str<'_>> = self
            .resources
            .iter()
            .filter_map(|x| match x.id.as_str2() {
                Some(id @ Str::Text(_)) => Some(id),
                _ => None,
            })
            .collect();
        // Comparisons with symbolic IDs are the one part that is not a lookup:
        // bounded, and past the bound an entry counts as possibly matching
        // (no finding rather than a wrong one).
        let mut comparisons_left: usize = 1_000_000;
        let names: HashSet<&str> = declared
            .iter()
            .flat_map(|d| d.names.iter().map(String::as_str))
            .collect();
        let symbols: HashSet<&str> = declared
            .iter()
            .filter_map(|d| d.symbol.as_deref())
            .collect();
        let copies: HashSet<String> = self.copy_names();
        for r in &self.resources {
            let Location::File { pointer, .. } = &r.origin else {
                continue;
            };
            if let Some(Json::Array(deps)) =
                json_at(&self.doc.value, pointer).and_then(|j| j.get("dependsOn"))
            {
                for (i, d) in deps.iter().enumerate() {
                    let Some(Value::String(v)) = r.depends_on.get(i) else {
                        continue;
                    };
                    let l = v.to_ascii_lowercase();
                    let last = l.rsplit('/').next().unwrap_or(&l);
                    let known = ids.contains(l.as_str())
                        || names.contains(l.as_str())
                        || names.contains(last)
                        || symbols.contains(l.as_str())
                        || copies.contains(&l)
                        || tails().contains(l.as_str())
                        // An ID that is unknown, or symbolic and possibly equal, may still match.
                        || some_id_unknown
                        || symbolic.iter().any(|id| {
                            if comparisons_left == 0 {
                                return true;
                            }
                            comparisons_left -= 1;
                            id.equals(Str::Lit(v), true) != Some(false)
                        });
                    if !known && !matches!(d, Json::Null) {
                        self.engine.report(Finding {
                            kind: FaultKind::Undefined,
                            message: format!("dependsOn '{v}' names no resource of this template"),
                            pointer: format!("{pointer}/dependsOn/{i}"),
                            span: None,
                        });
                    }
                }
            }
        }
    }

    fn copy_names(&self) -> HashSet<String> {
        fn collect(v: &Json, out: &mut HashSet<String>) {
            let items: Vec<&Json> = match v.get("resources") {
                Some(Json::Array(a)) => a.iter().collect(),
                Some(Json::Object(o)) => o.values().collect(),
                _ => Vec::new(),
            };
            for r in items {
                if let Some(n) = r
                    .get("copy")
                    .and_then(|c| c.get("name"))
                    .and_then(Json::as_str)
                {
                    out.insert(n.to_ascii_lowercase());
                }
                collect(r, out);
                if let Some(t) = r.get("properties").and_then(|p| p.get("template")) {
                    collect(t, out);
                }
            }
        }
        let mut out = HashSet::new();
        collect(&self.doc.value, &mut out);
        out
    }
}

/// Language 1.0 `dependsOn` may name a resource (`kv1`, `Microsoft.KeyVault/vaults/kv1`);
/// where exactly one expanded resource matches, the entry becomes its ID.
fn resolve_depends_on(resources: &mut [ExpandedResource]) {
    let by_name = |d: &Value| matches!(d, Value::String(s) if !s.starts_with('/'));
    if !resources.iter().any(|r| r.depends_on.iter().any(by_name)) {
        return;
    }
    // Name and type/name of each resource with its ID, and how many resources
    // answer to each: a lookup per entry, not a scan of every resource.
    let mut known: HashMap<String, (usize, String)> = HashMap::new();
    for r in resources.iter() {
        let (Value::String(name), Value::String(id)) = (&r.name, &r.id) else {
            continue;
        };
        for key in [
            name.to_ascii_lowercase(),
            format!("{}/{}", r.resource_type, name).to_ascii_lowercase(),
        ] {
            let e = known.entry(key).or_insert((0, id.clone()));
            e.0 += 1;
        }
    }
    for r in resources.iter_mut() {
        for d in &mut r.depends_on {
            let Value::String(s) = d else {
                continue;
            };
            if s.starts_with('/') {
                continue;
            }
            if let Some((1, id)) = known.get(&s.to_ascii_lowercase()) {
                *d = Value::String(id.clone());
            }
        }
    }
}

fn json_at<'j>(root: &'j Json, pointer: &str) -> Option<&'j Json> {
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// What `reference()` of a nested deployment returns: its properties, of which
/// only the outputs are known before it runs.
fn deployment_reference(outputs: IndexMap<String, Output>) -> Value {
    let mut out = Map::new();
    for key in [
        "provisioningState",
        "timestamp",
        "duration",
        "correlationId",
        "mode",
        "templateHash",
        "parameters",
        "providers",
        "dependencies",
        "outputResources",
        "validatedResources",
    ] {
        out.insert(
            key.to_string(),
            Value::unknown(format!("the deployment's {key} is known once it has run")),
        );
    }
    let outputs: Map = outputs
        .into_iter()
        .map(|(k, o)| {
            let mut m = Map::new();
            m.insert("type".into(), Value::String(o.output_type));
            m.insert("value".into(), o.value);
            (k, Value::Object(m))
        })
        .collect();
    out.insert("outputs".into(), Value::Object(outputs));
    Value::Object(out)
}

/// A nested deployment's properties without its template (flattened separately).
fn nested_properties(ev: &Evaluator<'_, '_>, v: &Json, ptr: Ptr<'_>) -> Value {
    let Some(o) = v.as_object() else {
        return ev.eval_json(v, ptr);
    };
    let inner = o
        .get("expressionEvaluationOptions")
        .and_then(|x| x.get("scope"))
        .and_then(Json::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
    let mut out = Map::new();
    for (k, x) in o {
        if k == "template" {
            out.insert(
                k.clone(),
                Value::String("(flattened into resources)".into()),
            );
            continue;
        }
        let _ = inner;
        out.insert(k.clone(), ev.eval_json(x, Ptr::Key(&ptr, k)));
    }
    Value::Object(out)
}

fn child_id(parent_id: &Value, resource_type: &str, name: &Value) -> Value {
    match (parent_id.as_str2(), name) {
        (Some(pid), Value::String(_) | Value::Text(_)) => {
            let seg_type = resource_type.rsplit('/').next().unwrap_or_default();
            let last = match name {
                Value::String(n) => Str2::Lit(n.rsplit('/').next().unwrap_or_default().to_string()),
                Value::Text(t) => t.name_segments().pop().unwrap_or(Str2::Lit(String::new())),
                _ => Str2::Lit(String::new()),
            };
            let mut b = TextBuilder::default();
            b.push(pid);
            b.push_str("/");
            b.push_str(seg_type);
            b.push_str("/");
            b.push(last.as_str2());
            b.finish()
        }
        (None, _) if parent_id.is_unknown() => parent_id.clone(),
        (_, Value::Unknown(_)) => name.clone(),
        _ => Value::unknown("the resource has no name"),
    }
}

/// The ID ARM gives a resource: at the deployment's scope, in another resource
/// group/subscription (nested deployments), or below `scope` (extension resources).
fn resource_id(
    ev: &Evaluator<'_, '_>,
    resource_type: &str,
    name: &Value,
    scope: Option<&Value>,
    r: &Json,
    root: &Ptr<'_>,
) -> Value {
    let path = match name {
        Value::String(_) | Value::Text(_) => {
            match provider_path_of(resource_type, std::slice::from_ref(name)) {
                Ok(p) => p,
                Err(m) => return Value::unknown(m),
            }
        }
        Value::Unknown(_) => return name.clone(),
        Value::Choice(c) => return Value::unknown(format!("the name depends on {}", c.why)),
        _ => return Value::unknown("the resource has no name"),
    };
    let Some(path) = path.as_str2() else {
        return path;
    };
    let s = &ev.frame.scope;
    let join = |prefix: Str<'_>, sep: &str| {
        let mut b = TextBuilder::default();
        b.push(prefix);
        b.push_str(sep);
        b.push(path);
        b.finish()
    };
    if let Some(scope) = scope {
        let scope_id = match scope {
            Value::String(sc) if sc.starts_with('/') => {
                Value::String(sc.trim_end_matches('/').to_string())
            }
            Value::Text(_) => scope.clone(),
            Value::String(sc) if sc.contains('/') => match rg_id(s) {
                Ok(rg) => match rg.as_str2() {
                    Some(rg) => {
                        let mut b = TextBuilder::default();
                        b.push(rg);
                        b.push_str("/providers/");
                        b.push_str(sc.trim_end_matches('/'));
                        b.finish()
                    }
                    None => rg,
                },
                Err(u) => u,
            },
            Value::String(sym) => ev
                .frame
                .symbols
                .borrow()
                .get(&sym.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| Value::unknown(format!("scope '{sym}' names no resource"))),
            Value::Unknown(_) => scope.clone(),
            Value::Choice(c) => Value::unknown(format!("the scope depends on {}", c.why)),
            _ => Value::unknown("scope is not a string"),
        };
        return match scope_id.as_str2() {
            Some(sid) => join(sid, "/providers/"),
            None => scope_id,
        };
    }
    let explicit = |key: &str| r.get(key).map(|j| ev.eval_json(j, Ptr::Key(root, key)));
    let sub = explicit("subscriptionId").unwrap_or_else(|| s.subscription_id.clone());
    let rg = match explicit("resourceGroup") {
        Some(v) => Some(v),
        None if s.level == "resourceGroup" => Some(s.resource_group.clone()),
        None => None,
    };
    if matches!(s.level.as_str(), "tenant" | "managementGroup") && r.get("subscriptionId").is_none()
    {
        return join(Str::Lit(""), "/providers/");
    }
    let Some(sub_s) = sub.as_str2() else {
        return scope_string(sub, "subscriptionId");
    };
    let mut b = TextBuilder::default();
    b.push_str("/subscriptions/");
    b.push(sub_s);
    if let Some(rg) = rg {
        let Some(rg_s) = rg.as_str2() else {
            return scope_string(rg, "resourceGroup");
        };
        b.push_str("/resourceGroups/");
        b.push(rg_s);
    }
    b.push_str("/providers/");
    b.push(path);
    b.finish()
}

impl Expansion {
    /// The `expand` command's JSON (CLI.md): version, resources with origin, outputs.
    pub fn to_json(&self) -> Json {
        let resources: Vec<Json> = self
            .resources
            .iter()
            .map(|r| {
                let mut m = serde_json::Map::new();
                m.insert("type".into(), Json::String(r.resource_type.clone()));
                m.insert("apiVersion".into(), r.api_version.to_json());
                m.insert("name".into(), r.name.to_json());
                m.insert("id".into(), r.id.to_json());
                if let Value::Object(body) = &r.body {
                    for (k, v) in body {
                        let lk = k.to_ascii_lowercase();
                        if !matches!(lk.as_str(), "type" | "apiversion" | "name") {
                            m.insert(k.clone(), v.to_json());
                        }
                    }
                }
                if r.existing {
                    m.insert("existing".into(), Json::Bool(true));
                }
                if !matches!(r.condition, Value::Bool(true)) {
                    m.insert("condition".into(), r.condition.to_json());
                }
                m.insert(
                    "dependsOn".into(),
                    Json::Array(r.depends_on.iter().map(Value::to_json).collect()),
                );
                if let Location::File { file, pointer, .. } = &r.origin {
                    let mut o = serde_json::Map::new();
                    o.insert("file".into(), Json::String(file.clone()));
                    o.insert("pointer".into(), Json::String(pointer.clone()));
                    m.insert("origin".into(), Json::Object(o));
                }
                Json::Object(m)
            })
            .collect();
        let mut outputs = serde_json::Map::new();
        for (k, o) in &self.outputs {
            let mut m = serde_json::Map::new();
            m.insert("type".into(), Json::String(o.output_type.clone()));
            m.insert("value".into(), o.value.to_json());
            outputs.insert(k.clone(), Json::Object(m));
        }
        let mut root = serde_json::Map::new();
        root.insert("version".into(), Json::from(1));
        root.insert("resources".into(), Json::Array(resources));
        root.insert("outputs".into(), Json::Object(outputs));
        Json::Object(root)
    }

    /// True when the engine found the template broken (ARM003/ARM004 errors).
    pub fn is_broken(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.level == Level::Error && (d.rule == "ARM003" || d.rule == "ARM004"))
    }
}
