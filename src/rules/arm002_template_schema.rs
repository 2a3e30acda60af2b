//! ## What it checks
//!
//! The template's structure and the properties the CMEK rules read, against
//! cmek-arm's JSON Schemas (`schemas/arm-template.schema.json`,
//! `schemas/arm-resources.schema.json`): unknown top-level properties, missing
//! required properties (`$schema`, `contentVersion`, `resources`, a resource's
//! `type`, `name`, `apiVersion`, a parameter's `type`, a deployed vault's
//! `location` and `properties`), values of the wrong type,
//! and enumeration values (`sku.name`, `networkAcls.defaultAction`, `kty`,
//! `keyOps`, `principalType`, ...). Both languageVersion 1.0 (resource arrays)
//! and 2.0 (symbolic names, `definitions`, `nullable`, user-defined functions,
//! `imports`/`extensions`) are understood; inline templates of nested
//! deployments are checked too. Any value may be a template expression
//! (`"[...]"`), which the schema accepts; `"[[...]"` is a literal string.
//! Every violation is reported, each at its own position.
//!
//! ## Why it matters
//!
//! Azure rejects such templates at deployment time, one error at a time, often
//! after other resources were already created. A `true` written as `"true"`
//! or a misspelt `principalType` is found here in seconds instead.
//!
//! ## Example
//!
//! ```json
//! "properties": {
//!   "enablePurgeProtection": "yes",
//!   "sku": { "family": "A", "name": "gold" }
//! }
//! ```
//!
//! reports `expected boolean or a template expression, found string 'yes'` and
//! `string 'gold' is neither one of 'standard', 'premium' (case-insensitive) nor
//! a template expression`.
//!
//! ## How to fix
//!
//! Write the value with the type the property takes (`true`, not `"true"`), use
//! one of the listed values, add the missing property. Features of
//! languageVersion 2.0 need `"languageVersion": "2.0"` at the top of the template.
//!
//! ## References
//!
//! - <https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax>
//! - <https://learn.microsoft.com/azure/templates/microsoft.keyvault/vaults>
//! - <https://learn.microsoft.com/azure/templates/microsoft.authorization/roleassignments>

/// Rule ID (the findings are made by `arm::schema`).
pub const ID: &str = crate::arm::schema::RULE;
