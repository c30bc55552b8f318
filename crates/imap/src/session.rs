//! An IMAP session as an explicit state machine (RFC 9051 section 3): not authenticated,
//! authenticated, selected, logout. The state carries its data: nothing before sign-in, the
//! signed-in account after, and the selected mailbox's view in the selected state. `handle`
//! checks the command against the state (`Phase::allows`), runs it in `ops`, and tells the
//! connection what comes next.

use crate::ImapService;
use crate::view::View;
use carepost_audit::Actor;
use carepost_identity::Credential;
use carepost_mail::Change;
use carepost_proto_imap::response::{CapabilityContext, Status, capabilities, tagged};
use carepost_proto_imap::{Command, Phase, Receiver};
use carepost_proto_sasl::Exchange;
use carepost_types::{AccountId, Slot, UnixMillis};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::broadcast;

/// Longest command line between literals.
const MAX_LINE: usize = 64 * 1024;
/// Bad commands before the server hangs up.
const MAX_ERRORS: u32 = 50;
/// Before sign-in a literal holds at most a user name or password.
const PRE_AUTH_LITERAL: usize = 8 * 1024;
/// Failed sign-ins on one connection before it is closed (the shared lockout counts them too).
pub(crate) const MAX_FAILED_SIGN_INS: u32 = 3;
/// Output held before it is written, between commands of one read.
pub(crate) const OUT_HIGH_WATER: usize = 256 * 1024;

/// The signed-in account.
#[derive(Debug)]
pub(crate) struct Principal {
    pub account: AccountId,
    pub actor: Actor,
    /// Held while the session lives: counts toward the account's connection limit.
    pub _slot: Slot<AccountId>,
    /// What it signed in with (a password or one app password), and for a password when that
    /// password had been set.
    pub credential: Credential,
    pub password_stamp: Option<UnixMillis>,
    /// When the account and credential were last found still in force.
    pub checked_at: UnixMillis,
}

#[derive(Debug)]
pub(crate) enum State {
    NotAuthenticated,
    Authenticated(Principal),
    Selected(Principal, Box<View>),
    Logout,
}

impl State {
    fn phase(&self) -> Phase {
        match self {
            State::NotAuthenticated => Phase::NotAuthenticated,
            State::Authenticated(_) => Phase::Authenticated,
            State::Selected(..) => Phase::Selected,
            State::Logout => Phase::Logout,
        }
    }
}

/// What the connection does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    Close,
    StartTls,
}

/// What a handled command leaves the connection doing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    Next(Next),
    /// Waiting in IDLE for DONE.
    Idle,
    /// Reading AUTHENTICATE responses.
    Sasl,
}

/// Extensions the client turned on (ENABLE, or implied by a command).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Enabled {
    pub rev2: bool,
    pub utf8: bool,
    pub condstore: bool,
    pub qresync: bool,
}

pub(crate) struct Session {
    pub svc: ImapService,
    pub peer: SocketAddr,
    pub tls: bool,
    pub starttls_offered: bool,
    pub state: State,
    pub rx: Receiver,
    pub out: Vec<u8>,
    pub enabled: Enabled,
    pub sasl: Option<Exchange>,
    pub changes: Option<broadcast::Receiver<Change>>,
    errors: u32,
    pub failed_sign_ins: u32,
}

impl Session {
    pub(crate) fn new(svc: ImapService, peer: SocketAddr, starttls_offered: bool) -> Session {
        Session {
            rx: Receiver::new(MAX_LINE, PRE_AUTH_LITERAL, PRE_AUTH_LITERAL + MAX_LINE),
            svc,
            peer,
            tls: false,
            starttls_offered,
            state: State::NotAuthenticated,
            out: Vec::with_capacity(4096),
            enabled: Enabled::default(),
            sasl: None,
            changes: None,
            errors: 0,
            failed_sign_ins: 0,
        }
    }

    pub(crate) fn capability_list(&self) -> String {
        capabilities(CapabilityContext {
            tls_active: self.tls,
            starttls_offered: self.starttls_offered,
            authenticated: !matches!(self.state, State::NotAuthenticated),
            append_limit: self.svc.append_limit(),
        })
    }

    /// After sign-in, a literal may be as large as an APPEND.
    pub(crate) fn raise_limits(&mut self) {
        let limit = usize::try_from(self.svc.append_limit()).unwrap_or(usize::MAX);
        self.rx
            .set_limits(limit, limit.saturating_add(MAX_LINE * 4));
    }

    pub(crate) fn greeting(&mut self) {
        let caps = self.capability_list();
        self.untagged(&format!("OK [CAPABILITY {caps}] carepost IMAP ready"));
    }

    /// How long the client may be silent now.
    pub(crate) fn timeout(&self) -> Duration {
        match self.state {
            State::NotAuthenticated => self.svc.timeouts.unauthenticated,
            _ => self.svc.timeouts.idle,
        }
    }

    pub(crate) fn untagged(&mut self, line: &str) {
        self.out.extend_from_slice(b"* ");
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub(crate) fn ok(&mut self, tag: &str, code: Option<&str>, text: &str) {
        self.out
            .extend_from_slice(&tagged(tag, Status::Ok, code, text));
    }

    pub(crate) fn no(&mut self, tag: &str, code: Option<&str>, text: &str) {
        self.out
            .extend_from_slice(&tagged(tag, Status::No, code, text));
    }

    pub(crate) fn bad(&mut self, tag: &str, text: &str) {
        self.errors += 1;
        self.out
            .extend_from_slice(&tagged(tag, Status::Bad, None, text));
    }

    pub(crate) fn parse_error(&mut self, tag: Option<&str>, text: &str) {
        self.bad(tag.unwrap_or("*"), text);
    }

    pub(crate) fn too_many_errors(&mut self) -> bool {
        if self.errors < MAX_ERRORS {
            return false;
        }
        self.untagged("BYE Too many invalid commands");
        true
    }

    /// Turns CONDSTORE on for a command that uses it; with a mailbox selected the client
    /// learns the mailbox's HIGHESTMODSEQ then (RFC 7162 section 3.1).
    pub(crate) fn enable_condstore(&mut self) {
        if std::mem::replace(&mut self.enabled.condstore, true) {
            return;
        }
        if let State::Selected(_, v) = &self.state {
            let line = format!("OK [HIGHESTMODSEQ {}] Highest", v.modseq);
            self.untagged(&line);
        }
    }

    pub(crate) fn utf8(&self) -> bool {
        self.enabled.utf8 || self.enabled.rev2
    }

    pub(crate) fn principal(&self) -> Option<&Principal> {
        match &self.state {
            State::Authenticated(p) | State::Selected(p, _) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn view_mut(&mut self) -> Option<&mut View> {
        match &mut self.state {
            State::Selected(_, v) => Some(v),
            _ => None,
        }
    }

    /// Resolves when the selected mailbox changed (for IDLE); never without one.
    pub(crate) async fn changed(&mut self) {
        let Some(mailbox_id) = (match &self.state {
            State::Selected(_, v) => Some(v.mailbox.id),
            _ => None,
        }) else {
            return std::future::pending().await;
        };
        let Some(rx) = self.changes.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            match rx.recv().await {
                Ok(c) if c.mailbox_id == mailbox_id => break,
                Ok(_) => {}
                // Missed notices: look, something may be ours.
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => {
                    return std::future::pending().await;
                }
            }
        }
        if let Some(v) = self.view_mut() {
            v.stale = true;
        }
    }

    /// Takes in the change notices that came since the last look: whether the selected
    /// mailbox may have changed (always, without notices to go by).
    fn notices_say_changed(&mut self) -> bool {
        let complete = self.svc.mail.notices_are_complete();
        let State::Selected(_, v) = &mut self.state else {
            return false;
        };
        let mut changed = std::mem::take(&mut v.stale) || !complete;
        let Some(rx) = self.changes.as_mut() else {
            return true;
        };
        loop {
            match rx.try_recv() {
                Ok(c) => changed |= c.mailbox_id == v.mailbox.id,
                Err(broadcast::error::TryRecvError::Empty) => return changed,
                Err(broadcast::error::TryRecvError::Lagged(_)) => changed = true,
                Err(broadcast::error::TryRecvError::Closed) => return true,
            }
        }
    }

    /// Reports what changed in the selected mailbox; expunges only when `expunges` (they may
    /// not be sent during FETCH, STORE and SEARCH, RFC 9051 section 7.5.1).
    ///
    /// On SQLite every change to a mailbox is announced in this process, so without a notice
    /// since the last look the store is not asked: most commands of a session alone in its
    /// mailbox cost no query for this. (On PostgreSQL it is always asked.)
    pub(crate) async fn sync(&mut self, expunges: bool) {
        let account = match &self.state {
            State::Selected(p, _) => p.account,
            _ => return,
        };
        if !self.notices_say_changed() {
            if expunges && let State::Selected(_, v) = &mut self.state {
                let vanished = self.enabled.qresync;
                v.report_expunges(vanished, &mut self.out);
            }
            return;
        }
        let enabled = self.enabled;
        let mail = self.svc.mail.clone();
        let mut out = std::mem::take(&mut self.out);
        if let State::Selected(_, v) = &mut self.state
            && let Err(e) = v.sync(&mail, account, enabled, expunges, &mut out).await
        {
            // Look again at the next command.
            v.stale = true;
            tracing::warn!(error = %e, "IMAP: mailbox changes unavailable");
        }
        self.out = out;
    }

    /// Whether the signed-in account may go on (checked every `imap.recheck_interval`); when
    /// not, the session says BYE and must close.
    /// `force`: look now, however recently the last look was (IDLE's timer).
    pub(crate) async fn still_allowed(&mut self, force: bool) -> bool {
        let now = self.svc.clock.now();
        let account = match &self.state {
            State::Authenticated(p) | State::Selected(p, _)
                if force || now.0 - p.checked_at.0 >= self.svc.recheck_ms() =>
            {
                p.account
            }
            _ => return true,
        };
        let (credential, stamp) = match &self.state {
            State::Authenticated(p) | State::Selected(p, _) => (p.credential, p.password_stamp),
            _ => return true,
        };
        let active = match self
            .svc
            .directory
            .credential_in_force(account, &credential, stamp)
            .await
        {
            Ok(ok) => ok,
            // The directory may be briefly unreachable: the next command asks again, but a
            // session whose account could not be looked at for two intervals ends.
            Err(e) => {
                tracing::warn!(error = %e, "IMAP: account status unavailable");
                let checked = match &self.state {
                    State::Authenticated(p) | State::Selected(p, _) => p.checked_at,
                    _ => now,
                };
                if now.0 - checked.0 < self.svc.recheck_ms().saturating_mul(2) {
                    return true;
                }
                self.untagged(
                    "BYE [UNAVAILABLE] Your account cannot be checked now; sign in again later",
                );
                self.state = State::Logout;
                return false;
            }
        };
        if active {
            if let State::Authenticated(p) | State::Selected(p, _) = &mut self.state {
                p.checked_at = now;
            }
            return true;
        }
        self.untagged(
            "BYE Your account, password or app password has changed, or your password has expired; sign in again",
        );
        self.state = State::Logout;
        false
    }

    pub(crate) async fn handle(&mut self, tag: &str, cmd: Command) -> After {
        if !self.still_allowed(false).await {
            return After::Next(Next::Close);
        }
        if !self.state.phase().allows(&cmd) {
            let why = match self.state {
                State::NotAuthenticated => "Sign in first",
                State::Authenticated(_) => "Select a mailbox first",
                _ => "Command not allowed now",
            };
            self.bad(tag, why);
            return After::Next(Next::Continue);
        }
        metrics::counter!("carepost_imap_commands_total", "command" => cmd.name()).increment(1);
        crate::ops::run(self, tag, cmd).await
    }

    /// One line of an AUTHENTICATE exchange; whether the exchange goes on.
    pub(crate) async fn sasl_step(&mut self, tag: &str, line: &str) -> bool {
        crate::ops::auth::sasl_line(self, tag, line).await
    }
}
