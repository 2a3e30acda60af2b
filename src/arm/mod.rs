//! Azure Resource Manager templates: loading with positions, schemas, the
//! expression language and expansion into concrete resources.

pub mod azure_schemas;
pub mod expand;
pub mod expr;
pub mod json;
pub mod limits;
pub mod schema;
pub mod walk;
