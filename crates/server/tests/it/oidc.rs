//! carepost as an OpenID Connect provider, driven by an independent relying party (the
//! `openidconnect` crate) over the real HTTPS listener, signing in through the real portal
//! pages with an authenticator code; and the refusals a provider owes: wrong redirect URIs,
//! PKCE, replayed codes and refresh tokens, expiry, restricted clients, disabled accounts.

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
        let fields: Vec<(String, String)> = url::Url::parse(&format!("https://localhost{path}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .chain([("decision".to_string(), "allow".to_string())])
            .collect();
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        return location(&b.post("/oauth2/authorize/consent", &fields).await);
    }
    location(&r)
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

async fn register(s: &TestServer, new: NewClient) -> (String, Option<String>) {
    let (info, secret) = s
        .running
        .context
        .oidc
        .register_client(&admin(), &new)
        .await
        .unwrap();
    (info.client_id, secret)
}

fn ehr() -> NewClient {
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

#[tokio::test]
async fn a_relying_party_signs_in_with_the_code_flow_pkce_and_a_second_factor() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse, secret) = nurse_with_totp(db).await;
        let (client_id, client_secret) = register(&s, ehr()).await;
        let http = http_client(&s);
        let meta = CoreProviderMetadata::discover_async(
            IssuerUrl::new("https://localhost".into()).unwrap(),
            &http,
        )
        .await
        .unwrap();
        let rp = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(client_id.clone()),
            client_secret.map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("groups".into()))
            .set_pkce_challenge(challenge)
            .url();
        let mut b = Browser::new(TestServer::start_shared(&s));
        let back = sign_in_for(&mut b, url.as_str(), &nurse, Some(&secret)).await;
        assert!(back.starts_with(CALLBACK), "{back}");
        assert_eq!(
            query_value(&back, "state").as_deref(),
            Some(state.secret().as_str())
        );
        assert_eq!(
            query_value(&back, "iss").as_deref(),
            Some("https://localhost")
        );
        let code = query_value(&back, "code").unwrap();

        let tokens = rp
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .unwrap();
        let clock = s.clock.clone();
        let id_verifier = rp
            .id_token_verifier()
            .set_time_fn(move || chrono_time(clock.now().0));
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token.claims(&id_verifier, &nonce).unwrap();
        assert_eq!(claims.email().unwrap().as_str(), nurse);
        assert_eq!(claims.email_verified(), Some(true));
        assert_eq!(
            claims.preferred_username().unwrap().as_str(),
            nurse,
            "the address is the username"
        );
        assert_ne!(claims.subject().as_str(), nurse, "sub is opaque");
        let amr: Vec<String> = claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|m| m.as_str().to_string())
            .collect();
        assert!(
            amr.contains(&"otp".into()) && amr.contains(&"mfa".into()),
            "{amr:?}"
        );
        assert_eq!(
            claims.auth_context_ref().unwrap().as_str(),
            carepost_oidc::ACR_MFA
        );
        assert!(claims.auth_time().is_some());
        let at_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash));

        // Userinfo with the access token.
        let info: CoreUserInfoClaims = rp
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(info.subject(), claims.subject());
        assert_eq!(info.email().unwrap().as_str(), nurse);
        let raw = userinfo(&s, tokens.access_token().secret()).await;
        assert_eq!(raw.status, 200, "{}", raw.body);
        let raw: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
        assert_eq!(raw["department"], "Cardiology");
        assert_eq!(raw["role_category"], "nurse");
        assert_eq!(raw["groups"], serde_json::json!(["Cardiology"]));

        // Refresh: a new refresh token each time; the spent one, presented again, revokes
        // the whole grant.
        let first_refresh = tokens.refresh_token().unwrap().clone();
        let refreshed = rp
            .exchange_refresh_token(&first_refresh)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        let second_refresh = refreshed.refresh_token().unwrap().clone();
        assert_ne!(second_refresh.secret(), first_refresh.secret());
        let again = refreshed
            .id_token()
            .unwrap()
            .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
            .unwrap();
        assert_eq!(again.subject(), claims.subject());
        assert_eq!(
            userinfo(&s, refreshed.access_token().secret()).await.status,
            200
        );
        let reuse = rp
            .exchange_refresh_token(&first_refresh)
            .unwrap()
            .request_async(&http)
            .await;
        assert!(format!("{reuse:?}").contains("invalid_grant"), "{reuse:?}");
        let after = rp
            .exchange_refresh_token(&second_refresh)
            .unwrap()
            .request_async(&http)
            .await;
        assert!(after.is_err(), "the family is revoked");
        assert_eq!(
            userinfo(&s, refreshed.access_token().secret()).await.status,
            401
        );
        let events = audit_actions(&s).await;
        for a in [
            "oidc.code.issue",
            "oidc.token.issue",
            "oidc.token.revoke",
            "oidc.token.denied",
        ] {
            assert!(events.iter().any(|e| e == a), "{a} in {events:?}");
        }
    }
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
async fn post_form(
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

#[tokio::test]
async fn codes_redirects_and_pkce_are_checked() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let (id, secret) = register(&s, ehr()).await;
        let secret = secret.unwrap();
        let client = (id.as_str(), Some(secret.as_str()));
        let mut b = Browser::new(TestServer::start_shared(&s));

        // An unregistered redirect URI: the person is told; nothing goes to that URI.
        let url = authorize_url(&id, "https://evil.example/cb", "openid", VERIFIER, "");
        let r = b.get(url.trim_start_matches("https://localhost")).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.header("location").is_none());
        assert!(r.body.contains("not registered"), "{}", r.body);
        // An unknown client likewise.
        let url = authorize_url("nobody", CALLBACK, "openid", VERIFIER, "");
        assert_eq!(
            b.get(url.trim_start_matches("https://localhost"))
                .await
                .status,
            400
        );
        // prompt=none without a session: login_required, back to the client.
        let url = authorize_url(&id, CALLBACK, "openid", VERIFIER, "&prompt=none");
        let back = location(&b.get(url.trim_start_matches("https://localhost")).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("login_required")
        );
        assert_eq!(query_value(&back, "state").as_deref(), Some("st"));
        // An unknown scope: invalid_scope.
        let url = authorize_url(&id, CALLBACK, "openid payroll", VERIFIER, "");
        let back = location(&b.get(url.trim_start_matches("https://localhost")).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("invalid_scope")
        );

        // A good code, redeemed with the wrong verifier, then with none: refused.
        let url = authorize_url(&id, CALLBACK, "openid email", VERIFIER, "");
        let back = sign_in_for(&mut b, &url, &nurse, None).await;
        let code = query_value(&back, "code").unwrap();
        let redeem = |verifier: &'static str, code: String| {
            let s = TestServer::start_shared(&s);
            async move {
                let mut f = vec![
                    ("grant_type", "authorization_code".to_string()),
                    ("code", code),
                    ("redirect_uri", CALLBACK.to_string()),
                ];
                if !verifier.is_empty() {
                    f.push(("code_verifier", verifier.to_string()));
                }
                let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post_form(&s, "/oauth2/token", client, &f).await
            }
        };
        let wrong = "another-verifier-of-at-least-forty-three-characters-xyz";
        let (st, e) = redeem(wrong, code.clone()).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{e}"
        );
        let (st, e) = redeem("", code.clone()).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{e}"
        );
        // The right one works once; a replay is refused and revokes what the first gave.
        let (st, t) = redeem(VERIFIER, code.clone()).await;
        assert_eq!(st, 200, "{t}");
        let access = t["access_token"].as_str().unwrap().to_string();
        assert_eq!(userinfo(&s, &access).await.status, 200);
        let (st, e) = redeem(VERIFIER, code.clone()).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{e}"
        );
        assert_eq!(
            userinfo(&s, &access).await.status,
            401,
            "revoked by the replay"
        );
        // A wrong client secret.
        let (st, e) = post_form(
            &s,
            "/oauth2/token",
            (&id, Some("cps_wrong")),
            &[("grant_type", "refresh_token"), ("refresh_token", "cpr_x")],
        )
        .await;
        assert_eq!(
            (st, e["error"].as_str()),
            (401, Some("invalid_client")),
            "{e}"
        );

        // A code too old.
        let url = authorize_url(&id, CALLBACK, "openid", VERIFIER, "");
        let back = location(&b.get(url.trim_start_matches("https://localhost")).await);
        let code = query_value(&back, "code").unwrap();
        s.clock.advance(Duration::from_secs(120));
        let (st, e) = redeem(VERIFIER, code).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{e}"
        );

        // An access token past its lifetime.
        let t = tokens_for(&mut b, client, &nurse, "openid").await;
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(userinfo(&s, access).await.status, 200);
        s.clock.advance(Duration::from_secs(11 * 60));
        assert_eq!(userinfo(&s, access).await.status, 401);
    }
}

#[tokio::test]
async fn public_clients_need_pkce_and_restricted_clients_refuse_others() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let dir = &s.running.context.directory;
        dir.create_department(&admin(), "Radiology", None)
            .await
            .unwrap();
        let (app, none) = register(
            &s,
            NewClient {
                name: "Scheduling app".into(),
                redirect_uris: vec!["org.kaiser.scheduling:/cb".into()],
                ..NewClient::default()
            },
        )
        .await;
        assert!(none.is_none(), "a public client has no secret");
        let mut b = Browser::new(TestServer::start_shared(&s));
        let no_pkce = format!(
            "/oauth2/authorize?response_type=code&client_id={app}&redirect_uri={}&scope=openid&state=s",
            urlencode("org.kaiser.scheduling:/cb")
        );
        let back = location(&b.get(&no_pkce).await);
        assert!(back.starts_with("org.kaiser.scheduling:/cb?"), "{back}");
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("invalid_request")
        );
        // plain is refused too.
        let plain = format!("{no_pkce}&code_challenge={VERIFIER}&code_challenge_method=plain");
        let back = location(&b.get(&plain).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("invalid_request")
        );

        // A client for Radiology only: the Cardiology nurse is sent back with access_denied.
        let (rad, secret) = register(
            &s,
            NewClient {
                allowed_departments: vec!["Radiology".into()],
                ..ehr()
            },
        )
        .await;
        let url = authorize_url(&rad, CALLBACK, "openid", VERIFIER, "");
        let back = sign_in_for(&mut b, &url, &nurse, None).await;
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("access_denied"),
            "{back}"
        );
        let _ = secret;
        // A client for IT administrators only, likewise.
        let (it, _) = register(
            &s,
            NewClient {
                allowed_roles: vec!["it-admin".into()],
                ..ehr()
            },
        )
        .await;
        let url = authorize_url(&it, CALLBACK, "openid", VERIFIER, "");
        let back = location(&b.get(url.trim_start_matches("https://localhost")).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("access_denied"),
            "{back}"
        );
        // Posting the consent form straight away does not get round the restriction.
        let forged: Vec<(String, String)> = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .chain([("decision".to_string(), "allow".to_string())])
            .collect();
        let forged: Vec<(&str, &str)> = forged
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let back = location(&b.post("/oauth2/authorize/consent", &forged).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("access_denied"),
            "{back}"
        );
        assert!(query_value(&back, "code").is_none());

        // A public client is confirmed by the person every time, even when signed in; a silent
        // request gets consent_required.
        let app_url = |extra: &str| {
            authorize_url(&app, "org.kaiser.scheduling:/cb", "openid", VERIFIER, extra)
                .trim_start_matches("https://localhost")
                .to_string()
        };
        let r = b.get(&app_url("")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("Scheduling app"), "{}", r.body);
        let back = location(&b.get(&app_url("&prompt=none")).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("consent_required")
        );
        let allow: Vec<(String, String)> =
            url::Url::parse(&format!("https://localhost{}", app_url("")))
                .unwrap()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .chain([("decision".to_string(), "allow".to_string())])
                .collect();
        let allow: Vec<(&str, &str)> = allow
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let back = location(&b.post("/oauth2/authorize/consent", &allow).await);
        assert!(
            back.starts_with("org.kaiser.scheduling:/cb?code="),
            "{back}"
        );
        assert_eq!(
            b.get(&app_url("")).await.status,
            200,
            "asked again the next time"
        );
        let events = audit_actions(&s).await;
        assert!(events.iter().any(|e| e == "oidc.token.denied"));
    }
}

#[tokio::test]
async fn disabling_revoking_and_signing_out_stop_tokens_at_once() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let (id, secret) = register(&s, ehr()).await;
        let secret = secret.unwrap();
        let client = (id.as_str(), Some(secret.as_str()));
        let mut b = Browser::new(TestServer::start_shared(&s));
        let t = tokens_for(&mut b, client, &nurse, "openid email offline_access").await;
        let access = t["access_token"].as_str().unwrap().to_string();
        let refresh = t["refresh_token"].as_str().unwrap().to_string();

        // Introspection by a resource server (a confidential client).
        let (st, i) = post_form(&s, "/oauth2/introspect", client, &[("token", &access)]).await;
        assert_eq!(st, 200, "{i}");
        assert_eq!(i["active"], true);
        assert_eq!(i["username"], nurse.as_str());
        assert_eq!(i["client_id"], id.as_str());
        let (_, i) = post_form(&s, "/oauth2/introspect", client, &[("token", &refresh)]).await;
        assert_eq!(i["active"], true, "{i}");
        assert_eq!(i["token_type"], "refresh_token");

        // Revocation of the refresh token ends the grant: the access token too.
        let (st, _) = post_form(&s, "/oauth2/revoke", client, &[("token", &refresh)]).await;
        assert_eq!(st, 200);
        let (_, i) = post_form(&s, "/oauth2/introspect", client, &[("token", &access)]).await;
        assert_eq!(i, serde_json::json!({ "active": false }));
        let (st, e) = post_form(
            &s,
            "/oauth2/token",
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{e}"
        );
        // Revoking a token that is not the client's own says nothing and changes nothing.
        let (st, _) = post_form(&s, "/oauth2/revoke", client, &[("token", "nonsense")]).await;
        assert_eq!(st, 200);

        // A disabled account: its live tokens stop at once, and refresh refuses.
        let t = tokens_for(&mut b, client, &nurse, "openid email").await;
        let access = t["access_token"].as_str().unwrap().to_string();
        let refresh = t["refresh_token"].as_str().unwrap().to_string();
        s.running
            .context
            .directory
            .set_status(&admin(), &nurse, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap();
        let (_, i) = post_form(&s, "/oauth2/introspect", client, &[("token", &access)]).await;
        assert_eq!(i["active"], false, "{i}");
        assert_eq!(userinfo(&s, &access).await.status, 401);
        let (st, e) = post_form(
            &s,
            "/oauth2/token",
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{e}"
        );
        s.running
            .context
            .directory
            .set_status(&admin(), &nurse, carepost_identity::AccountStatus::Active)
            .await
            .unwrap();

        // RP-initiated logout with the ID token as hint: the portal session and the grants
        // made from it end; the person goes to the registered address with the state.
        let mut b = Browser::new(TestServer::start_shared(&s));
        let t = tokens_for(&mut b, client, &nurse, "openid").await;
        let id_token = t["id_token"].as_str().unwrap().to_string();
        let access = t["access_token"].as_str().unwrap().to_string();
        assert_eq!(b.get("/account").await.status, 200);
        let unregistered = format!(
            "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            urlencode("https://evil.example/")
        );
        assert_eq!(b.get(&unregistered).await.status, 400);
        let logout = format!(
            "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye1",
            urlencode(BYE)
        );
        let to = location(&b.get(&logout).await);
        assert_eq!(to, format!("{BYE}?state=bye1"));
        assert_eq!(userinfo(&s, &access).await.status, 401);
        let r = b.get("/account").await;
        assert_eq!(location(&r), "/sign-in");
        // A hint that does not verify (a key rotated out, or forged) counts as none, and a way
        // back that cannot be tied to a client is dropped: the person is asked, not refused.
        let mut b = Browser::new(TestServer::start_shared(&s));
        b.sign_in(&nurse).await;
        let forged = format!(
            "/oauth2/logout?id_token_hint=eyJhbGciOiJSUzI1NiJ9.e30.c2ln&post_logout_redirect_uri={}",
            urlencode(BYE)
        );
        let r = b.get(&forged).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("Sign out?"), "{}", r.body);
        // Without a hint, carepost asks first: a link elsewhere cannot sign anyone out.
        let mut b = Browser::new(TestServer::start_shared(&s));
        b.sign_in(&nurse).await;
        let r = b.get("/oauth2/logout").await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("Sign out?"), "{}", r.body);
        assert_eq!(b.get("/account").await.status, 200, "still signed in");
        let r = b.post("/oauth2/logout/confirm", &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(location(&b.get("/account").await), "/sign-in");
    }
}

#[tokio::test]
async fn services_use_client_credentials_and_consent_is_asked_once() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let (svc, secret) = register(
            &s,
            NewClient {
                name: "Pharmacy sync".into(),
                extra_scopes: vec!["pharmacy.read".into()],
                ..ehr()
            },
        )
        .await;
        let secret = secret.unwrap();
        let (st, t) = post_form(
            &s,
            "/oauth2/token",
            (&svc, Some(&secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(st, 200, "{t}");
        assert_eq!(t["scope"], "pharmacy.read");
        assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
        let access = t["access_token"].as_str().unwrap();
        let (_, i) = post_form(
            &s,
            "/oauth2/introspect",
            (&svc, Some(&secret)),
            &[("token", access)],
        )
        .await;
        assert_eq!(i["active"], true, "{i}");
        assert_eq!(i["sub"], svc.as_str());
        // A person's scopes cannot be had without a person.
        let (st, e) = post_form(
            &s,
            "/oauth2/token",
            (&svc, Some(&secret)),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "openid email"),
            ],
        )
        .await;
        assert_eq!(
            (st, e["error"].as_str()),
            (400, Some("invalid_scope")),
            "{e}"
        );

        // A third-party application: the person is asked once.
        let (app, app_secret) = register(
            &s,
            NewClient {
                name: "Conference app".into(),
                consent: true,
                ..ehr()
            },
        )
        .await;
        let mut b = Browser::new(TestServer::start_shared(&s));
        let url = authorize_url(&app, CALLBACK, "openid email", VERIFIER, "");
        let u = url.trim_start_matches("https://localhost");
        let to = location(&b.get(u).await);
        b.get(&to).await;
        let next = query_value(&format!("https://x{to}"), "next").unwrap();
        let r = b
            .post(
                "/sign-in",
                &[("login", &nurse), ("password", GOOD), ("next", &next)],
            )
            .await;
        let consent = b.get(&location(&r)).await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        assert!(
            consent.body.contains("Conference app") && consent.body.contains("your email address")
        );
        // Refusing sends access_denied back.
        let fields = |decision: &'static str| {
            let mut f: Vec<(String, String)> = url::Url::parse(&url)
                .unwrap()
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            f.push(("decision".into(), decision.into()));
            f
        };
        let deny = fields("deny");
        let deny: Vec<(&str, &str)> = deny.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let back = location(&b.post("/oauth2/authorize/consent", &deny).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("access_denied")
        );
        let allow = fields("allow");
        let allow: Vec<(&str, &str)> = allow
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let back = location(&b.post("/oauth2/authorize/consent", &allow).await);
        assert!(query_value(&back, "code").is_some(), "{back}");
        // The second time, no question.
        let back = location(&b.get(u).await);
        assert!(query_value(&back, "code").is_some(), "{back}");
        let _ = app_secret;
    }
}

/// authlib, an independent relying party in python3, through the whole flow (see the
/// script), and a mail app's token at IMAP and SMTP with XOAUTH2 and OAUTHBEARER.
#[tokio::test]
async fn authlib_signs_in_and_a_mail_app_reads_and_sends_with_its_token() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse, secret) = nurse_with_totp(db).await;
        let (id, client_secret) = register(&s, ehr()).await;
        let r = &s.running;
        let port = r.https.unwrap().port().to_string();
        let out = crate::smtp::python(
            include_str!("oidc_authlib.py"),
            &[
                &port,
                s.cert.to_str().unwrap(),
                &id,
                &client_secret.unwrap(),
                &nurse,
                GOOD,
                &secret,
                &now_unix(&s).to_string(),
                &r.imaps.unwrap().port().to_string(),
                &r.submissions.unwrap().port().to_string(),
            ],
        )
        .await;
        assert!(out.contains("all checks passed"), "{out}");
        let events = audit_actions(&s).await;
        assert!(events.iter().any(|e| e == "oidc.logout"), "{events:?}");
        // The mail app is on its owner's list, signed in with single sign-on.
        let dir = &s.running.context.directory;
        let account = dir.find_account(&admin(), &nurse).await.unwrap().id;
        let seen = dir.mail_clients(account).await.unwrap();
        for protocol in ["IMAP", "SMTP"] {
            assert!(
                seen.iter()
                    .any(|m| m.protocol == protocol && m.with == "single sign-on (Mail apps)"),
                "{seen:?}"
            );
        }
    }
}

/// IT registers applications through the API (with an API token) and the console; others
/// cannot; a removed application's tokens stop.
#[tokio::test]
async fn it_administrators_register_applications_through_the_api_and_the_console() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let dir = &s.running.context.directory;
        let day = Duration::from_secs(86_400);
        let (_, it) = dir
            .create_api_token(&admin(), "it", &[carepost_identity::Role::ItAdmin], day)
            .await
            .unwrap();
        let (_, helpdesk) = dir
            .create_api_token(&admin(), "hd", &[carepost_identity::Role::Helpdesk], day)
            .await
            .unwrap();
        let api =
            |token: String, method: &'static str, path: &'static str, body: Option<String>| {
                let s = TestServer::start_shared(&s);
                async move {
                    let bearer = format!("Bearer {token}");
                    https_request(
                        s.running.https.unwrap(),
                        &s.cert,
                        method,
                        path,
                        &[("Authorization", &bearer)],
                        body.as_deref(),
                    )
                    .await
                }
            };
        let body = format!(
            r#"{{"name":"Scheduling","redirect_uris":["{CALLBACK}"],"confidential":true,"departments":["Cardiology"],"require_mfa":false}}"#
        );
        let r = api(helpdesk.clone(), "POST", "/api/v1/apps", Some(body.clone())).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = api(it.clone(), "POST", "/api/v1/apps", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let created = r.json();
        let client_id = created["client_id"].as_str().unwrap().to_string();
        let secret = created["client_secret"].as_str().unwrap().to_string();
        assert_eq!(
            created["app"]["allowed_departments"],
            serde_json::json!(["Cardiology"])
        );
        let r = api(it.clone(), "GET", "/api/v1/apps", None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.body.contains(&client_id) && !r.body.contains(&secret),
            "{}",
            r.body
        );
        let bad =
            r#"{"name":"X","redirect_uris":["http://ehr.kaiser.org/cb"],"confidential":true}"#
                .to_string();
        let r = api(it.clone(), "POST", "/api/v1/apps", Some(bad)).await;
        assert_eq!(r.status, 400, "plain http: {}", r.body);

        // The application works, then is removed: its tokens stop.
        let mut b = Browser::new(TestServer::start_shared(&s));
        let t = tokens_for(&mut b, (&client_id, Some(&secret)), &nurse, "openid").await;
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(userinfo(&s, access).await.status, 200);
        let path: &'static str = Box::leak(format!("/api/v1/apps/{client_id}").into_boxed_str());
        let r = api(it.clone(), "DELETE", path, None).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(userinfo(&s, access).await.status, 401);

        // The console: an IT administrator registers one and sees its secret once.
        let a = crate::support::add_person(
            dir,
            ("Ida", "Admin", "IT1"),
            "Cardiology",
            "administrative",
        )
        .await;
        dir.grant_role(&admin(), &a, &carepost_identity::Role::ItAdmin, None)
            .await
            .unwrap();
        let mut b = Browser::new(TestServer::start_shared(&s));
        b.sign_in(&a).await;
        let page = b.get("/admin/apps").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("carepost-mail"),
            "the mail apps' client is listed"
        );
        let r = b
            .post(
                "/admin/apps",
                &[
                    ("name", "Rostering"),
                    ("redirect_uris", "https://roster.kaiser.org/cb"),
                    ("kind", "confidential"),
                    ("require_mfa", "on"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body.contains("id=\"new-client-secret\">cps_"),
            "{}",
            r.body
        );
        assert!(r.body.contains("two-factor only"));
        assert!(
            !b.get("/admin/apps")
                .await
                .body
                .contains("new-client-secret"),
            "shown once"
        );
        // A nurse has no console.
        let mut n = Browser::new(TestServer::start_shared(&s));
        n.sign_in(&nurse).await;
        assert_eq!(n.get("/admin/apps").await.status, 403);
    }
}

/// `carepost oidc client add|list|remove` and `carepost oidc rotate-keys`, through the binary.
#[test]
fn the_oidc_commands_work_end_to_end() {
    use crate::cli::{dev_data, fails, json, ok};
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let added = json(&[
        "--data",
        &data,
        "--json",
        "oidc",
        "client",
        "add",
        "--name",
        "EHR",
        "--redirect-uri",
        CALLBACK,
        "--confidential",
        "--require-mfa",
    ]);
    let id = added["client_id"].as_str().unwrap().to_string();
    assert!(added["client_secret"].as_str().unwrap().starts_with("cps_"));
    assert_eq!(added["client"]["require_mfa"], true);
    let public = ok(&[
        "--data",
        &data,
        "oidc",
        "client",
        "add",
        "--name",
        "Rota app",
        "--redirect-uri",
        "org.kaiser.rota:/cb",
        "--public",
    ]);
    assert!(
        public.contains("client_id:") && !public.contains("client_secret"),
        "{public}"
    );
    let list = ok(&["--data", &data, "oidc", "client", "list"]);
    assert!(
        list.contains(&id) && list.contains("carepost-mail") && list.contains("public"),
        "{list}"
    );
    let e = fails(&[
        "--data",
        &data,
        "oidc",
        "client",
        "add",
        "--name",
        "X",
        "--redirect-uri",
        "http://ehr.kaiser.org/cb",
        "--confidential",
    ]);
    assert!(e.contains("https"), "{e}");
    let e = fails(&[
        "--data",
        &data,
        "oidc",
        "client",
        "add",
        "--name",
        "X",
        "--redirect-uri",
        CALLBACK,
    ]);
    assert!(
        e.contains("--confidential") || e.contains("--public"),
        "{e}"
    );
    let keys = json(&["--data", &data, "--json", "oidc", "rotate-keys"]);
    assert_eq!(keys["new_keys"].as_array().unwrap().len(), 2);
    ok(&["--data", &data, "oidc", "client", "remove", &id]);
    assert!(!ok(&["--data", &data, "oidc", "client", "list"]).contains(&id));
    let e = fails(&["--data", &data, "oidc", "client", "remove", &id]);
    assert!(e.contains("no client"), "{e}");
}

/// A rotation: new keys sign, the old ones stay published (and verify) until the tokens they
/// signed have expired; private keys are sealed in the store.
#[tokio::test]
async fn key_rotation_keeps_old_keys_until_their_tokens_expire() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let (id, secret) = register(&s, ehr()).await;
        let secret = secret.unwrap();
        let mut b = Browser::new(TestServer::start_shared(&s));
        let t = tokens_for(&mut b, (&id, Some(&secret)), &nurse, "openid").await;
        let old_access = t["access_token"].as_str().unwrap().to_string();
        let kid = |jwt: &str| -> String {
            use base64::Engine;
            let head = jwt.split('.').next().unwrap();
            let head = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(head)
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&head).unwrap()["kid"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let jwks = |s: &TestServer| {
            let s = TestServer::start_shared(s);
            async move {
                let r = https_request(
                    s.running.https.unwrap(),
                    &s.cert,
                    "GET",
                    "/oauth2/jwks",
                    &[],
                    None,
                )
                .await;
                let v = r.json();
                v["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["kid"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(jwks(&s).await.len(), 2);
        let new = s.running.context.oidc.rotate_keys(&admin()).await.unwrap();
        let published = jwks(&s).await;
        assert_eq!(published.len(), 4, "{published:?}");
        assert_eq!(
            userinfo(&s, &old_access).await.status,
            200,
            "old tokens still verify"
        );
        let (st, t) = post_form(
            &s,
            "/oauth2/token",
            (&id, Some(&secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(st, 200, "{t}");
        assert!(
            new.contains(&kid(t["access_token"].as_str().unwrap())),
            "new keys sign"
        );
        assert!(new.contains(&kid(t["id_token"].as_str().unwrap())));
        s.clock.advance(Duration::from_secs(16 * 60));
        let published = jwks(&s).await;
        assert_eq!(published.len(), 2, "{published:?}");
        assert!(published.iter().all(|k| new.contains(k)));
        use carepost_store::OidcRepo;
        let rows = s
            .running
            .context
            .store
            .read()
            .await
            .unwrap()
            .list_oidc_keys()
            .await
            .unwrap();
        for r in rows {
            // Sealed: not a PKCS#8 document in base64 ("MI..." is a DER SEQUENCE).
            assert!(!r.private_key.starts_with("MI"), "{}", r.private_key);
        }
    }
}

/// prompt=login and max_age ask for a new sign-in; acr_values and clients that require a
/// second factor refuse a person without one (and say how to get one).
#[tokio::test]
async fn fresh_sign_ins_and_second_factors_are_asked_for_when_required() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let (id, _) = register(&s, ehr()).await;
        let mut b = Browser::new(TestServer::start_shared(&s));
        let url = authorize_url(&id, CALLBACK, "openid", VERIFIER, "");
        let back = sign_in_for(&mut b, &url, &nurse, None).await;
        assert!(query_value(&back, "code").is_some());
        for extra in ["&prompt=login", "&max_age=60"] {
            s.clock.advance(Duration::from_secs(120));
            let url = authorize_url(&id, CALLBACK, "openid", VERIFIER, extra);
            let to = location(&b.get(url.trim_start_matches("https://localhost")).await);
            assert!(to.starts_with("/sign-in?next="), "{extra}: {to}");
            // The way back leaves prompt=login out: the sign-in is the one about to happen.
            assert!(!to.contains("prompt%3Dlogin"), "{to}");
            let back = sign_in_for(&mut b, &url, &nurse, None).await;
            assert!(query_value(&back, "code").is_some(), "{extra}: {back}");
        }
        let url = authorize_url(&id, CALLBACK, "openid", VERIFIER, "&prompt=none&max_age=1");
        s.clock.advance(Duration::from_secs(5));
        let back = location(&b.get(url.trim_start_matches("https://localhost")).await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("login_required")
        );

        let step_up = format!("&acr_values={}", urlencode(carepost_oidc::ACR_MFA));
        let url = authorize_url(&id, CALLBACK, "openid", VERIFIER, &step_up);
        let r = b.get(url.trim_start_matches("https://localhost")).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("two-factor"), "{}", r.body);
        let (strict, _) = register(
            &s,
            NewClient {
                require_mfa: true,
                ..ehr()
            },
        )
        .await;
        let url = authorize_url(&strict, CALLBACK, "openid", VERIFIER, "");
        assert_eq!(
            b.get(url.trim_start_matches("https://localhost"))
                .await
                .status,
            403
        );
    }
}

#[tokio::test]
async fn autoconfig_announces_the_servers_and_oauth() {
    let (s, _) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    for path in [
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann.lee%40kaiser.org",
        "/mail/config-v1.1.xml?emailaddress=ann.lee%40kaiser.org",
    ] {
        let r = https_request(s.running.https.unwrap(), &s.cert, "GET", path, &[], None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/xml")
        );
        // The configured ports (the tests' listeners are configured with port 0).
        assert!(
            r.body.contains("<incomingServer type=\"imap\">"),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("<socketType>SSL</socketType>"),
            "{}",
            r.body
        );
        assert!(r.body.contains("<authentication>OAuth2</authentication>"));
        assert!(r.body.contains("<clientID>carepost-mail</clientID>"));
        assert!(
            r.body
                .contains("<tokenURL>https://localhost/oauth2/token</tokenURL>")
        );
    }
    let r = https_request(
        s.running.https.unwrap(),
        &s.cert,
        "GET",
        "/mail/config-v1.1.xml?emailaddress=someone%40gmail.com",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 404);
}

/// The owner sees the applications signed in with the account and signs one out (a lost
/// phone's mail app); its tokens stop. Someone else's grant cannot be touched.
#[tokio::test]
async fn the_owner_signs_an_application_out_from_the_account_page() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, nurse) = server_with_nurse(db).await;
        let (id, secret) = register(&s, ehr()).await;
        let secret = secret.unwrap();
        let mut b = Browser::new(TestServer::start_shared(&s));
        let t = tokens_for(
            &mut b,
            (&id, Some(&secret)),
            &nurse,
            "openid offline_access",
        )
        .await;
        let (st, t) = post_form(
            &s,
            "/oauth2/token",
            (&id, Some(&secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(st, 200, "{t}");
        let access = t["access_token"].as_str().unwrap().to_string();
        let page = b.get("/account").await;
        assert!(
            page.body
                .contains("Applications signed in with your account")
        );
        assert!(
            page.body.contains(" from 127.0.0.1"),
            "the refresh is its last use: {}",
            page.body
        );
        let grant: String = page
            .body
            .split("action=\"/account/apps/")
            .nth(1)
            .expect("the EHR is listed")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        assert!(page.body.contains(">EHR<"), "{}", page.body);
        // Another person cannot sign it out.
        let other = crate::support::add_person(
            &s.running.context.directory,
            ("Bob", "Ray", "E2"),
            "Cardiology",
            "nurse",
        )
        .await;
        let mut o = Browser::new(TestServer::start_shared(&s));
        o.sign_in(&other).await;
        o.post(&format!("/account/apps/{grant}/sign-out"), &[])
            .await;
        assert_eq!(userinfo(&s, &access).await.status, 200);
        // Signing out of the portal keeps a grant given offline access (a mail app goes on);
        // the owner signs it out from the list.
        b.post("/sign-out", &[]).await;
        assert_eq!(userinfo(&s, &access).await.status, 200);
        b.sign_in(&nurse).await;
        let r = b
            .post(&format!("/account/apps/{grant}/sign-out"), &[])
            .await;
        assert_eq!(location(&r), "/account?notice=app-signed-out");
        assert_eq!(userinfo(&s, &access).await.status, 401);
        let page = b.get("/account").await;
        assert!(page.body.contains("id=\"no-apps\""));
        assert!(
            page.body.contains("signed out by its owner"),
            "why it stopped: {}",
            page.body
        );
        // A session ended from elsewhere (a stolen cookie's?) takes its offline grants along.
        let mut thief = Browser::new(TestServer::start_shared(&s));
        let t = tokens_for(
            &mut thief,
            (&id, Some(&secret)),
            &nurse,
            "openid offline_access",
        )
        .await;
        let stolen = t["access_token"].as_str().unwrap().to_string();
        let page = b.get("/account").await;
        let other_session: String = page
            .body
            .split("action=\"/account/sessions/")
            .nth(1)
            .expect("the other session is listed")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        b.post(&format!("/account/sessions/{other_session}/end"), &[])
            .await;
        assert_eq!(userinfo(&s, &stolen).await.status, 401);
    }
}

/// A silent request (prompt=none) answers whether someone is signed in without keeping an
/// idle workstation's session open.
#[tokio::test]
async fn silent_requests_do_not_keep_an_idle_session_alive() {
    let (s, nurse) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let (id, _) = register(&s, ehr()).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    b.sign_in(&nurse).await;
    let silent = authorize_url(&id, CALLBACK, "openid", VERIFIER, "&prompt=none");
    let silent = silent.trim_start_matches("https://localhost");
    for _ in 0..2 {
        s.clock.advance(Duration::from_secs(10 * 60));
        let back = location(&b.get(silent).await);
        if query_value(&back, "code").is_none() {
            // The second time, 20 minutes after the last activity: past the 15-minute idle
            // timeout, signed out.
            assert_eq!(
                query_value(&back, "error").as_deref(),
                Some("login_required")
            );
            return;
        }
    }
    panic!("silent requests kept the session alive");
}
