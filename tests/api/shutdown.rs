use crate::helpers::{CONFIG, ServerProcess, TestServer, config_file};
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
