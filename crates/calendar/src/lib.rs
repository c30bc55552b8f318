//! Calendars and task lists of each account (CalDAV's domain, RFC 4791): collections made on
//! first use or by clients, objects stored byte for byte with an ETag, conditional writes so
//! two devices never silently overwrite each other, the change log behind sync tokens (RFC
//! 6578), and time-range queries answered through calcard's recurrence expansion. Knows no
//! HTTP and no XML: the web crate maps requests here, and answers, through proto-dav.
//!
//! Each account also has a scheduling inbox (RFC 6638): writes of meetings are scheduled
//! inside the organization by `schedule`, and free/busy is read by `freebusy`.
//!
//! Access: every call names the signed-in account and reaches only that account's own
//! collections; shares and delegation come later and will widen exactly this check.

mod agenda;
mod booking;
mod collection;
mod contacts;
mod directory;
mod edit;
mod freebusy;
mod ical;
mod itip;
mod mailed;
mod outbox;
mod query;
pub(crate) mod resources;
mod schedule;
mod shares;
mod sync;
mod transfer;

pub use agenda::{MAX_AGENDA_DAYS, NewEvent, Occurrence};
pub use collection::{Change, Collection, CollectionProps, Conditions, DavObject, Kind, quoted};
pub(crate) use collection::{etag_of, new_collection};
pub use contacts::{CardFilter, card_matches};
pub use directory::{
    Card, DIRECTORY_MAX, DIRECTORY_PAGE, DIRECTORY_SLUG, DirectoryChange, directory_position,
};
pub use edit::EventChange;
pub use freebusy::{
    Busy, BusyKind, FreeBusyParties, FreeBusyRequest, busy_in, read_request, vfreebusy,
};
pub use mailed::ReplyOutcome;
pub use query::{
    Collation, CompQuery, ParamQuery, PropQuery, Range, TextQuery, TooLarge, Unanswerable,
    expanded, object_matches,
};
pub use resources::{
    Booking, DEFAULT_WINDOW_DAYS, Resource, ResourceSpec, Resources, minutes_in_words,
};
pub use schedule::MAX_ATTENDEES;
pub use shares::{Access, Grantee, SHARED_PREFIX, ShareInfo, Shared, SharedCalendar};
pub use sync::{seq_of_token, sync_token};

use carepost_mail::MailStore;
use carepost_store::{CollectionRow, DavObjectRow, DavRepo, Store, StoreError};
use carepost_types::{AccountId, Clock};
use std::sync::Arc;

/// The `kind` of a calendar or task list in the store.
pub(crate) const CALENDAR: &str = "calendar";
/// The `kind` of a scheduling inbox.
pub(crate) const INBOX: &str = "inbox";
/// The `kind` of a personal address book.
pub(crate) const ADDRESSBOOK: &str = "addressbook";
/// The path segments of the scheduling inbox and outbox (no client may take them).
pub const INBOX_SLUG: &str = "inbox";
pub const OUTBOX_SLUG: &str = "outbox";

/// The largest object accepted (RFC 4791 `max-resource-size`).
pub const MAX_OBJECT_SIZE: usize = 1 << 20;
/// Collections one account may have.
const MAX_COLLECTIONS: usize = 100;
/// calendar-query matchings at once, each on a blocking thread (the machine's cores, about).
const MATCHING_AT_ONCE: usize = 2;

/// The longest calendar-timezone kept (one VTIMEZONE with its history is a few kilobytes).
const MAX_TIMEZONE: usize = 64 << 10;

/// Refuses a calendar-timezone that is not a VCALENDAR with one VTIMEZONE (RFC 4791 section
/// 5.2.2 asks for valid calendar data), or is longer than a time zone is.
pub fn known_timezone(text: &str) -> Result<(), DavError> {
    if text.len() <= MAX_TIMEZONE && ical::zone_of(text).is_some() {
        Ok(())
    } else {
        Err(DavError::InvalidData(
            "calendar-timezone must be a VCALENDAR with one VTIMEZONE".into(),
        ))
    }
}

/// A bound of a range moved `side` (-1 earlier, 1 later) by `ical::FLOATING_MARGIN`, to
/// narrow by stored spans, which read floating times as UTC.
pub(crate) fn widened(at: Option<i64>, side: i64) -> Option<i64> {
    at.map(|t| t.saturating_add(side * ical::FLOATING_MARGIN))
}

#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error("not found")]
    NotFound,
    /// The object's ETag is not the one the client named (If-Match / If-None-Match).
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    #[error("a collection of that name exists")]
    Exists,
    /// The UID is already stored under another name (`no-uid-conflict`).
    #[error("an object with that UID exists as {0}")]
    UidConflict(String),
    #[error("the object is larger than {MAX_OBJECT_SIZE} bytes")]
    TooLarge,
    /// Not valid calendar data (`valid-calendar-data`, `valid-calendar-object-resource`).
    #[error("{0}")]
    InvalidData(String),
    /// A component the collection does not hold (`supported-calendar-component`).
    #[error("this collection does not hold {0}")]
    UnsupportedComponent(String),
    #[error("{0}")]
    Invalid(String),
    #[error("too many collections")]
    TooMany,
    /// More attendees than `MAX_ATTENDEES` (`max-attendees-per-instance`).
    #[error("the object has more than {MAX_ATTENDEES} attendees")]
    TooManyAttendees,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The calendar service.
#[derive(Debug, Clone)]
pub struct Calendars {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Where invitations to people outside leave (iMIP); none in tools that only read.
    mail: Option<MailStore>,
    /// calendar-query matchings running at once (`query`): each may take a core for seconds,
    /// so a few clients asking and hanging up cannot fill the blocking threads.
    matching: Arc<tokio::sync::Semaphore>,
    /// The busy times of objects without rules, as free/busy last worked them out
    /// (`freebusy::BusyCache`).
    busy: freebusy::BusyCache,
}

/// A slug a client may give a collection: letters, digits, `-`, `_`, `.`, not `.`/`..`.
fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug != "."
        && slug != ".."
        && slug != INBOX_SLUG
        && slug != OUTBOX_SLUG
        && slug != DIRECTORY_SLUG
        && !slug.starts_with(SHARED_PREFIX)
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An object name: as a slug, up to 200 characters, with `@` and `+` allowed (clients use
/// UIDs as names).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+' | b'~')
        })
}

impl Calendars {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Calendars {
        Calendars {
            store,
            clock,
            mail: None,
            matching: Arc::new(tokio::sync::Semaphore::new(MATCHING_AT_ONCE)),
            busy: freebusy::BusyCache::new(),
        }
    }

    /// The same, mailing invitations and answers to people outside through `mail`'s queue.
    pub fn with_mail(mut self, mail: MailStore) -> Calendars {
        self.mail = Some(mail);
        self
    }

    fn local_domains(&self) -> Vec<String> {
        self.mail
            .as_ref()
            .map(|m| {
                m.config()
                    .domains()
                    .map(|d| d.as_str().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The account's collections, after making its calendar and task list if it has none,
    /// and its scheduling inbox.
    pub async fn home(&self, account: AccountId) -> Result<Vec<Collection>, DavError> {
        let mut read = self.store.read().await?;
        let rows = read.dav_collections(account).await?;
        drop(read);
        if rows.iter().any(|r| r.kind == INBOX) && rows.iter().any(|r| r.kind == ADDRESSBOOK) {
            return Ok(rows.into_iter().map(Collection::from_row).collect());
        }
        let mut tx = self.store.begin_bookkeeping().await?;
        // Another request may have made them meanwhile: `defaults` reads again inside the
        // write.
        let rows = schedule::defaults(&mut tx, account, self.clock.now().0).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Collection::from_row).collect())
    }

    fn row(&self, account: AccountId, slug: &str, name: &str, comps: &str) -> CollectionRow {
        new_collection(account, CALENDAR, slug, name, comps, self.clock.now())
    }

    pub async fn collection(&self, account: AccountId, slug: &str) -> Result<Collection, DavError> {
        self.home(account).await?;
        let mut read = self.store.read().await?;
        read.dav_collection(account, slug)
            .await?
            .map(Collection::from_row)
            .ok_or(DavError::NotFound)
    }

    /// A calendar, task list or the inbox (what the calendar home holds), or another's
    /// calendar shared with the account (`shared-ID`).
    pub async fn calendar(&self, account: AccountId, slug: &str) -> Result<Collection, DavError> {
        if let Some(id) = slug
            .strip_prefix(SHARED_PREFIX)
            .and_then(|id| id.parse::<i64>().ok())
        {
            return self.shared_calendar(account, id).await;
        }
        let c = self.collection(account, slug).await?;
        if c.kind == Kind::AddressBook {
            return Err(DavError::NotFound);
        }
        Ok(c)
    }

    /// A personal address book.
    pub async fn book(&self, account: AccountId, slug: &str) -> Result<Collection, DavError> {
        let c = self.collection(account, slug).await?;
        if c.kind != Kind::AddressBook {
            return Err(DavError::NotFound);
        }
        Ok(c)
    }

    /// Makes a calendar (MKCALENDAR, extended MKCOL) holding `components` (events when none
    /// are named).
    pub async fn create(
        &self,
        account: AccountId,
        kind: Kind,
        slug: &str,
        components: &[String],
        props: &CollectionProps,
    ) -> Result<Collection, DavError> {
        if !valid_slug(slug) {
            return Err(DavError::Invalid(format!(
                "'{slug}' is not a collection name"
            )));
        }
        let mut comps: Vec<String> = components.iter().map(|c| c.to_ascii_uppercase()).collect();
        comps.retain(|c| matches!(c.as_str(), "VEVENT" | "VTODO" | "VJOURNAL"));
        if comps.is_empty() {
            comps.push("VEVENT".to_string());
        }
        if kind == Kind::AddressBook {
            comps = vec!["VCARD".to_string()];
        }
        let existing = self.home(account).await?;
        if existing.len() >= MAX_COLLECTIONS {
            return Err(DavError::TooMany);
        }
        let mut row = self.row(
            account,
            slug,
            &props
                .display_name
                .as_deref()
                .unwrap_or(slug)
                .chars()
                .take(200)
                .collect::<String>(),
            &comps.join(","),
        );
        if kind == Kind::AddressBook {
            row.kind = ADDRESSBOOK.to_string();
        }
        row.description = props
            .description
            .clone()
            .unwrap_or_default()
            .chars()
            .take(2000)
            .collect();
        row.color = props
            .color
            .clone()
            .unwrap_or_default()
            .chars()
            .take(32)
            .collect();
        if let Some(tz) = props.timezone.as_deref().filter(|tz| !tz.is_empty()) {
            known_timezone(tz)?;
            row.timezone = tz.to_string();
        }
        let mut tx = self.store.begin_bookkeeping().await?;
        match tx.insert_dav_collection(&row).await {
            Ok(id) => row.id = id,
            Err(StoreError::Conflict(_)) => return Err(DavError::Exists),
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(Collection::from_row(row))
    }

    /// Sets the properties given (PROPPATCH).
    pub async fn update(&self, c: &Collection, props: &CollectionProps) -> Result<(), DavError> {
        c.owned()?;
        let mut row = self.row(c.account, &c.slug, &c.display_name, "");
        row.id = c.id;
        row.description = c.description.clone();
        row.color = c.color.clone();
        row.timezone = c.timezone.clone();
        if let Some(n) = &props.display_name {
            row.display_name = n.chars().take(200).collect();
        }
        if let Some(d) = &props.description {
            row.description = d.chars().take(2000).collect();
        }
        if let Some(col) = &props.color {
            row.color = col.chars().take(32).collect();
        }
        if let Some(tz) = &props.timezone {
            if !tz.is_empty() {
                known_timezone(tz)?;
            }
            row.timezone = tz.clone();
        }
        let mut tx = self.store.begin_bookkeeping().await?;
        tx.update_dav_collection(&row).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete(&self, c: &Collection) -> Result<(), DavError> {
        c.owned()?;
        if c.kind == Kind::Inbox {
            return Err(DavError::Forbidden(
                "the scheduling inbox cannot be deleted".into(),
            ));
        }
        let mut tx = self.store.begin_bookkeeping().await?;
        // Deleting a calendar deletes its meetings: attendees are told as if each meeting
        // had been deleted on its own (organized ones cancelled, others declined). The
        // calendar goes first, so that what is scheduled sees the meetings gone (a room
        // stays booked only for a copy of the meeting in another calendar).
        let objects = match c.kind {
            Kind::Calendar => tx.dav_objects(c.id).await?,
            _ => Vec::new(),
        };
        tx.delete_dav_collection(c.id).await?;
        let mut outgoing = Vec::new();
        let domains = self.local_domains();
        for o in objects {
            let scheduled = schedule::after_write(
                &mut tx,
                c,
                Some(&o.data),
                None,
                self.clock.now().0,
                &domains,
                None,
            )
            .await?;
            outgoing.extend(scheduled.outgoing);
        }
        let kept = self.keep_outgoing(&mut tx, outgoing).await?;
        tx.commit().await?;
        self.send_outgoing(kept).await;
        Ok(())
    }

    pub async fn objects(&self, c: &Collection) -> Result<Vec<DavObject>, DavError> {
        let mut read = self.store.read().await?;
        Ok(read
            .dav_objects(c.id)
            .await?
            .into_iter()
            .map(|r| c.shown(r))
            .collect())
    }

    pub async fn object(&self, c: &Collection, name: &str) -> Result<DavObject, DavError> {
        let mut read = self.store.read().await?;
        read.dav_object(c.id, name)
            .await?
            .map(|r| c.shown(r))
            .ok_or(DavError::NotFound)
    }

    /// The objects of `c` with these names (a multiget), read together; names without an
    /// object are left out. Their text only `with_data` (see `reads_text`).
    pub async fn objects_named(
        &self,
        c: &Collection,
        names: &[String],
        with_data: bool,
    ) -> Result<Vec<DavObject>, DavError> {
        let mut read = self.store.read().await?;
        Ok(read
            .dav_objects_named(c.id, names, c.reads_text(with_data))
            .await?
            .into_iter()
            .map(|r| c.shown(r))
            .collect())
    }

    /// Stores `data` as `name` (PUT), scheduling what it changes. Returns the new ETag
    /// (none when the server stored the object changed: rooms answered in it, RFC 6638
    /// section 3.2.2) and whether the object is new.
    pub async fn put(
        &self,
        c: &Collection,
        name: &str,
        data: &str,
        conditions: &Conditions,
    ) -> Result<(Option<String>, bool), DavError> {
        self.put_with(c, name, data, conditions, true).await
    }

    async fn put_with(
        &self,
        c: &Collection,
        name: &str,
        data: &str,
        conditions: &Conditions,
        scheduled: bool,
    ) -> Result<(Option<String>, bool), DavError> {
        c.writable()?;
        if c.kind == Kind::Inbox {
            return Err(DavError::Forbidden(
                "the scheduling inbox is written by the server only".into(),
            ));
        }
        if !valid_name(name) {
            return Err(DavError::Invalid(format!("'{name}' is not an object name")));
        }
        if data.len() > MAX_OBJECT_SIZE {
            return Err(DavError::TooLarge);
        }
        // XML 1.0 cannot carry other control characters: the object could never be answered
        // in a REPORT.
        if data
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        {
            return Err(DavError::InvalidData(
                "the object holds control characters".into(),
            ));
        }
        let inspected = if c.kind == Kind::AddressBook {
            ical::Inspected {
                uid: contacts::inspect(data)?,
                component: "VCARD".to_string(),
                starts_at: None,
                ends_at: None,
                attendees: 0,
            }
        } else {
            ical::inspect(data)?
        };
        if c.kind == Kind::Calendar && !c.components.contains(&inspected.component) {
            return Err(DavError::UnsupportedComponent(inspected.component));
        }
        if inspected.attendees > MAX_ATTENDEES {
            return Err(DavError::TooManyAttendees);
        }
        let etag = etag_of(data);
        let mut tx = self.store.begin_bookkeeping().await?;
        let current = tx.dav_object(c.id, name).await?;
        conditions.check(current.as_ref())?;
        c.grantee_may_write(
            &mut tx,
            current.as_ref().map(|r| r.data.as_str()),
            Some(data),
            Some(&inspected.uid),
        )
        .await?;
        if let Some(other) = tx.dav_object_by_uid(c.id, &inspected.uid).await?
            && other.name != name
        {
            return Err(DavError::UidConflict(other.name));
        }
        let seq = tx.next_dav_seq(c.id).await?;
        let mut row = DavObjectRow {
            collection_id: c.id,
            name: name.to_string(),
            uid: inspected.uid,
            etag: etag.clone(),
            component: inspected.component,
            data: data.to_string(),
            starts_at: inspected.starts_at,
            ends_at: inspected.ends_at,
            modseq: seq,
            size: data.len() as i64,
        };
        tx.put_dav_object(&row).await?;
        let mut scheduled_now = schedule::Scheduled::default();
        if c.kind == Kind::Calendar && scheduled {
            scheduled_now = schedule::after_write(
                &mut tx,
                c,
                current.as_ref().map(|r| r.data.as_str()),
                Some(data),
                self.clock.now().0,
                &self.local_domains(),
                c.shared
                    .as_ref()
                    .filter(|s| s.delegate)
                    .map(|s| s.by_address.as_str()),
            )
            .await?;
        }
        let mut answered_etag = Some(etag);
        if let Some(text) = scheduled_now.rewritten {
            // The same change number: the client's write and the rooms' answers are one
            // change to whoever syncs.
            row.etag = etag_of(&text);
            row.data = text;
            tx.put_dav_object(&row).await?;
            answered_etag = None;
        }
        let kept = self.keep_outgoing(&mut tx, scheduled_now.outgoing).await?;
        tx.commit().await?;
        self.send_outgoing(kept).await;
        Ok((answered_etag, current.is_none()))
    }

    /// Deletes `name` (DELETE), if its ETag is still the one named.
    pub async fn remove(
        &self,
        c: &Collection,
        name: &str,
        conditions: &Conditions,
    ) -> Result<(), DavError> {
        c.writable()?;
        let mut tx = self.store.begin_bookkeeping().await?;
        let current = tx.dav_object(c.id, name).await?;
        if current.is_none() {
            return Err(DavError::NotFound);
        }
        conditions.check(current.as_ref())?;
        c.grantee_may_write(
            &mut tx,
            current.as_ref().map(|r| r.data.as_str()),
            None,
            None,
        )
        .await?;
        let seq = tx.next_dav_seq(c.id).await?;
        tx.delete_dav_object(c.id, name, seq).await?;
        let mut outgoing = Vec::new();
        if c.kind == Kind::Calendar {
            outgoing = schedule::after_write(
                &mut tx,
                c,
                current.as_ref().map(|r| r.data.as_str()),
                None,
                self.clock.now().0,
                &self.local_domains(),
                c.shared
                    .as_ref()
                    .filter(|s| s.delegate)
                    .map(|s| s.by_address.as_str()),
            )
            .await?
            .outgoing;
        }
        let kept = self.keep_outgoing(&mut tx, outgoing).await?;
        tx.commit().await?;
        self.send_outgoing(kept).await;
        Ok(())
    }

    /// The objects with an instance in [start, end) (seconds; either open), of component
    /// `component` when one is named (the agenda).
    pub async fn in_range(
        &self,
        c: &Collection,
        component: Option<&str>,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<DavObject>, DavError> {
        let mut read = self.store.read().await?;
        let rows = read
            .dav_objects_in_span(c.id, widened(start, -1), widened(end, 1))
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| component.is_none_or(|k| r.component.eq_ignore_ascii_case(k)))
            .filter(|r| ical::meets(&r.data, start, end, c.zone))
            .map(|r| c.shown(r))
            .collect())
    }
}
