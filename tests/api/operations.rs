//! Hot reload, the admin listener, metrics, request ids and JSON logs.

use crate::helpers::{
    CONFIG, ServerProcess, TestServer, client, config_file, fetch, metric_value, metrics_text,
};
use nix::sys::signal::Signal;
use recgate::config::Config;
use recgate::server::reload::Reloader;
use std::time::{Duration, Instant};

const NOT_RECORDED: &str = r#"{"ApiVersion":"1.0","NeedRecord":false}"#;
const RECORDED: &str = r#"{"ApiVersion":"1.0","NeedRecord":true}"#;

fn config_recording(app: &str) -> String {
    format!(
        "[default]\nrecord = false\n[[rule]]\nname = \"record-{app}\"\napp = \"{app}\"\nrecord = true\n"
    )
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Replaces the file the way editors and ConfigMaps do: a new file renamed over the old.
fn replace_by_rename(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write new file");
    std::fs::rename(&tmp, path).expect("rename over");
}

#[tokio::test]
async fn replacing_the_config_file_by_rename_changes_the_answer() {
    let server = TestServer::start_with(&config_recording("a"), true).await;
    assert_eq!(
        server.get("/?app=b").await.2,
        NOT_RECORDED,
        "before the change"
    );
    replace_by_rename(server.config.path(), &config_recording("b"));
    let changed = eventually(Duration::from_secs(5), || async {
        server.get("/?app=b").await.2 == RECORDED
    })
    .await;
    assert!(changed, "the new rules answer after the file is replaced");
    let (_, _, metrics) = server.admin_get("/metrics").await;
    assert_eq!(
        metric_value(&metrics, "recgate_config_reloads_total{result=\"success\"}"),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn writing_the_config_file_in_place_changes_the_answer() {
    let server = TestServer::start_with(&config_recording("a"), true).await;
    std::fs::write(server.config.path(), config_recording("c")).expect("write");
    let changed = eventually(Duration::from_secs(5), || async {
        server.get("/?app=c").await.2 == RECORDED
    })
    .await;
    assert!(changed, "an in-place write is picked up");
}

#[tokio::test]
async fn a_bad_file_keeps_the_old_answer_and_counts_a_failure() {
    let server = TestServer::start_with(&config_recording("a"), true).await;
    replace_by_rename(
        server.config.path(),
        "[default]\nrecord = false\n[[rule]]\nname = \"x\"\nrecord = true\nformats = [\"avi\"]\n",
    );
    let failed = eventually(Duration::from_secs(5), || async {
        let (_, _, metrics) = server.admin_get("/metrics").await;
        metric_value(&metrics, "recgate_config_reloads_total{result=\"failure\"}") == Some(1.0)
    })
    .await;
    assert!(failed, "the failed reload is counted");
    assert_eq!(
        server.get("/?app=a").await.2,
        RECORDED,
        "old rules still answer"
    );
    let (status, _, _) = server.get("/readyz").await;
    assert_eq!(status, 200, "a bad reload does not make the server unready");

    replace_by_rename(server.config.path(), &config_recording("d"));
    let recovered = eventually(Duration::from_secs(5), || async {
        server.get("/?app=d").await.2 == RECORDED
    })
    .await;
    assert!(recovered, "the next good change is applied");
}

#[tokio::test]
async fn during_a_reload_storm_every_answer_is_200_from_the_old_or_new_rules() {
    let server = TestServer::start(&config_recording("a")).await;
    let config = Config::from_file(server.config.path()).expect("loads");
    let reloader = Reloader::new(&config, server.state.clone());
    let path = server.config.path().to_owned();
    let storm = tokio::task::spawn_blocking(move || {
        for round in 0..200 {
            let app = if round % 2 == 0 { "b" } else { "a" };
            std::fs::write(&path, config_recording(app)).expect("write");
            reloader.reload("test").expect("good config reloads");
        }
    });
    let http = client();
    let mut answers = 0;
    let mut seen = std::collections::HashSet::new();
    while !storm.is_finished() || answers < 200 {
        let response = http
            .get(server.url("/?app=a"))
            .send()
            .await
            .expect("every request is answered");
        assert_eq!(response.status().as_u16(), 200, "never a failed callback");
        let body = response.text().await.expect("body");
        assert!(
            body == RECORDED || body == NOT_RECORDED,
            "an answer from the old or the new rules: {body}"
        );
        seen.insert(body);
        answers += 1;
    }
    storm.await.expect("storm ends");
    assert!(answers >= 200, "a steady stream of callbacks was sent");
    let (_, _, metrics) = server.admin_get("/metrics").await;
    assert_eq!(
        metric_value(&metrics, "recgate_config_reloads_total{result=\"success\"}"),
        Some(200.0)
    );
}

#[tokio::test]
async fn metrics_reflect_decisions_requests_and_refusals() {
    let server = TestServer::start(CONFIG).await;
    for _ in 0..3 {
        server.get("/?app=seq_all").await;
    }
    server.get("/?stream=nothing").await;
    server.get(&format!("/?{}", "x".repeat(3000))).await;
    server.get("/nowhere").await;
    let (status, content_type, metrics) = server.admin_get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let expectations = [
        (
            "recgate_decisions_total{rule=\"sample\",need_record=\"true\"}",
            3.0,
        ),
        (
            "recgate_decisions_total{rule=\"default\",need_record=\"false\"}",
            1.0,
        ),
        (
            "recgate_http_requests_total{route=\"/\",status=\"200\"}",
            4.0,
        ),
        (
            "recgate_http_requests_total{route=\"/\",status=\"414\"}",
            1.0,
        ),
        (
            "recgate_http_requests_total{route=\"unmatched\",status=\"404\"}",
            1.0,
        ),
        (
            "recgate_rejected_requests_total{reason=\"query_too_long\"}",
            1.0,
        ),
        ("recgate_rejected_requests_total{reason=\"not_found\"}", 1.0),
        ("recgate_decision_duration_seconds_count", 5.0),
        ("recgate_rules_loaded", 3.0),
        ("recgate_build_info{version=\"", 1.0),
    ];
    for (series, expected) in expectations {
        assert_eq!(
            metric_value(&metrics, series),
            Some(expected),
            "{series} in\n{metrics}"
        );
    }
    assert!(
        metric_value(
            &metrics,
            "recgate_config_last_reload_success_timestamp_seconds"
        )
        .is_some_and(|t| t > 1.7e9),
        "load time is exported"
    );
}

#[tokio::test]
async fn the_public_listener_does_not_serve_metrics_or_rules() {
    let server = TestServer::start(CONFIG).await;
    for path in ["/metrics", "/rules"] {
        assert_eq!(server.get(path).await.0, 404, "{path} is admin-only");
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(server.admin_get(path).await.0, 200, "admin {path}");
    }
}

#[tokio::test]
async fn rules_shows_the_live_set_with_source_and_hits() {
    let server = TestServer::start(CONFIG).await;
    server
        .get("/?domain=live.example.com&app=edu&stream=course-1&codec=h265&vbitrate=3000")
        .await;
    let (status, content_type, body) = server.admin_get("/rules").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let view: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let file = std::fs::read(server.config.path()).expect("config");
    let sha = recgate::config::sha256_hex(&file);
    assert_eq!(view["config"]["sha256"], sha.as_str(), "hash of the file");
    assert_eq!(
        view["config"]["path"],
        server.config.path().display().to_string().as_str()
    );
    assert!(
        view["config"]["loaded_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let names: Vec<&str> = view["rules"]
        .as_array()
        .expect("rules array")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["never-test", "hevc-courses", "sample"]);
    let hevc = &view["rules"][1];
    assert_eq!(hevc["hits"], 1, "{hevc}");
    assert_eq!(hevc["stream"]["kind"], "glob");
    assert_eq!(hevc["stream"]["pattern"], "course-*");
    assert_eq!(hevc["vbitrate"]["min"], 2000);
    assert_eq!(
        hevc["decision"]["formats"],
        serde_json::json!(["mp4", "m3u8"])
    );
    assert_eq!(view["default"]["decision"]["record"], false);
}

#[tokio::test]
async fn rules_follows_a_reload() {
    let server = TestServer::start(CONFIG).await;
    std::fs::write(server.config.path(), config_recording("z")).expect("write");
    let config = Config::from_file(server.config.path()).expect("loads");
    Reloader::new(&config, server.state.clone())
        .reload("test")
        .expect("reloads");
    let (_, _, body) = server.admin_get("/rules").await;
    let view: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(view["rules"][0]["name"], "record-z", "{body}");
    assert_eq!(view["rules"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_request_id_is_echoed_or_generated() {
    let server = TestServer::start(CONFIG).await;
    let given = client()
        .get(server.url("/?app=seq_all"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("answered");
    assert_eq!(given.headers()["x-request-id"], "abc-123", "echoed");
    let generated = client()
        .get(server.url("/"))
        .send()
        .await
        .expect("answered");
    let id = generated.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 36, "a UUID is generated: {id}");
}

/// Nobody reads the server's log once it serves: the pipe fills after a few hundred lines.
/// Callbacks must go on at full speed all the same, dropping and counting lines that no
/// longer fit in the log buffer, rather than wait for the reader.
#[tokio::test]
async fn a_stalled_log_reader_never_stalls_the_callback() {
    let file = config_file(&config_recording("a"));
    let flags = ["--admin-listen", "127.0.0.1:0", "--no-watch"];
    let server =
        ServerProcess::start_with_env(file.path(), &flags, &[("RECGATE_LOG_BUFFER_LINES", "16")]);
    let client = client();
    let url = format!("http://{}/?app=a&stream=s", server.addr);
    for _ in 0..3_000 {
        let response = tokio::time::timeout(Duration::from_secs(5), client.get(&url).send())
            .await
            .expect("answered without waiting for the log reader")
            .expect("request reaches the server");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.expect("body"), RECORDED);
    }
    let admin = server.admin.expect("an admin listener");
    let metrics = metrics_text(&format!("http://{admin}"), None).await;
    let dropped = metric_value(&metrics, "recgate_log_lines_dropped_total")
        .expect("the dropped-lines counter is exported");
    assert!(
        dropped > 1_000.0,
        "lines past the buffer are dropped and counted: {dropped}"
    );
}

#[test]
fn sighup_reloads_and_logs_what_changed() {
    let file = config_file(&config_recording("a"));
    let mut server = ServerProcess::start(file.path(), &["--no-watch"]);
    let url = format!("http://{}/?app=b", server.addr);
    std::fs::write(
        file.path(),
        format!(
            "{}\n[[rule]]\nname = \"extra\"\napp = \"b\"\nrecord = true\n",
            config_recording("a")
        ),
    )
    .expect("write");
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_log("trigger=\"sighup\"");
    assert!(line.contains("config reloaded"), "{line}");
    assert!(line.contains("added=[\"extra\"]"), "{line}");
    let body = blocking_get(&url);
    assert_eq!(body, RECORDED, "the added rule answers");
}

#[test]
fn a_setting_that_cannot_change_live_is_reported_as_needing_a_restart() {
    let file = config_file(&config_recording("a"));
    let mut server = ServerProcess::start(file.path(), &[]);
    std::fs::write(
        file.path(),
        format!(
            "[server]\ncallback_path = \"/elsewhere\"\n{}",
            config_recording("b")
        ),
    )
    .expect("write");
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_log("needs a restart");
    assert!(line.contains("server.callback_path"), "{line}");
    assert_eq!(
        blocking_get(&format!("http://{}/?app=b", server.addr)),
        RECORDED,
        "rules are applied; the callback path stays where it was"
    );
}

/// Every `[server]` setting a reload cannot apply is reported by name, the four limits
/// included (a hand-written list once left them out).
#[tokio::test]
async fn each_changed_server_limit_is_reported_as_needing_a_restart() {
    let cases = [
        ("max_connections = 10", "server.max_connections"),
        ("header_read_timeout = \"3s\"", "server.header_read_timeout"),
        ("request_timeout = \"3s\"", "server.request_timeout"),
        ("max_head_bytes = 16384", "server.max_head_bytes"),
        ("shutdown_grace = \"1s\"", "server.shutdown_grace"),
        ("drain_timeout = \"1s\"", "server.drain_timeout"),
    ];
    for (line, setting) in cases {
        let server = TestServer::start(&config_recording("a")).await;
        let config = Config::from_file(server.config.path()).expect("valid");
        let reloader = Reloader::new(&config, server.state.clone());
        std::fs::write(
            server.config.path(),
            format!("[server]\n{line}\n{}", config_recording("b")),
        )
        .expect("write");
        let report = reloader.reload("test").expect("the new file is valid");
        assert_eq!(report.needs_restart, [setting], "after {line:?}");
        assert_eq!(
            server.get("/?app=b").await.2,
            RECORDED,
            "rules still apply live"
        );
        server.shutdown().await;
    }
}

#[test]
fn settings_given_on_the_command_line_are_not_reported_on_reload() {
    use std::io::BufRead as _;
    let file = config_file(&config_recording("a"));
    let flags = ["--admin-listen", "127.0.0.1:0", "--overrides-store", "off"];
    let mut server = ServerProcess::start(file.path(), &flags);
    std::fs::write(file.path(), config_recording("b")).expect("write");
    server.signal(Signal::SIGHUP);
    let mut line = String::new();
    loop {
        line.clear();
        let read = server.stdout.read_line(&mut line).expect("log readable");
        assert!(read > 0, "server exited before reloading");
        assert!(!line.contains("needs a restart"), "{line}");
        if line.contains("config reloaded") {
            break;
        }
    }
}

#[test]
fn json_logs_carry_every_callback_field_and_the_request_id() {
    let file = config_file(CONFIG);
    let mut server = ServerProcess::start(file.path(), &["--log-format", "json"]);
    blocking_get(&format!(
        "http://{}/?domain=live.example.com&app=edu&stream=course-1&codec=h265&vbitrate=2500",
        server.addr
    ));
    let line = server.wait_for_log("\"callback\"");
    let event: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(event["domain"], "live.example.com", "{line}");
    assert_eq!(event["app"], "edu");
    assert_eq!(event["stream"], "course-1");
    assert_eq!(event["codec"], "h265");
    assert_eq!(event["vbitrate"], 2500);
    assert_eq!(event["rule"], "hevc-courses");
    assert_eq!(event["need_record"], true);
    assert!(event["latency_us"].is_u64(), "{line}");
    assert_eq!(
        event["request_id"].as_str().map(str::len),
        Some(36),
        "{line}"
    );
}

#[test]
fn sigterm_fails_readiness_at_once_serves_through_the_grace_period_then_exits_zero() {
    let file = config_file(&format!("[server]\nshutdown_grace = \"2s\"\n{CONFIG}"));
    let mut server = ServerProcess::start(file.path(), &[]);
    let base = format!("http://{}", server.addr);
    assert!(
        blocking_status(&format!("{base}/readyz")) == 200,
        "ready before"
    );
    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);
    server.wait_for_log("grace period");
    assert_eq!(
        blocking_status(&format!("{base}/readyz")),
        503,
        "readiness fails at once"
    );
    assert!(
        blocking_get(&format!("{base}/?app=seq_all")).contains("NeedRecord\":true"),
        "callbacks are still answered during the grace period"
    );
    let status = server.child.wait().expect("exits");
    assert!(status.success(), "exit 0: {status}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "the grace period was served"
    );
}

/// A GET from a plain thread, for tests that are not async: status and body.
fn blocking_fetch(url: &str) -> (u16, String) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async {
                let (status, _, body) = fetch(&url).await;
                (status, body)
            })
    })
    .join()
    .expect("request thread")
}

fn blocking_get(url: &str) -> String {
    blocking_fetch(url).1
}

fn blocking_status(url: &str) -> u16 {
    blocking_fetch(url).0
}
