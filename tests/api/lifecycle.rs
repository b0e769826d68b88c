//! The platform's lifecycle callbacks against a real server and a real SQLite store: the
//! recording ledger's transitions, the domain map, duplicates, bad input and signatures.

use crate::helpers::{CONFIG, TestServer, client, metric_value, metrics_text};
use recgate::auth::signature::{Key, sign};
use recgate::config::Config;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const LIFECYCLE: &str = r#"
[platform]
ingest_domains = { "push.example.com" = "live.example.com" }

[lifecycle]
ingest_path = "/ingest"
notify_path = "/notify"
"#;

const KEY: &str = "abcdefghijklmnop1234";

/// The course stream `CONFIG` records (rule `hevc-courses`).
const COURSE: &str = "/?domain=live.example.com&app=edu&stream=course-7&codec=h265&vbitrate=2500";

async fn notify(server: &TestServer, body: &str) -> (u16, Value) {
    let response = client()
        .post(server.url("/notify"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn status_event(stream: &str, event: &str) -> String {
    json!({"domain": "live.example.com", "app": "edu", "stream": stream, "event": event})
        .to_string()
}

fn file_event(stream: &str, uri: &str, duration: f64) -> String {
    json!({
        "domain": "live.example.com", "app": "edu", "stream": stream, "uri": uri,
        "duration": duration, "start_time": 1_800_000_000, "stop_time": 1_800_000_300,
        "push_args": {"callback_myid": "123"}
    })
    .to_string()
}

/// The recordings in progress, by stream: (state, rule, files).
async fn recordings(server: &TestServer) -> Vec<(String, String, Value, u64)> {
    let (status, _, body) = server.admin_get("/recordings").await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("JSON");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["stream"].as_str().unwrap_or_default().to_owned(),
                r["state"].as_str().unwrap_or_default().to_owned(),
                r["rule"].clone(),
                r["files"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

async fn eventually_recorded(server: &TestServer, stream: &str) -> bool {
    for _ in 0..100 {
        if recordings(server).await.iter().any(|r| r.0 == stream) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_recording_goes_from_decided_to_recording_to_ended_and_its_files_are_counted_once() {
    let server = TestServer::start(&format!("{LIFECYCLE}{CONFIG}")).await;
    let (status, _, body) = server.get(COURSE).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually_recorded(&server, "course-7").await,
        "the decision is in the ledger"
    );
    let rows = recordings(&server).await;
    assert_eq!(rows[0].1, "decided");
    assert_eq!(rows[0].2, json!("hevc-courses"), "the deciding rule");

    let (status, answer) = notify(&server, &status_event("course-7", "record_started")).await;
    assert_eq!((status, &answer["outcome"]), (200, &json!("applied")));
    assert_eq!(recordings(&server).await[0].1, "recording");
    let (_, answer) = notify(&server, &status_event("course-7", "record_paused")).await;
    assert_eq!(answer["outcome"], "applied");
    assert_eq!(recordings(&server).await[0].1, "paused");
    notify(&server, &status_event("course-7", "record_resumed")).await;
    assert_eq!(recordings(&server).await[0].1, "recording");

    let file = file_event("course-7", "edu/course-7/0.mp4", 300.5);
    let (_, first) = notify(&server, &file).await;
    let (_, retried) = notify(&server, &file).await;
    assert_eq!(
        (&first["outcome"], &retried["outcome"]),
        (&json!("applied"), &json!("duplicate"))
    );
    assert_eq!(recordings(&server).await[0].3, 1, "a file is counted once");

    let (status, _, body) = server
        .admin_get("/files?stream=course-7&from=2027-01-01")
        .await;
    assert_eq!(status, 200, "{body}");
    let files: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(files["items"][0]["uri"], "edu/course-7/0.mp4", "{files}");
    assert_eq!(files["items"][0]["rule"], "hevc-courses");
    assert_eq!(files["items"][0]["push_args"]["callback_myid"], "123");

    // publish_done names the ingest domain, mapped to the streaming domain.
    let done = "/ingest?action=publish_done&app=push.example.com&appname=edu&id=course-7";
    let (status, _, body) = server.get(done).await;
    assert_eq!(status, 200, "{body}");
    assert!(recordings(&server).await.is_empty(), "the recording ended");

    let metrics = metrics_text(&server.admin_url(""), None).await;
    let series = r#"recgate_lifecycle_events_total{kind="file",outcome="duplicate"}"#;
    assert_eq!(metric_value(&metrics, series), Some(1.0), "{metrics}");
    let seconds = r#"recgate_recorded_seconds_total{rule="hevc-courses"}"#;
    assert_eq!(metric_value(&metrics, seconds), Some(300.5));
}

#[tokio::test]
async fn events_for_streams_recgate_did_not_decide_are_tracked_with_no_rule() {
    let server = TestServer::start(&format!("{LIFECYCLE}{CONFIG}")).await;
    // A file before record_started: the recording opens as recording.
    let (status, _) = notify(&server, &file_event("auto-1", "edu/auto-1/0.flv", 10.0)).await;
    assert_eq!(status, 200);
    let (_, answer) = notify(&server, &status_event("auto-1", "record_started")).await;
    assert_eq!(answer["outcome"], "duplicate", "already recording");
    let rows = recordings(&server).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].1.as_str(), &rows[0].2),
        ("recording", &Value::Null)
    );
}

#[tokio::test]
async fn bad_lifecycle_requests_get_a_clear_answer_and_change_nothing() {
    let server = TestServer::start(&format!("{LIFECYCLE}{CONFIG}")).await;
    let cases = [
        ("not json".to_owned(), 400, "invalid_event"),
        (
            r#"{"domain":"d","app":"a","stream":7,"event":"record_started"}"#.to_owned(),
            400,
            "invalid_event",
        ),
        (
            r#"{"domain":"d","app":"a","stream":"s"}"#.to_owned(),
            400,
            "invalid_event",
        ),
        ("x".repeat(20_000), 413, "body_too_large"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = notify(&server, &body).await;
        assert_eq!(
            (got, &answer["error"]),
            (status, &json!(code)),
            "{}",
            &body[..body.len().min(60)]
        );
    }
    let response = client()
        .get(server.url("/notify"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers().get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    let (status, answer) = notify(&server, &status_event("s", "record_error")).await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("ignored")),
        "unknown events are not retried"
    );
    let (status, _, body) = server.get("/ingest?action=rewind&app=x&id=s").await;
    assert_eq!((status, body.contains("ignored")), (200, true), "{body}");
    assert!(recordings(&server).await.is_empty(), "nothing changed");
}

#[tokio::test]
async fn each_kind_of_event_is_checked_against_its_own_signed_domain() {
    let auth = format!(
        "[lifecycle.ingest_auth]\nmode = \"enforce\"\nkey = \"{KEY}\"\n\
         [lifecycle.notify_auth]\nmode = \"enforce\"\nkey = \"{KEY}\"\n"
    );
    let server = TestServer::start(&format!("{LIFECYCLE}{auth}{CONFIG}")).await;
    let now = jiff::Timestamp::now().as_second().to_string();
    let key = Key::new(KEY).expect("key");
    // Notify events sign the host of the notify URL.
    let signed = |host: &str| sign(host, &now, &key);
    let post = |signature: String| {
        client()
            .post(server.url("/notify"))
            .header("ALI-LIVE-TIMESTAMP", now.as_str())
            .header("ALI-LIVE-SIGNATURE", signature)
            .body(status_event("sig-1", "record_started"))
            .send()
    };
    let forged = post(signed("elsewhere.example.com"))
        .await
        .expect("answered");
    assert_eq!(forged.status(), 403);
    assert!(
        recordings(&server).await.is_empty(),
        "a forged event changes nothing"
    );
    let good = post(signed("127.0.0.1")).await.expect("answered");
    assert_eq!(good.status(), 200);
    // Ingest events sign the ingest domain they name.
    let ingest = |signature: String| {
        client()
            .get(
                server.url("/ingest?action=publish_done&app=push.example.com&appname=edu&id=sig-1"),
            )
            .header("ALI-LIVE-TIMESTAMP", now.as_str())
            .header("ALI-LIVE-SIGNATURE", signature)
            .send()
    };
    assert_eq!(
        ingest(signed("127.0.0.1"))
            .await
            .expect("answered")
            .status(),
        403
    );
    assert_eq!(recordings(&server).await.len(), 1, "still recording");
    assert_eq!(
        ingest(signed("push.example.com"))
            .await
            .expect("answered")
            .status(),
        200
    );
    assert!(
        recordings(&server).await.is_empty(),
        "ended by the signed publish_done"
    );
}

#[test]
fn lifecycle_paths_must_be_valid_and_distinct() {
    let cases = [
        ("ingest_path = \"/\"", "ingest_path", "callback_path"),
        (
            "ingest_path = \"/e\"\nnotify_path = \"/e\"",
            "notify_path",
            "already",
        ),
        ("notify_path = \"/healthz\"", "notify_path", "health"),
        (
            "notify_path = \"events\"",
            "notify_path",
            "must start with /",
        ),
        ("retention = \"soon\"", "retention", "not a span"),
    ];
    for (lines, field, why) in cases {
        let text = format!("[lifecycle]\n{lines}\n{CONFIG}");
        let error = Config::from_str(&text, Path::new("t.toml")).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains(field) && message.contains(why) && message.contains("[lifecycle]"),
            "{lines}: {message}"
        );
    }
    let config = Config::from_str(
        &format!("[lifecycle]\nretention = \"30d\"\n{CONFIG}"),
        Path::new("t.toml"),
    )
    .expect("valid");
    assert_eq!(
        config.lifecycle.retention,
        Duration::from_secs(30 * 24 * 3600)
    );
}

#[tokio::test]
async fn usage_sums_files_and_peaks_by_day_and_by_rule() {
    let server = TestServer::start(&format!("{LIFECYCLE}{CONFIG}")).await;
    let now = jiff::Timestamp::now();
    let today = now.to_string()[..10].to_owned();
    let start = now.as_second() - 60;
    for (stream, uri, duration) in [("course-1", "a.mp4", 100.0), ("course-2", "b.mp4", 50.5)] {
        let body = json!({
            "domain": "live.example.com", "app": "edu", "stream": stream, "uri": uri,
            "duration": duration, "start_time": start, "stop_time": start + 60
        });
        assert_eq!(notify(&server, &body.to_string()).await.0, 200);
    }
    let (status, _, body) = server
        .admin_get(&format!("/usage?from={today}&to={today}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let usage: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        usage["rows"],
        json!([{"key": today, "recorded_seconds": 150.5, "files": 2, "peak_active": 2}]),
        "{usage}"
    );
    // The same day in Shanghai, which is already tomorrow from 16:00 UTC.
    let shanghai = now
        .in_tz("Asia/Shanghai")
        .expect("a known zone")
        .date()
        .to_string();
    let (_, _, body) = server
        .admin_get(&format!(
            "/usage?from={shanghai}&to={shanghai}&by=rule&tz=Asia/Shanghai"
        ))
        .await;
    let usage: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        usage["rows"][0]["key"], "none",
        "not decided by recgate: {usage}"
    );
    for query in [
        "/usage?from=2026-11-01",
        "/usage?from=2026-11-02&to=2026-11-01",
        "/usage?from=x&to=2026-11-01",
        "/usage?from=2026-11-01&to=2026-11-02&by=week",
        "/usage?from=2026-11-01&to=2026-11-02&tz=Mars/Base",
    ] {
        let (status, _, body) = server.admin_get(query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("invalid_query"), "{body}");
    }
}

#[tokio::test]
async fn the_cli_prints_recordings_files_and_usage_for_a_terminal() {
    let server = TestServer::start(&format!("{LIFECYCLE}{CONFIG}")).await;
    let start = jiff::Timestamp::now().as_second() - 60;
    let body = json!({
        "domain": "live.example.com", "app": "edu", "stream": "cli-1", "uri": "edu/cli-1/0.mp4",
        "duration": 1800.0, "start_time": start, "stop_time": start + 1800
    });
    assert_eq!(notify(&server, &body.to_string()).await.0, 200);
    let admin = server.admin_addr.expect("admin").to_string();
    let today = jiff::Timestamp::now().to_string()[..10].to_owned();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let output = crate::helpers::recgate()
                .args(&args)
                .output()
                .expect("runs");
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).into_owned()
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let recordings = run(args(&["recordings", "--admin", &admin]))
        .await
        .expect("ran");
    assert!(
        recordings.contains("live.example.com/edu/cli-1") && recordings.contains("1 recording(s)"),
        "{recordings}"
    );
    let files = run(args(&["files", "--admin", &admin, "--stream", "cli-1"]))
        .await
        .expect("ran");
    assert!(
        files.contains("edu/cli-1/0.mp4") && files.contains("1 file(s), 0.50 hours"),
        "{files}"
    );
    let usage = run(args(&[
        "usage", "--admin", &admin, "--from", &today, "--to", &today,
    ]))
    .await
    .expect("ran");
    assert!(
        usage.contains(&today)
            && usage
                .lines()
                .any(|l| l.starts_with("total") && l.contains("0.50")),
        "{usage}"
    );
}

/// An event answered 200 is on disk: killing the server right after the answer loses
/// nothing, and the next start lists it.
#[tokio::test]
async fn an_event_answered_200_survives_kill_9_right_after_the_answer() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("recgate.toml");
    let admin_flag = ["--admin-listen", "127.0.0.1:0"];
    std::fs::write(&config, format!("{LIFECYCLE}{CONFIG}")).expect("config");
    let server = crate::helpers::ServerProcess::start_quiet(&config, &admin_flag);
    for i in 0..20 {
        let body = file_event("durable-1", &format!("edu/durable-1/{i}.mp4"), 10.0);
        let response = client()
            .post(format!("http://{}/notify", server.addr))
            .body(body)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 200);
    }
    server.signal(nix::sys::signal::Signal::SIGKILL);
    drop(server);
    let again = crate::helpers::ServerProcess::start_quiet(&config, &admin_flag);
    let admin = again.admin.expect("admin listener");
    let (status, _, body) = crate::helpers::fetch(&format!("http://{admin}/recordings")).await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        page["items"][0]["files"], 20,
        "every answered file is there: {page}"
    );
}

/// The replay tool plays the platform (signed, every event sent twice, out of order) and
/// the ledger ends up with exactly what was played.
#[tokio::test]
async fn the_replay_tool_plays_the_platform_and_the_ledger_keeps_exactly_what_it_played() {
    let auth = format!(
        "[lifecycle.ingest_auth]\nmode = \"enforce\"\nkey = \"{KEY}\"\n\
         [lifecycle.notify_auth]\nmode = \"enforce\"\nkey = \"{KEY}\"\n"
    );
    let server = TestServer::start(&format!("{LIFECYCLE}{auth}{CONFIG}")).await;
    let replay = std::env::current_exe()
        .expect("test binary")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples/replay");
    let target = server.url("");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(replay)
            .args(["--target", &target, "--ingest-domain", "push.example.com"])
            .args([
                "--streams",
                "40",
                "--files",
                "3",
                "--copies",
                "2",
                "--shuffle",
            ])
            .args(["--key", KEY])
            .output()
            .expect("the replay tool runs (built by cargo test)")
    })
    .await
    .expect("ran");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("failed 0"), "{printed}");
    let left = recordings(&server).await;
    assert!(left.is_empty(), "every stream ended: {printed} {left:?}");
    let today = jiff::Timestamp::now().to_string()[..10].to_owned();
    let (_, _, body) = server
        .admin_get(&format!("/usage?from={today}&to={today}&by=rule"))
        .await;
    let usage: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        usage["rows"],
        json!([{"key": "hevc-courses", "recorded_seconds": 36000.0, "files": 120, "peak_active": usage["rows"][0]["peak_active"]}]),
        "120 files of 300 s, each counted once: {usage}"
    );
    assert!(usage["rows"][0]["peak_active"].as_u64().unwrap_or_default() >= 1);
}
