//! One SMTP connection: greeting, the read loop under a timeout, pipelined replies flushed when
//! the client's bytes run out, STARTTLS (bytes pipelined after it are dropped, RFC 3207
//! section 4.2), and limits on errors and commands. Commands are handled in `envelope`,
//! `sasl` and `finish`.

use crate::envelope::Envelope;
use crate::{Listener, SmtpService};
use carepost_identity::SignedIn;
use carepost_proto_sasl::Exchange;
use carepost_proto_smtp::{Capabilities, Event, Receiver, Reply, Request, Session, replies};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Invalid or refused commands before the server hangs up.
const MAX_ERRORS: u32 = 20;
/// Commands in one connection.
const MAX_COMMANDS: u32 = 100_000;
/// Longest line of a SASL exchange.
const MAX_SASL_LINE: usize = 16 * 1024;

/// The signed-in account of a submission connection.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub signed_in: SignedIn,
    /// Every address the account may send as: primary and aliases, lower case.
    pub addresses: Vec<String>,
}

/// What the read loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    Close,
    StartTls,
}

pub(crate) struct Conn {
    pub svc: SmtpService,
    pub peer: SocketAddr,
    pub kind: Listener,
    pub session: Session,
    pub rx: Receiver,
    pub out: Vec<u8>,
    pub principal: Option<Principal>,
    pub envelope: Option<Envelope>,
    pub sasl: Option<Exchange>,
    sasl_line: Vec<u8>,
    commands: u32,
    /// A refused BDAT whose bytes are being read and dropped: its reply.
    pub bdat_refusal: Option<Reply>,
}

enum Outcome<S> {
    Closed,
    StartTls(S),
}

pub(crate) async fn run(
    svc: SmtpService,
    tcp: TcpStream,
    peer: SocketAddr,
    kind: Listener,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut c = Conn::new(svc, peer, kind);
    let tcp = if kind == Listener::Submissions {
        tcp
    } else {
        match c.serve(tcp, &mut stop, true).await {
            Outcome::Closed => return,
            Outcome::StartTls(tcp) => tcp,
        }
    };
    let handshake = c.svc.timeouts.handshake;
    let tls = match tokio::time::timeout(handshake, c.svc.tls.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    c.session.on_tls();
    // After STARTTLS the client speaks first (EHLO); on port 465 it waits for a greeting.
    let greet = kind == Listener::Submissions;
    let _ = c.serve(tls, &mut stop, greet).await;
}

/// Tells a client with too many connections open to come back later (plain text: before any
/// TLS, as a greeting would be).
pub(crate) async fn refuse_busy(mut tcp: TcpStream) {
    let r = Reply::new(
        421,
        (4, 7, 0),
        "Too many connections from your address, try again later",
    );
    let _ = tcp.write_all(&r.to_bytes()).await;
    let _ = tcp.shutdown().await;
}

impl Conn {
    fn new(svc: SmtpService, peer: SocketAddr, kind: Listener) -> Conn {
        let max = usize::try_from(svc.config.mail.max_message_size).unwrap_or(usize::MAX);
        Conn {
            session: Session::new(kind.mode(), false),
            rx: Receiver::new(max),
            svc,
            peer,
            kind,
            out: Vec::with_capacity(512),
            principal: None,
            envelope: None,
            sasl: None,
            sasl_line: Vec::new(),
            commands: 0,
            bdat_refusal: None,
        }
    }

    pub(crate) fn reply(&mut self, r: Reply) {
        if r.code >= 500 {
            self.session.errors += 1;
        }
        self.out.extend_from_slice(&r.to_bytes());
    }

    pub(crate) fn hostname(&self) -> &str {
        &self.svc.config.mail.hostname
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mut stream: S,
        stop: &mut watch::Receiver<bool>,
        greet: bool,
    ) -> Outcome<S> {
        if greet {
            let hello = Reply::plain(220, format!("{} ESMTP carepost", self.hostname()));
            if stream.write_all(&hello.to_bytes()).await.is_err() {
                return Outcome::Closed;
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        let limit = tokio::time::sleep(self.svc.timeouts.session);
        tokio::pin!(limit);
        loop {
            let read = tokio::select! {
                r = tokio::time::timeout(self.svc.timeouts.command, stream.read(&mut buf)) => r,
                _ = &mut limit => {
                    let bye = Reply::new(421, (4, 4, 2), "Session time limit reached, closing connection");
                    let _ = stream.write_all(&bye.to_bytes()).await;
                    return Outcome::Closed;
                }
                _ = stop.changed() => {
                    let bye = replies::shutting_down(self.hostname());
                    let _ = stream.write_all(&bye.to_bytes()).await;
                    return Outcome::Closed;
                }
            };
            let n = match read {
                Ok(Ok(0)) | Ok(Err(_)) => return Outcome::Closed,
                Ok(Ok(n)) => n,
                Err(_) => {
                    let _ = stream.write_all(&replies::timeout().to_bytes()).await;
                    return Outcome::Closed;
                }
            };
            let mut it = buf[..n].iter();
            let mut next = Next::Continue;
            while next == Next::Continue {
                next = match self.sasl.is_some() {
                    true => match self.sasl_input(&mut it) {
                        Some(line) => self.sasl_step(&line).await,
                        None => break,
                    },
                    false => match self.rx.feed(&mut it) {
                        Some(ev) => self.handle(ev).await,
                        None => break,
                    },
                };
                if self.session.errors >= MAX_ERRORS {
                    self.reply(replies::too_many_errors());
                    next = Next::Close;
                }
            }
            if !self.out.is_empty() {
                let out = std::mem::take(&mut self.out);
                if stream.write_all(&out).await.is_err() {
                    return Outcome::Closed;
                }
                self.out = out;
                self.out.clear();
            }
            match next {
                Next::Continue => {}
                Next::Close => {
                    let _ = stream.shutdown().await;
                    return Outcome::Closed;
                }
                // Whatever the client pipelined after STARTTLS is dropped with `buf`.
                Next::StartTls => return Outcome::StartTls(stream),
            }
        }
    }

    /// One line of a SASL exchange, when complete.
    fn sasl_input(&mut self, it: &mut std::slice::Iter<'_, u8>) -> Option<String> {
        for b in it.by_ref() {
            if *b == b'\n' {
                let line = String::from_utf8_lossy(&self.sasl_line)
                    .trim_end()
                    .to_string();
                self.sasl_line.clear();
                return Some(line);
            }
            if self.sasl_line.len() < MAX_SASL_LINE {
                self.sasl_line.push(*b);
            }
        }
        None
    }

    async fn handle(&mut self, ev: Event) -> Next {
        self.commands += 1;
        if self.commands > MAX_COMMANDS {
            self.reply(Reply::new(
                421,
                (4, 7, 0),
                "Too many commands, closing connection",
            ));
            return Next::Close;
        }
        match ev {
            Event::Command(req) => self.command(req).await,
            Event::Invalid(r) => {
                self.reply(r);
                Next::Continue
            }
            Event::ChunkDone => {
                self.chunk_done();
                Next::Continue
            }
            Event::Message(body) => {
                self.message(body).await;
                Next::Continue
            }
            Event::TooBig => {
                let max = self.svc.config.mail.max_message_size;
                self.end_transaction();
                self.reply(replies::message_too_big(max));
                Next::Continue
            }
        }
    }

    async fn command(&mut self, req: Request<String>) -> Next {
        if let Err(refusal) = self.session.check(&req) {
            if let Request::Bdat {
                chunk_size,
                is_last,
            } = req
            {
                // The chunk's bytes follow regardless; drop them and answer after.
                self.rx.discard_bdat(chunk_size, is_last);
                self.bdat_refusal = Some(refusal);
                return Next::Continue;
            }
            self.reply(refusal);
            return Next::Continue;
        }
        match req {
            Request::Ehlo { host } => self.helo(&host, true),
            Request::Helo { host } => self.helo(&host, false),
            Request::StartTls => {
                self.reply(Reply::new(220, (2, 0, 0), "Ready to start TLS"));
                return Next::StartTls;
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth_start(mechanism, &initial_response).await,
            Request::Mail { from } => {
                if let Some(next) = self.sign_in_check().await {
                    return next;
                }
                self.mail_from(from).await
            }
            Request::Rcpt { to } => self.rcpt_to(to).await,
            Request::Data => {
                self.rx.start_data();
                self.reply(Reply::plain(354, "End data with <CR><LF>.<CR><LF>"));
            }
            Request::Bdat {
                chunk_size,
                is_last,
            } => {
                self.rx.start_bdat(chunk_size, is_last);
                self.session.on_chunk();
            }
            Request::Rset => {
                self.end_transaction();
                self.reply(replies::ok());
            }
            Request::Noop { .. } => self.reply(replies::ok()),
            Request::Help { .. } => self.reply(Reply::new(
                214,
                (2, 0, 0),
                "carepost: see RFC 5321; this server speaks ESMTP",
            )),
            Request::Quit => {
                let host = self.hostname().to_string();
                self.reply(replies::closing(&host));
                return Next::Close;
            }
            // `check` refuses every other command.
            _ => self.reply(replies::unknown_command()),
        }
        Next::Continue
    }

    fn helo(&mut self, host: &str, extended: bool) {
        self.end_transaction();
        self.session.on_helo(host);
        let reply = if extended {
            Capabilities {
                hostname: self.hostname().to_string(),
                max_size: self.svc.config.mail.max_message_size,
            }
            .ehlo_reply(&self.session, host)
        } else {
            Reply::plain(250, self.hostname().to_string())
        };
        self.reply(reply);
    }

    fn chunk_done(&mut self) {
        match self.bdat_refusal.take() {
            Some(r) => self.reply(r),
            None => self.reply(Reply::new(250, (2, 0, 0), "Chunk received")),
        }
    }

    /// Forgets the transaction (RSET, EHLO, a delivered or refused message).
    pub(crate) fn end_transaction(&mut self) {
        self.envelope = None;
        self.rx.reset_message();
        self.session.on_reset();
    }
}
