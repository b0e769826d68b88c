//! Callback signing and refusals of what a forged or broken caller sends.

use crate::helpers::{CONFIG, TestServer, client};
use recgate::signature::{Key, sign};

const KEY: &str = "abcdefghijklmnop1234";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

async fn signed_get(
    server: &TestServer,
    timestamp: Option<u64>,
    signature: Option<&str>,
) -> (u16, String) {
    let mut request = client().get(server.url("/?app=seq_all"));
    if let Some(timestamp) = timestamp {
        request = request.header("ALI-LIVE-TIMESTAMP", timestamp.to_string());
    }
    if let Some(signature) = signature {
        request = request.header("ALI-LIVE-SIGNATURE", signature);
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn good_signature(timestamp: u64) -> String {
    // The client sends `Host: 127.0.0.1:PORT`; the port is not signed.
    sign(
        "127.0.0.1",
        &timestamp.to_string(),
        &Key::new(KEY).expect("key"),
    )
}

fn with_auth(mode: &str) -> String {
    format!("[auth]\nmode = \"{mode}\"\nkey = \"{KEY}\"\n{CONFIG}")
}

#[tokio::test]
async fn enforce_answers_a_good_signature_and_refuses_every_bad_one_with_403() {
    let server = TestServer::start(&with_auth("enforce")).await;
    let ts = now();
    let (status, body) = signed_get(&server, Some(ts), Some(&good_signature(ts))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""NeedRecord":true"#), "{body}");

    let cases = [
        (None, None, "signature_missing"),
        (Some(ts), None, "signature_missing"),
        (Some(ts), Some("nothex".to_owned()), "signature_malformed"),
        (
            Some(ts - 3600),
            Some(good_signature(ts - 3600)),
            "signature_stale",
        ),
        (Some(ts), Some(good_signature(ts + 1)), "signature_wrong"),
    ];
    for (timestamp, signature, code) in cases {
        let (status, body) = signed_get(&server, timestamp, signature.as_deref()).await;
        assert_eq!(status, 403, "{code}: {body}");
        assert!(body.contains(&format!(r#""error":"{code}""#)), "{body}");
    }
    let (_, _, metrics) = server.admin_get("/metrics").await;
    for (reason, count) in [
        ("signature_missing", 2),
        ("signature_malformed", 1),
        ("signature_stale", 1),
        ("signature_wrong", 1),
    ] {
        let series = format!("recgate_rejected_requests_total{{reason=\"{reason}\"}} {count}");
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
}

#[tokio::test]
async fn log_mode_answers_bad_signatures_but_counts_them() {
    let server = TestServer::start(&with_auth("log")).await;
    let (status, body) = signed_get(
        &server,
        Some(now()),
        Some("0123456789abcdef0123456789abcdef"),
    )
    .await;
    assert_eq!(status, 200, "log mode never refuses");
    assert!(body.contains(r#""NeedRecord":true"#), "{body}");
    let (_, _, metrics) = server.admin_get("/metrics").await;
    assert!(
        metrics.contains("recgate_signature_failures_total{reason=\"signature_wrong\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_key_never_shows_in_rules_or_metrics() {
    let server = TestServer::start(&with_auth("enforce")).await;
    signed_get(&server, None, None).await;
    for path in ["/rules", "/metrics"] {
        let (_, _, body) = server.admin_get(path).await;
        assert!(!body.contains(KEY), "{path} leaks the key");
    }
}
