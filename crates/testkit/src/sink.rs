//! A receiving SMTP server for the outbound tests: it accepts, defers (451) or refuses (550)
//! recipients as told, and keeps what it received. It plays the other organization's MX:
//! plain by default, or with STARTTLS and a given certificate (and REQUIRETLS if asked), for
//! the tests of outbound TLS policy (MTA-STS, DANE, REQUIRETLS).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
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
    /// What followed the address in MAIL FROM (`REQUIRETLS`, `BODY=8BITMIME`...).
    pub mail_params: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    /// Whether the transaction ran under STARTTLS.
    pub tls: bool,
}

/// How a sink speaks TLS: its certificate and key, and whether it offers REQUIRETLS.
#[derive(Debug, Clone)]
pub struct SinkTls {
    pub config: Arc<rustls::ServerConfig>,
    pub requiretls: bool,
}

impl SinkTls {
    /// A sink presenting `cert_pem` (a chain, leaf first) with `key_pem`.
    pub fn new(cert_pem: &str, key_pem: &str, requiretls: bool) -> SinkTls {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        SinkTls {
            config: Arc::new(config),
            requiretls,
        }
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mode: Arc<Mutex<SinkMode>>,
    received: Arc<Mutex<Vec<SunkMessage>>>,
    tls: Option<SinkTls>,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink::start_on("127.0.0.1:0".parse().unwrap(), None).await
    }

    /// A sink on `addr` (another loopback address, a fixed port), with STARTTLS when `tls`.
    pub async fn start_on(addr: SocketAddr, tls: Option<SinkTls>) -> SmtpSink {
        let listener = TcpListener::bind(addr).await.unwrap();
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(Mutex::new(SinkMode::Accept)),
            received: Arc::new(Mutex::new(Vec::new())),
            tls,
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
        let mut r = BufReader::new(tcp);
        let _ = r.get_mut().write_all(b"220 sink.example ESMTP\r\n").await;
        if !self.converse(&mut r, false).await {
            return;
        }
        // STARTTLS was asked for and answered: the rest of the session is under TLS.
        let Some(tls) = self.tls.clone() else { return };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
        let Ok(stream) = acceptor.accept(r.into_inner()).await else {
            return;
        };
        let mut r = BufReader::new(stream);
        self.converse(&mut r, true).await;
    }

    /// Serves commands until the session ends (`false`) or STARTTLS is accepted (`true`).
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        r: &mut BufReader<S>,
        tls: bool,
    ) -> bool {
        let (mut from, mut params, mut to) = (String::new(), String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return false;
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
            let reply: Vec<u8> = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                let mut caps = vec!["sink.example", "8BITMIME"];
                match &self.tls {
                    Some(_) if !tls => caps.push("STARTTLS"),
                    Some(t) if t.requiretls => caps.push("REQUIRETLS"),
                    _ => {}
                }
                let last = caps.len() - 1;
                caps.iter()
                    .enumerate()
                    .map(|(i, c)| format!("250{}{c}\r\n", if i == last { ' ' } else { '-' }))
                    .collect::<String>()
                    .into_bytes()
            } else if upper.starts_with("STARTTLS") && self.tls.is_some() && !tls {
                let _ = r.get_mut().write_all(b"220 go ahead\r\n").await;
                return true;
            } else if upper.starts_with("MAIL FROM") {
                from = arg(&line);
                params = line
                    .split_once('>')
                    .map(|(_, p)| p.trim().to_string())
                    .unwrap_or_default();
                to.clear();
                b"250 ok\r\n".to_vec()
            } else if upper.starts_with("RCPT TO") {
                match *self.mode.lock().unwrap() {
                    SinkMode::Accept => {
                        to.push(arg(&line));
                        b"250 ok\r\n".to_vec()
                    }
                    SinkMode::Defer => b"451 4.3.0 try again later\r\n".to_vec(),
                    SinkMode::Refuse => b"550 5.1.1 no such user here\r\n".to_vec(),
                }
            } else if upper.starts_with("DATA") {
                let _ = r.get_mut().write_all(b"354 go ahead\r\n").await;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l).await.unwrap_or(0) == 0 {
                        return false;
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
                    mail_params: params.clone(),
                    to: to.clone(),
                    data,
                    tls,
                });
                b"250 queued\r\n".to_vec()
            } else if upper.starts_with("QUIT") {
                let _ = r.get_mut().write_all(b"221 bye\r\n").await;
                let mut rest = Vec::new();
                let _ = r.read_to_end(&mut rest).await;
                return false;
            } else {
                b"250 ok\r\n".to_vec()
            };
            let _ = r.get_mut().write_all(&reply).await;
        }
    }
}
