//! cmek-arm: render, validate and check customer-managed-key (CMEK) setups for
//! Azure Key Vault.
//!
//! Data flows one way (see `ARCHITECTURE.md`):
//! - render:   params -> templates/*.hbs -> ARM JSON -> self-check -> files
//! - validate: file -> arm::json -> arm::schema -> arm::expand -> model -> rules -> report
//! - check:    azure -> model -> rules -> report
//! - check --key-uri: key URIs -> data plane per tenant -> model per key -> rules -> report / jsonl
//! - preflight: azure context -> validate pipeline -> azure reads -> PRE rules -> report

pub mod arm;
pub mod azure;
pub mod check;
pub mod diag;
pub mod docs;
pub mod error;
pub mod fleet;
pub mod model;
pub mod params;
pub mod preflight;
pub mod render;
pub mod report;
pub mod rules;
pub mod validate;
pub mod value;

pub use error::{Error, Result};
