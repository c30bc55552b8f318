//! The mailboxes every account has (RFC 6154 special-use), made on first need: the first
//! delivery or the first sign-in of a mail client, so that importing 100,000 accounts does not
//! write 600,000 mailbox rows for people who may never receive mail.

use crate::MailError;
use carepost_store::{MailRepo, MailboxRow, Tx};
use carepost_types::{AccountId, UnixMillis};

/// A mailbox chosen by role rather than by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Folder {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
}

impl Folder {
    pub const ALL: [Folder; 6] = [
        Folder::Inbox,
        Folder::Sent,
        Folder::Drafts,
        Folder::Trash,
        Folder::Junk,
        Folder::Archive,
    ];

    /// The name the mailbox gets when it is created.
    pub fn default_name(self) -> &'static str {
        match self {
            Folder::Inbox => "INBOX",
            Folder::Sent => "Sent",
            Folder::Drafts => "Drafts",
            Folder::Trash => "Trash",
            Folder::Junk => "Junk",
            Folder::Archive => "Archive",
        }
    }

    /// The RFC 6154 attribute; INBOX has none, it is INBOX.
    pub fn special_use(self) -> Option<&'static str> {
        match self {
            Folder::Inbox => None,
            Folder::Sent => Some("\\Sent"),
            Folder::Drafts => Some("\\Drafts"),
            Folder::Trash => Some("\\Trash"),
            Folder::Junk => Some("\\Junk"),
            Folder::Archive => Some("\\Archive"),
        }
    }

    fn matches(self, m: &MailboxRow) -> bool {
        match self.special_use() {
            None => m.name == "INBOX",
            Some(u) => m.special_use.as_deref() == Some(u),
        }
    }
}

/// The account's mailboxes, creating the standard set first if it has none.
pub(crate) async fn ensure_standard(
    tx: &mut Tx,
    account: AccountId,
    now: UnixMillis,
) -> Result<Vec<MailboxRow>, MailError> {
    let existing = tx.list_mailboxes(account).await?;
    if existing.iter().any(|m| m.name == "INBOX") {
        return Ok(existing);
    }
    // UIDVALIDITY: seconds since the epoch, as Dovecot does; a mailbox made again later under
    // the same name gets a larger one, which tells clients to drop their cache.
    let uid_validity = (now.0 / 1000).max(1);
    let mut made = Vec::with_capacity(Folder::ALL.len());
    for f in Folder::ALL {
        let m = tx
            .ensure_mailbox(
                account,
                f.default_name(),
                f.special_use(),
                uid_validity,
                now,
            )
            .await?;
        made.push(m);
    }
    Ok(made)
}

/// The mailbox for `folder` among `boxes`, falling back to INBOX (a user may have deleted
/// their Junk folder).
pub(crate) fn pick(boxes: &[MailboxRow], folder: Folder) -> Result<&MailboxRow, MailError> {
    boxes
        .iter()
        .find(|m| folder.matches(m))
        .or_else(|| boxes.iter().find(|m| m.name == "INBOX"))
        .ok_or_else(|| MailError::NoMailbox(folder.default_name().to_string()))
}
