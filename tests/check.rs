//! `cmek-arm check` and `preflight` against a fake Azure on 127.0.0.1 (one per test).
//!
//! Every test gives the binary an explicit credential: `--auth env` with
//! `AZURE_AUTHORITY_HOST` at the fake, in a cleared environment, so no credential
//! chain can reach 169.254.169.254 or any non-loopback host.

mod check {
    pub mod cli;
    pub mod fake;
    mod fleet;
    mod hostile;
    mod parsing;
    mod preflight;
    mod preflight_hostile;
    mod rules;
    mod scenarios;
    mod sdk_urls;
    mod secrets;
}

/// CLI cases as data: tests/cmd/check/*.toml and tests/cmd/preflight/*.toml
/// (usage errors need no fake).
#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .case("tests/cmd/check/*.toml")
        .case("tests/cmd/preflight/*.toml");
}
