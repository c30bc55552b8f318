//! The IMAP listener driven by a Rust client library (async-imap over rustls, verifying the
//! server's certificate): what a Rust mail app or a sync service would do.

use crate::auth::GOOD;
use crate::smtp::server_with_staff;
use async_imap::Client;
use async_imap::extensions::idle::IdleResponse;
use async_imap::types::Flag;
use carepost_testkit::{TestServer, tls_connect};
use futures_util::TryStreamExt;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

type Session = async_imap::Session<TlsStream<TcpStream>>;

async fn sign_in(s: &TestServer, user: &str) -> Session {
    let tls = tls_connect(s.running.imaps.unwrap(), &s.cert).await;
    let mut client = Client::new(tls);
    let greeting = client.read_response().await.unwrap().unwrap();
    assert!(format!("{:?}", greeting.parsed()).contains("IMAP4rev2"));
    client.login(user, GOOD).await.map_err(|(e, _)| e).unwrap()
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Ward Clerk <clerk@kaiser.org>\r\nTo: ann.lee@kaiser.org\r\nSubject: {subject}\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0000\r\nMessage-ID: <{subject}@kaiser.org>\r\n\r\n\
         Handover for {subject}.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_rust_client_reads_flags_moves_and_idles() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let mut a = sign_in(&s, &ann).await;
        let caps = a.capabilities().await.unwrap();
        for c in [
            "IMAP4rev2",
            "IDLE",
            "MOVE",
            "UIDPLUS",
            "CONDSTORE",
            "QRESYNC",
            "SORT",
        ] {
            assert!(caps.has_str(c), "{c} is advertised");
        }
        a.create("Rounds").await.unwrap();
        a.append("INBOX", Some("(\\Seen)"), None, message("bed-4"))
            .await
            .unwrap();
        a.append("INBOX", None, None, message("bed-9"))
            .await
            .unwrap();

        let inbox = a.select("INBOX").await.unwrap();
        assert_eq!(inbox.exists, 2);
        let fetched: Vec<_> = a
            .fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(fetched.len(), 2);
        let first = &fetched[0];
        assert!(first.flags().any(|f| f == Flag::Seen));
        assert_eq!(first.body(), Some(message("bed-4").as_slice()));
        assert_eq!(first.size, Some(message("bed-4").len() as u32));
        let subject = first.envelope().and_then(|e| e.subject.clone()).unwrap();
        assert_eq!(subject.as_ref(), b"bed-4");
        let uid2 = fetched[1].uid.unwrap();
        assert!(uid2 > first.uid.unwrap());

        let stored: Vec<_> = a
            .store("2", "+FLAGS (\\Flagged)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(stored[0].flags().any(|f| f == Flag::Flagged));
        let flagged = a.uid_search("FLAGGED").await.unwrap();
        assert_eq!(flagged.into_iter().collect::<Vec<_>>(), vec![uid2]);

        a.uid_mv(uid2.to_string(), "Rounds").await.unwrap();
        let inbox = a.select("INBOX").await.unwrap();
        assert_eq!(inbox.exists, 1);
        let status = a.status("Rounds", "(MESSAGES UIDNEXT)").await.unwrap();
        assert_eq!(status.exists, 1);

        // IDLE: another session's delivery wakes this one.
        let mut idle = a.idle();
        idle.init().await.unwrap();
        let mut b = sign_in(&s, &ann).await;
        b.append("INBOX", None, None, message("bed-12"))
            .await
            .unwrap();
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(30));
        match wait.await.unwrap() {
            IdleResponse::NewData(d) => {
                assert!(format!("{:?}", d.parsed()).contains("Exists(2)"), "{d:?}")
            }
            other => panic!("IDLE ended without news: {other:?}"),
        }
        let mut a = idle.done().await.unwrap();

        a.store("1", "+FLAGS (\\Deleted)")
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        let gone: Vec<_> = a.expunge().await.unwrap().try_collect().await.unwrap();
        assert_eq!(gone, vec![1]);
        let inbox = a.select("INBOX").await.unwrap();
        assert_eq!(inbox.exists, 1);
        a.logout().await.unwrap();
        b.logout().await.unwrap();
    }
}
