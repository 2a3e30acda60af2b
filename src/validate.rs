//! The `validate` pipeline, for several templates per call:
//!
//! read -> `arm::json` (syntax error: ARM001 finding) -> [`analyse`] (schemas,
//! `arm::expand`, template rules, `model::from_expansion`, CMEK rules) ->
//! `Settings::apply` (suppressions and levels, once for the whole run) -> sort ->
//! exit code per `--fail-on` -> emit in `--format`.
//!
//! Only problems with the invocation itself (an unreadable file, an unknown rule
//! in `--ignore`) are `Err` (exit 2); everything about a template's content is a
//! finding.

use crate::arm::azure_schemas::AzureSchemas;
use crate::arm::expand::{self, Context};
use crate::arm::json::{self, Document};
use crate::arm::{schema, walk};
use crate::diag::{Diagnostic, Level, Location};
use crate::model::{self, Deployment};
use crate::report::{self, Format, Report, Sources};
use crate::rules::{self, Check, Flags, Settings, TemplateInput};
use crate::Error;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Largest file read. ARM itself accepts templates up to 4 MB; the margin is for
/// pretty-printed files, and the cap keeps memory bounded on hostile input.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Worker threads: the machines this runs on have two cores, and parsing plus
/// schema validation of one template is independent of every other.
const THREADS: usize = 2;

/// Stack of each worker thread: enough to expand templates on it (reserved,
/// not committed, until used), which saves a thread per template.
const WORKER_STACK_BYTES: usize = expand::EXPAND_STACK;

/// What `validate` was asked to do (the flags of CLI.md that this module reads).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--parameters FILE`: applied to every template given.
    pub parameters: Option<PathBuf>,
    /// `--format`.
    pub format: Format,
    /// `--fail-on`: the lowest level that makes the exit code 1.
    pub fail_on: Level,
    /// The rule context and suppressions: `--region`, `--sp-object-id`,
    /// `--officer-object-id`, `--key-suffix`, `--tenant-id`, `--profile`, `--ignore`.
    pub flags: Flags,
    /// The deployment context for expressions (`--subscription-id`, ...).
    pub context: Context,
    /// `--schema-dir`: also validate each resource against Azure's official schema.
    pub schema_dir: Option<PathBuf>,
    /// Colour in text output.
    pub color: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parameters: None,
            format: Format::Text,
            fail_on: Level::Error,
            flags: Flags::default(),
            context: Context::default(),
            schema_dir: None,
            color: false,
        }
    }
}

/// Findings of one run and the texts they point into.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Sorted, filtered findings.
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, by name; the text is kept only for files with findings
    /// (the others map to "" so memory stays flat over many templates).
    pub sources: Sources,
}

impl Outcome {
    /// The exit code: 1 if any finding is at or above `fail_on`, else 0.
    pub fn exit_code(&self, fail_on: Level) -> u8 {
        report::exit_code(&self.diagnostics, fail_on)
    }
}

/// Runs the pipeline and writes the report to `out`; returns the exit code.
pub fn validate(
    templates: &[PathBuf],
    options: &Options,
    out: &mut dyn io::Write,
) -> crate::Result<u8> {
    let outcome = run(templates, options)?;
    report::write(
        &outcome.diagnostics,
        &outcome.sources,
        options.format,
        options.color,
        out,
    )?;
    Ok(outcome.exit_code(options.fail_on))
}

/// Reads and checks every template; `Err` only for invocation problems.
pub fn run(templates: &[PathBuf], options: &Options) -> crate::Result<Outcome> {
    let settings = Settings::from_flags(&options.flags)?;
    Ok(collect(templates, options, &settings)?.finish(&settings, Vec::new()))
}

/// What the pipeline found before suppressions and levels are applied: `preflight`
/// adds its own findings and then finishes the run the same way `validate` does.
#[derive(Debug, Default)]
pub struct Collected {
    /// Findings at their rules' default levels, unsorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The model of every template, merged.
    pub deployment: Deployment,
    /// Every file read, with its text.
    pub sources: Sources,
}

/// Reads and checks every template with `settings`, up to (not including)
/// `Settings::apply`; `Err` only for invocation problems.
pub fn collect(
    templates: &[PathBuf],
    options: &Options,
    settings: &Settings,
) -> crate::Result<Collected> {
    if templates.is_empty() {
        return Err(Error::Usage("no TEMPLATE given".into()));
    }
    let schemas = options
        .schema_dir
        .as_deref()
        .map(AzureSchemas::open)
        .transpose()?;
    let mut context = options.context.clone();
    context
        .not_the_deployer
        .extend(settings.sp_object_id.clone());
    let analysis = Analysis {
        settings,
        context: &context,
        schemas: schemas.as_ref(),
    };
    let mut diagnostics = Vec::new();
    let mut sources = Sources::new();
    let parameters = match &options.parameters {
        Some(path) => match load(path)? {
            Loaded::Parsed(doc) => Some(doc),
            Loaded::Broken(d, text) => {
                sources.insert(display(path), text);
                diagnostics.push(d);
                None
            }
        },
        None => None,
    };
    let parameters_ref = parameters.as_ref();

    // Files are claimed one at a time from a shared counter so a slow template
    // does not leave the other thread idle; results keep their input index.
    // Largest files first: with the biggest template claimed last, one thread
    // would finish it alone while the other sits idle.
    let mut order: Vec<usize> = (0..templates.len()).collect();
    order.sort_by_cached_key(|&i| {
        std::cmp::Reverse(
            templates
                .get(i)
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len()),
        )
    });
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, crate::Result<FileResult>)> = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for _ in 0..THREADS.min(templates.len()) {
            // Deeply nested (but accepted, <= 512 levels) templates recurse in the
            // parser and the schema validator: give them room.
            let worker = std::thread::Builder::new()
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, || {
                    let mut mine = Vec::new();
                    loop {
                        let claimed = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&i) = order.get(claimed) else { break };
                        let Some(path) = templates.get(i) else { break };
                        mine.push((i, check_file(path, parameters_ref, &analysis)));
                    }
                    mine
                })
                .map_err(|e| Error::Internal(format!("cannot start a worker thread: {e}")))?;
            workers.push(worker);
        }
        Ok::<_, Error>(
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect(),
        )
    })?;
    results.sort_by_key(|(i, _)| *i);
    if results.len() != templates.len() {
        // A worker panicked (a bug): say so rather than report a partial result.
        return Err(Error::Internal(
            "a validation worker stopped unexpectedly".into(),
        ));
    }
    let mut deployment = Deployment::default();
    for (_, result) in results {
        let file = result?;
        diagnostics.extend(file.diagnostics);
        deployment.merge(file.deployment);
        sources.insert(file.name, file.text);
    }
    if let Some(doc) = parameters {
        sources.insert(doc.file.clone(), doc.text);
    }
    Ok(Collected {
        diagnostics,
        deployment,
        sources,
    })
}

impl Collected {
    /// Adds `extra` findings, then applies suppressions and profile levels once over
    /// every finding of the run (so a suppression that matches nothing anywhere is
    /// reported, CMK018), sorts, and keeps only the texts findings point into.
    pub fn finish(self, settings: &Settings, extra: Vec<Diagnostic>) -> Outcome {
        let Collected {
            mut diagnostics,
            deployment,
            mut sources,
        } = self;
        diagnostics.extend(extra);

        settings.apply(&mut diagnostics, Some(&deployment));
        report::sort(&mut diagnostics, &sources);
        diagnostics.dedup();
        // Keep texts only where a finding (or label) points.
        let mut wanted = std::collections::BTreeSet::new();
        for d in &diagnostics {
            for loc in std::iter::once(&d.location).chain(d.labels.iter().map(|l| &l.location)) {
                if let Location::File { file, .. } = loc {
                    wanted.insert(file.clone());
                }
            }
        }
        for (name, text) in sources.iter_mut() {
            if !wanted.contains(name) {
                text.clear();
                text.shrink_to_fit();
            }
        }
        Outcome {
            diagnostics,
            sources,
        }
    }
}

/// What [`analyse`] needs besides the files: the same for every template of a run.
pub struct Analysis<'a> {
    /// Rule context and profile.
    pub settings: &'a Settings,
    /// Deployment context for expressions.
    pub context: &'a Context,
    /// Azure's official schemas, with `--schema-dir`.
    pub schemas: Option<&'a AzureSchemas>,
}

/// Every check on one parsed template: schemas (ARM002), expansion (ARM003,
/// ARM004), the template rules, then the CMEK rules on the model built from the
/// expansion. Findings carry default levels; the model is returned so suppressions
/// can be applied over the whole run.
fn analyse(
    template: &Document,
    parameters: Option<&Document>,
    analysis: &Analysis<'_>,
) -> crate::Result<(Vec<Diagnostic>, Deployment)> {
    let mut out = schema::check(template)?;
    if let Some(schemas) = analysis.schemas {
        out.extend(official_schema_findings(schemas, template));
    }
    // Runs on a worker thread, started with the stack an expansion needs.
    let expansion = expand::expand_on_big_stack(template, parameters, analysis.context);
    out.extend(expansion.diagnostics.iter().cloned());
    let input = TemplateInput {
        template,
        parameters,
    };
    for rule in rules::RULES {
        if let Check::Template(check) = rule.check {
            check(&input, &mut out);
        }
    }
    name_as_deployed(&mut out, &expansion);
    let deployment = model::from_expansion_with(&expansion, template, parameters);
    out.extend(rules::check_model(&deployment, analysis.settings));
    Ok((out, deployment))
}

/// The template rules read declarations as written; where the expansion knows a
/// declaration's name (one instance, not a copy loop), findings name the resource
/// as ARM will instead of by its pointer or symbolic name.
fn name_as_deployed(out: &mut [Diagnostic], expansion: &expand::Expansion) {
    let mut by_pointer: std::collections::HashMap<&str, (usize, &expand::ExpandedResource)> =
        std::collections::HashMap::new();
    for r in &expansion.resources {
        if let Location::File { pointer, .. } = &r.origin {
            by_pointer.entry(pointer.as_str()).or_insert((0, r)).0 += 1;
        }
    }
    for d in out.iter_mut().filter(|d| d.resource.is_some()) {
        let Location::File { pointer, .. } = &d.location else {
            continue;
        };
        // The declaration is the longest pointer that is the finding's or a prefix of it.
        let mut p = pointer.as_str();
        let found = loop {
            if let Some(hit) = by_pointer.get(p) {
                break Some(*hit);
            }
            match p.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => p = parent,
                _ => break None,
            }
        };
        if let Some((1, r)) = found {
            if matches!(
                r.name,
                crate::value::Value::String(_) | crate::value::Value::Text(_)
            ) {
                d.resource = Some(format!("{}/{}", r.resource_type, r.name.display()));
            }
        }
    }
}

/// ARM002 findings from Azure's official resource schemas (`--schema-dir`), for
/// each top-level declaration whose type and literal apiVersion have a schema
/// there. Deployment-level properties (`condition`, `copy`, `dependsOn`, ...) are
/// not part of a resource schema, so they are left out of what is validated.
fn official_schema_findings(schemas: &AzureSchemas, template: &Document) -> Vec<Diagnostic> {
    const DEPLOYMENT_KEYS: [&str; 7] = [
        "condition",
        "copy",
        "dependsOn",
        "comments",
        "resources",
        "existing",
        "scope",
    ];
    let mut out = Vec::new();
    for decl in walk::resources(&template.value) {
        let Some(serde_json::Value::Object(map)) = Some(decl.value) else {
            continue;
        };
        let declared_type = map.get("type").and_then(serde_json::Value::as_str);
        let api_version = map.get("apiVersion").and_then(serde_json::Value::as_str);
        // Child resources nested in their parent use short types and names the
        // top-level resource schemas do not describe.
        let (Some(ty), Some(api)) = (declared_type, api_version) else {
            continue;
        };
        if !ty.eq_ignore_ascii_case(&decl.full_type) || walk::is_expression(api) {
            continue;
        }
        if schemas.resource_schema_uri(ty, api).is_none() {
            continue;
        }
        let mut resource = map.clone();
        resource.retain(|k, _| !DEPLOYMENT_KEYS.iter().any(|d| d.eq_ignore_ascii_case(k)));
        let Ok(violations) =
            schemas.validate_resource(ty, api, &serde_json::Value::Object(resource))
        else {
            continue;
        };
        for v in violations {
            let pointer = format!("{}{}", decl.pointer, v.pointer);
            // jsonschema quotes the whole instance in some messages; the excerpt
            // under the finding already shows it.
            let message = match v
                .message
                .split_once(" is not valid under any of the schemas")
            {
                Some((_, rest)) => format!("the value is not valid under any of the schemas{rest}"),
                None => v.message,
            };
            out.push(Diagnostic::new(
                rules::arm002_template_schema::ID,
                Level::Error,
                format!("{message} (Azure's schema for {ty}@{api})"),
                template.location(&pointer),
            ));
        }
    }
    out
}

struct FileResult {
    name: String,
    text: String,
    diagnostics: Vec<Diagnostic>,
    deployment: Deployment,
}

fn check_file(
    path: &Path,
    parameters: Option<&Document>,
    analysis: &Analysis<'_>,
) -> crate::Result<FileResult> {
    match load(path)? {
        Loaded::Broken(d, text) => Ok(FileResult {
            name: display(path),
            text,
            diagnostics: vec![d],
            deployment: Deployment::default(),
        }),
        Loaded::Parsed(doc) => {
            let (diagnostics, deployment) = analyse(&doc, parameters, analysis)?;
            Ok(FileResult {
                name: doc.file.clone(),
                text: doc.text,
                diagnostics,
                deployment,
            })
        }
    }
}

enum Loaded {
    Parsed(Document),
    /// ARM001, with the text to show the excerpt from (lossy for invalid UTF-8:
    /// the bytes before the error, where the excerpt points, are unchanged).
    Broken(Diagnostic, String),
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Reads (at most [`MAX_FILE_BYTES`]) and parses one file.
fn load(path: &Path) -> crate::Result<Loaded> {
    let name = display(path);
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    // The size is only a capacity hint (one allocation instead of doubling);
    // `take` bounds the read, because special files (/dev/zero, pipes) report
    // no size but never end.
    let hint = file.metadata().map_or(0, |m| m.len()).min(MAX_FILE_BYTES) + 1;
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let d = Diagnostic::new(
            rules::arm001_json_syntax::ID,
            Level::Error,
            format!(
                "file is larger than {} MiB; Azure accepts templates up to 4 MB",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            Location::File {
                file: name,
                pointer: String::new(),
                span: None,
            },
        );
        return Ok(Loaded::Broken(d, String::new()));
    }
    match json::parse_owned(&name, bytes) {
        Ok(doc) => Ok(Loaded::Parsed(doc)),
        Err(unparsed) => Ok(Loaded::Broken(
            rules::arm001_json_syntax::diagnostic(&unparsed.error),
            unparsed.text,
        )),
    }
}

/// `cmek-arm expand`: writes what a deployment of `template` would create as
/// JSON (CLI.md) to `out`, and the engine's findings as text to `err`. Returns 1
/// when the template itself is broken (syntax, ARM003, ARM004), else 0.
pub fn expand_command(
    template: &Path,
    parameters: Option<&Path>,
    context: &Context,
    out: &mut dyn io::Write,
    err: &mut dyn io::Write,
) -> crate::Result<u8> {
    let write_failed = |e: io::Error| Error::Usage(format!("cannot write the output: {e}"));
    let mut sources = Sources::new();
    let mut broken = |d: Diagnostic, text: String, err: &mut dyn io::Write| {
        if let Location::File { file, .. } = &d.location {
            sources.insert(file.clone(), text);
        }
        let report = Report {
            diagnostics: std::slice::from_ref(&d),
            sources: &sources,
        };
        Format::Text
            .emitter(false)
            .emit(&report, err)
            .map_err(write_failed)?;
        Ok::<u8, Error>(1)
    };
    let template = match load(template)? {
        Loaded::Parsed(doc) => doc,
        Loaded::Broken(d, text) => return broken(d, text, err),
    };
    let parameters = match parameters.map(load).transpose()? {
        Some(Loaded::Broken(d, text)) => return broken(d, text, err),
        Some(Loaded::Parsed(doc)) => Some(doc),
        None => None,
    };
    let expansion = expand::expand(&template, parameters.as_ref(), context);
    let text = serde_json::to_string_pretty(&expansion.to_json())
        .map_err(|e| Error::Internal(format!("expansion is not serialisable: {e}")))?;
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(write_failed(e)),
        _ => {}
    }
    if !expansion.diagnostics.is_empty() {
        let mut diagnostics = expansion.diagnostics.clone();
        let mut sources = Sources::new();
        sources.insert(template.file.clone(), template.text.clone());
        report::sort(&mut diagnostics, &sources);
        let report = Report {
            diagnostics: &diagnostics,
            sources: &sources,
        };
        Format::Text
            .emitter(false)
            .emit(&report, err)
            .map_err(write_failed)?;
    }
    Ok(u8::from(expansion.is_broken()))
}
