//! Callback signing and refusals of what a forged or broken caller sends.

use crate::helpers::{CONFIG, TestServer, client};
use recgate::auth::signature::{Key, sign};

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

/// Sends raw bytes on a fresh connection and reads until the server closes or 5 s pass.
async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(response: &str) -> Option<u16> {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
}

use std::time::{Duration, Instant};

const LIMITED: &str = "[server]\nheader_read_timeout = \"500ms\"\nmax_connections = 20\n";

#[tokio::test]
async fn hostile_requests_get_a_decision_or_a_clear_4xx_never_a_5xx() {
    let server = TestServer::start(&format!("{LIMITED}{CONFIG}")).await;
    let many_params = (0..1500)
        .map(|i| format!("p{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    let ampersands = "&".repeat(2000);
    let huge_header = format!(
        "GET /?app=seq_all HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(10_000)
    );
    let cases: Vec<(String, Vec<u8>, Option<u16>)> = vec![
        ("bad escapes".into(), b"GET /?app=%zz%&stream=%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(200)),
        ("NUL escape".into(), b"GET /?app=seq_all%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(200)),
        ("CR/LF escapes".into(), b"GET /?stream=a%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(200)),
        ("raw control byte in target".into(), b"GET /?app=\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(400)),
        ("many parameters".into(), format!("GET /?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &many_params[..2000]).into_bytes(), Some(200)),
        ("2,000 ampersands".into(), format!("GET /?{ampersands} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(), Some(200)),
        ("huge header".into(), huge_header.into_bytes(), Some(431)),
        ("absolute-form target".into(), b"GET http://x/?app=seq_all HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(200)),
        ("asterisk-form target".into(), b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), Some(404)),
        ("HTTP/1.0".into(), b"GET /?app=seq_all HTTP/1.0\r\n\r\n".to_vec(), Some(200)),
        ("body on GET".into(), b"GET /?app=seq_all HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec(), Some(200)),
        ("duplicate headers".into(), b"GET /?app=seq_all HTTP/1.1\r\nHost: x\r\nHost: y\r\nX-Request-Id: a\r\nX-Request-Id: b\r\nConnection: close\r\n\r\n".to_vec(), Some(200)),
        ("10,000 ampersands".into(), format!("GET /?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "&".repeat(10_000)).into_bytes(), Some(431)),
        ("garbage".into(), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), Some(400)),
    ];
    for (name, bytes, expected) in cases {
        let response = raw(server.addr, &bytes).await;
        let status = status_of(&response);
        assert_eq!(status, expected, "{name}: {response:.200}");
        assert!(status.is_none_or(|s| s < 500), "{name}: never a 5xx");
    }
    // Pipelined requests on one connection are answered in order.
    let pipelined = raw(
        server.addr,
        b"GET /?app=seq_all HTTP/1.1\r\nHost: x\r\n\r\nGET /?stream=test-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(pipelined.matches("HTTP/1.1 200").count(), 2, "{pipelined}");
    let first = pipelined
        .find(r#""NeedRecord":true"#)
        .expect("first answer");
    let second = pipelined
        .find(r#""NeedRecord":false"#)
        .expect("second answer");
    assert!(first < second, "answers keep the order of the requests");
    let (status, _, _) = server.get("/healthz").await;
    assert_eq!(status, 200, "the server is still up");
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(&format!("{LIMITED}{CONFIG}")).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"GET /?app=seq_all HTTP/1.1\r\n")
        .await
        .expect("first line");
    let mut closed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the trickling client was disconnected");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "within the 500 ms header timeout and slack"
    );
}

#[tokio::test]
async fn a_flood_of_idle_connections_cannot_stop_health_checks() {
    let server = TestServer::start(&format!("{LIMITED}{CONFIG}")).await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(
            tokio::net::TcpStream::connect(server.addr)
                .await
                .expect("connect"),
        );
    }
    let started = Instant::now();
    let (status, _, _) = server.admin_get("/healthz").await;
    assert_eq!(
        status, 200,
        "the admin listener has connection slots of its own"
    );
    let (status, _, _) = server.get("/healthz").await;
    assert_eq!(
        status, 200,
        "a fresh connection is answered once idle ones time out"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "idle connections are closed after the header timeout: {:?}",
        started.elapsed()
    );
    drop(idle);
}

#[test]
fn a_value_cannot_forge_a_log_line() {
    use crate::helpers::{ServerProcess, config_file};
    use std::io::{Read, Write};
    let file = config_file(CONFIG);
    let mut server = ServerProcess::start(file.path(), &[]);
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(
            b"GET /?stream=x%0a2026-01-01T00:00:00Z%20INFO%20forged%0d&app=%1b[31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .expect("sent");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let line = server.wait_for_log("callback");
    assert!(
        line.contains(r#"stream="x\n2026-01-01T00:00:00Z INFO forged\r""#),
        "escaped: {line}"
    );
    assert!(
        line.contains(r#"app="\u{1b}[31m""#),
        "escape sequences are escaped: {line}"
    );
    assert_eq!(line.trim_end().lines().count(), 1, "one line");
}

/// A complete request, then `shutdown(SHUT_WR)`: the answer must still come, on both
/// listeners, every time (as nginx does). Many clients at once, as probes and scripted
/// clients send them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_followed_by_a_half_close_always_gets_its_answer() {
    const CLIENTS: usize = 32;
    const ROUNDS: usize = 40;
    let server = TestServer::start(CONFIG).await;
    let admin = server.admin_addr.expect("admin listener");
    for (addr, path) in [(server.addr, "/?app=seq_all"), (admin, "/healthz")] {
        let clients = (0..CLIENTS).map(|_| {
            tokio::spawn(async move {
                let mut missing = 0;
                for _ in 0..ROUNDS {
                    if !half_closed_request(addr, path).await {
                        missing += 1;
                    }
                }
                missing
            })
        });
        let mut missing = 0;
        for client in clients.collect::<Vec<_>>() {
            missing += client.await.expect("client task");
        }
        assert_eq!(
            missing,
            0,
            "{addr}{path}: {missing} of {} half-closed requests got no answer",
            CLIENTS * ROUNDS
        );
    }
}

/// Sends one request and half-closes; whether a 200 came back before the server closed.
async fn half_closed_request(addr: std::net::SocketAddr, path: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() || stream.shutdown().await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200")
}
