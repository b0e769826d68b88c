//! The recording ledger on a real PostgreSQL: replicas share one ledger, and a database
//! that goes away costs lifecycle events a 503 (the platform retries) but never a callback.

use crate::helpers::{TestServer, client};
use crate::overrides::TOKEN;
use crate::postgres::{PgCluster, eventually, fleet_config, two_replicas};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LIFECYCLE: &str = "[lifecycle]\ningest_path = \"/ingest\"\nnotify_path = \"/notify\"\n";

/// A fleet config on `url` with the lifecycle paths.
fn config(dir: &tempfile::TempDir, url: &str) -> std::path::PathBuf {
    let path = fleet_config(dir, url, "1h");
    let text = std::fs::read_to_string(&path).expect("config");
    std::fs::write(&path, format!("{LIFECYCLE}{text}")).expect("config written");
    path
}

async fn post(addr: std::net::SocketAddr, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("http://{addr}/notify"))
        .json(body)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn streams(admin: &str) -> Vec<(String, String, u64)> {
    let response = client()
        .get(format!("{admin}/recordings"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answered");
    let page: Value = response.json().await.expect("JSON");
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["stream"].as_str().unwrap_or_default().to_owned(),
                r["state"].as_str().unwrap_or_default().to_owned(),
                r["files"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn event(stream: &str, event: &str) -> Value {
    json!({"domain": "d.example.com", "app": "live", "stream": stream, "event": event})
}

fn file(stream: &str, uri: &str) -> Value {
    json!({"domain": "d.example.com", "app": "live", "stream": stream, "uri": uri,
           "duration": 60.0, "start_time": 1_800_000_000, "stop_time": 1_800_000_060})
}

#[tokio::test]
async fn replicas_on_one_postgres_share_one_ledger() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let [(a, _admin_a), (b, admin_b)] = two_replicas(&config(&dir, &pg.url()));
    let sent = Instant::now();
    let (status, answer) = post(a.addr, &event("s1", "record_started")).await;
    assert_eq!(status, 200, "{answer}");
    let seen = eventually("replica b listing s1", Duration::from_secs(5), || async {
        streams(&admin_b).await.iter().any(|s| s.0 == "s1")
    })
    .await;
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "replica b took {seen:?}"
    );
    // The same file retried to the other replica is counted once.
    assert_eq!(
        post(a.addr, &file("s1", "f1.mp4")).await.1["outcome"],
        "applied"
    );
    assert_eq!(
        post(b.addr, &file("s1", "f1.mp4")).await.1["outcome"],
        "duplicate"
    );
    assert_eq!(
        streams(&admin_b).await,
        [("s1".to_owned(), "recording".to_owned(), 1)]
    );
    // Many events at once, split across both replicas, land exactly once each.
    let sends = (0..200).map(|i| {
        let addr = if i % 2 == 0 { a.addr } else { b.addr };
        tokio::spawn(async move { post(addr, &file("s1", &format!("burst-{}.mp4", i / 2))).await })
    });
    for send in sends.collect::<Vec<_>>() {
        assert_eq!(send.await.expect("sent").0, 200);
    }
    assert_eq!(
        streams(&admin_b).await[0].2,
        101,
        "f1 and 100 distinct burst files"
    );
}

#[tokio::test]
async fn with_postgres_down_lifecycle_events_get_503_and_callbacks_still_answer() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let text = std::fs::read_to_string(config(&dir, &pg.url())).expect("config");
    let server = TestServer::start(&text).await;
    assert_eq!(
        post(server.addr, &event("s1", "record_started")).await.0,
        200
    );
    pg.stop_server();
    let (status, answer) = post(server.addr, &event("s1", "record_paused")).await;
    assert_eq!(
        (status, &answer["error"]),
        (503, &json!("ledger_unavailable")),
        "{answer}"
    );
    let callback = client()
        .get(server.url("/?domain=d.example.com&app=live&stream=test-1"))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        callback.status(),
        200,
        "the callback never waits on the database"
    );
    pg.start_server();
    eventually("the ledger back", Duration::from_secs(15), || async {
        post(server.addr, &event("s1", "record_paused")).await.0 == 200
    })
    .await;
    let admin = server.admin_url("");
    assert_eq!(
        streams(&admin).await,
        [("s1".to_owned(), "paused".to_owned(), 0)]
    );
}
