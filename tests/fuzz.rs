//! A structure-aware fuzzer for `validate` and `expand` (issue 10): real templates
//! from the shared corpus (and the repository's rule fixtures) are mutated as JSON
//! and as bytes, then run through the whole in-process pipeline. Nothing may
//! panic, and an internal-error finding counts as a panic.
//!
//! - `short_run`: part of `cargo test`, fixed seeds, a few hundred inputs.
//! - `long_run` (ignored): `CMEK_FUZZ_ITERATIONS=100000 cargo test --release
//!   --test fuzz long_run -- --ignored --nocapture`; see the README's "Fuzzing".
//! - `replay` (ignored): `CMEK_FUZZ_REPLAY=path/to/crash-....json cargo test
//!   --test fuzz replay -- --ignored --nocapture`.

#[path = "fuzz/harness.rs"]
mod harness;
#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/rng.rs"]
mod rng;
#[path = "fuzz/seeds.rs"]
mod seeds;

/// The CLI's allocator (src/main.rs), so an input's time is what a user would
/// wait: with glibc malloc the slowest inputs took several times longer.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use harness::Config;
use std::path::PathBuf;
use std::time::Duration;

/// The short run's seeds: fixed, so `cargo test` tries the same inputs every time.
const SHORT_SEEDS: [u64; 2] = [0x5EED_0001, 0x5EED_0002];
/// Inputs per seed in the short run.
const SHORT_ITERATIONS: u64 = 150;
/// The short run mutates only templates up to this size: the big AVM modules take
/// seconds each in the dev profile, and the small ones reach the same code.
const SHORT_MAX_SEED_BYTES: usize = 64 * 1024;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
    .or_else(|| panic!("{name}={v} is not a number"))
}

fn out_dir() -> PathBuf {
    std::env::var_os("CMEK_FUZZ_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("cmek-fuzz"))
}

fn config(seed: u64, iterations: u64) -> Config {
    Config {
        seed,
        start: 0,
        iterations,
        threads: 1,
        progress_every: 0,
        out_dir: out_dir(),
        slow: Duration::from_secs(2),
        save_slow: false,
        hang: Duration::from_secs(10),
        abort: Duration::from_secs(300),
    }
}

#[test]
fn short_run() {
    let corpus = seeds::load(Some(SHORT_MAX_SEED_BYTES));
    println!(
        "{} seeds ({}), {} expressions, {} calls, {} function names",
        corpus.seeds.len(),
        if corpus.shared {
            "shared corpus and tests/fixtures"
        } else {
            "tests/fixtures only"
        },
        corpus.pools.expressions.len(),
        corpus.pools.calls.len(),
        corpus.pools.functions.len()
    );
    assert!(
        corpus.seeds.len() >= 20,
        "too few seeds: {}",
        corpus.seeds.len()
    );
    let (mut tried, mut parsed, mut expanded) = (0, 0, 0);
    let mut crashes = Vec::new();
    for seed in SHORT_SEEDS {
        let cfg = config(seed, SHORT_ITERATIONS);
        let s = harness::run(&corpus, &cfg);
        s.print(&cfg);
        tried += s.tried;
        parsed += s.parsed;
        expanded += s.expanded;
        crashes.extend(s.crashes.iter().map(|c| {
            format!(
                "seed {seed:#x} iteration {}: {}",
                c.iteration,
                c.path.display()
            )
        }));
    }
    assert!(
        crashes.is_empty(),
        "{} crashing inputs (replay each with CMEK_FUZZ_REPLAY=<path> cargo test --test fuzz \
         replay -- --ignored --nocapture):\n{}",
        crashes.len(),
        crashes.join("\n")
    );
    // Not vacuous: most inputs must get past the parser and many through expansion.
    assert_eq!(tried, SHORT_ITERATIONS * SHORT_SEEDS.len() as u64);
    assert!(
        parsed * 2 >= tried,
        "only {parsed} of {tried} inputs parsed"
    );
    assert!(
        expanded * 3 >= tried,
        "only {expanded} of {tried} inputs expanded to a resource"
    );
}

/// The long run, driven by environment variables:
/// `CMEK_FUZZ_ITERATIONS` (default 10,000), `CMEK_FUZZ_SEED` (default 0xC0FFEE),
/// `CMEK_FUZZ_START` (first iteration, default 0), `CMEK_FUZZ_THREADS` (default 1),
/// `CMEK_FUZZ_PROGRESS` (default 1,000), `CMEK_FUZZ_MAX_SEED_BYTES` (default: every
/// seed), `CMEK_FUZZ_OUT` (default `$TMPDIR/cmek-fuzz`).
#[test]
#[ignore = "long; run with --release --ignored (README: Fuzzing)"]
fn long_run() {
    let corpus = seeds::load(env_u64("CMEK_FUZZ_MAX_SEED_BYTES").map(|b| b as usize));
    if !corpus.shared {
        println!("(the long run without the shared corpus fuzzes the built-in seeds only)");
    }
    let mut cfg = config(
        env_u64("CMEK_FUZZ_SEED").unwrap_or(0xC0FFEE),
        env_u64("CMEK_FUZZ_ITERATIONS").unwrap_or(10_000),
    );
    cfg.start = env_u64("CMEK_FUZZ_START").unwrap_or(0);
    cfg.threads = env_u64("CMEK_FUZZ_THREADS").unwrap_or(1).max(1) as usize;
    cfg.progress_every = env_u64("CMEK_FUZZ_PROGRESS").unwrap_or(1_000);
    cfg.save_slow = true;
    println!(
        "{} seeds, {} expressions, {} calls, {} function names; saving to {}",
        corpus.seeds.len(),
        corpus.pools.expressions.len(),
        corpus.pools.calls.len(),
        corpus.pools.functions.len(),
        cfg.out_dir.display()
    );
    let s = harness::run(&corpus, &cfg);
    s.print(&cfg);
    assert!(
        s.crashes.is_empty(),
        "{} crashing inputs, listed above",
        s.crashes.len()
    );
}

/// Runs one saved input: `CMEK_FUZZ_REPLAY=path`; `CMEK_FUZZ_TIMINGS=1` also
/// prints where the time goes (each validate stage, slow rules, reports, expand).
#[test]
#[ignore = "needs CMEK_FUZZ_REPLAY=path"]
fn replay() {
    let Some(path) = std::env::var_os("CMEK_FUZZ_REPLAY") else {
        println!("set CMEK_FUZZ_REPLAY to a saved input (crash-*.json, slow-*.json, hang-*.json)");
        return;
    };
    let timings = std::env::var_os("CMEK_FUZZ_TIMINGS").is_some();
    if let Err(e) = harness::replay(PathBuf::from(path).as_path(), timings) {
        panic!("crash: {e}");
    }
}

#[test]
fn the_same_seed_and_iteration_make_the_same_input() {
    let corpus = seeds::load(Some(16 * 1024));
    for i in 0..20 {
        let a = mutate::generate(&corpus, 42, i);
        let b = mutate::generate(&corpus, 42, i);
        assert_eq!(a.template, b.template, "iteration {i}: {:?}", a.log);
        assert_eq!(a.log, b.log);
    }
}
