//! Free/busy: when a person is taken, without what for. Computed from every calendar of the
//! account over a range, instance by instance through calcard's recurrence expansion: an
//! event counts unless it is transparent (TRANSP:TRANSPARENT), cancelled, or declined by the
//! owner; a tentative one, or one the owner has not answered yet, counts as tentative. The
//! answer holds periods and their type only (RFC 5545 FREEBUSY), never a title, place or
//! attendee, whatever the event's CLASS; it is what colleagues, the scheduling outbox
//! (RFC 6638) and `free-busy-query` (RFC 4791 section 7.10) see.

use crate::{Collection, DavError};
use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFreeBusyType,
    ICalendarMethod, ICalendarParameter, ICalendarParameterName, ICalendarParameterValue,
    ICalendarParticipationStatus, ICalendarPeriod, ICalendarProperty, ICalendarStatus,
    ICalendarTransparency, ICalendarValue, Uri,
};
use carepost_store::{AccountRow, DavRepo, DirectoryRepo, ResourceRepo, Tx};
use std::collections::HashMap;
use std::sync::Arc;

/// How a period is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BusyKind {
    Busy,
    Tentative,
}

/// A taken period, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: i64,
    pub end: i64,
    pub kind: BusyKind,
}

/// How `owner`'s answer in `c` makes it count: `None` when declined.
fn counts_as(c: &ICalendarComponent, owner: &str) -> Option<BusyKind> {
    if c.transparency() == Some(&ICalendarTransparency::Transparent)
        || c.status() == Some(&ICalendarStatus::Cancelled)
    {
        return None;
    }
    let mut kind = if c.status() == Some(&ICalendarStatus::Tentative) {
        BusyKind::Tentative
    } else {
        BusyKind::Busy
    };
    let mine = c.properties(&ICalendarProperty::Attendee).find(|e| {
        e.calendar_address()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case(owner))
    });
    if let Some(e) = mine {
        match e.parameter(&ICalendarParameterName::Partstat) {
            Some(ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Declined)) => {
                return None;
            }
            Some(ICalendarParameterValue::Partstat(ICalendarParticipationStatus::Accepted)) => {}
            _ => kind = BusyKind::Tentative,
        }
    }
    Some(kind)
}

/// The taken periods of `owner` in [start, end) from the iCalendar texts of their events,
/// each with its calendar's zone, clipped to the range, sorted, and merged where they
/// overlap with the same kind.
pub fn busy_in<'a>(
    texts: impl IntoIterator<Item = (&'a str, Tz)>,
    owner: &str,
    start: i64,
    end: i64,
) -> Vec<Busy> {
    let taken = texts
        .into_iter()
        .filter_map(|(text, zone)| object_busy(text, owner, end, zone))
        .flat_map(|(periods, _)| periods);
    clipped(taken, start, end)
}

/// The taken instances of one object up to `end`, unclipped, and whether they are all of
/// them whatever the range (the object has no rule, so nothing is cut at `end`); `None`
/// when the text does not parse.
fn object_busy(text: &str, owner: &str, end: i64, zone: Tz) -> Option<(Vec<Busy>, bool)> {
    let ical = ICalendar::parse(text).ok()?;
    // A time zone's rules do not depend on the range; an event's are cut at its end.
    let whole = !ical.components.iter().any(|c| {
        crate::ical::is_scheduled(c) && c.entries.iter().any(|e| e.name == ICalendarProperty::Rrule)
    });
    let mut out = Vec::new();
    for e in crate::ical::expand_to(&ical, Some(end), zone).0.events {
        let Some(c) = ical.components.get(e.comp_id as usize) else {
            continue;
        };
        if c.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let (start, end) = e.timestamps();
        if let Some(kind) = counts_as(c, owner) {
            out.push(Busy { start, end, kind });
        }
    }
    Some((out, whole))
}

/// The periods that meet [start, end), cut to it, merged.
fn clipped(taken: impl IntoIterator<Item = Busy>, start: i64, end: i64) -> Vec<Busy> {
    let periods = taken
        .into_iter()
        .filter(|b| b.end > start && b.start < end)
        .map(|b| Busy {
            start: b.start.max(start),
            end: b.end.min(end),
            kind: b.kind,
        })
        .collect();
    merge(periods)
}

/// The busy times of calendar objects without rules, by ETag (a digest of the text), the
/// calendar's zone and the owner whose answers count, as free/busy last worked them out: a
/// colleague's free/busy is asked for again and again while a meeting is planned, and
/// reading and parsing each event was most of the answer's work (profiled with 20 people).
/// A changed event has another ETag, so nothing is ever stale; an object with a rule is
/// worked out each time, since what is computed of it depends on the range.
#[derive(Clone)]
pub(crate) struct BusyCache(moka::sync::Cache<(String, Tz, String), Arc<Vec<Busy>>>);

/// Objects whose busy times are kept at most (300 to 400 bytes each, with the cache's own).
const BUSY_CACHE_OBJECTS: u64 = 100_000;

/// An object with more instances than this (many RDATEs) is not kept.
const BUSY_CACHE_INSTANCES: usize = 16;

impl BusyCache {
    pub(crate) fn new() -> BusyCache {
        BusyCache(moka::sync::Cache::new(BUSY_CACHE_OBJECTS))
    }
}

impl std::fmt::Debug for BusyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusyCache")
            .field("objects", &self.0.entry_count())
            .finish()
    }
}

fn merge(mut periods: Vec<Busy>) -> Vec<Busy> {
    periods.sort_by_key(|b| (b.kind, b.start, b.end));
    let mut out: Vec<Busy> = Vec::with_capacity(periods.len());
    for b in periods {
        match out.last_mut() {
            Some(last) if last.kind == b.kind && b.start <= last.end => {
                last.end = last.end.max(b.end);
            }
            _ => out.push(b),
        }
    }
    out.sort_by_key(|b| (b.start, b.kind));
    out
}

/// Who a VFREEBUSY is about and for, when it answers a request.
#[derive(Debug, Clone, Default)]
pub struct FreeBusyParties<'a> {
    pub uid: Option<&'a str>,
    pub organizer: Option<&'a str>,
    pub attendee: Option<&'a str>,
}

fn mailto(address: &str) -> ICalendarValue {
    ICalendarValue::Uri(Uri::Location(format!("mailto:{address}")))
}

fn utc(seconds: i64) -> ICalendarValue {
    ICalendarValue::PartialDateTime(Box::new(PartialDateTime::from_utc_timestamp(seconds)))
}

/// A VCALENDAR holding one VFREEBUSY for [start, end) with `busy`; a METHOD:REPLY when it
/// answers a scheduling request (`parties.organizer` set).
pub fn vfreebusy(
    busy: &[Busy],
    start: i64,
    end: i64,
    now: i64,
    parties: &FreeBusyParties<'_>,
) -> String {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Version, "2.0".to_string());
    root.add_property(
        ICalendarProperty::Prodid,
        "-//carepost//calendar//EN".to_string(),
    );
    if parties.organizer.is_some() {
        root.add_property(
            ICalendarProperty::Method,
            ICalendarValue::Method(ICalendarMethod::Reply),
        );
    }
    root.component_ids.push(1);
    let mut fb = ICalendarComponent::new(ICalendarComponentType::VFreebusy);
    if let Some(uid) = parties.uid {
        fb.add_uid(uid);
    }
    fb.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
    fb.add_property(ICalendarProperty::Dtstart, utc(start));
    fb.add_property(ICalendarProperty::Dtend, utc(end));
    if let Some(o) = parties.organizer {
        fb.add_property(ICalendarProperty::Organizer, mailto(o));
    }
    if let Some(a) = parties.attendee {
        fb.add_property(ICalendarProperty::Attendee, mailto(a));
    }
    for b in busy {
        let kind = match b.kind {
            BusyKind::Busy => ICalendarFreeBusyType::Busy,
            BusyKind::Tentative => ICalendarFreeBusyType::BusyTentative,
        };
        fb.entries.push(
            ICalendarEntry::new(ICalendarProperty::Freebusy)
                .with_param(ICalendarParameter::fbtype(kind))
                .with_value(ICalendarValue::Period(ICalendarPeriod::Range {
                    start: PartialDateTime::from_utc_timestamp(b.start),
                    end: PartialDateTime::from_utc_timestamp(b.end),
                })),
        );
    }
    ICalendar {
        components: vec![root, fb],
    }
    .to_string()
}

/// The parts of a VFREEBUSY request posted to an outbox (RFC 6638 section 5): its range,
/// UID, organizer and attendees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyRequest {
    pub uid: Option<String>,
    pub organizer: Option<String>,
    pub attendees: Vec<String>,
    pub start: i64,
    pub end: i64,
}

/// Reads a VFREEBUSY request; `None` when `text` is not one.
pub fn read_request(text: &str) -> Option<FreeBusyRequest> {
    let ical = ICalendar::parse(text).ok()?;
    let fb = ical
        .components
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::VFreebusy)?;
    let time = |p: ICalendarProperty| {
        fb.property(&p)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_partial_date_time())
            .and_then(|d| d.to_timestamp())
    };
    let (start, end) = (
        time(ICalendarProperty::Dtstart)?,
        time(ICalendarProperty::Dtend)?,
    );
    let address = |e: &ICalendarEntry| e.calendar_address().map(|a| a.trim().to_lowercase());
    Some(FreeBusyRequest {
        uid: fb.uid().map(str::to_string),
        organizer: fb.property(&ICalendarProperty::Organizer).and_then(address),
        attendees: fb
            .properties(&ICalendarProperty::Attendee)
            .filter_map(address)
            .collect(),
        start,
        end,
    })
}

/// One address's free/busy while it is being worked out.
enum Pending {
    /// Neither an active member of staff nor a resource.
    Unknown,
    Known(Vec<Busy>),
    /// A person's events, expanded on a blocking thread.
    Expanding(tokio::task::JoinHandle<Result<Vec<Busy>, DavError>>),
}

impl crate::Calendars {
    /// `address`'s taken periods in [start, end) (seconds); `None` when the address is
    /// neither an active member of staff nor a room or piece of equipment (whose bookings
    /// are its periods: accepted ones busy, those waiting for a delegate tentative).
    pub async fn busy_of(
        &self,
        address: &str,
        start: i64,
        end: i64,
    ) -> Result<Option<Vec<Busy>>, DavError> {
        let mut all = self
            .busy_of_many(&[address.to_string()], start, end)
            .await?;
        Ok(all.pop().flatten())
    }

    /// `busy_of` for each of `addresses`, in their order, read in one view of the store.
    /// Each person's events are expanded on a blocking thread while the next person's are
    /// read, so the work of 20 attendees spreads over the cores (`off_task` bounds how much
    /// runs at once).
    pub async fn busy_of_many(
        &self,
        addresses: &[String],
        start: i64,
        end: i64,
    ) -> Result<Vec<Option<Vec<Busy>>>, DavError> {
        let mut read = self.store.read().await?;
        let mut pending = Vec::with_capacity(addresses.len());
        for address in addresses {
            let address = address.trim().to_lowercase();
            let account = read
                .find_account_by_address(&address)
                .await?
                .filter(|a| a.status == "active");
            pending.push(match account {
                Some(a) => self.person_busy(&mut read, &a, start, end).await?,
                None => match read.find_resource(&address).await? {
                    Some(r) => Pending::Known(resource_busy(&mut read, r.id, start, end).await?),
                    None => Pending::Unknown,
                },
            });
        }
        drop(read);
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            out.push(match p {
                Pending::Unknown => None,
                Pending::Known(busy) => Some(busy),
                Pending::Expanding(handle) => Some(crate::query::joined(handle).await?),
            });
        }
        Ok(out)
    }

    /// A person's taken periods: those of the events the cache knows at once, the others'
    /// read and expanded on a blocking thread (and kept, when they have no rule).
    async fn person_busy(
        &self,
        read: &mut Tx,
        account: &AccountRow,
        start: i64,
        end: i64,
    ) -> Result<Pending, DavError> {
        let margin = crate::ical::FLOATING_MARGIN;
        // The objects' ETags first: the texts are read only of those not in the cache.
        let rows = read
            .dav_account_objects_in_span(account.id, start - margin, end + margin, false)
            .await?;
        // Each event's floating times are read in its own calendar's zone.
        let zones: HashMap<i64, Tz> = read
            .dav_collections(account.id)
            .await?
            .into_iter()
            .map(|c| (c.id, Collection::from_row(c).zone))
            .collect();
        let zone_of = |id: i64| zones.get(&id).copied().unwrap_or(Tz::Floating);
        let owner = account.primary_address.to_lowercase();
        let mut known = Vec::new();
        let mut unknown: HashMap<i64, Vec<String>> = HashMap::new();
        for r in rows {
            let key = (r.etag, zone_of(r.collection_id), owner.clone());
            match self.busy.0.get(&key) {
                Some(periods) => known.push(periods),
                None => unknown.entry(r.collection_id).or_default().push(r.name),
            }
        }
        let mut texts = Vec::new();
        for (collection, names) in unknown {
            for r in read.dav_objects_named(collection, &names, true).await? {
                texts.push((r.data, r.etag, zone_of(collection)));
            }
        }
        // With every object known there is only the merging left, done here.
        let parse = !texts.is_empty();
        let cache = self.busy.clone();
        let work = move || {
            let mut taken: Vec<Busy> = known.iter().flat_map(|p| p.iter().copied()).collect();
            for (text, etag, zone) in texts {
                let Some((periods, whole)) = object_busy(&text, &owner, end, zone) else {
                    continue;
                };
                taken.extend(periods.iter().copied());
                if whole && periods.len() <= BUSY_CACHE_INSTANCES {
                    cache
                        .0
                        .insert((etag, zone, owner.clone()), Arc::new(periods));
                }
            }
            clipped(taken, start, end)
        };
        Ok(match parse {
            true => Pending::Expanding(self.off_task(work)),
            false => Pending::Known(work()),
        })
    }
}

/// A room's or a piece of equipment's periods: its bookings, accepted ones busy, those
/// waiting for a delegate tentative.
async fn resource_busy(
    read: &mut Tx,
    resource: i64,
    start: i64,
    end: i64,
) -> Result<Vec<Busy>, DavError> {
    let slots = read.resource_slots(resource, start, end, None).await?;
    let periods = slots
        .into_iter()
        .map(|s| Busy {
            start: s.starts_at.max(start),
            end: s.ends_at.min(end),
            kind: match s.status.as_str() {
                "accepted" => BusyKind::Busy,
                _ => BusyKind::Tentative,
            },
        })
        .collect();
    Ok(merge(periods))
}

impl crate::Calendars {
    /// The taken periods of the objects of one calendar in [start, end) (free-busy-query).
    pub async fn busy_in_collection(
        &self,
        c: &Collection,
        owner: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<Busy>, DavError> {
        let mut read = self.store.read().await?;
        let margin = crate::ical::FLOATING_MARGIN;
        let rows = read
            .dav_objects_in_span(c.id, Some(start - margin), Some(end + margin))
            .await?;
        drop(read);
        let (zone, owner) = (c.zone, owner.to_string());
        let work = move || {
            busy_in(
                rows.iter().map(|r| (r.data.as_str(), zone)),
                &owner,
                start,
                end,
            )
        };
        crate::query::joined(self.off_task(work)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T000000Z\r\n\
             DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Secret title\r\n{extra}END:VEVENT\r\n\
             END:VCALENDAR\r\n"
        )
    }

    #[test]
    fn busy_periods_merge_and_skip_what_does_not_take_time() {
        let day = 1_796_860_800; // 2026-12-10T00:00:00Z
        let texts = [
            event("a", "20261210T090000Z", "20261210T100000Z", ""),
            event("b", "20261210T093000Z", "20261210T110000Z", ""),
            event(
                "c",
                "20261210T120000Z",
                "20261210T130000Z",
                "TRANSP:TRANSPARENT\r\n",
            ),
            event(
                "d",
                "20261210T140000Z",
                "20261210T150000Z",
                "STATUS:TENTATIVE\r\n",
            ),
            event(
                "e",
                "20261210T160000Z",
                "20261210T170000Z",
                "ATTENDEE;PARTSTAT=DECLINED:mailto:Bob@kaiser.org\r\n",
            ),
            event("f", "20261211T090000Z", "20261211T100000Z", ""),
        ];
        let busy = busy_in(
            texts.iter().map(|t| (t.as_str(), Tz::Floating)),
            "bob@kaiser.org",
            day,
            day + 86_400,
        );
        assert_eq!(
            busy,
            vec![
                Busy {
                    start: day + 9 * 3600,
                    end: day + 11 * 3600,
                    kind: BusyKind::Busy
                },
                Busy {
                    start: day + 14 * 3600,
                    end: day + 15 * 3600,
                    kind: BusyKind::Tentative
                },
            ]
        );
        let text = vfreebusy(&busy, day, day + 86_400, day, &FreeBusyParties::default());
        assert!(
            text.contains("FREEBUSY;FBTYPE=BUSY:20261210T090000Z/20261210T110000Z"),
            "{text}"
        );
        assert!(text.contains("FBTYPE=BUSY-TENTATIVE") && !text.contains("Secret"));
    }

    #[test]
    fn a_request_is_read() {
        let req = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:q\r\n\
            DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T000000Z\r\nDTEND:20261211T000000Z\r\n\
            ORGANIZER:mailto:ann@kaiser.org\r\nATTENDEE:mailto:Bob@kaiser.org\r\n\
            ATTENDEE:mailto:room3@kaiser.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let r = read_request(req).unwrap();
        assert_eq!(r.end - r.start, 86_400);
        assert_eq!(r.attendees, vec!["bob@kaiser.org", "room3@kaiser.org"]);
        assert_eq!(r.organizer.as_deref(), Some("ann@kaiser.org"));
        assert!(read_request("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_none());
    }
}
