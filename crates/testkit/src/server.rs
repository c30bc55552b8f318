//! An in-process carepost on port 0 with its own store.

use crate::TestDb;
use carepost_config::Config;
use carepost_server::{Context, Running};
use carepost_types::{Clock, ManualClock, SeededRng, UnixMillis};
use std::path::PathBuf;
use std::sync::Arc;

/// A development config for tests: every listener on 127.0.0.1:0, the store of `db`, TLS
/// files generated in the test's directory.
pub fn test_config(db: &TestDb) -> Config {
    let dir = db.dir.path();
    let text = format!(
        r#"
        dev = true
        [organization]
        name = "Test Hospital"
        domain = "kaiser.org"
        [store]
        url = "{url}"
        blob_dir = "{dir}/blobs"
        [tls]
        cert = "{dir}/tls/cert.pem"
        key = "{dir}/tls/key.pem"
        generate_if_missing = true
        [listeners]
        https = "127.0.0.1:0"
        http = "127.0.0.1:0"
        smtp = "127.0.0.1:0"
        submission = "127.0.0.1:0"
        submissions = "127.0.0.1:0"
        imap = "127.0.0.1:0"
        imaps = "127.0.0.1:0"
        metrics = "127.0.0.1:0"
        [address]
        quarantine = "365d"
        [secrets]
        master_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        # Cheap hashes keep the tests fast; the algorithm and code paths are the real ones.
        [web]
        public_url = "https://localhost"
        [password]
        argon2_memory_kib = 64
        argon2_iterations = 1
        "#,
        url = db.url,
        dir = dir.display()
    );
    Config::from_toml(&text, dir).unwrap()
}

/// A started server with a clock the test moves.
#[derive(Debug)]
pub struct TestServer {
    pub running: Arc<Running>,
    pub clock: Arc<ManualClock>,
    pub cert: PathBuf,
    pub db: Arc<TestDb>,
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        TestServer::start_with(db, |_| {}).await
    }

    /// Starts with the test config changed by `edit` first.
    pub async fn start_with(db: TestDb, edit: impl FnOnce(&mut Config)) -> TestServer {
        carepost_server::install_crypto_provider();
        let mut config = test_config(&db);
        edit(&mut config);
        let cert = config.tls.cert.clone();
        let clock = Arc::new(ManualClock::new(UnixMillis(1_790_000_000_000)));
        let context = Context::open_with(
            Arc::new(config),
            clock.clone() as Arc<dyn Clock>,
            Arc::new(SeededRng::new(42)),
        )
        .await
        .unwrap();
        let running = carepost_server::start(context).await.unwrap();
        TestServer {
            running: Arc::new(running),
            clock,
            cert,
            db: Arc::new(db),
        }
    }

    /// Another handle on the same server (a second browser).
    pub fn start_shared(other: &TestServer) -> TestServer {
        TestServer {
            running: other.running.clone(),
            clock: other.clock.clone(),
            cert: other.cert.clone(),
            db: other.db.clone(),
        }
    }
}
