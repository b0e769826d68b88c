use crate::helpers::{CONFIG, TestServer, client};

#[tokio::test]
async fn health_endpoints_answer_get_and_head_in_plain_text() {
    let server = TestServer::start(CONFIG).await;
    for (path, expected) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let (status, content_type, body) = server.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            content_type.starts_with("text/plain"),
            "{path}: {content_type}"
        );
        assert_eq!(body, expected, "{path}");
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
    assert_eq!(body, "not ready\n");
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
