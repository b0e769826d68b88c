//! Quotas on one server with a real SQLite store: the cap under a burst, retries, slots
//! freed by `publish_done`, staleness and the admin API, shadow mode, fall-through to
//! the next rule, a reload that changes a cap, `GET /quotas` and the metrics.

use crate::helpers::{TestServer, client, fetch, metric_value, metrics_text};
use futures_util::StreamExt;
use recgate::config::Config;
use recgate::overrides::Store;
use recgate::server::reload::Reloader;
use serde_json::{Value, json};
use std::time::Duration;

/// A premium tier of `cap` slots, a cheaper fallback of 2, then no recording.
pub fn budget_config(cap: u64, mode: &str) -> String {
    format!(
        r#"
[default]
record = false

[lifecycle]
ingest_path = "/ingest"
notify_path = "/notify"

[[quota]]
name = "premium"
max_active = {cap}
mode = "{mode}"

[[quota]]
name = "cheap"
max_active = 2

[[rule]]
name = "premium"
app = "edu"
quota = "premium"
record = true
formats = ["mp4"]

[[rule]]
name = "cheap"
app = "edu"
quota = "cheap"
record = true
formats = ["m3u8"]

[[rule]]
name = "no-recording"
app = "edu"
record = false
"#
    )
}

/// The callback's answer for stream `stream` of app `edu`: the rule's format, or `no`.
pub async fn ask(base: &str, stream: &str) -> &'static str {
    let url = format!("{base}/?domain=live.example.com&app=edu&stream={stream}&codec=h264");
    let body = match client().get(url).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return "error",
    };
    if body.contains("\"mp4\"") {
        "premium"
    } else if body.contains("\"m3u8\"") {
        "cheap"
    } else if body.contains("\"NeedRecord\":false") {
        "no"
    } else {
        "error"
    }
}

async fn ingest(server: &TestServer, stream: &str, action: &str) {
    let url = server.url(&format!(
        "/ingest?action={action}&app=live.example.com&appname=edu&id={stream}"
    ));
    let response = client().get(url).send().await.expect("answered");
    assert_eq!(response.status().as_u16(), 200);
}

async fn quotas(admin: &str) -> Value {
    let (_, _, body) = fetch(&format!("{admin}/quotas")).await;
    serde_json::from_str(&body).expect("JSON")
}

/// The quota named `name` of `GET /quotas`.
pub async fn quota(admin: &str, name: &str) -> Value {
    let all = quotas(admin).await;
    let found = all["quotas"]
        .as_array()
        .and_then(|list| list.iter().find(|q| q["name"] == name).cloned());
    found.unwrap_or(Value::Null)
}

/// Polls `check` every 50 ms for up to `seconds`.
async fn within<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..seconds * 20 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Asks about `count` distinct streams `prefix-N`, `parallel` at a time; answers by kind.
pub async fn burst(
    bases: &[String],
    prefix: &str,
    count: usize,
    parallel: usize,
) -> Vec<&'static str> {
    let asks = (0..count).map(|i| {
        let base = bases[i % bases.len()].clone();
        let stream = format!("{prefix}-{i}");
        async move { ask(&base, &stream).await }
    });
    futures_util::stream::iter(asks)
        .buffer_unordered(parallel)
        .collect()
        .await
}

fn count(answers: &[&str], kind: &str) -> usize {
    answers.iter().filter(|a| **a == kind).count()
}

#[tokio::test]
async fn the_cap_holds_under_a_thousand_concurrent_starts_and_the_rest_fall_through() {
    let server = TestServer::start(&budget_config(200, "enforce")).await;
    let answers = burst(&[server.url("")], "s", 1000, 250).await;
    assert_eq!(count(&answers, "error"), 0);
    assert_eq!(count(&answers, "premium"), 200, "exactly the cap");
    assert_eq!(count(&answers, "cheap"), 2, "then the fallback's own cap");
    assert_eq!(count(&answers, "no"), 798, "then no recording");
    let admin = server.admin_url("");
    let counted = within(5, || async {
        let premium = quota(&admin, "premium").await;
        premium["active"] == 200 && premium["refused"] == 800
    })
    .await;
    assert!(counted, "{}", quota(&admin, "premium").await);
    let premium = quota(&admin, "premium").await;
    assert_eq!(premium["max_active"], 200);
    assert_eq!(premium["mode"], "enforce");
    assert_eq!(premium["admitting"], false);
    let exported = within(5, || async {
        let metrics = metrics_text(&admin, None).await;
        metric_value(&metrics, "recgate_quota_refused_total{quota=\"premium\"}") == Some(800.0)
    })
    .await;
    assert!(exported, "refusals are exported after the next sync");
    let metrics = metrics_text(&admin, None).await;
    assert_eq!(
        metric_value(&metrics, "recgate_quota_active{quota=\"premium\"}"),
        Some(200.0)
    );
    assert_eq!(
        metric_value(&metrics, "recgate_quota_max_active{quota=\"premium\"}"),
        Some(200.0)
    );
}

#[tokio::test]
async fn a_retry_keeps_its_slot_and_publish_done_frees_it() {
    let server = TestServer::start(&budget_config(1, "enforce")).await;
    let base = server.url("");
    assert_eq!(ask(&base, "a").await, "premium");
    // The platform retries after 5 s: the same answer, not a second slot.
    assert_eq!(ask(&base, "a").await, "premium");
    assert_eq!(ask(&base, "b").await, "cheap", "the one slot is a's");
    ingest(&server, "a", "publish").await;
    ingest(&server, "a", "publish_done").await;
    let freed = within(5, || async { ask(&base, "c").await == "premium" }).await;
    assert!(freed, "a's slot went to c once a ended");
}

#[tokio::test]
async fn a_stale_recording_and_an_operator_removal_free_their_slots() {
    let server = TestServer::start(&budget_config(1, "enforce")).await;
    let base = server.url("");
    let admin = server.admin_url("");
    assert_eq!(ask(&base, "a").await, "premium");
    // The decision is written, then goes silent for longer than DECIDED_TTL.
    let store = server.state.ledger().store().cloned().expect("a store");
    let Store::Sqlite(pool) = store else {
        panic!("SQLite");
    };
    let written = within(5, || async {
        sqlx::query("UPDATE recordings SET last_event = last_event - 3600000 WHERE stream = 'a'")
            .execute(&pool)
            .await
            .map(|done| done.rows_affected() == 1)
            .unwrap_or(false)
    })
    .await;
    assert!(written);
    // The sweep (every 5 s) ends it as never started; its slot frees.
    let freed = within(12, || async { ask(&base, "b").await == "premium" }).await;
    assert!(freed, "the stale recording's slot went to b");

    let url = format!("{admin}/recordings?domain=live.example.com&app=edu&stream=b");
    let removed = client().delete(&url).send().await.expect("answered");
    assert_eq!(removed.status().as_u16(), 200);
    let body: Value = removed.json().await.expect("JSON");
    assert_eq!(body["removed"]["stream"], "b");
    let again = client().delete(&url).send().await.expect("answered");
    assert_eq!(again.status().as_u16(), 404, "nothing left to remove");
    let incomplete = client()
        .delete(format!("{admin}/recordings?app=edu"))
        .send()
        .await
        .expect("answered");
    assert_eq!(incomplete.status().as_u16(), 400);
    let freed = within(5, || async { ask(&base, "c").await == "premium" }).await;
    assert!(freed, "the removed recording's slot went to c");
}

#[tokio::test]
async fn shadow_mode_refuses_nothing_and_counts_what_it_would_have_refused() {
    let server = TestServer::start(&budget_config(3, "shadow")).await;
    let answers = burst(&[server.url("")], "s", 10, 5).await;
    assert_eq!(count(&answers, "premium"), 10, "{answers:?}");
    let admin = server.admin_url("");
    let counted = within(5, || async {
        let premium = quota(&admin, "premium").await;
        premium["refused"] == 7 && premium["active"] == 10
    })
    .await;
    assert!(counted, "{}", quota(&admin, "premium").await);
}

#[tokio::test]
async fn a_reload_changes_a_cap_at_once_and_a_lower_cap_stops_nothing() {
    let server = TestServer::start(&budget_config(2, "enforce")).await;
    let base = server.url("");
    let admin = server.admin_url("");
    assert_eq!(
        count(
            &burst(std::slice::from_ref(&base), "a", 2, 2).await,
            "premium"
        ),
        2
    );
    assert_eq!(ask(&base, "full").await, "cheap");
    let config = Config::from_file(server.config.path()).expect("loads");
    let reloader = Reloader::new(&config, server.state.clone());

    std::fs::write(server.config.path(), budget_config(4, "enforce")).expect("write");
    reloader.reload("test").expect("reloads");
    let raised = within(5, || async {
        quota(&admin, "premium").await["admitting"] == true
    })
    .await;
    assert!(raised, "a raised cap hands out more slots");
    assert_eq!(ask(&base, "b-0").await, "premium");
    assert_eq!(ask(&base, "b-1").await, "premium");
    assert_eq!(ask(&base, "b-2").await, "cheap", "4 taken");

    // Lowered below the count: nothing stops, new streams are refused.
    std::fs::write(server.config.path(), budget_config(1, "enforce")).expect("write");
    reloader.reload("test").expect("reloads");
    assert_eq!(
        ask(&base, "c-0").await,
        "no",
        "refused at once (cheap is full too)"
    );
    let shown = within(5, || async {
        let premium = quota(&admin, "premium").await;
        premium["max_active"] == 1 && premium["active"] == 4
    })
    .await;
    assert!(shown, "{}", quota(&admin, "premium").await);
    // A recording of the four ends: still 3 > 1, still refused.
    ingest(&server, "a-0", "publish").await;
    ingest(&server, "a-0", "publish_done").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ask(&base, "c-1").await, "no");
}

#[tokio::test]
async fn an_override_records_over_a_full_quota_and_counts_toward_it() {
    let server = TestServer::start(&budget_config(1, "enforce")).await;
    let base = server.url("");
    let admin = server.admin_url("");
    assert_eq!(ask(&base, "a").await, "premium");
    let put = client()
        .put(format!("{admin}/overrides"))
        .json(&json!({"domain": "live.example.com", "app": "edu", "stream": "vip", "record": true, "formats": ["flv"]}))
        .send()
        .await
        .expect("answered");
    assert!(
        put.status().is_success(),
        "{}",
        put.text().await.unwrap_or_default()
    );
    let (_, _, vip) = fetch(&format!(
        "{base}/?domain=live.example.com&app=edu&stream=vip"
    ))
    .await;
    assert!(vip.contains("\"NeedRecord\":true"), "{vip}");
    let counted = within(5, || async {
        quota(&admin, "premium").await["active"] == 2
    })
    .await;
    assert!(
        counted,
        "the override's recording counts: {}",
        quota(&admin, "premium").await
    );
}

#[tokio::test]
async fn explain_names_the_full_quota_with_its_figures() {
    let server = TestServer::start(&budget_config(1, "enforce")).await;
    assert_eq!(ask(&server.url(""), "a").await, "premium");
    let admin = server.admin_url("");
    let synced = within(5, || async {
        quota(&admin, "premium").await["active"] == 1
    })
    .await;
    assert!(synced);
    let (_, _, body) = fetch(&format!(
        "{admin}/explain?domain=live.example.com&app=edu&stream=b"
    ))
    .await;
    let explained: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(explained["rule"], "cheap", "{explained}");
    assert_eq!(explained["steps"][0]["outcome"], "quota_full");
    assert_eq!(
        explained["steps"][0]["quota"],
        "quota premium full: 1/1 active"
    );
    assert_eq!(explained["steps"][1]["outcome"], "decides");
    assert_eq!(explained["steps"][1]["quota"], "quota cheap: 0/2 active");
}

#[tokio::test]
async fn hours_from_file_events_use_up_a_monthly_budget() {
    let config = budget_config(100, "enforce").replace(
        "max_active = 100",
        "max_active = 100\nmonthly_hours = 0.1\ntimezone = \"Asia/Shanghai\"",
    );
    let server = TestServer::start(&config).await;
    let base = server.url("");
    let admin = server.admin_url("");
    assert_eq!(ask(&base, "a").await, "premium");
    let now = jiff::Timestamp::now().as_second();
    let file = json!({
        "domain": "live.example.com", "app": "edu", "stream": "a", "uri": "edu/a/0.mp4",
        "duration": 400.0, "start_time": now - 400, "stop_time": now, "push_args": {}
    });
    let written = within(5, || async {
        let response = client()
            .post(server.url("/notify"))
            .json(&file)
            .send()
            .await
            .expect("answered");
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        answer["outcome"] == "applied" || answer["outcome"] == "duplicate"
    })
    .await;
    assert!(written);
    let used_up = within(5, || async {
        let premium = quota(&admin, "premium").await;
        premium["hours_this_month"] == 0.11 && premium["admitting"] == false
    })
    .await;
    assert!(used_up, "{}", quota(&admin, "premium").await);
    assert_eq!(
        ask(&base, "b").await,
        "cheap",
        "no more hours: the next rule"
    );
    let premium = quota(&admin, "premium").await;
    assert_eq!(premium["monthly_hours"], 0.1);
    assert_eq!(premium["timezone"], "Asia/Shanghai");
    let start = premium["month_start"].as_str().unwrap_or_default();
    assert!(start.ends_with("T00:00:00+08:00"), "{start}");
}

/// The ledger's writer and the quota sync write to one SQLite file: neither may fail on
/// the other's commit (each takes the write lock first, and waits for it).
#[tokio::test]
async fn lifecycle_events_are_never_refused_while_the_quotas_sync() {
    let server = TestServer::start(&budget_config(1, "enforce")).await;
    let base = server.url("");
    let now = jiff::Timestamp::now().as_second();
    let events = (0..400).map(|i| {
        let notify = server.url("/notify");
        let base = base.clone();
        async move {
            // Each refused callback wakes the sync; each file is a write of the ledger.
            let _ = ask(&base, &format!("w-{i}")).await;
            let file = json!({
                "domain": "live.example.com", "app": "edu", "stream": format!("w-{}", i % 7),
                "uri": format!("edu/w/{i}.mp4"), "duration": 1.0,
                "start_time": now, "stop_time": now + 1, "push_args": {}
            });
            let response = client().post(notify).json(&file).send().await;
            response.map(|r| r.status().as_u16()).unwrap_or_default()
        }
    });
    let statuses: Vec<u16> = futures_util::stream::iter(events)
        .buffer_unordered(16)
        .collect()
        .await;
    let refused: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        refused.is_empty(),
        "{} of 400 refused: {refused:?}",
        refused.len()
    );
}
