//! `cargo bench --bench fleet`: the vendor's `check --key-uris` over a fleet of
//! fake vaults on loopback, 100 ms added to every response (tenant lookups and
//! token requests included), as the real binary runs it.
//!
//! Issue 11's targets: 1,000 keys over 100 vaults under 10 s at the default
//! concurrency, peak memory under 100 MB, and memory flat from 1,000 to 10,000
//! keys. The floor of a run is its round trips x latency / concurrency: each key
//! takes three (its bundle and rotation policy together, wrap, unwrap), each
//! vault one more (the tenant lookup) and each tenant one (the token).
//!
//! `FLEET_BENCH_QUICK=1` runs only the 1,000-key case.

#[path = "../tests/check/fake.rs"]
mod fake;

use fake::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(100);
const VAULTS: usize = 100;

/// The fleet: a login fake and `VAULTS` vaults (half in each of two tenants).
struct Fleet {
    login: Fake,
    vaults: Vec<Fake>,
}

fn fleet(dir: &std::path::Path, keys_per_vault: usize) -> Fleet {
    let login = Fake::start();
    login.latency(LATENCY);
    let vaults: Vec<Fake> = (0..VAULTS)
        .map(|i| {
            let v = dp_vault(&login, if i % 2 == 0 { TENANT } else { TENANT_B });
            v.latency(LATENCY);
            for k in 0..keys_per_vault {
                let name = format!("cmek-{k}");
                dp_put(dir, &v, &name, dp_bundle(dir, &v, &name));
            }
            v
        })
        .collect();
    Fleet { login, vaults }
}

/// The child's own peak resident memory in MiB, sampled from
/// `/proc/<pid>/status` (`VmHWM`, which only grows) every 5 ms until it exits.
///
/// Not `wait4`'s `ru_maxrss`: on Linux that includes the spawning process's
/// memory at the fork (the fakes of this benchmark, tens of MiB), so it grows
/// with the fleet's size though the checking process does not.
fn sample_peak(pid: u32) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak_kib = 0u64;
        // A process that has exited (a zombie) has no memory lines left.
        while let Some(kib) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        {
            peak_kib = peak_kib.max(kib);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak_kib as f64 / 1024.0
    })
}

/// Runs the binary over `keys_per_vault` keys of each of the first `vaults`
/// vaults of `f`: (seconds, lines, the run's peak RSS in MiB).
fn run(
    f: &Fleet,
    keys_per_vault: usize,
    vaults: usize,
    concurrency: usize,
    list: &std::path::Path,
) -> (f64, usize, f64) {
    let mut file = std::fs::File::create(list).expect("list");
    for k in 0..keys_per_vault {
        for v in f.vaults.iter().take(vaults) {
            writeln!(file, "{}", key_uri(v, &format!("cmek-{k}"))).expect("write");
        }
    }
    drop(file);
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
        .args(["check", "--format", "jsonl", "--key-uris"])
        .arg(list)
        .args(["--concurrency", &concurrency.to_string()])
        .env_clear()
        .env("AZURE_CLIENT_ID", CLIENT)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_AUTHORITY_HOST", &f.login.url)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let peak = sample_peak(child.id());
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = 0;
    let mut not_ok = 0;
    for line in out.lines() {
        let line = line.expect("line");
        lines += 1;
        if !line.contains(r#""status":"ok""#) {
            not_ok += 1;
            if not_ok <= 3 {
                eprintln!("not ok: {line}");
            }
        }
    }
    let rss = peak.join().expect("sampler");
    let status = child.wait().expect("wait");
    let secs = start.elapsed().as_secs_f64();
    assert!(
        status.success() && not_ok == 0,
        "run failed: {status}, {not_ok} keys not ok"
    );
    (secs, lines, rss)
}

fn main() {
    let Some(dir) = corpus() else { return };
    let quick = std::env::var_os("FLEET_BENCH_QUICK").is_some();
    let tmp = tempfile::tempdir().expect("tempdir");
    let list = tmp.path().join("keys.txt");
    let mut cases = vec![(10, 64), (10, 256)];
    if !quick {
        cases.extend([(100, 64), (100, 256)]);
    }
    let mut built: Option<(usize, Fleet)> = None;
    for (per_vault, concurrency) in cases {
        if built.as_ref().map(|(n, _)| *n) != Some(per_vault) {
            built = Some((per_vault, fleet(&dir, per_vault)));
        }
        let Some((_, f)) = &built else { return };
        if per_vault == 10 && concurrency == 64 {
            // The baseline, in the same fleet: one key of one vault.
            let (secs, _, rss) = run(f, 1, 1, concurrency, &list);
            println!(
                "     1 key  (baseline), --concurrency {concurrency:>3}: {secs:>6.2} s, peak RSS {rss:.1} MiB"
            );
        }
        let keys = per_vault * VAULTS;
        let round_trips = keys * 3 + VAULTS + 2;
        let floor = round_trips as f64 * LATENCY.as_secs_f64() / concurrency as f64;
        let (secs, lines, rss) = run(f, per_vault, VAULTS, concurrency, &list);
        assert_eq!(lines, keys);
        println!(
            "{keys:>6} keys over {VAULTS} vaults, --concurrency {concurrency:>3}: {secs:>6.2} s \
             (floor {round_trips} round trips x 100 ms / {concurrency} = {floor:.2} s), \
             {:>6.0} keys/s, peak RSS {rss:.1} MiB",
            keys as f64 / secs
        );
    }
}
