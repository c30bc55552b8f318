//! carepost as an OpenID Connect provider, driven by independent relying parties (the
//! `openidconnect` crate, python3's authlib) over the real HTTPS listener, signing in through
//! the real portal pages with an authenticator code (`flow`); the refusals a provider owes:
//! wrong redirect URIs, PKCE, replayed codes, expiry, restricted clients, step-up requests
//! (`refusals`); what ends grants and tokens (`grants`); and registering applications and
//! rotating keys (`admin`). This module holds what they share.

mod admin;
mod flow;
mod grants;
mod refusals;

use crate::auth::{GOOD, totp_code};
use crate::browser::{Browser, urlencode};
use crate::support::{admin, server_with_nurse};
use carepost_oidc::NewClient;
use carepost_testkit::{HttpResponse, TestServer, https_request};
use carepost_types::Clock;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

const CALLBACK: &str = "https://ehr.kaiser.org/callback";
const BYE: &str = "https://ehr.kaiser.org/signed-out";

type Reply = Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, std::io::Error>>>>;

/// The relying party's HTTP client: every request goes to the test server, whatever host the
/// issuer names (`https://localhost`).
fn http_client(s: &TestServer) -> impl Fn(openidconnect::HttpRequest) -> Reply {
    let addr = s.running.https.unwrap();
    let cert = s.cert.clone();
    move |req: openidconnect::HttpRequest| {
        let cert = cert.clone();
        Box::pin(async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into());
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                .collect();
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = String::from_utf8(req.body().clone()).unwrap();
            let body = (!body.is_empty() || req.method() == "POST").then_some(body.as_str());
            let r = https_request(addr, &cert, req.method().as_str(), &path, &headers, body).await;
            let mut res = http::Response::builder().status(r.status);
            for (k, v) in &r.headers {
                res = res.header(k, v);
            }
            Ok(res.body(r.body.into_bytes()).unwrap())
        }) as Reply
    }
}

/// Follows `path` (an authorization request) to where it sends the browser, allowing the
/// application on the consent page when one is shown (offline access, public clients).
async fn back_from(b: &mut Browser, path: &str) -> String {
    let r = b.get(path).await;
    if r.status == 200 && r.body.contains("action=\"/oauth2/authorize/consent\"") {
        return location(&answer_consent(b, path, "allow").await);
    }
    location(&r)
}

/// Posts the consent form for the authorization request `url` (a URL or a path) with
/// `decision` (`allow` or `deny`), as the page would.
async fn answer_consent(b: &mut Browser, url: &str, decision: &str) -> HttpResponse {
    let full = match url.strip_prefix('/') {
        Some(_) => format!("https://localhost{url}"),
        None => url.to_string(),
    };
    let fields: Vec<(String, String)> = url::Url::parse(&full)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain([("decision".to_string(), decision.to_string())])
        .collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post("/oauth2/authorize/consent", &fields).await
}

fn location(r: &HttpResponse) -> String {
    assert_eq!(
        r.status, 303,
        "expected a redirect: {} {}",
        r.status, r.body
    );
    r.header("location").unwrap().to_string()
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn now_unix(s: &TestServer) -> u64 {
    (s.clock.now().0 / 1000) as u64
}

/// A nurse with an authenticator app; returns (server, address, TOTP secret).
async fn nurse_with_totp(db: carepost_testkit::TestDb) -> (TestServer, String, String) {
    let (s, a) = server_with_nurse(db).await;
    let dir = &s.running.context.directory;
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let code = totp_code(&e.secret, now_unix(&s));
    dir.confirm_totp(id, &code).await.unwrap().unwrap();
    // The next code the test types must be a new one.
    s.clock.advance(Duration::from_secs(30));
    (s, a, e.secret)
}

pub(crate) async fn register(s: &TestServer, new: NewClient) -> (String, Option<String>) {
    let (info, secret) = s
        .running
        .context
        .oidc
        .register_client(&admin(), &new)
        .await
        .unwrap();
    (info.client_id, secret)
}

pub(crate) fn ehr() -> NewClient {
    NewClient {
        name: "EHR".into(),
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        confidential: true,
        extra_scopes: vec!["groups".into()],
        ..NewClient::default()
    }
}

/// Follows an authorization URL through the portal's sign-in (password, then the
/// authenticator's code when `totp` is given) to the redirect back to the client. A browser
/// signed in already goes straight back (single sign-on).
async fn sign_in_for(b: &mut Browser, url: &str, login: &str, totp: Option<&str>) -> String {
    let u = url::Url::parse(url).unwrap();
    let path = format!("{}?{}", u.path(), u.query().unwrap_or(""));
    let to_sign_in = back_from(b, &path).await;
    if !to_sign_in.starts_with('/') {
        return to_sign_in;
    }
    assert!(to_sign_in.starts_with("/sign-in?next="), "{to_sign_in}");
    let page = b.get(&to_sign_in).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let next = query_value(&format!("https://x{to_sign_in}"), "next").unwrap();
    assert!(page.body.contains("name=\"next\""), "{}", page.body);
    let r = b
        .post(
            "/sign-in",
            &[("login", login), ("password", GOOD), ("next", &next)],
        )
        .await;
    let mut to = location(&r);
    if let Some(secret) = totp {
        assert!(to.starts_with("/sign-in/verify?next="), "{to}");
        let page = b.get(&to).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let code = totp_code(secret, now_unix(&b.s));
        to = location(
            &b.post("/sign-in/verify", &[("code", &code), ("next", &next)])
                .await,
        );
    }
    assert_eq!(to, next);
    back_from(b, &to).await
}

fn chrono_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap()
}

async fn audit_actions(s: &TestServer) -> Vec<String> {
    use carepost_store::AuditRepo;
    let mut read = s.running.context.store.read().await.unwrap();
    read.list_audit(&carepost_store::AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn userinfo(s: &TestServer, token: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    https_request(
        s.running.https.unwrap(),
        &s.cert,
        "GET",
        "/oauth2/userinfo",
        &[("Authorization", &auth)],
        None,
    )
    .await
}

/// A form POST to a token-family endpoint with HTTP Basic client authentication.
pub(crate) async fn post_form(
    s: &TestServer,
    path: &str,
    client: (&str, Option<&str>),
    fields: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    use base64::Engine;
    let mut body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    let basic;
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    match client.1 {
        Some(secret) => {
            basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    urlencode(client.0),
                    urlencode(secret)
                ))
            );
            headers.push(("Authorization", &basic));
        }
        None => body.push(format!("client_id={}", urlencode(client.0))),
    }
    let body = body.join("&");
    let r = https_request(
        s.running.https.unwrap(),
        &s.cert,
        "POST",
        path,
        &headers,
        Some(&body),
    )
    .await;
    let json = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, json)
}

/// An authorization URL for `client` (S256 PKCE from `verifier`).
/// Redeems a refresh token at the token endpoint: the status and the JSON answer.
async fn redeem_refresh(
    s: &TestServer,
    client: (&str, Option<&str>),
    token: &str,
) -> (u16, serde_json::Value) {
    let fields = [("grant_type", "refresh_token"), ("refresh_token", token)];
    post_form(s, "/oauth2/token", client, &fields).await
}

fn authorize_url(client: &str, redirect: &str, scope: &str, verifier: &str, extra: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    format!(
        "https://localhost/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state=st&nonce=n1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        urlencode(client),
        urlencode(redirect),
        urlencode(scope)
    )
}

const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-0123456789";

/// Signs the nurse in for `client` and redeems the code: the token answer.
async fn tokens_for(
    b: &mut Browser,
    client: (&str, Option<&str>),
    nurse: &str,
    scope: &str,
) -> serde_json::Value {
    let url = authorize_url(client.0, CALLBACK, scope, VERIFIER, "");
    let back = sign_in_for(b, &url, nurse, None).await;
    let code = query_value(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let (status, t) = post_form(
        &b.s,
        "/oauth2/token",
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t}");
    t
}
