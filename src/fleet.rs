//! `cmek-arm check --key-uri URI` / `--key-uris FILE`: the vendor's check of a
//! whole fleet of customers' keys per run, through the data plane only.
//!
//! The keys (deduplicated, then `--shard`ed) are ordered so that consecutive
//! keys are in different vaults, and checked `--concurrency` at a time; each
//! key has its own deadline, and one key's failure is that key's `unreachable`
//! result, never the run's end. Results are reported as each key finishes
//! (`--format jsonl`, one line per key, flushed) or, in the other formats, as one
//! report over all keys at the end. Exit 3 if any key could not be checked, else
//! 1 if any finding is at `--fail-on` level, else 0.

use crate::azure::dataplane::tenants::AppCredential;
use crate::azure::dataplane::uri::{self, KeyUri, Shard, MAX_KEYS};
use crate::azure::dataplane::{DataPlane, KeyResult, PlaneOptions};
use crate::azure::endpoints::{checked_url, Cloud, Endpoints};
use crate::check::{default_deadline, key_findings};
use crate::diag::{Diagnostic, Level};
use crate::error::Error;
use crate::report::{self, Format, Positions, Sources};
use crate::rules::Settings;
use futures::StreamExt;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// Keys checked at once by default. A key takes three round trips after its
/// vault's tenant is known (the key and its rotation policy together, wrap,
/// unwrap), so at 100 ms per answer 64 at a time check 1,000 keys in about 5 s.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Most keys checked at once (each holds up to two connections).
pub const MAX_CONCURRENCY: usize = 1024;

/// `--format` of a fleet run: a report over all keys, or a line per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetFormat {
    /// One report over all keys at the end, as `check` writes it.
    Report(Format),
    /// One JSON object per key, written and flushed as the key finishes.
    Jsonl,
}

impl std::str::FromStr for FleetFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("jsonl") {
            return Ok(FleetFormat::Jsonl);
        }
        s.parse::<Format>()
            .map(FleetFormat::Report)
            .map_err(|_| format!("'{s}' is not a format (text, json, sarif, junit, github, jsonl)"))
    }
}

/// What a fleet run was asked to do.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// `--key-uri`, repeated.
    pub key_uris: Vec<String>,
    /// `--key-uris FILE` (`-` for standard input).
    pub key_uris_file: Option<String>,
    /// `--cloud`: the vault suffix every URI must carry.
    pub cloud: Cloud,
    /// `--tenant-id`: skip discovery, every key is in this tenant.
    pub tenant_id: Option<String>,
    /// Wrap and unwrap with each key (on unless `--no-probe`).
    pub probe: bool,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--shard I/N`.
    pub shard: Option<Shard>,
    /// `--timeout`, per request.
    pub timeout: Duration,
    /// `--deadline`, per key; `None` for [`default_deadline`].
    pub deadline: Option<Duration>,
    /// `--format`.
    pub format: FleetFormat,
    /// `--fail-on`.
    pub fail_on: Level,
}

/// Parses `--concurrency` (1-1024).
pub fn parse_concurrency(s: &str) -> Result<usize, Error> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(Error::InvalidInput {
            flag: "--concurrency".into(),
            value: s.into(),
            rule: format!("must be a number of keys checked at once, 1-{MAX_CONCURRENCY}"),
        }),
    }
}

impl FleetOptions {
    /// The keys to check: every URI parsed (exit 2 naming the first bad one and
    /// where it came from), duplicates dropped, `--shard` applied.
    pub fn keys(&self) -> Result<Vec<KeyUri>, Error> {
        let text = match &self.key_uris_file {
            Some(file) => uri::read_list(file)?,
            None => String::new(),
        };
        // Where a URI came from, spelled out only for the error that names it.
        let flag = |line: Option<usize>| match (line, &self.key_uris_file) {
            (Some(line), Some(file)) => format!("--key-uris {file} (line {line})"),
            _ => "--key-uri".to_string(),
        };
        let given = self
            .key_uris
            .iter()
            .map(|u| (None, u.as_str()))
            .chain(uri::list_lines(&text).map(|(line, u)| (Some(line), u)));
        let mut keys = Vec::new();
        for (line, text) in given {
            if keys.len() == MAX_KEYS {
                return Err(Error::Usage(format!(
                    "--key-uri/--key-uris name more than {MAX_KEYS} keys, the most one run \
                     checks: split the list into several runs"
                )));
            }
            let key = uri::parse(text, self.cloud).map_err(|rule| Error::InvalidInput {
                flag: flag(line),
                value: text.to_string(),
                rule,
            })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(Error::Usage(
                "--key-uris names no key URI (only blank lines and comments)".into(),
            ));
        }
        // Key Vault's names are case-insensitive: one key, checked once. Sorted
        // (then spread over vaults) rather than kept in a set beside the list.
        fn lower(k: &KeyUri) -> impl Iterator<Item = u8> + '_ {
            k.uri.bytes().map(|b| b.to_ascii_lowercase())
        }
        keys.sort_by(|a, b| lower(a).cmp(lower(b)));
        keys.dedup_by(|a, b| a.uri.eq_ignore_ascii_case(&b.uri));
        if let Some(shard) = self.shard {
            keys.retain(|k| shard.keeps(k));
        }
        keys.shrink_to_fit();
        Ok(interleave(keys))
    }

    /// The data-plane settings from these options and the environment (read
    /// through `var`): the authority (`AZURE_AUTHORITY_HOST`, else the cloud's
    /// login host) and the vendor's application credential.
    pub fn plane(&self, var: &dyn Fn(&str) -> Option<String>) -> Result<PlaneOptions, Error> {
        let endpoints = Endpoints::new(self.cloud, None, None, None)?;
        let authority = match var("AZURE_AUTHORITY_HOST").filter(|s| !s.trim().is_empty()) {
            Some(host) => checked_url("AZURE_AUTHORITY_HOST", host.trim())?,
            None => endpoints.login.clone(),
        };
        Ok(PlaneOptions {
            endpoints,
            authority,
            app: AppCredential::from_env(var)?,
            tenant_id: self.tenant_id.clone(),
            timeout: self.timeout,
            per_key: self
                .deadline
                .unwrap_or_else(|| default_deadline(self.timeout)),
        })
    }
}

/// Orders keys so that neighbours are in different vaults (round robin over
/// the vaults, each vault's keys in their given order): the keys checked at
/// once then spread over as many vaults as there are, rather than queueing at
/// one vault's limit while the others wait.
pub fn interleave(keys: Vec<KeyUri>) -> Vec<KeyUri> {
    let mut order: Vec<String> = Vec::new();
    let mut by_vault: HashMap<String, std::collections::VecDeque<KeyUri>> = HashMap::new();
    for k in keys {
        let q = by_vault.entry(k.host.clone()).or_insert_with(|| {
            order.push(k.host.clone());
            std::collections::VecDeque::new()
        });
        q.push_back(k);
    }
    let mut out = Vec::new();
    loop {
        let mut any = false;
        for host in &order {
            if let Some(k) = by_vault.get_mut(host).and_then(|q| q.pop_front()) {
                out.push(k);
                any = true;
            }
        }
        if !any {
            return out;
        }
    }
}

/// Checks `keys` with at most `concurrency` at once, handing each result to
/// `done` as it finishes (in the order they finish).
pub async fn check_all(
    plane: &DataPlane,
    keys: &[KeyUri],
    probe: bool,
    concurrency: usize,
    mut done: impl FnMut(&KeyUri, KeyResult),
) {
    let mut results = futures::stream::iter(keys.iter())
        .map(|k| async move { (k, plane.check_key(k, probe).await) })
        .buffer_unordered(concurrency.max(1));
    while let Some((k, r)) = results.next().await {
        done(k, r);
    }
}

/// How one key came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Checked; no finding at `--fail-on` level (notes and lesser levels may remain).
    Ok,
    /// Checked; at least one finding at `--fail-on` level.
    Findings,
    /// Could not be checked (exit 3).
    Unreachable,
}

impl Status {
    /// As jsonl writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Findings => "findings",
            Status::Unreachable => "unreachable",
        }
    }
}

/// Counts over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Keys checked with no finding at `--fail-on` level.
    pub ok: usize,
    /// Keys with a finding at `--fail-on` level.
    pub findings: usize,
    /// Keys that could not be checked.
    pub unreachable: usize,
}

impl Totals {
    /// Every key.
    pub fn keys(&self) -> usize {
        self.ok + self.findings + self.unreachable
    }

    /// The exit code of the run (CLI.md): 3, else 1, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.unreachable > 0 {
            3
        } else {
            u8::from(self.findings > 0)
        }
    }
}

/// One key's jsonl line (without the newline).
pub fn jsonl_line(
    key: &KeyUri,
    result: &KeyResult,
    status: Status,
    findings: &[Diagnostic],
) -> String {
    let sources = Sources::new();
    let positions = Positions::new(&sources);
    let mut line = json!({
        "version": 1,
        "uri": key.uri,
        "tenant": result.tenant,
        "status": status.as_str(),
        "findings": findings.iter().map(|d| report::json::finding(d, &positions)).collect::<Vec<_>>(),
        "milliseconds": u64::try_from(result.elapsed.as_millis()).unwrap_or(u64::MAX),
    });
    if let (Err(why), Some(o)) = (&result.state, line.as_object_mut()) {
        o.insert("error".into(), json!(why));
    }
    line.to_string()
}

/// The progress line on stderr: only on a terminal.
fn progress_bar(total: usize, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{pos}/{len} keys checked, {msg} [{elapsed}]")
    {
        bar.set_style(style);
    }
    bar.set_message("0 unreachable, 0 with findings, 0 keys/s");
    bar
}

/// Checks `keys` through `plane` and writes the results to `out` (and the
/// unreachable keys' reasons to `err`, except in jsonl, whose lines carry them);
/// `progress` draws the progress line on stderr. The exit code.
pub fn run(
    opts: &FleetOptions,
    settings: &Settings,
    plane: &DataPlane,
    keys: &[KeyUri],
    out: &mut dyn Write,
    err: &mut dyn Write,
    progress: bool,
) -> Result<u8, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let bar = progress_bar(keys.len(), progress);
    let mut totals = Totals::default();
    let mut all: Vec<Diagnostic> = Vec::new();
    let mut unreachable: Vec<(String, Option<String>, String)> = Vec::new();
    let mut write_error: Option<std::io::Error> = None;
    rt.block_on(check_all(
        plane,
        keys,
        opts.probe,
        opts.concurrency,
        |key, result| {
            let (status, findings) = match &result.state {
                Ok(state) => {
                    let mut f = key_findings(state, settings);
                    // A vault property the data plane derived (purge protection
                    // from the recovery level) says so in the message itself:
                    // jsonl and JSON carry no labels.
                    for d in &mut f {
                        if !d.labels.is_empty() {
                            let why: Vec<&str> =
                                d.labels.iter().map(|l| l.message.as_str()).collect();
                            d.message = format!("{} ({})", d.message, why.join("; "));
                            d.labels.clear();
                        }
                    }
                    if f.iter().any(|d| d.level >= opts.fail_on) {
                        (Status::Findings, f)
                    } else {
                        (Status::Ok, f)
                    }
                }
                Err(_) => (Status::Unreachable, Vec::new()),
            };
            match status {
                Status::Ok => totals.ok += 1,
                Status::Findings => totals.findings += 1,
                Status::Unreachable => totals.unreachable += 1,
            }
            match opts.format {
                FleetFormat::Jsonl => {
                    let line = jsonl_line(key, &result, status, &findings);
                    // Each line is flushed as it is written: a consumer sees every key
                    // as soon as it is done, and a run cut short loses no line.
                    let written =
                        bar.suspend(|| writeln!(out, "{line}").and_then(|()| out.flush()));
                    if let Err(e) = written {
                        write_error.get_or_insert(e);
                    }
                }
                FleetFormat::Report(_) => {
                    if let Err(why) = &result.state {
                        unreachable.push((key.uri.clone(), result.tenant.clone(), why.clone()));
                    }
                    all.extend(findings);
                }
            }
            bar.inc(1);
            let secs = bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} unreachable, {} with findings, {:.0} keys/s",
                totals.unreachable,
                totals.findings,
                totals.keys() as f64 / secs
            ));
        },
    ));
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(Error::Usage(format!("cannot write the report: {e}")));
    }
    if let FleetFormat::Report(format) = opts.format {
        unreachable.sort();
        for (uri, _, why) in &unreachable {
            let _ = writeln!(err, "error: {uri}: {why}");
        }
        let mut sources = Sources::new();
        for k in keys {
            sources.insert(k.uri.clone(), String::new());
        }
        report::sort(&mut all, &Sources::new());
        write_report(format, &all, &sources, &unreachable, totals, out)?;
    }
    Ok(totals.exit_code())
}

/// The report over all keys: `format`'s as `check` writes it, plus (json) the
/// keys' totals and the unreachable keys, (text) a line of totals.
fn write_report(
    format: Format,
    diags: &[Diagnostic],
    sources: &Sources,
    unreachable: &[(String, Option<String>, String)],
    totals: Totals,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::Usage(format!("cannot write the report: {e}"));
    match format {
        Format::Json => {
            let mut v = report::json::to_value(&report::Report {
                diagnostics: diags,
                sources,
            });
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "keys".into(),
                    json!({"checked": totals.keys(), "ok": totals.ok,
                           "findings": totals.findings, "unreachable": totals.unreachable}),
                );
                let list: Vec<Json> = unreachable
                    .iter()
                    .map(|(uri, tenant, why)| json!({"uri": uri, "tenant": tenant, "error": why}))
                    .collect();
                o.insert("unreachable".into(), Json::Array(list));
            }
            serde_json::to_writer_pretty(&mut *out, &v).map_err(|e| fail(e.into()))?;
            writeln!(out).and_then(|()| out.flush()).map_err(fail)
        }
        other => {
            report::write(diags, sources, other, report::use_color(), out)?;
            if other == Format::Text {
                writeln!(
                    out,
                    "Checked {} key{}: {} ok, {} with findings, {} unreachable.",
                    totals.keys(),
                    if totals.keys() == 1 { "" } else { "s" },
                    totals.ok,
                    totals.findings,
                    totals.unreachable
                )
                .and_then(|()| out.flush())
                .map_err(fail)?;
            }
            Ok(())
        }
    }
}

/// A fleet run from the command line: keys, the environment's credential, the
/// run, with the progress line when stderr is a terminal.
pub fn run_command(opts: &FleetOptions, settings: &Settings) -> Result<u8, Error> {
    use std::io::IsTerminal;
    let keys = opts.keys()?;
    let var = |k: &str| std::env::var(k).ok();
    let plane = DataPlane::new(opts.plane(&var)?)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let progress = std::io::stderr().is_terminal();
    run(opts, settings, &plane, &keys, &mut out, &mut err, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> KeyUri {
        uri::parse(s, Cloud::Public).unwrap()
    }

    #[test]
    fn neighbours_are_in_different_vaults() {
        let keys = vec![
            key("https://kva.vault.azure.net/keys/k1"),
            key("https://kva.vault.azure.net/keys/k2"),
            key("https://kva.vault.azure.net/keys/k3"),
            key("https://kvb.vault.azure.net/keys/k1"),
            key("https://kvc.vault.azure.net/keys/k1"),
            key("https://kvb.vault.azure.net/keys/k2"),
        ];
        let order: Vec<String> = interleave(keys)
            .into_iter()
            .map(|k| format!("{}/{}", k.vault, k.key))
            .collect();
        assert_eq!(
            order,
            ["kva/k1", "kvb/k1", "kvc/k1", "kva/k2", "kvb/k2", "kva/k3"]
        );
    }

    #[test]
    fn keys_are_parsed_deduplicated_and_sharded() {
        let mut o = FleetOptions {
            key_uris: vec![
                "https://kva.vault.azure.net/keys/k1".into(),
                "https://KVA.vault.azure.net/keys/K1/".into(),
                "https://kvb.vault.azure.net/keys/k1".into(),
            ],
            key_uris_file: None,
            cloud: Cloud::Public,
            tenant_id: None,
            probe: true,
            concurrency: DEFAULT_CONCURRENCY,
            shard: None,
            timeout: Duration::from_secs(30),
            deadline: None,
            format: FleetFormat::Jsonl,
            fail_on: Level::Error,
        };
        assert_eq!(o.keys().unwrap().len(), 2);
        let in_shard = |i| {
            let mut o = o.clone();
            o.shard = Some(Shard::parse(&format!("{i}/2")).unwrap());
            o.keys().unwrap().len()
        };
        assert_eq!(in_shard(0) + in_shard(1), 2);
        o.key_uris.push("https://evil.example.com/keys/k".into());
        let e = o.keys().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("--key-uri") && e.to_string().contains("evil.example.com"),
            "{e}"
        );
        assert!(parse_concurrency("0").is_err());
        assert!(parse_concurrency("2000").is_err());
        assert_eq!(parse_concurrency("8").unwrap(), 8);
        assert_eq!("jsonl".parse::<FleetFormat>(), Ok(FleetFormat::Jsonl));
        assert_eq!(
            "sarif".parse::<FleetFormat>(),
            Ok(FleetFormat::Report(Format::Sarif))
        );
        assert!("xml".parse::<FleetFormat>().is_err());
    }

    #[test]
    fn exit_code_unreachable_wins_over_findings() {
        let t = |ok, findings, unreachable| {
            Totals {
                ok,
                findings,
                unreachable,
            }
            .exit_code()
        };
        assert_eq!(t(3, 0, 0), 0);
        assert_eq!(t(3, 1, 0), 1);
        assert_eq!(t(3, 1, 1), 3);
        assert_eq!(t(0, 0, 1), 3);
    }
}
