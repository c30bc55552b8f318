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
use carepost_store::{DavRepo, DirectoryRepo, ResourceRepo};
use std::collections::HashMap;

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
    let mut out = Vec::new();
    for (text, zone) in texts {
        let Ok(ical) = ICalendar::parse(text) else {
            continue;
        };
        for e in crate::ical::expand_to(&ical, Some(end), zone).0.events {
            let Some(c) = ical.components.get(e.comp_id as usize) else {
                continue;
            };
            if c.component_type != ICalendarComponentType::VEvent {
                continue;
            }
            let (s, f) = e.timestamps();
            if f <= start || s >= end {
                continue;
            }
            if let Some(kind) = counts_as(c, owner) {
                out.push(Busy {
                    start: s.max(start),
                    end: f.min(end),
                    kind,
                });
            }
        }
    }
    merge(out)
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
        let address = address.trim().to_lowercase();
        let mut read = self.store.read().await?;
        let Some(account) = read
            .find_account_by_address(&address)
            .await?
            .filter(|a| a.status == "active")
        else {
            let Some(r) = read.find_resource(&address).await? else {
                return Ok(None);
            };
            let slots = read.resource_slots(r.id, start, end, None).await?;
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
            return Ok(Some(merge(periods)));
        };
        let margin = crate::ical::FLOATING_MARGIN;
        let rows = read
            .dav_account_objects_in_span(account.id, start - margin, end + margin)
            .await?;
        // Each event's floating times are read in its own calendar's zone.
        let zones: HashMap<i64, Tz> = read
            .dav_collections(account.id)
            .await?
            .into_iter()
            .map(|c| (c.id, Collection::from_row(c).zone))
            .collect();
        drop(read);
        let owner = account.primary_address.to_lowercase();
        let zone_of = |id: i64| zones.get(&id).copied().unwrap_or(Tz::Floating);
        Ok(Some(busy_in(
            rows.iter()
                .map(|r| (r.data.as_str(), zone_of(r.collection_id))),
            &owner,
            start,
            end,
        )))
    }

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
        Ok(busy_in(
            rows.iter().map(|r| (r.data.as_str(), c.zone)),
            owner,
            start,
            end,
        ))
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
