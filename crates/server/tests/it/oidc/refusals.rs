//! What a provider refuses: bad redirects, PKCE, replays, expiry, restricted clients; and when it asks for a fresh sign-in.

use super::*;

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
        let (st, e) = redeem_refresh(&s, (&id, Some("cps_wrong")), "cpr_x").await;
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
        let back = location(&answer_consent(&mut b, &url, "allow").await);
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
        let back = location(&answer_consent(&mut b, &app_url(""), "allow").await);
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
