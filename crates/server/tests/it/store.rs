//! The store's conformance suite, run on every backend.

use crate::support::{Env, admin, on_each_backend, open_store};
use carepost_store::{AuditRepo, DirectoryRepo, MailRepo, Store, StoreError, schema_version};
use carepost_types::{AccountId, AuditSeq, UnixMillis};

#[tokio::test]
async fn migrations_run_once_and_a_reopened_store_keeps_its_data() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.store.close().await;
        let again = open_store(&env.config).await;
        let mut tx = again.read().await.unwrap();
        assert!(
            tx.find_department_by_name("medicine")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(tx.audit_head().await.unwrap().seq, AuditSeq(1));
    })
    .await;
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused() {
    on_each_backend(async |env| {
        env.store.close().await;
        let pool = sqlx::AnyPool::connect(&env.config.store.url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, $1, 0)",
        )
        .bind(vec![0u8])
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        match Store::open(&env.config.store.url, [0; 32]).await {
            Err(StoreError::SchemaTooNew { found, known }) => {
                assert_eq!(found, 9999);
                assert_eq!(known, schema_version());
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_claimed_by_one_account_and_freed_only_after_quarantine() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        env.create("Ann", None, "Lee", "E1").await;
        env.create("Bob", None, "Lee", "E2").await;
        let now = UnixMillis(1_790_000_000_000);
        let mut tx = env.store.begin().await.unwrap();
        let ann = tx
            .find_account_by_employee_id("E1")
            .await
            .unwrap()
            .unwrap()
            .id;
        let bob = tx
            .find_account_by_employee_id("E2")
            .await
            .unwrap()
            .unwrap()
            .id;
        assert!(
            tx.claim_address("x@kaiser.org", ann, "alias", now)
                .await
                .unwrap()
        );
        assert!(
            !tx.claim_address("x@kaiser.org", bob, "alias", now)
                .await
                .unwrap()
        );
        // Claiming one's own address again is allowed.
        assert!(
            tx.claim_address("x@kaiser.org", ann, "alias", now)
                .await
                .unwrap()
        );
        tx.release_address("x@kaiser.org", UnixMillis(now.0 + 1000))
            .await
            .unwrap();
        assert!(
            !tx.claim_address("x@kaiser.org", bob, "alias", UnixMillis(now.0 + 999))
                .await
                .unwrap()
        );
        assert!(
            tx.claim_address("x@kaiser.org", bob, "alias", UnixMillis(now.0 + 1000))
                .await
                .unwrap()
        );
        let row = tx.find_address("x@kaiser.org").await.unwrap().unwrap();
        assert_eq!(row.account_id, Some(bob));
        assert!(row.active);
        assert_eq!(row.reusable_after, None);
        assert_ne!(ann, AccountId(0));
    })
    .await;
}

#[tokio::test]
async fn a_transaction_dropped_without_commit_leaves_nothing() {
    on_each_backend(async |env| {
        {
            let mut tx = env.store.begin().await.unwrap();
            tx.insert_department("Ghost", None, UnixMillis(1))
                .await
                .unwrap();
        }
        let mut tx = env.store.read().await.unwrap();
        assert!(tx.find_department_by_name("Ghost").await.unwrap().is_none());
        assert_eq!(tx.audit_head().await.unwrap().seq, AuditSeq(0));
    })
    .await;
}

#[tokio::test]
async fn a_change_cannot_be_written_without_the_audit_lock_or_committed_without_an_event() {
    on_each_backend(async |env| {
        let mut read = env.store.read().await.unwrap();
        let e = read
            .insert_department("Ghost", None, UnixMillis(1))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotAudited), "{e}");
        drop(read);
        let mut tx = env.store.begin().await.unwrap();
        tx.insert_department("Ghost", None, UnixMillis(1))
            .await
            .unwrap();
        assert!(matches!(tx.commit().await, Err(StoreError::Unaudited)));
        let mut tx = env.store.read().await.unwrap();
        assert!(tx.find_department_by_name("Ghost").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn audit_events_need_the_audit_lock() {
    on_each_backend(async |env| {
        let mut tx = env.store.read().await.unwrap();
        let e = carepost_audit::NewEvent::success(
            UnixMillis(1),
            &admin().who,
            carepost_audit::action::ACCOUNT_CREATE,
            "account:x".into(),
        );
        assert!(matches!(
            tx.append_audit(&e).await,
            Err(StoreError::NotAudited)
        ));
    })
    .await;
}

async fn tampered(env: &Env, sql: &'static str) -> carepost_audit::ChainBreak {
    let pool = sqlx::AnyPool::connect(&env.config.store.url).await.unwrap();
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
    env.dir.verify_audit(&admin()).await.unwrap().unwrap_err()
}

#[tokio::test]
async fn audit_verification_finds_altered_removed_and_inserted_events() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        for (i, first) in ["Ann", "Bob", "Cy", "Di"].iter().enumerate() {
            env.create(first, None, "Lee", &format!("E{i}")).await;
        }
        let ok = env.dir.verify_audit(&admin()).await.unwrap().unwrap();
        assert_eq!(ok.events, 5);

        let b = tampered(
            env,
            "UPDATE audit_events SET target = 'account:someone@kaiser.org' WHERE seq = 3",
        )
        .await;
        assert_eq!(b.seq, AuditSeq(3));
        assert!(b.reason.starts_with("altered"), "{b}");
    })
    .await;
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        env.create("Ann", None, "Lee", "E1").await;
        env.create("Bob", None, "Lee", "E2").await;
        let b = tampered(env, "DELETE FROM audit_events WHERE seq = 2").await;
        assert_eq!(b.seq, AuditSeq(2));
        assert!(b.reason.starts_with("removed"), "{b}");
    })
    .await;
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        env.create("Ann", None, "Lee", "E1").await;
        let b = tampered(
            env,
            "INSERT INTO audit_events (seq, at, actor, actor_id, action, target, source, outcome, details, prev_hash, hash) \
             SELECT 3, at, actor, actor_id, action, target, source, outcome, details, prev_hash, hash \
             FROM audit_events WHERE seq = 2",
        )
        .await;
        assert_eq!(b.seq, AuditSeq(3));
        assert!(b.reason.starts_with("inserted"), "{b}");
    })
    .await;
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        env.create("Ann", None, "Lee", "E1").await;
        let b = tampered(env, "DELETE FROM audit_events WHERE seq = 2").await;
        assert_eq!(
            b.seq,
            AuditSeq(2),
            "the removed last event is found through the head"
        );
    })
    .await;
}

#[tokio::test]
async fn an_older_schema_is_migrated_forward_keeping_its_data() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        carepost_store::create_at_version(&db.url, 1).await.unwrap();
        // Data written by the older version.
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query("INSERT INTO departments (name, name_key, parent_id, created_at) VALUES ('Old', 'old', NULL, 1)")
            .execute(&pool)
            .await
            .unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(applied, 1);
        pool.close().await;
        let store = Store::open(&db.url, [0; 32]).await.unwrap();
        let mut tx = store.read().await.unwrap();
        assert!(tx.find_department_by_name("old").await.unwrap().is_some());
        drop(tx);
        store.close().await;
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(applied, schema_version());
        pool.close().await;
    }
}

#[tokio::test]
async fn mailboxes_of_schema_8_keep_their_subscriptions_and_show_nothing_recent() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        carepost_store::create_at_version(&db.url, 8).await.unwrap();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        for sql in [
            "INSERT INTO departments (id, name, name_key, parent_id, created_at) \
             VALUES (1, 'Ward', 'ward', NULL, 1)",
            "INSERT INTO accounts (id, first_name, last_name, employee_id, category, \
             department_id, status, primary_address, search_text, created_at, updated_at) \
             VALUES (1, 'Ann', 'Lee', 'E1', 'nurse', 1, 'active', 'ann.lee@kaiser.org', 'ann lee', 1, 1)",
            "INSERT INTO mailboxes (id, account_id, name, special_use, uid_validity, uid_next, \
             highest_modseq, subscribed, created_at) VALUES (1, 1, 'INBOX', NULL, 7, 5, 9, 1, 1)",
            "INSERT INTO mailboxes (id, account_id, name, special_use, uid_validity, uid_next, \
             highest_modseq, subscribed, created_at) VALUES (2, 1, 'Old', NULL, 8, 3, 4, 0, 1)",
            "INSERT INTO mail_usage (account_id, bytes, messages) VALUES (1, 0, 0)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
        let store = Store::open(&db.url, [0; 32]).await.unwrap();
        let mut tx = store.begin_bookkeeping().await.unwrap();
        let inbox = tx.find_mailbox(1).await.unwrap().unwrap();
        // What existed before \Recent was kept is not recent to anyone.
        assert_eq!(inbox.first_recent_uid, inbox.uid_next);
        let account = AccountId(1);
        assert_eq!(tx.list_subscriptions(account).await.unwrap(), vec!["INBOX"]);
        // The UIDVALIDITY counter starts below every mailbox's, so the floor decides.
        assert_eq!(tx.next_uid_validity(account, 100).await.unwrap(), 100);
        assert_eq!(tx.next_uid_validity(account, 100).await.unwrap(), 101);
        // An account older than the enrollment-grace table keeps the grace it had: from its
        // creation, not from its next sign-in.
        use carepost_store::PasskeyRepo;
        assert_eq!(
            tx.find_mfa_grace(account).await.unwrap(),
            Some(carepost_types::UnixMillis(1))
        );
        tx.commit().await.unwrap();
        store.close().await;
    }
}
