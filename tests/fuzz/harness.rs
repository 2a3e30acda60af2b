//! Runs each input through what the CLI runs (`validate` with a report in every
//! format, and `expand`), decides whether it crashed, keeps statistics, saves
//! crashing, slow and hanging inputs, and watches for hangs.

use crate::mutate::{generate, Input};
use crate::seeds::Corpus;
use cmek_arm::arm::expand::Context;
use cmek_arm::diag::Location;
use cmek_arm::report::{self, Format};
use cmek_arm::rules::Flags;
use cmek_arm::validate::{self, Options};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// How a run is driven.
#[derive(Debug, Clone)]
pub struct Config {
    /// The run's seed; input `i` is `generate(seed, i)`.
    pub seed: u64,
    /// First iteration (to regenerate one input: `start = i`, `iterations = 1`).
    pub start: u64,
    /// Inputs to try.
    pub iterations: u64,
    /// Fuzzing threads (each input still runs validate's and expand's own threads).
    pub threads: usize,
    /// Print a progress line every this many inputs (0: never).
    pub progress_every: u64,
    /// Where crashing, hanging and (with `save_slow`) slow inputs are written.
    pub out_dir: PathBuf,
    /// An input slower than this is counted (and saved with `save_slow`).
    pub slow: Duration,
    /// Save inputs slower than `slow`.
    pub save_slow: bool,
    /// An input still running after this long is saved as a hang.
    pub hang: Duration,
    /// An input still running after this long ends the process (a real hang
    /// would otherwise block the test forever).
    pub abort: Duration,
}

/// A crash: what failed and where the input was saved.
#[derive(Debug, Clone)]
pub struct Crash {
    pub iteration: u64,
    pub path: PathBuf,
    pub reason: String,
}

/// One of the slowest inputs.
#[derive(Debug, Clone)]
pub struct Slow {
    pub time: Duration,
    pub iteration: u64,
    pub seed_name: String,
    pub saved: Option<PathBuf>,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Summary {
    pub tried: u64,
    /// The template parsed as JSON (no ARM001 on it).
    pub parsed: u64,
    /// `expand` produced at least one resource.
    pub expanded: u64,
    /// Some finding said a limit or budget was exceeded.
    pub limited: u64,
    pub rules: BTreeSet<&'static str>,
    pub crashes: Vec<Crash>,
    /// The slowest inputs, slowest first.
    pub slowest: Vec<Slow>,
    /// Inputs slower than `Config::slow`.
    pub over_slow: u64,
    /// Inputs saved as hangs (still running after `Config::hang`).
    pub hangs: Vec<PathBuf>,
    pub elapsed: Duration,
}

const KEEP_SLOWEST: usize = 5;

/// What one input did.
struct Observed {
    parsed: bool,
    resources: usize,
    limited: bool,
    rules: Vec<&'static str>,
}

/// Panic messages seen since the last crash was recorded: the engine catches
/// its own panics, so the message is only visible to a hook.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut p) = PANICS.lock() {
                if p.len() < 20 {
                    let thread = std::thread::current().name().unwrap_or("?").to_string();
                    p.push(format!("panic in thread '{thread}': {info}"));
                }
            }
            previous(info);
        }));
    });
}

const SP: &str = "11111111-1111-1111-1111-111111111111";
const OFFICER: &str = "33333333-3333-3333-3333-333333333333";
const TENANT: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";

/// CLI defaults, or (`rich`) every rule flag and deployment value given, so the
/// CMEK rules and the known-value paths of the engine run too.
fn options(parameters: Option<&Path>, rich: bool) -> Options {
    let mut o = Options {
        parameters: parameters.map(Path::to_path_buf),
        ..Options::default()
    };
    if rich {
        o.flags = Flags {
            region: Some("eastus".into()),
            sp_object_id: Some(SP.into()),
            officer_object_id: Some(OFFICER.into()),
            key_suffix: Some("tidb".into()),
            tenant_id: Some(TENANT.into()),
            ..Flags::default()
        };
        o.context = full_context();
        o.color = true;
    }
    o
}

fn full_context() -> Context {
    Context {
        subscription_id: Some("00000000-0000-0000-0000-000000000001".into()),
        resource_group: Some("rg-cmek".into()),
        resource_group_location: Some("eastus".into()),
        tenant_id: Some(TENANT.into()),
        deployer_object_id: Some(OFFICER.into()),
        deployment_name: Some("fuzz".into()),
        not_the_deployer: Vec::new(),
    }
}

/// The `expand` JSON's resource count, from its pretty-printed layout (a
/// resource is an object opening at depth 2); parsing it again would hit
/// serde_json's depth limit on deep but legitimate outputs.
fn resource_count(out: &[u8]) -> usize {
    let text = String::from_utf8_lossy(out);
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("  \"resources\": ["));
    if lines
        .next()
        .is_none_or(|l| l.ends_with("[]") || l.ends_with("[],"))
    {
        return 0;
    }
    lines
        .take_while(|l| !l.starts_with("  ]"))
        .filter(|l| *l == "    {")
        .count()
}

fn internal(message: &str) -> bool {
    message.contains("internal error")
}

fn limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("limit exceeded") || m.contains("budget")
}

/// Runs `validate` (with every report format) and `expand` on one template as
/// the CLI would; `Err` is a crash: a panic, an internal-error finding or an
/// error the CLI would exit 2 or 3 with for a readable file.
fn check(template: &Path, parameters: Option<&Path>, rich: bool) -> Result<Observed, String> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let options = options(parameters, rich);
        let outcome = validate::run(&[template.to_path_buf()], &options)
            .map_err(|e| format!("validate failed: {e}"))?;
        for format in Format::ALL {
            report::write(
                &outcome.diagnostics,
                &outcome.sources,
                format,
                options.color,
                &mut std::io::sink(),
            )
            .map_err(|e| format!("the {format:?} report failed: {e}"))?;
        }
        let (mut out, mut err) = (Vec::new(), Vec::new());
        validate::expand_command(template, parameters, &options.context, &mut out, &mut err)
            .map_err(|e| format!("expand failed: {e}"))?;
        Ok::<_, String>((outcome, out, err))
    }));
    let (outcome, out, err) = match result {
        Ok(r) => r?,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("panic outside the engine's guard: {msg}"));
        }
    };
    if let Some(d) = outcome.diagnostics.iter().find(|d| internal(&d.message)) {
        return Err(format!("validate: {} {}", d.rule, d.message));
    }
    let err = String::from_utf8_lossy(&err);
    if internal(&err) {
        return Err(format!("expand: {}", err.trim()));
    }
    let name = template.display().to_string();
    let parsed = !outcome.diagnostics.iter().any(|d| {
        d.rule == "ARM001" && matches!(&d.location, Location::File { file, .. } if *file == name)
    });
    Ok(Observed {
        parsed,
        resources: resource_count(&out),
        limited: outcome.diagnostics.iter().any(|d| limit(&d.message)) || limit(&err),
        rules: outcome.diagnostics.iter().map(|d| d.rule).collect(),
    })
}

/// Writes an input (and its parameters file) under `dir` as
/// `<kind>-s<seed>-i<iteration>.json`, with a `.txt` saying how it was made.
fn save(dir: &Path, kind: &str, seed: u64, iteration: u64, input: &Input, note: &str) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(format!("{kind}-s{seed:x}-i{iteration}.json"));
    let _ = std::fs::write(&path, &input.template);
    if let Some(p) = &input.parameters {
        let _ = std::fs::write(path.with_extension("parameters.json"), p);
    }
    let text = format!(
        "{note}\nseed {seed:#x}, iteration {iteration}\nfrom {}\nvalidated with {}\nmutations:\n  {}\n\
         replay: CMEK_FUZZ_REPLAY={} cargo test --test fuzz replay -- --ignored --nocapture\n",
        input.seed_name,
        if input.rich { "every rule flag and context value" } else { "the CLI defaults" },
        input.log.join("\n  "),
        path.display()
    );
    let _ = std::fs::write(path.with_extension("txt"), text);
    path
}

/// What each fuzzing thread is running, for the watchdog.
struct Running {
    since: Instant,
    iteration: u64,
    template: PathBuf,
    parameters: Option<PathBuf>,
    reported: bool,
}

/// Fuzzes `config.iterations` inputs made from `corpus`.
pub fn run(corpus: &Corpus, config: &Config) -> Summary {
    install_panic_hook();
    let started = Instant::now();
    let summary = Mutex::new(Summary::default());
    let slots: Vec<Mutex<Option<Running>>> =
        (0..config.threads).map(|_| Mutex::new(None)).collect();
    let done = AtomicBool::new(false);
    let counter = AtomicU64::new(0);
    let work = tempfile::tempdir().expect("temp dir");

    std::thread::scope(|s| {
        s.spawn(|| watchdog(config, &slots, &done, &summary));
        let mut workers = Vec::new();
        for t in 0..config.threads {
            let (summary, slots, counter, work) = (&summary, &slots, &counter, work.path());
            // Deep inputs recurse in the mutator and serde_json: a big stack.
            let worker = std::thread::Builder::new()
                .name(format!("fuzz-{t}"))
                .stack_size(256 << 20)
                .spawn_scoped(s, move || {
                    let template = work.join(format!("t{t}.json"));
                    let params = work.join(format!("t{t}.parameters.json"));
                    let mut i = config.start + t as u64;
                    while i < config.start + config.iterations {
                        let input = generate(corpus, config.seed, i);
                        std::fs::write(&template, &input.template).expect("write input");
                        let params_path = input.parameters.as_ref().map(|p| {
                            std::fs::write(&params, p).expect("write parameters");
                            params.as_path()
                        });
                        *slots[t].lock().unwrap() = Some(Running {
                            since: Instant::now(),
                            iteration: i,
                            template: template.clone(),
                            parameters: params_path.map(Path::to_path_buf),
                            reported: false,
                        });
                        let t0 = Instant::now();
                        let verdict = check(&template, params_path, input.rich);
                        let time = t0.elapsed();
                        *slots[t].lock().unwrap() = None;
                        record(config, summary, i, &input, verdict, time);
                        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                        if config.progress_every > 0 && n % config.progress_every == 0 {
                            progress(&summary.lock().unwrap(), started.elapsed());
                        }
                        i += config.threads as u64;
                    }
                })
                .expect("spawn a fuzzing thread");
            workers.push(worker);
        }
        for w in workers {
            if let Err(p) = w.join() {
                done.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(p);
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let mut summary = summary.into_inner().unwrap();
    summary.elapsed = started.elapsed();
    summary
}

fn record(
    config: &Config,
    summary: &Mutex<Summary>,
    i: u64,
    input: &Input,
    verdict: Result<Observed, String>,
    time: Duration,
) {
    let slow = time > config.slow;
    let saved_slow = (slow && config.save_slow).then(|| {
        save(
            &config.out_dir,
            "slow",
            config.seed,
            i,
            input,
            &format!("took {time:.2?}"),
        )
    });
    let mut s = summary.lock().unwrap();
    s.tried += 1;
    s.over_slow += u64::from(slow);
    match verdict {
        Ok(o) => {
            s.parsed += u64::from(o.parsed);
            s.expanded += u64::from(o.resources > 0);
            s.limited += u64::from(o.limited);
            s.rules.extend(o.rules);
        }
        Err(reason) => {
            let panics = std::mem::take(&mut *PANICS.lock().unwrap());
            let reason = if panics.is_empty() {
                reason
            } else {
                format!("{reason}\n{}", panics.join("\n"))
            };
            let path = save(&config.out_dir, "crash", config.seed, i, input, &reason);
            eprintln!(
                "CRASH at seed {:#x} iteration {i} (from {}): {reason}\n  saved: {}",
                config.seed,
                input.seed_name,
                path.display()
            );
            s.crashes.push(Crash {
                iteration: i,
                path,
                reason,
            });
        }
    }
    if s.slowest.len() < KEEP_SLOWEST || s.slowest.last().is_some_and(|l| time > l.time) {
        s.slowest.push(Slow {
            time,
            iteration: i,
            seed_name: input.seed_name.clone(),
            saved: saved_slow,
        });
        s.slowest.sort_by_key(|x| std::cmp::Reverse(x.time));
        s.slowest.truncate(KEEP_SLOWEST);
    }
}

/// Saves inputs running longer than `config.hang`, and ends the process after
/// `config.abort` (a thread cannot be stopped from outside).
fn watchdog(
    config: &Config,
    slots: &[Mutex<Option<Running>>],
    done: &AtomicBool,
    summary: &Mutex<Summary>,
) {
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        for slot in slots {
            let mut slot = slot.lock().unwrap();
            let Some(r) = slot.as_mut() else { continue };
            let running = r.since.elapsed();
            if running > config.hang && !r.reported {
                r.reported = true;
                let input = Input {
                    seed_name: "(see the run's log)".into(),
                    template: std::fs::read(&r.template).unwrap_or_default(),
                    parameters: r.parameters.as_ref().and_then(|p| std::fs::read(p).ok()),
                    log: Vec::new(),
                    rich: false,
                };
                let path = save(
                    &config.out_dir,
                    "hang",
                    config.seed,
                    r.iteration,
                    &input,
                    &format!("still running after {running:.1?}"),
                );
                eprintln!(
                    "HANG? seed {:#x} iteration {} still running after {running:.1?}; saved: {} \
                     (regenerate it with CMEK_FUZZ_SEED={:#x} CMEK_FUZZ_START={} CMEK_FUZZ_ITERATIONS=1)",
                    config.seed,
                    r.iteration,
                    path.display(),
                    config.seed,
                    r.iteration
                );
                summary.lock().unwrap().hangs.push(path);
            }
            if running > config.abort {
                eprintln!(
                    "ABORT: seed {:#x} iteration {} has run for {running:.1?}; its input is saved \
                     under {}",
                    config.seed,
                    r.iteration,
                    config.out_dir.display()
                );
                std::process::exit(3);
            }
        }
    }
}

fn progress(s: &Summary, elapsed: Duration) {
    let rate = s.tried as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "[{:>7.1}s] {} inputs ({rate:.1}/s): {} parsed, {} expanded, {} hit a limit, {} crashes, \
         {} over the slow mark, slowest {:.2?}",
        elapsed.as_secs_f64(),
        s.tried,
        s.parsed,
        s.expanded,
        s.limited,
        s.crashes.len(),
        s.over_slow,
        s.slowest.first().map(|x| x.time).unwrap_or_default()
    );
}

/// Peak resident memory of this process (Linux; `None` elsewhere).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
}

impl Summary {
    /// The final report.
    pub fn print(&self, config: &Config) {
        println!(
            "fuzz summary (seed {:#x}, iterations {}..{}, {} thread(s)):",
            config.seed,
            config.start,
            config.start + config.iterations,
            config.threads
        );
        println!(
            "  inputs tried: {} in {:.1?} ({:.1}/s)",
            self.tried,
            self.elapsed,
            self.tried as f64 / self.elapsed.as_secs_f64().max(1e-9)
        );
        let pct = |n: u64| 100.0 * n as f64 / self.tried.max(1) as f64;
        println!(
            "  parsed as JSON: {} ({:.1}%)",
            self.parsed,
            pct(self.parsed)
        );
        println!(
            "  expanded to at least one resource: {} ({:.1}%)",
            self.expanded,
            pct(self.expanded)
        );
        println!("  hit a limit or budget finding: {}", self.limited);
        println!(
            "  distinct finding rules seen: {} ({})",
            self.rules.len(),
            self.rules.iter().copied().collect::<Vec<_>>().join(" ")
        );
        println!("  crashes: {}", self.crashes.len());
        for c in &self.crashes {
            println!(
                "    iteration {}: {} ({})",
                c.iteration,
                c.path.display(),
                c.reason
            );
        }
        println!(
            "  inputs over {:.1?}: {}; saved as hangs (over {:.1?}): {}",
            config.slow,
            self.over_slow,
            config.hang,
            self.hangs.len()
        );
        for h in &self.hangs {
            println!("    {}", h.display());
        }
        println!("  slowest inputs:");
        for s in &self.slowest {
            println!(
                "    {:.3?}  iteration {} from {}{}",
                s.time,
                s.iteration,
                s.seed_name,
                s.saved
                    .as_ref()
                    .map(|p| format!(" (saved: {})", p.display()))
                    .unwrap_or_default()
            );
        }
        if let Some(rss) = peak_rss() {
            println!("  peak resident memory: {rss}");
        }
    }
}

/// Where a slow input spends its time: validate's stages one by one (as
/// `validate::analyse` runs them), each rule over 10 ms, the reports and `expand`.
fn profile(path: &Path, parameters: Option<&Path>, rich: bool) {
    use cmek_arm::arm::{expand, json, schema};
    use cmek_arm::rules::{self, Check, Settings, TemplateInput};
    let time = |what: &str, t0: Instant| {
        println!("    {what:<28} {:>10.3?}", t0.elapsed());
        Instant::now()
    };
    let options = options(parameters, rich);
    let Ok(settings) = Settings::from_flags(&options.flags) else {
        return;
    };
    let mut t = Instant::now();
    let load = |p: &Path| json::parse(&p.display().to_string(), &std::fs::read(p).ok()?).ok();
    let (Some(doc), params) = (load(path), parameters.and_then(load)) else {
        println!("    (not JSON: nothing past the parser to profile)");
        return;
    };
    t = time("parse", t);
    let _ = schema::check(&doc);
    t = time("schema (ARM002)", t);
    let x = expand::expand(&doc, params.as_ref(), &options.context);
    t = time(&format!("expand ({} resources)", x.resources.len()), t);
    let input = TemplateInput {
        template: &doc,
        parameters: params.as_ref(),
    };
    for rule in rules::RULES {
        if let Check::Template(check) = rule.check {
            let t0 = Instant::now();
            check(&input, &mut Vec::new());
            if t0.elapsed() > Duration::from_millis(10) {
                time(&format!("  rule {}", rule.id), t0);
            }
        }
    }
    t = time("template rules", t);
    let deployment = cmek_arm::model::from_expansion_with(&x, &doc, params.as_ref());
    t = time("model", t);
    for rule in rules::RULES {
        if let Check::Model(check) = rule.check {
            let t0 = Instant::now();
            check(&deployment, &settings, &mut Vec::new());
            if t0.elapsed() > Duration::from_millis(10) {
                time(&format!("  rule {}", rule.id), t0);
            }
        }
    }
    let _ = rules::check_model(&deployment, &settings);
    t = time("model rules (check_model)", t);
    let Ok(outcome) = validate::run(&[path.to_path_buf()], &options) else {
        return;
    };
    t = time("validate::run (all again)", t);
    for format in Format::ALL {
        let _ = report::write(
            &outcome.diagnostics,
            &outcome.sources,
            format,
            options.color,
            &mut std::io::sink(),
        );
        t = time(&format!("report {format:?}"), t);
    }
    let _ = validate::expand_command(
        path,
        parameters,
        &options.context,
        &mut std::io::sink(),
        &mut std::io::sink(),
    );
    t = time("expand command", t);
    // The expand command's steps after the expansion (validate::expand_command).
    let json = x.to_json();
    t = time("  expansion to JSON", t);
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    t = time(&format!("  pretty-printed ({} bytes)", text.len()), t);
    let mut diagnostics = x.diagnostics.clone();
    let mut sources = report::Sources::new();
    sources.insert(doc.file.clone(), doc.text.clone());
    report::sort(&mut diagnostics, &sources);
    t = time(&format!("  {} findings sorted", diagnostics.len()), t);
    let _ = report::write(
        &diagnostics,
        &sources,
        Format::Text,
        false,
        &mut std::io::sink(),
    );
    time("  findings printed", t);
}

/// Runs one saved input (and its `.parameters.json`, when beside it) both ways
/// `validate` is fuzzed; `Err` on a crash. With `timings`, also where the time goes.
pub fn replay(path: &Path, timings: bool) -> Result<(), String> {
    install_panic_hook();
    let params = path.with_extension("parameters.json");
    let params = params.is_file().then_some(params);
    for rich in [false, true] {
        let t0 = Instant::now();
        let o = check(path, params.as_deref(), rich).map_err(|e| {
            let panics = std::mem::take(&mut *PANICS.lock().unwrap());
            format!("{e}\n{}", panics.join("\n"))
        })?;
        println!(
            "{} ({}): parsed {}, {} resources, limit finding {}, rules {:?}, {:.2?}",
            path.display(),
            if rich { "full context" } else { "CLI defaults" },
            o.parsed,
            o.resources,
            o.limited,
            o.rules.iter().collect::<BTreeSet<_>>(),
            t0.elapsed()
        );
        if timings {
            profile(path, params.as_deref(), rich);
        }
    }
    Ok(())
}
