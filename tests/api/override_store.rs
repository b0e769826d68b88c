//! Runtime overrides and their SQLite store: durability across kill -9, replicas sharing a
//! file, resyncs, paging, and the CLI.

use crate::helpers::{ServerProcess, TestServer, fetch, recgate};
use crate::overrides::{SAMPLE_BODY, SAMPLE_QUERY, TOKEN, call, config_with_token, own_store, put};
use serde_json::json;
use std::net::SocketAddr;

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
