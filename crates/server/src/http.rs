//! HTTP(S) listeners. The accept loop only accepts and spawns; the TLS handshake (under a
//! timeout) and the HTTP/1.1 or HTTP/2 connection run in the connection's own task, with a
//! limit on how long a client may take to send a request's headers. On shutdown the loop stops
//! accepting and open connections are given time to finish.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers, also while a kept-alive connection
/// waits for its next request.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections per listener; past it, new ones wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 4096;

/// Serves `app` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let conn = Connection {
            tcp,
            peer,
            tls: tls.clone(),
            app: app.clone(),
            watcher: graceful.watcher(),
            _permit: permit,
        };
        tokio::spawn(conn.run());
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections were still open after {DRAIN_TIMEOUT:?}");
    }
}

/// One accepted connection and what it needs.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Router,
    watcher: Watcher,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self) {
        let peer = self.peer;
        // Handlers see the connection's peer address (sign-ins record and throttle by it).
        let app = self.app.layer(axum::Extension(carepost_web::Peer(peer)));
        let service = TowerToHyperService::new(app);
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        // HTTP/2 has no header timeout: idle connections are pinged and dropped instead.
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(HEADER_TIMEOUT))
            .keep_alive_timeout(Duration::from_secs(20))
            .max_concurrent_streams(100);
        let result = match self.tls {
            Some(acceptor) => {
                let stream = match tokio::time::timeout(
                    HANDSHAKE_TIMEOUT,
                    acceptor.accept(self.tcp),
                )
                .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                self.watcher.watch(conn.into_owned()).await
            }
            None => {
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(self.tcp), service);
                self.watcher.watch(conn.into_owned()).await
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
        }
    }
}
