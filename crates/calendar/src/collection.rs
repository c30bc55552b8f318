//! The model of what the DAV tree holds: a collection (calendar, task list, scheduling
//! inbox, address book; one's own or shared with one) and its objects, the conditions a
//! write is made under, and ETags. Kept apart from `lib.rs`, which holds the service.

use crate::{ADDRESSBOOK, DavError, INBOX, Shared, ical, known_timezone, sync_token};
use calcard::common::timezone::Tz;
use carepost_store::{CollectionRow, DavObjectRow};
use carepost_types::AccountId;
use sha2::Digest;

/// What a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Calendar,
    /// The scheduling inbox: iTIP messages the scheduler delivered, readable and deletable.
    Inbox,
    /// A personal address book (vCards).
    AddressBook,
}

impl Kind {
    fn of(kind: &str) -> Kind {
        match kind {
            INBOX => Kind::Inbox,
            ADDRESSBOOK => Kind::AddressBook,
            _ => Kind::Calendar,
        }
    }
}

/// A calendar or task list of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub account: AccountId,
    pub kind: Kind,
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub color: String,
    /// `VEVENT`, `VTODO`...
    pub components: Vec<String>,
    /// The number of its last change: the sync token and the ctag.
    pub sync_seq: i64,
    /// How the signed-in account reaches it when it is someone else's (`shares`); `None`
    /// for its own.
    pub shared: Option<Shared>,
    /// CalDAV calendar-timezone as the client set it (empty: none), and the zone it names,
    /// in which floating times and all-day dates of its events are read (`Tz::Floating`
    /// without one: as UTC).
    pub timezone: String,
    pub zone: Tz,
}

impl Collection {
    pub(crate) fn from_row(r: CollectionRow) -> Collection {
        Collection {
            id: r.id,
            account: r.account_id,
            kind: Kind::of(&r.kind),
            slug: r.slug,
            display_name: r.display_name,
            description: r.description,
            color: r.color,
            components: r
                .components
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            sync_seq: r.sync_seq,
            shared: None,
            zone: ical::zone_of(&r.timezone).unwrap_or(Tz::Floating),
            timezone: r.timezone,
        }
    }

    /// The sync token of the collection as it is now (RFC 6578 section 3.2: an URI).
    pub fn sync_token(&self) -> String {
        sync_token(self.id, self.sync_seq)
    }

    /// Whether a read for this collection must take the objects' text: when the answer
    /// carries it (`wanted`), and always for a colleague's view of a shared calendar, where
    /// the text decides what is shown (private events as busy, with their own ETag).
    pub(crate) fn reads_text(&self, wanted: bool) -> bool {
        wanted || self.grantee_only()
    }

    /// The collection with floating times read in the zone of `timezone` (a calendar-query's
    /// own `timezone` element, RFC 4791 section 9.8), for one question.
    pub fn read_in(&self, timezone: &str) -> Result<Collection, DavError> {
        known_timezone(timezone)?;
        let mut c = self.clone();
        c.zone = ical::zone_of(timezone).unwrap_or(Tz::Floating);
        Ok(c)
    }
}

/// One stored calendar object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObject {
    pub name: String,
    pub uid: String,
    pub etag: String,
    pub component: String,
    /// The text; empty when it was not read (`changes` and `objects_named` without data).
    pub data: String,
    /// Bytes of the text, read or not.
    pub size: usize,
}

impl DavObject {
    pub(crate) fn from_row(r: DavObjectRow) -> DavObject {
        DavObject {
            name: r.name,
            uid: r.uid,
            etag: r.etag,
            component: r.component,
            data: r.data,
            size: usize::try_from(r.size).unwrap_or(0),
        }
    }
}

/// A change since a sync token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Present(DavObject),
    Deleted(String),
}

/// The conditions of a write (RFC 7232): `If-Match` with an ETag, `If-None-Match: *`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match_any: bool,
}

impl Conditions {
    pub(crate) fn check(&self, current: Option<&DavObjectRow>) -> Result<(), DavError> {
        if self.if_none_match_any && current.is_some() {
            return Err(DavError::PreconditionFailed);
        }
        if let Some(want) = &self.if_match {
            let ok = current.is_some_and(|c| want == "*" || *want == quoted(&c.etag));
            if !ok {
                return Err(DavError::PreconditionFailed);
            }
        }
        Ok(())
    }
}

/// The ETag of an object's text.
pub(crate) fn etag_of(data: &str) -> String {
    hex::encode(&sha2::Sha256::digest(data.as_bytes())[..16])
}

/// An ETag as sent in headers: quoted.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Properties a client may set on a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionProps {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    /// calendar-timezone: a VCALENDAR with one VTIMEZONE (checked by `update`), or empty to
    /// remove it.
    pub timezone: Option<String>,
}

/// The row of a new collection of `kind` (no description or colour yet, no change yet).
pub(crate) fn new_collection(
    account: AccountId,
    kind: &str,
    slug: &str,
    name: &str,
    components: &str,
    now: carepost_types::UnixMillis,
) -> CollectionRow {
    CollectionRow {
        id: 0,
        account_id: account,
        kind: kind.to_string(),
        slug: slug.to_string(),
        display_name: name.to_string(),
        description: String::new(),
        color: String::new(),
        components: components.to_string(),
        sync_seq: 0,
        created_at: now,
        timezone: String::new(),
    }
}
