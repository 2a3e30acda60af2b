//! The normalised model both sources fill: vaults, keys and role assignments,
//! each remembering where it came from. Rules read only this.

use crate::diag::Location;
use crate::value::Value;

/// Which of the three resource kinds the CMEK rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Microsoft.KeyVault/vaults`.
    Vault,
    /// `Microsoft.KeyVault/vaults/keys`.
    Key,
    /// `Microsoft.Authorization/roleAssignments`.
    RoleAssignment,
}

/// One resource in ARM shape (`name`, `location`, `properties`, ...), from a
/// template or from Azure. Values may be `Unknown`.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Which kind.
    pub kind: Kind,
    /// Full name (`vault/key` for keys), possibly unknown.
    pub name: Value,
    /// Resource ID, when it can be known.
    pub id: Value,
    /// The body in ARM resource shape.
    pub body: Value,
    /// Where it came from: a template pointer, or an Azure resource ID.
    pub origin: Location,
}

/// Everything one deployment (or one live read) holds.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// Vaults, keys and role assignments, in source order.
    pub resources: Vec<Resource>,
}
