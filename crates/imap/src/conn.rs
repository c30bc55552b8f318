//! One IMAP connection: greeting, the read loop under the state's timeout, literal
//! continuations, STARTTLS (bytes pipelined after it are dropped, RFC 9051 section 6.2.1),
//! AUTHENTICATE's exchange and IDLE (RFC 2177: changes pushed as they happen, ended by DONE).

use crate::session::{MAX_FAILED_SIGN_INS, Next, OUT_HIGH_WATER, Session};
use crate::{ImapService, Listener};
use carepost_proto_imap::{Frame, parse_command};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// What the loop is reading.
enum Mode {
    Commands,
    /// In IDLE under this tag, until DONE.
    Idle(String),
    /// In an AUTHENTICATE exchange under this tag.
    Sasl(String),
}

enum Outcome<S> {
    Closed,
    StartTls(S),
}

pub(crate) async fn run(
    svc: ImapService,
    tcp: TcpStream,
    peer: SocketAddr,
    kind: Listener,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let handshake = svc.timeouts.handshake;
    let tls = svc.tls.clone();
    let mut s = Session::new(svc, peer, kind == Listener::Imap);
    let tcp = if kind == Listener::Imaps {
        tcp
    } else {
        match serve(&mut s, tcp, &mut stop, true).await {
            Outcome::Closed => return,
            Outcome::StartTls(tcp) => tcp,
        }
    };
    let stream = match tokio::time::timeout(handshake, tls.accept(tcp)).await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    s.tls = true;
    // After STARTTLS the client goes on with its next command; on 993 it waits for a greeting.
    let _ = serve(&mut s, stream, &mut stop, kind == Listener::Imaps).await;
}

/// Tells a client with too many connections open to come back later: in plain text on 143,
/// inside TLS on 993 (where a client expects nothing else).
pub(crate) async fn refuse_busy(svc: ImapService, mut tcp: TcpStream, kind: Listener) {
    const BYE: &[u8] = b"* BYE [UNAVAILABLE] Too many connections from your address\r\n";
    if kind == Listener::Imap {
        let _ = tcp.write_all(BYE).await;
        let _ = tcp.shutdown().await;
        return;
    }
    // A short handshake: a refused client gets a few seconds, not the usual allowance.
    let wait = svc
        .timeouts
        .handshake
        .min(std::time::Duration::from_secs(3));
    if let Ok(Ok(mut tls)) = tokio::time::timeout(wait, svc.tls.accept(tcp)).await {
        let _ = tls.write_all(BYE).await;
        let _ = tls.shutdown().await;
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut Session,
    mut stream: S,
    stop: &mut watch::Receiver<bool>,
    greet: bool,
) -> Outcome<S> {
    if greet {
        s.greeting();
        if flush(s, &mut stream).await.is_err() {
            return Outcome::Closed;
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut mode = Mode::Commands;
    // IDLE's look at the account and credential: one deadline, moved only when it is kept, so
    // bytes trickling in cannot put it off.
    let recheck = s.svc.config.imap.recheck_interval;
    let timer = tokio::time::sleep(recheck);
    tokio::pin!(timer);
    loop {
        let timeout = s.timeout();
        let read = tokio::select! {
            r = tokio::time::timeout(timeout, stream.read(&mut buf)) => r,
            _ = s.changed(), if matches!(mode, Mode::Idle(_)) => {
                if !s.still_allowed(false).await {
                    let _ = flush(s, &mut stream).await;
                    return Outcome::Closed;
                }
                s.sync(true).await;
                if flush(s, &mut stream).await.is_err() {
                    return Outcome::Closed;
                }
                continue;
            }
            // Nothing else wakes a quiet IDLE: look at the account and credential on time.
            _ = &mut timer, if matches!(mode, Mode::Idle(_)) => {
                timer.as_mut().reset(tokio::time::Instant::now() + recheck);
                if !s.still_allowed(true).await {
                    let _ = flush(s, &mut stream).await;
                    return Outcome::Closed;
                }
                continue;
            }
            _ = stop.changed() => {
                let _ = stream.write_all(b"* BYE Server shutting down\r\n").await;
                return Outcome::Closed;
            }
        };
        let n = match read {
            Ok(Ok(0)) | Ok(Err(_)) => return Outcome::Closed,
            Ok(Ok(n)) => n,
            Err(_) => {
                let _ = stream
                    .write_all(b"* BYE Autologout; idle for too long\r\n")
                    .await;
                return Outcome::Closed;
            }
        };
        s.rx.feed(&buf[..n]);
        // Output is written whenever it passes the high-water mark, so a client pipelining
        // many large FETCHes cannot make the session hold all their answers at once.
        let next = loop {
            let next = drain(s, &mut mode).await;
            if flush(s, &mut stream).await.is_err() {
                return Outcome::Closed;
            }
            if next != Next::Continue || !matches!(mode, Mode::Commands) || !s.rx.has_line() {
                break next;
            }
        };
        match next {
            Next::Continue => {}
            Next::Close => {
                let _ = stream.shutdown().await;
                return Outcome::Closed;
            }
            Next::StartTls => {
                s.rx.clear();
                return Outcome::StartTls(stream);
            }
        }
    }
}

/// Handles every complete frame or line the receiver holds.
async fn drain(s: &mut Session, mode: &mut Mode) -> Next {
    loop {
        match mode {
            Mode::Idle(tag) => match s.rx.next_line() {
                None => return Next::Continue,
                Some(Ok(line)) if line.eq_ignore_ascii_case(b"DONE") => {
                    let tag = std::mem::take(tag);
                    *mode = Mode::Commands;
                    s.sync(true).await;
                    s.ok(&tag, None, "IDLE terminated");
                }
                Some(_) => {
                    let tag = std::mem::take(tag);
                    *mode = Mode::Commands;
                    s.bad(&tag, "Expected DONE to end IDLE");
                }
            },
            Mode::Sasl(tag) => match s.rx.next_line() {
                None => return Next::Continue,
                Some(Ok(line)) => {
                    let tag = std::mem::take(tag);
                    let line = String::from_utf8_lossy(&line).into_owned();
                    *mode = match s.sasl_step(&tag, &line).await {
                        true => Mode::Sasl(tag),
                        false => Mode::Commands,
                    };
                }
                Some(Err(_)) => {
                    let tag = std::mem::take(tag);
                    *mode = Mode::Commands;
                    s.bad(&tag, "Authentication line too long");
                }
            },
            Mode::Commands => {
                let Some(frame) = s.rx.next_frame() else {
                    return Next::Continue;
                };
                match frame {
                    Frame::Continue => s.out.extend_from_slice(b"+ Ready for literal data\r\n"),
                    Frame::LiteralRefused { tag, size } => {
                        let tag = tag.unwrap_or_else(|| "*".to_string());
                        s.no(
                            &tag,
                            Some("TOOBIG"),
                            &format!("{size} bytes is more than this server takes"),
                        );
                    }
                    Frame::Fatal(why) => {
                        s.out
                            .extend_from_slice(format!("* BYE [TOOBIG] {why}\r\n").as_bytes());
                        return Next::Close;
                    }
                    Frame::Command(bytes) => match parse_command(&bytes) {
                        Err((tag, e)) => {
                            s.parse_error(tag.as_deref(), &e.to_string());
                            if s.too_many_errors() {
                                return Next::Close;
                            }
                        }
                        Ok((tag, cmd)) => match s.handle(&tag, cmd).await {
                            _ if s.failed_sign_ins >= MAX_FAILED_SIGN_INS => {
                                s.untagged("BYE Too many failed sign-ins");
                                return Next::Close;
                            }
                            crate::session::After::Next(Next::Continue) => {
                                if s.out.len() > OUT_HIGH_WATER {
                                    return Next::Continue;
                                }
                            }
                            crate::session::After::Next(other) => return other,
                            crate::session::After::Idle => *mode = Mode::Idle(tag),
                            crate::session::After::Sasl => *mode = Mode::Sasl(tag),
                        },
                    },
                }
            }
        }
    }
}

async fn flush<S: AsyncWrite + Unpin>(s: &mut Session, stream: &mut S) -> std::io::Result<()> {
    if s.out.is_empty() {
        return Ok(());
    }
    let out = std::mem::take(&mut s.out);
    stream.write_all(&out).await?;
    s.out = out;
    s.out.clear();
    Ok(())
}
