//! carepost's SMTP services: the MX listener (mail from other servers to the organization) and
//! the submission listeners (587 with STARTTLS, 465 with implicit TLS) for staff mail clients.
//!
//! The accept loop only accepts and spawns; each connection runs in its own task under
//! timeouts and limits (`conn`), drives the sans-IO session of `carepost_proto_smtp`, and calls
//! the domain crates: the identity crate to authenticate (one lockout state across every
//! protocol) and to know an account's addresses, the mail crate to resolve recipients and to
//! deliver. Before AUTH succeeds a connection holds no account.

mod conn;
mod envelope;
mod finish;
mod outbound;
mod sasl;

use carepost_config::Config;
use carepost_identity::Directory;
use carepost_mail::{MailStore, SenderAuth};
use carepost_proto_smtp::Mode;
use carepost_types::{AccountId, Clock, Counted, Rng};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// Open connections per listener; past it, new ones wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;
/// Open connections from one address per listener; past it, 421 and close, so that one host
/// cannot take every slot.
const MAX_PER_SOURCE: usize = 20;

/// How a listener starts its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Port 25: plain, STARTTLS offered.
    Mx,
    /// Port 587: plain, STARTTLS required before AUTH.
    Submission,
    /// Port 465: TLS from the first byte (RFC 8314).
    Submissions,
}

impl Listener {
    fn mode(self) -> Mode {
        match self {
            Listener::Mx => Mode::Mx,
            Listener::Submission | Listener::Submissions => Mode::Submission,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Listener::Mx => "smtp",
            Listener::Submission => "submission",
            Listener::Submissions => "submissions",
        }
    }
}

type SubmitLimiter = governor::RateLimiter<
    AccountId,
    governor::state::keyed::HashMapStateStore<AccountId>,
    governor::clock::DefaultClock,
>;

/// What every SMTP connection shares.
#[derive(Clone)]
pub struct SmtpService {
    config: Arc<Config>,
    directory: Directory,
    /// Checks the access tokens of OAUTHBEARER and XOAUTH2.
    oidc: carepost_oidc::Provider,
    mail: MailStore,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    tls: TlsAcceptor,
    submissions: Arc<SubmitLimiter>,
    timeouts: Timeouts,
    /// SPF/DKIM/DMARC/ARC for the MX; `None` when the system has no DNS configuration.
    sender_auth: Option<Arc<SenderAuth>>,
    /// The certificate authorities outbound TLS is verified against.
    trust: Arc<outbound::trust::Trust>,
    /// Where answers to invitations that come by mail (iMIP REPLY) are applied.
    calendars: Option<carepost_calendar::Calendars>,
}

impl std::fmt::Debug for SmtpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpService").finish_non_exhaustive()
    }
}

/// How long a client may be silent.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Waiting for a command (RFC 5321 section 4.5.3.2.7: at least 5 minutes).
    pub command: Duration,
    /// The TLS handshake.
    pub handshake: Duration,
    /// A whole session, however busy: a client trickling bytes to hold a slot is cut off
    /// here (with 421, so a real server reconnects and goes on).
    pub session: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(300),
            handshake: Duration::from_secs(30),
            session: Duration::from_secs(3600),
        }
    }
}

impl SmtpService {
    pub fn new(
        config: Arc<Config>,
        directory: Directory,
        oidc: carepost_oidc::Provider,
        mail: MailStore,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        tls: TlsAcceptor,
    ) -> SmtpService {
        let per_hour = NonZeroU32::new(config.mail.submissions_per_hour).unwrap_or(NonZeroU32::MAX);
        let submissions = Arc::new(governor::RateLimiter::hashmap(governor::Quota::per_hour(
            per_hour,
        )));
        let domains = config.domains().map(|d| d.as_str().to_string()).collect();
        let sender_auth =
            match SenderAuth::new(&config.mail.hostname, domains, &config.mail.dns_servers) {
                Ok(a) => Some(Arc::new(
                    a.trust_resolver_dnssec(config.mail.dnssec_resolver_trusted),
                )),
                Err(e) => {
                    tracing::warn!(error = %e, "sender authentication (SPF, DKIM, DMARC) is off");
                    None
                }
            };
        if let Some(path) = &config.mail.dkim_key
            && mail.dkim().is_none()
        {
            tracing::warn!(path = %path.display(), "no usable DKIM key; outgoing mail will not be signed");
        }
        let trust = Arc::new(outbound::trust::Trust::load(
            config.mail.tls_trust.as_deref(),
        ));
        SmtpService {
            config,
            directory,
            oidc,
            mail,
            clock,
            rng,
            tls,
            submissions,
            timeouts: Timeouts::default(),
            sender_auth,
            trust,
            calendars: None,
        }
    }

    /// Applies answers to invitations that arrive at the MX to `calendars`.
    pub fn with_calendars(mut self, calendars: carepost_calendar::Calendars) -> SmtpService {
        self.calendars = Some(calendars);
        self
    }

    /// The MX's verifier, to preload DNS records into (tests, sites without public DNS).
    pub fn sender_auth(&self) -> Option<&SenderAuth> {
        self.sender_auth.as_deref()
    }

    pub fn with_timeouts(mut self, t: Timeouts) -> SmtpService {
        self.timeouts = t;
        self
    }

    /// Serves `listener` until `shutdown` turns true; open connections are told 421 at their
    /// next command wait and closed.
    pub async fn serve(
        self,
        listener: TcpListener,
        kind: Listener,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let sources = Counted::new(MAX_PER_SOURCE);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            let (tcp, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, listener = kind.name(), "accept failed");
                        continue;
                    }
                },
                _ = shutdown.changed() => break,
            };
            let svc = self.clone();
            let stop = shutdown.clone();
            let source = sources.enter(peer.ip());
            tasks.spawn(async move {
                match source {
                    Some(slot) => {
                        conn::run(svc, tcp, peer, kind, stop).await;
                        drop(slot);
                    }
                    None => conn::refuse_busy(tcp).await,
                }
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        drop(listener);
        while tasks.join_next().await.is_some() {}
    }
}
