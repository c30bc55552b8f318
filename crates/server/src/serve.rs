//! `carepost serve`: opens the store, makes sure a first administrator exists, binds every
//! listener that this version has, and runs until told to stop.

use crate::{Context, http, telemetry, tls};
use anyhow::Context as _;
use carepost_identity::FirstAdmin;
use carepost_imap::ImapService;
use carepost_smtp::{Listener, SmtpService};
use carepost_web::{WebState, router};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A started server.
#[derive(Debug)]
pub struct Running {
    pub context: Context,
    pub https: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub smtp: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub submissions: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    /// The SMTP service, when any SMTP listener is on.
    pub smtp_service: Option<SmtpService>,
    /// Set on the first start of an empty store.
    pub first_admin: Option<FirstAdmin>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops accepting, lets open connections finish, and closes the store.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.context.store.close().await;
    }
}

/// Starts every listener of `context.config`.
pub async fn start(context: Context) -> anyhow::Result<Running> {
    telemetry::install_crypto_provider();
    let config = context.config.clone();
    // Everything that can fail at start-up comes before the first administrator is made, so
    // that its one-time password is never created by a start that does not get to print it.
    let https_listener = match config.listeners.https {
        Some(addr) => Some((
            TlsAcceptor::from(tls::server_config(&config)?),
            bind(addr, "https").await?,
        )),
        None => None,
    };
    let metrics_listener = match config.listeners.metrics {
        Some(addr) => Some(bind(addr, "metrics").await?),
        None => None,
    };
    let http_listener = match (config.listeners.http, config.dev) {
        (Some(addr), true) => Some(bind(addr, "http").await?),
        _ => None,
    };
    let mut smtp_listeners = Vec::new();
    for (addr, kind) in [
        (config.listeners.smtp, Listener::Mx),
        (config.listeners.submission, Listener::Submission),
        (config.listeners.submissions, Listener::Submissions),
    ] {
        if let Some(addr) = addr {
            smtp_listeners.push((kind, bind(addr, kind.name()).await?));
        }
    }
    let smtp_service = if smtp_listeners.is_empty() {
        None
    } else {
        Some(
            SmtpService::new(
                config.clone(),
                context.directory.clone(),
                context.oidc.clone(),
                context.mail.clone(),
                context.clock.clone(),
                context.rng.clone(),
                TlsAcceptor::from(tls::server_config(&config)?),
            )
            .with_calendars(context.calendars.clone()),
        )
    };
    let mut imap_listeners = Vec::new();
    for (addr, kind) in [
        (config.listeners.imap, carepost_imap::Listener::Imap),
        (config.listeners.imaps, carepost_imap::Listener::Imaps),
    ] {
        if let Some(addr) = addr {
            imap_listeners.push((kind, bind(addr, kind.name()).await?));
        }
    }
    let imap_service = if imap_listeners.is_empty() {
        None
    } else {
        Some(ImapService::new(
            config.clone(),
            context.directory.clone(),
            context.oidc.clone(),
            context.mail.clone(),
            context.clock.clone(),
            TlsAcceptor::from(tls::server_config(&config)?),
        ))
    };
    let first_admin = context
        .directory
        .ensure_first_admin()
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the first administrator: {e}"))?;
    context
        .oidc
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("cannot prepare single sign-on: {e}"))?;
    let state = WebState {
        store: context.store.clone(),
        metrics: telemetry::metrics_handle(),
        directory: context.directory.clone(),
        oidc: context.oidc.clone(),
        mail: context.mail.clone(),
        clock: context.clock.clone(),
        sign_in_limiter: std::sync::Arc::new(carepost_web::api::sign_in_limiter()),
        token_refusals: std::sync::Arc::new(carepost_web::api::sign_in_limiter()),
        calendar_limiter: std::sync::Arc::new(carepost_web::api::calendar_limiter()),
        read_ahead: carepost_web::read_ahead_budget(),
        calendars: context.calendars.clone(),
        resources: context.resources.clone(),
        files: context.files.clone(),
        dav_auth: std::sync::Arc::new(carepost_web::DavAuthCache::new(
            // A key new each start: the cache's hashes mean nothing anywhere else.
            &context.rng.bytes(32),
        )),
    };
    let metrics_app = carepost_web::metrics_router(state.clone());
    let app = router(state);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut https = None;
    if let Some((acceptor, listener)) = https_listener {
        https = Some(listener.local_addr()?);
        let serving = http::serve(listener, Some(acceptor), app.clone(), stopped.clone());
        tasks.spawn(serving);
    }
    let mut metrics = None;
    if let Some(listener) = metrics_listener {
        metrics = Some(listener.local_addr()?);
        tasks.spawn(http::serve(listener, None, metrics_app, stopped.clone()));
    }
    let mut plain = None;
    if let Some(listener) = http_listener {
        plain = Some(listener.local_addr()?);
        tasks.spawn(http::serve(listener, None, app.clone(), stopped.clone()));
    }
    let (mut smtp, mut submission, mut submissions) = (None, None, None);
    for (kind, listener) in smtp_listeners {
        let addr = Some(listener.local_addr()?);
        match kind {
            Listener::Mx => smtp = addr,
            Listener::Submission => submission = addr,
            Listener::Submissions => submissions = addr,
        }
        if let Some(svc) = &smtp_service {
            tasks.spawn(svc.clone().serve(listener, kind, stopped.clone()));
        }
    }
    if let Some(svc) = &smtp_service {
        tasks.spawn(svc.clone().run_queue(stopped.clone()));
    }
    let (mut imap, mut imaps) = (None, None);
    for (kind, listener) in imap_listeners {
        let addr = Some(listener.local_addr()?);
        match kind {
            carepost_imap::Listener::Imap => imap = addr,
            carepost_imap::Listener::Imaps => imaps = addr,
        }
        if let Some(svc) = &imap_service {
            tasks.spawn(svc.clone().serve(listener, kind, stopped.clone()));
        }
    }
    tasks.spawn(reload_policies(context.directory.clone(), stopped.clone()));
    tasks.spawn(mail_kept_invitations(
        context.calendars.clone(),
        stopped.clone(),
    ));
    tasks.spawn(collect_bodies(
        context.mail.clone(),
        context.oidc.clone(),
        context.directory.clone(),
        stopped.clone(),
    ));
    Ok(Running {
        context,
        https,
        http: plain,
        smtp,
        submission,
        submissions,
        imap,
        imaps,
        metrics,
        smtp_service,
        first_admin,
        stop,
        tasks,
    })
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for {what} on {addr}"))
}

/// How often each node reads the policies changed at run time (by any node, or by the command
/// line): a read of a few small rows, so often enough that "in force within 2 seconds", as
/// the command says, holds.
pub const RELOAD_POLICIES_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

async fn reload_policies(directory: carepost_identity::Directory, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RELOAD_POLICIES_EVERY) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = directory.reload_policies().await {
            tracing::warn!(error = %e, "reading the policies set at run time failed");
        }
    }
}

/// How often the iMIP outbox is looked at for invitations a write could not mail (the
/// server stopped between its commit and its mail, or the queue failed); at start too.
const KEPT_INVITATIONS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

async fn mail_kept_invitations(
    calendars: carepost_calendar::Calendars,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match calendars.send_kept_imip().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(invitations = n, "mailed invitations kept in the outbox"),
            Err(e) => {
                tracing::warn!(error = %e, "mailing the invitations kept in the outbox failed")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(KEPT_INVITATIONS_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How often message bodies that nothing holds any more are deleted (and single sign-on
/// grants that ended, and mail apps not seen for a month, are forgotten).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

async fn collect_bodies(
    mail: carepost_mail::MailStore,
    oidc: carepost_oidc::Provider,
    directory: carepost_identity::Directory,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(COLLECT_EVERY) => {}
            _ = stop.changed() => return,
        }
        match mail.collect(&carepost_audit::Actor::System).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(bodies = n, "deleted message bodies nothing holds any more"),
            Err(e) => tracing::warn!(error = %e, "collecting message bodies failed"),
        }
        match mail.sweep_orphans(&carepost_audit::Actor::System).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(bodies = n, "deleted body files no record names"),
            Err(e) => tracing::warn!(error = %e, "sweeping orphan body files failed"),
        }
        if let Err(e) = oidc.purge_expired().await {
            tracing::warn!(error = %e, "forgetting expired single sign-on grants failed");
        }
        if let Err(e) = directory.forget_old_mail_clients().await {
            tracing::warn!(error = %e, "forgetting mail apps not seen for a month failed");
        }
    }
}
