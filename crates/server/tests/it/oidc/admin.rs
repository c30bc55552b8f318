//! Registering applications (API, console, CLI) and rotating signing keys.

use super::*;

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
        crate::support::grant_open_role(&s, &a, &carepost_identity::Role::ItAdmin, None).await;
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
        let (st, t) = redeem_refresh(
            &s,
            (&id, Some(&secret)),
            t["refresh_token"].as_str().unwrap(),
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
