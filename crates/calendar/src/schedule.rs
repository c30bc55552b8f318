//! Scheduling inside the organization, done by the server (RFC 6638 `calendar-auto-schedule`
//! with iTIP, RFC 5546, as its messages). When an organizer stores a meeting, each attendee
//! who is a member of staff gets the meeting in their calendar and an iTIP REQUEST in their
//! scheduling inbox; attendees taken off the meeting, and all of them when it is deleted or
//! cancelled, get a CANCEL. When an attendee answers on any device (a changed PARTSTAT in
//! their copy, or deleting it, which declines), the organizer's copy takes the answer and
//! their inbox a REPLY.
//!
//! Everything happens in the transaction of the write that caused it, so a meeting is never
//! stored without its invitations or the other way round. Copies written here are not
//! scheduled again: the scheduler writes rows, not through `Calendars::put`, so nothing loops.
//! Safety: an invitation never replaces an object in the attendee's calendar that another
//! organizer owns (a known UID cannot be used to overwrite someone's event), and an answer
//! only changes the organizer's copy for an attendee that copy already lists.
//! Attendees outside the organization, and organizers outside it answered from here, are
//! sent the same iTIP messages by mail (iMIP, RFC 6047): they are collected as `Outgoing`
//! and queued by the caller once the transaction is committed.

use crate::itip::{self, Roles};
use crate::{DavError, booking, ical};
use calcard::icalendar::{ICalendar, ICalendarMethod, ICalendarParticipationStatus};
use carepost_store::{
    AccountRow, CollectionRow, DavObjectRow, DavRepo, DirectoryRepo, ResourceRepo, Tx,
};
use carepost_types::AccountId;
use sha2::Digest;

/// ATTENDEE properties one object may carry (RFC 6638 `max-attendees-per-instance`).
pub const MAX_ATTENDEES: usize = 500;

/// Attendees outside the organization one write mails at most (each copy carries the whole
/// event; the rest are left to the organizer's client).
const MAX_OUTSIDE: usize = 50;

/// Messages kept in a scheduling inbox: past it, the oldest go (the calendars already hold
/// what they said).
const INBOX_KEEP: usize = 500;

pub(crate) fn parse(text: &str) -> Option<ICalendar> {
    ICalendar::parse(text).ok()
}

/// An iTIP message for someone outside the organization, to be mailed after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    /// The account it is sent for, and its address.
    pub account: AccountId,
    pub from: String,
    pub to: String,
    pub method: &'static str,
    pub summary: String,
    pub ical: String,
}

/// The address under which `owner` (primary address `primary`) is an attendee of `ical`:
/// the primary one, or an active alias the organizer invited it under; its answers are
/// given as that address, the one the organizer's copy lists. One read of the account's own
/// addresses, whatever the object lists.
pub(crate) async fn listed_as(
    tx: &mut Tx,
    owner: AccountId,
    primary: &str,
    ical: Option<&ICalendar>,
) -> Result<String, DavError> {
    let Some(ical) = ical else {
        return Ok(primary.to_string());
    };
    if !itip::answers(ical, primary).is_empty() {
        return Ok(primary.to_string());
    }
    let mine: Vec<String> = tx
        .list_account_addresses(owner)
        .await?
        .into_iter()
        .filter(|a| a.active)
        .map(|a| a.address.to_lowercase())
        .collect();
    Ok(itip::roles(ical)
        .attendees
        .into_iter()
        .map(|a| a.address)
        .find(|a| mine.contains(a))
        .unwrap_or_else(|| primary.to_string()))
}

/// The active account with `address`, if any.
async fn staff(tx: &mut Tx, address: &str) -> Result<Option<AccountId>, DavError> {
    Ok(tx
        .find_account_by_address(address)
        .await?
        .filter(|a| a.status == "active")
        .map(|a| a.id))
}

/// What scheduling a write made.
#[derive(Debug, Default)]
pub(crate) struct Scheduled {
    /// iTIP messages to mail once the write is committed.
    pub outgoing: Vec<Outgoing>,
    /// The organizer's object as it must be stored instead of what the client sent: rooms
    /// and equipment answered in it (RFC 6638 section 3.2.2: the client is then given no
    /// ETag, and reads the object again).
    pub rewritten: Option<String>,
}

/// Schedules what a write in `home` (a calendar of its owner's) changed: `old` is the object
/// before (none when new), `new` after (none when deleted). Floating times of a meeting are
/// read in the calendar's zone when rooms are booked for it.
pub(crate) async fn after_write(
    tx: &mut Tx,
    home: &crate::Collection,
    old: Option<&str>,
    new: Option<&str>,
    now_ms: i64,
    local_domains: &[String],
    sent_by: Option<&str>,
) -> Result<Scheduled, DavError> {
    let owner = home.account;
    let (old, new) = (old.and_then(parse), new.and_then(parse));
    let organizer_of =
        |i: &Option<ICalendar>| i.as_ref().map(itip::roles).and_then(|r| r.organizer);
    let (old_organizer, new_organizer) = (organizer_of(&old), organizer_of(&new));
    let Some(organizer) = new_organizer.clone().or(old_organizer.clone()) else {
        return Ok(Scheduled::default());
    };
    let Some(me_row) = tx.find_account(owner).await? else {
        return Ok(Scheduled::default());
    };
    let me = me_row.primary_address.to_lowercase();
    let mut s = Scheduler {
        tx,
        zone: home.zone,
        now_ms,
        local_domains,
        outgoing: Vec::new(),
        sent_by: sent_by.filter(|b| *b != me),
    };
    let mut rewritten = None;
    let mine_before = old_organizer.as_deref() == Some(me.as_str());
    if new.is_none() || new_organizer.as_deref() == Some(me.as_str()) {
        if organizer == me {
            let mut new = new;
            // A moved meeting asks its attendees (rooms too) again, before rooms answer.
            let reset = match (old.as_ref().filter(|_| mine_before), new.as_mut()) {
                (Some(o), Some(n)) => itip::reset_rescheduled(o, n, &me),
                _ => false,
            };
            // Rooms answer first, so that attendees are sent the meeting with their answers.
            let booked = s
                .book_resources(&me_row, old.as_ref(), new.as_mut())
                .await?;
            if reset || booked {
                rewritten = new.as_ref().map(ICalendar::to_string);
            }
            s.as_organizer(owner, &me, old.as_ref(), new.as_ref())
                .await?;
        } else {
            let listed = listed_as(s.tx, owner, &me, old.as_ref()).await?;
            s.as_attendee(owner, &listed, &organizer, old.as_ref(), None)
                .await?;
        }
    } else if mine_before {
        // The organizer's client took ORGANIZER off (Apple does, with the last invitee) or
        // named someone else: for those invited, and the rooms, the meeting is over.
        s.book_resources(&me_row, old.as_ref(), None).await?;
        s.as_organizer(owner, &me, old.as_ref(), None).await?;
    } else {
        let listed = listed_as(s.tx, owner, &me, new.as_ref().or(old.as_ref())).await?;
        s.as_attendee(owner, &listed, &organizer, old.as_ref(), new.as_ref())
            .await?;
    }
    Ok(Scheduled {
        outgoing: s.outgoing,
        rewritten,
    })
}

struct Scheduler<'t> {
    tx: &'t mut Tx,
    /// The zone of the calendar written in (see `after_write`).
    zone: calcard::common::timezone::Tz,
    now_ms: i64,
    /// The organization's domains: an address there that is not active staff is nobody to
    /// mail.
    local_domains: &'t [String],
    outgoing: Vec<Outgoing>,
    /// Who wrote for the calendar's owner (a delegate): their answers say SENT-BY.
    sent_by: Option<&'t str>,
}

impl Scheduler<'_> {
    fn outside(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !self
                    .local_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain))
        })
    }

    fn mail(
        &mut self,
        account: AccountId,
        from: &str,
        to: &str,
        method: &'static str,
        ical: &ICalendar,
        text: String,
    ) {
        if self.outside(to) {
            self.outgoing.push(Outgoing {
                account,
                from: from.to_string(),
                to: to.to_string(),
                method,
                summary: itip::summary(ical),
                ical: text,
            });
        }
    }
}

impl Scheduler<'_> {
    /// Has each room and piece of equipment the organizer invited answer the meeting `new`
    /// (and frees what `old` held of those taken off, or of all when it is cancelled or
    /// deleted); their answers go into `new`, and a REPLY into the organizer's inbox when
    /// an answer changed. Returns whether `new` changed. A resource is always answered by
    /// the server, whatever SCHEDULE-AGENT says: a client cannot accept for a room.
    async fn book_resources(
        &mut self,
        organizer: &AccountRow,
        old: Option<&ICalendar>,
        new: Option<&mut ICalendar>,
    ) -> Result<bool, DavError> {
        let me = organizer.primary_address.to_lowercase();
        let old = old.filter(|o| itip::roles(o).organizer.as_deref() == Some(me.as_str()));
        let new_uid = new
            .as_deref()
            .and_then(|n| n.uids().next())
            .map(str::to_string);
        let now = new
            .as_deref()
            .filter(|n| itip::roles(n).organizer.as_deref() == Some(me.as_str()))
            .map(itip::roles)
            .unwrap_or_default();
        let mut wanted = Vec::new();
        for a in now.attendees.iter().filter(|_| !now.cancelled) {
            if let Some(r) = self.tx.find_resource(&a.address).await? {
                wanted.push(r);
            }
        }
        let mut freed = Vec::new();
        if let Some(o) = old {
            let uid = o.uids().next().unwrap_or_default().to_string();
            let same_uid = new_uid.as_deref() == Some(uid.as_str());
            for a in itip::roles(o).attendees {
                if same_uid && wanted.iter().any(|r| r.address == a.address) {
                    continue;
                }
                if let Some(r) = self.tx.find_resource(&a.address).await? {
                    freed.push((r, uid.clone()));
                }
            }
        }
        // Every lock first, in the order of the resources' ids: two meetings asking for
        // the same rooms never hold one each while waiting for the other.
        let mut ids: Vec<i64> = wanted
            .iter()
            .map(|r| r.id)
            .chain(freed.iter().map(|f| f.0.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.tx.lock_resource(id).await?;
        }
        for (r, uid) in &freed {
            // A meeting moved to another calendar is PUT there before it is deleted here:
            // while the organizer still has it with the resource, the booking stays.
            let kept = self
                .tx
                .dav_calendar_object_by_uid(organizer.id, uid)
                .await?
                .and_then(|o| parse(&o.data))
                .is_some_and(|i| {
                    itip::roles(&i).organizer.as_deref() == Some(me.as_str())
                        && itip::roles(&i)
                            .attendees
                            .iter()
                            .any(|a| a.address == r.address)
                });
            if !kept {
                booking::release(self.tx, r, organizer, uid).await?;
            }
        }
        let (Some(new), Some(uid)) = (new, new_uid) else {
            return Ok(false);
        };
        let summary = itip::summary(new);
        let mut changed = false;
        for (i, r) in wanted.iter().enumerate() {
            let answer = if i < booking::MAX_PER_MEETING {
                let (times, more) = booking::instances_listing(new, &r.address, self.zone);
                let req = booking::Request {
                    uid: &uid,
                    summary: summary.clone(),
                    times,
                    more,
                };
                booking::answer(self.tx, r, organizer, &req, self.now_ms).await?
            } else {
                booking::Answer::Declined(format!(
                    "a meeting may book at most {} rooms and pieces of equipment",
                    booking::MAX_PER_MEETING
                ))
            };
            if !answer.apply(new, &r.address) {
                continue;
            }
            changed = true;
            // A client that sends the room's old PARTSTAT back gets the answer put in again;
            // the organizer heard it already when the stored copy said so.
            let heard =
                old.is_some_and(|o| itip::answers(o, &r.address) == itip::answers(new, &r.address));
            if heard {
                continue;
            }
            let mut reply = new.clone();
            if let booking::Answer::Declined(why) = &answer {
                itip::comment(&mut reply, why);
            }
            let homes = defaults(self.tx, organizer.id, self.now_ms).await?;
            self.deliver_to_inbox(&homes, &uid, &itip::reply(&reply, &r.address))
                .await?;
        }
        Ok(changed)
    }

    async fn as_organizer(
        &mut self,
        owner: AccountId,
        me: &str,
        old: Option<&ICalendar>,
        new: Option<&ICalendar>,
    ) -> Result<(), DavError> {
        let now: Roles = new.map(itip::roles).unwrap_or_default();
        // Only a version this organizer organized says whom to cancel: a write that takes
        // over someone else's UID must not cancel their meeting with outsiders.
        let old = old.filter(|o| itip::roles(o).organizer.as_deref() == Some(me));
        let before: Vec<String> = old
            .map(|o| {
                itip::roles(o)
                    .attendees
                    .into_iter()
                    .map(|a| a.address)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(new) = new {
            // RFC 6638 section 3.2.1: only a change that matters to attendees is sent to
            // those who had the meeting already (not a new alarm, not their answers coming
            // back into the organizer's copy).
            let same = old.is_some_and(|o| itip::fingerprint(o) == itip::fingerprint(new));
            let method = if now.cancelled {
                ICalendarMethod::Cancel
            } else {
                ICalendarMethod::Request
            };
            let mut outside = 0;
            for a in now.attendees.iter().filter(|a| !a.by_client) {
                if same && before.contains(&a.address) {
                    continue;
                }
                if self.outside(&a.address) {
                    outside += 1;
                    if outside > MAX_OUTSIDE {
                        tracing::warn!(
                            organizer = me,
                            "too many attendees outside: not all mailed"
                        );
                        continue;
                    }
                }
                self.invite(owner, me, &a.address, new, method.clone())
                    .await?;
            }
        }
        if let Some(old) = old {
            // Outside, as many cancellations as invitations went (the first MAX_OUTSIDE).
            let mut outside = 0;
            for a in itip::roles(old).attendees {
                let still = now.attendees.iter().any(|n| n.address == a.address);
                if !still && !a.by_client && self.outside(&a.address) {
                    outside += 1;
                    if outside > MAX_OUTSIDE {
                        continue;
                    }
                }
                if !still && !a.by_client {
                    self.invite(owner, me, &a.address, old, ICalendarMethod::Cancel)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Delivers a REQUEST or CANCEL of `ical` to `attendee`: their calendar's copy, and the
    /// message in their inbox.
    async fn invite(
        &mut self,
        organizer_account: AccountId,
        organizer: &str,
        attendee: &str,
        ical: &ICalendar,
        method: ICalendarMethod,
    ) -> Result<(), DavError> {
        // Rooms and equipment keep bookings, not copies (`book_resources`).
        if self.tx.find_resource(attendee).await?.is_some() {
            return Ok(());
        }
        let Some(account) = staff(self.tx, attendee).await? else {
            let name = if method == ICalendarMethod::Cancel {
                "CANCEL"
            } else {
                "REQUEST"
            };
            let text = itip::message(ical, method);
            self.mail(organizer_account, organizer, attendee, name, ical, text);
            return Ok(());
        };
        if account == organizer_account {
            return Ok(());
        }
        let Some(uid) = ical.uids().next().map(str::to_string) else {
            return Ok(());
        };
        let homes = defaults(self.tx, account, self.now_ms).await?;
        let existing = self.tx.dav_calendar_object_by_uid(account, &uid).await?;
        if let Some(e) = &existing {
            let theirs = parse(&e.data).map(|i| itip::roles(&i)).unwrap_or_default();
            if theirs.organizer.as_deref() != Some(organizer) {
                tracing::warn!(
                    organizer,
                    attendee,
                    "an invitation would replace an object another organizer owns: refused"
                );
                return Ok(());
            }
        }
        let cancel = method == ICalendarMethod::Cancel;
        let mut copy = ical.clone();
        if cancel {
            itip::cancel_all(&mut copy);
        }
        let component = ical::inspect(&copy.to_string()).map(|i| i.component);
        match (&existing, component) {
            (Some(e), _) => {
                write(self.tx, e.collection_id, &e.name, &copy.to_string()).await?;
            }
            // A cancellation of a meeting they never had leaves the calendar alone.
            (None, Ok(_)) if cancel => {}
            (None, Ok(component)) => {
                if let Some(c) = default_calendar(&homes, &component) {
                    let mut name = object_name(&uid);
                    if self.tx.dav_object(c.id, &name).await?.is_some() {
                        // Another object took the name: the digest is free.
                        name = digest_name(&uid);
                    }
                    write(self.tx, c.id, &name, &copy.to_string()).await?;
                }
            }
            (None, Err(_)) => return Ok(()),
        }
        self.deliver_to_inbox(&homes, &uid, &itip::message(ical, method))
            .await
    }

    async fn as_attendee(
        &mut self,
        owner: AccountId,
        me: &str,
        organizer: &str,
        old: Option<&ICalendar>,
        new: Option<&ICalendar>,
    ) -> Result<(), DavError> {
        let Some(ical) = new.or(old) else {
            return Ok(());
        };
        let org_account = staff(self.tx, organizer).await?;
        let Some(uid) = ical.uids().next().map(str::to_string) else {
            return Ok(());
        };
        let answers = match new {
            Some(n) => itip::answers(n, me),
            None => {
                // Deleting a meeting one was invited to declines it (RFC 6638 section
                // 3.2.2.3), unless it was cancelled already.
                if old.is_some_and(|o| itip::roles(o).cancelled) {
                    return Ok(());
                }
                let mut all = old.map(|o| itip::answers(o, me)).unwrap_or_default();
                all.iter_mut()
                    .for_each(|a| a.1 = ICalendarParticipationStatus::Declined);
                all
            }
        };
        if answers.is_empty() {
            return Ok(());
        }
        if let (Some(o), Some(_)) = (old, new)
            && itip::answers(o, me) == answers
        {
            return Ok(());
        }
        let Some(org_account) = org_account else {
            // An organizer outside: the answer goes by mail.
            let mut answered = ical.clone();
            itip::apply_answers(&mut answered, me, &answers, self.sent_by);
            let text = itip::reply(&answered, me);
            self.mail(owner, me, organizer, "REPLY", ical, text);
            return Ok(());
        };
        let Some(org_copy) = self
            .tx
            .dav_calendar_object_by_uid(org_account, &uid)
            .await?
        else {
            return Ok(());
        };
        let Some(mut org_ical) = parse(&org_copy.data) else {
            return Ok(());
        };
        if itip::roles(&org_ical).organizer.as_deref() != Some(organizer) {
            return Ok(());
        }
        if !itip::apply_answers(&mut org_ical, me, &answers, self.sent_by) {
            return Ok(());
        }
        write(
            self.tx,
            org_copy.collection_id,
            &org_copy.name,
            &org_ical.to_string(),
        )
        .await?;
        let mut answered = ical.clone();
        itip::apply_answers(&mut answered, me, &answers, self.sent_by);
        let homes = defaults(self.tx, org_account, self.now_ms).await?;
        self.deliver_to_inbox(&homes, &uid, &itip::reply(&answered, me))
            .await
    }

    /// Puts an iTIP message in `account`'s scheduling inbox. Several messages there may share
    /// a UID, so an inbox row keeps its own name in the UID column.
    async fn deliver_to_inbox(
        &mut self,
        homes: &[CollectionRow],
        uid: &str,
        message: &str,
    ) -> Result<(), DavError> {
        let Some(inbox) = homes.iter().find(|c| c.kind == crate::INBOX) else {
            return Ok(());
        };
        let seq = self.tx.next_dav_seq(inbox.id).await?;
        let digest = sha2::Sha256::digest(format!("{uid}\n{seq}\n{message}").as_bytes());
        let name = format!("{}.ics", hex::encode(&digest[..12]));
        let component = ical::inspect(message)
            .map(|i| i.component)
            .unwrap_or_else(|_| "VEVENT".to_string());
        self.tx
            .put_dav_object(&DavObjectRow {
                collection_id: inbox.id,
                name: name.clone(),
                uid: name,
                etag: crate::etag_of(message),
                component,
                data: message.to_string(),
                starts_at: None,
                ends_at: None,
                modseq: seq,
                size: message.len() as i64,
            })
            .await?;
        // The METHOD line itself (text values escape no colon: a DESCRIPTION may say it).
        let method = ["REQUEST", "CANCEL", "REPLY"]
            .into_iter()
            .find(|m| {
                message
                    .lines()
                    .any(|l| l.trim_end() == format!("METHOD:{m}"))
            })
            .unwrap_or("OTHER");
        metrics::counter!("carepost_calendar_scheduling_messages_total", "method" => method)
            .increment(1);
        // Past the limit the oldest go, chosen in SQL: the messages are not read.
        for name in self.tx.dav_names_past(inbox.id, INBOX_KEEP).await? {
            let seq = self.tx.next_dav_seq(inbox.id).await?;
            self.tx.delete_dav_object(inbox.id, &name, seq).await?;
        }
        Ok(())
    }
}

/// The account's collections, after making those every account has: its scheduling inbox
/// and an address book, and on first use a calendar and a task list.
pub(crate) async fn defaults(
    tx: &mut Tx,
    account: AccountId,
    now_ms: i64,
) -> Result<Vec<CollectionRow>, DavError> {
    let rows = tx.dav_collections(account).await?;
    let has = |kind: &str| rows.iter().any(|r| r.kind == kind);
    let mut wanted = Vec::new();
    if !has(crate::INBOX) {
        wanted.push((crate::INBOX_SLUG, "Inbox", "VEVENT,VTODO", crate::INBOX));
    }
    // Every account has an address book of its own (one removed is made again).
    if !has(crate::ADDRESSBOOK) {
        wanted.push(("contacts", "Contacts", "VCARD", crate::ADDRESSBOOK));
    }
    // A calendar and a task list on first use; an account that removed them later keeps
    // its choice.
    if rows.is_empty() {
        wanted.push(("calendar", "Calendar", "VEVENT", crate::CALENDAR));
        wanted.push(("tasks", "Tasks", "VTODO", crate::CALENDAR));
    }
    if wanted.is_empty() {
        return Ok(rows);
    }
    for (slug, name, comps, kind) in wanted {
        let row = crate::new_collection(
            account,
            kind,
            slug,
            name,
            comps,
            carepost_types::UnixMillis(now_ms),
        );
        tx.insert_dav_collection(&row).await?;
    }
    Ok(tx.dav_collections(account).await?)
}

/// Where invitations to `component`s land: the calendar named `calendar` if it holds them,
/// else the first that does (RFC 6638 `schedule-default-calendar-URL`).
pub(crate) fn default_calendar<'a>(
    homes: &'a [CollectionRow],
    component: &str,
) -> Option<&'a CollectionRow> {
    let holds = |c: &&CollectionRow| {
        c.kind == crate::CALENDAR && c.components.split(',').any(|k| k == component)
    };
    homes
        .iter()
        .filter(holds)
        .find(|c| c.slug == "calendar")
        .or_else(|| homes.iter().find(holds))
}

/// The name an invitation is stored under: its UID when that makes a plain name, else a
/// digest of it.
pub(crate) fn object_name(uid: &str) -> String {
    let plain = uid.len() <= 100
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if plain {
        format!("{uid}.ics")
    } else {
        digest_name(uid)
    }
}

fn digest_name(uid: &str) -> String {
    format!(
        "{}.ics",
        hex::encode(&sha2::Sha256::digest(uid.as_bytes())[..16])
    )
}

/// Stores `text` as `name` in collection `collection` (a copy the scheduler keeps up to date).
pub(crate) async fn write(
    tx: &mut Tx,
    collection: i64,
    name: &str,
    text: &str,
) -> Result<(), DavError> {
    let inspected = ical::inspect(text)?;
    let seq = tx.next_dav_seq(collection).await?;
    tx.put_dav_object(&DavObjectRow {
        collection_id: collection,
        name: name.to_string(),
        uid: inspected.uid,
        etag: crate::etag_of(text),
        component: inspected.component,
        data: text.to_string(),
        starts_at: inspected.starts_at,
        ends_at: inspected.ends_at,
        modseq: seq,
        size: text.len() as i64,
    })
    .await?;
    Ok(())
}

/// Puts a delegate's answer for the resource `resource` into the organizer's copy of the
/// meeting `uid`, and a REPLY (with the reason of a decline) into their inbox. Nothing when
/// the organizer no longer has the meeting. Called before the resource's lock is taken, so
/// the organizer's calendar is locked first here as in the organizer's own write.
pub(crate) async fn resource_answered(
    tx: &mut Tx,
    organizer: AccountId,
    resource: &str,
    uid: &str,
    answer: &booking::Answer,
    now_ms: i64,
) -> Result<(), DavError> {
    let Some(copy) = tx.dav_calendar_object_by_uid(organizer, uid).await? else {
        return Ok(());
    };
    let Some(mut ical) = parse(&copy.data) else {
        return Ok(());
    };
    let address = tx
        .find_account(organizer)
        .await?
        .map(|a| a.primary_address.to_lowercase());
    if itip::roles(&ical).organizer != address || !answer.apply(&mut ical, resource) {
        return Ok(());
    }
    write(tx, copy.collection_id, &copy.name, &ical.to_string()).await?;
    if let booking::Answer::Declined(why) = answer {
        itip::comment(&mut ical, why);
    }
    let homes = defaults(tx, organizer, now_ms).await?;
    deliver(tx, &homes, uid, &itip::reply(&ical, resource), now_ms).await
}

/// Puts an iTIP message in an inbox outside a scheduling pass (a delegate's answer for a
/// room, an answer that came by mail).
pub(crate) async fn deliver(
    tx: &mut Tx,
    homes: &[CollectionRow],
    uid: &str,
    message: &str,
    now_ms: i64,
) -> Result<(), DavError> {
    let mut s = Scheduler {
        tx,
        // Books nothing: delivering to an inbox reads no times.
        zone: calcard::common::timezone::Tz::Floating,
        now_ms,
        local_domains: &[],
        outgoing: Vec::new(),
        sent_by: None,
    };
    s.deliver_to_inbox(homes, uid, message).await
}
