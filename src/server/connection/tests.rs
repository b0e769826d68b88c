//! The callback answered from the socket against hyper: the same bytes for the same
//! requests, whichever way each is answered and wherever hyper takes over.

use super::*;
use crate::config::Config;
use crate::http::router;
use crate::service::AppState;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;

const CONFIG: &str = r#"
[server]
header_read_timeout = "300ms"

[default]
record = false

[[rule]]
name = "courses"
stream = "course-*"
record = true
formats = ["mp4", "m3u8"]
"#;

fn limits() -> Limits {
    let config = Config::from_str(CONFIG, Path::new("t.toml")).expect("valid config");
    config.server.limits
}

fn edge() -> (Edge<impl App>, AppState) {
    edge_for(CONFIG)
}

fn edge_for(config: &str) -> (Edge<impl App>, AppState) {
    let config = Config::from_str(config, Path::new("t.toml")).expect("valid config");
    let state = AppState::new(config.rules, config.auth, config.source);
    let edge = Edge::with_callback(
        router(state.clone(), "/", Duration::from_secs(5)),
        "/",
        state.clone(),
    );
    (edge, state)
}

/// A listener serving each connection as the server does (`fast`) or with hyper alone.
async fn listener(fast: bool, stopping: CancellationToken) -> (std::net::SocketAddr, AppState) {
    listener_for(CONFIG, fast, stopping).await
}

async fn listener_for(
    config: &str,
    fast: bool,
    stopping: CancellationToken,
) -> (std::net::SocketAddr, AppState) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let (service, state) = edge_for(config);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (service, stopping) = (service.clone(), stopping.clone());
            match fast {
                true => tokio::spawn(serve(stream, service, limits(), stopping)),
                false => tokio::spawn(serve_with_hyper(
                    stream,
                    BytesMut::new(),
                    service,
                    limits(),
                    stopping,
                )),
            };
        }
    });
    (addr, state)
}

/// Sends `pieces` (a pause between each), half-closes, and reads the answer to the end.
async fn exchange(addr: std::net::SocketAddr, pieces: &[Vec<u8>]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    // A server that refuses a request may close before all of it is sent.
    for piece in pieces {
        if stream.write_all(piece).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server ends the connection")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let date = regex::Regex::new(r"date: [^\r]+\r\n").expect("a regex");
    let generated = regex::Regex::new(
        r"x-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\n",
    )
    .expect("a regex");
    let answer = date.replace_all(&answer, "date: <date>\r\n");
    generated
        .replace_all(&answer, "x-request-id: <generated>\r\n")
        .into_owned()
}

const GET: &str = "GET /?domain=live.example.com&app=edu&stream=course-7&codec=h265&vbitrate=2500 HTTP/1.1\r\nHost: live.example.com\r\nX-Request-Id: id-1\r\n\r\n";
const MISS: &str =
    "GET /?app=edu&stream=other%20one HTTP/1.1\r\nhost: a\r\nx-REQUEST-id: id-2\r\n\r\n";
const HEAD: &str = "HEAD /?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-3\r\n\r\n";
const HEALTH: &str = "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-4\r\n\r\n";

fn cases() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let one = |text: &str| vec![text.as_bytes().to_vec()];
    let long_query = format!(
        "GET /?stream=course-1&pad={} HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-5\r\n\r\n",
        "x".repeat(crate::http::MAX_QUERY_LEN)
    );
    let big_head = format!(
        "GET /?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-6\r\nX-Pad: {}\r\n\r\n",
        "y".repeat(9000)
    );
    vec![
        ("a callback", one(GET)),
        ("a callback no rule matches", one(MISS)),
        (
            "a callback without a request id",
            one("GET /?stream=course-2 HTTP/1.1\r\nHost: a\r\n\r\n"),
        ),
        ("HEAD", one(HEAD)),
        ("three pipelined", one(&format!("{GET}{HEAD}{MISS}"))),
        (
            "a callback, a health check, a callback",
            one(&format!("{GET}{HEALTH}{MISS}")),
        ),
        ("a health check first", one(&format!("{HEALTH}{GET}"))),
        (
            "a POST to the callback path",
            one(
                "POST /?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-7\r\nContent-Length: 2\r\n\r\nhi",
            ),
        ),
        (
            "Connection: close",
            one(&format!(
                "GET /?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-8\r\nConnection: close\r\n\r\n{GET}"
            )),
        ),
        (
            "Connection: keep-alive, then close",
            one(&format!(
                "GET /?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-11\r\nConnection: Keep-Alive, TE\r\n\r\n{HEAD}GET /?stream=course-3 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-12\r\nconnection: CLOSE\r\n\r\n"
            )),
        ),
        (
            "a callback with a fragment",
            one(
                "GET /?app=edu#&stream=course-4 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-14\r\n\r\n",
            ),
        ),
        (
            "a query with bytes hyper refuses",
            one("GET /?stream=course-1&x=\"<> HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-15\r\n\r\n"),
        ),
        (
            "a callback with bytes hyper takes in its query",
            one(
                "GET /?stream=course-1&x={}|\\^`[]%zz%E9 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-16\r\n\r\n",
            ),
        ),
        (
            "Connection: upgrade",
            one(
                "GET /?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-13\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            ),
        ),
        (
            "HTTP/1.0",
            one("GET /?stream=course-1 HTTP/1.0\r\nX-Request-Id: id-9\r\n\r\n"),
        ),
        ("a query over the cap", one(&long_query)),
        ("a head over the limit", one(&big_head)),
        ("no HTTP at all", one("NOT HTTP\r\n\r\n")),
        (
            "a callback in pieces",
            GET.as_bytes().chunks(9).map(<[u8]>::to_vec).collect(),
        ),
        (
            "a callback, then half a head",
            one(&format!("{GET}GET /?stream=cour")),
        ),
        (
            "another path under the callback's",
            one("GET /x?stream=course-1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-10\r\n\r\n"),
        ),
    ]
}

#[tokio::test]
async fn every_request_gets_the_bytes_hyper_would_send() {
    let stopping = CancellationToken::new();
    let (fast, fast_state) = listener(true, stopping.clone()).await;
    let (hyper, hyper_state) = listener(false, stopping.clone()).await;
    for (case, pieces) in cases() {
        let (from_fast, from_hyper) = (
            exchange(fast, &pieces).await,
            exchange(hyper, &pieces).await,
        );
        assert_eq!(from_fast, from_hyper, "{case}");
        assert!(from_fast.starts_with("HTTP/1."), "{case}: {from_fast}");
        assert_eq!(
            crate::http::counted_metrics(&fast_state),
            crate::http::counted_metrics(&hyper_state),
            "{case}: the same metrics"
        );
    }
}

#[test]
fn plain_callbacks_are_answered_from_the_buffer_and_the_rest_left_for_hyper() {
    let (edge, _) = edge();
    let ways = |text: &str| {
        let mut read = BytesMut::from(text.as_bytes());
        let mut out = Vec::new();
        let next = answer_one(&edge, &mut read, &mut out, limits().max_head_bytes);
        (next, read.len(), out.len())
    };
    for plain in [GET, MISS, HEAD] {
        let (next, left, written) = ways(plain);
        assert!(matches!(next, Next::Answered(_)), "{plain}");
        assert_eq!(left, 0, "{plain}: the head is taken off");
        assert!(written > 0, "{plain}");
    }
    for (case, pieces) in cases().into_iter().skip(6) {
        let text = String::from_utf8(pieces.concat()).expect("text");
        // Callbacks, and those that ask to close after them, are answered from the socket.
        if case.starts_with("a callback") || case.starts_with("Connection: keep-alive") {
            continue;
        }
        if case == "Connection: close" {
            let (next, ..) = ways(&text);
            assert!(
                matches!(next, Next::Answered(answer) if answer.close),
                "{case}"
            );
            continue;
        }
        let (next, left, written) = ways(&text);
        assert!(matches!(next, Next::Other), "{case}");
        assert_eq!(
            (left, written),
            (text.len(), 0),
            "{case}: left whole for hyper"
        );
    }
    let (next, ..) = ways("GET /?stream=cour");
    assert!(matches!(next, Next::Partial));
}

#[tokio::test]
async fn a_head_not_complete_within_the_timeout_closes_the_connection() {
    let (addr, _) = listener(true, CancellationToken::new()).await;
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(GET.as_bytes()).await.expect("sent");
    stream
        .write_all(b"GET /?stream=course-1 HT")
        .await
        .expect("sent");
    let mut answer = Vec::new();
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer))
        .await
        .expect("closed by the server, not left open")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 1, "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
    );
}

#[tokio::test]
async fn an_idle_connection_ends_when_the_server_stops() {
    let stopping = CancellationToken::new();
    let (addr, _) = listener(true, stopping.clone()).await;
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(GET.as_bytes()).await.expect("sent");
    let mut first = vec![0; 4096];
    let read = stream.read(&mut first).await.expect("answered");
    assert!(String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 200 OK"));
    stopping.cancel();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_millis(200), stream.read_to_end(&mut rest))
        .await
        .expect("closed at once, well within the header read timeout")
        .expect("read");
    assert!(rest.is_empty());
}

#[tokio::test]
async fn signed_callbacks_and_refused_ones_get_the_bytes_hyper_would_send() {
    let signed_config = format!(
        "[auth]\nmode = \"enforce\"\nkey = \"k3yForTests01234\"\n{}",
        CONFIG.replace("[server]\nheader_read_timeout = \"300ms\"\n", "")
    );
    let stopping = CancellationToken::new();
    let (fast, fast_state) = listener_for(&signed_config, true, stopping.clone()).await;
    let (hyper, hyper_state) = listener_for(&signed_config, false, stopping.clone()).await;
    let now = jiff::Timestamp::now().as_second().to_string();
    let key = crate::auth::signature::Key::new("k3yForTests01234").expect("a valid key");
    let signature = crate::auth::signature::sign("live.example.com", &now, &key);
    let good = format!(
        "GET /?stream=course-1 HTTP/1.1\r\nHost: live.example.com\r\nX-Request-Id: s-1\r\nALI-LIVE-TIMESTAMP: {now}\r\nALI-LIVE-SIGNATURE: {signature}\r\n\r\n"
    );
    let forged = good.replace(&signature, &"0".repeat(signature.len()));
    for (case, request, status) in [
        ("signed", good.as_str(), "200 OK"),
        ("forged", forged.as_str(), "403 Forbidden"),
        ("unsigned", GET, "403 Forbidden"),
    ] {
        let pieces = [request.as_bytes().to_vec()];
        let (from_fast, from_hyper) = (
            exchange(fast, &pieces).await,
            exchange(hyper, &pieces).await,
        );
        assert_eq!(from_fast, from_hyper, "{case}");
        assert!(
            from_fast.starts_with(&format!("HTTP/1.1 {status}")),
            "{case}: {from_fast}"
        );
        assert_eq!(
            crate::http::counted_metrics(&fast_state),
            crate::http::counted_metrics(&hyper_state),
            "{case}: the same metrics"
        );
        let (edge, _) = edge_for(&signed_config);
        let mut read = BytesMut::from(request.as_bytes());
        let next = answer_one(&edge, &mut read, &mut Vec::new(), limits().max_head_bytes);
        assert!(
            matches!(next, Next::Answered(_)),
            "{case}: answered from the socket"
        );
    }
}
