//! How a room or a piece of equipment answers an invitation (RFC 6638 resources, CUTYPE=ROOM
//! or RESOURCE): it accepts a meeting that is free in its calendar and that its rules allow
//! the organizer (who may book it, how long, how far ahead), declines with the reason
//! otherwise, and waits for a delegate when it has delegates. Called by the scheduler inside
//! the organizer's write, after taking the resources' locks in the order of their ids, so
//! two people booking the same slot at the same moment get one acceptance and one decline on
//! either backend, and two meetings locking the same rooms never wait on each other.
//!
//! A booking belongs to one organizer's UID: someone else's meeting that reuses the UID is a
//! meeting of its own. A recurring meeting is answered as a whole over the instances that
//! list the resource (every one must be free and inside the window).

use crate::itip;
use crate::{DavError, ical};
use calcard::icalendar::{ICalendar, ICalendarParticipationStatus};
use carepost_store::{
    AccountRow, AuthRepo, BookingRow, CredentialRepo, DirectoryRepo, PasskeyRepo, ResourceRepo,
    ResourceRow, Tx,
};
use carepost_types::UnixMillis;
use sha2::Digest;

/// Resources one meeting may book: past them, the rest decline (each decision expands the
/// meeting and writes its slots, in the organizer's write).
pub(crate) const MAX_PER_MEETING: usize = 20;

/// A resource's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// Held for a delegate to approve (the slot is taken meanwhile).
    Pending,
    /// With the reason the organizer is told.
    Declined(String),
}

impl Answer {
    pub(crate) fn status(&self) -> &'static str {
        match self {
            Answer::Accepted => "accepted",
            Answer::Pending => "pending",
            Answer::Declined(_) => "declined",
        }
    }

    pub(crate) fn reason(&self) -> &str {
        match self {
            Answer::Declined(r) => r,
            _ => "",
        }
    }

    /// Sets the resource `address`'s PARTSTAT in every instance of `ical` that lists it;
    /// whether anything changed.
    pub(crate) fn apply(&self, ical: &mut ICalendar, address: &str) -> bool {
        let partstat = match self {
            Answer::Accepted => ICalendarParticipationStatus::Accepted,
            Answer::Pending => ICalendarParticipationStatus::NeedsAction,
            Answer::Declined(_) => ICalendarParticipationStatus::Declined,
        };
        let answers: Vec<_> = itip::answers(ical, address)
            .into_iter()
            .map(|(instance, _)| (instance, partstat.clone()))
            .collect();
        itip::apply_answers(ical, address, &answers, None)
    }

    pub(crate) fn of(status: &str, reason: &str) -> Answer {
        match status {
            "accepted" => Answer::Accepted,
            "pending" => Answer::Pending,
            _ => Answer::Declined(reason.to_string()),
        }
    }
}

/// What of a meeting a booking depends on: its instances' times.
fn fingerprint(times: &[(i64, i64)], more: bool) -> String {
    let text: Vec<String> = times.iter().map(|(s, e)| format!("{s}-{e}")).collect();
    let digest = sha2::Sha256::digest(format!("{}|{more}", text.join(",")).as_bytes());
    hex::encode(&digest[..16])
}

fn when(seconds: i64) -> String {
    UnixMillis(seconds.saturating_mul(1000)).to_words_utc()
}

/// Whether `organizer` may book `r` by its `bookable_by` rule (delegates always may). A role
/// counts only once its holder has a second factor, as everywhere else.
async fn may_book(
    tx: &mut Tx,
    r: &ResourceRow,
    organizer: &AccountRow,
    delegate: bool,
) -> Result<bool, DavError> {
    if delegate {
        return Ok(true);
    }
    Ok(match r.bookable_by.as_str() {
        "everyone" => true,
        "department" => match r.department_id {
            Some(d) => tx.department_within(organizer.department_id, d).await?,
            None => true,
        },
        rule => match rule.strip_prefix("role:") {
            Some(role) => {
                let holds = tx
                    .list_roles(organizer.id)
                    .await?
                    .iter()
                    .any(|(held, _)| held == role);
                let factor = tx
                    .find_totp(organizer.id)
                    .await?
                    .is_some_and(|t| t.confirmed_at.is_some())
                    || tx.count_passkeys(organizer.id).await? > 0;
                holds && factor
            }
            None => false,
        },
    })
}

/// One meeting as a resource is asked to take it.
pub(crate) struct Request<'a> {
    pub uid: &'a str,
    pub summary: String,
    /// The instances that list the resource, and whether the rule makes more.
    pub times: Vec<(i64, i64)>,
    pub more: bool,
}

/// Decides `r`'s answer to `req`, which `organizer` saved, and keeps it: the booking row,
/// and the slots an accepted or pending booking takes. The caller holds `r`'s lock. A
/// re-save that moves no instance keeps the answer as it was, unless the resource declined
/// by itself (the conflict may be gone); a delegate's decline stands.
pub(crate) async fn answer(
    tx: &mut Tx,
    r: &ResourceRow,
    organizer: &AccountRow,
    req: &Request<'_>,
    now_ms: i64,
) -> Result<Answer, DavError> {
    let print = fingerprint(&req.times, req.more);
    let existing = tx.booking(r.id, organizer.id, req.uid).await?;
    if let Some(b) = &existing
        && b.fingerprint == print
        && (b.status != "declined" || !b.decided_by.is_empty())
    {
        tx.touch_booking(b.id, &req.summary, UnixMillis(now_ms))
            .await?;
        return Ok(Answer::of(&b.status, &b.reason));
    }
    let delegates = tx.resource_delegates(r.id).await?;
    let is_delegate = delegates.contains(&organizer.id);
    let answer = decide(
        tx,
        r,
        organizer,
        req,
        existing.as_ref().map(|b| b.id),
        is_delegate,
        now_ms,
    )
    .await?;
    let answer = match answer {
        Answer::Accepted if !delegates.is_empty() && !is_delegate => Answer::Pending,
        a => a,
    };
    metrics::counter!("carepost_resource_bookings_total", "answer" => answer.status()).increment(1);
    let slots: &[(i64, i64)] = match answer {
        Answer::Declined(_) => &[],
        _ => &req.times,
    };
    tx.put_booking(
        &BookingRow {
            id: 0,
            resource_id: r.id,
            organizer_id: organizer.id,
            uid: req.uid.to_string(),
            status: answer.status().to_string(),
            reason: answer.reason().to_string(),
            decided_by: String::new(),
            summary: req.summary.clone(),
            starts_at: req.times.iter().map(|t| t.0).min(),
            ends_at: req.times.iter().map(|t| t.1).max(),
            fingerprint: print,
            updated_at: UnixMillis(now_ms),
        },
        slots,
    )
    .await?;
    Ok(answer)
}

/// The rules, in the order the organizer is told of them: who may book, the time given, the
/// window, the longest meeting, then the slots already taken by other bookings.
async fn decide(
    tx: &mut Tx,
    r: &ResourceRow,
    organizer: &AccountRow,
    req: &Request<'_>,
    own: Option<i64>,
    is_delegate: bool,
    now_ms: i64,
) -> Result<Answer, DavError> {
    if !may_book(tx, r, organizer, is_delegate).await? {
        let who = match r.bookable_by.as_str() {
            "department" => "its own department".to_string(),
            rule => rule.strip_prefix("role:").map_or_else(
                || "nobody".to_string(),
                |role| format!("holders of the {role} role"),
            ),
        };
        return Ok(Answer::Declined(format!(
            "{} may be booked by {who} only",
            r.name
        )));
    }
    let times = &req.times;
    let (Some(first), Some(last)) = (
        times.iter().map(|t| t.0).min(),
        times.iter().map(|t| t.1.max(t.0)).max(),
    ) else {
        return Ok(Answer::Declined("the meeting has no time".into()));
    };
    let horizon = (now_ms / 1000).saturating_add(r.window_days.saturating_mul(86_400));
    if req.more || last > horizon {
        return Ok(Answer::Declined(format!(
            "{} may be booked up to {} days ahead; the meeting goes on past {}",
            r.name,
            r.window_days,
            when(horizon)
        )));
    }
    if let Some(max) = r.max_minutes
        && times.iter().any(|(s, e)| e - s > max.saturating_mul(60))
    {
        return Ok(Answer::Declined(format!(
            "{} may be booked for at most {} at a time",
            r.name,
            crate::resources::minutes_in_words(max)
        )));
    }
    let taken = tx.resource_slots(r.id, first, last, own).await?;
    if let Some((s, e)) = first_overlap(times, &taken) {
        return Ok(Answer::Declined(format!(
            "{} is already booked from {} to {}",
            r.name,
            when(s),
            when(e)
        )));
    }
    Ok(Answer::Accepted)
}

/// The first taken slot that meets one of `times`: both sorted by start and swept once, so a
/// daily meeting against a busy room costs their lengths, not their product.
fn first_overlap(times: &[(i64, i64)], taken: &[carepost_store::SlotRow]) -> Option<(i64, i64)> {
    let mut mine = times.to_vec();
    mine.sort_unstable();
    let mut theirs: Vec<(i64, i64)> = taken.iter().map(|t| (t.starts_at, t.ends_at)).collect();
    theirs.sort_unstable();
    let (mut i, mut j) = (0, 0);
    while i < mine.len() && j < theirs.len() {
        let (a, b) = (mine[i], theirs[j]);
        if a.0 < b.1 && b.0 < a.1 {
            return Some(b);
        }
        // The one that ends first can meet nothing further on.
        if a.1 <= b.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    None
}

/// Frees what `organizer`'s meeting `uid` held of `r` (cancelled, deleted, or the resource
/// taken off it). The caller holds `r`'s lock.
pub(crate) async fn release(
    tx: &mut Tx,
    r: &ResourceRow,
    organizer: &AccountRow,
    uid: &str,
) -> Result<(), DavError> {
    if let Some(b) = tx.booking(r.id, organizer.id, uid).await? {
        tx.delete_booking(b.id).await?;
    }
    Ok(())
}

/// The instances of `ical` that list `address` and are not cancelled, and whether the rule
/// makes more than are computed.
pub(crate) fn instances_listing(
    ical: &ICalendar,
    address: &str,
    zone: calcard::common::timezone::Tz,
) -> (Vec<(i64, i64)>, bool) {
    ical::instances_where(ical, zone, |c| {
        !itip::is_cancelled(c) && itip::lists(c, address)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(s: i64, e: i64) -> carepost_store::SlotRow {
        carepost_store::SlotRow {
            booking_id: 1,
            starts_at: s,
            ends_at: e,
            status: "accepted".into(),
        }
    }

    #[test]
    fn the_sweep_finds_the_first_overlap_and_only_real_ones() {
        let times = [(100, 200), (300, 400), (500, 600)];
        assert_eq!(
            first_overlap(&times, &[slot(200, 300), slot(400, 500)]),
            None
        );
        assert_eq!(
            first_overlap(&times, &[slot(0, 50), slot(550, 700)]),
            Some((550, 700))
        );
        assert_eq!(first_overlap(&times, &[slot(150, 350)]), Some((150, 350)));
        assert_eq!(first_overlap(&[], &[slot(0, 10)]), None);
    }
}
