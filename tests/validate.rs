//! Integration tests for `cmek-arm validate`: schemas over the real corpus, the
//! report formats, the rules' fixtures and the CLI cases (one binary on purpose:
//! each file in tests/ links every dependency).

#[path = "validate/cli.rs"]
mod cli;
#[path = "validate/corpus.rs"]
mod corpus;
#[path = "validate/formats.rs"]
mod formats;
#[path = "validate/hostile.rs"]
mod hostile;
#[path = "validate/integrations.rs"]
mod integrations;
#[path = "validate/rules.rs"]
mod rules;
