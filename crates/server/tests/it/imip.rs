//! Invitations by mail (iMIP, RFC 6047, issue 19): a meeting with an attendee outside the
//! organization leaves through the outbound queue as `text/calendar; method=REQUEST` from the
//! organizer, DKIM-signed; the attendee's answer, mailed back to the MX, changes the
//! organizer's copy only when it passed DMARC and speaks for its own sender. A signed answer
//! from someone else at the same domain changes nothing and is on the audit trail.

use crate::auth::GOOD;
use crate::outbound::{settle, start};
use crate::smtp::{PARTNER_SEND, Partner, python};
use carepost_store::{AuditFilter, ImipRepo, ImipRow};
use carepost_testkit::SmtpSink;
use carepost_types::Clock;

const PUT: &str = r#"
import base64, http.client, ssl, sys
port, user, password, path, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
h = {"Authorization": "Basic " + base64.b64encode((user + ":" + password).encode()).decode()}
if body:
    h["Content-Type"] = "text/calendar"
    c.request("PUT", path, body=body.replace("\\n", "\r\n"), headers=h)
else:
    c.request("GET", path, headers=h)
r = c.getresponse()
print(r.status)
print(r.read().decode())
"#;

fn meeting(ann: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\\nVERSION:2.0\\nPRODID:-//t//EN\\nBEGIN:VEVENT\\nUID:referral-42\\n\
         DTSTAMP:20261201T000000Z\\nDTSTART:20261210T090000Z\\nDTEND:20261210T100000Z\\n\
         SUMMARY:Referral review\\nORGANIZER:mailto:{ann}\\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ann}\\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:gp@partner.example\\n\
         END:VEVENT\\nEND:VCALENDAR\\n"
    )
}

/// A REPLY mailed by `from` that answers for `attendee`.
fn reply(ann: &str, from: &str, attendee: &str, partstat: &str) -> String {
    format!(
        "From: {from}\r\nTo: {ann}\r\nSubject: Accepted: Referral review\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n\
         BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//partner//EN\r\nMETHOD:REPLY\r\n\
         BEGIN:VEVENT\r\nUID:referral-42\r\nDTSTAMP:20261202T000000Z\r\n\
         DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\nORGANIZER:mailto:{ann}\r\n\
         ATTENDEE;PARTSTAT={partstat}:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[tokio::test]
async fn invitations_leave_by_mail_and_only_the_attendees_own_answer_comes_back() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let sink = SmtpSink::start().await;
        let (s, ann, _keys) = start(db, &sink).await;
        let https = s.running.https.unwrap().port().to_string();
        let path = format!("/dav/calendars/{ann}/calendar/referral-42.ics");
        let out = python(PUT, &[&https, &ann, GOOD, &path, &meeting(&ann)]).await;
        assert!(out.starts_with("201"), "{out}");

        // The invitation leaves from Ann, signed, with the iTIP REQUEST.
        settle(&s, |q| q.is_empty()).await;
        let sent = sink.messages();
        // Queued, so taken out of the outbox the write kept it in.
        let mut read = s.running.context.store.read().await.unwrap();
        assert!(
            read.due_imip(carepost_types::UnixMillis(i64::MAX), 10)
                .await
                .unwrap()
                .is_empty()
        );
        drop(read);
        let invite = sent
            .iter()
            .find(|m| m.to == vec!["gp@partner.example".to_string()])
            .unwrap_or_else(|| panic!("no invitation in {sent:?}"));
        assert_eq!(invite.from, ann);
        let text = String::from_utf8_lossy(&invite.data);
        assert!(text.starts_with("DKIM-Signature:"), "{text}");
        assert!(
            text.contains("Subject: Invitation: Referral review"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/calendar; method=\"REQUEST\""),
            "{text}"
        );
        assert!(text.contains("METHOD:REQUEST"), "{text}");

        // The partner's answers come to the MX, signed by partner.example.
        let partner = Partner::new("partner.example");
        let auth = s
            .running
            .smtp_service
            .as_ref()
            .unwrap()
            .sender_auth()
            .unwrap();
        auth.preload_txt(
            "s1._domainkey.partner.example",
            &format!("v=DKIM1; k=ed25519; p={}", partner.public),
        )
        .unwrap();
        auth.preload_txt("partner.example", "v=spf1 ip4:127.0.0.1 -all")
            .unwrap();
        auth.preload_txt("_dmarc.partner.example", "v=DMARC1; p=reject")
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, content: String| {
            let p = tmp.path().join(name);
            std::fs::write(&p, content).unwrap();
            p.to_str().unwrap().to_string()
        };
        // Someone else at the partner declines on the GP's behalf: refused, recorded.
        let other = write(
            "other",
            partner.sign(&reply(
                &ann,
                "clerk@partner.example",
                "gp@partner.example",
                "DECLINED",
            )),
        );
        let own = write(
            "own",
            partner.sign(&reply(
                &ann,
                "gp@partner.example",
                "gp@partner.example",
                "ACCEPTED",
            )),
        );
        let mx = s.running.smtp.unwrap().port().to_string();
        let got = python(PARTNER_SEND, &[&mx, &ann, "clerk@partner.example", &other]).await;
        assert!(got.contains("accepted"), "{got}");
        let copy = python(PUT, &[&https, &ann, GOOD, &path, ""]).await;
        assert!(
            copy.contains("PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:gp@partner.example"),
            "a forged answer changed the meeting: {copy}"
        );
        let got = python(PARTNER_SEND, &[&mx, &ann, "gp@partner.example", &own]).await;
        assert!(got.contains("accepted"), "{got}");
        let copy = python(PUT, &[&https, &ann, GOOD, &path, ""]).await;
        let unfolded = copy.replace("\r\n ", "").replace("\n ", "");
        assert!(
            unfolded.contains("PARTSTAT=ACCEPTED:mailto:gp@partner.example"),
            "{copy}"
        );
        let events = s
            .running
            .context
            .directory
            .audit_events(&crate::support::admin(), &AuditFilter::default())
            .await
            .unwrap();
        let mut replies: Vec<_> = events
            .iter()
            .filter(|e| e.action == "calendar.imip_reply")
            .map(|e| e.outcome.as_str())
            .collect();
        replies.sort();
        assert_eq!(replies, vec!["denied", "success"], "{events:?}");
    }
}

#[tokio::test]
async fn an_invitation_kept_across_a_crash_is_mailed_afterwards() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let sink = SmtpSink::start().await;
        let (s, ann, _keys) = start(db, &sink).await;
        let ctx = &s.running.context;
        let id = ctx
            .directory
            .find_account(&crate::support::admin(), &ann)
            .await
            .unwrap()
            .id;
        // What a write committed before the server stopped, short of mailing it; and one
        // that is still its writer's to mail.
        let now = s.clock.now();
        let kept = |to: &str, next_try_at: i64| ImipRow {
            id: 0,
            account_id: id,
            from: ann.clone(),
            to: to.into(),
            method: "CANCEL".into(),
            summary: "Referral review".into(),
            ical: meeting(&ann).replace("\\n", "\r\n"),
            created_at: carepost_types::UnixMillis(next_try_at - 60_000),
            attempts: 0,
            next_try_at: carepost_types::UnixMillis(next_try_at),
        };
        let mut tx = ctx.store.begin_bookkeeping().await.unwrap();
        tx.queue_imip(&kept("gp@partner.example", now.0 - 1_000))
            .await
            .unwrap();
        tx.queue_imip(&kept("gp2@partner.example", now.0 + 50_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // The server's own pass at start may come after the commit on a busy machine and
        // mail it first; either way it is mailed once, and the other waits for its writer.
        let here = ctx.calendars.send_kept_imip().await.unwrap();
        assert!(here <= 1, "{here}");
        settle(&s, |q| q.is_empty()).await;
        let sent = sink.messages();
        let cancel = sent
            .iter()
            .find(|m| m.to == vec!["gp@partner.example".to_string()])
            .unwrap_or_else(|| panic!("nothing mailed: {sent:?}"));
        let text = String::from_utf8_lossy(&cancel.data);
        assert!(
            text.contains("Subject: Cancelled: Referral review"),
            "{text}"
        );
        assert!(
            !sent
                .iter()
                .any(|m| m.to == vec!["gp2@partner.example".to_string()])
        );
        // Mailed once: out of the outbox, and a second look sends nothing yet.
        assert_eq!(ctx.calendars.send_kept_imip().await.unwrap(), 0);
        // A minute on, the other is due and mailed; the outbox is empty.
        s.clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(ctx.calendars.send_kept_imip().await.unwrap(), 1);
        settle(&s, |q| q.is_empty()).await;
        let mut read = ctx.store.read().await.unwrap();
        let far = carepost_types::UnixMillis(i64::MAX);
        assert!(read.due_imip(far, 10).await.unwrap().is_empty());
        drop(read);
        // Two senders reading the same row: only one claims it.
        let mut tx = ctx.store.begin_bookkeeping().await.unwrap();
        let rid = tx
            .queue_imip(&kept("gp3@partner.example", 0))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut read = ctx.store.read().await.unwrap();
        let row = read.due_imip(far, 10).await.unwrap().remove(0);
        drop(read);
        assert_eq!(row.id, rid);
        let mut tx = ctx.store.begin_bookkeeping().await.unwrap();
        assert!(tx.claim_imip(&row, far).await.unwrap());
        assert!(!tx.claim_imip(&row, far).await.unwrap());
        tx.commit().await.unwrap();
    }
}
