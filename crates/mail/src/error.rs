//! The mail crate's errors. `Temporary` failures become SMTP 4xx (the sender retries);
//! everything a client did wrong is said in words it can show.

use carepost_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("message body store: {0}")]
    Blob(#[from] std::io::Error),
    #[error("a message body does not decrypt: wrong master key or altered file ({0})")]
    Corrupt(String),
    #[error("no queued message {0}")]
    NotQueued(i64),
    #[error("no such mailbox: {0}")]
    NoMailbox(String),
    #[error("a mailbox named {0} exists already")]
    Exists(String),
    #[error("the delivery service has stopped")]
    Stopped,
    /// A passing condition (a race with the collector): try again.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Invalid(String),
    /// The account's mail would go past its quota.
    #[error("the mailbox is full")]
    OverQuota,
    /// The body was collected before the delivery committed; the delivery comes back to be
    /// written again.
    #[error("the message body was collected before the delivery committed")]
    BodyMissing(Box<crate::deliver::Prepared>),
}

impl MailError {
    /// Whether trying again later may succeed (a busy or unreachable store, a full disk).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            MailError::Store(_) | MailError::Blob(_) | MailError::Stopped | MailError::Busy(_)
        )
    }
}
