//! MAIL FROM and RCPT TO. On the MX: mail for the organization's addresses only, never
//! relayed. On submission: the envelope sender must be the signed-in account's address or
//! one of its aliases, and each account submits a bounded number of messages per hour.

use crate::conn::Conn;
use carepost_mail::Recipient;
use carepost_proto_smtp::{MailFrom, Mode, RcptTo, Reply};
use carepost_types::AccountId;

/// The transaction under way.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// Lower case; empty for the null sender of bounces.
    pub from: String,
    /// Accepted recipients: the address given and its account.
    pub rcpts: Vec<(String, AccountId)>,
    /// Accepted recipients outside the organization (submission only), for the queue.
    pub remote: Vec<String>,
}

impl Conn {
    pub(crate) fn is_ours(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, d)| {
            self.svc
                .config
                .domains()
                .any(|o| o.as_str().eq_ignore_ascii_case(d))
        })
    }

    pub(crate) fn mail_from(&mut self, from: MailFrom<String>) {
        let address = from.address.trim().to_lowercase();
        let max = self.svc.config.mail.max_message_size;
        if u64::try_from(from.size).unwrap_or(u64::MAX) > max {
            self.reply(carepost_proto_smtp::replies::message_too_big(max));
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
                    self.reply(Reply::new(
                        550,
                        (5, 7, 1),
                        "You may only send as your own address or one of your aliases",
                    ));
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
        });
        self.session.on_mail();
        self.reply(Reply::new(250, (2, 1, 0), "Sender OK"));
    }

    pub(crate) async fn rcpt_to(&mut self, to: RcptTo<String>) {
        let address = to.address.trim().to_lowercase();
        let count = self
            .envelope
            .as_ref()
            .map_or(0, |e| e.rcpts.len() + e.remote.len());
        if count >= self.svc.config.mail.max_recipients {
            self.reply(Reply::new(452, (4, 5, 3), "Too many recipients"));
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
