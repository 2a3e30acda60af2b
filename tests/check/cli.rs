//! Runs the real binary against a fake, with an explicit loopback credential.

use super::fake::{
    Fake, CLIENT, FEDERATED, KEY, RG, SECRET, SP_OBJECT, SUB, TENANT, TOKEN, TOKEN_B, VAULT,
};
use serde_json::Value as Json;
use std::process::Command;

/// What one run printed.
pub struct Out {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Stdout as JSON (panics with both streams when it is not).
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Problems of one kind.
    pub fn problems(&self, kind: &str) -> Vec<Json> {
        self.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == kind)
            .cloned()
            .collect()
    }
}

/// Whatever happened, neither a token (nor any part of one: its claims are
/// read, never shown), the client secret nor a federated assertion is ever printed.
pub fn assert_no_secrets(out: &Out) {
    for s in TOKEN
        .split('.')
        .chain(TOKEN_B.split('.'))
        .chain([TOKEN, TOKEN_B, SECRET, FEDERATED])
    {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "a secret was printed:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

/// `cmek-arm <args>` with only the environment credential's variables set.
pub fn run_raw(fake: &Fake, args: &[&str], authority: Option<&str>) -> Out {
    run_raw_in(fake, args, authority, None)
}

/// As [`run_raw`], in the working directory `cwd` when given.
pub fn run_raw_in(
    fake: &Fake,
    args: &[&str],
    authority: Option<&str>,
    cwd: Option<&std::path::Path>,
) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cmek-arm"));
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .args(args)
        .env_clear()
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_AUTHORITY_HOST", authority.unwrap_or(&fake.url))
        // A proxy from the outer environment must not see loopback traffic.
        .env("NO_PROXY", "127.0.0.1,localhost")
        // Maximum verbosity for any logger a dependency might honour.
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_secrets(&out);
    out
}

/// The base check command with `--show-state` (what was read, as JSON), plus
/// `extra`: the read-path scenarios assert on the model itself.
pub fn check(fake: &Fake, extra: &[&str]) -> Out {
    check_sp(fake, SP_OBJECT, extra)
}

/// As [`check`], with `--sp-object-id sp`.
pub fn check_sp(fake: &Fake, sp: &str, extra: &[&str]) -> Out {
    let mut args = vec!["--show-state"];
    args.extend_from_slice(extra);
    report_sp(fake, sp, &args)
}

/// `check` on the fake's vault and key with the environment credential and ARM at
/// `arm`, plus `extra`: the arguments every scenario starts from.
pub fn target_args<'a>(arm: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "check",
        "--subscription",
        SUB,
        "--resource-group",
        RG,
        "--vault",
        VAULT,
        "--key",
        KEY,
        "--auth",
        "env",
        "--arm-endpoint",
        arm,
    ];
    args.extend_from_slice(extra);
    args
}

/// The base check command (rules and report, no `--show-state`), plus `extra`.
pub fn report(fake: &Fake, extra: &[&str]) -> Out {
    report_sp(fake, SP_OBJECT, extra)
}

/// As [`report`], with `--sp-object-id sp`.
pub fn report_sp(fake: &Fake, sp: &str, extra: &[&str]) -> Out {
    let mut args = target_args(
        &fake.url,
        &[
            "--sp-object-id",
            sp,
            "--graph-endpoint",
            &fake.url,
            "--vault-endpoint",
            &fake.url,
            "--timeout",
            "5",
        ],
    );
    args.extend_from_slice(extra);
    run_raw(fake, &args, None)
}
