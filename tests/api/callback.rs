use crate::helpers::{CONFIG, TestServer, client};

const SAMPLE_BODY: &str = r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":300,"Flv":120,"M3U8":180},"Format":["mp4","flv"]}"#;

#[tokio::test]
async fn callback_without_parameters_gets_the_default_decision() {
    let server = TestServer::start(CONFIG).await;
    let (status, content_type, body) = server.get("/").await;
    assert_eq!(status, 200, "a bare callback is answered");
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"ApiVersion":"1.0","NeedRecord":false}"#);
}

#[tokio::test]
async fn the_documented_sample_request_gets_the_documented_sample_body() {
    let server = TestServer::start(CONFIG).await;
    let (status, _, body) = server.get("/?app=seq_all&").await;
    assert_eq!(status, 200);
    assert_eq!(body, SAMPLE_BODY, "byte for byte");
}

#[tokio::test]
async fn each_shape_of_answer_comes_back_exactly() {
    let server = TestServer::start(CONFIG).await;
    let cases = [
        (
            "/?domain=live.example.com&app=edu&stream=course-7&codec=h265&vbitrate=2500",
            r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":3600,"M3U8":600},"Format":["mp4","m3u8"]}"#,
        ),
        (
            "/?domain=live.example.com&app=edu&stream=test-7&codec=h265&vbitrate=2500",
            r#"{"ApiVersion":"1.0","NeedRecord":false}"#,
        ),
        (
            "/?domain=live.example.com&app=edu&stream=course-7&codec=h265&vbitrate=1999",
            r#"{"ApiVersion":"1.0","NeedRecord":false}"#,
        ),
    ];
    for (path, expected) in cases {
        let (status, _, body) = server.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, expected, "{path}");
    }
}

#[tokio::test]
async fn odd_but_readable_parameters_still_get_a_decision() {
    let server = TestServer::start(CONFIG).await;
    let paths = [
        "/?&&&",
        "/?stream=%zz&app=%ff%fe",
        "/?vbitrate=-5&codec=AV1",
        "/?stream=a&stream=b&unknown=1",
        "/?domain=&app=&stream=&codec=&vbitrate=",
        "/?=",
        "/?app=seq_all%00",
    ];
    for path in paths {
        let (status, content_type, body) = server.get(path).await;
        assert_eq!(status, 200, "{path} must be answered");
        assert_eq!(content_type, "application/json", "{path}");
        assert!(
            body.starts_with(r#"{"ApiVersion":"1.0","NeedRecord":"#),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn head_gets_the_headers_without_a_body() {
    let server = TestServer::start(CONFIG).await;
    let response = client()
        .head(server.url("/?app=seq_all"))
        .send()
        .await
        .expect("HEAD answered");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "HEAD carries the content type"
    );
    assert!(
        response.bytes().await.expect("body").is_empty(),
        "no body on HEAD"
    );
}

#[tokio::test]
async fn a_query_of_2048_characters_is_answered_and_2049_is_refused() {
    let server = TestServer::start(CONFIG).await;
    let query = |len: usize| {
        let prefix = "app=seq_all&stream=";
        format!("/?{prefix}{}", "x".repeat(len - prefix.len()))
    };
    let (status, _, body) = server.get(&query(2048)).await;
    assert_eq!(status, 200, "2,048 characters is within the cap");
    assert_eq!(body, SAMPLE_BODY);

    let (status, content_type, body) = server.get(&query(2049)).await;
    assert_eq!(status, 414, "2,049 characters is over the cap");
    assert_eq!(content_type, "application/json");
    assert!(body.contains(r#""error":"query_too_long""#), "{body}");
}

#[tokio::test]
async fn other_methods_on_the_callback_path_get_405() {
    let server = TestServer::start(CONFIG).await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = client()
            .request(method.clone(), server.url("/?app=seq_all"))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "GET, HEAD", "{method}");
        let body = response.text().await.expect("body");
        assert!(
            body.contains(r#""error":"method_not_allowed""#),
            "{method}: {body}"
        );
    }
}

#[tokio::test]
async fn a_custom_callback_path_serves_there_and_nowhere_else() {
    let config = format!("[server]\ncallback_path = \"/hooks/record\"\n{CONFIG}");
    let server = TestServer::start(&config).await;
    let (status, _, body) = server.get("/hooks/record?app=seq_all").await;
    assert_eq!(status, 200);
    assert_eq!(body, SAMPLE_BODY);
    let (status, content_type, body) = server.get("/?app=seq_all").await;
    assert_eq!(status, 404, "the root is no longer the callback");
    assert_eq!(content_type, "application/json");
    assert!(body.contains(r#""error":"not_found""#), "{body}");
}
