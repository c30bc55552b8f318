//! MAIL FROM and RCPT TO. On the MX: mail for the organization's addresses only, never
//! relayed. On submission: the envelope sender must be the signed-in account's address or
//! one of its aliases, and each account submits a bounded number of messages per hour.

use crate::conn::Conn;
use carepost_audit::{Actor, NewEvent, Outcome, action};
use carepost_mail::{Recipient, normalize_domain};
use carepost_proto_smtp::{MAIL_REQUIRETLS, MailFrom, Mode, RcptTo, Reply};
use carepost_types::{AccountId, DepartmentId};

/// The transaction under way.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// Lower case; empty for the null sender of bounces.
    pub from: String,
    /// Accepted recipients: the address given and its account.
    pub rcpts: Vec<(String, AccountId)>,
    /// Accepted recipients outside the organization (submission only), for the queue.
    pub remote: Vec<String>,
    /// Accepted distribution lists (submission only): the address and the accounts it reaches.
    pub lists: Vec<(String, Vec<AccountId>)>,
    /// The sender gave REQUIRETLS (RFC 8689): copies leave only over verified TLS.
    pub require_tls: bool,
}

impl Conn {
    pub(crate) fn is_ours(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, d)| {
            let d = normalize_domain(d);
            self.svc.config.domains().any(|o| o.as_str() == d)
        })
    }

    pub(crate) async fn mail_from(&mut self, from: MailFrom<String>) {
        let address = from.address.trim().to_lowercase();
        let max = self.svc.config.mail.max_message_size;
        if u64::try_from(from.size).unwrap_or(u64::MAX) > max {
            self.reply(carepost_proto_smtp::replies::message_too_big(max));
            return;
        }
        let require_tls = from.flags & MAIL_REQUIRETLS != 0;
        if require_tls && !self.session.tls {
            // RFC 8689 section 4.1: the option is only valid on a TLS session (and is only
            // advertised there).
            self.reply(Reply::new(
                530,
                (5, 7, 10),
                "REQUIRETLS needs a TLS session",
            ));
            return;
        }
        match self.session.mode {
            // Whether a sender in an own domain is genuine is known only after DATA (DKIM).
            Mode::Mx => {}
            Mode::Submission => {
                let Some(p) = &self.principal else {
                    self.reply(carepost_proto_smtp::replies::auth_required());
                    return;
                };
                if !p.addresses.contains(&address) {
                    let refusal = self.refuse_spoofing(&address, Claim::Envelope).await;
                    self.reply(refusal);
                    return;
                }
                let account = p.signed_in.account;
                if self.svc.submissions.check_key(&account).is_err() {
                    self.reply(Reply::new(
                        451,
                        (4, 7, 1),
                        "Too many messages sent this hour; try again later",
                    ));
                    return;
                }
            }
        }
        self.envelope = Some(Envelope {
            from: address,
            rcpts: Vec::new(),
            remote: Vec::new(),
            lists: Vec::new(),
            require_tls,
        });
        self.session.on_mail();
        self.reply(Reply::new(250, (2, 1, 0), "Sender OK"));
    }

    pub(crate) async fn rcpt_to(&mut self, to: RcptTo<String>) {
        let address = to.address.trim().to_lowercase();
        // The domain as the queue keys it (no trailing dot, NFKC): `bob@partner.example.`
        // must meet the same TLS policy as `bob@partner.example`.
        let address = match address.rsplit_once('@') {
            Some((local, domain)) => format!("{local}@{}", normalize_domain(domain)),
            None => address,
        };
        let count = self
            .envelope
            .as_ref()
            .map_or(0, |e| e.rcpts.len() + e.remote.len() + e.lists.len());
        if count >= self.svc.config.mail.max_recipients {
            self.reply(Reply::new(452, (4, 5, 3), "Too many recipients"));
            return;
        }
        if let Some(why) = unsafe_address(&address) {
            self.reply(Reply::new(553, (5, 1, 3), why));
            return;
        }
        let reply = match self.svc.mail.resolve(&address).await {
            Ok(Recipient::Local { account, .. }) => {
                if let Some(e) = self.envelope.as_mut() {
                    e.rcpts.push((address, account));
                }
                self.session.on_rcpt();
                Reply::new(250, (2, 1, 5), "Recipient OK")
            }
            Ok(Recipient::Remote) if self.session.mode == Mode::Mx => {
                Reply::new(550, (5, 7, 1), "Relaying denied")
            }
            Ok(Recipient::Remote) => {
                if let Some(e) = self.envelope.as_mut()
                    && !e.remote.contains(&address)
                {
                    e.remote.push(address);
                }
                self.session.on_rcpt();
                Reply::new(250, (2, 1, 5), "Recipient OK, will be relayed")
            }
            Ok(Recipient::Unknown | Recipient::Refused) => {
                Reply::new(550, (5, 1, 1), "No such recipient here")
            }
            Ok(Recipient::List {
                department,
                senders,
            }) => self.list_rcpt(address, department, &senders).await,
            Ok(Recipient::OverQuota) => Reply::new(
                452,
                (4, 2, 2),
                "The recipient's mailbox is full; try again later",
            ),
            Err(e) => {
                tracing::warn!(error = %e, "recipient lookup failed");
                carepost_proto_smtp::replies::try_later()
            }
        };
        self.reply(reply);
    }
}

impl Conn {
    /// A distribution list as recipient: only signed-in staff holding one of its sender roles
    /// may post (an all-staff address is what a phisher wants); never from outside. The list
    /// is expanded only for a sender who may post, once per transaction. A refusal says no
    /// more than that (not which roles may post), and a signed-in sender's attempt is audited.
    async fn list_rcpt(
        &mut self,
        address: String,
        department: Option<DepartmentId>,
        senders: &[String],
    ) -> Reply {
        const REFUSED: &str = "You may not send to this address";
        let Some(p) = self
            .principal
            .as_ref()
            .filter(|_| self.session.mode == Mode::Submission)
        else {
            return Reply::new(550, (5, 7, 1), REFUSED);
        };
        let account = p.signed_in.account;
        // A role opens only with a second factor, here as in the console: a stolen password
        // alone must not post to an all-staff list.
        let open = match self.svc.directory.roles_open(account).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "list sender check failed");
                return carepost_proto_smtp::replies::try_later();
            }
        };
        let may = match open {
            true => self.svc.mail.may_post(account, department, senders).await,
            false => Ok(false),
        };
        match may {
            Ok(true) => {}
            Ok(false) => {
                self.record_refused_list(&address).await;
                return Reply::new(550, (5, 7, 1), REFUSED);
            }
            Err(e) => {
                tracing::warn!(error = %e, "list sender check failed");
                return carepost_proto_smtp::replies::try_later();
            }
        }
        let known = self
            .envelope
            .as_ref()
            .and_then(|e| e.lists.iter().find(|(a, _)| *a == address))
            .map(|(_, m)| m.len());
        let n = match known {
            Some(n) => n,
            None => match self.svc.mail.list_members(department).await {
                Ok(members) => {
                    let n = members.len();
                    if let Some(e) = self.envelope.as_mut() {
                        e.lists.push((address, members));
                    }
                    n
                }
                Err(e) => {
                    tracing::warn!(error = %e, "list expansion failed");
                    return carepost_proto_smtp::replies::try_later();
                }
            },
        };
        self.session.on_rcpt();
        Reply::new(250, (2, 1, 5), format!("List OK, {n} recipients"))
    }

    async fn record_refused_list(&self, list: &str) {
        self.record_denied_submit(
            format!("list:{list}"),
            serde_json::json!({ "reason": "not a sender of this list" }),
        )
        .await;
    }

    /// Records a signed-in sender's refused submission (nothing without a sign-in).
    async fn record_denied_submit(&self, target: String, details: serde_json::Value) {
        let Some(p) = &self.principal else { return };
        let actor = Actor::Account {
            id: p.signed_in.account,
            address: p.signed_in.address.clone(),
        };
        let mut event =
            NewEvent::success(self.svc.clock.now(), &actor, action::MAIL_SUBMIT, target)
                .with_outcome(Outcome::Denied)
                .with_details(details);
        event.source = Some(self.peer.ip().to_string());
        if let Err(e) = self.svc.mail.record(&event).await {
            tracing::warn!(error = %e, "cannot record a refused submission");
        }
    }
}

/// Why a recipient address cannot be sent on, if it cannot: characters that would change the
/// meaning of a command line to the next server, or a destination inside the network (an
/// address literal, `localhost`, a name without a dot) that a client must not make carepost
/// connect to.
fn unsafe_address(address: &str) -> Option<&'static str> {
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty()
        || address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\\'))
    {
        return Some("Bad recipient address syntax");
    }
    let domain = normalize_domain(domain);
    if domain.starts_with('[') || !domain.contains('.') || domain.ends_with(".localhost") {
        return Some("Recipient domain not accepted");
    }
    if domain
        .split('.')
        .all(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return Some("Recipient domain not accepted");
    }
    None
}

/// Where a submitted message named a sender the account does not own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Claim {
    /// MAIL FROM.
    Envelope,
    /// From: or Sender:.
    Header,
    /// The display name of From: or Sender: shows another address.
    DisplayName,
}

impl Conn {
    /// Refuses a sender the account does not own, and records the attempt: an insider sending
    /// as someone else is what the security team wants to know about.
    pub(crate) async fn refuse_spoofing(&self, claimed: &str, claim: Claim) -> Reply {
        let (field, text) = match claim {
            Claim::Envelope => (
                "envelope",
                "You may only send as your own address or one of your aliases",
            ),
            Claim::Header => (
                "header",
                "The From: and Sender: headers must be your own address or one of your aliases",
            ),
            Claim::DisplayName => (
                "display-name",
                "The name in From: or Sender: may not show an address other than your own",
            ),
        };
        if let Some(p) = &self.principal {
            let target = format!("account:{}", p.signed_in.address);
            self.record_denied_submit(
                target,
                serde_json::json!({ "claimed_sender": claimed, "field": field }),
            )
            .await;
        }
        Reply::new(550, (5, 7, 1), text)
    }
}

#[cfg(test)]
mod tests {
    use super::unsafe_address;

    #[test]
    fn recipients_that_could_steer_the_outbound_queue_are_refused() {
        assert!(unsafe_address("dr.who@clinic.example").is_none());
        assert!(unsafe_address("x@localhost").is_some());
        assert!(unsafe_address("x@[10.0.0.5]").is_some());
        assert!(unsafe_address("x@10.0.0.5").is_some());
        assert!(unsafe_address("a> NOTIFY=NEVER@evil.com").is_some());
        assert!(unsafe_address("\"a b\"@evil.com").is_some());
        assert!(unsafe_address("x@intranet").is_some());
    }
}
