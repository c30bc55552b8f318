//! What the calendar needs to know of an iCalendar object a client stores, read with calcard
//! (Stalwart's parser, which also expands recurrences): that it is one VCALENDAR holding
//! components of one kind sharing one UID (RFC 4791 section 4.1), and the span of time its
//! instances cover, for time-range queries. The text itself is kept as sent.

use crate::DavError;
use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::dates::CalendarExpand;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty,
    ICalendarValue,
};

/// Instances computed at most, per object, when no range bounds them: a rule that would
/// make more is treated as unbounded (its span has no end).
pub(crate) const MAX_INSTANCES: usize = 3000;

/// Instances computed at most, per object, up to the end of a range (`expand_to`): a daily
/// rota begun 50 years before the range still reaches it, an hourly rule two years.
const MAX_SCAN: usize = 20_000;

/// How far past a range's end each rule is cut: instances are compared in UTC while a rule
/// counts in its own zone's local time, at most 14 hours away.
const CUT_MARGIN: i64 = 2 * 86_400;

/// How far a stored span may lie from an instance's time: spans are computed with floating
/// times (and all-day dates) read as UTC, while a calendar with a time zone reads them in it,
/// at most 14 hours away. Narrowing by span widens the range by this much.
pub(crate) const FLOATING_MARGIN: i64 = 14 * 3600;

/// The zone a calendar-timezone text names (RFC 4791 section 5.2.2: a VCALENDAR with one
/// VTIMEZONE): its TZID as calcard reads it (an IANA name, or the Windows and Lotus names
/// some clients write), `Tz::Floating` for one calcard does not know (an Outlook zone of its
/// own: floating times are then read as UTC, as without a zone). `None` when the text is not
/// that. Rules of the VTIMEZONE itself are not used, as CalConnect advises (calcard's
/// reading of them is the same guess by name).
pub(crate) fn zone_of(text: &str) -> Option<Tz> {
    let ical = ICalendar::parse(text).ok()?;
    let mut zones = ical.timezones();
    let zone = zones.next()?.timezone().map_or(Tz::Floating, |(_, z)| z);
    zones.next().is_none().then_some(zone)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inspected {
    pub uid: String,
    /// `VEVENT`, `VTODO` or `VJOURNAL`.
    pub component: String,
    /// Seconds: the first instance's start, `None` for an object without time (a task).
    pub starts_at: Option<i64>,
    /// Seconds: the last instance's end, `None` when unbounded.
    pub ends_at: Option<i64>,
    /// ATTENDEE properties, every instance counted.
    pub attendees: usize,
}

fn invalid(why: impl Into<String>) -> DavError {
    DavError::InvalidData(why.into())
}

pub(crate) fn parse(text: &str) -> Result<ICalendar, DavError> {
    let mut parser = calcard::Parser::new(text);
    let calcard::Entry::ICalendar(ical) = parser.entry() else {
        return Err(invalid("the body is not an iCalendar object"));
    };
    // calcard reads the first object of a stream: a second one after it is refused here.
    if !matches!(parser.entry(), calcard::Entry::Eof) {
        return Err(invalid("the body holds more than one iCalendar object"));
    }
    if ical.components.first().map(|c| &c.component_type)
        != Some(&ICalendarComponentType::VCalendar)
    {
        return Err(invalid("the object is not a VCALENDAR"));
    }
    Ok(ical)
}

/// Checks `text` and reads its UID, kind and span.
pub(crate) fn inspect(text: &str) -> Result<Inspected, DavError> {
    let ical = parse(text)?;
    let mut kind: Option<&ICalendarComponentType> = None;
    let mut uid: Option<&str> = None;
    for c in &ical.components {
        let t = &c.component_type;
        if !matches!(
            t,
            ICalendarComponentType::VEvent
                | ICalendarComponentType::VTodo
                | ICalendarComponentType::VJournal
        ) {
            continue;
        }
        match kind {
            Some(k) if k != t => return Err(invalid("the object mixes component kinds")),
            _ => kind = Some(t),
        }
        let Some(u) = c.uid() else {
            return Err(invalid("a component has no UID"));
        };
        match uid {
            Some(seen) if seen != u => return Err(invalid("the object holds several UIDs")),
            _ => uid = Some(u),
        }
    }
    let (Some(kind), Some(uid)) = (kind, uid) else {
        return Err(invalid("the object holds no event, task or journal"));
    };
    let (starts_at, ends_at) = span(&ical);
    Ok(Inspected {
        uid: uid.to_string(),
        component: kind.as_str().to_string(),
        starts_at,
        ends_at,
        attendees: crate::itip::attendee_count(&ical),
    })
}

/// The instances of `ical` a range ending at `end` needs (all of them when it has no end),
/// and whether a rule goes on past those computed. Floating times and all-day dates are read
/// in `zone`, the calendar's (`Tz::Floating`: as UTC).
///
/// calcard counts a rule from its first instance and stops only at a limit, so a range
/// years after a daily rule began would lie past any limit. Instead each rule of a copy is
/// cut just past `end` (an UNTIL, or the rule's own when that is earlier): the rule is
/// computed up to the range and no further, and `MAX_SCAN` bounds only how many instances
/// lie before it. Overridden instances past the cut are still given, as calcard gives an
/// override whose instance the rule does not make.
pub(crate) fn expand_to(ical: &ICalendar, end: Option<i64>, zone: Tz) -> (CalendarExpand, bool) {
    let Some(end) = end else {
        let expanded = ical.expand_dates(zone, MAX_INSTANCES);
        let more = expanded.events.len() >= MAX_INSTANCES;
        return (expanded, more);
    };
    let cut = end.saturating_add(CUT_MARGIN);
    // Most objects have no rule, or one that ends before the cut: they are expanded as they
    // are, without the copy (a free/busy of 20 people reads a thousand such objects).
    let cuts = ical
        .components
        .iter()
        .any(|c| is_scheduled(c) && has_rule_to_cut(c, cut));
    let expanded = if cuts {
        let mut copy = ical.clone();
        for c in copy.components.iter_mut().filter(|c| is_scheduled(c)) {
            if starts_after(c, cut) {
                continue;
            }
            for e in c.entries.iter_mut().filter(|e| goes_past(e, cut)) {
                if let Some(ICalendarValue::RecurrenceRule(rule)) = e.values.first_mut() {
                    rule.until = Some(PartialDateTime::from_utc_timestamp(cut));
                }
            }
        }
        copy.expand_dates(zone, MAX_SCAN)
    } else {
        ical.expand_dates(zone, MAX_SCAN)
    };
    let more = expanded.events.len() >= MAX_SCAN;
    (expanded, more)
}

/// Whether `c` has a rule that must be cut at `cut`: one that goes on past it. A rule that
/// starts after the cut makes nothing in the range, and is left whole (cut before its start
/// calcard would refuse it, and its extra dates, RDATE, with it).
fn has_rule_to_cut(c: &ICalendarComponent, cut: i64) -> bool {
    !starts_after(c, cut) && c.entries.iter().any(|e| goes_past(e, cut))
}

fn starts_after(c: &ICalendarComponent, cut: i64) -> bool {
    c.property(&ICalendarProperty::Dtstart)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_partial_date_time())
        .and_then(|d| d.to_date_time_with_tz(Tz::UTC))
        .is_some_and(|d| d.timestamp() > cut)
}

/// Whether `e` is an RRULE without an UNTIL at or before `cut`.
fn goes_past(e: &ICalendarEntry, cut: i64) -> bool {
    e.name == ICalendarProperty::Rrule
        && matches!(e.values.first(), Some(ICalendarValue::RecurrenceRule(rule))
            if rule
                .until
                .as_ref()
                .and_then(|u| u.to_date_time_with_tz(Tz::UTC))
                .is_none_or(|u| u.timestamp() > cut))
}

/// The instances' (start, end) in seconds up to `end` (see `expand_to`), and whether a
/// rule goes on past them.
pub(crate) fn instances(text: &str, end: Option<i64>, zone: Tz) -> (Vec<(i64, i64)>, bool) {
    let Ok(ical) = parse(text) else {
        return (Vec::new(), false);
    };
    let (expanded, more) = expand_to(&ical, end, zone);
    (
        expanded.events.iter().map(|e| e.timestamps()).collect(),
        more,
    )
}

/// As `instances`, over the instances whose component `keep` keeps (an overridden instance
/// is its override's), from a parsed object, floating times read in `zone`.
pub(crate) fn instances_where(
    ical: &ICalendar,
    zone: Tz,
    keep: impl Fn(&ICalendarComponent) -> bool,
) -> (Vec<(i64, i64)>, bool) {
    let expanded = ical.expand_dates(zone, MAX_INSTANCES);
    let more = expanded.events.len() >= MAX_INSTANCES;
    let times = expanded
        .events
        .iter()
        .filter(|e| ical.components.get(e.comp_id as usize).is_some_and(&keep))
        .map(|e| e.timestamps())
        .collect();
    (times, more)
}

fn span(ical: &ICalendar) -> (Option<i64>, Option<i64>) {
    let expanded = ical.expand_dates(Tz::Floating, MAX_INSTANCES);
    if expanded.events.is_empty() {
        return (None, None);
    }
    let times: Vec<(i64, i64)> = expanded.events.iter().map(|e| e.timestamps()).collect();
    let start = times.iter().map(|t| t.0).min();
    let end = if expanded.events.len() >= MAX_INSTANCES {
        None
    } else {
        times.iter().map(|t| t.1.max(t.0)).max()
    };
    (start, end)
}

/// Whether any instance of `text` meets [start, end) (RFC 4791 section 9.9: it starts before
/// the range ends and ends after it starts; an instant event meets a range that holds it).
/// An object without time matches, as a task without dates does in RFC 4791.
pub(crate) fn meets(text: &str, start: Option<i64>, end: Option<i64>, zone: Tz) -> bool {
    let (times, more) = instances(text, end, zone);
    times.is_empty() || hits(&times, more, start, end)
}

/// Whether one of `times` meets [start, end), as `meets` says; `more` when a rule goes on
/// past the instances computed.
pub(crate) fn hits(times: &[(i64, i64)], more: bool, start: Option<i64>, end: Option<i64>) -> bool {
    let hit = times.iter().any(|&(s, e)| {
        let before_end = end.is_none_or(|end| s < end);
        let after_start = start.is_none_or(|start| e > start || (e == s && s >= start));
        before_end && after_start
    });
    // Past the instances computed, an unbounded rule goes on: it meets any later range.
    hit || (more
        && times
            .last()
            .is_some_and(|&(s, _)| end.is_none_or(|end| s < end)))
}

/// Whether `text` is a meeting (it names an organizer): what scheduling acts on.
pub(crate) fn is_meeting(text: &str) -> bool {
    parse(text).is_ok_and(|i| {
        i.components
            .iter()
            .any(|c| is_scheduled(c) && c.property(&ICalendarProperty::Organizer).is_some())
    })
}

/// Whether a scheduled component says CLASS:PRIVATE or CONFIDENTIAL.
fn says_private(c: &ICalendarComponent) -> bool {
    use calcard::icalendar::ICalendarClassification;
    c.property(&ICalendarProperty::Class)
        .and_then(|e| e.values.first())
        .is_some_and(|v| {
            matches!(
                v,
                ICalendarValue::Classification(
                    ICalendarClassification::Private | ICalendarClassification::Confidential
                )
            )
        })
}

/// Whether `c` is scheduled (an event, task or journal), not a time zone or an alarm.
pub(crate) fn is_scheduled(c: &ICalendarComponent) -> bool {
    c.component_type.is_event_or_todo() || c.component_type.is_journal()
}

/// What is kept of a busy-only instance: when it is, and nothing of what it is.
fn time_only(p: &ICalendarProperty) -> bool {
    matches!(
        p,
        ICalendarProperty::Uid
            | ICalendarProperty::Dtstamp
            | ICalendarProperty::Dtstart
            | ICalendarProperty::Dtend
            | ICalendarProperty::Due
            | ICalendarProperty::Duration
            | ICalendarProperty::Rrule
            | ICalendarProperty::Rdate
            | ICalendarProperty::Exdate
            | ICalendarProperty::RecurrenceId
            | ICalendarProperty::Transp
            | ICalendarProperty::Status
            | ICalendarProperty::Sequence
            | ICalendarProperty::Class
    )
}

/// What a published feed shows of an event that is not private.
fn public(p: &ICalendarProperty) -> bool {
    time_only(p)
        || matches!(
            p,
            ICalendarProperty::Summary
                | ICalendarProperty::Location
                | ICalendarProperty::Description
                | ICalendarProperty::Categories
                | ICalendarProperty::Created
                | ICalendarProperty::LastModified
        )
}

/// Trims an object in place: a private or confidential one (any of its instances says so:
/// the series is one meeting) to its times, titled "Busy"; with `for_public`, every other
/// one to what a feed may show. Alarms and components other than time zones and the
/// scheduled ones leave the tree. Returns whether the object was private.
fn trim(ical: &mut ICalendar, for_public: bool) -> bool {
    let private = ical
        .components
        .iter()
        .any(|c| is_scheduled(c) && says_private(c));
    if !private && !for_public {
        return false;
    }
    let keep: Vec<u32> = ical.components[0]
        .component_ids
        .iter()
        .copied()
        .filter(|id| {
            ical.components.get(*id as usize).is_some_and(|c| {
                is_scheduled(c) || c.component_type == ICalendarComponentType::VTimezone
            })
        })
        .collect();
    ical.components[0].component_ids = keep;
    for c in ical.components.iter_mut().filter(|c| is_scheduled(c)) {
        c.entries.retain(|e| {
            if private {
                time_only(&e.name)
            } else {
                public(&e.name)
            }
        });
        if private {
            c.add_property(ICalendarProperty::Summary, "Busy".to_string());
        }
        // Alarms are the owner's own: out of the tree, they are not written.
        c.component_ids.clear();
    }
    private
}

/// An object as a published feed shows it: titles, places and descriptions of ordinary
/// events, never attendees, organizers, attachments, links or alarms (a feed is read by
/// people outside the calendar's shares), and a private or confidential event as "Busy"
/// with its times only. `None` for text that does not parse.
pub(crate) fn without_private(text: &str) -> Option<ICalendar> {
    let mut ical = parse(text).ok()?;
    trim(&mut ical, true);
    Some(ical)
}

/// A private or confidential object as a colleague it is shared with sees it: "Busy" and
/// its times. `None` when the object is not private (it is shown as stored).
pub(crate) fn private_as_busy(text: &str) -> Option<String> {
    let mut ical = parse(text).ok()?;
    trim(&mut ical, false).then(|| ical.to_string())
}

/// Objects one imported file may hold.
pub(crate) const MAX_IMPORT_OBJECTS: usize = 20_000;

/// Copies component `id` of `src`, with what it holds (alarms), into `dst`; its new id.
fn copy_tree(src: &ICalendar, id: u32, dst: &mut ICalendar) -> u32 {
    let Some(c) = src.components.get(id as usize) else {
        return 0;
    };
    let new_id = dst.components.len() as u32;
    dst.components.push(ICalendarComponent {
        component_type: c.component_type.clone(),
        entries: c.entries.clone(),
        component_ids: Vec::new(),
    });
    let children: Vec<u32> = c
        .component_ids
        .iter()
        .map(|child| copy_tree(src, *child, dst))
        .collect();
    dst.components[new_id as usize].component_ids = children;
    new_id
}

fn tzid(c: &ICalendarComponent) -> Option<String> {
    c.property(&ICalendarProperty::Tzid)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .map(str::to_string)
}

/// A VCALENDAR holding what `objects` hold: each time zone once, then every event, task and
/// journal (an export of a calendar as one `.ics` file).
pub(crate) fn merge<'a>(objects: impl IntoIterator<Item = &'a str>) -> String {
    merge_parsed(objects.into_iter().filter_map(|t| parse(t).ok()))
}

/// `merge` of objects read already; each component is copied with what its tree holds.
pub(crate) fn merge_parsed(objects: impl IntoIterator<Item = ICalendar>) -> String {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Version, "2.0".to_string());
    root.add_property(
        ICalendarProperty::Prodid,
        "-//carepost//calendar//EN".to_string(),
    );
    let mut out = ICalendar {
        components: vec![root],
    };
    let mut zones = std::collections::HashSet::new();
    for ical in objects {
        for child in ical.components[0].component_ids.clone() {
            let c = &ical.components[child as usize];
            if c.component_type == ICalendarComponentType::VTimezone {
                // Each zone once; one without a TZID is of no use to anything.
                if !tzid(c).is_some_and(|z| zones.insert(z)) {
                    continue;
                }
            }
            let id = copy_tree(&ical, child, &mut out);
            out.components[0].component_ids.push(id);
        }
    }
    out.to_string()
}

/// The objects of a `.ics` file, one per UID, each with the file's time zones: what an import
/// stores. Components without a UID are refused.
pub(crate) fn split(text: &str) -> Result<Vec<(String, String)>, DavError> {
    let ical = parse(text)?;
    let children = ical.components[0].component_ids.clone();
    let zones: Vec<u32> = children
        .iter()
        .copied()
        .filter(|id| {
            ical.components[*id as usize].component_type == ICalendarComponentType::VTimezone
        })
        .collect();
    let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
    for id in children {
        let c = &ical.components[id as usize];
        if !matches!(
            c.component_type,
            ICalendarComponentType::VEvent
                | ICalendarComponentType::VTodo
                | ICalendarComponentType::VJournal
        ) {
            continue;
        }
        let Some(uid) = c.uid() else {
            return Err(invalid("a component in the file has no UID"));
        };
        match groups.iter_mut().find(|(u, _)| u == uid) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((uid.to_string(), vec![id])),
        }
        if groups.len() > MAX_IMPORT_OBJECTS {
            return Err(invalid("the file holds too many objects"));
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (uid, ids) in groups {
        let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
        // The file's own VERSION, PRODID and CALSCALE; a METHOD does not belong in a store.
        root.entries = ical.components[0]
            .entries
            .iter()
            .filter(|e| e.name != ICalendarProperty::Method)
            .cloned()
            .collect();
        let mut one = ICalendar {
            components: vec![root],
        };
        for id in zones.iter().chain(&ids) {
            let new = copy_tree(&ical, *id, &mut one);
            one.components[0].component_ids.push(new);
        }
        out.push((uid, one.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
        BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
        END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
        END:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
        BEGIN:VEVENT\r\nUID:ward-round\r\nDTSTAMP:20261201T000000Z\r\n\
        DTSTART;TZID=Europe/Berlin:20261020T090000\r\nDURATION:PT1H\r\n\
        RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Ward round\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_weekly_event_keeps_its_wall_clock_time_across_the_dst_change() {
        let i = inspect(WEEKLY).unwrap();
        assert_eq!(
            (i.uid.as_str(), i.component.as_str()),
            ("ward-round", "VEVENT")
        );
        // 20 Oct 2026 09:00 CEST is 07:00 UTC; 3 Nov (after the change) 09:00 CET is 08:00.
        assert_eq!(i.starts_at, Some(1_792_479_600));
        let (times, more) = instances(WEEKLY, None, Tz::Floating);
        assert!(!more);
        assert_eq!(times.len(), 4);
        assert_eq!(times[2].0, 1_792_479_600 + 14 * 86_400 + 3600);
        assert_eq!(i.ends_at, Some(times[3].1));
        // A range holding only the third instance meets it; one between instances does not.
        assert!(meets(
            WEEKLY,
            Some(times[2].0 - 60),
            Some(times[2].0 + 60),
            Tz::Floating
        ));
        assert!(!meets(
            WEEKLY,
            Some(times[0].1 + 60),
            Some(times[1].0 - 60),
            Tz::Floating
        ));
    }

    #[test]
    fn objects_that_are_not_one_thing_are_refused() {
        let two = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T090000Z\r\n\
            END:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT\r\n\
            END:VCALENDAR\r\n";
        assert!(matches!(inspect(two), Err(DavError::InvalidData(_))));
        let one = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T090000Z\r\n\
            END:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(inspect(one).is_ok());
        assert!(inspect(&format!("{one}{one}")).is_err());
        assert!(inspect("hello").is_err());
        assert!(inspect("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_err());
        let no_uid =
            "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert!(inspect(no_uid).is_err());
        let task = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let t = inspect(task).unwrap();
        assert_eq!((t.component.as_str(), t.starts_at), ("VTODO", None));
    }

    #[test]
    fn a_file_splits_by_uid_and_merges_back() {
        let two = WEEKLY.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nUID:other\r\nDTSTART;TZID=Europe/Berlin:20261021T090000\r\n\
             SUMMARY:Other\r\nEND:VEVENT\r\nEND:VCALENDAR",
        );
        let parts = split(&two).unwrap();
        assert_eq!(
            parts.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
            vec!["ward-round", "other"]
        );
        for (uid, text) in &parts {
            let i = inspect(text).unwrap();
            assert_eq!(&i.uid, uid);
            assert!(text.contains("TZID:Europe/Berlin"), "{text}");
        }
        let merged = merge(parts.iter().map(|(_, t)| t.as_str()));
        assert_eq!(merged.matches("BEGIN:VTIMEZONE").count(), 1, "{merged}");
        assert_eq!(merged.matches("BEGIN:VEVENT").count(), 2, "{merged}");
        assert_eq!(split(&merged).unwrap().len(), 2);
        assert!(
            split(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            .is_err()
        );
    }

    #[test]
    fn a_rota_begun_years_ago_is_found_in_this_month() {
        // A daily 08:00 Berlin rota since January 2017, without end, one day excepted: its
        // instances in December 2026 lie past the first 3,000 and are computed all the same.
        let rota = WEEKLY
            .replace(
                "DTSTART;TZID=Europe/Berlin:20261020T090000",
                "DTSTART;TZID=Europe/Berlin:20170105T080000",
            )
            .replace(
                "RRULE:FREQ=WEEKLY;COUNT=4",
                "RRULE:FREQ=DAILY\r\nEXDATE;TZID=Europe/Berlin:20261225T080000",
            );
        let dec1 = 1_796_083_200; // 2026-12-01T00:00:00Z
        let jan1 = dec1 + 31 * 86_400;
        let (times, _) = instances(&rota, Some(jan1), Tz::Floating);
        let december: Vec<i64> = times
            .iter()
            .map(|t| t.0)
            .filter(|&s| (dec1..jan1).contains(&s))
            .collect();
        assert_eq!(december.len(), 30, "31 days less Christmas");
        // 08:00 CET is 07:00 UTC.
        assert_eq!(december[0], dec1 + 7 * 3600);
        assert!(!december.contains(&(dec1 + 24 * 86_400 + 7 * 3600)));
        // In July, 08:00 CEST is 06:00 UTC.
        let jul1 = 1_782_864_000; // 2026-07-01T00:00:00Z
        let (july, _) = instances(&rota, Some(jul1 + 86_400), Tz::Floating);
        assert!(july.iter().any(|t| t.0 == jul1 + 6 * 3600));
        assert!(meets(&rota, Some(dec1), Some(dec1 + 86_400), Tz::Floating));
        assert!(!meets(
            &rota,
            Some(dec1 + 24 * 86_400 + 6 * 3600),
            Some(dec1 + 25 * 86_400),
            Tz::Floating,
        ));
        // A rule that ends before the range is not stretched by the cut.
        let ended = rota.replace(
            "RRULE:FREQ=DAILY",
            "RRULE:FREQ=DAILY;UNTIL=20200101T000000Z",
        );
        assert!(!meets(&ended, Some(dec1), Some(jan1), Tz::Floating));
    }

    #[test]
    fn a_calendar_timezone_names_one_known_zone() {
        let zone = |tzid: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nEND:VTIMEZONE\r\n\
                 END:VCALENDAR\r\n"
            )
        };
        let york = zone_of(&zone("America/New_York")).expect("a known zone");
        assert_eq!(york.name().as_deref(), Some("America/New_York"));
        assert_eq!(zone_of(&zone("Mars/Olympus_Mons")), Some(Tz::Floating));
        assert!(zone_of("not a calendar").is_none());
        let two = zone("Europe/Berlin").replace(
            "END:VCALENDAR",
            "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nEND:VTIMEZONE\r\nEND:VCALENDAR",
        );
        assert!(zone_of(&two).is_none(), "one zone, not two");
        // A floating time is read in the zone: half past midnight in New York is 05:30 UTC.
        let early = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\nDTSTART:20261207T003000\r\n\
            DTEND:20261207T013000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let (times, _) = instances(early, None, york);
        assert_eq!(times, vec![(1_796_621_400, 1_796_625_000)]);
    }

    #[test]
    fn an_endless_rule_is_bounded_in_work_but_not_in_time() {
        let daily = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART:20260101T080000Z\r\n\
            DURATION:PT30M\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let i = inspect(daily).unwrap();
        assert_eq!(i.ends_at, None);
        // Far past the instances computed, the rule still meets a range.
        assert!(meets(
            daily,
            Some(1_900_000_000),
            Some(1_900_000_600),
            Tz::Floating
        ));
    }
}
