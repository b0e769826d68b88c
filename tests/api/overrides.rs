//! Runtime overrides on the default SQLite store: the admin API, precedence, expiry,
//! authentication, validation, durability across kill -9, and the CLI.

use crate::helpers::{CONFIG, ServerProcess, TestServer, client, config_file, fetch, recgate};
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
fn own_store(dir: &tempfile::TempDir, name: &str) -> (std::path::PathBuf, String) {
    let store = dir.path().join(name);
    let extra = format!(
        "[overrides]\nstore = \"sqlite:{}\"\nresync_interval = \"1h\"\n",
        store.display()
    );
    (store, extra)
}

const SAMPLE_QUERY: &str = "/?domain=d.example.com&app=seq_all&stream=s1&codec=h264&vbitrate=500";
const SAMPLE_BODY: &str = r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":300,"Flv":120,"M3U8":180},"Format":["mp4","flv"]}"#;

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

async fn fetch_admin_text(server: &TestServer, path: &str) -> String {
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

fn override_cli(admin: SocketAddr, args: &[&str]) -> (bool, String, String) {
    let output = recgate()
        .arg("override")
        .args(args)
        .args(["--admin", &admin.to_string()])
        .env("RECGATE_ADMIN_TOKEN", TOKEN)
        .output()
        .expect("recgate runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_override_set_by_the_cli_survives_kill_9_right_after_the_answer() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("recgate.toml");
    std::fs::write(&config, config_with_token(&dir, "")).expect("config written");
    let admin_flag = ["--admin-listen", "127.0.0.1:0"];
    let mut server = ServerProcess::start(&config, &admin_flag);
    let admin = server.admin.expect("admin listener");

    let (ok, out, err) = override_cli(
        admin,
        &[
            "set",
            "s1",
            "--app",
            "seq_all",
            "--record",
            "--format",
            "mp4",
            "--interval",
            "mp4=600",
            "--ttl",
            "8h",
            "--reason",
            "record this class",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("set */seq_all/s1  record as mp4 mp4=600s  until "),
        "{out}"
    );
    server.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = server.child.wait();
    assert!(
        dir.path().join("recgate.overrides.db").exists(),
        "the store sits next to the config"
    );

    let mut server = ServerProcess::start(&config, &admin_flag);
    let admin = server.admin.expect("admin listener");
    let (_, _, body) = fetch(&format!("http://{}{SAMPLE_QUERY}", server.addr)).await;
    assert_eq!(
        body,
        r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":600},"Format":["mp4"]}"#
    );
    let logged = server.wait_for_log("override_key=");
    assert!(
        logged.contains(r#"rule="override""#) && logged.contains("override_key=*/seq_all/s1"),
        "{logged}"
    );
    let (ok, out, _) = override_cli(admin, &["list"]);
    assert!(ok);
    assert!(
        out.contains("*/seq_all/s1  record as mp4") && out.contains("(record this class)"),
        "{out}"
    );
    assert!(out.ends_with("1 override(s)\n"), "{out}");

    // decide reads the same store, offline.
    let decided = recgate()
        .args(["decide", "--config"])
        .arg(&config)
        .arg("app=seq_all&stream=s1")
        .output()
        .expect("decide runs");
    let decided = String::from_utf8_lossy(&decided.stdout).into_owned();
    assert!(
        decided.contains("rule: override */seq_all/s1 until "),
        "{decided}"
    );
    assert!(
        decided.contains("without the override: rule sample"),
        "{decided}"
    );

    let (ok, out, err) = override_cli(admin, &["delete", "s1", "--app", "seq_all"]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("deleted */seq_all/s1"), "{out}");
    let (ok, _, err) = override_cli(admin, &["delete", "s1", "--app", "seq_all"]);
    assert!(!ok);
    assert!(
        err.contains("404") && err.contains("override_not_found"),
        "{err}"
    );
    let (ok, _, err) = override_cli(admin, &["set", "s1", "--record", "--interval", "mp4=1"]);
    assert!(!ok);
    assert!(err.contains("interval.mp4"), "{err}");
    let (ok, _, err) = override_cli(admin, &["list", "--token", "not-the-admin-token"]);
    assert!(!ok, "a wrong token is refused");
    assert!(err.contains("401") && err.contains("unauthorized"), "{err}");
}

#[tokio::test]
async fn a_replica_deletes_what_another_wrote_before_it_synced() {
    let dir = tempfile::tempdir().expect("dir");
    let (_, extra) = own_store(&dir, "shared.db");
    let text = config_with_token(&dir, &extra);
    let a = TestServer::start(&text).await;
    let b = TestServer::start(&text).await;
    let (status, _) = put(
        &a.admin_url(""),
        &json!({"stream": "s1", "record": false, "reason": "via a"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(b.state.overrides().snapshot().len(), 0, "b has not synced");
    let (status, deleted) = call(reqwest::Method::DELETE, &b.admin_url(""), "stream=s1").await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        deleted["reason"], "via a",
        "answered from the store: {deleted}"
    );
    assert_eq!(a.state.overrides().resync().await.expect("resync"), 0);
}

/// A periodic resync reads the store only when it changed since the last full read, by
/// whoever changed it: another replica on the same file, or SQL by hand.
#[tokio::test]
async fn a_resync_reads_the_store_only_when_it_changed() {
    use recgate::telemetry::metrics::ScopeLabels;
    let dir = tempfile::tempdir().expect("dir");
    let (store, extra) = own_store(&dir, "shared.db");
    let text = config_with_token(&dir, &extra);
    let a = TestServer::start(&text).await;
    let b = TestServer::start(&text).await;
    let syncs = |scope: &'static str| {
        b.state
            .metrics()
            .override_syncs
            .get_or_create(&ScopeLabels { scope })
            .get()
    };
    let resync = || async { b.state.overrides().resync().await.expect("resync") };
    let full = syncs("full");
    assert_eq!(resync().await, 0);
    assert_eq!(syncs("full"), full, "nothing changed: not read");
    assert_eq!(syncs("unchanged"), 1);

    let (status, _) = put(&a.admin_url(""), &json!({"stream": "s1", "record": false})).await;
    assert_eq!(status, 200);
    assert_eq!(resync().await, 1, "another replica's write is read");
    assert_eq!(syncs("full"), full + 1);
    assert!(b.get(SAMPLE_QUERY).await.2.contains("\"NeedRecord\":false"));
    assert_eq!(resync().await, 1);
    assert_eq!(syncs("unchanged"), 2);

    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", store.display()))
        .await
        .expect("open the file");
    sqlx::query("DELETE FROM overrides")
        .execute(&pool)
        .await
        .expect("delete by hand");
    assert_eq!(resync().await, 0, "a change by hand is read");
    assert_eq!(syncs("full"), full + 2);
    assert_eq!(b.get(SAMPLE_QUERY).await.2, SAMPLE_BODY, "the rule again");
}

/// Listing goes a page at a time, in key order, `next` leading to the following page; the
/// CLI follows every page.
#[tokio::test]
async fn overrides_are_listed_a_page_at_a_time() {
    use recgate::overrides::MAX_LIST_LIMIT;
    let dir = tempfile::tempdir().expect("dir");
    let (store, extra) = own_store(&dir, "paged.db");
    let server = TestServer::start(&config_with_token(&dir, &extra)).await;
    let admin = server.admin_url("");
    for stream in ["s3", "s1", "s5", "s2", "s4"] {
        let (status, _) = put(&admin, &json!({"stream": stream, "record": true})).await;
        assert_eq!(status, 200);
    }
    put(
        &admin,
        &json!({"stream": "s9", "app": "edu", "record": true}),
    )
    .await;

    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = call(reqwest::Method::GET, &admin, &query).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for item in page["overrides"].as_array().expect("a list") {
            seen.push(item["stream"].as_str().expect("a stream").to_owned());
        }
        match page["next"].as_str() {
            Some(next) => query = format!("limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["s1", "s2", "s3", "s4", "s5", "s9"], "key order");
    assert_eq!(pages, 3);
    let (_, filtered) = call(reqwest::Method::GET, &admin, "app=edu&limit=1").await;
    assert_eq!(filtered["overrides"][0]["stream"], "s9", "{filtered}");
    assert!(filtered.get("next").is_none(), "the last page: {filtered}");

    let refused = [
        (reqwest::Method::GET, "limit=0", "limit"),
        (reqwest::Method::GET, "limit=10001", "limit"),
        (reqwest::Method::GET, "limit=many", "limit"),
        (reqwest::Method::GET, "after=zz", "after"),
        (reqwest::Method::GET, "after=5b5d", "after"),
        (reqwest::Method::DELETE, "stream=s1&limit=2", "limit"),
    ];
    for (method, query, field) in refused {
        let (status, body) = call(method.clone(), &admin, query).await;
        assert_eq!(status, 400, "{method} {query}: {body}");
        assert_eq!(
            body["problems"][0]["field"], field,
            "{method} {query}: {body}"
        );
    }

    // More than the largest page, written straight into the store, then read.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", store.display()))
        .await
        .expect("open the file");
    let mut bulk = pool.begin().await.expect("a transaction");
    for i in 0..MAX_LIST_LIMIT + 5 {
        sqlx::query(
            "INSERT INTO overrides (domain, app, stream, record, created_at) \
             VALUES ('', 'bulk', ?, 1, 0)",
        )
        .bind(format!("b{i:05}"))
        .execute(&mut *bulk)
        .await
        .expect("insert");
    }
    bulk.commit().await.expect("commit");
    server.state.overrides().resync().await.expect("resync");
    let addr = server.admin_addr.expect("admin");
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || override_cli(addr, &["list", "--app", "bulk"]))
            .await
            .expect("the CLI ran");
    assert!(ok, "{err}");
    assert!(
        out.ends_with(&format!("{} override(s)\n", MAX_LIST_LIMIT + 5)),
        "every page: {}",
        out.lines().last().unwrap_or_default()
    );
}
