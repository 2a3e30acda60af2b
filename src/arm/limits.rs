//! Every bound `validate` and `expand` put on a template: ARM's own documented
//! limits (a template over one of them fails to deploy, so exceeding it is an
//! ARM004 error at the place that exceeds it), and cmek-arm's evaluation budget
//! for the work ARM does not cap by a number (so that any template of at most
//! 4 MB is answered in bounded time and memory; reaching it is an ARM004 error
//! too, and whatever was expanded before it is still checked).
//!
//! ARM's numbers are from "Template limits" in *ARM template best practices*
//! (learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#template-limits)
//! and "Copy limits" in *Resource iteration in ARM templates*
//! (learn.microsoft.com/azure/azure-resource-manager/templates/copy-resources#copy-limits).

/// "256 parameters" per template.
pub const ARM_MAX_PARAMETERS: usize = 256;
/// "512 variables" per template (the variables page still says 256; ARM accepts 512).
pub const ARM_MAX_VARIABLES: usize = 512;
/// "800 resources (including copy count)" per template; a nested deployment's
/// template is a template of its own.
pub const ARM_MAX_RESOURCES: usize = 800;
/// "64 output values" per template.
pub const ARM_MAX_OUTPUTS: usize = 64;
/// "24,576 characters in a template expression".
pub const ARM_MAX_EXPRESSION_CHARS: usize = 24_576;
/// "The count can't exceed 800" (resource, property, variable and output loops).
pub const ARM_MAX_COPY_COUNT: i64 = 800;
/// "Limit the size of your template to 4 MB ... The limits apply to the final
/// state of the template after it has been expanded with iterative resource
/// definitions, and values for variables and parameters." Also the limit of a
/// parameters file.
pub const ARM_MAX_TEMPLATE_BYTES: usize = 4 << 20;
/// "... and each resource definition to 1 MB", after expansion as well.
pub const ARM_MAX_RESOURCE_BYTES: usize = 1 << 20;

/// Nested deployments followed inside one another. ARM documents no number;
/// the AVM corpus nests at most 4 deep.
pub const MAX_NESTING: usize = 32;
/// Resources one expansion produces in all, nested deployments included. ARM's
/// 800 is per template, so nested copies multiply it (800 deployments of 800
/// deployments of 800 resources is within every per-template limit); this is
/// what bounds the whole tree, and the rules' work, which grows with keys times
/// role assignments. The largest AVM expansion has 21 resources.
pub const MAX_TOTAL_RESOURCES: usize = 10_000;
/// Bytes of expanded resources in all, nested deployments included (the same
/// reasoning as [`MAX_TOTAL_RESOURCES`]: four of ARM's 4 MB templates).
pub const MAX_TOTAL_BYTES: usize = 4 * ARM_MAX_TEMPLATE_BYTES;

/// cmek-arm's evaluation budget for one template, in units of work: one per
/// expression node evaluated, one per value built or copied (array items, object
/// members count two, template JSON evaluated, a variable's value each time it
/// is read), one per 16 bytes of string built. It bounds time and memory at
/// once, since every allocation is charged: `benches/hostile.sh` measures at
/// most 0.7 s of CPU and 313 MB for templates of up to 4 MB built to exhaust
/// it. The largest need in the 174 AVM templates is 4,803 units (a test keeps
/// every corpus template under a tenth of the budget).
pub const EVALUATION_BUDGET: u64 = 2_000_000;
/// Longest string one function may build: ARM's template size, since a longer
/// string cannot be part of a deployable template.
pub const MAX_STRING_BYTES: usize = ARM_MAX_TEMPLATE_BYTES;
/// Longest array one function may build (`range()`, `concat()`, ...).
pub const MAX_ARRAY_ITEMS: usize = 100_000;
/// Nesting of variable, parameter and user-function evaluation.
pub const MAX_EVALUATION_DEPTH: usize = 200;
