//! Runtime overrides on the default SQLite store: the admin API, precedence, expiry,
//! authentication and validation. `override_store` covers durability, replicas and the
//! CLI.

use crate::helpers::{CONFIG, TestServer, client, config_file};
use recgate::config::Config;
use recgate::server::{StartOptions, start};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

pub const TOKEN: &str = "s3cret-admin-token-for-tests";

/// `CONFIG` with an admin token read from a file in `dir`.
pub fn config_with_token(dir: &tempfile::TempDir, extra: &str) -> String {
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token written");
    format!(
        "[admin]\ntoken_file = {:?}\n{extra}\n{CONFIG}",
        token_file.display().to_string()
    )
}

/// PUT /overrides with the token; returns status and JSON body.
pub async fn put(admin: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .put(format!("{admin}/overrides"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("PUT answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `method` /overrides?query with the token; returns status and JSON body.
pub async fn call(method: reqwest::Method, admin: &str, query: &str) -> (u16, Value) {
    let response = client()
        .request(method, format!("{admin}/overrides?{query}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An SQLite store `name` in `dir` and the `[overrides]` section that uses it, with a
/// resync too rare to happen during a test: only what a test does reaches the snapshot.
pub fn own_store(dir: &tempfile::TempDir, name: &str) -> (std::path::PathBuf, String) {
    let store = dir.path().join(name);
    let extra = format!(
        "[overrides]\nstore = \"sqlite:{}\"\nresync_interval = \"1h\"\n",
        store.display()
    );
    (store, extra)
}

pub const SAMPLE_QUERY: &str =
    "/?domain=d.example.com&app=seq_all&stream=s1&codec=h264&vbitrate=500";
pub const SAMPLE_BODY: &str = r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":300,"Flv":120,"M3U8":180},"Format":["mp4","flv"]}"#;

#[tokio::test]
async fn overrides_are_created_replaced_listed_and_deleted() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(&config_with_token(&dir, "")).await;
    let admin = server.admin_url("");
    assert_eq!(
        server.get(SAMPLE_QUERY).await.2,
        SAMPLE_BODY,
        "the rule first"
    );

    let (status, stored) = put(
        &admin,
        &json!({"stream": "s1", "record": false, "reason": "consent withdrawn"}),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["stream"], "s1");
    assert_eq!(stored["domain"], Value::Null);
    assert_eq!(stored["reason"], "consent withdrawn");
    assert_eq!(
        stored["response"],
        json!({"ApiVersion": "1.0", "NeedRecord": false})
    );
    assert!(stored["created_at"].is_string());
    assert_eq!(
        server.get(SAMPLE_QUERY).await.2,
        r#"{"ApiVersion":"1.0","NeedRecord":false}"#
    );

    let (status, replaced) = put(
        &admin,
        &json!({"stream": "s1", "record": true, "formats": ["m3u8"], "interval": {"m3u8": 600}}),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        server.get(SAMPLE_QUERY).await.2,
        r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"M3U8":600},"Format":["m3u8"]}"#
    );
    let (status, listed) = call(reqwest::Method::GET, &admin, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["overrides"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["overrides"][0]["interval"], json!({"m3u8": 600}));
    assert_eq!(
        listed["overrides"][0]["reason"],
        Value::Null,
        "replaced whole"
    );

    let (_, metrics) = (0, fetch_admin_text(&server, "/metrics").await);
    assert!(
        metrics.contains(r#"recgate_decisions_total{rule="override",need_record="true"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("recgate_overrides_loaded 1"), "{metrics}");
    assert!(
        metrics.contains("recgate_overrides_store_up 1"),
        "{metrics}"
    );

    let (status, deleted) = call(reqwest::Method::DELETE, &admin, "stream=s1").await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["stream"], "s1");
    assert_eq!(
        server.get(SAMPLE_QUERY).await.2,
        SAMPLE_BODY,
        "the rule again"
    );
    let (status, missing) = call(reqwest::Method::DELETE, &admin, "stream=s1").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"], "override_not_found");
}

pub async fn fetch_admin_text(server: &TestServer, path: &str) -> String {
    client()
        .get(server.admin_url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn the_most_specific_override_wins_and_every_override_beats_the_rules() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(&config_with_token(&dir, "")).await;
    let admin = server.admin_url("");
    for body in [
        json!({"stream": "s1", "record": false}),
        json!({"stream": "s1", "app": "seq_all", "record": true, "formats": ["mp4"]}),
        json!({"stream": "s1", "app": "seq_all", "domain": "D.Example.com", "record": true, "formats": ["flv"]}),
        json!({"stream": "s1", "domain": "other.example.com", "record": true, "formats": ["m3u8"]}),
    ] {
        let (status, answer) = put(&admin, &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let cases = [
        ("domain=d.example.com&app=seq_all&stream=s1", r#"["flv"]"#),
        ("domain=x.example.com&app=seq_all&stream=s1", r#"["mp4"]"#),
        ("domain=other.example.com&app=edu&stream=s1", r#"["m3u8"]"#),
        (
            "domain=x.example.com&app=edu&stream=s1",
            "NeedRecord\":false",
        ),
    ];
    for (query, expected) in cases {
        let (_, _, body) = server.get(&format!("/?{query}")).await;
        assert!(body.contains(expected), "{query}: {body}");
    }
    // Explain shows the override and what the rules alone would have said.
    let (status, _, body) = {
        let response = client()
            .get(server.admin_url("/explain?domain=x.example.com&app=seq_all&stream=s1"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answered");
        (
            response.status().as_u16(),
            (),
            response.text().await.expect("body"),
        )
    };
    assert_eq!(status, 200);
    let explain: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(explain["rule"], "override");
    assert_eq!(explain["overridden_rule"], "sample");
    assert_eq!(explain["override"]["app"], "seq_all");
    // Filters of the list are exact key fields.
    let (_, listed) = call(reqwest::Method::GET, &admin, "app=seq_all").await;
    assert_eq!(
        listed["overrides"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    let (_, listed) = call(reqwest::Method::GET, &admin, "domain=D.EXAMPLE.COM").await;
    assert_eq!(
        listed["overrides"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}

#[tokio::test]
async fn an_override_expires_and_the_rules_answer_again() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(&config_with_token(&dir, "")).await;
    let admin = server.admin_url("");
    let (status, stored) = put(&admin, &json!({"stream": "s1", "record": false, "ttl": 1})).await;
    assert_eq!(status, 200, "{stored}");
    assert!(stored["expires_at"].is_string());
    assert!(server.get(SAMPLE_QUERY).await.2.contains("false"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(server.get(SAMPLE_QUERY).await.2, SAMPLE_BODY);
    let (_, listed) = call(reqwest::Method::GET, &admin, "").await;
    assert_eq!(
        listed["overrides"],
        json!([]),
        "an expired override is not listed"
    );
    // The next resync purges it from the store.
    let purged = server.state.overrides().resync().await.expect("resync");
    assert_eq!(purged, 0);
}

#[tokio::test]
async fn admin_calls_need_the_bearer_token_but_health_checks_do_not() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(&config_with_token(&dir, "")).await;
    for path in ["/overrides", "/metrics", "/rules", "/explain?stream=s"] {
        let missing = client()
            .get(server.admin_url(path))
            .send()
            .await
            .expect("answered");
        assert_eq!(missing.status().as_u16(), 401, "{path}");
        assert_eq!(
            missing
                .headers()
                .get("www-authenticate")
                .map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        let body: Value = missing.json().await.expect("JSON error");
        assert_eq!(body["error"], "unauthorized");
        let wrong = client()
            .get(server.admin_url(path))
            .bearer_auth("s3cret-admin-token-for-test")
            .send()
            .await
            .expect("answered");
        assert_eq!(wrong.status().as_u16(), 401, "{path} with a wrong token");
        let right = client()
            .get(server.admin_url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answered");
        assert_eq!(right.status().as_u16(), 200, "{path} with the token");
    }
    let unauthorized_put = client()
        .put(server.admin_url("/overrides"))
        .json(&json!({"stream": "s1", "record": true}))
        .send()
        .await
        .expect("answered");
    assert_eq!(unauthorized_put.status().as_u16(), 401);
    assert_eq!(
        server.state.overrides().snapshot().len(),
        0,
        "nothing stored"
    );
    for path in ["/healthz", "/readyz"] {
        assert_eq!(server.admin_get(path).await.0, 200, "{path} needs no token");
    }
}

#[tokio::test]
async fn bad_override_requests_get_a_400_naming_the_field() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(&config_with_token(&dir, "")).await;
    let admin = server.admin_url("");
    let cases = [
        (json!({"record": true}), "stream"),
        (json!({"stream": "s", "record": "yes"}), "record"),
        (
            json!({"stream": "s", "record": true, "formats": ["avi"]}),
            "formats",
        ),
        (
            json!({"stream": "s", "record": true, "interval": {"mp4": 99999}}),
            "interval.mp4",
        ),
        (
            json!({"stream": "s", "record": true, "interval": {"mp5": 60}}),
            "interval.mp5",
        ),
        (json!({"stream": "s", "record": true, "ttl": -5}), "ttl"),
        (
            json!({"stream": "s", "record": true, "colour": "red"}),
            "colour",
        ),
        (json!({"stream": "x".repeat(300), "record": true}), "stream"),
    ];
    for (body, field) in cases {
        let (status, answer) = put(&admin, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], "invalid_override", "{answer}");
        let fields: Vec<&str> = answer["problems"]
            .as_array()
            .map(|list| list.iter().filter_map(|p| p["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(field.rsplit('.').next().unwrap_or(field))),
            "{answer}"
        );
    }
    let not_json = client()
        .put(server.admin_url("/overrides"))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(not_json.status().as_u16(), 400);
    let huge = client()
        .put(server.admin_url("/overrides"))
        .bearer_auth(TOKEN)
        .body(format!(
            r#"{{"stream":"s","record":true,"reason":"{}"}}"#,
            "r".repeat(20_000)
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(huge.status().as_u16(), 413);
    let (status, answer) = call(reqwest::Method::DELETE, &admin, "app=a").await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = call(reqwest::Method::GET, &admin, "strem=s").await;
    assert_eq!(status, 400);
    let (status, _) = call(reqwest::Method::POST, &admin, "").await;
    assert_eq!(status, 405);
    assert_eq!(
        server.state.overrides().snapshot().len(),
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn with_the_store_off_writes_answer_503_and_rules_decide() {
    let dir = tempfile::tempdir().expect("dir");
    let server =
        TestServer::start(&config_with_token(&dir, "[overrides]\nstore = \"off\"\n")).await;
    let (status, answer) = put(
        &server.admin_url(""),
        &json!({"stream": "s1", "record": false}),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "overrides_off");
    assert_eq!(server.get(SAMPLE_QUERY).await.2, SAMPLE_BODY);
}

#[tokio::test]
async fn an_admin_listener_beyond_loopback_needs_a_token() {
    let text = format!("[admin]\nlisten = \"0.0.0.0:9090\"\n{CONFIG}");
    let file = config_file(&text);
    let error = Config::from_file(file.path()).expect_err("refused");
    let lines = error.lines().join("\n");
    assert!(
        lines.contains("[admin]") && lines.contains("listen"),
        "{lines}"
    );
    assert!(lines.contains("token_env or token_file"), "{lines}");

    // The command-line address is held to the same rule.
    let file = config_file(CONFIG);
    let config = Config::from_file(file.path()).expect("config");
    let options = StartOptions {
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        admin_listen: Some(SocketAddr::from(([0, 0, 0, 0], 0))),
        ..StartOptions::default()
    };
    let refused = start(config, options).await.err().map(|e| e.to_string());
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("token")),
        "{refused:?}"
    );
}
