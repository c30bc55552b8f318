//! Calendar queries (RFC 4791 section 9.7): whether an object meets a client's filter of
//! nested components, properties, parameters, text and time ranges, and the object as the
//! client asked to see it (`expand`: each instance in a range as its own component, in UTC).
//! Filters are evaluated on the object as the caller may see it, after a grantee's private
//! events were cut to "Busy", so a text match never reveals what the caller cannot read.
//! The types are the calendar's own; the web layer reads them from the DAV request.

use crate::ical;
use crate::{Calendars, Collection, DavError, DavObject};
use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::timezone::TzResolver;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameter,
    ICalendarParameterName, ICalendarProperty, ICalendarValue, ICalendarValueType,
};
use carepost_store::DavRepo;
use std::cell::OnceCell;
use std::collections::HashMap;

/// A time range, seconds since the epoch; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// How two strings compare (RFC 4790 collations, as RFC 4791 section 7.5 names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    Octet,
    AsciiCasemap,
    UnicodeCasemap,
}

impl Collation {
    /// The collation of that name, `None` when it is not one a server must know.
    pub fn named(name: &str) -> Option<Collation> {
        match name {
            "i;octet" => Some(Collation::Octet),
            "i;ascii-casemap" => Some(Collation::AsciiCasemap),
            "i;unicode-casemap" => Some(Collation::UnicodeCasemap),
            _ => None,
        }
    }

    fn fold(self, s: &str) -> String {
        match self {
            Collation::Octet => s.to_string(),
            Collation::AsciiCasemap => s.to_ascii_lowercase(),
            Collation::UnicodeCasemap => s.to_lowercase(),
        }
    }
}

/// A `text-match`; its text is folded by its collation once, when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    folded: String,
    negate: bool,
    collation: Collation,
}

impl TextQuery {
    pub fn new(text: &str, negate: bool, collation: Collation) -> TextQuery {
        TextQuery {
            folded: collation.fold(text),
            negate,
            collation,
        }
    }

    /// RFC 4791 section 9.7.5: a substring match, negated on request.
    fn matches(&self, value: &str) -> bool {
        let hit = self.collation.fold(value).contains(&self.folded);
        hit != self.negate
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamQuery {
    pub name: String,
    pub is_not_defined: bool,
    pub text: Option<TextQuery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropQuery {
    pub name: String,
    pub is_not_defined: bool,
    pub range: Option<Range>,
    pub text: Option<TextQuery>,
    pub params: Vec<ParamQuery>,
}

/// A `comp-filter`; the outermost is `VCALENDAR` (an empty name matches every object).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompQuery {
    pub name: String,
    pub is_not_defined: bool,
    pub range: Option<Range>,
    pub comps: Vec<CompQuery>,
    pub props: Vec<PropQuery>,
}

/// Why a filter cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswerable {
    /// `valid-filter`: the outermost component is not VCALENDAR.
    Invalid,
    /// `supported-filter`: a time range on a component whose times the server does not
    /// compute (alarms, free/busy, time zones).
    Unsupported,
}

impl CompQuery {
    /// Checks the filter before any object is read.
    pub fn check(&self) -> Result<(), Unanswerable> {
        if !self.name.is_empty() && !self.name.eq_ignore_ascii_case("VCALENDAR") {
            return Err(Unanswerable::Invalid);
        }
        fn walk(q: &CompQuery) -> Result<(), Unanswerable> {
            if q.range.is_some() && !matches!(q.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL") {
                return Err(Unanswerable::Unsupported);
            }
            q.comps.iter().try_for_each(walk)
        }
        if self.range.is_some() {
            return Err(Unanswerable::Unsupported);
        }
        self.comps.iter().try_for_each(walk)
    }

    /// The latest end of the filter's time ranges: how far instances must be computed to
    /// answer it (`None`, all of them, when a range has no end).
    fn latest_end(&self) -> Option<i64> {
        fn walk(q: &CompQuery, ends: &mut Vec<Option<i64>>) {
            if let Some(r) = q.range {
                ends.push(r.end);
            }
            q.comps.iter().for_each(|c| walk(c, ends));
        }
        let mut ends = Vec::new();
        walk(self, &mut ends);
        ends.into_iter()
            .try_fold(None, |latest: Option<i64>, end| {
                end.map(|e| Some(latest.map_or(e, |l| l.max(e))))
            })?
    }

    /// The range and component kind every match must have, for the store to narrow the
    /// objects read: the first inner component's (the inner filters must all match).
    fn narrowing(&self) -> (Option<&str>, Range) {
        let Some(inner) = self.comps.iter().find(|c| !c.is_not_defined) else {
            return (None, Range::default());
        };
        (Some(inner.name.as_str()), inner.range.unwrap_or_default())
    }
}

/// Each instance as (component, start, end) in the order calcard gives them, the same by
/// component, and whether a rule goes on past them.
struct Instances {
    all: Vec<(u32, i64, i64)>,
    by_component: HashMap<u32, Vec<(i64, i64)>>,
    more: bool,
}

/// One parsed object and, computed once when first asked, its instances and the resolver of
/// its time zones.
struct Object<'a> {
    ical: &'a ICalendar,
    /// The end of the latest range asked about: instances are computed up to it.
    until: Option<i64>,
    /// The calendar's zone, for floating times and all-day dates.
    zone: Tz,
    instances: OnceCell<Instances>,
    resolver: OnceCell<TzResolver<&'a str>>,
}

impl<'a> Object<'a> {
    fn new(ical: &'a ICalendar, until: Option<i64>, zone: Tz) -> Object<'a> {
        Object {
            ical,
            until,
            zone,
            instances: OnceCell::new(),
            resolver: OnceCell::new(),
        }
    }

    fn component(&self, id: u32) -> Option<&'a ICalendarComponent> {
        self.ical.components.get(id as usize)
    }

    fn resolver(&self) -> &TzResolver<&'a str> {
        self.resolver
            .get_or_init(|| self.ical.build_tz_resolver().with_default(self.zone))
    }

    /// The UTC second a date-time property names, read in its own time zone.
    fn seconds(&self, e: &ICalendarEntry) -> Option<i64> {
        let tzid = e
            .parameter(&ICalendarParameterName::Tzid)
            .and_then(|p| p.as_text());
        e.values
            .first()?
            .as_partial_date_time()?
            .to_date_time_with_tz(self.resolver().resolve_or_default(tzid))
            .map(|d| d.timestamp())
    }

    fn instances(&self) -> &Instances {
        self.instances.get_or_init(|| {
            let (expanded, more) = ical::expand_to(self.ical, self.until, self.zone);
            let mut all = Vec::with_capacity(expanded.events.len());
            let mut by_component: HashMap<u32, Vec<(i64, i64)>> = HashMap::new();
            for e in &expanded.events {
                let (s, end) = e.timestamps();
                all.push((e.comp_id, s, end));
                by_component.entry(e.comp_id).or_default().push((s, end));
            }
            Instances {
                all,
                by_component,
                more,
            }
        })
    }

    /// Whether component `id` has an instance in `r` (RFC 4791 section 9.9). A task without
    /// any time meets every range, as the RFC's table says.
    fn meets(&self, id: u32, r: Range) -> bool {
        let instances = self.instances();
        let times = instances
            .by_component
            .get(&id)
            .map_or(&[][..], Vec::as_slice);
        let more = instances.more;
        if times.is_empty() {
            return self
                .component(id)
                .is_some_and(|c| c.component_type == ICalendarComponentType::VTodo);
        }
        ical::hits(times, more, r.start, r.end)
    }

    fn comp_matches(&self, within: &[u32], q: &CompQuery) -> bool {
        let mut named = within.iter().copied().filter(|&id| {
            self.component(id)
                .is_some_and(|c| c.component_type.as_str().eq_ignore_ascii_case(&q.name))
        });
        if q.is_not_defined {
            return named.next().is_none();
        }
        named.any(|id| {
            let Some(c) = self.component(id) else {
                return false;
            };
            q.range.is_none_or(|r| self.meets(id, r))
                && q.props.iter().all(|p| self.prop_matches(c, p))
                && q.comps
                    .iter()
                    .all(|inner| self.comp_matches(&c.component_ids, inner))
        })
    }

    fn prop_matches(&self, c: &ICalendarComponent, q: &PropQuery) -> bool {
        let mut named = c
            .entries
            .iter()
            .filter(|e| e.name.as_str().eq_ignore_ascii_case(&q.name));
        if q.is_not_defined {
            return named.next().is_none();
        }
        named.any(|e| {
            q.range.is_none_or(|r| self.time_in(e, r))
                && q.text.as_ref().is_none_or(|t| t.matches(&value_text(e)))
                && q.params.iter().all(|p| param_matches(e, p))
        })
    }

    /// A date-time property in `r`: start <= value < end (RFC 4791 section 9.9).
    fn time_in(&self, e: &ICalendarEntry, r: Range) -> bool {
        self.seconds(e)
            .is_some_and(|t| r.start.is_none_or(|s| t >= s) && r.end.is_none_or(|end| t < end))
    }
}

fn value_text(e: &ICalendarEntry) -> String {
    let parts: Vec<String> = e
        .values
        .iter()
        .filter_map(|v| v.clone().into_text().map(|t| t.into_owned()))
        .collect();
    parts.join(",")
}

fn param_matches(e: &ICalendarEntry, q: &ParamQuery) -> bool {
    let mut named = e
        .params
        .iter()
        .filter(|p| p.name.as_str().eq_ignore_ascii_case(&q.name));
    if q.is_not_defined {
        return named.next().is_none();
    }
    named.any(|p| {
        q.text.as_ref().is_none_or(|t| {
            p.value
                .clone()
                .into_text()
                .is_some_and(|v| t.matches(v.as_ref()))
        })
    })
}

/// Whether the object `text` meets the filter `q`, its floating times read in `zone`.
pub fn object_matches(text: &str, q: &CompQuery, zone: Tz) -> bool {
    if q.name.is_empty() {
        return true;
    }
    let Ok(ical) = ical::parse(text) else {
        return false;
    };
    let o = Object::new(&ical, q.latest_end(), zone);
    q.comps.iter().all(|inner| {
        o.component(0)
            .is_some_and(|root| o.comp_matches(&root.component_ids, inner))
    }) && o
        .component(0)
        .is_some_and(|root| q.props.iter().all(|p| o.prop_matches(root, p)))
}

/// Properties an expanded instance does not carry over from its component: the recurrence
/// itself and the times, which are written again in UTC.
fn recurrence_or_time(p: &ICalendarProperty) -> bool {
    matches!(
        p,
        ICalendarProperty::Dtstart
            | ICalendarProperty::Dtend
            | ICalendarProperty::Due
            | ICalendarProperty::Rrule
            | ICalendarProperty::Rdate
            | ICalendarProperty::Exdate
            | ICalendarProperty::Exrule
            | ICalendarProperty::RecurrenceId
    )
}

fn utc(name: ICalendarProperty, at: i64, date_only: bool) -> ICalendarEntry {
    if date_only {
        ICalendarEntry::new(name)
            .with_param(ICalendarParameter::new(
                ICalendarParameterName::Value,
                ICalendarValueType::Date,
            ))
            .with_value(ICalendarValue::PartialDateTime(Box::new(
                PartialDateTime::from_date_timestamp(at),
            )))
    } else {
        ICalendarEntry::new(name).with_value(ICalendarValue::PartialDateTime(Box::new(
            PartialDateTime::from_utc_timestamp(at),
        )))
    }
}

/// An expansion went past the bytes it was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// The object with each instance meeting `r` as a component of its own, times in UTC, a
/// RECURRENCE-ID on each instance of a recurring one, no rule and no time zones (RFC 4791
/// section 9.6.5). Floating times are read in `zone`, as in the query. `Ok(None)` when it is not
/// a valid object; `TooLarge` as soon as the instances written come to more than `budget`
/// bytes (each is a copy of its component: a large object repeated daily would otherwise
/// make gigabytes), which is taken off the budget as it goes.
pub fn expanded(
    text: &str,
    r: Range,
    zone: Tz,
    budget: &mut usize,
) -> Result<Option<String>, TooLarge> {
    let Ok(ical) = ical::parse(text) else {
        return Ok(None);
    };
    let o = Object::new(&ical, r.end, zone);
    let Some(root) = o.component(0) else {
        return Ok(None);
    };
    let recurring = ical.components.iter().any(|c| c.is_recurrent_or_override());
    let mut out = ICalendar {
        components: vec![ICalendarComponent {
            component_type: ICalendarComponentType::VCalendar,
            entries: root.entries.clone(),
            component_ids: Vec::new(),
        }],
    };
    for &(id, start, end) in &o.instances().all {
        if !ical::hits(&[(start, end)], false, r.start, r.end) {
            continue;
        }
        let Some(c) = o.component(id) else { continue };
        let cost = c.size()
            + c.component_ids
                .iter()
                .filter_map(|&a| o.component(a))
                .map(ICalendarComponent::size)
                .sum::<usize>();
        *budget = budget.checked_sub(cost).ok_or(TooLarge)?;
        let date_only = c
            .property(&ICalendarProperty::Dtstart)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_partial_date_time())
            .is_some_and(|d| !d.has_time());
        let mut entries: Vec<ICalendarEntry> = c
            .entries
            .iter()
            .filter(|e| !recurrence_or_time(&e.name) && e.name != ICalendarProperty::Duration)
            .cloned()
            .collect();
        entries.push(utc(ICalendarProperty::Dtstart, start, date_only));
        if end != start || c.property(&ICalendarProperty::Dtend).is_some() {
            let name = if c.component_type == ICalendarComponentType::VTodo {
                ICalendarProperty::Due
            } else {
                ICalendarProperty::Dtend
            };
            entries.push(utc(name, end, date_only));
        }
        if recurring {
            // An override keeps the instance it replaces; others are named by their start.
            let rid = c
                .property(&ICalendarProperty::RecurrenceId)
                .and_then(|e| o.seconds(e))
                .unwrap_or(start);
            entries.push(utc(ICalendarProperty::RecurrenceId, rid, date_only));
        }
        // The instance's alarms come along; everything below them is copied as it is.
        let mut alarms = Vec::new();
        let at = |out: &ICalendar| u32::try_from(out.components.len()).map_err(|_| TooLarge);
        for &child in &c.component_ids {
            if let Some(a) = o.component(child) {
                alarms.push(at(&out)?);
                out.components.push(ICalendarComponent {
                    component_ids: Vec::new(),
                    ..a.clone()
                });
            }
        }
        let here = at(&out)?;
        out.components[0].component_ids.push(here);
        out.components.push(ICalendarComponent {
            component_type: c.component_type.clone(),
            entries,
            component_ids: alarms,
        });
    }
    Ok(Some(out.to_string()))
}

impl Calendars {
    /// The objects of `c` that meet the filter `q`, as the caller may see them; at most
    /// `limit` (the caller refuses an answer that would be longer).
    pub async fn query(
        &self,
        c: &Collection,
        q: &CompQuery,
        limit: usize,
    ) -> Result<Vec<DavObject>, DavError> {
        let (component, range) = q.narrowing();
        let component = component.map(str::to_string);
        let rows = {
            let mut read = self.store.read().await?;
            let (start, end) = (
                crate::widened(range.start, -1),
                crate::widened(range.end, 1),
            );
            read.dav_objects_in_span(c.id, start, end).await?
        };
        // Every object the span did not rule out is parsed and its rules computed: seconds of
        // work for a large calendar of long rotas, so on a blocking thread, where it does
        // not hold up the requests of others.
        let (c, q) = (c.clone(), q.clone());
        let matching = self.off_task(move || {
            rows.into_iter()
                .filter(|r| {
                    component
                        .as_deref()
                        .is_none_or(|k| r.component.eq_ignore_ascii_case(k))
                })
                .map(|r| c.shown(r))
                .filter(|o| object_matches(&o.data, &q, c.zone))
                .take(limit)
                .collect()
        });
        joined(matching).await
    }

    /// Starts `work` on a blocking thread once one of the `matching` permits is free (the
    /// permit is held until the work ends, even when the client has gone): expansion and
    /// matching may take a core for a long while, and must neither hold up other requests'
    /// tasks nor, many at once, fill the blocking threads. It returns at once, without
    /// waiting for the permit, so a caller holding a read transaction (free/busy, reading
    /// the next person meanwhile) never keeps its store connection while it queues.
    pub(crate) fn off_task<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T, DavError>> {
        let permits = self.matching.clone();
        tokio::spawn(async move {
            let permit = permits
                .acquire_owned()
                .await
                .map_err(|_| DavError::Invalid("the server is stopping".into()))?;
            let done = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work()
            })
            .await;
            finished(done)
        })
    }
}

/// The answer of work started by `off_task`.
pub(crate) async fn joined<T>(
    handle: tokio::task::JoinHandle<Result<T, DavError>>,
) -> Result<T, DavError> {
    finished(handle.await)?
}

/// What a finished task gave. A panic in it is the caller's, as it was before the hand-off;
/// a task cancelled means the runtime is shutting down.
fn finished<T>(done: Result<T, tokio::task::JoinError>) -> Result<T, DavError> {
    match done.map_err(tokio::task::JoinError::try_into_panic) {
        Ok(out) => Ok(out),
        Err(Ok(panic)) => std::panic::resume_unwind(panic),
        Err(Err(_)) => Err(DavError::Invalid("the server is stopping".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
        BEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20261201T000000Z\r\n\
        DTSTART:20261207T090000Z\r\nDTEND:20261207T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n\
        SUMMARY:Ward round\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20261201T000000Z\r\n\
        RECURRENCE-ID:20261214T090000Z\r\nDTSTART:20261214T110000Z\r\n\
        DTEND:20261214T120000Z\r\nSUMMARY:Ward round (moved)\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";

    const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
        BEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Order gloves\r\n\
        END:VTODO\r\nEND:VCALENDAR\r\n";

    fn text(s: &str) -> Option<TextQuery> {
        Some(TextQuery::new(s, false, Collation::AsciiCasemap))
    }

    fn calendar(inner: CompQuery) -> CompQuery {
        CompQuery {
            name: "VCALENDAR".into(),
            comps: vec![inner],
            ..CompQuery::default()
        }
    }

    fn prop(name: &str, q: PropQuery) -> PropQuery {
        PropQuery {
            name: name.into(),
            ..q
        }
    }

    const DEC_14: i64 = 1_797_206_400; // 2026-12-14T00:00:00Z

    #[test]
    fn text_and_property_filters() {
        let by_summary = |s: &str, negate| {
            calendar(CompQuery {
                name: "VEVENT".into(),
                props: vec![prop(
                    "SUMMARY",
                    PropQuery {
                        text: Some(TextQuery::new(s, negate, Collation::AsciiCasemap)),
                        ..PropQuery::default()
                    },
                )],
                ..CompQuery::default()
            })
        };
        assert!(object_matches(
            WEEKLY,
            &by_summary("WARD", false),
            Tz::Floating
        ));
        assert!(!object_matches(
            WEEKLY,
            &by_summary("theatre", false),
            Tz::Floating
        ));
        assert!(object_matches(
            WEEKLY,
            &by_summary("theatre", true),
            Tz::Floating
        ));
        assert!(!object_matches(
            TODO,
            &by_summary("order", false),
            Tz::Floating
        ));
        // Octet compares case.
        let mut q = by_summary("WARD", false);
        q.comps[0].props[0].text = Some(TextQuery::new("WARD", false, Collation::Octet));
        assert!(!object_matches(WEEKLY, &q, Tz::Floating));
        // A task that is not completed: COMPLETED is not defined.
        let open = calendar(CompQuery {
            name: "VTODO".into(),
            props: vec![prop(
                "COMPLETED",
                PropQuery {
                    is_not_defined: true,
                    ..PropQuery::default()
                },
            )],
            ..CompQuery::default()
        });
        assert!(object_matches(TODO, &open, Tz::Floating));
        assert!(!object_matches(
            &TODO.replace("SUMMARY", "COMPLETED:20261202T000000Z\r\nSUMMARY"),
            &open,
            Tz::Floating
        ));
        // A parameter: attendees who accepted.
        let accepted = calendar(CompQuery {
            name: "VEVENT".into(),
            props: vec![prop(
                "ATTENDEE",
                PropQuery {
                    params: vec![ParamQuery {
                        name: "PARTSTAT".into(),
                        text: text("accepted"),
                        ..ParamQuery::default()
                    }],
                    ..PropQuery::default()
                },
            )],
            ..CompQuery::default()
        });
        assert!(object_matches(WEEKLY, &accepted, Tz::Floating));
        assert!(!object_matches(
            &WEEKLY.replace("ACCEPTED", "DECLINED"),
            &accepted,
            Tz::Floating
        ));
        // An alarm inside the event, and a component that is not there.
        let with_alarm = calendar(CompQuery {
            name: "VEVENT".into(),
            comps: vec![CompQuery {
                name: "VALARM".into(),
                ..CompQuery::default()
            }],
            ..CompQuery::default()
        });
        assert!(object_matches(WEEKLY, &with_alarm, Tz::Floating));
        assert!(!object_matches(TODO, &with_alarm, Tz::Floating));
        let no_event = calendar(CompQuery {
            name: "VEVENT".into(),
            is_not_defined: true,
            ..CompQuery::default()
        });
        assert!(object_matches(TODO, &no_event, Tz::Floating));
        assert!(!object_matches(WEEKLY, &no_event, Tz::Floating));
    }

    #[test]
    fn time_ranges_and_checks() {
        let in_range = |start, end| {
            calendar(CompQuery {
                name: "VEVENT".into(),
                range: Some(Range {
                    start: Some(start),
                    end: Some(end),
                }),
                ..CompQuery::default()
            })
        };
        // The override (11:00 on the 14th) meets 10:30-11:30; the master's 9:00 does not.
        let h = 3600;
        assert!(object_matches(
            WEEKLY,
            &in_range(DEC_14 + 10 * h + 1800, DEC_14 + 11 * h + 1800),
            Tz::Floating
        ));
        assert!(!object_matches(
            WEEKLY,
            &in_range(DEC_14 + 9 * h, DEC_14 + 10 * h),
            Tz::Floating
        ));
        // After the fourth instance, nothing.
        assert!(!object_matches(
            WEEKLY,
            &in_range(DEC_14 + 30 * 86_400, DEC_14 + 40 * 86_400),
            Tz::Floating
        ));
        // A DTSTAMP in a range (a property time range).
        let stamped = calendar(CompQuery {
            name: "VEVENT".into(),
            props: vec![prop(
                "DTSTAMP",
                PropQuery {
                    range: Some(Range {
                        start: Some(DEC_14 - 14 * 86_400),
                        end: Some(DEC_14 - 12 * 86_400),
                    }),
                    ..PropQuery::default()
                },
            )],
            ..CompQuery::default()
        });
        assert!(object_matches(WEEKLY, &stamped, Tz::Floating));
        // Alarms' times are not computed: such a filter is refused, as is a non-calendar root.
        let mut alarm = with_range_on("VALARM");
        assert_eq!(alarm.check(), Err(Unanswerable::Unsupported));
        alarm.name = "VEVENT".into();
        assert_eq!(alarm.check(), Err(Unanswerable::Invalid));
        assert_eq!(in_range(0, 1).check(), Ok(()));
    }

    fn with_range_on(name: &str) -> CompQuery {
        calendar(CompQuery {
            name: "VEVENT".into(),
            comps: vec![CompQuery {
                name: name.into(),
                range: Some(Range {
                    start: Some(0),
                    end: Some(1),
                }),
                ..CompQuery::default()
            }],
            ..CompQuery::default()
        })
    }

    #[test]
    fn expansion_writes_each_instance_in_utc() {
        let week = Range {
            start: Some(DEC_14 - 7 * 86_400),
            end: Some(DEC_14 + 7 * 86_400),
        };
        let out = expanded(WEEKLY, week, Tz::Floating, &mut { usize::MAX })
            .unwrap()
            .unwrap();
        assert_eq!(out.matches("BEGIN:VEVENT").count(), 2, "{out}");
        assert!(!out.contains("RRULE"), "{out}");
        assert!(out.contains("RECURRENCE-ID:20261207T090000Z"), "{out}");
        assert!(out.contains("RECURRENCE-ID:20261214T090000Z"), "{out}");
        assert!(out.contains("DTSTART:20261214T110000Z"), "{out}");
        assert!(out.contains("SUMMARY:Ward round (moved)"), "{out}");
        assert_eq!(out.matches("BEGIN:VALARM").count(), 1, "{out}");
        // What comes out is an object calcard reads again, with one UID.
        assert!(crate::ical::inspect(&out).is_ok(), "{out}");
        // A time zone's local times come out in UTC.
        let zoned = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
            BEGIN:VEVENT\r\nUID:z\r\nDTSTAMP:20261201T000000Z\r\n\
            DTSTART;TZID=Europe/Berlin:20261214T090000\r\n\
            DTEND;TZID=Europe/Berlin:20261214T093000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = expanded(zoned, week, Tz::Floating, &mut { usize::MAX })
            .unwrap()
            .unwrap();
        assert!(out.contains("DTSTART:20261214T080000Z"), "{out}");
        assert!(out.contains("DTEND:20261214T083000Z"), "{out}");
        assert!(!out.contains("RECURRENCE-ID"), "{out}");
        // All-day events stay dates.
        let all_day = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
            BEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20261201T000000Z\r\n\
            DTSTART;VALUE=DATE:20261214\r\nDTEND;VALUE=DATE:20261215\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = expanded(all_day, week, Tz::Floating, &mut { usize::MAX })
            .unwrap()
            .unwrap();
        assert!(out.contains("DTSTART;VALUE=DATE:20261214"), "{out}");
        // Past its budget an expansion stops, whatever the object is.
        let mut small = 100;
        assert_eq!(
            expanded(WEEKLY, week, Tz::Floating, &mut small),
            Err(TooLarge)
        );
    }
}
