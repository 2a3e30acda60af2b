//! The ways users plug cmek-arm into their tools: the composite GitHub Action
//! (action.yml + action/*.sh), the pre-commit hook (.pre-commit-hooks.yaml), and
//! the generated shell completions and man page.
//!
//! The action is run as GitHub runs a composite action: its steps in order, each
//! `${{ }}` expression and `if:` evaluated, `run:` steps in bash with the
//! runner's files (GITHUB_OUTPUT, GITHUB_PATH), `uses:` steps recorded instead of
//! run, and a fake `cmek-arm` (and `cargo`) on PATH that records its arguments.

use saphyr::{LoadableYamlNode, YamlOwned};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cmek-arm");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_yaml(file: &str) -> YamlOwned {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let mut docs = YamlOwned::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(docs.len(), 1, "{file}: one YAML document");
    docs.remove(0)
}

fn get<'a>(node: &'a YamlOwned, key: &str) -> Option<&'a YamlOwned> {
    node.as_mapping_get(key)
}

fn text(node: &YamlOwned, key: &str) -> Option<String> {
    get(node, key).map(|v| match v {
        YamlOwned::Value(s) => match (s.as_str(), s.as_bool()) {
            (Some(t), _) => t.to_string(),
            (None, Some(b)) => b.to_string(),
            _ => panic!("{key}: not a string or bool: {v:?}"),
        },
        other => panic!("{key}: not a scalar: {other:?}"),
    })
}

fn mapping(node: &YamlOwned) -> Vec<(String, &YamlOwned)> {
    node.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), v))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------- GitHub Action

/// One simulated workflow run of the action.
struct Run {
    /// Every `cmek-arm` invocation, as argument lists.
    cmek_arm: Vec<Vec<String>>,
    /// Every `cargo` invocation.
    cargo: Vec<Vec<String>>,
    /// `with:` of each `uses:` step that ran, by action.
    used: Vec<(String, BTreeMap<String, String>)>,
    /// The exit code of the step that failed the job, if one did.
    failed: Option<i32>,
    /// Combined stdout of the run steps.
    log: String,
    /// The action's step outputs, by step id.
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// The workspace the steps ran in.
    workspace: tempfile::TempDir,
}

/// Evaluates one `${{ }}` expression body: only context look-ups the action uses.
fn lookup(
    expr: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    env: &BTreeMap<&str, String>,
) -> String {
    let expr = expr.trim();
    if let Some(name) = expr.strip_prefix("inputs.") {
        return inputs
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("action.yml uses undeclared input '{name}'"));
    }
    if let Some(rest) = expr.strip_prefix("steps.") {
        let (id, name) = rest
            .split_once(".outputs.")
            .unwrap_or_else(|| panic!("unsupported step expression '{expr}'"));
        return outputs
            .get(id)
            .and_then(|o| o.get(name))
            .cloned()
            .unwrap_or_default();
    }
    match expr {
        "github.action_path" => env["GITHUB_ACTION_PATH"].clone(),
        "github.action_ref" => "v1".into(),
        "runner.os" => "Linux".into(),
        "runner.arch" => "X64".into(),
        "runner.temp" => env["RUNNER_TEMP"].clone(),
        _ => panic!("unsupported expression '{expr}' in action.yml (see its header)"),
    }
}

fn substitute(
    s: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    env: &BTreeMap<&str, String>,
) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        out.push_str(&lookup(&rest[start + 3..end], inputs, outputs, env));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `if:` as the action writes it: `X == 'v'` or `X != 'v'`.
fn condition(
    cond: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
    env: &BTreeMap<&str, String>,
) -> bool {
    let cond = cond.trim().trim_start_matches("${{").trim_end_matches("}}");
    let (lhs, rhs, equal) = match (cond.split_once("!="), cond.split_once("==")) {
        (Some((l, r)), _) => (l, r, false),
        (None, Some((l, r))) => (l, r, true),
        _ => panic!("unsupported if: '{cond}'"),
    };
    let rhs = rhs.trim();
    let literal = rhs
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or_else(|| panic!("unsupported if: '{cond}'"));
    (lookup(lhs, inputs, outputs, env) == literal) == equal
}

/// Parses a GITHUB_OUTPUT file: `name=value` lines and `name<<DELIM` blocks.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

const FAKE_CMEK_ARM: &str = r#"#!/usr/bin/env bash
# Records its arguments (one per line, then a blank line) and answers like cmek-arm.
printf '%s\n' "$@" >> "$FAKE_LOG/cmek-arm"
echo >> "$FAKE_LOG/cmek-arm"
format=text
prev=
for a in "$@"; do [[ $prev == --format ]] && format=$a; prev=$a; done
case $format in
  sarif) echo '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "cmek-arm"}}, "results": []}]}' ;;
  github) echo "::warning file=azuredeploy.json,line=1::fake finding" ;;
esac
exit "${FAKE_EXIT:-0}"
"#;

const FAKE_CARGO: &str = r#"#!/usr/bin/env bash
printf '%s\n' "$@" >> "$FAKE_LOG/cargo"
echo >> "$FAKE_LOG/cargo"
"#;

fn read_calls(path: &Path) -> Vec<Vec<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.split("\n\n")
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.lines().map(str::to_string).collect())
        .collect()
}

/// Runs the action with `given` inputs; `files` are created in the workspace.
fn run_action(given: &[(&str, &str)], files: &[&str], fake_exit: i32, cache_hit: bool) -> Run {
    let action = load_yaml("action.yml");
    assert_eq!(
        get(get(&action, "runs").unwrap(), "using").and_then(|u| u.as_str()),
        Some("composite")
    );
    let mut inputs: BTreeMap<String, String> = mapping(get(&action, "inputs").unwrap())
        .into_iter()
        .map(|(name, spec)| (name, text(spec, "default").unwrap_or_default()))
        .collect();
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "test gives undeclared input {k}");
        inputs.insert(k.to_string(), v.to_string());
    }

    let workspace = tempfile::tempdir().unwrap();
    for f in files {
        let p = workspace.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}").unwrap();
    }
    let scratch = tempfile::tempdir().unwrap();
    let fake_bin = scratch.path().join("bin");
    let log_dir = scratch.path().join("log");
    std::fs::create_dir_all(&fake_bin).unwrap();
    std::fs::create_dir_all(&log_dir).unwrap();
    for (name, script) in [("cmek-arm", FAKE_CMEK_ARM), ("cargo", FAKE_CARGO)] {
        let p = fake_bin.join(name);
        std::fs::write(&p, script).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let github_path = scratch.path().join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let env: BTreeMap<&str, String> = [
        ("GITHUB_ACTION_PATH", root().display().to_string()),
        ("GITHUB_WORKSPACE", workspace.path().display().to_string()),
        ("GITHUB_PATH", github_path.display().to_string()),
        ("RUNNER_TEMP", scratch.path().display().to_string()),
        (
            "RUNNER_TOOL_CACHE",
            scratch.path().join("tools").display().to_string(),
        ),
        ("FAKE_LOG", log_dir.display().to_string()),
        ("FAKE_EXIT", fake_exit.to_string()),
        ("HOME", scratch.path().display().to_string()),
    ]
    .into_iter()
    .collect();

    let mut outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut used = Vec::new();
    let mut failed = None;
    let mut log = String::new();
    let steps = get(get(&action, "runs").unwrap(), "steps")
        .and_then(|s| s.as_sequence())
        .unwrap();
    for (n, step) in steps.iter().enumerate() {
        if let Some(cond) = text(step, "if") {
            if !condition(&cond, &inputs, &outputs, &env) {
                continue;
            }
        }
        let id = text(step, "id").unwrap_or_else(|| format!("step{n}"));
        let with: BTreeMap<String, String> = get(step, "with")
            .map(mapping)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = v.as_str().unwrap().to_string();
                (k, substitute(&v, &inputs, &outputs, &env))
            })
            .collect();
        if let Some(uses) = text(step, "uses") {
            let name = uses.split('@').next().unwrap().to_string();
            let mut out = BTreeMap::new();
            match name.as_str() {
                "actions/cache" => {
                    out.insert("cache-hit".to_string(), cache_hit.to_string());
                }
                "github/codeql-action/upload-sarif" => {}
                other => panic!("unexpected action {other}"),
            }
            outputs.insert(id, out);
            used.push((name, with));
            continue;
        }
        let script = text(step, "run").expect("a step runs a script or uses an action");
        assert_eq!(
            text(step, "shell").as_deref(),
            Some("bash"),
            "composite run steps must name their shell"
        );
        let script = substitute(&script, &inputs, &outputs, &env);
        let output_file = scratch.path().join(format!("output{n}"));
        std::fs::write(&output_file, "").unwrap();
        let mut path = String::new();
        for extra in std::fs::read_to_string(&github_path).unwrap().lines().rev() {
            path.push_str(extra);
            path.push(':');
        }
        path.push_str(&format!(
            "{}:{}",
            fake_bin.display(),
            std::env::var("PATH").unwrap()
        ));
        // As GitHub runs `shell: bash`.
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(workspace.path())
            .env_clear()
            .envs(&env)
            .env("PATH", path)
            .env("GITHUB_OUTPUT", &output_file);
        for (k, v) in get(step, "env").map(mapping).unwrap_or_default() {
            let v = v.as_str().unwrap_or_default().to_string();
            cmd.env(k, substitute(&v, &inputs, &outputs, &env));
        }
        let result = cmd.output().unwrap();
        log.push_str(&String::from_utf8_lossy(&result.stdout));
        log.push_str(&String::from_utf8_lossy(&result.stderr));
        outputs.insert(
            id,
            parse_outputs(&std::fs::read_to_string(&output_file).unwrap()),
        );
        if !result.status.success() {
            failed = Some(result.status.code().unwrap_or(-1));
            break;
        }
    }
    Run {
        cmek_arm: read_calls(&log_dir.join("cmek-arm")),
        cargo: read_calls(&log_dir.join("cargo")),
        used,
        failed,
        log,
        outputs,
        workspace,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn action_validate_maps_inputs_to_flags_uploads_sarif_and_passes() {
    let run = run_action(
        &[
            ("paths", "infra/*.json\n  other dir/azuredeploy.json  \n"),
            ("parameters", "infra/azuredeploy.parameters.json"),
            ("region", "eastus"),
            ("sp-object-id", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
            ("key-suffix", "a1b2c3"),
            ("ignore", "CMK009\nARM006 api-version"),
            ("fail-on", "warning"),
            ("upload-sarif", "true"),
            ("sarif-file", "reports/cmek.sarif"),
        ],
        &[
            "infra/azuredeploy.json",
            "infra/azuredeploy.parameters.json",
            "other dir/azuredeploy.json",
            "reports/.keep",
        ],
        0,
        true,
    );
    assert_eq!(run.failed, None, "{}", run.log);
    let flags = strings(&[
        "--parameters",
        "infra/azuredeploy.parameters.json",
        "--region",
        "eastus",
        "--sp-object-id",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "--key-suffix",
        "a1b2c3",
        "--ignore",
        "CMK009",
        "--ignore",
        "ARM006",
        "--ignore",
        "api-version",
        "--fail-on",
        "warning",
    ]);
    let mut expected = strings(&[
        "validate",
        "infra/azuredeploy.json",
        "infra/azuredeploy.parameters.json",
        "other dir/azuredeploy.json",
    ]);
    expected.extend(flags);
    let with_format = |f: &str| {
        let mut v = expected.clone();
        v.extend(strings(&["--format", f]));
        v
    };
    assert_eq!(
        run.cmek_arm,
        [with_format("github"), with_format("sarif")],
        "{}",
        run.log
    );
    // The annotations reach the job log.
    assert!(
        run.log.contains("::warning file=azuredeploy.json"),
        "{}",
        run.log
    );
    // The SARIF file is complete JSON at the given path, and that path is uploaded.
    let sarif = run.workspace.path().join("reports/cmek.sarif");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(report["version"], "2.1.0");
    assert!(!run.workspace.path().join("reports/cmek.sarif.tmp").exists());
    let upload = run
        .used
        .iter()
        .find(|(name, _)| name == "github/codeql-action/upload-sarif")
        .expect("SARIF uploaded");
    assert_eq!(upload.1["sarif_file"], "reports/cmek.sarif");
    assert_eq!(run.outputs["run"]["exit-code"], "0");
    // Cache hit: nothing is built.
    assert!(run.cargo.is_empty());
}

#[test]
fn action_fails_the_job_with_findings_after_uploading_them() {
    let run = run_action(
        &[("paths", "azuredeploy.json"), ("upload-sarif", "true")],
        &["azuredeploy.json"],
        1,
        true,
    );
    assert_eq!(run.failed, Some(1), "{}", run.log);
    assert_eq!(run.cmek_arm.len(), 2);
    assert!(run
        .used
        .iter()
        .any(|(name, with)| name == "github/codeql-action/upload-sarif"
            && with["sarif_file"] == "cmek-arm.sarif"));
    assert!(
        run.log.contains("::error::cmek-arm: findings"),
        "{}",
        run.log
    );
}

#[test]
fn action_check_uses_the_azure_login_session_and_exit_code_3_fails() {
    let run = run_action(
        &[
            ("command", "check"),
            ("subscription", "11111111-1111-1111-1111-111111111111"),
            ("resource-group", "rg-cmek"),
            ("vault", "kv-cmek-01"),
            ("key", "tidb-cmek-a1b2c3"),
            ("probe", "true"),
            ("officer-object-id", "8d8e3f6a-2b1c-4d5e-9f60-718293a4b5c6"),
            ("profile", "my profile.toml"),
            ("upload-sarif", "true"),
        ],
        &[],
        3,
        true,
    );
    assert_eq!(run.failed, Some(3), "{}", run.log);
    // Exit 3 (could not finish): no SARIF run, nothing uploaded.
    assert_eq!(
        run.cmek_arm,
        [strings(&[
            "check",
            "--subscription",
            "11111111-1111-1111-1111-111111111111",
            "--resource-group",
            "rg-cmek",
            "--auth",
            "cli",
            "--vault",
            "kv-cmek-01",
            "--key",
            "tidb-cmek-a1b2c3",
            "--probe",
            "--officer-object-id",
            "8d8e3f6a-2b1c-4d5e-9f60-718293a4b5c6",
            "--profile",
            "my profile.toml",
            "--fail-on",
            "error",
            "--format",
            "github"
        ])]
    );
    assert!(!run
        .used
        .iter()
        .any(|(name, _)| name == "github/codeql-action/upload-sarif"));
    assert!(run.log.contains("could not finish"), "{}", run.log);
}

#[test]
fn action_input_errors_exit_2_without_running_cmek_arm() {
    for (given, message) in [
        (
            vec![("paths", "nothing/*.json")],
            "nothing matches 'nothing/*.json'",
        ),
        (
            vec![("command", "lint")],
            "command must be validate or check",
        ),
        (
            vec![("command", "check")],
            "check needs the subscription input",
        ),
        (
            vec![
                ("command", "check"),
                ("subscription", "s"),
                ("resource-group", "r"),
                ("probe", "yes"),
            ],
            "probe must be true or false",
        ),
    ] {
        let run = run_action(&given, &["azuredeploy.json"], 0, true);
        assert_eq!(run.failed, Some(2), "{given:?}: {}", run.log);
        assert!(run.cmek_arm.is_empty(), "{given:?}");
        assert!(run.log.contains(message), "{given:?}: {}", run.log);
    }
}

#[test]
fn action_installs_from_its_own_source_on_a_cache_miss_keyed_by_version() {
    let run = run_action(
        &[("paths", "azuredeploy.json")],
        &["azuredeploy.json"],
        0,
        false,
    );
    assert_eq!(run.failed, None, "{}", run.log);
    let dir = &run.outputs["version"]["dir"];
    assert_eq!(
        run.cargo,
        [strings(&[
            "install",
            "--locked",
            "--path",
            &root().display().to_string(),
            "--root",
            dir
        ])]
    );
    let version = &run.outputs["version"]["version"];
    assert_eq!(version, &format!("{}-v1", env!("CARGO_PKG_VERSION")));
    let (_, cache) = run
        .used
        .iter()
        .find(|(name, _)| name == "actions/cache")
        .unwrap();
    assert_eq!(cache["path"], *dir);
    assert_eq!(cache["key"], format!("cmek-arm-Linux-X64-{version}"));
    assert!(dir.ends_with(&format!("cmek-arm/{version}")), "{dir}");
}

// ------------------------------------------------------------------ pre-commit

#[test]
fn pre_commit_hook_picks_templates_and_its_entry_validates_them() {
    let hooks = load_yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_sequence().expect("a list of hooks");
    let hook = hooks
        .iter()
        .find(|h| text(h, "id").as_deref() == Some("cmek-arm-validate"))
        .expect("the cmek-arm-validate hook");
    for key in ["name", "entry", "language", "files"] {
        assert!(text(hook, key).is_some(), "{key} is required by pre-commit");
    }
    assert_eq!(text(hook, "language").as_deref(), Some("rust"));

    // pre-commit matches `files` and `exclude` with Python's re.search.
    let files = regex::Regex::new(&text(hook, "files").unwrap()).unwrap();
    let exclude = regex::Regex::new(&text(hook, "exclude").unwrap_or_else(|| "^$".into())).unwrap();
    let picks = |p: &str| files.is_match(p) && !exclude.is_match(p);
    for template in [
        "azuredeploy.json",
        "infra/cmek/azuredeploy.json",
        "mainTemplate.json",
        "modules/key/main.json",
        "template.json",
        "vault.template.json",
        "vault.deploy.json",
    ] {
        assert!(picks(template), "{template} should be validated");
    }
    for other in [
        "azuredeploy.parameters.json",
        "infra/main.parameters.json",
        "createUiDefinition.json",
        "package.json",
        "tsconfig.json",
        ".vscode/settings.json",
        "azuredeploy.json.bak",
        "notmain.json",
    ] {
        assert!(!picks(other), "{other} is not a template");
    }

    // The entry, as pre-commit runs it: entry + the staged file names.
    let entry = text(hook, "entry").unwrap();
    let mut words = entry.split_whitespace();
    assert_eq!(words.next(), Some("cmek-arm"));
    let args: Vec<&str> = words.collect();
    let fixtures = root().join("tests/cmd/validate");
    let clean = Command::new(BIN)
        .args(&args)
        .arg(fixtures.join("roundtrip/azuredeploy.json"))
        .arg(fixtures.join("fixtures/good.json"))
        .output()
        .unwrap();
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let broken = Command::new(BIN)
        .args(&args)
        .arg(fixtures.join("fixtures/good.json"))
        .arg(fixtures.join("fixtures/bad.json"))
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stdout).contains("bad.json"));
}

// ------------------------------------------------- completions and man page

/// The subcommands and each one's long flags, read from `--help` (clap's own
/// help, independent of the generators under test).
fn commands() -> Vec<(String, Vec<String>)> {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&[]);
    let names: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("Options:").next())
        .unwrap()
        .lines()
        // A command's line is indented two spaces; wrapped descriptions more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    names
        .into_iter()
        .map(|name| {
            let flags = help(&[&name])
                .split_whitespace()
                .filter_map(|w| w.strip_prefix("--"))
                .map(|w| {
                    w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                        .split(['=', '<', '['])
                        .next()
                        .unwrap()
                        .to_string()
                })
                .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            (name, flags)
        })
        .collect()
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    let commands = commands();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        for (name, flags) in &commands {
            assert!(script.contains(name.as_str()), "{shell}: no '{name}'");
            for flag in flags {
                assert!(
                    script.contains(flag.as_str()),
                    "{shell}: no '{name} --{flag}'"
                );
            }
        }
        // Where the shell is installed, the script must at least parse.
        let check = match shell {
            "bash" => Some(("bash", vec!["-n"])),
            "zsh" => Some(("zsh", vec!["-n"])),
            "fish" => Some(("fish", vec!["--no-execute"])),
            _ => None,
        };
        if let Some((exe, args)) = check {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &script).unwrap();
            match Command::new(exe).args(&args).arg(file.path()).output() {
                Ok(parsed) => assert!(
                    parsed.status.success(),
                    "{shell}: {}",
                    String::from_utf8_lossy(&parsed.stderr)
                ),
                Err(_) => eprintln!("SKIP: {exe} is not installed; {shell} completions not parsed"),
            }
        }
    }
    let bad = Command::new(BIN)
        .args(["completions", "cmd.exe"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_page_is_roff_with_every_subcommand_and_flag() {
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    // roff reads Latin-1 by default: anything else must be escaped (machines
    // without groff, like CI, would not see the warning below).
    assert!(page.is_ascii(), "non-ASCII in the man page");

    // Structure: one title before any section, known man(7) macros only, and
    // every font change returned to roman on its line.
    let known = [
        "TH", "SH", "SS", "TP", "PP", "LP", "P", "IP", "HP", "RS", "RE", "B", "I", "BR", "IR",
        "br", "sp", "nf", "fi", "ie", "el", "ds", "in",
    ];
    let mut title = 0;
    let mut sections = Vec::new();
    for (n, line) in page.lines().enumerate() {
        if let Some(control) = line.strip_prefix('.') {
            let name = control.split_whitespace().next().unwrap_or_default();
            assert!(
                known.contains(&name),
                "line {}: unknown request .{name}",
                n + 1
            );
            match name {
                "TH" => {
                    assert!(sections.is_empty(), "line {}: .TH after a section", n + 1);
                    title += 1;
                }
                "SH" => sections.push(control[2..].trim().trim_matches('"').to_string()),
                _ => {}
            }
        }
        assert!(
            !line.starts_with('\''),
            "line {}: starts with a control quote",
            n + 1
        );
        if line.contains("\\fB") || line.contains("\\fI") {
            let last_b = line.rfind("\\fB").max(line.rfind("\\fI"));
            let last_r = line.rfind("\\fR").or(line.rfind("\\fP"));
            assert!(last_r > last_b, "line {}: font not reset: {line}", n + 1);
        }
    }
    assert_eq!(title, 1);
    for s in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SUBCOMMANDS"] {
        assert!(
            sections.iter().any(|x| x == s),
            "no {s} section: {sections:?}"
        );
    }

    // Every subcommand has its section, holding each of its flags.
    let unescaped = page.replace("\\-", "-");
    for (name, flags) in commands() {
        // Subcommands are sections here, not pages of their own.
        assert!(
            !unescaped.contains(&format!("cmek-arm-{name}(1)")),
            "{name}"
        );
        let heading = format!(".SH \"CMEK-ARM {}\"", name.to_uppercase());
        let start = unescaped
            .find(&heading)
            .unwrap_or_else(|| panic!("no section for {name}"));
        let body = &unescaped[start + heading.len()..];
        let body = &body[..body.find("\n.SH ").unwrap_or(body.len())];
        for flag in flags {
            assert!(
                body.contains(&format!("--{flag}")),
                "man: {name} section lacks --{flag}"
            );
        }
    }

    // Where groff is installed, it renders the page without a warning.
    match Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(page.as_bytes())
                .unwrap();
            let done = child.wait_with_output().unwrap();
            assert!(done.status.success());
            assert_eq!(String::from_utf8_lossy(&done.stderr), "", "groff warnings");
        }
        Err(_) => eprintln!("SKIP: groff is not installed; the man page was not rendered"),
    }
}
