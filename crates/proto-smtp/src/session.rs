//! The SMTP session as an explicit state machine (RFC 5321 section 4.1.4 on command order,
//! RFC 3207 for STARTTLS, RFC 4954 for AUTH, RFC 6409 for submission). `check` says whether a
//! command may come now, and which reply refuses it; the service then does the domain work and
//! reports the outcome through the `on_*` transitions. No I/O, no policy about accounts.

use crate::reply::{Reply, replies};
use smtp_proto::Request;

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Port 25: mail from other servers to the organization; no AUTH.
    Mx,
    /// Ports 587 and 465: the organization's own clients; AUTH required, and only under TLS.
    Submission,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Greeting sent; HELO or EHLO next.
    Connected,
    /// HELO/EHLO done, no transaction.
    Ready,
    /// MAIL accepted.
    Mail,
    /// At least one RCPT accepted.
    Rcpt,
    /// BDAT chunks being received.
    Chunking,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub mode: Mode,
    pub phase: Phase,
    pub tls: bool,
    pub helo: Option<String>,
    /// Whether the client may use AUTH at all on this listener (submission only).
    pub authenticated: bool,
    /// Invalid commands so far; the service hangs up after too many.
    pub errors: u32,
}

impl Session {
    pub fn new(mode: Mode, tls: bool) -> Session {
        Session {
            mode,
            phase: Phase::Connected,
            tls,
            helo: None,
            authenticated: false,
            errors: 0,
        }
    }

    /// Whether `req` may be given now; the refusal otherwise.
    pub fn check(&self, req: &Request<String>) -> Result<(), Reply> {
        let need_helo = || {
            if self.phase == Phase::Connected {
                Err(replies::bad_sequence("Send EHLO first"))
            } else {
                Ok(())
            }
        };
        match req {
            Request::Ehlo { .. } | Request::Helo { .. } => {
                if self.phase == Phase::Chunking {
                    return Err(replies::bad_sequence("Finish the BDAT transfer first"));
                }
                Ok(())
            }
            Request::Lhlo { .. } => Err(replies::unknown_command()),
            Request::StartTls => {
                need_helo()?;
                if self.tls {
                    Err(replies::bad_sequence("TLS is already active"))
                } else if self.phase != Phase::Ready {
                    Err(replies::bad_sequence(
                        "STARTTLS only outside a mail transaction",
                    ))
                } else {
                    Ok(())
                }
            }
            Request::Auth { .. } => {
                need_helo()?;
                if self.mode == Mode::Mx {
                    Err(replies::not_implemented(
                        "AUTH on the MX port (use submission, port 587)",
                    ))
                } else if !self.tls {
                    Err(replies::tls_required())
                } else if self.authenticated {
                    Err(replies::bad_sequence("Already authenticated"))
                } else if self.phase != Phase::Ready {
                    Err(replies::bad_sequence(
                        "AUTH only outside a mail transaction",
                    ))
                } else {
                    Ok(())
                }
            }
            Request::Mail { .. } => {
                need_helo()?;
                if self.mode == Mode::Submission && !self.tls {
                    Err(replies::tls_required())
                } else if self.mode == Mode::Submission && !self.authenticated {
                    Err(replies::auth_required())
                } else if self.phase != Phase::Ready {
                    Err(replies::bad_sequence("Nested MAIL command"))
                } else {
                    Ok(())
                }
            }
            Request::Rcpt { .. } => match self.phase {
                Phase::Mail | Phase::Rcpt => Ok(()),
                Phase::Chunking => Err(replies::bad_sequence("Finish the BDAT transfer first")),
                _ => Err(replies::bad_sequence("Need MAIL before RCPT")),
            },
            Request::Data => match self.phase {
                Phase::Rcpt => Ok(()),
                Phase::Mail => Err(Reply::new(554, (5, 5, 1), "No valid recipients")),
                Phase::Chunking => Err(replies::bad_sequence("DATA cannot follow BDAT")),
                _ => Err(replies::bad_sequence("Need MAIL and RCPT before DATA")),
            },
            // Refused BDATs still carry their bytes; the service reads and drops them.
            Request::Bdat { .. } => match self.phase {
                Phase::Rcpt | Phase::Chunking => Ok(()),
                Phase::Mail => Err(Reply::new(554, (5, 5, 1), "No valid recipients")),
                _ => Err(replies::bad_sequence("Need MAIL and RCPT before BDAT")),
            },
            Request::Rset | Request::Noop { .. } | Request::Quit | Request::Help { .. } => Ok(()),
            Request::Vrfy { .. } => Err(Reply::new(
                252,
                (2, 5, 0),
                "Cannot verify, but will accept the message and attempt delivery",
            )),
            Request::Expn { .. } => Err(Reply::new(550, (5, 7, 0), "EXPN is not allowed")),
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                Err(replies::not_implemented(req.name()))
            }
        }
    }

    pub fn on_helo(&mut self, host: &str) {
        self.helo = Some(host.to_string());
        self.phase = Phase::Ready;
    }

    /// After the TLS handshake: everything learnt before it is forgotten (RFC 3207 section 4.2).
    pub fn on_tls(&mut self) {
        self.tls = true;
        self.helo = None;
        self.phase = Phase::Connected;
    }

    pub fn on_authenticated(&mut self) {
        self.authenticated = true;
    }

    pub fn on_mail(&mut self) {
        self.phase = Phase::Mail;
    }

    pub fn on_rcpt(&mut self) {
        self.phase = Phase::Rcpt;
    }

    pub fn on_chunk(&mut self) {
        self.phase = Phase::Chunking;
    }

    /// RSET, or the end of a transaction (delivered or refused).
    pub fn on_reset(&mut self) {
        if self.phase != Phase::Connected {
            self.phase = Phase::Ready;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::{MailFrom, RcptTo};

    fn mail() -> Request<String> {
        Request::Mail {
            from: MailFrom {
                address: "a@b.org".to_string(),
                ..Default::default()
            },
        }
    }

    fn rcpt() -> Request<String> {
        Request::Rcpt {
            to: RcptTo {
                address: "c@d.org".to_string(),
                orcpt: None,
                rrvs: 0,
                flags: 0,
            },
        }
    }

    fn auth() -> Request<String> {
        Request::Auth {
            mechanism: smtp_proto::AUTH_PLAIN,
            initial_response: String::new(),
        }
    }

    fn code(s: &Session, r: &Request<String>) -> u16 {
        s.check(r).err().map_or(0, |r| r.code)
    }

    #[test]
    fn rfc5321_4_1_4_commands_come_in_order() {
        let mut s = Session::new(Mode::Mx, false);
        assert_eq!(code(&s, &mail()), 503, "EHLO first");
        s.on_helo("client");
        assert_eq!(code(&s, &rcpt()), 503, "MAIL before RCPT");
        assert_eq!(code(&s, &Request::Data), 503);
        assert_eq!(code(&s, &mail()), 0);
        s.on_mail();
        assert_eq!(code(&s, &mail()), 503, "no nested MAIL");
        assert_eq!(code(&s, &Request::Data), 554, "no recipients yet");
        s.on_rcpt();
        assert_eq!(code(&s, &Request::Data), 0);
        s.on_reset();
        assert_eq!(code(&s, &mail()), 0);
    }

    #[test]
    fn rfc6409_submission_needs_tls_then_auth() {
        let mut s = Session::new(Mode::Submission, false);
        s.on_helo("client");
        assert_eq!(code(&s, &auth()), 530, "no AUTH before TLS");
        assert_eq!(code(&s, &mail()), 530);
        assert_eq!(code(&s, &Request::StartTls), 0);
        s.on_tls();
        assert_eq!(s.phase, Phase::Connected, "RFC 3207: state is reset");
        s.on_helo("client");
        assert_eq!(code(&s, &mail()), 530, "authentication required");
        assert_eq!(code(&s, &auth()), 0);
        s.on_authenticated();
        assert_eq!(code(&s, &auth()), 503);
        assert_eq!(code(&s, &mail()), 0);
        assert_eq!(code(&s, &Request::StartTls), 503);
    }

    #[test]
    fn the_mx_port_offers_no_auth_and_no_expn() {
        let mut s = Session::new(Mode::Mx, true);
        s.on_helo("peer");
        assert_eq!(code(&s, &auth()), 502);
        assert_eq!(
            code(
                &s,
                &Request::Expn {
                    value: "all".into()
                }
            ),
            550
        );
        assert_eq!(code(&s, &Request::Vrfy { value: "x".into() }), 252);
    }
}
