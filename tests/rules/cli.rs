//! `cmek-arm rules --profile` and `explain`, through the binary.

use std::process::Command;

fn cmek_arm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cmek-arm"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn line<'a>(stdout: &'a str, id: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_default()
}

/// `rules` as data (tests/cmd/rules/*.toml): the whole catalogue, with the
/// sources that can decide each rule.
#[test]
fn rules_catalogue() {
    trycmd::TestCases::new().case("tests/cmd/rules/*.toml");
}

#[test]
fn rules_shows_the_effect_of_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strict.toml");
    std::fs::write(
        &path,
        "name = \"strict\"\n[levels]\nCMK009 = \"error\"\nvendor-network-access = \"off\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = cmek_arm(&["rules", "--profile", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let split = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        split(line(&stdout, "CMK009")),
        [
            "CMK009",
            "key-rotation-policy",
            "error",
            "template,",
            "live",
            "template,",
            "arm,",
            "data-plane",
            "(default",
            "warning)"
        ]
    );
    assert_eq!(split(line(&stdout, "CMK015"))[2], "off");
    assert_eq!(
        split(line(&stdout, "CMK001")),
        [
            "CMK001",
            "vault-purge-protection",
            "error",
            "template,",
            "live",
            "template,",
            "arm,",
            "data-plane"
        ]
    );
    let (_, default_out, _) = cmek_arm(&["rules"]);
    assert_eq!(split(line(&default_out, "CMK009"))[2], "warning");
    assert_eq!(split(line(&default_out, "CMK014"))[3], "live");
}

#[test]
fn a_bad_profile_is_a_usage_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, "[levels]\nCMK01 = \"error\"\n").unwrap();
    let (code, stdout, stderr) = cmek_arm(&["rules", "--profile", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("typo.toml") && stderr.contains("CMK01"),
        "{stderr}"
    );
    let (code, _, stderr) = cmek_arm(&["rules", "--profile", "no-such-profile"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--profile") && stderr.contains("no-such-profile"),
        "{stderr}"
    );
}

#[test]
fn explain_prints_the_rule_file_documentation() {
    let (code, stdout, _) = cmek_arm(&["explain", "encryption-user-role"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("CMK010 (encryption-user-role), default level error"));
    assert!(stdout.contains("## How to fix") && stdout.contains("learn.microsoft.com"));
    let (code, stdout, _) = cmek_arm(&["explain", "CMK018"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("matches at least one finding"));
}
