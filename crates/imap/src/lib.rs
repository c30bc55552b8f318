//! carepost's IMAP service (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1 clients too): port 143 with
//! STARTTLS (sign-in refused until TLS) and port 993 with implicit TLS.
//!
//! The accept loop only accepts and spawns. Each connection runs in its own task (`conn`:
//! TLS, reads, timeouts, IDLE) and drives a `session::Session`, whose state is an enum: before
//! sign-in it holds nothing but the authenticator; after, the signed-in account, and in the
//! selected state that account's view of one mailbox (`view`). Commands run in `ops`, one
//! file per family, against the mail crate, which scopes every call to the account.

mod conn;
mod mime;
mod ops;
mod session;
mod view;

use carepost_config::Config;
use carepost_identity::Directory;
use carepost_mail::MailStore;
use carepost_types::{AccountId, Clock, Counted};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// How a listener starts its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Port 143: plain, STARTTLS before sign-in.
    Imap,
    /// Port 993: TLS from the first byte (RFC 8314).
    Imaps,
}

impl Listener {
    pub fn name(self) -> &'static str {
        match self {
            Listener::Imap => "imap",
            Listener::Imaps => "imaps",
        }
    }
}

/// How long a client may be silent.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Before sign-in: a client that connects and says nothing is let go soon.
    pub unauthenticated: Duration,
    /// After sign-in, between commands and in IDLE (RFC 9051 section 5.4: at least 30 min).
    pub idle: Duration,
    pub handshake: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            unauthenticated: Duration::from_secs(60),
            idle: Duration::from_secs(30 * 60),
            handshake: Duration::from_secs(30),
        }
    }
}

/// What every IMAP connection shares.
#[derive(Clone)]
pub struct ImapService {
    config: Arc<Config>,
    directory: Directory,
    /// Checks the access tokens of OAUTHBEARER and XOAUTH2.
    oidc: carepost_oidc::Provider,
    mail: MailStore,
    clock: Arc<dyn Clock>,
    tls: TlsAcceptor,
    timeouts: Timeouts,
    accounts: Arc<Counted<AccountId>>,
}

impl std::fmt::Debug for ImapService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapService").finish_non_exhaustive()
    }
}

impl ImapService {
    pub fn new(
        config: Arc<Config>,
        directory: Directory,
        oidc: carepost_oidc::Provider,
        mail: MailStore,
        clock: Arc<dyn Clock>,
        tls: TlsAcceptor,
    ) -> ImapService {
        let per_account = config.imap.max_sessions_per_account;
        ImapService {
            config,
            directory,
            oidc,
            mail,
            clock,
            tls,
            timeouts: Timeouts::default(),
            accounts: Counted::new(per_account),
        }
    }

    pub fn with_timeouts(mut self, t: Timeouts) -> ImapService {
        self.timeouts = t;
        self
    }

    /// How often an open session checks its account and credential, in milliseconds.
    pub(crate) fn recheck_ms(&self) -> i64 {
        i64::try_from(self.config.imap.recheck_interval.as_millis()).unwrap_or(i64::MAX)
    }

    /// The largest message APPEND takes (APPENDLIMIT, RFC 7889): the SMTP size limit.
    fn append_limit(&self) -> u64 {
        self.config.mail.max_message_size
    }

    /// Serves `listener` until `shutdown` turns true; open sessions get `* BYE` and close.
    pub async fn serve(
        self,
        listener: TcpListener,
        kind: Listener,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let limits = self.config.imap;
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let sources: Arc<Counted<IpAddr>> = Counted::new(limits.max_connections_per_source);
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
                    None => {
                        // A refused connection does not keep a slot while it is told so.
                        drop(permit);
                        conn::refuse_busy(svc, tcp, kind).await;
                        return;
                    }
                }
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        drop(listener);
        while tasks.join_next().await.is_some() {}
    }
}
