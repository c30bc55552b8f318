//! A receiving SMTP server for the outbound tests: it accepts, defers (451) or refuses (550)
//! recipients as told, and keeps what it received. It plays the other organization's MX, so
//! it is deliberately plain: no STARTTLS, no extensions but PIPELINING-free line handling.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    Accept,
    /// 451 to every RCPT.
    Defer,
    /// 550 to every RCPT.
    Refuse,
}

#[derive(Debug, Clone)]
pub struct SunkMessage {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mode: Arc<Mutex<SinkMode>>,
    received: Arc<Mutex<Vec<SunkMessage>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(Mutex::new(SinkMode::Accept)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(s.clone().session(tcp));
            }
        });
        sink
    }

    pub fn set_mode(&self, mode: SinkMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn messages(&self) -> Vec<SunkMessage> {
        self.received.lock().unwrap().clone()
    }

    async fn session(self, tcp: tokio::net::TcpStream) {
        let (r, mut w) = tcp.into_split();
        let mut r = BufReader::new(r);
        let _ = w.write_all(b"220 sink.example ESMTP\r\n").await;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let upper = line.to_ascii_uppercase();
            let arg = |l: &str| {
                l.split_once(':')
                    .map(|(_, a)| {
                        a.trim()
                            .trim_start_matches('<')
                            .split('>')
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                    .unwrap_or_default()
            };
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-sink.example\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("MAIL FROM") {
                from = arg(&line);
                to.clear();
                b"250 ok\r\n"
            } else if upper.starts_with("RCPT TO") {
                match *self.mode.lock().unwrap() {
                    SinkMode::Accept => {
                        to.push(arg(&line));
                        b"250 ok\r\n"
                    }
                    SinkMode::Defer => b"451 4.3.0 try again later\r\n",
                    SinkMode::Refuse => b"550 5.1.1 no such user here\r\n",
                }
            } else if upper.starts_with("DATA") {
                let _ = w.write_all(b"354 go ahead\r\n").await;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    let l = if l.starts_with(b"..") {
                        &l[1..]
                    } else {
                        &l[..]
                    };
                    data.extend_from_slice(l);
                }
                self.received.lock().unwrap().push(SunkMessage {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = w.write_all(b"221 bye\r\n").await;
                let mut rest = Vec::new();
                let _ = r.read_to_end(&mut rest).await;
                return;
            } else {
                b"250 ok\r\n"
            };
            let _ = w.write_all(reply).await;
        }
    }
}
