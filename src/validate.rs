//! The `validate` pipeline, for several templates per call:
//!
//! read -> `arm::json` (syntax error: ARM001 finding) -> [`analyse`] (schema,
//! then every template rule) -> `--ignore` -> sort -> exit code per `--fail-on`
//! -> emit in `--format`.
//!
//! Only problems with the invocation itself (an unreadable file, an unknown rule
//! in `--ignore`) are `Err` (exit 2); everything about a template's content is a
//! finding.

use crate::arm::json::{self, Document};
use crate::arm::schema;
use crate::diag::{Diagnostic, Level, Location};
use crate::report::{self, Format, Report, Sources};
use crate::rules::{self, Check, TemplateInput};
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

/// Stack of each worker thread.
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// What `validate` was asked to do (the flags of CLI.md that this module reads).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--parameters FILE`: applied to every template given.
    pub parameters: Option<PathBuf>,
    /// `--format`.
    pub format: Format,
    /// `--fail-on`: the lowest level that makes the exit code 1.
    pub fail_on: Level,
    /// `--ignore RULE` (IDs or names), repeated.
    pub ignore: Vec<String>,
    /// Colour in text output.
    pub color: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parameters: None,
            format: Format::Text,
            fail_on: Level::Error,
            ignore: Vec::new(),
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
        u8::from(self.diagnostics.iter().any(|d| d.level >= fail_on))
    }
}

/// Runs the pipeline and writes the report to `out`; returns the exit code.
pub fn validate(
    templates: &[PathBuf],
    options: &Options,
    out: &mut dyn io::Write,
) -> crate::Result<u8> {
    let outcome = run(templates, options)?;
    let report = Report {
        diagnostics: &outcome.diagnostics,
        sources: &outcome.sources,
    };
    options
        .format
        .emitter(options.color)
        .emit(&report, out)
        .and_then(|()| out.flush())
        .map_err(|e| Error::Usage(format!("cannot write the report: {e}")))?;
    Ok(outcome.exit_code(options.fail_on))
}

/// Reads and checks every template; `Err` only for invocation problems.
pub fn run(templates: &[PathBuf], options: &Options) -> crate::Result<Outcome> {
    if templates.is_empty() {
        return Err(Error::Usage("no TEMPLATE given".into()));
    }
    let ignored = ignored_rules(&options.ignore)?;

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
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = templates.get(i) else { break };
                        mine.push((i, check_file(path, parameters_ref)));
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
    for (_, result) in results {
        let file = result?;
        diagnostics.extend(file.diagnostics);
        sources.insert(file.name, file.text);
    }
    if let Some(doc) = parameters {
        sources.insert(doc.file.clone(), doc.text);
    }

    diagnostics.retain(|d| !ignored.contains(&d.rule));
    // Lead's seam: level overrides (`rules::Settings`) and in-template suppressions
    // are applied here, in one place, before sorting.
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
    Ok(Outcome {
        diagnostics,
        sources,
    })
}

/// The checks that run on one parsed template.
///
/// This is the seam for the expansion engine and the CMK rules: the lead wires
/// `arm::expand::expand` and the model-based rules in here. Today it runs the
/// schema (ARM002) and every `Check::Template` rule in the registry.
pub fn analyse(
    template: &Document,
    parameters: Option<&Document>,
) -> crate::Result<Vec<Diagnostic>> {
    let mut out = schema::check(template)?;
    let input = TemplateInput {
        template,
        parameters,
    };
    for rule in rules::RULES {
        if let Check::Template(check) = rule.check {
            check(&input, &mut out);
        }
    }
    Ok(out)
}

struct FileResult {
    name: String,
    text: String,
    diagnostics: Vec<Diagnostic>,
}

fn check_file(path: &Path, parameters: Option<&Document>) -> crate::Result<FileResult> {
    match load(path)? {
        Loaded::Broken(d, text) => Ok(FileResult {
            name: display(path),
            text,
            diagnostics: vec![d],
        }),
        Loaded::Parsed(doc) => {
            let diagnostics = analyse(&doc, parameters)?;
            Ok(FileResult {
                name: doc.file.clone(),
                text: doc.text,
                diagnostics,
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
    let mut bytes = Vec::new();
    // `take` rather than trusting metadata: special files (/dev/zero, pipes)
    // report no size but never end.
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
    match json::parse(&name, &bytes) {
        Ok(doc) => Ok(Loaded::Parsed(doc)),
        Err(err) => {
            let text =
                String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
                    .into_owned();
            Ok(Loaded::Broken(
                rules::arm001_json_syntax::diagnostic(&err),
                text,
            ))
        }
    }
}

/// Resolves `--ignore` values (IDs or names) to rule IDs; an unknown one is a usage error.
fn ignored_rules(ignore: &[String]) -> crate::Result<Vec<&'static str>> {
    ignore
        .iter()
        .map(|value| {
            rules::find(value)
                .map(|r| r.id)
                .ok_or_else(|| Error::InvalidInput {
                    flag: "--ignore".into(),
                    value: value.clone(),
                    rule: "not a rule ID or name (see `cmek-arm rules`)".into(),
                })
        })
        .collect()
}
