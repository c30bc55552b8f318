//! Answers to invitations that came by mail (iMIP, RFC 6047) from attendees outside the
//! organization: applied to the organizer's copy only when the mail passed DMARC for its
//! sender, the answer speaks for that sender alone, and the organizer's copy lists them; an
//! older answer never undoes a newer one. Every one, applied or refused, is on the audit
//! trail.

use crate::schedule::{defaults, deliver, parse, write};
use crate::{DavError, itip};
use calcard::icalendar::ICalendarMethod;
use carepost_audit::{Actor, NewEvent, Outcome, action};
use carepost_store::{AuditRepo, DavRepo, DirectoryRepo, Tx};
use carepost_types::AccountId;

/// Whether `text` is an iTIP REPLY to a meeting `organizer` organizes.
pub(crate) fn names_organizer(text: &str, organizer: &str) -> bool {
    parse(text).is_some_and(|r| {
        itip::has_method(&r, &ICalendarMethod::Reply)
            && itip::roles(&r).organizer.as_deref() == Some(organizer)
    })
}

/// What became of an answer that came by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// The organizer's copy took the answer.
    Applied,
    /// Nothing to change (the same answer again, or no such meeting).
    Unchanged,
    /// Refused: the answer speaks for someone other than its authenticated sender, or for a
    /// meeting the recipient does not organize.
    Refused,
}

/// Applies an iTIP REPLY that `sender` (the From: address, DMARC-aligned) mailed to the
/// organizer `account` (whose primary address is `organizer`): only `sender`'s own answer,
/// only in a meeting `organizer` organizes and that lists `sender`.
pub(crate) async fn mailed_reply(
    tx: &mut Tx,
    account: AccountId,
    organizer: &str,
    sender: &str,
    text: &str,
    now_ms: i64,
) -> Result<ReplyOutcome, DavError> {
    let Some(reply) = parse(text) else {
        return Ok(ReplyOutcome::Refused);
    };
    if !itip::has_method(&reply, &ICalendarMethod::Reply) {
        return Ok(ReplyOutcome::Unchanged);
    }
    let r = itip::roles(&reply);
    let speaks_for_sender =
        !r.attendees.is_empty() && r.attendees.iter().all(|a| a.address == sender);
    if r.organizer.as_deref() != Some(organizer) || !speaks_for_sender {
        return Ok(ReplyOutcome::Refused);
    }
    let Some(uid) = reply.uids().next().map(str::to_string) else {
        return Ok(ReplyOutcome::Refused);
    };
    let Some(copy) = tx.dav_calendar_object_by_uid(account, &uid).await? else {
        return Ok(ReplyOutcome::Unchanged);
    };
    let Some(mut ical) = parse(&copy.data) else {
        return Ok(ReplyOutcome::Unchanged);
    };
    if itip::roles(&ical).organizer.as_deref() != Some(organizer) {
        return Ok(ReplyOutcome::Refused);
    }
    // An answer to an older version of the meeting (or an old answer mailed again) does not
    // undo a newer one.
    if itip::sequence(&reply) < itip::sequence(&ical) {
        return Ok(ReplyOutcome::Unchanged);
    }
    let answers = itip::answers(&reply, sender);
    if !itip::apply_answers(&mut ical, sender, &answers, None) {
        return Ok(ReplyOutcome::Unchanged);
    }
    write(tx, copy.collection_id, &copy.name, &ical.to_string()).await?;
    let homes = defaults(tx, account, now_ms).await?;
    let message = itip::message(&reply, ICalendarMethod::Reply);
    deliver(tx, &homes, &uid, &message, now_ms).await?;
    Ok(ReplyOutcome::Applied)
}

impl crate::Calendars {
    /// An answer to an invitation that `sender` mailed to the organizer `account` (iMIP, RFC
    /// 6047), read
    /// only when the caller checked that the mail passed DMARC for `sender`'s domain. Every
    /// one is recorded on the audit trail; a refused one changes nothing.
    pub async fn mailed_reply(
        &self,
        account: AccountId,
        sender: &str,
        text: &str,
    ) -> Result<ReplyOutcome, DavError> {
        let sender = sender.trim().to_lowercase();
        let now = self.clock.now();
        let organizer = {
            let mut read = self.store.read().await?;
            match read.find_account(account).await? {
                Some(row) => row.primary_address.to_lowercase(),
                None => return Err(DavError::NotFound),
            }
        };
        // A reply to someone else's meeting (a copy to a colleague, mail sent to many) is
        // passed over before any write: only one that names this recipient as organizer
        // takes the audited transaction.
        if !names_organizer(text, &organizer) {
            return Ok(ReplyOutcome::Unchanged);
        }
        // Audited: the answer, applied or refused, goes on the trail with the change.
        let mut tx = self.store.begin().await?;
        let outcome = mailed_reply(&mut tx, account, &organizer, &sender, text, now.0).await?;
        let event = NewEvent::success(
            now,
            &Actor::System,
            action::CALENDAR_IMIP_REPLY,
            format!("account:{organizer}"),
        )
        .with_outcome(match outcome {
            ReplyOutcome::Refused => Outcome::Denied,
            _ => Outcome::Success,
        })
        .with_details(serde_json::json!({ "from": sender, "outcome": format!("{outcome:?}") }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}
