//! Changing and cancelling an event from the portal's calendar page: a new title, place,
//! description or time, attendees added or taken off, or the event cancelled. The stored
//! object is changed through calcard's model (everything a calendar app put in it stays) and
//! written back like any client's write, with the ETag it was read with: the scheduler then
//! sends what a calendar app's change would (a REQUEST to those who have the meeting, an
//! invitation to those added, a CANCEL to those taken off, rooms asked again), and a change
//! made meanwhile on another device is never overwritten. Only the organizer changes a
//! meeting; the times of a recurring event are left to calendar apps, which have the words
//! for "this and following".

use crate::agenda::{check_texts, check_times, checked_title, escape, utc};
use crate::{Calendars, Conditions, DavError, itip};
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty,
};
use carepost_types::AccountId;
use serde::Deserialize;

/// A change to an event: what is absent stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventChange {
    #[serde(default)]
    pub title: Option<String>,
    /// Seconds since the epoch; `start` and `end` come together.
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
    /// An empty place or description takes it off.
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Everyone invited besides the organizer: who is left out is sent a cancellation, who
    /// is new an invitation.
    #[serde(default)]
    pub attendees: Option<Vec<String>>,
}

/// The entries of `lines` (iCalendar content lines of one event), read by calcard: the
/// escapes and parameters are then calcard's own, as in an object it parsed.
fn entries(lines: &[String]) -> Result<Vec<ICalendarEntry>, DavError> {
    let text = format!(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        lines.join("\r\n")
    );
    let ical = ICalendar::parse(&text)
        .map_err(|_| DavError::Invalid("the change could not be written".into()))?;
    ical.components
        .into_iter()
        .find(|c| c.component_type == ICalendarComponentType::VEvent)
        .map(|c| c.entries)
        .ok_or_else(|| DavError::Invalid("the change could not be written".into()))
}

/// What a component says for `name`, to compare with another's.
fn said(c: &ICalendarComponent, name: &ICalendarProperty) -> Vec<String> {
    c.entries
        .iter()
        .filter(|e| e.name == *name)
        .map(|e| format!("{:?}", e.values))
        .collect()
}

/// Puts `with` in place of every `name` entry of the entries (none: the property goes).
fn replace(entries: &mut Vec<ICalendarEntry>, name: ICalendarProperty, with: Vec<ICalendarEntry>) {
    entries.retain(|e| e.name != name);
    entries.extend(with);
}

impl Calendars {
    /// Reads the event `object` of `account`'s own calendar `slug` for a change by its
    /// owner `me`: refused when it is someone else's meeting.
    async fn own_event(
        &self,
        account: AccountId,
        me: &str,
        slug: &str,
        object: &str,
    ) -> Result<(crate::Collection, crate::DavObject, ICalendar), DavError> {
        if slug.starts_with(crate::SHARED_PREFIX) {
            return Err(DavError::Forbidden(
                "events are changed here in one's own calendars".into(),
            ));
        }
        let c = self.calendar(account, slug).await?;
        let o = self.object(&c, object).await?;
        let ical = ICalendar::parse(&o.data)
            .map_err(|_| DavError::InvalidData("the event cannot be read".into()))?;
        if !ical
            .components
            .iter()
            .any(|c| c.component_type == ICalendarComponentType::VEvent)
        {
            return Err(DavError::Invalid("that is not an event".into()));
        }
        if itip::roles(&ical)
            .organizer
            .is_some_and(|organizer| organizer != me)
        {
            return Err(DavError::Forbidden(
                "only the organizer changes a meeting; answer it instead".into(),
            ));
        }
        Ok((c, o, ical))
    }

    /// `address` (the owner of `account`) changes its event `object` in calendar `slug`.
    pub async fn change_event(
        &self,
        account: AccountId,
        address: &str,
        slug: &str,
        object: &str,
        change: &EventChange,
    ) -> Result<(), DavError> {
        let me = address.to_lowercase();
        let (c, o, mut ical) = self.own_event(account, &me, slug, object).await?;
        let recurring = ical.components.iter().any(|c| c.is_recurrent_or_override());
        let mut common: Vec<(ICalendarProperty, Vec<ICalendarEntry>)> = Vec::new();
        if let Some(title) = &change.title {
            let line = format!("SUMMARY:{}", escape(checked_title(title)?));
            common.push((ICalendarProperty::Summary, entries(&[line])?));
        }
        let texts = [
            (ICalendarProperty::Location, "LOCATION", &change.location),
            (
                ICalendarProperty::Description,
                "DESCRIPTION",
                &change.description,
            ),
        ];
        check_texts(
            change.location.as_deref().unwrap_or_default(),
            change.description.as_deref().unwrap_or_default(),
        )?;
        for (name, word, value) in texts {
            let Some(value) = value else { continue };
            let value = value.trim();
            let lines = if value.is_empty() {
                Vec::new()
            } else {
                entries(&[format!("{word}:{}", escape(value))])?
            };
            common.push((name, lines));
        }
        let mut times = None;
        match (change.start, change.end) {
            (None, None) => {}
            // The times it has already: nothing to move (a time zone the calendar app
            // wrote is kept, and nobody is asked again).
            (Some(start), Some(end))
                if !recurring
                    && crate::ical::instances(&o.data, None, c.zone).0 == [(start, end)] => {}
            (Some(start), Some(end)) if !recurring => {
                check_times(start, end)?;
                times = Some(entries(&[
                    format!("DTSTART:{}", utc(start)?),
                    format!("DTEND:{}", utc(end)?),
                ])?);
            }
            (Some(_), Some(_)) => {
                return Err(DavError::Invalid(
                    "the times of a recurring event are changed in a calendar app".into(),
                ));
            }
            _ => return Err(DavError::Invalid("a start and an end together".into())),
        }
        // Who is added and who taken off, against the whole meeting (an attendee of one
        // instance only stays where they are unless the list leaves them out). Only the
        // addresses added are checked: one a calendar app wrote stays as it wrote it.
        let current: Vec<String> = itip::roles(&ical)
            .attendees
            .into_iter()
            .map(|a| a.address)
            .collect();
        let (added, removed) = match &change.attendees {
            Some(list) => {
                let wanted: Vec<String> = list.iter().map(|a| a.trim().to_lowercase()).collect();
                let new: Vec<String> = wanted
                    .iter()
                    .filter(|a| !current.contains(a))
                    .cloned()
                    .collect();
                let gone: Vec<String> = current
                    .iter()
                    .filter(|a| !wanted.contains(a))
                    .cloned()
                    .collect();
                (self.attendee_lines(&me, &new).await?, gone)
            }
            None => (Vec::new(), Vec::new()),
        };
        // What the series said before: an instance with a text of its own keeps it.
        let master_said = |name: &ICalendarProperty| -> Vec<String> {
            ical.components
                .iter()
                .find(|c| {
                    c.component_type == ICalendarComponentType::VEvent
                        && !c.is_recurrence_override()
                })
                .map(|c| said(c, name))
                .unwrap_or_default()
        };
        let before: Vec<Vec<String>> = common.iter().map(|(name, _)| master_said(name)).collect();
        let now = utc(self.clock.now().0 / 1000)?;
        let sequence = itip::sequence(&ical) + 1;
        let stamps = entries(&[format!("DTSTAMP:{now}"), format!("SEQUENCE:{sequence}")])?;
        let was_meeting = itip::roles(&ical).organizer.is_some();
        let head = entries(&[
            format!("ORGANIZER:mailto:{me}"),
            format!("ATTENDEE;PARTSTAT=ACCEPTED:mailto:{me}"),
        ])?;
        let added_lines = if added.is_empty() {
            Vec::new()
        } else {
            entries(&added.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>())?
        };
        for comp in ical
            .components
            .iter_mut()
            .filter(|c| c.component_type == ICalendarComponentType::VEvent)
        {
            for ((name, with), was) in common.iter().zip(&before) {
                if !comp.is_recurrence_override() || said(comp, name) == *was {
                    replace(&mut comp.entries, name.clone(), with.clone());
                }
            }
            if let Some(t) = &times {
                comp.entries.retain(|e| {
                    !matches!(
                        e.name,
                        ICalendarProperty::Dtstart
                            | ICalendarProperty::Dtend
                            | ICalendarProperty::Duration
                    )
                });
                comp.entries.extend(t.iter().cloned());
            }
            comp.entries.retain(|e| {
                e.name != ICalendarProperty::Attendee
                    || !e
                        .calendar_address()
                        .is_some_and(|a| removed.contains(&a.to_lowercase()))
            });
            if !was_meeting && !added.is_empty() {
                comp.entries.extend(head.iter().cloned());
            }
            comp.entries.extend(added_lines.iter().cloned());
            for e in &stamps {
                replace(&mut comp.entries, e.name.clone(), vec![e.clone()]);
            }
        }
        let conditions = Conditions {
            if_match: Some(crate::quoted(&o.etag)),
            if_none_match_any: false,
        };
        self.put(&c, object, &ical.to_string(), &conditions).await?;
        Ok(())
    }

    /// `address` cancels its event `object` in calendar `slug`: a meeting's attendees are
    /// sent a cancellation and its rooms freed, as when a calendar app deletes it.
    pub async fn cancel_event(
        &self,
        account: AccountId,
        address: &str,
        slug: &str,
        object: &str,
    ) -> Result<(), DavError> {
        let me = address.to_lowercase();
        let (c, o, _) = self.own_event(account, &me, slug, object).await?;
        let conditions = Conditions {
            if_match: Some(crate::quoted(&o.etag)),
            if_none_match_any: false,
        };
        self.remove(&c, object, &conditions).await
    }
}
