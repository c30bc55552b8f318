//! `cargo bench -p carepost-server --bench token`: token endpoint requests per second over
//! HTTPS with keep-alive connections, for client credentials and for refresh (each refresh
//! spends a refresh token and makes the next, checks the account, signs an ES256 access token
//! and an RS256 ID token, and writes its audit event), on SQLite and, when
//! `CAREPOST_TEST_POSTGRES_URL` is set, on PostgreSQL. The baseline, measured in the same run
//! on the same connections: `GET /healthz` (TLS, HTTP and routing, nothing else). Keycloak's
//! published sizing is about 120 such token requests per second per vCPU.
//!
//! Arguments: requests per connection (default 300) and connections (default 8).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // A benchmark measures wall-clock durations.

use carepost_identity::Actor;
use carepost_oidc::{AuthorizationRequest, Decision, NewClient, SignedInSession};
use carepost_testkit::{TestDb, TestServer, tls_connect};
use carepost_types::Clock;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use std::time::Instant;

const CALLBACK: &str = "https://bench.kaiser.org/cb";

async fn connect(s: &TestServer) -> SendRequest<Full<Bytes>> {
    let tls = tls_connect(s.running.https.unwrap(), &s.cert).await;
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

async fn call(
    send: &mut SendRequest<Full<Bytes>>,
    path: &str,
    form: Option<&str>,
) -> (u16, String) {
    let mut req = hyper::Request::builder()
        .uri(path)
        .header("host", "localhost");
    let body = match form {
        Some(f) => {
            req = req
                .method("POST")
                .header("content-type", "application/x-www-form-urlencoded");
            Full::new(Bytes::from(f.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    send.ready().await.unwrap();
    let res = send.send_request(req.body(body).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn field(json: &str, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {json}"))
        .to_string()
}

type Next = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Runs `per_conn` requests on each of `conns` connections; requests per second. `next`
/// makes each request's form from the previous answer (`None` for a GET of `path`).
async fn run(
    s: &TestServer,
    conns: usize,
    per_conn: usize,
    path: &'static str,
    starts: Vec<Option<String>>,
    next: Next,
) -> f64 {
    let mut senders = Vec::new();
    for _ in 0..conns {
        senders.push(connect(s).await);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (mut send, mut form) in senders.into_iter().zip(starts) {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_conn {
                let (status, body) = call(&mut send, path, form.as_deref()).await;
                assert_eq!(status, 200, "{body}");
                if form.is_some() {
                    form = next(&body);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (conns * per_conn) as f64 / start.elapsed().as_secs_f64()
}

/// A refresh token for the nurse, from a code the provider issues for a session.
async fn refresh_token(
    s: &TestServer,
    client: &str,
    secret: &str,
    account: &SignedInSession,
) -> String {
    let oidc = &s.running.context.oidc;
    let req = AuthorizationRequest {
        client_id: Some(client.into()),
        redirect_uri: Some(CALLBACK.into()),
        response_type: Some("code".into()),
        scope: Some("openid email profile".into()),
        nonce: Some("bench".into()),
        ..AuthorizationRequest::default()
    };
    let v = oidc.validate_authorization(&req).await.unwrap();
    let Decision::Redirect(to) = oidc.decide(&v, Some(account)).await.unwrap() else {
        panic!("no code")
    };
    let code = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let mut send = connect(s).await;
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&client_id={client}&client_secret={secret}",
        url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let (status, body) = call(&mut send, "/oauth2/token", Some(&form)).await;
    assert_eq!(status, 200, "{body}");
    field(&body, "refresh_token")
}

async fn bench(db: TestDb, conns: usize, per_conn: usize) {
    let backend = db.backend;
    let s = TestServer::start(db).await;
    let ctx = &s.running.context;
    let admin = Actor::local_cli("bench");
    ctx.directory
        .create_department(&admin, "Cardiology", None)
        .await
        .unwrap();
    let new = carepost_identity::NewAccount {
        name: carepost_identity::PersonName::new("Ann", None, "Lee", None).unwrap(),
        employee_id: "E1".into(),
        category: "nurse".into(),
        department: "Cardiology".into(),
        supervisor: None,
    };
    let nurse = ctx.directory.create_account(&admin, &new).await.unwrap();
    let (client, secret) = ctx
        .oidc
        .register_client(
            &admin,
            &NewClient {
                name: "Bench".into(),
                redirect_uris: vec![CALLBACK.into()],
                confidential: true,
                extra_scopes: vec!["bench.read".into()],
                ..NewClient::default()
            },
        )
        .await
        .unwrap();
    let (client, secret) = (client.client_id, secret.unwrap());
    let session = SignedInSession {
        id: 0,
        account: nurse.id,
        address: nurse.address.clone(),
        amr: vec!["pwd".into()],
        auth_time: s.clock.now(),
    };

    let none: Next = std::sync::Arc::new(|_| None);
    let baseline = run(&s, conns, per_conn, "/healthz", vec![None; conns], none).await;
    let auth = format!("client_id={client}&client_secret={secret}");
    let cc_form = format!("grant_type=client_credentials&{auth}");
    // A client-credentials answer has no refresh token: the same form again.
    let same: Next = {
        let f = cc_form.clone();
        std::sync::Arc::new(move |_| Some(f.clone()))
    };
    let cc = run(
        &s,
        conns,
        per_conn,
        "/oauth2/token",
        vec![Some(cc_form); conns],
        same,
    )
    .await;
    let mut starts = Vec::new();
    for _ in 0..conns {
        let rt = refresh_token(&s, &client, &secret, &session).await;
        starts.push(Some(format!(
            "grant_type=refresh_token&refresh_token={rt}&client_id={client}&client_secret={secret}"
        )));
    }
    // Each answer's refresh token makes the next request (rotation).
    let rotate: Next = std::sync::Arc::new(move |body| {
        let rt = field(body, "refresh_token");
        Some(format!(
            "grant_type=refresh_token&refresh_token={rt}&{auth}"
        ))
    });
    let refresh = run(&s, conns, per_conn, "/oauth2/token", starts, rotate).await;
    let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "token endpoint on {backend}, {conns} connections x {per_conn} requests, {vcpus} vCPUs:"
    );
    println!("  baseline GET /healthz      {baseline:>8.0} req/s");
    println!(
        "  client_credentials         {cc:>8.0} req/s  ({:.2} of baseline, {:.1}x Keycloak's 120/s/vCPU sizing)",
        cc / baseline,
        cc / (120.0 * vcpus)
    );
    println!(
        "  refresh_token (rotating)   {refresh:>8.0} req/s  ({:.2} of baseline, {:.1}x Keycloak's 120/s/vCPU sizing)",
        refresh / baseline,
        refresh / (120.0 * vcpus)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let per_conn = args.first().and_then(|a| a.parse().ok()).unwrap_or(300);
    let conns = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    for db in carepost_testkit::backends().await {
        bench(db, conns, per_conn).await;
    }
}
