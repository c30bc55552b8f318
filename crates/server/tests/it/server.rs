//! The in-process server on port 0, over its real HTTPS listener.

use carepost_testkit::{TestDb, TestServer, https_get};

/// A plain HTTP/1.1 GET (the metrics listener speaks no TLS): the status and the whole text.
pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn probes_answer_over_https_and_metrics_only_on_their_own_listener() {
    for db in carepost_testkit::backends().await {
        let s = TestServer::start(db).await;
        let addr = s.running.https.unwrap();
        let (status, body) = https_get(addr, "/healthz", &s.cert).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#"{"status":"ok"}"#));
        let (status, body) = https_get(addr, "/readyz", &s.cert).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.to_lowercase().contains("strict-transport-security"),
            "{body}"
        );
        // Metrics are not on the public listener...
        let (status, _) = https_get(addr, "/metrics", &s.cert).await;
        assert_eq!(status, 404);
        // ...but on their own, which the config keeps on this machine.
        let (status, body) = http_get(s.running.metrics.unwrap(), "/metrics").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("carepost_http_requests_total"), "{body}");
        let (status, body) = https_get(addr, "/no/such/page", &s.cert).await;
        assert_eq!(status, 404);
        assert!(body.contains(r#""error":"not_found""#), "{body}");
        std::sync::Arc::try_unwrap(s.running)
            .unwrap()
            .shutdown()
            .await;
    }
}

#[tokio::test]
async fn readiness_fails_when_the_store_is_gone() {
    let s = TestServer::start(TestDb::sqlite()).await;
    s.running.context.store.close().await;
    let (status, body) = https_get(s.running.https.unwrap(), "/readyz", &s.cert).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store_unavailable"), "{body}");
}

#[tokio::test]
async fn the_first_start_creates_the_administrator_and_later_starts_do_not() {
    let s = TestServer::start(TestDb::sqlite()).await;
    let admin = s.running.first_admin.clone().unwrap();
    assert_eq!(admin.address.to_string(), "administrator@kaiser.org");
    let db = {
        let TestServer { running, db, .. } = s;
        std::sync::Arc::try_unwrap(running)
            .unwrap()
            .shutdown()
            .await;
        std::sync::Arc::try_unwrap(db).unwrap()
    };
    let again = TestServer::start(db).await;
    assert!(again.running.first_admin.is_none());
}
