//! `recgate probe`: a minimal HTTP GET for container health checks, so the runtime image
//! needs no curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long the probe waits to connect, and then for the answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The most bytes of the answer the probe reads; only the status line matters.
const PROBE_READ_LIMIT: u64 = 4096;

/// GETs `path` from `addr` and succeeds on a 200 answer.
///
/// An unspecified address (`0.0.0.0`, `::`) is probed on loopback, so the listen address
/// can be passed as is.
pub fn probe(addr: SocketAddr, path: &str) -> Result<(), String> {
    let target = loopback_if_unspecified(addr);
    let mut stream = TcpStream::connect_timeout(&target, PROBE_TIMEOUT)
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| format!("cannot set timeouts: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send to {target}: {e}"))?;
    let mut answer = Vec::new();
    let _ = stream.take(PROBE_READ_LIMIT).read_to_end(&mut answer);
    let status_line = String::from_utf8_lossy(&answer);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{target}{path} answered {status_line:?}"))
    }
}

fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], v4.port()))
        }
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v6.port()))
        }
        other => other,
    }
}
