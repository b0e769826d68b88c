//! Responses written as bytes, for the callback answered without hyper: the same status
//! line, headers in the same order (the response's own, `connection: close` when the
//! client asked to close, then `content-length` and `date`) and body that hyper writes
//! for the same response.
//!
//! `shape` is `(head_only, close)`: the answer to a `HEAD` (no body), and to a request
//! that asked to close the connection.

use axum::body::Body;
use axum::http::{HeaderValue, Response};
use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use std::cell::RefCell;
use std::time::{Duration, UNIX_EPOCH};

/// The 200 of a decision: `body` as JSON, with its request id, dated `second` (since the
/// epoch).
pub fn ok(
    out: &mut Vec<u8>,
    id: Option<&HeaderValue>,
    body: &Bytes,
    shape: (bool, bool),
    second: u64,
) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n");
    if let Some(id) = id {
        out.extend_from_slice(b"x-request-id: ");
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    end_of_head(out, body.len(), shape, second);
    if !shape.0 {
        out.extend_from_slice(body);
    }
}

/// Any other response whose body is ready (an error's JSON, the panic answer), dated
/// `second`.
pub fn response(out: &mut Vec<u8>, response: Response<Body>, shape: (bool, bool), second: u64) {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .now_or_never()
        .and_then(Result::ok)
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or("<none>")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    end_of_head(out, body.len(), shape, second);
    if !shape.0 {
        out.extend_from_slice(&body);
    }
}

/// `connection: close` if asked, `content-length`, `date` and the blank line.
fn end_of_head(out: &mut Vec<u8>, length: usize, (_, close): (bool, bool), second: u64) {
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
    out.extend_from_slice(b"\r\ndate: ");
    date(out, second);
    out.extend_from_slice(b"\r\n\r\n");
}

thread_local! {
    /// The `date` header's value for the second last answered on this thread.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `second` as an HTTP date (`Tue, 01 Dec 2026 19:40:00 GMT`), formatted once a second.
fn date(out: &mut Vec<u8>, second: u64) {
    let at = UNIX_EPOCH + Duration::from_secs(second);
    let cached = DATE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return false;
        };
        if cache.0 != second {
            *cache = (second, httpdate::fmt_http_date(at));
        }
        out.extend_from_slice(cache.1.as_bytes());
        true
    });
    if cached != Ok(true) {
        out.extend_from_slice(httpdate::fmt_http_date(at).as_bytes());
    }
}
