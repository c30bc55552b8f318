//! What ends grants and their tokens: revocation, disabling, logout, the owner; client credentials and consent.

use super::*;

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
        let (st, e) = redeem_refresh(&s, client, &refresh).await;
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
        let (st, e) = redeem_refresh(&s, client, &refresh).await;
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
        let back = location(&answer_consent(&mut b, &url, "deny").await);
        assert_eq!(
            query_value(&back, "error").as_deref(),
            Some("access_denied")
        );
        let back = location(&answer_consent(&mut b, &url, "allow").await);
        assert!(query_value(&back, "code").is_some(), "{back}");
        // The second time, no question.
        let back = location(&b.get(u).await);
        assert!(query_value(&back, "code").is_some(), "{back}");
        let _ = app_secret;
    }
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
        let (st, t) = redeem_refresh(
            &s,
            (&id, Some(&secret)),
            t["refresh_token"].as_str().unwrap(),
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
