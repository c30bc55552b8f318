//! Reading and writing the scheduling parts of an iCalendar object (iTIP, RFC 5546): who
//! organizes it and who attends, each attendee's answer, and the messages the scheduler
//! makes from an event (REQUEST, CANCEL, REPLY) and the changes it makes to stored copies (an
//! attendee's answer in the organizer's copy, a cancelled copy). All of it through calcard's
//! model and writer, never by editing text.

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarEntry, ICalendarMethod, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarParticipationStatus,
    ICalendarProperty, ICalendarScheduleAgentValue, ICalendarStatus, ICalendarValue,
};

/// An attendee as one object names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attendee {
    /// Lower-cased, without `mailto:`.
    pub address: String,
    /// `SCHEDULE-AGENT=CLIENT` or `NONE`: the client schedules this one itself (RFC 6638
    /// section 7.1), so the server must not.
    pub by_client: bool,
}

/// The scheduling parts of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Roles {
    /// Lower-cased, without `mailto:`; `None` when the object is not a scheduling object.
    pub organizer: Option<String>,
    /// Every attendee of any instance, once each, the organizer left out.
    pub attendees: Vec<Attendee>,
    /// The master (or only) instance says `STATUS:CANCELLED`.
    pub cancelled: bool,
}

fn address_of(e: &ICalendarEntry) -> Option<String> {
    e.calendar_address()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_lowercase)
}

/// The components that are scheduled: events, tasks and journals (not time zones, alarms).
fn scheduled(ical: &ICalendar) -> impl Iterator<Item = &ICalendarComponent> {
    ical.components
        .iter()
        .filter(|c| c.component_type.is_event_or_todo() || c.component_type.is_journal())
}

fn scheduled_ids(ical: &ICalendar) -> Vec<usize> {
    ical.components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.component_type.is_event_or_todo() || c.component_type.is_journal())
        .map(|(i, _)| i)
        .collect()
}

/// Who organizes and attends `ical`.
pub(crate) fn roles(ical: &ICalendar) -> Roles {
    let mut r = Roles::default();
    for c in scheduled(ical) {
        if r.organizer.is_none() {
            r.organizer = c
                .property(&ICalendarProperty::Organizer)
                .and_then(address_of);
        }
        if !c.is_recurrence_override() && c.status() == Some(&ICalendarStatus::Cancelled) {
            r.cancelled = true;
        }
        for e in c.properties(&ICalendarProperty::Attendee) {
            let Some(address) = address_of(e) else {
                continue;
            };
            if r.attendees.iter().any(|a| a.address == address) {
                continue;
            }
            let by_client = scheduled_by_client(e);
            r.attendees.push(Attendee { address, by_client });
        }
    }
    if let Some(o) = &r.organizer {
        r.attendees.retain(|a| &a.address != o);
    }
    r
}

/// `SCHEDULE-AGENT=CLIENT` or `NONE` on an attendee.
fn scheduled_by_client(e: &ICalendarEntry) -> bool {
    matches!(
        e.parameter(&ICalendarParameterName::ScheduleAgent),
        Some(ICalendarParameterValue::ScheduleAgent(
            ICalendarScheduleAgentValue::Client | ICalendarScheduleAgentValue::None
        ))
    )
}

/// Whether the component lists `address` as an attendee.
pub(crate) fn lists(c: &ICalendarComponent, address: &str) -> bool {
    c.properties(&ICalendarProperty::Attendee)
        .any(|e| address_of(e).as_deref() == Some(address))
}

/// Whether the component (one instance, or the master) is cancelled.
pub(crate) fn is_cancelled(c: &ICalendarComponent) -> bool {
    c.status() == Some(&ICalendarStatus::Cancelled)
}

/// The number of ATTENDEE properties in the object (each instance counted).
pub(crate) fn attendee_count(ical: &ICalendar) -> usize {
    scheduled(ical)
        .map(|c| c.properties(&ICalendarProperty::Attendee).count())
        .sum()
}

/// The instance a component is: `None` for the master, the RECURRENCE-ID's values otherwise.
fn instance_key(c: &ICalendarComponent) -> Option<&Vec<ICalendarValue>> {
    c.property(&ICalendarProperty::RecurrenceId)
        .map(|e| &e.values)
}

/// `address`'s answer in each instance that names it, by instance.
pub(crate) fn answers(
    ical: &ICalendar,
    address: &str,
) -> Vec<(Option<Vec<ICalendarValue>>, ICalendarParticipationStatus)> {
    let mut out = Vec::new();
    for c in scheduled(ical) {
        for e in c.properties(&ICalendarProperty::Attendee) {
            if address_of(e).as_deref() == Some(address) {
                out.push((instance_key(c).cloned(), partstat(e)));
            }
        }
    }
    out
}

fn partstat(e: &ICalendarEntry) -> ICalendarParticipationStatus {
    match e.parameter(&ICalendarParameterName::Partstat) {
        Some(ICalendarParameterValue::Partstat(p)) => p.clone(),
        _ => ICalendarParticipationStatus::NeedsAction,
    }
}

/// Sets `address`'s answer in `ical` from `from` (instance by instance, for the instances
/// both name), and says `SENT-BY` when someone else answered for them. Returns whether
/// anything changed; an address `ical` does not list is never added.
pub(crate) fn apply_answers(
    ical: &mut ICalendar,
    address: &str,
    from: &[(Option<Vec<ICalendarValue>>, ICalendarParticipationStatus)],
    sent_by: Option<&str>,
) -> bool {
    let mut changed = false;
    for id in scheduled_ids(ical) {
        let key = instance_key(&ical.components[id]).cloned();
        // An instance the answer does not name takes the master's answer.
        let Some(answer) = from
            .iter()
            .find(|(k, _)| *k == key)
            .or_else(|| from.iter().find(|(k, _)| k.is_none()))
            .map(|(_, p)| p.clone())
        else {
            continue;
        };
        for e in ical.components[id].entries.iter_mut() {
            if e.name != ICalendarProperty::Attendee || address_of(e).as_deref() != Some(address) {
                continue;
            }
            if partstat(e) == answer {
                continue;
            }
            e.params.retain(|p| {
                !matches!(
                    p.name,
                    ICalendarParameterName::Partstat
                        | ICalendarParameterName::SentBy
                        | ICalendarParameterName::ScheduleStatus
                )
            });
            e.params.push(ICalendarParameter::partstat(answer.clone()));
            if let Some(by) = sent_by {
                e.params
                    .push(ICalendarParameter::sent_by(format!("mailto:{by}")));
            }
            changed = true;
        }
    }
    changed
}

/// Marks every instance cancelled (the copy an attendee keeps of a cancelled meeting).
pub(crate) fn cancel_all(ical: &mut ICalendar) {
    for id in scheduled_ids(ical) {
        let c = &mut ical.components[id];
        c.entries.retain(|e| e.name != ICalendarProperty::Status);
        c.entries.push(
            ICalendarEntry::new(ICalendarProperty::Status)
                .with_value(ICalendarValue::Status(ICalendarStatus::Cancelled)),
        );
    }
}

/// The object as an iTIP message of `method` (the METHOD property on the VCALENDAR).
pub(crate) fn message(ical: &ICalendar, method: ICalendarMethod) -> String {
    let mut m = ical.clone();
    if let Some(root) = m.components.first_mut() {
        root.entries.retain(|e| e.name != ICalendarProperty::Method);
        root.entries.push(
            ICalendarEntry::new(ICalendarProperty::Method)
                .with_value(ICalendarValue::Method(method.clone())),
        );
    }
    if method == ICalendarMethod::Cancel {
        cancel_all(&mut m);
    }
    m.to_string()
}

/// What attendees are told about: every property of each scheduled instance but the
/// attendees themselves (added and removed ones are handled apart), the stamps, SEQUENCE
/// and private `X-` properties. Two versions with the same fingerprint differ in nothing an
/// attendee needs to hear (an alarm, an answer that came back).
pub(crate) fn fingerprint(ical: &ICalendar) -> Vec<String> {
    let mut out: Vec<String> = scheduled(ical)
        .map(|c| {
            let mut props: Vec<String> = c
                .entries
                .iter()
                .filter(|e| {
                    !matches!(
                        e.name,
                        ICalendarProperty::Attendee
                            | ICalendarProperty::Dtstamp
                            | ICalendarProperty::LastModified
                            | ICalendarProperty::Sequence
                            | ICalendarProperty::Other(_)
                    )
                })
                .map(|e| format!("{e:?}"))
                .collect();
            props.sort();
            props.join("\n")
        })
        .collect();
    out.sort();
    out
}

/// The master instance's SEQUENCE (0 when absent).
pub(crate) fn sequence(ical: &ICalendar) -> i64 {
    scheduled(ical)
        .find(|c| !c.is_recurrence_override())
        .and_then(|c| c.property(&ICalendarProperty::Sequence))
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_integer())
        .unwrap_or(0)
}

/// Whether the object's VCALENDAR says METHOD `method`.
pub(crate) fn has_method(ical: &ICalendar, method: &ICalendarMethod) -> bool {
    ical.components
        .first()
        .and_then(|c| c.property(&ICalendarProperty::Method))
        .and_then(|e| e.values.first())
        .is_some_and(|v| v == &ICalendarValue::Method(method.clone()))
}

/// The title of the meeting, for a mail's subject or a booking list.
pub(crate) fn summary(ical: &ICalendar) -> String {
    scheduled(ical)
        .find_map(|c| c.property(&ICalendarProperty::Summary))
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .unwrap_or("(no title)")
        .chars()
        .take(200)
        .collect()
}

/// Adds `text` as a COMMENT to every scheduled instance (why a room declined, RFC 5546
/// section 3.2.3).
pub(crate) fn comment(ical: &mut ICalendar, text: &str) {
    for id in scheduled_ids(ical) {
        ical.components[id].entries.push(
            ICalendarEntry::new(ICalendarProperty::Comment)
                .with_value(ICalendarValue::Text(text.to_string())),
        );
    }
}

/// A REPLY from `address`: the object with only that attendee left in each instance.
pub(crate) fn reply(ical: &ICalendar, address: &str) -> String {
    let mut m = ical.clone();
    for id in scheduled_ids(&m) {
        m.components[id].entries.retain(|e| {
            e.name != ICalendarProperty::Attendee || address_of(e).as_deref() == Some(address)
        });
    }
    message(&m, ICalendarMethod::Reply)
}

/// The properties whose change reschedules an instance (RFC 6638 section 3.2.8).
fn timing(c: &ICalendarComponent) -> Vec<String> {
    let mut out: Vec<String> = c
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.name,
                ICalendarProperty::Dtstart
                    | ICalendarProperty::Dtend
                    | ICalendarProperty::Duration
                    | ICalendarProperty::Due
                    | ICalendarProperty::Rrule
                    | ICalendarProperty::Rdate
                    | ICalendarProperty::Exdate
            )
        })
        .map(|e| format!("{e:?}"))
        .collect();
    out.sort();
    out
}

/// RFC 6638 section 3.2.8: when the organizer moves an instance (a new start, end, rule,
/// added dates or instances taken back), every attendee's earlier answer to it no longer
/// holds: each becomes NEEDS-ACTION with RSVP, the organizer's own aside. Returns whether anything
/// changed. Calendar apps mostly do this themselves; the server makes sure, so that a
/// colleague's "accepted" never stands for a time they were not asked about.
pub(crate) fn reset_rescheduled(old: &ICalendar, new: &mut ICalendar, organizer: &str) -> bool {
    let old_master = scheduled(old)
        .find(|c| !c.is_recurrence_override())
        .map(timing);
    let mut changed = false;
    for id in scheduled_ids(new) {
        let c = &new.components[id];
        let key = instance_key(c).cloned();
        let moved = match (
            scheduled(old).find(|o| instance_key(o).cloned() == key),
            &key,
        ) {
            (Some(before), _) => timing(before) != timing(c),
            // An instance given its own component now: moved only when it no longer starts
            // where the rule put it (a new title for one day asks nobody again).
            (None, Some(rid)) => {
                c.property(&ICalendarProperty::Dtstart).map(|e| &e.values) != Some(rid)
            }
            (None, None) => old_master.as_ref() != Some(&timing(c)),
        };
        if !moved {
            continue;
        }
        for e in new.components[id].entries.iter_mut() {
            if e.name != ICalendarProperty::Attendee
                || address_of(e).as_deref() == Some(organizer)
                || scheduled_by_client(e)
                || partstat(e) == ICalendarParticipationStatus::NeedsAction
            {
                continue;
            }
            e.params.retain(|p| {
                !matches!(
                    p.name,
                    ICalendarParameterName::Partstat
                        | ICalendarParameterName::Rsvp
                        | ICalendarParameterName::SentBy
                        | ICalendarParameterName::ScheduleStatus
                )
            });
            e.params.push(ICalendarParameter::partstat(
                ICalendarParticipationStatus::NeedsAction,
            ));
            e.params.push(ICalendarParameter::rsvp(true));
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEETING: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
        BEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\n\
        DTEND:20261210T100000Z\r\nSUMMARY:Case review\r\n\
        ORGANIZER;CN=Ann:mailto:Ann.Lee@kaiser.org\r\n\
        ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann.lee@kaiser.org\r\n\
        ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob.ray@kaiser.org\r\n\
        ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:ext@example.com\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";

    fn parse(text: &str) -> ICalendar {
        ICalendar::parse(text).unwrap()
    }

    #[test]
    fn moving_a_meeting_asks_everyone_again() {
        let answered = MEETING.replace(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob",
            "PARTSTAT=ACCEPTED:mailto:bob",
        );
        let old = parse(&answered);
        // A new title is no reason to ask again.
        let mut retitled = parse(&answered.replace("Case review", "Case review (2)"));
        assert!(!reset_rescheduled(
            &old,
            &mut retitled,
            "ann.lee@kaiser.org"
        ));
        let mut moved = parse(&answered.replace("20261210T090000Z", "20261210T140000Z"));
        assert!(reset_rescheduled(&old, &mut moved, "ann.lee@kaiser.org"));
        assert_eq!(
            answers(&moved, "bob.ray@kaiser.org"),
            vec![(None, ICalendarParticipationStatus::NeedsAction)]
        );
        // The organizer's own answer stays, and so does one the client schedules itself.
        assert_eq!(
            answers(&moved, "ann.lee@kaiser.org"),
            vec![(None, ICalendarParticipationStatus::Accepted)]
        );
        assert!(
            moved.to_string().contains("RSVP=TRUE:mailto:bob.ray"),
            "{moved}"
        );
        assert!(
            moved
                .to_string()
                .contains("SCHEDULE-AGENT=CLIENT:mailto:ext@")
        );
    }

    #[test]
    fn roles_name_the_organizer_and_the_others() {
        let r = roles(&parse(MEETING));
        assert_eq!(r.organizer.as_deref(), Some("ann.lee@kaiser.org"));
        assert_eq!(
            r.attendees,
            vec![
                Attendee {
                    address: "bob.ray@kaiser.org".into(),
                    by_client: false
                },
                Attendee {
                    address: "ext@example.com".into(),
                    by_client: true
                }
            ]
        );
        assert!(!r.cancelled);
        assert_eq!(attendee_count(&parse(MEETING)), 3);
    }

    #[test]
    fn an_answer_moves_into_the_organizers_copy_and_nowhere_else() {
        let mut answered = parse(MEETING);
        let bob = [(None, ICalendarParticipationStatus::Accepted)];
        assert!(apply_answers(
            &mut answered,
            "bob.ray@kaiser.org",
            &bob,
            None
        ));
        assert_eq!(
            answers(&answered, "bob.ray@kaiser.org"),
            vec![(None, ICalendarParticipationStatus::Accepted)]
        );
        // Nothing to change the second time, and an unlisted address is not added.
        assert!(!apply_answers(
            &mut answered,
            "bob.ray@kaiser.org",
            &bob,
            None
        ));
        assert!(!apply_answers(&mut answered, "eve@kaiser.org", &bob, None));
        assert!(answers(&answered, "eve@kaiser.org").is_empty());
        let text = answered.to_string();
        assert!(text.contains("SUMMARY:Case review"), "{text}");
    }

    #[test]
    fn an_alarm_or_an_answer_is_no_change_for_attendees_but_a_new_time_is() {
        let ical = parse(MEETING);
        let answered = MEETING.replace("NEEDS-ACTION;RSVP=TRUE", "ACCEPTED");
        assert_eq!(fingerprint(&ical), fingerprint(&parse(&answered)));
        let stamped = MEETING.replace("DTSTAMP:20261201T000000Z", "DTSTAMP:20261202T000000Z");
        assert_eq!(fingerprint(&ical), fingerprint(&parse(&stamped)));
        let moved = MEETING.replace("DTSTART:20261210T090000Z", "DTSTART:20261210T080000Z");
        assert_ne!(fingerprint(&ical), fingerprint(&parse(&moved)));
        assert_eq!(sequence(&ical), 0);
        let later = MEETING.replace("SUMMARY:", "SEQUENCE:3\r\nSUMMARY:");
        assert_eq!(sequence(&parse(&later)), 3);
    }

    #[test]
    fn messages_carry_their_method() {
        let ical = parse(MEETING);
        let request = message(&ical, ICalendarMethod::Request);
        assert!(request.contains("METHOD:REQUEST"), "{request}");
        let cancel = message(&ical, ICalendarMethod::Cancel);
        assert!(cancel.contains("METHOD:CANCEL") && cancel.contains("STATUS:CANCELLED"));
        assert!(roles(&parse(&cancel)).cancelled);
        let r = reply(&ical, "bob.ray@kaiser.org");
        assert!(
            r.contains("METHOD:REPLY") && !r.contains("ext@example.com"),
            "{r}"
        );
    }
}
