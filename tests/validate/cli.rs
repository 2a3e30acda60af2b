//! CLI cases as data (trycmd): tests/cmd/validate/*.toml with their fixtures.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .env("NO_COLOR", "1")
        .case("tests/cmd/validate/*.toml");
}
