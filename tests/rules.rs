//! Integration tests for the CMEK rules: the model filled from live ARM responses
//! (the corpus's REST examples), the `rules`/`explain` commands, and (once the
//! expansion engine is merged) the per-rule template fixtures in `tests/rules/fixtures.rs`.

#[path = "rules/cli.rs"]
mod cli;
#[path = "rules/fixtures.rs"]
mod fixtures;
#[path = "rules/live.rs"]
mod live;
#[path = "rules/real.rs"]
mod real;
#[path = "rules/roundtrip.rs"]
mod roundtrip;
