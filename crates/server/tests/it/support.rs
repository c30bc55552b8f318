//! Helpers shared by the integration tests.

use carepost_config::Config;
use carepost_identity::{Actor, Directory, NewAccount, PersonName};
use carepost_store::Store;
use carepost_testkit::{TestDb, test_config};
use carepost_types::{Clock, ManualClock, SeededRng, UnixMillis};
use std::sync::Arc;

pub const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

pub fn admin() -> Actor {
    Actor::local_cli("tester")
}

pub struct Env {
    /// Held so the database lives as long as the test.
    #[allow(dead_code)]
    pub db: TestDb,
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub dir: Directory,
}

impl Env {
    pub async fn new(db: TestDb) -> Env {
        let config = test_config(&db);
        Env::with_config(db, config).await
    }

    pub async fn with_config(db: TestDb, config: Config) -> Env {
        let config = Arc::new(config);
        let store = open_store(&config).await;
        let clock = Arc::new(ManualClock::new(UnixMillis(1_790_000_000_000)));
        let dir = Directory::new(
            store.clone(),
            config.clone(),
            clock.clone() as Arc<dyn Clock>,
            Arc::new(SeededRng::new(7)),
        )
        .unwrap();
        Env {
            db,
            config,
            store,
            clock,
            dir,
        }
    }

    /// Another `Directory` on its own connection pool: what a second process would have.
    pub async fn second_process(&self) -> Directory {
        let store = open_store(&self.config).await;
        Directory::new(
            store,
            self.config.clone(),
            self.clock.clone() as Arc<dyn Clock>,
            Arc::new(SeededRng::new(8)),
        )
        .unwrap()
    }

    pub async fn department(&self, name: &str, parent: Option<&str>) {
        self.dir
            .create_department(&admin(), name, parent)
            .await
            .unwrap();
    }

    pub async fn create(&self, first: &str, middle: Option<&str>, last: &str, id: &str) -> String {
        self.try_create(first, middle, last, id).await.unwrap()
    }

    /// Enrolls an authenticator app for `account`, so that the roles it holds are open.
    pub async fn with_second_factor(&self, account: carepost_types::AccountId) {
        let e = self.dir.begin_totp(account).await.unwrap();
        let code = crate::auth::totp_code(&e.secret, crate::auth::unix(self));
        self.dir.confirm_totp(account, &code).await.unwrap();
    }

    /// The actor of a role holder, with the second factor that opens its roles.
    pub async fn staff_actor(&self, account: carepost_types::AccountId, address: &str) -> Actor {
        self.with_second_factor(account).await;
        self.dir.actor_for(account, address, None).await.unwrap()
    }

    pub async fn try_create(
        &self,
        first: &str,
        middle: Option<&str>,
        last: &str,
        id: &str,
    ) -> Result<String, carepost_identity::IdentityError> {
        let new = new_account(first, middle, last, id, "Cardiology");
        self.dir
            .create_account(&admin(), &new)
            .await
            .map(|a| a.address)
    }
}

pub async fn open_store(config: &Config) -> Store {
    let key = carepost_audit::seal_key(&config.master_key);
    Store::open(&config.store.url, key).await.unwrap()
}

pub fn new_account(
    first: &str,
    middle: Option<&str>,
    last: &str,
    id: &str,
    department: &str,
) -> NewAccount {
    NewAccount {
        name: PersonName::new(first, middle, last, None).unwrap(),
        employee_id: id.to_string(),
        category: "clinician".to_string(),
        department: department.to_string(),
        supervisor: None,
    }
}

/// Runs `f` once per configured backend.
pub async fn on_each_backend(f: impl AsyncFn(&Env)) {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let env = Env::new(db).await;
        f(&env).await;
    }
}

/// A server with one nurse (no second factor required) in a new department Cardiology, whose
/// password is `auth::GOOD`: (server, address).
pub async fn server_with_nurse(db: TestDb) -> (carepost_testkit::TestServer, String) {
    let s = carepost_testkit::TestServer::start(db).await;
    let dir = &s.running.context.directory;
    dir.create_department(&admin(), "Cardiology", None)
        .await
        .unwrap();
    let mut new = new_account("Ann", None, "Lee", "E1", "Cardiology");
    new.category = "nurse".into();
    let a = dir.create_account(&admin(), &new).await.unwrap().address;
    dir.set_password(&admin(), &a, crate::auth::GOOD)
        .await
        .unwrap();
    (s, a)
}

/// A person in `dept` of `category` whose password is `auth::GOOD`; returns the address.
pub async fn add_person(
    dir: &Directory,
    (first, last, id): (&str, &str, &str),
    dept: &str,
    category: &str,
) -> String {
    let mut n = new_account(first, None, last, id, dept);
    n.category = category.into();
    let a = dir.create_account(&admin(), &n).await.unwrap().address;
    dir.set_password(&admin(), &a, crate::auth::GOOD)
        .await
        .unwrap();
    a
}

/// An API request made with an API token.
pub async fn with_token(
    s: &carepost_testkit::TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> carepost_testkit::HttpResponse {
    let bearer = format!("Bearer {token}");
    api_request(s, &[("Authorization", &bearer)], method, path, body).await
}

/// An API request made with a signed-in browser's cookies (`name=value; ...`).
pub async fn with_cookies(
    s: &carepost_testkit::TestServer,
    cookies: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> carepost_testkit::HttpResponse {
    let headers = [("Cookie", cookies), ("X-Carepost-Request", "1")];
    api_request(s, &headers, method, path, body).await
}

async fn api_request(
    s: &carepost_testkit::TestServer,
    auth: &[(&str, &str)],
    method: &str,
    path: &str,
    body: Option<&str>,
) -> carepost_testkit::HttpResponse {
    let mut headers = auth.to_vec();
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    carepost_testkit::https_request(
        s.running.https.unwrap(),
        &s.cert,
        method,
        path,
        &headers,
        body,
    )
    .await
}

/// Authenticator secrets of role holders that `grant_open_role` enrolled, by server and
/// address: the sign-in helpers (`Browser::sign_in`, the API's and the browser scripts') find
/// them there and answer the second step.
static FACTORS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<(usize, String), String>>,
> = std::sync::LazyLock::new(Default::default);

fn server_key(s: &carepost_testkit::TestServer) -> usize {
    Arc::as_ptr(&s.running) as usize
}

/// Grants `role` through the directory and gives its holder an authenticator app: a role
/// stays closed until its holder has a second factor (issue 17, point 5).
pub async fn grant_open_role(
    s: &carepost_testkit::TestServer,
    address: &str,
    role: &carepost_identity::Role,
    department: Option<&str>,
) {
    let dir = &s.running.context.directory;
    dir.grant_role(&admin(), address, role, department)
        .await
        .unwrap();
    give_factor(s, address).await;
}

/// Enrolls an authenticator app for `address` (once), kept for the sign-in helpers.
pub async fn give_factor(s: &carepost_testkit::TestServer, address: &str) {
    if factor_of(s, address).is_some() {
        return;
    }
    let dir = &s.running.context.directory;
    let id = dir.find_account(&admin(), address).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let code = crate::auth::totp_code(&e.secret, unix_of(s));
    dir.confirm_totp(id, &code).await.unwrap();
    FACTORS
        .lock()
        .unwrap()
        .insert((server_key(s), address.to_string()), e.secret);
}

/// The authenticator secret `grant_open_role` enrolled for `address` on this server.
pub fn factor_of(s: &carepost_testkit::TestServer, address: &str) -> Option<String> {
    FACTORS
        .lock()
        .unwrap()
        .get(&(server_key(s), address.to_string()))
        .cloned()
}

/// A fresh code for `secret`: the clock moves to the next 30-second step first, since each
/// code is accepted once.
pub fn next_code(s: &carepost_testkit::TestServer, secret: &str) -> String {
    s.clock.advance(std::time::Duration::from_secs(30));
    crate::auth::totp_code(secret, unix_of(s))
}

fn unix_of(s: &carepost_testkit::TestServer) -> u64 {
    (s.clock.now().0 / 1000) as u64
}
