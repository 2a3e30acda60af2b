//! The expression engine and expansion: golden tables, parser fuzzing, Microsoft's
//! published function examples, the real-template corpus, hostile input and the
//! `expand` CLI cases. One binary (linking is slow on shared cores).

#[path = "expr/common.rs"]
mod common;
#[path = "expr/corpus.rs"]
mod corpus;
#[path = "expr/examples.rs"]
mod examples;
#[path = "expr/expansion.rs"]
mod expansion;
#[path = "expr/golden.rs"]
mod golden;
#[path = "expr/hostile.rs"]
mod hostile;
#[path = "expr/rules.rs"]
mod rules;

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/expand*.toml");
}
