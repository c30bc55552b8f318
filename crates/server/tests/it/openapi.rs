//! The API's OpenAPI document, and schemathesis (an independent property-based tester, from
//! PyPI) generating requests from it against the running server: no answer may be a 5xx, and
//! every answer must match the document (status, content type, body). schemathesis is
//! installed by `scripts/install-test-deps`; without it the second test says SKIPPED.

use carepost_identity::Role;
use carepost_testkit::{TestDb, TestServer, https_request};

#[tokio::test]
async fn the_document_is_served_and_lists_every_operation() {
    let s = TestServer::start(TestDb::sqlite()).await;
    let r = https_request(
        s.running.https.unwrap(),
        &s.cert,
        "GET",
        "/api/v1/openapi.json",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/auth/sign-in",
        "/me/passkeys/{id}",
        "/accounts/{address}/reset-mfa",
        "/import",
        "/apps/{client_id}",
        "/policies/{section}",
        "/resources/{address}/bookings/{id}/approve",
        "/me/calendar-sharing/delegating/{address}",
        "/me/calendar/events/{calendar}/{object}",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    let operations: usize = paths.values().map(|m| m.as_object().unwrap().len()).sum();
    assert_eq!(operations, 95);
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    // Every JSON answer is described by a named schema (only the policy document, whose
    // sections are the config file's, is a plain object).
    let mut loose = Vec::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            for (code, r) in op["responses"].as_object().unwrap() {
                let schema = &r["content"]["application/json"]["schema"];
                let named = schema.get("$ref").is_some() || schema["items"].get("$ref").is_some();
                if code.starts_with('2') && !schema.is_null() && !named {
                    loose.push(format!("{method} {path} {code}"));
                }
            }
        }
    }
    assert_eq!(loose, ["get /policy 200"]);
    let sign_in = &doc["components"]["schemas"]["SignInAnswer"]["oneOf"];
    assert_eq!(sign_in.as_array().map(Vec::len), Some(2), "{sign_in}");
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let found = std::process::Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: schemathesis missing; run scripts/install-test-deps");
        return;
    }
    let s = TestServer::start(TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    let cli = carepost_identity::Actor::local_cli("tester");
    let (_, token) = dir
        .create_api_token(
            &cli,
            "schemathesis",
            &[Role::ItAdmin, Role::Helpdesk, Role::SecurityOfficer],
            std::time::Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    let base = format!(
        "https://localhost:{}/api/v1",
        s.running.https.unwrap().port()
    );
    let out = tokio::process::Command::new("schemathesis")
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args(["--tls-verify=false", "--max-examples", "15", "--seed", "1", "--workers", "2"])
        .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "X-Carepost-Request: 1"])
        .args([
            "-c",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The self-service operations, as a signed-in nurse (the session cookie of a sign-in).
    let (s2, nurse) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let body = format!(
        r#"{{"login":"{nurse}","password":"{}"}}"#,
        crate::auth::GOOD
    );
    let r = https_request(
        s2.running.https.unwrap(),
        &s2.cert,
        "POST",
        "/api/v1/auth/sign-in",
        &[("X-Carepost-Request", "1")],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-carepost-session="))
        .expect("signed in");
    let base = format!(
        "https://localhost:{}/api/v1",
        s2.running.https.unwrap().port()
    );
    let out = tokio::process::Command::new("schemathesis")
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args(["--tls-verify=false", "--max-examples", "10", "--seed", "2", "--workers", "1"])
        .args(["--include-path-regex", "^/me"])
        // Ending a session by id could end this one, and every later answer would be 401.
        .args(["--exclude-path-regex", "^/me/sessions/"])
        .args(["-H", &format!("Cookie: {cookie}"), "-H", "X-Carepost-Request: 1"])
        .args([
            "-c",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Some operations answer only 401 to a fuzzer (they ask for the password again); the
    // session itself must have worked.
    assert!(
        !text.lines().any(|l| l.trim() == "- GET /me"),
        "the session reached the operations: {text}"
    );
}
