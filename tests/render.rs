//! Integration tests for `cmek-arm render` (one test binary; see BRIEF.md).

#[path = "render/common.rs"]
mod common;
#[path = "render/official_schemas.rs"]
mod official_schemas;
#[path = "render/props.rs"]
mod props;
#[path = "render/snapshots.rs"]
mod snapshots;

/// CLI cases as data: `tests/cmd/render/*.toml` with fixture folders beside them.
#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/render/*.toml");
}
#[path = "render/validates_clean.rs"]
mod validates_clean;
