//! Store errors, with unique-constraint violations told apart so callers can answer
//! "already exists" instead of a database error.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("{0}")]
    Url(String),
    #[error(
        "the store's schema is at version {found}, newer than this carepost knows ({known}); run a newer carepost"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("blob store: {0}")]
    Blob(#[from] std::io::Error),
    #[error("this transaction does not hold the audit lock; open it with Store::begin")]
    NotAudited,
    #[error("a change was about to be committed without an audit event")]
    Unaudited,
    #[error("store: {0}")]
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            _ => StoreError::Sql(e),
        }
    }
}
