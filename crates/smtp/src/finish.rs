//! The end of DATA or of the last BDAT chunk: the message is checked, given its trace headers
//! and delivered, and only then acknowledged. Mail from outside is marked external (a header
//! and the configured subject tag) and may not claim an organization address in From:;
//! submitted mail must carry the sender's own address in From:, and gets the Message-ID and
//! Date a client left out and a copy in the sender's Sent mailbox.

use crate::conn::Conn;
use crate::envelope::{Claim, Envelope};
use carepost_audit::{Actor, NewEvent, action};
use carepost_mail::{
    Delivery, Disposition, Folder, HeaderSenders, MailError, Origin, Outbound, Summary, Target,
    Verdict, add_missing_headers, display_holds_address, header_problem, header_senders,
    names_shown, normalize_line_breaks, prefix_subject, prepend_header, remove_headers,
    rfc5322_date, summarize,
};
use carepost_proto_smtp::{Mode, Reply, replies};
use carepost_types::AccountId;
use serde_json::json;

/// What a message from outside whose display name shows an address gets before its subject.
const DISPLAY_WARNING: &str = "[WARNING: the sender's name shows an address]";

/// Every address a reader may be shown as a sender's name: the display names of From: and
/// Sender: as read strictly, and the names mail-parser (this server's own IMAP and portal)
/// shows for them.
fn shown_addresses<'a>(
    raw: &'a [u8],
    senders: &'a HeaderSenders,
) -> impl Iterator<Item = String> + 'a {
    let strict = [Some(&senders.from), senders.sender.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|m| m.display.clone());
    strict
        .chain(names_shown(raw))
        .filter_map(|name| display_holds_address(&name))
}

/// `text` with its first letter in upper case (the reasons read as sentences in a reply).
fn capitalized(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl Conn {
    pub(crate) async fn message(&mut self, body: Vec<u8>) {
        if let Some(refusal) = self.bdat_refusal.take() {
            self.end_transaction();
            self.reply(refusal);
            return;
        }
        let Some(envelope) = self.envelope.take() else {
            self.end_transaction();
            self.reply(replies::bad_sequence("No transaction"));
            return;
        };
        if let Some(full) = self.mailbox_full(&envelope, body.len()).await {
            self.end_transaction();
            self.reply(full);
            return;
        }
        // Who the message says it is from, read strictly (as a mail client shows it): a
        // From: that is not one clean mailbox, or a bare CR or LF in the header section, is
        // refused here, on both listeners, before any check relies on the header.
        let reply = match (
            summarize(&body),
            header_problem(&body),
            header_senders(&body),
        ) {
            (None, _, _) => Reply::new(554, (5, 6, 0), "The message has no header"),
            (_, _, Err(why)) => Reply::new(554, (5, 6, 0), capitalized(&why.to_string())),
            (_, Some(why), _) => Reply::new(554, (5, 6, 0), capitalized(why)),
            (Some(summary), None, Ok(senders)) => match self.session.mode {
                Mode::Mx => self.receive(envelope, body, &summary, &senders).await,
                Mode::Submission => self.submit(envelope, body, &summary, &senders).await,
            },
        };
        self.end_transaction();
        self.reply(reply);
    }

    /// The quota again, now that the message's size is known: RCPT only saw that a mailbox
    /// was not yet full, and a large message must not pass a nearly full one. A recipient it
    /// does not fit makes the whole message wait (452: nothing is delivered, the sender tries
    /// again), since SMTP has no way to refuse one recipient after DATA. List members are
    /// not held (see `MailStore::list_members`).
    async fn mailbox_full(&self, envelope: &Envelope, size: usize) -> Option<Reply> {
        let quota = self.svc.config.mail.quota;
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        for (_, account) in &envelope.rcpts {
            match self.svc.mail.usage(*account).await {
                Ok((used, _)) if used.saturating_add(size) > quota => {
                    return Some(Reply::new(
                        452,
                        (4, 2, 2),
                        // Which recipient, and how full, is not told: a sender could measure
                        // a colleague's mailbox with probe sizes.
                        "A recipient's mailbox is too full for this message; try again later",
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "mailbox usage could not be read");
                    return Some(replies::try_later());
                }
            }
        }
        None
    }

    /// RFC 5321 section 4.4 trace header, with RFC 3848's protocol names.
    fn received(&self, envelope: &Envelope) -> String {
        let from = carepost_proto_smtp::ehlo::received_from(
            self.session.helo.as_deref().unwrap_or("unknown"),
            &self.peer.ip().to_string(),
        );
        let with = match (self.session.tls, self.principal.is_some()) {
            (true, true) => "ESMTPSA",
            (true, false) => "ESMTPS",
            (false, true) => "ESMTPA",
            (false, false) => "ESMTP",
        };
        // A `for` clause only when the message has one recipient in all: every copy carries
        // this header, and one local `for` on the copies relayed outside would tell an outside
        // party who else received it (a Bcc).
        let for_ = match (
            envelope.rcpts.as_slice(),
            envelope.remote.as_slice(),
            envelope.lists.is_empty(),
        ) {
            ([(one, _)], [], true) => format!("\r\n\tfor <{one}>"),
            ([], [one], true) => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        format!(
            "from {from} by {host} with {with}{for_};\r\n\t{date}",
            host = self.hostname(),
            date = rfc5322_date(self.svc.clock.now()),
        )
    }

    /// What SPF, DKIM, DMARC and ARC say; without a verifier, any claim to an own domain is
    /// refused outright.
    async fn verify_sender(
        &self,
        envelope: &Envelope,
        body: &[u8],
        senders: &HeaderSenders,
    ) -> Verdict {
        let Some(auth) = &self.svc.sender_auth else {
            let claims_own = self.is_ours(&envelope.from)
                || self.is_ours(&senders.from.address)
                || senders
                    .sender
                    .as_ref()
                    .is_some_and(|m| self.is_ours(&m.address));
            return Verdict {
                results: format!("{}; none", self.hostname()),
                disposition: match claims_own {
                    true => Disposition::Reject(
                        "Mail from outside may not claim to be from this organization".into(),
                    ),
                    false => Disposition::Accept,
                },
                from_proven: false,
            };
        };
        let helo = self.session.helo.clone().unwrap_or_default();
        let origin = Origin {
            ip: self.peer.ip(),
            helo: &helo,
            mail_from: &envelope.from,
            header_from: &senders.from.address,
            header_sender: senders.sender.as_ref().map(|m| m.address.as_str()),
        };
        auth.verify(body, origin).await
    }

    async fn receive(
        &mut self,
        envelope: Envelope,
        body: Vec<u8>,
        summary: &Summary,
        senders: &HeaderSenders,
    ) -> Reply {
        let verdict = self.verify_sender(&envelope, &body, senders).await;
        let folder = match verdict.disposition {
            Disposition::Reject(why) => return Reply::new(550, (5, 7, 1), why),
            Disposition::Junk => Folder::Junk,
            Disposition::Accept => Folder::Inbox,
        };
        // Every Authentication-Results from outside goes: a comment or a look-alike name
        // could otherwise pass one off as this server's (RFC 8601 section 5).
        let mut raw = remove_headers(&body, "Authentication-Results", "");
        raw = remove_headers(&raw, "X-Carepost-External", "");
        raw = prefix_subject(&raw, &self.svc.config.mail.external_subject_prefix);
        // A name that shows an address (`"administrator@kaiser.org" <x@elsewhere>`) is how a
        // message from outside passes for a colleague's: the reader is told in the subject.
        let own = [Some(&senders.from), senders.sender.as_ref()]
            .into_iter()
            .flatten()
            .map(|m| m.address.to_ascii_lowercase())
            .collect::<Vec<_>>();
        if shown_addresses(&body, senders).any(|shown| !own.contains(&shown)) {
            raw = prefix_subject(&raw, DISPLAY_WARNING);
        }
        raw = prepend_header(&raw, "X-Carepost-External", "yes");
        raw = prepend_header(&raw, "Authentication-Results", &verdict.results);
        raw = prepend_header(&raw, "Received", &self.received(&envelope));
        raw = prepend_header(&raw, "Return-Path", &format!("<{}>", envelope.from));
        let mut targets = inbox_targets(&envelope);
        for t in &mut targets {
            t.folder = folder;
        }
        let recipients: Vec<AccountId> = targets.iter().map(|t| t.account).collect();
        let what = (targets, None);
        let reply = self
            .deliver(
                envelope,
                raw,
                summary,
                what,
                Actor::System,
                action::MAIL_RECEIVE,
            )
            .await;
        if reply.code == 250 && verdict.from_proven {
            self.apply_calendar_replies(&body, &senders.from.address, &recipients)
                .await;
        }
        reply
    }

    /// An answer to an invitation, mailed from outside by the attendee and delivered: each
    /// recipient who organizes that meeting gets the answer in their copy. Only mail whose
    /// From: passed DMARC comes here, and the calendar takes only the From: address's own
    /// answer; a refusal is on the audit trail. The message is in the mailbox either way.
    async fn apply_calendar_replies(&self, body: &[u8], from: &str, recipients: &[AccountId]) {
        let Some(calendars) = &self.svc.calendars else {
            return;
        };
        for text in carepost_mail::calendar_replies(body) {
            for account in recipients {
                match calendars.mailed_reply(*account, from, &text).await {
                    Ok(outcome) => {
                        metrics::counter!("carepost_imip_received_total", "outcome" => format!("{outcome:?}"))
                            .increment(1);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "an answer to an invitation was not applied")
                    }
                }
            }
        }
    }

    async fn submit(
        &mut self,
        envelope: Envelope,
        body: Vec<u8>,
        summary: &Summary,
        senders: &HeaderSenders,
    ) -> Reply {
        let Some(p) = self.principal.clone() else {
            return replies::auth_required();
        };
        let claimed = std::iter::once(&senders.from).chain(&senders.sender);
        if let Some(other) = claimed
            .clone()
            .map(|m| m.address.to_lowercase())
            .find(|a| !p.addresses.contains(a))
        {
            return self.refuse_spoofing(&other, Claim::Header).await;
        }
        // A display name may not show another address than the sender's own: neither as
        // written nor as mail-parser shows it (a comment, an encoded word in the address).
        let _ = claimed;
        if let Some(shown) = shown_addresses(&body, senders).find(|a| !p.addresses.contains(a)) {
            return self.refuse_spoofing(&shown, Claim::DisplayName).await;
        }
        let now = self.svc.clock.now();
        // Bcc: is for the envelope only (RFC 5322 section 3.6.3); no recipient sees it. Bare
        // line breaks in the body become CRLF before anything is signed.
        let body = remove_headers(&normalize_line_breaks(&body), "Bcc", "");
        let mut raw = add_missing_headers(&body, now, self.hostname(), self.svc.rng.as_ref());
        raw = prepend_header(&raw, "Received", &self.received(&envelope));
        if let Some(key) = self.svc.mail.dkim() {
            // Every copy carries the signature: one body for the queue and the mailboxes.
            match key.sign(&raw) {
                Ok(header) => raw = [header.as_bytes(), &raw].concat(),
                Err(e) => tracing::warn!(error = %e, "DKIM signing failed; sending unsigned"),
            }
        }
        let outbound = (!envelope.remote.is_empty()).then(|| Outbound {
            mail_from: envelope.from.clone(),
            sender: Some(p.signed_in.account),
            recipients: envelope.remote.clone(),
            lifetime: self.svc.config.mail.queue_lifetime,
            require_tls: envelope.require_tls,
        });
        let mut targets = inbox_targets(&envelope);
        if self.svc.config.mail.save_sent {
            targets.push(Target {
                account: p.signed_in.account,
                folder: Folder::Sent,
                flags: "\\Seen".to_string(),
                ..Target::inbox(p.signed_in.account)
            });
        }
        let actor = Actor::Account {
            id: p.signed_in.account,
            address: p.signed_in.address.clone(),
        };
        self.deliver(
            envelope,
            raw,
            summary,
            (targets, outbound),
            actor,
            action::MAIL_SUBMIT,
        )
        .await
    }

    async fn deliver(
        &mut self,
        envelope: Envelope,
        raw: Vec<u8>,
        summary: &Summary,
        (targets, outbound): (Vec<Target>, Option<Outbound>),
        actor: Actor,
        what: &'static str,
    ) -> Reply {
        let message_id = summary.message_id.clone().unwrap_or_default();
        let to: Vec<&str> = envelope
            .rcpts
            .iter()
            .map(|(a, _)| a.as_str())
            .chain(envelope.lists.iter().map(|(a, _)| a.as_str()))
            .chain(envelope.remote.iter().map(String::as_str))
            .collect();
        let lists: Vec<_> = envelope
            .lists
            .iter()
            .map(|(a, m)| json!({ "list": a, "members": m.len() }))
            .collect();
        let mut event = NewEvent::success(
            self.svc.clock.now(),
            &actor,
            what,
            format!("message:{message_id}"),
        )
        .with_details(json!({
            "from": envelope.from,
            "to": to,
            "lists": lists,
            "size": raw.len(),
            "tls": self.session.tls,
        }));
        event.source = Some(self.peer.ip().to_string());
        let result = self.deliver_in_parts(raw, targets, outbound, event).await;
        let outcome = if result.is_ok() {
            "delivered"
        } else {
            "failed"
        };
        metrics::counter!("carepost_smtp_messages_total", "listener" => self.kind.name(), "outcome" => outcome)
            .increment(1);
        match result {
            Ok(_) => Reply::new(250, (2, 0, 0), "Message accepted"),
            Err(MailError::Invalid(why)) => Reply::new(554, (5, 6, 0), why),
            Err(e) => {
                tracing::warn!(error = %e, "delivery failed");
                replies::try_later()
            }
        }
    }
}

impl Conn {
    /// Delivers in parts of at most `COPIES_PER_COMMIT` copies, each its own transaction, so
    /// that a message to a large list never holds the store's writer for long. The first part
    /// carries the queue entry and the message's audit event, the others an event naming the
    /// part. A failed part fails the message: the client sends it again, and members already
    /// served get it twice, which beats a list that blocks every other delivery.
    async fn deliver_in_parts(
        &self,
        raw: Vec<u8>,
        targets: Vec<Target>,
        outbound: Option<Outbound>,
        event: NewEvent,
    ) -> Result<(), MailError> {
        if targets.len() <= COPIES_PER_COMMIT {
            let delivery = Delivery {
                raw,
                targets,
                outbound,
                event,
            };
            return self.svc.mail.deliver(delivery).await.map(|_| ());
        }
        let parts: Vec<Vec<Target>> = targets
            .chunks(COPIES_PER_COMMIT)
            .map(<[Target]>::to_vec)
            .collect();
        let of = parts.len();
        let mut outbound = outbound;
        for (i, part) in parts.into_iter().enumerate() {
            let mut e = if i == 0 {
                event.clone()
            } else {
                let mut e =
                    NewEvent::success(event.at, &event.actor, event.action, event.target.clone());
                e.source = event.source.clone();
                e
            };
            let copies = json!({ "number": i + 1, "of": of, "copies": part.len() });
            match e.details.as_object_mut() {
                Some(d) => {
                    d.insert("part".into(), copies);
                }
                None => e.details = json!({ "part": copies }),
            }
            let delivery = Delivery {
                raw: raw.clone(),
                targets: part,
                outbound: outbound.take(),
                event: e,
            };
            self.svc.mail.deliver(delivery).await?;
        }
        Ok(())
    }
}

/// Copies committed together at most (see `deliver_in_parts`).
const COPIES_PER_COMMIT: usize = 2000;

/// One INBOX copy per account, however many of its addresses and lists were named.
fn inbox_targets(envelope: &Envelope) -> Vec<Target> {
    let mut seen = std::collections::HashSet::new();
    envelope
        .rcpts
        .iter()
        .map(|(_, account)| *account)
        .chain(envelope.lists.iter().flat_map(|(_, m)| m.iter().copied()))
        .filter(|account| seen.insert(*account))
        .map(Target::inbox)
        .collect()
}
