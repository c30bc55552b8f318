//! `carepost init` and `carepost serve`.

use super::{DEFAULT_DATA_DIR, DEFAULT_DOMAIN, DEFAULT_PORT_BASE, Global};
use crate::context::{Context, redact_url};
use crate::dev::{make_private_dir, new_master_key, prepare_dev, write_secret_file};
use crate::{serve, telemetry, tls};
use anyhow::Context as _;
use carepost_config::{Config, InitOptions, render_production_config};
use carepost_types::Domain;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Development mode: SQLite and blobs in the data directory, a generated certificate,
    /// every listener on 127.0.0.1 at --port-base plus the standard port.
    #[arg(long)]
    dev: bool,
    /// Organization domain (development mode).
    #[arg(long, default_value = DEFAULT_DOMAIN, requires = "dev")]
    domain: String,
    /// Added to each standard port (development mode): 10000 gives HTTPS on 10443.
    #[arg(long, default_value_t = DEFAULT_PORT_BASE, requires = "dev")]
    port_base: u16,
    /// Use this store instead of SQLite in the data directory (development mode), e.g.
    /// postgres://postgres@127.0.0.1/carepost.
    #[arg(long, requires = "dev")]
    store_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory for the config, the SQLite store, blobs and the certificate.
    #[arg(long)]
    dir: PathBuf,
    /// The organization's mail domain.
    #[arg(long)]
    domain: String,
    /// The organization's name.
    #[arg(long)]
    org: String,
    /// PostgreSQL instead of the embedded SQLite store.
    #[arg(long)]
    store_url: Option<String>,
    /// The address every listener binds (metrics stay on 127.0.0.1): all addresses by default.
    #[arg(long, default_value = "0.0.0.0")]
    listen: std::net::IpAddr,
    /// Added to each standard port: 8000 gives HTTPS on 8443 (for a server that does not run
    /// as root, or a second instance on one machine).
    #[arg(long, default_value_t = 0)]
    port_base: u16,
}

pub(crate) async fn init(a: InitArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let domain = Domain::parse(&a.domain)?;
    let path = a.dir.join("carepost.toml");
    if path.exists() {
        anyhow::bail!(
            "{} exists already; init never overwrites a config",
            path.display()
        );
    }
    let dir = make_private_dir(&a.dir)?;
    let path = dir.join("carepost.toml");
    let master_key = new_master_key();
    let at = carepost_config::Listen {
        address: a.listen,
        port_base: a.port_base,
    };
    let text = render_production_config(
        &InitOptions {
            dir: &dir,
            domain: &domain,
            org: &a.org,
            master_key: &master_key,
            store_url: a.store_url.as_deref(),
        },
        at,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let config = Config::from_toml(&text, &dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    write_secret_file(&path, text.as_bytes())?;
    if !config.tls.cert.exists() {
        tls::generate_self_signed(&config.tls.cert, &config.tls.key, domain.as_str())?;
    }
    if let Some(dkim) = &config.mail.dkim_key {
        carepost_mail::generate_key_file(dkim)?;
    }
    if g.json {
        super::output::json(&serde_json::json!({
            "config": path, "domain": domain.as_str(), "store": redact_url(&config.store.url),
        }))?;
    } else {
        say!("wrote {}", path.display());
        say!("  store        {}", redact_url(&config.store.url));
        say!(
            "  certificate  {} (self-signed: replace it)",
            config.tls.cert.display()
        );
        say!(
            "  dkim key     publish its DNS record: carepost --config {} dkim show",
            path.display()
        );
        say!("start it with: carepost serve --config {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn serve(a: ServeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let config = if a.dev {
        if g.config.is_some() {
            anyhow::bail!("--dev makes its own config; give --data DIR, not --config");
        }
        let data = g
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let domain = Domain::parse(&a.domain)?;
        prepare_dev(&data, &domain, a.port_base, a.store_url, true)?
    } else {
        let Some(file) = &g.config else {
            anyhow::bail!(
                "give --config FILE (written by `carepost init`), or --dev for a development server"
            );
        };
        Config::load(file).map_err(|e| anyhow::anyhow!("{e}"))?
    };
    telemetry::init_logs(g.log_format.unwrap_or(config.log.format), &config.log.level);
    // The certificate is checked (or made) before the store is touched.
    tls::server_config(&config)?;
    if let (true, Some(dkim)) = (config.tls.generate_if_missing, &config.mail.dkim_key) {
        carepost_mail::generate_key_file(dkim)?;
    }
    let context = Context::open(Arc::new(config)).await?;
    let running = serve::start(context).await?;
    // The handlers are in place before the banner says how to stop: a SIGTERM sent as soon
    // as the banner is read must stop the server cleanly, not kill it.
    let stop = stop_signals()?;
    print_banner(&running, &cli_flag(g, &running.context.config))?;
    stop.await?;
    tracing::info!("stopping");
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn print_banner(r: &serve::Running, cli_flag: &str) -> anyhow::Result<()> {
    let c = &r.context.config;
    let mode = if c.dev { " (development mode)" } else { "" };
    say!(
        "carepost {} serving {} for {}{mode}",
        env!("CARGO_PKG_VERSION"),
        c.organization.domain,
        c.organization.name
    );
    say!("  store   {}", redact_url(&c.store.url));
    if let Some(a) = r.https {
        say!("  https   https://{a}/  (/healthz, /readyz, /api/v1)");
        say!("  portal  {}  (staff sign in here)", c.web.public_url);
        let url = &c.web.public_url;
        say!("  dav     {url}dav/  (CalDAV and CardDAV: calendars, contacts, the directory)");
        // RFC 6764: what clients given only an address look up.
        let host = url.host_str().unwrap_or("localhost");
        let port = url.port_or_known_default().unwrap_or(443);
        let d = &c.organization.domain;
        say!(
            "          publish: _caldavs._tcp.{d} and _carddavs._tcp.{d} SRV 0 1 {port} {host}. \
             with TXT \"path=/dav/\""
        );
    }
    if let Some(a) = r.http {
        say!("  http    http://{a}/  (development only)");
    }
    if let Some(a) = r.smtp {
        say!("  smtp    {a}  (MX: mail for the organization, STARTTLS offered)");
    }
    if let Some(a) = r.submission {
        say!("  submit  {a}  (submission: STARTTLS, then AUTH)");
    }
    if let Some(a) = r.submissions {
        say!("  submits {a}  (submission over implicit TLS)");
    }
    if let Some(a) = r.imap {
        say!("  imap    {a}  (IMAP: STARTTLS, then LOGIN or AUTHENTICATE)");
    }
    if let Some(a) = r.imaps {
        say!("  imaps   {a}  (IMAP over implicit TLS)");
    }
    if let Some(a) = r.metrics {
        say!("  metrics http://{a}/metrics  (Prometheus; keep it off public networks)");
    }
    if let Some(admin) = &r.first_admin {
        say!();
        say!("First administrator: {}", admin.address);
        say!("  one-time password: {}", admin.one_time_password);
        say!(
            "  It is shown only now, works for {}, and must be changed at the first sign-in:",
            carepost_identity::human_duration(c.password.temporary_lifetime)
        );
        if r.https.is_some() {
            say!(
                "  {}sign-in (or POST /api/v1/auth/sign-in, then /api/v1/me/password)",
                c.web.public_url
            );
        }
        say!("  Administer with the CLI on this machine: carepost{cli_flag} account list");
    }
    say!();
    say!("Ctrl-C stops the server.");
    Ok(())
}

/// What the CLI needs to find this server's store: the config file it was started with, or
/// the development data directory.
fn cli_flag(g: &Global, c: &Config) -> String {
    match (&g.config, c.dev) {
        (Some(file), _) => {
            let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
            format!(" --config {}", file.display())
        }
        (None, true) => c
            .store
            .blob_dir
            .parent()
            .map(|d| format!(" --data {}", d.display()))
            .unwrap_or_default(),
        (None, false) => String::new(),
    }
}

/// Listens for SIGTERM and Ctrl-C (SIGINT) from now on; the future ends at the first.
fn stop_signals() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            Ok(())
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
    })
}
