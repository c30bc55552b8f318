//! The mail store on every backend: copies placed with IMAP counters, one encrypted body for
//! many recipients, quotas, status policies, expunge and collection of bodies.

use crate::support::{Env, admin, on_each_backend};
use carepost_audit::{Actor, NewEvent, action};
use carepost_config::InactiveDelivery;
use carepost_identity::AccountStatus;
use carepost_mail::{Delivery, Folder, MailStore, Recipient, Target};
use carepost_store::MailRepo;
use carepost_types::{AccountId, Clock, SeededRng};
use std::sync::Arc;

impl Env {
    pub(crate) fn mail(&self) -> MailStore {
        MailStore::open(
            self.store.clone(),
            self.config.clone(),
            self.clock.clone() as Arc<dyn Clock>,
            Arc::new(SeededRng::new(9)),
        )
    }

    /// Three staff in Cardiology; their addresses.
    pub(crate) async fn staff(&self) -> Vec<String> {
        self.department("Cardiology", None).await;
        let mut out = Vec::new();
        for (first, last, id) in [
            ("Ann", "Lee", "E1"),
            ("Bob", "Stone", "E2"),
            ("Cy", "Hart", "E3"),
        ] {
            out.push(self.create(first, None, last, id).await);
        }
        out
    }
}

pub(crate) async fn account(mail: &MailStore, address: &str) -> AccountId {
    match mail.resolve(address).await.unwrap() {
        Recipient::Local { account, .. } => account,
        other => panic!("{address}: {other:?}"),
    }
}

async fn inbox(mail: &MailStore, id: AccountId) -> carepost_store::MailboxRow {
    let boxes = mail.mailboxes(id).await.unwrap();
    boxes.into_iter().find(|m| m.name == "INBOX").unwrap()
}

/// A delivery of `raw` to `targets`, recorded as received from outside.
fn delivery(env: &Env, raw: impl Into<Vec<u8>>, targets: Vec<Target>) -> Delivery {
    Delivery {
        raw: raw.into(),
        targets,
        outbound: None,
        event: event(env),
    }
}

fn event(env: &Env) -> NewEvent {
    NewEvent::success(
        env.clock.now(),
        &Actor::System,
        action::MAIL_RECEIVE,
        "message:test".into(),
    )
}

const MSG: &[u8] = b"From: ann@example.org\r\nSubject: Rounds\r\nMessage-ID: <r1@example.org>\r\n\r\nWard 4 at 9.\r\n";

/// A message too large to be kept in the database (its body goes to a file).
fn big_message() -> Vec<u8> {
    let mut m = b"From: lab@example.org\r\nSubject: Big scan\r\n\r\n".to_vec();
    m.extend(std::iter::repeat_n(b"0123456789abcdef\r\n".as_slice(), 6000).flatten());
    m
}

fn blob_files(env: &Env) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![env.config.store.blob_dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "tmp") {
                    stack.push(p);
                }
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn one_body_serves_every_recipient_and_is_encrypted_at_rest() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        let mut targets = Vec::new();
        for a in &staff {
            targets.push(Target::inbox(account(&mail, a).await));
        }
        let placed = mail
            .deliver(delivery(env, MSG.to_vec(), targets))
            .await
            .unwrap();
        assert_eq!(placed.len(), 3);
        assert!(placed.iter().all(|p| p.uid == 1));
        // A small body lives, sealed, in its record: no file.
        assert!(blob_files(env).is_empty());
        let ann0 = account(&mail, &staff[0]).await;
        let row = mail.messages(ann0, "INBOX").await.unwrap().remove(0);
        let record = env
            .store
            .read()
            .await
            .unwrap()
            .find_blob(&row.blob_id)
            .await
            .unwrap()
            .unwrap();
        let sealed = record.data.expect("kept in the database");
        assert!(
            !sealed.windows(6).any(|w| w == b"Rounds"),
            "the record is not plain text"
        );
        assert_eq!(record.refs, 3, "one body for three copies");
        // A large one goes to a file, once however many copies, sealed too.
        let big = big_message();
        let mut targets = Vec::new();
        for a in &staff {
            targets.push(Target::inbox(account(&mail, a).await));
        }
        mail.deliver(delivery(env, big.clone(), targets))
            .await
            .unwrap();
        let files = blob_files(env);
        assert_eq!(files.len(), 1, "one file for three copies: {files:?}");
        let on_disk = std::fs::read(&files[0]).unwrap();
        assert!(
            !on_disk.windows(8).any(|w| w == b"Big scan"),
            "the file is not plain text"
        );
        let big_row = mail.messages(ann0, "INBOX").await.unwrap().remove(1);
        assert_eq!(mail.read_body(&big_row.blob_id).await.unwrap(), big);

        let ann = account(&mail, &staff[0]).await;
        let boxes = mail.mailboxes(ann).await.unwrap();
        let names: Vec<_> = boxes
            .iter()
            .map(|m| (m.name.as_str(), m.special_use.as_deref()))
            .collect();
        for want in [
            ("INBOX", None),
            ("Sent", Some("\\Sent")),
            ("Drafts", Some("\\Drafts")),
            ("Trash", Some("\\Trash")),
            ("Junk", Some("\\Junk")),
            ("Archive", Some("\\Archive")),
        ] {
            assert!(names.contains(&want), "{want:?} in {names:?}");
        }
        let inbox = boxes.iter().find(|m| m.name == "INBOX").unwrap();
        assert_eq!((inbox.uid_next, inbox.highest_modseq), (3, 3));
        assert!(inbox.uid_validity > 0);
        let msgs = mail.messages(ann, "INBOX").await.unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(mail.read_body(&msgs[0].blob_id).await.unwrap(), MSG);
        let summary = mail.summary(&msgs[0].blob_id).await.unwrap();
        assert_eq!(summary.subject.as_deref(), Some("Rounds"));
        assert_eq!(
            mail.usage(ann).await.unwrap(),
            ((MSG.len() + big.len()) as u64, 2)
        );
    })
    .await;
}

#[tokio::test]
async fn uids_grow_and_copies_go_to_the_chosen_folder() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        let ann = account(&mail, &staff[0]).await;
        for i in 0..3 {
            let raw = format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes();
            let sent = Target {
                account: ann,
                folder: Folder::Sent,
                flags: "\\Seen".into(),
                ..Target::inbox(ann)
            };
            mail.deliver(delivery(env, raw, vec![Target::inbox(ann), sent]))
                .await
                .unwrap();
        }
        let uids: Vec<i64> = mail
            .messages(ann, "INBOX")
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(uids, vec![1, 2, 3]);
        let sent = mail.messages(ann, "Sent").await.unwrap();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].flags, "\\Seen");
        assert!(sent.windows(2).all(|w| w[0].modseq < w[1].modseq));
    })
    .await;
}

#[tokio::test]
async fn concurrent_deliveries_are_all_kept_with_distinct_uids() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        let ann = account(&mail, &staff[0]).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..60 {
            let mail = mail.clone();
            let e = event(env);
            tasks.spawn(async move {
                let raw = format!("Subject: n{i}\r\n\r\n{i}\r\n").into_bytes();
                mail.deliver(Delivery {
                    outbound: None,
                    raw,
                    targets: vec![Target::inbox(ann)],
                    event: e,
                })
                .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        let mut uids: Vec<i64> = mail
            .messages(ann, "INBOX")
            .await
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        uids.sort();
        assert_eq!(uids, (1..=60).collect::<Vec<_>>());
        assert_eq!(mail.usage(ann).await.unwrap().1, 60);
    })
    .await;
}

#[tokio::test]
async fn expunged_messages_free_their_body_once_nothing_holds_it() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        let ann = account(&mail, &staff[0]).await;
        let bob = account(&mail, &staff[1]).await;
        mail.deliver(delivery(
            env,
            big_message(),
            vec![Target::inbox(ann), Target::inbox(bob)],
        ))
        .await
        .unwrap();
        let mut changes = mail.subscribe();

        let ann_inbox = inbox(&mail, ann).await;
        let removed = mail
            .expunge(ann, ann_inbox.id, &[1], event(env))
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(changes.recv().await.unwrap().mailbox_id, ann_inbox.id);
        assert_eq!(
            mail.collect(&Actor::System).await.unwrap(),
            0,
            "Bob still holds it"
        );
        assert_eq!(blob_files(env).len(), 1);
        let bob_inbox = inbox(&mail, bob).await;
        mail.expunge(bob, bob_inbox.id, &[1], event(env))
            .await
            .unwrap();
        assert_eq!(mail.collect(&Actor::System).await.unwrap(), 1);
        assert!(blob_files(env).is_empty());
        assert_eq!(mail.usage(bob).await.unwrap(), (0, 0));
        assert!(inbox(&mail, bob).await.highest_modseq > bob_inbox.highest_modseq);
        // The same body again after collection is stored again.
        mail.deliver(delivery(env, MSG.to_vec(), vec![Target::inbox(ann)]))
            .await
            .unwrap();
        let m = mail.messages(ann, "INBOX").await.unwrap();
        assert_eq!(mail.read_body(&m[0].blob_id).await.unwrap(), MSG);
        assert_eq!(m[0].uid, 2, "UIDs are never reused");
        assert!(
            mail.expunge(ann, bob_inbox.id, &[1], event(env))
                .await
                .is_err(),
            "not Ann's mailbox"
        );
    })
    .await;
}

#[tokio::test]
async fn recipients_follow_domains_status_policy_and_quota() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        assert_eq!(
            mail.resolve("someone@example.org").await.unwrap(),
            Recipient::Remote
        );
        // RFC 5321 section 4.5.1: postmaster (and abuse) reach a person, by default the first
        // administrator; with none here, nobody, until the config names one.
        assert_eq!(mail.resolve("postmaster@kaiser.org").await.unwrap(), Recipient::Unknown);
        let mut routed = (*env.config).clone();
        routed.mail.postmaster = Some(staff[1].clone());
        let routed = MailStore::open(env.store.clone(), Arc::new(routed), env.clock.clone() as Arc<dyn Clock>, Arc::new(SeededRng::new(2)));
        let bob = account(&routed, &staff[1]).await;
        for role in ["postmaster@kaiser.org", "ABUSE@kaiser.org"] {
            assert!(
                matches!(routed.resolve(role).await.unwrap(), Recipient::Local { account, .. } if account == bob),
                "{role}"
            );
        }
        assert_eq!(
            mail.resolve("nobody@kaiser.org").await.unwrap(),
            Recipient::Unknown
        );
        env.dir
            .add_alias(&admin(), &staff[0], "rounds@kaiser.org", false)
            .await
            .unwrap();
        let by_alias = mail.resolve("rounds@kaiser.org").await.unwrap();
        let by_address = mail.resolve(&staff[0]).await.unwrap();
        assert!(
            matches!((&by_alias, &by_address), (Recipient::Local { account: a, .. }, Recipient::Local { account: b, .. }) if a == b),
            "an alias delivers to its account: {by_alias:?}"
        );
        let upper = staff[0].to_uppercase();
        assert!(matches!(
            mail.resolve(&upper).await.unwrap(),
            Recipient::Local { .. }
        ));
        env.dir
            .set_status(&admin(), &staff[1], AccountStatus::Disabled)
            .await
            .unwrap();
        assert!(
            matches!(
                mail.resolve(&staff[1]).await.unwrap(),
                Recipient::Local { .. }
            ),
            "disabled accounts keep receiving by default"
        );
        env.dir
            .set_status(&admin(), &staff[2], AccountStatus::Deprovisioned)
            .await
            .unwrap();
        assert_eq!(mail.resolve(&staff[2]).await.unwrap(), Recipient::Refused);
        let mut config = (*env.config).clone();
        config.mail.disabled_accounts = InactiveDelivery::Reject;
        config.mail.deprovisioned_accounts = InactiveDelivery::Receive;
        let other = MailStore::open(
            env.store.clone(),
            Arc::new(config),
            env.clock.clone() as Arc<dyn Clock>,
            Arc::new(SeededRng::new(1)),
        );
        assert_eq!(other.resolve(&staff[1]).await.unwrap(), Recipient::Refused);
        assert!(matches!(
            other.resolve(&staff[2]).await.unwrap(),
            Recipient::Local { .. }
        ));
    })
    .await;
}

#[tokio::test]
async fn a_full_mailbox_refuses_new_mail() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mut config = (*env.config).clone();
        config.mail.quota = 100;
        let mail = MailStore::open(
            env.store.clone(),
            Arc::new(config),
            env.clock.clone() as Arc<dyn Clock>,
            Arc::new(SeededRng::new(1)),
        );
        let ann = account(&mail, &staff[0]).await;
        mail.deliver(delivery(
            env,
            [MSG, &[b'x'; 100]].concat(),
            vec![Target::inbox(ann)],
        ))
        .await
        .unwrap();
        assert_eq!(mail.resolve(&staff[0]).await.unwrap(), Recipient::OverQuota);
    })
    .await;
}

#[tokio::test]
async fn a_delivery_on_one_node_wakes_subscribers_on_another() {
    let Some(db) = carepost_testkit::TestDb::postgres().await else {
        eprintln!("SKIPPED on PostgreSQL: set CAREPOST_TEST_POSTGRES_URL");
        return;
    };
    let env = Env::new(db).await;
    let staff = env.staff().await;
    let node_a = env.mail();
    let node_b = MailStore::open(
        crate::support::open_store(&env.config).await,
        env.config.clone(),
        env.clock.clone() as Arc<dyn Clock>,
        Arc::new(SeededRng::new(77)),
    );
    let ann = account(&node_a, &staff[0]).await;
    let mut on_b = node_b.subscribe();
    // The listener on node B connects in the background; deliver until it hears one.
    let heard = async {
        loop {
            node_a
                .deliver(delivery(&env, MSG.to_vec(), vec![Target::inbox(ann)]))
                .await
                .unwrap();
            if let Ok(Ok(change)) =
                tokio::time::timeout(std::time::Duration::from_millis(200), on_b.recv()).await
            {
                return change;
            }
        }
    };
    let change = tokio::time::timeout(std::time::Duration::from_secs(20), heard)
        .await
        .expect("node B hears node A's delivery");
    assert_eq!(change.account, ann);
    assert_eq!(change.mailbox_id, inbox(&node_b, ann).await.id);
}

#[tokio::test]
async fn a_body_left_by_a_crash_before_its_commit_is_swept_after_an_hour() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        let ann = account(&mail, &staff[0]).await;
        mail.deliver(delivery(env, MSG.to_vec(), vec![Target::inbox(ann)]))
            .await
            .unwrap();
        // What a crash leaves: a body file that no record names.
        let orphan = env
            .config
            .store
            .blob_dir
            .join("ab")
            .join("cd")
            .join("abcd".repeat(16));
        std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
        std::fs::write(&orphan, b"sealed bytes").unwrap();
        // Written "now" by the test's clock, which is not the machine's.
        let written =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(env.clock.now().0 as u64);
        std::fs::File::options()
            .write(true)
            .open(&orphan)
            .unwrap()
            .set_modified(written)
            .unwrap();
        assert_eq!(
            mail.sweep_orphans(&Actor::System).await.unwrap(),
            0,
            "too young to judge"
        );
        env.clock.advance(std::time::Duration::from_secs(2 * 3600));
        assert_eq!(mail.sweep_orphans(&Actor::System).await.unwrap(), 1);
        assert!(!orphan.exists());
        let kept = mail.messages(ann, "INBOX").await.unwrap();
        assert_eq!(
            mail.read_body(&kept[0].blob_id).await.unwrap(),
            MSG,
            "a held body stays"
        );
    })
    .await;
}

#[tokio::test]
async fn a_body_kept_in_the_database_is_collected_with_its_last_message() {
    on_each_backend(async |env: &Env| {
        let staff = env.staff().await;
        let mail = env.mail();
        let ann = account(&mail, &staff[0]).await;
        mail.deliver(delivery(env, MSG.to_vec(), vec![Target::inbox(ann)]))
            .await
            .unwrap();
        let id = mail.messages(ann, "INBOX").await.unwrap()[0]
            .blob_id
            .clone();
        let exists = |id: String| async move {
            env.store
                .read()
                .await
                .unwrap()
                .blob_exists(&id)
                .await
                .unwrap()
        };
        assert!(exists(id.clone()).await);
        let inbox = inbox(&mail, ann).await;
        mail.expunge(ann, inbox.id, &[1], event(env)).await.unwrap();
        assert_eq!(mail.collect(&Actor::System).await.unwrap(), 1);
        assert!(
            !exists(id).await,
            "the record and its sealed bytes are gone"
        );
        assert!(blob_files(env).is_empty());
    })
    .await;
}
