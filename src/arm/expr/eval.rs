//! The evaluator: expressions and JSON trees holding expressions, in the scope
//! of one template (its parameters, variables and user-defined functions).
//!
//! Unknown is explicit: a value the deployment context lacks, or one that needs
//! deployed state, evaluates to [`Value::Unknown`] with a reason, and functions
//! over unknowns give unknowns (except where ARM would not look at them, as in
//! the untaken branch of `if`). Hostile input hits limits (nesting, steps,
//! sizes), each reported as a finding, never a hang or a panic.

use super::ast::{Call, Expr, ExprSpan};
use super::index::{AddrMap, ExprIndex, ParsedExpr};
use super::parser::parse_expression;
use crate::value::{get_ci, Map, Value};
use indexmap::IndexMap;
use serde_json::Value as Json;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

/// What kind of problem an evaluation hit; decides the rule it is reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// A name that is not defined: parameter, variable, function, wrong argument count (ARM004).
    Undefined,
    /// ARM would reject the expression when evaluating it (wrong types, out of range, `fail()`).
    Invalid,
    /// A safety limit (steps, sizes, nesting, copy count) was exceeded.
    Limit,
}

/// An evaluation failure and where in the expression string it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What kind.
    pub kind: FaultKind,
    /// One sentence naming the function or name and the value.
    pub message: String,
    /// Where within the string.
    pub span: ExprSpan,
}

impl Fault {
    /// An [`FaultKind::Invalid`] fault.
    pub fn invalid(span: ExprSpan, message: impl Into<String>) -> Self {
        Fault {
            kind: FaultKind::Invalid,
            message: message.into(),
            span,
        }
    }
    /// An [`FaultKind::Undefined`] fault.
    pub fn undefined(span: ExprSpan, message: impl Into<String>) -> Self {
        Fault {
            kind: FaultKind::Undefined,
            message: message.into(),
            span,
        }
    }
    /// A [`FaultKind::Limit`] fault.
    pub fn limit(span: ExprSpan, message: impl Into<String>) -> Self {
        Fault {
            kind: FaultKind::Limit,
            message: message.into(),
            span,
        }
    }
}

/// Result of evaluating an expression.
pub type R = Result<Value, Fault>;

/// Limits that keep hostile templates from hanging or exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Units of work per expansion: expression nodes evaluated, values built or
    /// copied, 16-byte pieces of strings built (see [`crate::arm::limits::EVALUATION_BUDGET`]).
    pub max_steps: u64,
    /// Longest string a function may build (bytes).
    pub max_string: usize,
    /// Longest array a function may build.
    pub max_array: usize,
    /// Nesting of variable, parameter and user-function evaluation.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        use crate::arm::limits as l;
        Limits {
            max_steps: l::EVALUATION_BUDGET,
            max_string: l::MAX_STRING_BYTES,
            max_array: l::MAX_ARRAY_ITEMS,
            max_depth: l::MAX_EVALUATION_DEPTH,
        }
    }
}

/// The deployment a template is evaluated in. Each value is a plain string when
/// the context gives it, else a symbol of this deployment scope (see
/// [`crate::value::Text`]): unknown, but equal to itself wherever it is used.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Subscription ID.
    pub subscription_id: Value,
    /// Resource group name (`Null` where the deployment has none).
    pub resource_group: Value,
    /// Resource group location.
    pub resource_group_location: Value,
    /// Tenant ID.
    pub tenant_id: Value,
    /// Object ID of the deploying principal.
    pub deployer_object_id: Value,
    /// Deployment name.
    pub deployment_name: Value,
    /// Target scope from `$schema`: `resourceGroup`, `subscription`, `managementGroup`, `tenant`.
    pub level: String,
}

impl Default for Scope {
    fn default() -> Self {
        let u = || Value::unknown("no deployment context");
        Scope {
            subscription_id: u(),
            resource_group: u(),
            resource_group_location: u(),
            tenant_id: u(),
            deployer_object_id: u(),
            deployment_name: u(),
            level: "resourceGroup".into(),
        }
    }
}

/// A JSON pointer built without allocating until it is needed (for findings).
#[derive(Clone, Copy)]
pub enum Ptr<'a> {
    /// A pointer given as text.
    Root(&'a str),
    /// A property below a parent.
    Key(&'a Ptr<'a>, &'a str),
    /// An array element below a parent.
    Index(&'a Ptr<'a>, usize),
}

impl Ptr<'_> {
    /// The pointer as text (`/resources/0/name`).
    pub fn render(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut p = self;
        let root = loop {
            match p {
                Ptr::Root(r) => break *r,
                Ptr::Key(parent, k) => {
                    parts.push(k.replace('~', "~0").replace('/', "~1"));
                    p = parent;
                }
                Ptr::Index(parent, i) => {
                    parts.push(i.to_string());
                    p = parent;
                }
            }
        };
        let mut out = root.to_string();
        for part in parts.iter().rev() {
            out.push('/');
            out.push_str(part);
        }
        out
    }
}

/// A problem found while evaluating, at a JSON pointer in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What kind.
    pub kind: FaultKind,
    /// Message.
    pub message: String,
    /// JSON pointer of the string holding the expression.
    pub pointer: String,
    /// Where in that string.
    pub span: Option<ExprSpan>,
}

/// State shared by every evaluator of one expansion: budget, findings, parse cache.
pub struct Engine {
    /// The limits in force.
    pub limits: Limits,
    steps: Cell<u64>,
    exhausted: Cell<bool>,
    // The budget finding is made once per template, at the first place it ran out.
    exhaustion_reported: Cell<bool>,
    muted: Cell<u32>,
    findings: RefCell<Vec<Finding>>,
    /// The template's own expressions, parsed once for every reader.
    index: Option<Arc<ExprIndex>>,
    // Strings not in the index (built while evaluating), keyed by address and
    // length: they live as long as the engine and never change.
    parsed: RefCell<AddrMap<ParsedExpr>>,
    // Numbers frames and deployment scopes, so their symbols never collide.
    next_id: Cell<u64>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(Limits::default())
    }
}

impl Engine {
    /// An engine with the given limits.
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            steps: Cell::new(0),
            exhausted: Cell::new(false),
            exhaustion_reported: Cell::new(false),
            muted: Cell::new(0),
            findings: RefCell::new(Vec::new()),
            index: None,
            parsed: RefCell::new(AddrMap::default()),
            next_id: Cell::new(0),
        }
    }

    /// A new number for a frame or deployment scope (0 is the top level's).
    pub fn next_id(&self) -> u64 {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        n
    }

    /// The engine reading parsed expressions from `index` (the template's).
    pub fn with_index(mut self, index: Arc<ExprIndex>) -> Self {
        self.index = Some(index);
        self
    }

    /// Records a finding (dropped while muted).
    pub fn report(&self, finding: Finding) {
        if self.muted.get() == 0 {
            self.findings.borrow_mut().push(finding);
        }
    }

    /// Mutes (or unmutes) findings: `existing` resources are only read, and ARM
    /// evaluates their properties only where they are used.
    pub fn mute(&self, on: bool) {
        let n = self.muted.get();
        self.muted.set(if on { n + 1 } else { n.saturating_sub(1) });
    }

    /// Records a fault met while evaluating the string at `ptr`; the budget's
    /// exhaustion only once (everything after it fails the same way).
    pub fn report_fault(&self, fault: &Fault, ptr: Ptr<'_>) {
        if fault.kind == FaultKind::Limit && self.exhausted() {
            if self.exhaustion_reported.get() || self.muted.get() > 0 {
                return;
            }
            self.exhaustion_reported.set(true);
        }
        self.report(Finding {
            kind: fault.kind,
            message: fault.message.clone(),
            pointer: ptr.render(),
            span: Some(fault.span),
        });
    }

    /// Charges `cost` for building values from template JSON at `ptr`; false
    /// (with the finding made) once the budget has run out.
    pub fn charge_at(&self, cost: u64, ptr: Ptr<'_>) -> bool {
        match self.charge(cost, ExprSpan::default()) {
            Ok(()) => true,
            Err(f) => {
                self.report_fault(&f, ptr);
                false
            }
        }
    }

    /// Takes the findings recorded so far.
    pub fn take_findings(&self) -> Vec<Finding> {
        std::mem::take(&mut *self.findings.borrow_mut())
    }

    /// True once the step budget ran out (everything after is Unknown).
    pub fn exhausted(&self) -> bool {
        self.exhausted.get()
    }

    /// True once the budget's exhaustion has been reported as a finding (it may
    /// run out while findings are muted: see [`Engine::mute`]).
    pub fn exhaustion_reported(&self) -> bool {
        self.exhaustion_reported.get()
    }

    /// Units of work used so far (see [`Limits::max_steps`]).
    pub fn work(&self) -> u64 {
        self.steps.get()
    }

    fn step(&self, span: ExprSpan) -> Result<(), Fault> {
        self.charge(1, span)
    }

    /// Charges `cost` units of work: built and copied values cost their size, so
    /// a function that builds a large array counts as the work it is, not as one
    /// step, and the budget bounds memory as well as time.
    pub fn charge(&self, cost: u64, span: ExprSpan) -> Result<(), Fault> {
        let n = self.steps.get().saturating_add(cost);
        self.steps.set(n);
        if n > self.limits.max_steps {
            self.exhausted.set(true);
            return Err(Fault::limit(span, self.exhaustion_message()));
        }
        Ok(())
    }

    /// The one wording of the budget finding (reported once per template).
    pub fn exhaustion_message(&self) -> String {
        format!(
            "evaluation stopped: the template needs more than cmek-arm's evaluation budget of {} units of work (values built or copied, expressions evaluated); what was expanded before this point is still checked",
            self.limits.max_steps
        )
    }

    /// A copy of a stored value (a variable, parameter, lambda or function
    /// argument), charged by its size: reading a large variable in a loop is
    /// as much work, and memory, as building it each time.
    pub fn copy_of(&self, v: &Value, span: ExprSpan) -> R {
        let left = self.limits.max_steps.saturating_sub(self.steps.get());
        self.charge(v.weight(left), span)?;
        Ok(v.clone())
    }

    /// Parses an expression string once: from the template's index, or
    /// cached by the string's address.
    pub fn parse(&self, s: &str) -> ParsedExpr {
        if let Some(hit) = self.index.as_ref().and_then(|i| i.get(s)) {
            return hit.clone();
        }
        let key = (s.as_ptr() as usize, s.len());
        if let Some(hit) = self.parsed.borrow().get(&key) {
            return hit.clone();
        }
        let parsed = Arc::new(parse_expression(s));
        self.parsed.borrow_mut().insert(key, parsed.clone());
        parsed
    }
}

enum Memo {
    Busy,
    Done(Value),
}

struct ParamSlot<'t> {
    name: String,
    decl: &'t Json,
    provided: Option<Value>,
    pointer: String,
}

enum VarSlot<'t> {
    Plain(&'t Json, String),
    /// `variables.copy[i]`: `{name, count, input}`.
    Copy(&'t Json, String),
}

/// One template's declarations: parameters (lazy, memoised), variables (lazy,
/// memoised, cycle-checked) and user-defined functions.
pub struct Frame<'t> {
    /// The deployment it runs in.
    pub scope: Scope,
    params: HashMap<String, ParamSlot<'t>>,
    vars: HashMap<String, VarSlot<'t>>,
    functions: HashMap<String, (&'t Json, String)>,
    definitions: Option<&'t Json>,
    memo: RefCell<HashMap<(bool, String), Memo>>,
    /// Lower-cased symbolic name (languageVersion 2.0) -> resource ID, for `reference()`/`resourceId` lookups.
    pub symbols: RefCell<HashMap<String, Value>>,
    /// Values of parameter names the caller supplied but the template does not declare.
    pub undeclared: Vec<String>,
    /// Numbers this frame's symbols (parameters without a value); 0 at the top level.
    pub id: u64,
    /// Appended to the display of this frame's symbols: empty at the top level,
    /// `@<deployment name>` in a nested deployment's own scope.
    pub label: String,
    /// Nested deployments of this template whose outputs are known: their names,
    /// symbolic names and IDs, each with what `reference()` of it returns.
    pub deployments: RefCell<Vec<(Value, Value)>>,
}

impl<'t> Frame<'t> {
    /// Reads the declarations of `template` (at `base`, a JSON pointer in the file).
    /// `provided` holds parameter values (from a parameters file or a parent
    /// deployment), keyed by name.
    pub fn new(
        template: &'t Json,
        base: &str,
        provided: IndexMap<String, Value>,
        scope: Scope,
    ) -> Self {
        let mut provided: HashMap<String, (String, Value)> = provided
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (k, v)))
            .collect();
        let mut params = HashMap::new();
        if let Some(ps) = template.get("parameters").and_then(Json::as_object) {
            for (name, decl) in ps {
                let value = provided.remove(&name.to_ascii_lowercase()).map(|(_, v)| v);
                params.insert(
                    name.to_ascii_lowercase(),
                    ParamSlot {
                        name: name.clone(),
                        decl,
                        provided: value,
                        pointer: format!("{base}/parameters/{}", escape(name)),
                    },
                );
            }
        }
        let mut vars = HashMap::new();
        if let Some(vs) = template.get("variables").and_then(Json::as_object) {
            for (name, v) in vs {
                if name.eq_ignore_ascii_case("copy") {
                    if let Some(items) = v.as_array() {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(n) = item.get("name").and_then(Json::as_str) {
                                vars.insert(
                                    n.to_ascii_lowercase(),
                                    VarSlot::Copy(item, format!("{base}/variables/{name}/{i}")),
                                );
                            }
                        }
                        continue;
                    }
                }
                vars.insert(
                    name.to_ascii_lowercase(),
                    VarSlot::Plain(v, format!("{base}/variables/{}", escape(name))),
                );
            }
        }
        let mut functions = HashMap::new();
        if let Some(nss) = template.get("functions").and_then(Json::as_array) {
            for (i, ns) in nss.iter().enumerate() {
                let Some(nsname) = ns.get("namespace").and_then(Json::as_str) else {
                    continue;
                };
                let Some(members) = ns.get("members").and_then(Json::as_object) else {
                    continue;
                };
                for (fname, def) in members {
                    functions.insert(
                        format!("{nsname}.{fname}").to_ascii_lowercase(),
                        (
                            def,
                            format!("{base}/functions/{i}/members/{}", escape(fname)),
                        ),
                    );
                }
            }
        }
        let mut undeclared: Vec<String> = provided.into_values().map(|(k, _)| k).collect();
        undeclared.sort();
        Frame {
            scope,
            params,
            vars,
            functions,
            definitions: template.get("definitions"),
            memo: RefCell::new(HashMap::new()),
            symbols: RefCell::new(HashMap::new()),
            undeclared,
            id: 0,
            label: String::new(),
            deployments: RefCell::new(Vec::new()),
        }
    }

    /// Declared parameter names, in no particular order.
    pub fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.params.values().map(|p| p.name.as_str())
    }

    fn nullable(&self, decl: &Json) -> bool {
        if decl.get("nullable").and_then(Json::as_bool) == Some(true) {
            return true;
        }
        let Some(r) = decl.get("$ref").and_then(Json::as_str) else {
            return false;
        };
        let Some(name) = r.strip_prefix("#/definitions/") else {
            return false;
        };
        self.definitions
            .and_then(|d| d.get(name))
            .and_then(|d| d.get("nullable"))
            .and_then(Json::as_bool)
            == Some(true)
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[derive(Clone)]
struct CopyIdx {
    name: Option<String>,
    index: i64,
    resource: bool,
}

/// A lambda value: parameter names and body (only as an argument of map/filter/...).
pub struct Lambda<'x> {
    /// Parameter names, lower-cased.
    pub params: Vec<String>,
    /// The body.
    pub body: &'x Expr,
}

/// Evaluates expressions in one frame, with copy indices and lambda variables in scope.
#[derive(Clone)]
pub struct Evaluator<'e, 't> {
    /// Shared budget and findings.
    pub engine: &'e Engine,
    /// The template's declarations.
    pub frame: &'e Frame<'t>,
    copies: Vec<CopyIdx>,
    // Shared, so that the evaluator copies made for each lambda call and copy
    // index do not copy the values (a lambda variable can be a large array).
    lambdas: Vec<(String, Rc<Value>)>,
    fn_args: Option<Rc<Vec<(String, Value)>>>,
    depth: usize,
}

impl<'e, 't> Evaluator<'e, 't> {
    /// An evaluator at the top of `frame`.
    pub fn new(engine: &'e Engine, frame: &'e Frame<'t>) -> Self {
        Evaluator {
            engine,
            frame,
            copies: Vec::new(),
            lambdas: Vec::new(),
            fn_args: None,
            depth: 0,
        }
    }

    /// The same evaluator inside a copy loop at `index` (`resource`: a resource/output loop,
    /// which `copyIndex()` without a name refers to).
    pub fn with_copy(&self, name: Option<&str>, index: i64, resource: bool) -> Self {
        let mut e = self.clone();
        e.copies.push(CopyIdx {
            name: name.map(str::to_ascii_lowercase),
            index,
            resource,
        });
        e
    }

    /// Evaluates a JSON value from the template: expression strings are evaluated,
    /// property `copy` loops expanded; faults are reported at their pointer and
    /// leave an Unknown in place.
    pub fn eval_json(&self, json: &Json, ptr: Ptr<'_>) -> Value {
        if self.engine.exhausted() {
            return Value::unknown("evaluation budget exhausted");
        }
        let size = match json {
            Json::Array(a) => a.len(),
            Json::Object(o) => 2 * o.len(),
            _ => 0,
        };
        if !self.engine.charge_at(1 + size as u64, ptr) {
            return Value::unknown("evaluation budget exhausted");
        }
        match json {
            Json::String(s) => self.eval_template_string(s, ptr),
            Json::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.eval_json(v, Ptr::Index(&ptr, i)))
                    .collect(),
            ),
            Json::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    let here = Ptr::Key(&ptr, k);
                    if k.eq_ignore_ascii_case("copy") {
                        if let Some(loops) = v.as_array().filter(|a| is_property_copy(a)) {
                            for (i, l) in loops.iter().enumerate() {
                                let lp = Ptr::Index(&here, i);
                                if let Some((name, value)) = self.property_copy(l, lp) {
                                    out.insert(name, value);
                                }
                            }
                            continue;
                        }
                    }
                    out.insert(k.clone(), self.eval_json(v, here));
                }
                Value::Object(out)
            }
            other => Value::from(other),
        }
    }

    /// Evaluates a `{name, count, input}` copy loop into (name, array).
    pub fn property_copy(&self, l: &Json, ptr: Ptr<'_>) -> Option<(String, Value)> {
        let name = l.get("name").and_then(Json::as_str)?.to_string();
        let count = match l.get("count") {
            Some(c) => self.eval_json(c, Ptr::Key(&ptr, "count")),
            None => Value::Int(0),
        };
        let value = match self.copy_count(&count, &ptr) {
            Err(u) => u,
            Ok(n) => {
                let input = l.get("input").unwrap_or(&Json::Null);
                let ip = Ptr::Key(&ptr, "input");
                Value::Array(
                    (0..n)
                        .map(|i| self.with_copy(Some(&name), i, false).eval_json(input, ip))
                        .collect(),
                )
            }
        };
        Some((name, value))
    }

    /// Checks a copy `count`: an integer 0..=800 (ARM's limit); otherwise a finding
    /// and an Unknown to use instead.
    pub fn copy_count(&self, count: &Value, ptr: &Ptr<'_>) -> Result<i64, Value> {
        match count {
            Value::Unknown(why) => Err(Value::unknown(format!("copy count is unknown: {why}"))),
            Value::Choice(c) => Err(Value::unknown(format!(
                "copy count is unknown: it depends on {}",
                c.why
            ))),
            v => match v.as_i64() {
                Some(n) if (0..=800).contains(&n) => Ok(n),
                Some(n) => {
                    self.engine.report(Finding {
                        kind: FaultKind::Limit,
                        message: format!("copy count {n} is outside 0..800 (ARM's limit)"),
                        pointer: Ptr::Key(ptr, "count").render(),
                        span: None,
                    });
                    Err(Value::unknown(format!("copy count {n} is outside 0..800")))
                }
                None => {
                    self.engine.report(Finding {
                        kind: FaultKind::Invalid,
                        message: format!("copy count must be an integer, not {}", v.type_name()),
                        pointer: Ptr::Key(ptr, "count").render(),
                        span: None,
                    });
                    Err(Value::unknown("copy count is not an integer"))
                }
            },
        }
    }

    /// Evaluates one JSON string of the template (literal, `[[` escape, or expression).
    pub fn eval_template_string(&self, s: &str, ptr: Ptr<'_>) -> Value {
        if !super::parser::is_expression(s) {
            if s.starts_with("[[") {
                return Value::String(s.get(1..).unwrap_or_default().to_string());
            }
            return Value::String(s.to_string());
        }
        if is_over_expression_limit(s) {
            // Reported by the syntax pass over the file; ARM refuses to evaluate it.
            return Value::unknown(format!(
                "the expression is longer than ARM's limit of {} characters",
                crate::arm::limits::ARM_MAX_EXPRESSION_CHARS
            ));
        }
        let parsed = self.engine.parse(s);
        let expr = match &*parsed {
            Ok(e) => e,
            // Syntax errors are reported once by the syntax pass over the file (ARM003).
            Err(e) => return Value::unknown(format!("invalid expression: {}", e.message)),
        };
        match self.eval(expr) {
            Ok(v) => v,
            Err(fault) => {
                self.engine.report_fault(&fault, ptr);
                Value::unknown(fault.message)
            }
        }
    }

    /// Evaluates an expression.
    pub fn eval(&self, e: &Expr) -> R {
        self.engine.step(e.span())?;
        match e {
            Expr::Str(s, _) => Ok(Value::String(s.clone())),
            Expr::Int(i, _) => Ok(Value::Int(*i)),
            Expr::Float(f, _) => Ok(Value::Float(*f)),
            Expr::Prop(base, name, span) => {
                let b = self.eval(base)?;
                property(b, name, *span)
            }
            Expr::Index(base, index, span) => {
                let b = self.eval(base)?;
                let i = self.eval(index)?;
                index_value(b, &i, *span)
            }
            Expr::Call(c) => self.call(c),
        }
    }

    /// Evaluates every argument.
    pub fn args(&self, c: &Call) -> Result<Vec<Value>, Fault> {
        c.args.iter().map(|a| self.eval(a)).collect()
    }

    fn call(&self, c: &Call) -> R {
        if let Some(ns) = &c.namespace {
            return self.user_function(ns, c);
        }
        let Some((lo, hi)) = super::signature(&c.lname) else {
            if c.lname.starts_with("list") {
                return Ok(Value::unknown(format!(
                    "{}() reads a deployed resource",
                    c.name
                )));
            }
            return Err(Fault::undefined(
                c.name_span,
                format!("'{}' is not a template function", c.name),
            ));
        };
        if c.args.len() < lo || c.args.len() > hi {
            return Err(Fault::undefined(
                c.span,
                super::arity_message(&c.name, lo, hi, c.args.len()),
            ));
        }
        match c.lname.as_ref() {
            "parameters" => return self.parameter(c),
            "variables" => return self.variable(c),
            "copyindex" => return self.copy_index(c),
            "lambdavariables" => return self.lambda_variable(c),
            "if" | "and" | "or" | "coalesce" => return super::logic::lazy(self, c),
            "lambda" => {
                return Err(Fault::invalid(
                    c.span,
                    "lambda() can only be an argument of map, filter, reduce, sort, toObject, mapValues or groupBy",
                ))
            }
            "map" | "filter" | "reduce" | "sort" | "toobject" | "mapvalues" | "groupby" => {
                let v = super::lambda::call(self, c)?;
                self.check_size(&v, c.span)?;
                return Ok(v);
            }
            _ => {}
        }
        let args = self.args(c)?;
        if args.iter().any(|a| matches!(a, Value::Choice(_))) {
            return self.distribute(c, args);
        }
        self.dispatch(c, args)
    }

    /// A function of choices: applied to each combination of the options, the
    /// results one choice. A fault in every combination is the template's; in
    /// only some, the result depends on what decides the choice and is unknown.
    fn distribute(&self, c: &Call, args: Vec<Value>) -> R {
        let mut why: Vec<&str> = Vec::new();
        let mut combos: Vec<Vec<Value>> = vec![Vec::with_capacity(args.len())];
        for a in &args {
            let options: Vec<Value> = match a {
                Value::Choice(ch) => {
                    if !why.contains(&ch.why.as_str()) {
                        why.push(&ch.why);
                    }
                    ch.options.clone()
                }
                other => vec![other.clone()],
            };
            if combos.len().saturating_mul(options.len()) > 2 * crate::value::MAX_OPTIONS {
                return Ok(Value::unknown(format!(
                    "{}() of values that depend on {}",
                    c.name,
                    why.join("; ")
                )));
            }
            combos = combos
                .into_iter()
                .flat_map(|prefix| {
                    options.iter().map(move |o| {
                        let mut next = prefix.clone();
                        next.push(o.clone());
                        next
                    })
                })
                .collect();
        }
        let why = why.join("; ");
        let mut results = Vec::with_capacity(combos.len());
        let mut first_fault = None;
        for combo in combos {
            match self.dispatch(c, combo) {
                Ok(v) => results.push(v),
                Err(f) if f.kind == FaultKind::Limit => return Err(f),
                Err(f) => {
                    first_fault.get_or_insert(f);
                }
            }
        }
        match first_fault {
            Some(f) if results.is_empty() => Err(f),
            Some(f) => Ok(Value::unknown(format!(
                "{}() fails for some values ({}): {why}",
                c.name, f.message
            ))),
            None => Ok(Value::choice(why, results)),
        }
    }

    /// A built-in function of evaluated arguments (none of them a choice).
    fn dispatch(&self, c: &Call, args: Vec<Value>) -> R {
        let tolerant = TOLERANT.contains(&c.lname.as_ref());
        if !tolerant {
            if let Some(u) = args.iter().find(|a| a.is_unknown()) {
                return Ok(u.clone());
            }
            if !TEXT_AWARE.contains(&c.lname.as_ref()) {
                if let Some(Value::Text(t)) = args.iter().find(|a| matches!(a, Value::Text(_))) {
                    return Ok(Value::unknown(format!(
                        "{}() of a string that {}",
                        c.name,
                        t.reason()
                    )));
                }
            }
        }
        let span = c.span;
        let name = c.lname.as_ref();
        let out = super::string::call(self, name, &c.name, args, span)?;
        let out = match out {
            Dispatch::Done(v) => v,
            Dispatch::Next(args) => match super::array::call(self, name, &c.name, args, span)? {
                Dispatch::Done(v) => v,
                Dispatch::Next(args) => match super::object::call(self, name, &c.name, args, span)?
                {
                    Dispatch::Done(v) => v,
                    Dispatch::Next(args) => {
                        match super::logic::call(self, name, &c.name, args, span)? {
                            Dispatch::Done(v) => v,
                            Dispatch::Next(args) => {
                                match super::numeric::call(self, name, &c.name, args, span)? {
                                    Dispatch::Done(v) => v,
                                    Dispatch::Next(args) => {
                                        self.call_rest(name, &c.name, args, span)?
                                    }
                                }
                            }
                        }
                    }
                },
            },
        };
        self.check_size(&out, span)?;
        if name == "json" {
            // Values parsed from a string are new nodes, not copies of charged ones.
            let left = self
                .engine
                .limits
                .max_steps
                .saturating_sub(self.engine.work());
            self.engine.charge(out.weight(left), span)?;
        }
        Ok(out)
    }

    fn call_rest(&self, name: &str, shown: &str, args: Vec<Value>, span: ExprSpan) -> R {
        let args = match super::date::call(self, name, shown, args, span)? {
            Dispatch::Done(v) => return Ok(v),
            Dispatch::Next(a) => a,
        };
        let args = match super::deployment::call(self, name, shown, args, span)? {
            Dispatch::Done(v) => return Ok(v),
            Dispatch::Next(a) => a,
        };
        let args = match super::resource::call(self, name, shown, args, span)? {
            Dispatch::Done(v) => return Ok(v),
            Dispatch::Next(a) => a,
        };
        match super::cidr::call(self, name, shown, args, span)? {
            Dispatch::Done(v) => Ok(v),
            Dispatch::Next(_) => Err(Fault::undefined(
                span,
                format!("'{shown}' is not implemented by cmek-arm"),
            )),
        }
    }

    /// Fails when a built value exceeds the size limits.
    pub fn check_size(&self, v: &Value, span: ExprSpan) -> Result<(), Fault> {
        match v {
            Value::Array(a) => self.engine.charge(a.len() as u64, span)?,
            // A member is a key and a value: two units (see Value::weight).
            Value::Object(o) => self.engine.charge(2 * o.len() as u64, span)?,
            Value::String(s) => self.engine.charge(s.len() as u64 / 16, span)?,
            _ => {}
        }
        match v {
            Value::String(s) if s.len() > self.engine.limits.max_string => Err(Fault::limit(
                span,
                format!(
                    "string of {} bytes exceeds the limit of {}",
                    s.len(),
                    self.engine.limits.max_string
                ),
            )),
            Value::Array(a) if a.len() > self.engine.limits.max_array => Err(Fault::limit(
                span,
                format!(
                    "array of {} items exceeds the limit of {}",
                    a.len(),
                    self.engine.limits.max_array
                ),
            )),
            _ => Ok(()),
        }
    }

    fn name_arg(&self, c: &Call, what: &str) -> Result<String, Fault> {
        let Some(first) = c.args.first() else {
            return Err(Fault::undefined(c.span, format!("{what}() needs a name")));
        };
        match self.eval(first)? {
            Value::String(s) => Ok(s),
            Value::Unknown(why) => Err(Fault::invalid(
                first.span(),
                format!("{what}() name is unknown: {why}"),
            )),
            v => Err(Fault::invalid(
                first.span(),
                format!("{what}() takes a string name, not {}", v.type_name()),
            )),
        }
    }

    fn enter(&self, span: ExprSpan) -> Result<Self, Fault> {
        if self.depth >= self.engine.limits.max_depth {
            return Err(Fault::limit(
                span,
                format!(
                    "variables, parameters and functions nest deeper than {}",
                    self.engine.limits.max_depth
                ),
            ));
        }
        let mut e = Evaluator::new(self.engine, self.frame);
        e.depth = self.depth + 1;
        Ok(e)
    }

    fn parameter(&self, c: &Call) -> R {
        let name = self.name_arg(c, "parameters")?;
        let key = name.to_ascii_lowercase();
        if let Some(args) = &self.fn_args {
            if let Some((_, v)) = args.iter().find(|(n, _)| *n == key) {
                return self.engine.copy_of(v, c.span);
            }
            return Err(Fault::undefined(
                c.span,
                format!("user-defined function has no parameter '{name}'"),
            ));
        }
        let Some(slot) = self.frame.params.get(&key) else {
            return Err(Fault::undefined(
                c.span,
                format!("parameter '{name}' is not declared"),
            ));
        };
        // ARM treats a null value as not given: the defaultValue applies.
        match &slot.provided {
            Some(Value::Null) if slot.decl.get("defaultValue").is_some() => {}
            Some(v) => return self.engine.copy_of(v, c.span),
            None => {}
        }
        self.memoised(false, &key, c.span, &format!("parameter '{name}'"), |ev| {
            if let Some(d) = slot.decl.get("defaultValue") {
                let root = slot.pointer.clone();
                return ev.eval_json(d, Ptr::Key(&Ptr::Root(&root), "defaultValue"));
            }
            if ev.frame.nullable(slot.decl) {
                return Value::Null;
            }
            let declared_type = slot
                .decl
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or_default();
            if declared_type.eq_ignore_ascii_case("string")
                || declared_type.eq_ignore_ascii_case("securestring")
            {
                // The same unknown string everywhere it is used in this deployment.
                return Value::Text(crate::value::Text::symbol(crate::value::Atom::new(
                    format!("param:{}:{key}", ev.frame.id),
                    format!("parameters('{}'){}", slot.name, ev.frame.label),
                    crate::value::Shape::Any,
                    "no value and no defaultValue",
                )));
            }
            Value::unknown(format!(
                "parameter '{}' has no value and no defaultValue",
                slot.name
            ))
        })
    }

    fn variable(&self, c: &Call) -> R {
        if self.fn_args.is_some() {
            return Err(Fault::undefined(
                c.span,
                "user-defined functions cannot use variables()",
            ));
        }
        let name = self.name_arg(c, "variables")?;
        let key = name.to_ascii_lowercase();
        let Some(slot) = self.frame.vars.get(&key) else {
            return Err(Fault::undefined(
                c.span,
                format!("variable '{name}' is not declared"),
            ));
        };
        self.memoised(
            true,
            &key,
            c.span,
            &format!("variable '{name}'"),
            |ev| match slot {
                VarSlot::Plain(json, pointer) => ev.eval_json(json, Ptr::Root(pointer)),
                VarSlot::Copy(l, pointer) => {
                    let copy_ptr = Ptr::Root(pointer);
                    ev.property_copy(l, copy_ptr)
                        .map_or(Value::Null, |(_, v)| v)
                }
            },
        )
    }

    fn memoised(
        &self,
        var: bool,
        key: &str,
        span: ExprSpan,
        what: &str,
        compute: impl FnOnce(&Evaluator<'e, 't>) -> Value,
    ) -> R {
        let mkey = (var, key.to_string());
        match self.frame.memo.borrow().get(&mkey) {
            Some(Memo::Done(v)) => return self.engine.copy_of(v, span),
            Some(Memo::Busy) => {
                return Err(Fault::undefined(
                    span,
                    format!("{what} refers to itself (a reference cycle)"),
                ))
            }
            None => {}
        }
        let inner = self.enter(span)?;
        self.frame
            .memo
            .borrow_mut()
            .insert(mkey.clone(), Memo::Busy);
        let v = compute(&inner);
        // The memo keeps one copy and the caller gets another: both are memory.
        let copy = self.engine.copy_of(&v, span);
        self.frame.memo.borrow_mut().insert(mkey, Memo::Done(v));
        copy
    }

    fn copy_index(&self, c: &Call) -> R {
        let args = self.args(c)?;
        let (name, offset) = match args.as_slice() {
            [] => (None, 0),
            [Value::String(n)] => (Some(n.to_ascii_lowercase()), 0),
            [Value::String(n), o] => (Some(n.to_ascii_lowercase()), o.as_i64().unwrap_or(0)),
            [o] => (None, o.as_i64().unwrap_or(0)),
            _ => {
                return Err(Fault::invalid(
                    c.span,
                    "copyIndex() takes (loopName?, offset?)",
                ))
            }
        };
        let found = match &name {
            None => self.copies.iter().rev().find(|l| l.resource),
            Some(n) => self
                .copies
                .iter()
                .rev()
                .find(|l| l.name.as_deref() == Some(n.as_str())),
        };
        match found {
            Some(l) => Ok(Value::Int(l.index.saturating_add(offset))),
            None => Err(Fault::invalid(
                c.span,
                match name {
                    Some(n) => format!("copyIndex('{n}') is used outside a copy loop named '{n}'"),
                    None => "copyIndex() is used outside a copy loop".to_string(),
                },
            )),
        }
    }

    fn lambda_variable(&self, c: &Call) -> R {
        let name = self.name_arg(c, "lambdaVariables")?;
        let key = name.to_ascii_lowercase();
        match self.lambdas.iter().rev().find(|(n, _)| *n == key) {
            Some((_, v)) => self.engine.copy_of(v, c.span),
            None => Err(Fault::undefined(
                c.span,
                format!("lambda variable '{name}' is not defined here"),
            )),
        }
    }

    /// Reads a `lambda(...)` argument.
    pub fn lambda<'x>(&self, e: &'x Expr, want: usize, fname: &str) -> Result<Lambda<'x>, Fault> {
        let Expr::Call(c) = e else {
            return Err(Fault::invalid(
                e.span(),
                format!("{fname}() needs a lambda() argument"),
            ));
        };
        if c.lname != "lambda" || c.args.len() < 2 {
            return Err(Fault::invalid(
                e.span(),
                format!("{fname}() needs a lambda() argument"),
            ));
        }
        let (body, names) = c
            .args
            .split_last()
            .ok_or_else(|| Fault::invalid(c.span, "empty lambda"))?;
        let params = names
            .iter()
            .map(|n| {
                n.as_str().map(str::to_ascii_lowercase).ok_or_else(|| {
                    Fault::invalid(n.span(), "lambda parameter names must be string literals")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if params.is_empty() || params.len() > want {
            return Err(Fault::invalid(
                c.span,
                format!(
                    "the lambda of {fname}() takes at most {want} parameter(s), got {}",
                    params.len()
                ),
            ));
        }
        Ok(Lambda { params, body })
    }

    /// Applies a lambda to arguments.
    pub fn apply(&self, l: &Lambda<'_>, args: &[Value]) -> R {
        let mut e = self.clone();
        for (n, v) in l.params.iter().zip(args) {
            let v = self.engine.copy_of(v, l.body.span())?;
            e.lambdas.push((n.clone(), Rc::new(v)));
        }
        e.eval(l.body)
    }

    fn user_function(&self, ns: &str, c: &Call) -> R {
        let key = format!("{ns}.{}", c.name).to_ascii_lowercase();
        let Some((def, pointer)) = self.frame.functions.get(&key) else {
            return Err(Fault::undefined(
                c.span,
                format!("'{ns}.{}' is not a function of this template", c.name),
            ));
        };
        let declared: Vec<&str> = def
            .get("parameters")
            .and_then(Json::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.get("name").and_then(Json::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if declared.len() != c.args.len() {
            return Err(Fault::undefined(
                c.span,
                format!(
                    "'{ns}.{}' takes {} argument(s), got {}",
                    c.name,
                    declared.len(),
                    c.args.len()
                ),
            ));
        }
        let args = self.args(c)?;
        let mut inner = self.enter(c.span)?;
        inner.fn_args = Some(Rc::new(
            declared
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .zip(args)
                .collect(),
        ));
        let Some(body) = def.get("output").and_then(|o| o.get("value")) else {
            return Err(Fault::invalid(
                c.span,
                format!("'{ns}.{}' has no output value", c.name),
            ));
        };
        let root = format!("{pointer}/output");
        Ok(inner.eval_json(body, Ptr::Key(&Ptr::Root(&root), "value")))
    }
}

/// Functions that look at unknown arguments themselves (ARM does not evaluate
/// what they do not need); every other function is unknown when an argument is.
const TOLERANT: &[&str] = &[
    "createarray",
    "createobject",
    "array",
    "not",
    "equals",
    "empty",
    "length",
    "contains",
    "union",
    "concat",
    "tryget",
    "json",
    "string",
    "items",
    "first",
    "last",
    "objectkeys",
    "shallowmerge",
    "filter",
];

/// Functions that keep or decide symbolic strings (see [`crate::value::Text`]);
/// any other function of a symbolic string is unknown.
const TEXT_AWARE: &[&str] = &[
    "reference",
    "format",
    "tolower",
    "toupper",
    "guid",
    "uniquestring",
    "split",
    "startswith",
    "endswith",
    "resourceid",
    "subscriptionresourceid",
    "tenantresourceid",
    "managementgroupresourceid",
    "extensionresourceid",
];

/// How a family answers: done, or not mine (arguments handed back).
pub enum Dispatch {
    /// The function was handled.
    Done(Value),
    /// Not in this family.
    Next(Vec<Value>),
}

/// True for an expression string over ARM's 24,576 characters (the brackets
/// included: ARM counts the string as written).
pub fn is_over_expression_limit(s: &str) -> bool {
    let limit = crate::arm::limits::ARM_MAX_EXPRESSION_CHARS;
    s.len() > limit && s.chars().count() > limit
}

fn is_property_copy(loops: &[Json]) -> bool {
    !loops.is_empty()
        && loops
            .iter()
            .all(|l| l.get("name").is_some_and(Json::is_string) && l.get("input").is_some())
}

/// Applies `f` to each option of a choice: one choice of the results, the fault
/// when every option fails, unknown when only some do.
fn each_option(c: &crate::value::Choice, f: impl Fn(Value) -> R) -> R {
    let mut out = Vec::with_capacity(c.options.len());
    let mut fault = None;
    for o in &c.options {
        match f(o.clone()) {
            Ok(v) => out.push(v),
            Err(e) if e.kind == FaultKind::Limit => return Err(e),
            Err(e) => {
                fault.get_or_insert(e);
            }
        }
    }
    match fault {
        Some(e) if out.is_empty() => Err(e),
        Some(e) => Ok(Value::unknown(format!(
            "fails for some values ({}): {}",
            e.message, c.why
        ))),
        None => Ok(Value::choice(c.why.clone(), out)),
    }
}

/// `base.name`: case-insensitive property access.
pub fn property(base: Value, name: &str, span: ExprSpan) -> R {
    match base {
        Value::Unknown(_) => Ok(base),
        Value::Choice(c) => each_option(&c, |o| property(o, name, span)),
        Value::Object(mut map) => {
            if let Some(v) = map.swap_remove(name) {
                return Ok(v);
            }
            match map.iter().position(|(k, _)| k.eq_ignore_ascii_case(name)) {
                Some(i) => Ok(map
                    .swap_remove_index(i)
                    .map(|(_, v)| v)
                    .unwrap_or(Value::Null)),
                None => Err(Fault::invalid(
                    span,
                    format!("the object has no property '{name}'"),
                )),
            }
        }
        other => Err(Fault::invalid(
            span,
            format!("cannot read property '{name}' of {}", describe(&other)),
        )),
    }
}

/// `base[index]`.
pub fn index_value(base: Value, index: &Value, span: ExprSpan) -> R {
    match (base, index) {
        (b @ Value::Unknown(_), _) => Ok(b),
        (_, i @ Value::Unknown(_)) => Ok(i.clone()),
        (Value::Choice(c), i) => each_option(&c, |o| index_value(o, i, span)),
        (b, Value::Choice(c)) => each_option(c, |i| index_value(b.clone(), &i, span)),
        (Value::Array(mut a), i) => {
            let Some(i) = i.as_i64() else {
                return Err(Fault::invalid(
                    span,
                    format!("array index must be an integer, not {}", i.type_name()),
                ));
            };
            let len = a.len();
            if i < 0 || i as usize >= len {
                return Err(Fault::invalid(
                    span,
                    format!("index {i} is out of range for an array of {len}"),
                ));
            }
            Ok(a.swap_remove(i as usize))
        }
        (Value::Object(map), Value::String(k)) => property(Value::Object(map), k, span),
        (b, i) => Err(Fault::invalid(
            span,
            format!("cannot index {} with {}", describe(&b), i.type_name()),
        )),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        other => format!("a value of type {}", other.type_name()),
    }
}

/// Gets a lookup from an object (case-insensitive) — re-exported helper.
pub fn lookup<'a>(map: &'a Map, key: &str) -> Option<&'a Value> {
    get_ci(map, key)
}

/// The first value in `values` (or nested in one) that is not fully known, as an
/// Unknown saying why: for functions that need every character of their arguments.
pub fn deep_unknown(values: &[Value]) -> Option<Value> {
    values
        .iter()
        .find_map(Value::opaque_reason)
        .map(Value::Unknown)
}

/// ARM's string form of a value (`string()`): strings as-is, others as compact JSON.
pub fn to_arm_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Text(t) => t.display(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Null => String::new(),
        other => {
            let mut s = String::new();
            let _ = write!(s, "{}", other.to_json());
            s
        }
    }
}

/// The `i`th argument as a string.
pub fn want_str<'v>(
    args: &'v [Value],
    i: usize,
    f: &str,
    span: ExprSpan,
) -> Result<&'v str, Fault> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(Fault::invalid(
            span,
            format!(
                "argument {} of {f}() must be a string, not {}",
                i + 1,
                v.type_name()
            ),
        )),
        None => Err(Fault::invalid(
            span,
            format!("{f}() is missing argument {}", i + 1),
        )),
    }
}

/// The `i`th argument as an integer.
pub fn want_int(args: &[Value], i: usize, f: &str, span: ExprSpan) -> Result<i64, Fault> {
    match args.get(i) {
        Some(v) => v.as_i64().ok_or_else(|| {
            Fault::invalid(
                span,
                format!(
                    "argument {} of {f}() must be an integer, not {}",
                    i + 1,
                    v.type_name()
                ),
            )
        }),
        None => Err(Fault::invalid(
            span,
            format!("{f}() is missing argument {}", i + 1),
        )),
    }
}

/// The `i`th argument as an array.
pub fn want_array<'v>(
    args: &'v [Value],
    i: usize,
    f: &str,
    span: ExprSpan,
) -> Result<&'v Vec<Value>, Fault> {
    match args.get(i) {
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(Fault::invalid(
            span,
            format!(
                "argument {} of {f}() must be an array, not {}",
                i + 1,
                v.type_name()
            ),
        )),
        None => Err(Fault::invalid(
            span,
            format!("{f}() is missing argument {}", i + 1),
        )),
    }
}

/// The `i`th argument as an object.
pub fn want_object<'v>(
    args: &'v [Value],
    i: usize,
    f: &str,
    span: ExprSpan,
) -> Result<&'v Map, Fault> {
    match args.get(i) {
        Some(Value::Object(o)) => Ok(o),
        Some(v) => Err(Fault::invalid(
            span,
            format!(
                "argument {} of {f}() must be an object, not {}",
                i + 1,
                v.type_name()
            ),
        )),
        None => Err(Fault::invalid(
            span,
            format!("{f}() is missing argument {}", i + 1),
        )),
    }
}
