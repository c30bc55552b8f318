//! Newtype identifiers: an `AccountId` can never be passed where a `DepartmentId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }
    };
}

id_type!(
    /// The store's key for an account. Stable for the life of the account.
    AccountId,
    "account:"
);
id_type!(
    /// The store's key for a department.
    DepartmentId,
    "department:"
);
id_type!(
    /// Position of an event in the audit chain, starting at 1 with no gaps.
    AuditSeq,
    "#"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_with_their_kind() {
        assert_eq!(AccountId(7).to_string(), "account:7");
        assert_eq!(DepartmentId(3).to_string(), "department:3");
    }
}
