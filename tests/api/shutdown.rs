use crate::helpers::{CONFIG, ServerProcess, TestServer, config_file, fetch};
use nix::sys::signal::Signal;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[tokio::test]
async fn a_request_in_flight_at_shutdown_is_still_answered() {
    let server = TestServer::start(CONFIG).await;
    let addr = server.addr;
    // Start a request: half of its head is on the wire when shutdown begins.
    let mut stream = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .write_all(b"GET /?app=seq_all HTTP/1.1\r\nHost: x\r\n")
            .expect("first half");
        stream
    })
    .await
    .expect("connected");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let shutdown = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = tokio::task::spawn_blocking(move || {
        stream
            .write_all(b"Connection: close\r\n\r\n")
            .expect("second half");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    })
    .await
    .expect("read");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "in-flight request answered: {response:?}"
    );
    assert!(response.contains(r#""NeedRecord":true"#), "{response}");
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("shutdown completes")
        .expect("server task ok");
}

#[test]
fn sigterm_and_sigint_stop_the_process_with_exit_code_zero() {
    let config = config_file(&format!("[server]\nshutdown_grace = \"100ms\"\n{CONFIG}"));
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut server = ServerProcess::start(config.path(), &[]);
        let mut stream = TcpStream::connect(server.addr).expect("server listens");
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        server.signal(signal);
        server.wait_for_log("stopped");
        let status = server.child.wait().expect("process exits");
        assert!(status.success(), "{signal}: exit status {status}");
        drop(server);
    }
}

/// With the ledger on, a stop waits for the listeners to drain, then for the ledger to
/// write what they queued, and only then closes the store: the process ends, and every
/// decision answered before the signal is in the ledger at the next start.
#[tokio::test]
async fn with_the_ledger_on_a_stop_ends_the_process_and_writes_every_queued_decision() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("recgate.toml");
    let lifecycle = "[lifecycle]\ningest_path = \"/ingest\"\nnotify_path = \"/notify\"\n";
    let quota = "[[quota]]\nname = \"all\"\nmax_active = 1000\n";
    let rules = CONFIG.replace(
        "name = \"hevc-courses\"",
        "name = \"hevc-courses\"\nquota = \"all\"",
    );
    std::fs::write(&config, format!("{lifecycle}{quota}{rules}")).expect("config");
    let admin_flag = ["--admin-listen", "127.0.0.1:0"];
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = ServerProcess::start_quiet(&config, &admin_flag);
        for i in 0..50 {
            let url = format!(
                "http://{}/?domain=live.example.com&app=edu&stream=course-{signal}-{i}&codec=h265&vbitrate=2500",
                server.addr
            );
            let (status, _, body) = fetch(&url).await;
            assert_eq!(status, 200);
            assert!(body.contains(r#""NeedRecord":true"#), "{body}");
        }
        server.signal(signal);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = server.child.try_wait().expect("child") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{signal}: the process did not end"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "{signal}: exit status {status}");
    }
    let again = ServerProcess::start_quiet(&config, &admin_flag);
    let admin = again.admin.expect("admin listener");
    let (status, _, body) = fetch(&format!("http://{admin}/recordings?limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let items = page["items"].as_array().map_or(0, Vec::len);
    assert_eq!(
        items, 100,
        "every decision answered before a stop: {body:.300}"
    );
}
