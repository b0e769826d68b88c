use crate::helpers::{CONFIG, TestServer, client};

#[tokio::test]
async fn health_endpoints_answer_get_and_head() {
    let server = TestServer::start(CONFIG).await;
    let (status, content_type, body) = server.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body, "ok\n");
    let (status, content_type, body) = server.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["overrides"]["store"], "sqlite");
    assert_eq!(ready["overrides"]["up"], true);
    assert_eq!(ready["overrides"]["loaded"], 0);
    assert!(ready["overrides"]["last_sync"].is_string(), "{body}");
    for path in ["/healthz", "/readyz"] {
        let head = client().head(server.url(path)).send().await.expect("HEAD");
        assert_eq!(head.status().as_u16(), 200, "HEAD {path}");
    }
}

#[tokio::test]
async fn readiness_fails_when_the_server_is_marked_not_ready() {
    let server = TestServer::start(CONFIG).await;
    server.state.set_ready(false);
    let (status, _, body) = server.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains(r#""status":"not ready""#), "{body}");
    let (status, _, _) = server.get("/healthz").await;
    assert_eq!(status, 200, "liveness does not depend on readiness");
}

#[tokio::test]
async fn health_endpoints_refuse_other_methods() {
    let server = TestServer::start(CONFIG).await;
    let response = client()
        .post(server.url("/healthz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 405);
}
