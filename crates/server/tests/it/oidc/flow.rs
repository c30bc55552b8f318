//! The whole flow with independent relying parties, and autoconfig.

use super::*;

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
            include_str!("../oidc_authlib.py"),
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
