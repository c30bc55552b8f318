//! Errors of directory operations, worded for the person who asked.

use carepost_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("the password was refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PasswordRejected(Vec<crate::PolicyViolation>),
    #[error(transparent)]
    Store(StoreError),
    #[error("too many sign-ins at once; try again in a moment")]
    Busy,
    #[error(
        "import stopped at line {line}: {source}; the rows before it were saved, and running the import again continues"
    )]
    ImportStopped { line: u64, source: StoreError },
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => IdentityError::Conflict(m),
            other => IdentityError::Store(other),
        }
    }
}

impl From<crate::address::NameError> for IdentityError {
    fn from(e: crate::address::NameError) -> Self {
        IdentityError::Invalid(e.to_string())
    }
}
