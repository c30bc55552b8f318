//! Outbound TLS that cannot be downgraded (issue 18, point 10), tried against a local world: a
//! DNS server (`dns_server.py`, with DNSSEC-validated names marked by the AD bit), receiving
//! MTAs on other loopback addresses with and without STARTTLS and with trusted, untrusted or
//! DANE-matched certificates, and an HTTPS server publishing MTA-STS policies. Covered: DANE
//! (RFC 7672), MTA-STS (RFC 8461) with its policy cache, a configured per-domain policy,
//! REQUIRETLS (RFC 8689) with `TLS-Required: No`, and the TLS-RPT report (RFC 8460) mailed to
//! the domain that asks.

use crate::auth::GOOD;
use crate::outbound::{mail, settle};
use carepost_identity::Actor;
use carepost_testkit::{SinkTls, SmtpSink, TestDb, TestServer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

const SEND: &str = r#"
import smtplib, ssl, sys
port, user, password, opts, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx)
s.login(user, password)
to = sys.argv[6:]
msg = 'From: ' + user + '\r\nTo: ' + ', '.join(to) + '\r\nSubject: Lab results\r\n' + extra + '\r\nThe results are in the portal.\r\n'
print(s.sendmail(user, to, msg.encode(), mail_options=[o for o in opts.split(',') if o]))
s.quit()
"#;

/// A certificate and its key, PEM.
struct Pem {
    cert: String,
    key: String,
    der: Vec<u8>,
}

fn self_signed(names: &[&str]) -> Pem {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// A test certificate authority, and certificates it signs.
struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "carepost test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        Ca {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn sign(&self, names: &[&str]) -> Pem {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// The local world of one test: its DNS server, and the port every receiving MTA listens on
/// (each on its own loopback address, as other organizations' hosts each have their own).
struct World {
    _dns: Child,
    dns: SocketAddr,
    smtp_port: u16,
    _zone: tempfile::TempDir,
}

impl World {
    async fn start(zone: serde_json::Value, smtp_port: u16) -> World {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("zone.json");
        std::fs::write(&file, zone.to_string()).unwrap();
        let (child, dns) = dns_server(Some(&file)).await;
        World {
            _dns: child,
            dns,
            smtp_port,
            _zone: dir,
        }
    }
}

/// Starts `dns_server.py` (with the names of `zone`, a JSON file, besides its built-in
/// ones): the process, and the address it answers on.
pub(crate) async fn dns_server(zone: Option<&std::path::Path>) -> (Child, SocketAddr) {
    let mut child = Command::new("python3")
        .arg(format!(
            "{}/tests/it/dns_server.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(zone)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut port = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let out = child.stdout.take().unwrap();
        tokio::io::BufReader::new(out)
            .read_line(&mut port)
            .await
            .unwrap();
    }
    (child, format!("127.0.0.1:{}", port.trim()).parse().unwrap())
}

/// A free port on 127.0.0.2, kept for the test's receiving MTAs on 127.0.0.2, .3, ...
async fn mta_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn sink(ip: &str, port: u16, tls: Option<(&Pem, bool)>) -> SmtpSink {
    let tls = tls.map(|(pem, requiretls)| SinkTls::new(&pem.cert, &pem.key, requiretls));
    SmtpSink::start_on(format!("{ip}:{port}").parse().unwrap(), tls).await
}

/// An HTTPS server answering `/.well-known/mta-sts.txt` with `policies[host]`.
async fn policy_server(pem: &Pem, policies: Vec<(&'static str, &'static str)>) -> u16 {
    let tls = SinkTls::new(&pem.cert, &pem.key, false);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let policies = Arc::new(policies);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, policies) = (acceptor.clone(), policies.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && tls.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let host = head
                    .lines()
                    .find_map(|l| l.strip_prefix("host:"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let reply = match policies.iter().find(|(h, _)| *h == host) {
                    Some((_, body)) if head.starts_with("get /.well-known/mta-sts.txt ") => {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string(),
                };
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// A server using the world's DNS and MTA port, with one member of staff: (server, address).
async fn server(
    db: TestDb,
    world: &World,
    edit: impl FnOnce(&mut carepost_config::Config),
) -> (TestServer, String) {
    let (dns, port) = (world.dns, world.smtp_port);
    let s = TestServer::start_with(db, |c| {
        c.mail.dns_servers = vec![dns];
        c.mail.remote_smtp_port = port;
        edit(c);
    })
    .await;
    let dir = &s.running.context.directory;
    let admin = Actor::local_cli("tester");
    dir.create_department(&admin, "Laboratory", None)
        .await
        .unwrap();
    let new = crate::support::new_account("Ann", None, "Lee", "E1", "Laboratory");
    let ann = dir.create_account(&admin, &new).await.unwrap().address;
    dir.set_password(&admin, &ann, GOOD).await.unwrap();
    (s, ann)
}

/// Submits one message; `options` are MAIL FROM parameters (`REQUIRETLS`), `extra` header
/// lines ending in CRLF.
async fn send(s: &TestServer, from: &str, to: &str, options: &str, extra: &str) {
    let port = s.running.submissions.unwrap().port().to_string();
    crate::smtp::python(SEND, &[&port, from, GOOD, options, extra, to]).await;
}

/// The queue entry of `recipient`, once it has been tried at least once.
async fn tried(s: &TestServer, recipient: &str) -> carepost_mail::QueuedRecipient {
    settle(s, |q| {
        q.iter()
            .flat_map(|m| &m.recipients)
            .any(|r| r.recipient == recipient && r.attempts >= 1 && r.last_error.is_some())
    })
    .await;
    mail(s)
        .queue()
        .await
        .unwrap()
        .into_iter()
        .flat_map(|m| m.recipients)
        .find(|r| r.recipient == recipient)
        .unwrap()
}

/// Waits until `sink` holds `n` messages.
async fn received(sink: &SmtpSink, n: usize) -> Vec<carepost_testkit::SunkMessage> {
    let wait = async {
        loop {
            if sink.messages().len() >= n {
                return sink.messages();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the message arrives")
}

#[tokio::test]
async fn dane_decides_when_dnssec_vouches_and_the_day_is_reported_to_the_domain() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let port = mta_port().await;
        let (good, other) = (
            self_signed(&["mx.dane.example"]),
            self_signed(&["elsewhere"]),
        );
        let tlsa = |pem: &Pem| serde_json::json!([[3, 0, 0, hex::encode(&pem.der)]]);
        let world = World::start(
            serde_json::json!({
                // Signed MX and TLSA: DANE applies.
                "dane.example": {"MX": [[10, "mx.dane.example"]], "secure": true},
                "mx.dane.example": {"A": ["127.0.0.2"], "secure": true},
                (format!("_{port}._tcp.mx.dane.example")): {"TLSA": tlsa(&good), "secure": true},
                // Signed, but the certificate shown is another.
                "baddane.example": {"MX": [[10, "mx.baddane.example"]], "secure": true},
                "mx.baddane.example": {"A": ["127.0.0.3"], "secure": true},
                (format!("_{port}._tcp.mx.baddane.example")): {"TLSA": tlsa(&good), "secure": true},
                // A second address that decodes to SMTP commands is dropped, not sent to.
                "_smtp._tls.baddane.example": {"TXT": [
                    "v=TLSRPTv1; rua=mailto:tls@reports.example,mailto:x@reports.example=0D=0ARSET"
                ]},
                // The same records without DNSSEC: they prove nothing and are not used.
                "unsigned.example": {"MX": [[10, "mx.unsigned.example"]]},
                "mx.unsigned.example": {"A": ["127.0.0.3"]},
                (format!("_{port}._tcp.mx.unsigned.example")): {"TLSA": tlsa(&good)},
                "reports.example": {"MX": [[10, "mx.reports.example"]]},
                "mx.reports.example": {"A": ["127.0.0.4"]},
            }),
            port,
        )
        .await;
        let dane_mx = sink("127.0.0.2", port, Some((&good, false))).await;
        let other_mx = sink("127.0.0.3", port, Some((&other, false))).await;
        let reports_mx = sink("127.0.0.4", port, None).await;
        let (s, ann) = server(db, &world, |_| {}).await;

        send(&s, &ann, "lab@dane.example", "", "").await;
        let got = received(&dane_mx, 1).await;
        assert!(got[0].tls, "DANE delivery is over TLS");
        assert_eq!(got[0].to, ["lab@dane.example"]);

        send(&s, &ann, "lab@baddane.example", "", "").await;
        let r = tried(&s, "lab@baddane.example").await;
        assert_eq!(
            r.status, "pending",
            "a DANE failure is retried, not bounced"
        );
        let error = r.last_error.unwrap();
        assert!(error.contains("does not pass the policy"), "{error}");
        assert!(error.contains("TLSA"), "{error}");
        assert!(
            other_mx.messages().is_empty(),
            "nothing went to the unmatched host"
        );

        send(&s, &ann, "lab@unsigned.example", "", "").await;
        let got = received(&other_mx, 1).await;
        assert_eq!(
            got[0].to,
            ["lab@unsigned.example"],
            "unsigned TLSA records are ignored"
        );

        // The day's report goes to the domain that asked, as RFC 8460 describes it.
        let auth = s
            .running
            .smtp_service
            .as_ref()
            .unwrap()
            .sender_auth()
            .unwrap();
        let today = carepost_types::Clock::now(s.clock.as_ref()).day_utc();
        let sent = mail(&s)
            .send_tls_reports(auth, &carepost_audit::Actor::System, &today)
            .await
            .unwrap();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].domain, "baddane.example");
        assert_eq!(sent[0].to, ["tls@reports.example"]);
        let again = mail(&s)
            .send_tls_reports(auth, &carepost_audit::Actor::System, &today)
            .await
            .unwrap();
        assert!(again.is_empty(), "a day's report leaves once");
        let got = received(&reports_mx, 1).await;
        let report =
            mail_auth::report::tlsrpt::TlsReport::parse_rfc5322(&got[0].data, 1 << 20).unwrap();
        let policy = &report.policies[0];
        assert_eq!(
            policy.policy.policy_type,
            mail_auth::report::tlsrpt::PolicyType::Tlsa
        );
        assert_eq!(policy.policy.policy_domain, "baddane.example");
        assert!(policy.summary.total_failure >= 1, "{report:?}");
        let failure = &policy.failure_details[0];
        assert_eq!(
            failure.result_type,
            mail_auth::report::tlsrpt::ResultType::ValidationFailure
        );
        assert_eq!(
            failure.receiving_mx_hostname.as_deref(),
            Some("mx.baddane.example")
        );
        let raw = String::from_utf8_lossy(&got[0].data);
        assert!(raw.contains("TLS-Report-Domain: baddane.example"), "{raw}");
    }
}

#[tokio::test]
async fn mta_sts_enforce_delivers_only_to_listed_hosts_with_trusted_certificates() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let port = mta_port().await;
        let ca = Ca::new();
        let trust = tempfile::tempdir().unwrap();
        let ca_file = trust.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let web = ca.sign(&[
            "mta-sts.sts.example",
            "mta-sts.badsts.example",
            "mta-sts.unlisted.example",
        ]);
        let https = policy_server(
            &web,
            vec![
                (
                    "mta-sts.sts.example",
                    "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.example\r\nmax_age: 86400\r\n",
                ),
                (
                    "mta-sts.badsts.example",
                    "version: STSv1\r\nmode: enforce\r\nmx: *.badsts.example\r\nmax_age: 86400\r\n",
                ),
                (
                    "mta-sts.unlisted.example",
                    "version: STSv1\r\nmode: enforce\r\nmx: mx.elsewhere.example\r\nmax_age: 86400\r\n",
                ),
            ],
        )
        .await;
        let mut zone = serde_json::json!({
            "sts.example": {"MX": [[10, "mx.sts.example"]]},
            "mx.sts.example": {"A": ["127.0.0.2"]},
            "badsts.example": {"MX": [[10, "mx.badsts.example"]]},
            "mx.badsts.example": {"A": ["127.0.0.3"]},
            "unlisted.example": {"MX": [[10, "mx.unlisted.example"]]},
            "mx.unlisted.example": {"A": ["127.0.0.2"]},
        });
        for d in ["sts", "badsts", "unlisted"] {
            zone[format!("_mta-sts.{d}.example")] =
                serde_json::json!({"TXT": ["v=STSv1; id=20261207;"]});
            zone[format!("mta-sts.{d}.example")] = serde_json::json!({"A": ["127.0.0.1"]});
        }
        let world = World::start(zone, port).await;
        let trusted = ca.sign(&["mx.sts.example"]);
        let untrusted = self_signed(&["mx.badsts.example"]);
        let good_mx = sink("127.0.0.2", port, Some((&trusted, false))).await;
        let bad_mx = sink("127.0.0.3", port, Some((&untrusted, false))).await;
        let (s, ann) = server(db, &world, |c| {
            c.mail.remote_https_port = https;
            c.mail.tls_trust = Some(ca_file.clone());
        })
        .await;

        send(&s, &ann, "lab@sts.example", "", "").await;
        let got = received(&good_mx, 1).await;
        assert!(got[0].tls);
        let cached = mail(&s).cached_sts_policy("sts.example").await.unwrap();
        let cached = cached.expect("the fetched policy is kept");
        assert_eq!(cached.policy_id, "20261207");
        assert!(cached.policy.contains("mode: enforce"));

        send(&s, &ann, "lab@badsts.example", "", "").await;
        let r = tried(&s, "lab@badsts.example").await;
        assert_eq!(r.status, "pending");
        let error = r.last_error.unwrap();
        assert!(error.contains("does not pass the policy"), "{error}");
        assert!(bad_mx.messages().is_empty());

        send(&s, &ann, "lab@unlisted.example", "", "").await;
        let r = tried(&s, "lab@unlisted.example").await;
        let error = r.last_error.unwrap();
        assert!(error.contains("lists none of its MX hosts"), "{error}");
        assert_eq!(good_mx.messages().len(), 1, "an unlisted MX is never used");
    }
}

#[tokio::test]
async fn a_configured_policy_requiretls_and_tls_required_no() {
    let port = mta_port().await;
    let dane = self_signed(&["mx.dane.example"]);
    let plain_cert = self_signed(&["mx.lab.example"]);
    let world = World::start(
        serde_json::json!({
            "lab.example": {"MX": [[10, "mx.lab.example"]]},
            "mx.lab.example": {"A": ["127.0.0.2"]},
            "plain.example": {"MX": [[10, "mx.plain.example"]]},
            "mx.plain.example": {"A": ["127.0.0.3"]},
            "dane.example": {"MX": [[10, "mx.dane.example"]], "secure": true},
            "mx.dane.example": {"A": ["127.0.0.4"], "secure": true},
            (format!("_{port}._tcp.mx.dane.example")):
                {"TLSA": [[3, 0, 0, hex::encode(&dane.der)]], "secure": true},
            // DANE records that the host's certificate does not match.
            "strict.example": {"MX": [[10, "mx.strict.example"]], "secure": true},
            "mx.strict.example": {"A": ["127.0.0.6"], "secure": true},
            (format!("_{port}._tcp.mx.strict.example")):
                {"TLSA": [[3, 0, 0, hex::encode(&dane.der)]], "secure": true},
            "old.example": {"MX": [[10, "mx.old.example"]], "secure": true},
            "mx.old.example": {"A": ["127.0.0.5"], "secure": true},
            (format!("_{port}._tcp.mx.old.example")):
                {"TLSA": [[3, 0, 0, hex::encode(&dane.der)]], "secure": true},
        }),
        port,
    )
    .await;
    let lab_mx = sink("127.0.0.2", port, Some((&plain_cert, false))).await;
    let plain_mx = sink("127.0.0.3", port, None).await;
    let dane_mx = sink("127.0.0.4", port, Some((&dane, true))).await;
    let old_mx = sink("127.0.0.5", port, Some((&dane, false))).await;
    let strict_mx = sink("127.0.0.6", port, Some((&plain_cert, false))).await;
    let (s, ann) = server(TestDb::sqlite(), &world, |c| {
        c.mail
            .tls_policy
            .insert("lab.example".into(), carepost_config::TlsMode::Verified);
        c.mail
            .tls_policy
            .insert("plain.example".into(), carepost_config::TlsMode::Encrypted);
    })
    .await;

    // "verified": a self-signed certificate does not do.
    send(&s, &ann, "a@lab.example", "", "").await;
    let error = tried(&s, "a@lab.example").await.last_error.unwrap();
    assert!(error.contains("does not pass the policy"), "{error}");
    // "encrypted": a host without STARTTLS does not do.
    send(&s, &ann, "a@plain.example", "", "").await;
    let error = tried(&s, "a@plain.example").await.last_error.unwrap();
    assert!(error.contains("does not offer STARTTLS"), "{error}");
    assert!(lab_mx.messages().is_empty() && plain_mx.messages().is_empty());

    // The sender's "TLS-Required: No" (RFC 8689 section 5) waives the domain's own policy
    // (here DANE records the host does not match), but not the site's configured one.
    send(&s, &ann, "a@strict.example", "", "").await;
    let error = tried(&s, "a@strict.example").await.last_error.unwrap();
    assert!(error.contains("does not pass the policy"), "{error}");
    send(&s, &ann, "b@strict.example", "", "TLS-Required: No\r\n").await;
    let got = received(&strict_mx, 1).await;
    assert_eq!(got[0].to, ["b@strict.example"]);
    send(&s, &ann, "b@lab.example", "", "TLS-Required: No\r\n").await;
    let error = tried(&s, "b@lab.example").await.last_error.unwrap();
    assert!(error.contains("does not pass the policy"), "{error}");

    // REQUIRETLS to a DANE host that supports it: delivered, the requirement passed on.
    send(&s, &ann, "c@dane.example", "REQUIRETLS", "").await;
    let got = received(&dane_mx, 1).await;
    assert!(got[0].tls);
    assert!(
        got[0].mail_params.contains("REQUIRETLS"),
        "{:?}",
        got[0].mail_params
    );

    // REQUIRETLS where nothing can be authenticated, or to a host without REQUIRETLS: the
    // message comes back at once with 5.7.30.
    send(&s, &ann, "d@plain.example", "REQUIRETLS", "").await;
    send(&s, &ann, "e@old.example", "REQUIRETLS", "").await;
    settle(&s, |q| {
        !q.iter()
            .flat_map(|m| &m.recipients)
            .any(|r| r.recipient == "d@plain.example" || r.recipient == "e@old.example")
    })
    .await;
    let inbox = crate::smtp::bodies(&s, &ann, "INBOX").await;
    let dsns: Vec<&String> = inbox.iter().filter(|m| m.contains("5.7.30")).collect();
    assert_eq!(dsns.len(), 2, "{inbox:?}");
    assert!(
        dsns.iter()
            .any(|m| m.contains("does not support REQUIRETLS"))
    );
    assert!(dsns.iter().any(|m| m.contains("can be authenticated")));
    assert!(old_mx.messages().is_empty() && plain_mx.messages().is_empty());

    // REQUIRETLS is only valid over TLS: the MX in plain text refuses it.
    let mx = s.running.smtp.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(mx).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let _ = tcp.read(&mut buf).await.unwrap();
    tcp.write_all(b"EHLO outside.example\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("REQUIRETLS"));
    tcp.write_all(b"MAIL FROM:<x@outside.example> REQUIRETLS\r\n")
        .await
        .unwrap();
    let n = tcp.read(&mut buf).await.unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("530 5.7.10"), "{reply}");
}
