//! A person's calendar as a page shows it: every instance of the events in their own
//! calendars and in those shared with them over a range, expanded with calcard (recurrences,
//! overridden instances, time zones), with their own answer where they are invited; and the
//! two things the portal's calendar page does besides reading: create an event or meeting
//! (scheduled like any other write), and answer an invitation. What a grantee may not see
//! (private events) comes out as "Busy", as over DAV.

use crate::{Calendars, Collection, Conditions, DavError, Kind, itip};
use calcard::icalendar::{ICalendar, ICalendarParticipationStatus, ICalendarProperty};
use carepost_types::AccountId;
use serde::{Deserialize, Serialize};

/// The longest range one question covers, and the instances it answers with at most.
pub const MAX_AGENDA_DAYS: i64 = 62;
const MAX_OCCURRENCES: usize = 2000;

/// One instance of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    /// The calendar's path segment (`shared-ID` for one shared with the person) and name.
    pub calendar: String,
    pub calendar_name: String,
    /// The object's name in its calendar.
    pub object: String,
    pub uid: String,
    pub summary: String,
    pub location: String,
    /// Seconds since the epoch.
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    pub organizer: Option<String>,
    /// The person's own answer (`needs-action`, `accepted`, `declined`, `tentative`) when
    /// they are invited by someone else.
    pub my_answer: Option<String>,
    pub attendees: usize,
    /// Whom the person invited, in a meeting of their own (empty otherwise: another's
    /// meeting or a shared calendar says only how many).
    pub invited: Vec<String>,
    /// Part of a recurring event (its times are changed in a calendar app).
    pub recurring: bool,
    /// Whose calendar it is, when not the person's own.
    pub owner: Option<String>,
    pub cancelled: bool,
    /// Whether the person may change and cancel it here (`PATCH`/`DELETE` of the event): it
    /// is in their own calendar and not someone else's meeting. The same rule the change
    /// itself is held to, so a page never offers what would be refused.
    pub editable: bool,
}

/// A new event or meeting from the portal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEvent {
    /// An own calendar's path segment (`calendar` when none).
    #[serde(default)]
    pub calendar: Option<String>,
    pub title: String,
    /// Seconds since the epoch.
    pub start: i64,
    pub end: i64,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub description: String,
    /// Addresses of colleagues, rooms and equipment (and people outside) to invite.
    #[serde(default)]
    pub attendees: Vec<String>,
}

fn text_of(c: &calcard::icalendar::ICalendarComponent, p: &ICalendarProperty) -> String {
    c.property(p)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

fn partstat_word(p: &ICalendarParticipationStatus) -> String {
    match p {
        ICalendarParticipationStatus::Accepted => "accepted",
        ICalendarParticipationStatus::Declined => "declined",
        ICalendarParticipationStatus::Tentative => "tentative",
        ICalendarParticipationStatus::Delegated => "delegated",
        _ => "needs-action",
    }
    .to_string()
}

/// RFC 5545 section 3.3.11: a TEXT value with its backslashes, semicolons, commas and line
/// breaks escaped (the object is read back through calcard before it is stored).
pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .flat_map(|c| match c {
            '\\' => vec!['\\', '\\'],
            ';' => vec!['\\', ';'],
            ',' => vec!['\\', ','],
            '\n' => vec!['\\', 'n'],
            c => vec![c],
        })
        .collect()
}

pub(crate) fn utc(seconds: i64) -> Result<String, DavError> {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .map_err(|_| DavError::Invalid("the time is out of range".into()))
}

/// A title as the portal takes it: trimmed, 1 to 300 characters.
pub(crate) fn checked_title(title: &str) -> Result<&str, DavError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        return Err(DavError::Invalid("a title of 1 to 300 characters".into()));
    }
    Ok(title)
}

/// An event's start and end (seconds) as the portal takes them.
pub(crate) fn check_times(start: i64, end: i64) -> Result<(), DavError> {
    let length = end.checked_sub(start).unwrap_or(-1);
    if length <= 0 || length > 31 * 86_400 {
        return Err(DavError::Invalid(
            "the end must come after the start, within 31 days".into(),
        ));
    }
    Ok(())
}

pub(crate) fn check_texts(location: &str, description: &str) -> Result<(), DavError> {
    if location.chars().count() > 300 || description.chars().count() > 5000 {
        return Err(DavError::Invalid(
            "a place of at most 300 characters and a description of at most 5000".into(),
        ));
    }
    Ok(())
}

impl Calendars {
    /// Every instance in [start, end) (seconds) of the events of `account` (whose primary
    /// address is `address`) and of the calendars shared with it, soonest first.
    pub async fn agenda(
        &self,
        account: AccountId,
        address: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<Occurrence>, DavError> {
        if end <= start || end - start > MAX_AGENDA_DAYS * 86_400 {
            return Err(DavError::Invalid(format!(
                "a range of up to {MAX_AGENDA_DAYS} days"
            )));
        }
        let me = address.to_lowercase();
        let mut calendars: Vec<Collection> = self
            .home(account)
            .await?
            .into_iter()
            .filter(|c| c.kind == Kind::Calendar)
            .collect();
        calendars.extend(self.shared_with(account).await?);
        let mut out = Vec::new();
        // One budget for the whole answer: past it, nothing more is expanded.
        'all: for c in &calendars {
            for o in self
                .in_range(c, Some("VEVENT"), Some(start), Some(end))
                .await?
            {
                let Ok(ical) = ICalendar::parse(&o.data) else {
                    continue;
                };
                let roles = itip::roles(&ical);
                let owner = c.shared.as_ref().map(|s| s.owner.clone());
                let mut who = owner.clone().unwrap_or_else(|| me.clone());
                if owner.is_none()
                    && roles.organizer.as_ref().is_some_and(|o| *o != who)
                    && itip::answers(&ical, &who).is_empty()
                {
                    // Invited under an alias: the answer is the alias's.
                    let mut tx = self.store.read().await?;
                    who = crate::schedule::listed_as(&mut tx, account, &who, Some(&ical)).await?;
                }
                let (expanded, _) = crate::ical::expand_to(&ical, Some(end), c.zone);
                let recurring = ical.components.iter().any(|c| c.is_recurrent_or_override());
                let editable = owner.is_none() && roles.organizer.as_ref().is_none_or(|o| *o == me);
                let invited: Vec<String> =
                    if owner.is_none() && roles.organizer.as_deref() == Some(me.as_str()) {
                        roles.attendees.iter().map(|a| a.address.clone()).collect()
                    } else {
                        Vec::new()
                    };
                for e in &expanded.events {
                    let (s, en) = e.timestamps();
                    if !(s < end && en > start) {
                        continue;
                    }
                    let Some(comp) = ical.components.get(e.comp_id as usize) else {
                        continue;
                    };
                    let my_answer = match &roles.organizer {
                        Some(org) if *org != who => itip::answers(&ical, &who)
                            .first()
                            .map(|(_, p)| partstat_word(p)),
                        _ => None,
                    };
                    out.push(Occurrence {
                        calendar: c.slug.clone(),
                        calendar_name: c.display_name.clone(),
                        object: o.name.clone(),
                        uid: o.uid.clone(),
                        summary: text_of(comp, &ICalendarProperty::Summary),
                        location: text_of(comp, &ICalendarProperty::Location),
                        start: s,
                        end: en,
                        all_day: s % 86_400 == 0 && en > s && (en - s) % 86_400 == 0,
                        organizer: roles.organizer.clone(),
                        my_answer,
                        attendees: roles.attendees.len(),
                        invited: invited.clone(),
                        recurring,
                        owner: owner.clone(),
                        cancelled: itip::is_cancelled(comp),
                        editable,
                    });
                    if out.len() >= MAX_OCCURRENCES {
                        break 'all;
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.start, a.end, &a.summary).cmp(&(b.start, b.end, &b.summary)));
        Ok(out)
    }

    /// Creates an event in one of `account`'s own calendars, or a meeting when it names
    /// attendees (the organizer is `address`; rooms are invited like anyone, and answer).
    /// `uid` is made by the caller (from the server's random source). Returns the object's
    /// name.
    pub async fn create_event(
        &self,
        account: AccountId,
        address: &str,
        uid: &str,
        e: &NewEvent,
    ) -> Result<String, DavError> {
        let title = checked_title(&e.title)?;
        check_times(e.start, e.end)?;
        check_texts(&e.location, &e.description)?;
        let slug = e.calendar.as_deref().unwrap_or("calendar");
        if slug.starts_with(crate::SHARED_PREFIX) {
            return Err(DavError::Forbidden(
                "meetings are made in one's own calendars".into(),
            ));
        }
        let c = self.calendar(account, slug).await?;
        let me = address.to_lowercase();
        let mut lines = vec![
            "BEGIN:VCALENDAR".to_string(),
            "VERSION:2.0".to_string(),
            "PRODID:-//carepost//portal//EN".to_string(),
            "BEGIN:VEVENT".to_string(),
            format!("UID:{uid}"),
            format!("DTSTAMP:{}", utc(self.clock.now().0 / 1000)?),
            format!("DTSTART:{}", utc(e.start)?),
            format!("DTEND:{}", utc(e.end)?),
            format!("SUMMARY:{}", escape(title)),
        ];
        if !e.location.trim().is_empty() {
            lines.push(format!("LOCATION:{}", escape(e.location.trim())));
        }
        if !e.description.trim().is_empty() {
            lines.push(format!("DESCRIPTION:{}", escape(e.description.trim())));
        }
        let invited = self.attendee_lines(&me, &e.attendees).await?;
        if !invited.is_empty() {
            lines.push(format!("ORGANIZER:mailto:{me}"));
            lines.push(format!("ATTENDEE;PARTSTAT=ACCEPTED:mailto:{me}"));
            lines.extend(invited.into_iter().map(|(_, line)| line));
        }
        lines.extend(["END:VEVENT".to_string(), "END:VCALENDAR".to_string()]);
        // Read back through calcard: what is stored is what its writer makes of it (folded
        // lines, the escapes checked).
        let text = format!("{}\r\n", lines.join("\r\n"));
        let ical = ICalendar::parse(&text)
            .map_err(|_| DavError::InvalidData("the event could not be written".into()))?;
        let name = crate::schedule::object_name(uid);
        let conditions = Conditions {
            if_match: None,
            if_none_match_any: true,
        };
        self.put(&c, &name, &ical.to_string(), &conditions).await?;
        Ok(name)
    }

    /// The ATTENDEE lines inviting `addresses` (checked, lower-cased, once each, the
    /// organizer `me` left out), each with its address, sorted: rooms and equipment named as
    /// such, everyone asked to answer.
    pub(crate) async fn attendee_lines(
        &self,
        me: &str,
        addresses: &[String],
    ) -> Result<Vec<(String, String)>, DavError> {
        if addresses.len() > crate::MAX_ATTENDEES {
            return Err(DavError::TooManyAttendees);
        }
        let mut invited: Vec<String> = addresses
            .iter()
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty() && *a != me)
            .collect();
        invited.sort_unstable();
        invited.dedup();
        let mut out = Vec::with_capacity(invited.len());
        for a in invited {
            let odd = |c: char| c.is_control() || c.is_whitespace() || ":;,\"<>".contains(c);
            if a.len() > 254 || a.chars().any(odd) || !a.contains('@') {
                return Err(DavError::Invalid(format!("'{a}' is not an address")));
            }
            let cutype = match self.is_resource(&a).await? {
                Some(true) => "ROOM",
                Some(false) => "RESOURCE",
                None => "INDIVIDUAL",
            };
            let line =
                format!("ATTENDEE;CUTYPE={cutype};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}");
            out.push((a, line));
        }
        Ok(out)
    }

    /// Whether `address` is a room (`Some(true)`), a piece of equipment (`Some(false)`).
    async fn is_resource(&self, address: &str) -> Result<Option<bool>, DavError> {
        use carepost_store::ResourceRepo;
        let mut read = self.store.read().await?;
        Ok(read.find_resource(address).await?.map(|r| r.kind == "room"))
    }

    /// `address` answers the invitation stored as `object` in its own calendar `slug`:
    /// `accepted`, `declined` or `tentative` for every instance; the organizer hears it as a
    /// REPLY, like an answer from any calendar app.
    pub async fn answer_invitation(
        &self,
        account: AccountId,
        address: &str,
        slug: &str,
        object: &str,
        answer: &str,
    ) -> Result<(), DavError> {
        let partstat = match answer {
            "accepted" => ICalendarParticipationStatus::Accepted,
            "declined" => ICalendarParticipationStatus::Declined,
            "tentative" => ICalendarParticipationStatus::Tentative,
            other => {
                return Err(DavError::Invalid(format!(
                    "'{other}' is not an answer: accepted, declined or tentative"
                )));
            }
        };
        if slug.starts_with(crate::SHARED_PREFIX) {
            return Err(DavError::Forbidden(
                "invitations are answered in one's own calendar".into(),
            ));
        }
        let c = self.calendar(account, slug).await?;
        let o = self.object(&c, object).await?;
        let mut ical = ICalendar::parse(&o.data)
            .map_err(|_| DavError::InvalidData("the event cannot be read".into()))?;
        let me = {
            let mut tx = self.store.read().await?;
            crate::schedule::listed_as(&mut tx, account, &address.to_lowercase(), Some(&ical))
                .await?
        };
        let mine = itip::answers(&ical, &me);
        let roles = itip::roles(&ical);
        if roles.cancelled {
            return Err(DavError::Invalid("that meeting is cancelled".into()));
        }
        if mine.is_empty() || roles.organizer.as_deref() == Some(me.as_str()) {
            return Err(DavError::Invalid(
                "that event is not an invitation to you".into(),
            ));
        }
        let answers: Vec<_> = mine
            .into_iter()
            .map(|(instance, _)| (instance, partstat.clone()))
            .collect();
        itip::apply_answers(&mut ical, &me, &answers, None);
        let conditions = Conditions {
            if_match: Some(crate::quoted(&o.etag)),
            if_none_match_any: false,
        };
        self.put(&c, object, &ical.to_string(), &conditions).await?;
        Ok(())
    }
}
