//! The service each connection runs: the recording callback answered inline, every other
//! request handed to the tower application.
//!
//! The callback is nearly all of the traffic and its answer is a synchronous function of
//! the request, so it skips what a general request needs: no clone of the middleware
//! stack, no boxed bodies, no extractors, one start time for both the log and the
//! histogram. It does what the stack would do for it (request id, metrics, query cap,
//! panic answer); `a_callback_gets_the_same_answer_inline_and_through_the_stack` holds the
//! two paths to the same responses and metrics.

use super::callback::json;
use super::middleware::{App, PanicAnswer, answer_panic};
use super::observe::record;
use super::query_cap::MAX_QUERY_LEN;
use super::request_id::{MakeFastRequestId, REQUEST_ID_HEADER};
use crate::service::AppState;
use crate::service::callback::{CallbackRequest, Headers};
use crate::telemetry::metrics::{RequestLabels, RouteLabel};
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use futures_util::future::{BoxFuture, Either, FutureExt, Ready, ready};
use http_body_util::Full;
use prometheus_client::metrics::counter::Counter;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

/// A response body: a prepared callback answer, or whatever the application sent.
pub type EdgeBody = http_body_util::Either<Full<Bytes>, Body>;

/// The response future: ready at once for the callback, the application's otherwise.
pub type EdgeFuture = Either<Ready<EdgeResult>, BoxFuture<'static, EdgeResult>>;

type EdgeResult = Result<Response<EdgeBody>, Infallible>;

/// A hyper service: `app`, with the callback (if any) answered in front of it.
#[derive(Clone)]
pub struct Edge<A> {
    callback: Option<Arc<Callback>>,
    app: A,
}

/// What the inline callback needs, resolved once.
struct Callback {
    path: Box<str>,
    state: AppState,
    ids: MakeFastRequestId,
    route: RouteLabel,
    /// `recgate_http_requests_total{route=<callback>,status="200"}`.
    ok: Counter,
}

impl<A: App> Edge<A> {
    /// Serves every request with `app`.
    pub fn new(app: A) -> Edge<A> {
        Edge {
            callback: None,
            app,
        }
    }

    /// Whether this edge answers callbacks itself (the public listener's does).
    pub fn answers_callbacks(&self) -> bool {
        self.callback.is_some()
    }

    /// Answers `GET|HEAD path` inline from `state`, everything else with `app`.
    pub fn with_callback(app: A, path: &str, state: AppState) -> Edge<A> {
        let route = RouteLabel::from(path);
        let ok = state
            .metrics()
            .http_requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                status: StatusCode::OK.as_u16(),
            })
            .clone();
        Edge {
            callback: Some(Arc::new(Callback {
                path: path.into(),
                state,
                ids: MakeFastRequestId::default(),
                route,
                ok,
            })),
            app,
        }
    }
}

impl Callback {
    /// Whether the request is one the inline path answers: anything else (another path or
    /// method, an over-long query) gets the application's full treatment.
    fn takes<B>(&self, request: &Request<B>) -> bool {
        matches!(*request.method(), Method::GET | Method::HEAD)
            && request.uri().path() == &*self.path
            && request.uri().query().map_or(0, str::len) <= MAX_QUERY_LEN
    }

    fn answer<B>(&self, request: &Request<B>) -> Response<EdgeBody> {
        let started = Instant::now();
        let id = match request.headers().get(REQUEST_ID_HEADER) {
            Some(given) => Some(given.clone()),
            None => self.ids.next_id(),
        };
        let query = request.uri().query().unwrap_or_default();
        let now = jiff::Timestamp::now();
        let response = match self.decide(query, request.headers(), id.as_ref(), started, now) {
            Ok(body) => json(EdgeBody::Left(Full::new(body))),
            Err(refused) => (*refused).map(EdgeBody::Right),
        };
        self.finish(response, id, started)
    }

    /// The body of the decision on `query` (request id `id`, taken up at `started`), or
    /// the response that stands in for it: a signature refused, or the answer to a panic.
    fn decide(
        &self,
        query: &str,
        headers: &dyn Headers,
        id: Option<&HeaderValue>,
        started: Instant,
        now: jiff::Timestamp,
    ) -> Result<Bytes, Box<Response<Body>>> {
        let request_id = id.and_then(|v| v.to_str().ok()).unwrap_or_default();
        let request = CallbackRequest {
            query,
            headers,
            request_id,
            started,
        };
        let decided = std::panic::catch_unwind(AssertUnwindSafe(|| {
            crate::service::callback::answer(&self.state, &request, now)
        }));
        match decided {
            Ok(Ok(body)) => Ok(body),
            // Rare: boxed, so the common answer stays small.
            Ok(Err(failure)) => Err(Box::new(
                super::ApiError::Forbidden(failure).into_response(),
            )),
            Err(panic) => Err(Box::new(answer_panic(
                &self.state,
                PanicAnswer::Decision,
                panic.as_ref(),
            ))),
        }
    }

    /// `response` with its request id, counted and timed.
    fn finish<B>(
        &self,
        mut response: Response<B>,
        id: Option<HeaderValue>,
        started: Instant,
    ) -> Response<B> {
        if let Some(id) = id {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        record(
            self.state.metrics(),
            &self.route,
            true,
            started,
            &response,
            Some(&self.ok),
        );
        response
    }
}

impl<A, B> hyper::service::Service<Request<B>> for Edge<A>
where
    A: App,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<EdgeBody>;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn call(&self, request: Request<B>) -> EdgeFuture {
        if let Some(callback) = &self.callback
            && callback.takes(&request)
        {
            return Either::Left(ready(Ok(callback.answer(&request))));
        }
        let app = self.app.clone().oneshot(request.map(Body::new));
        Either::Right(
            app.map(|answered| answered.map(|r| r.map(EdgeBody::Right)))
                .boxed(),
        )
    }
}

/// Headers of the most that a head read from the socket may carry; one with more is
/// handed to hyper, which allows 100.
pub const MAX_RAW_HEADERS: usize = 32;

/// A request head as read from the socket (`server::connection`), which the edge may answer
/// without hyper.
pub type RawHead<'h, 'b> = httparse::Request<'h, 'b>;

/// Headers of a raw head, looked up by name whatever its case.
struct RawHeaders<'a>(&'a [httparse::Header<'a>]);

impl Headers for RawHeaders<'_> {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

impl<A: App> Edge<A> {
    /// Answers `head` into `out`, as an HTTP/1.1 response whole, when it is a callback the
    /// edge answers without hyper: `GET` or `HEAD` of the callback path over HTTP/1.1,
    /// within the query cap, with no body and no `Expect`, `Upgrade` or `Connection:
    /// upgrade` header. Anything else returns `None` having written and counted nothing,
    /// for hyper to answer.
    pub fn answer_raw(&self, head: &RawHead<'_, '_>, out: &mut Vec<u8>) -> Option<RawAnswer> {
        let callback = self.callback.as_ref()?;
        let taken = callback.takes_raw(head)?;
        let at = callback.answer_raw(head, &taken, out);
        Some(RawAnswer {
            at,
            close: taken.close,
        })
    }
}

/// A callback answered from a raw head.
#[derive(Debug, Clone, Copy)]
pub struct RawAnswer {
    /// When it was taken up.
    pub at: Instant,
    /// The client asked to close the connection after it (`Connection: close`); the
    /// answer says so too.
    pub close: bool,
}

/// What a raw head the edge answers itself asks for.
struct Taken<'b> {
    query: &'b str,
    given_id: Option<HeaderValue>,
    close: bool,
}

impl Callback {
    /// The query and the `x-request-id` of a head the edge answers itself.
    fn takes_raw<'b>(&self, head: &RawHead<'_, 'b>) -> Option<Taken<'b>> {
        if !matches!(head.method?, "GET" | "HEAD") || head.version? != 1 {
            return None;
        }
        // As `http::Uri` reads a request target: a fragment is dropped.
        let target = head.path?;
        let target = target.split_once('#').map_or(target, |(target, _)| target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != &*self.path || query.len() > MAX_QUERY_LEN {
            return None;
        }
        // Bytes `http::Uri` refuses in a query (hyper answers 400), which `httparse` lets by.
        if query
            .bytes()
            .any(|b| matches!(b, b'"' | b'<' | b'>' | 0x7f))
        {
            return None;
        }
        let mut taken = Taken {
            query,
            given_id: None,
            close: false,
        };
        for header in head.headers.iter() {
            let name = header.name;
            if ["content-length", "transfer-encoding", "expect", "upgrade"]
                .iter()
                .any(|framing| name.eq_ignore_ascii_case(framing))
            {
                return None;
            }
            if name.eq_ignore_ascii_case("connection") {
                for option in std::str::from_utf8(header.value).ok()?.split(',') {
                    let option = option.trim();
                    if option.eq_ignore_ascii_case("upgrade") {
                        return None;
                    }
                    taken.close |= option.eq_ignore_ascii_case("close");
                }
            }
            if taken.given_id.is_none() && name.eq_ignore_ascii_case(REQUEST_ID_HEADER.as_str()) {
                taken.given_id = Some(HeaderValue::from_bytes(header.value).ok()?);
            }
        }
        Some(taken)
    }

    /// What `answer` does, for a raw head: the same decision, metrics and log line, and
    /// the bytes hyper would have sent for it.
    fn answer_raw(&self, head: &RawHead<'_, '_>, taken: &Taken<'_>, out: &mut Vec<u8>) -> Instant {
        let started = Instant::now();
        let id = taken.given_id.clone().or_else(|| self.ids.next_id());
        let head_only = head.method == Some("HEAD");
        let now = jiff::Timestamp::now();
        let second = u64::try_from(now.as_second()).unwrap_or_default();
        let shape = (head_only, taken.close);
        let headers = RawHeaders(head.headers);
        match self.decide(taken.query, &headers, id.as_ref(), started, now) {
            Ok(body) => {
                // What `finish` records for a 200, without building the response.
                super::raw::ok(out, id.as_ref(), &body, shape, second);
                self.state
                    .metrics()
                    .decision_duration
                    .observe(started.elapsed().as_secs_f64());
                self.ok.inc();
            }
            Err(refused) => {
                let refused = self.finish(*refused, id, started);
                super::raw::response(out, refused, shape, second);
            }
        }
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::http::router;
    use futures_util::FutureExt;
    use hyper::service::Service;
    use std::path::Path;
    use std::time::Duration;

    const CONFIG: &str = r#"
[auth]
mode = "enforce"
key = "k3yForTests01234"

[default]
record = false

[[rule]]
name = "courses"
stream = "course-*"
record = true
formats = ["mp4", "m3u8"]
"#;

    fn state() -> AppState {
        let config = Config::from_str(CONFIG, Path::new("t.toml")).expect("valid config");
        AppState::new(config.rules, config.auth, config.source)
    }

    /// Status, headers (but a generated request id, which only has to look like one) and
    /// body of an answer.
    fn seen(response: Response<EdgeBody>) -> (u16, Vec<(String, String)>, Bytes) {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                match name == REQUEST_ID_HEADER && value.len() == 36 {
                    true => (name.to_string(), "<generated>".to_owned()),
                    false => (name.to_string(), value),
                }
            })
            .collect();
        let body = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(
            response.into_body(),
        ))
        .expect("a ready body")
        .expect("a body")
        .to_bytes();
        (status, headers, body)
    }

    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn request(method: &str, uri: &str, headers: Headers) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).expect("a valid request")
    }

    #[test]
    fn a_callback_gets_the_same_answer_inline_and_through_the_stack() {
        let now = jiff::Timestamp::now().as_second().to_string();
        let key = crate::auth::signature::Key::new("k3yForTests01234").expect("a valid key");
        let signature = crate::auth::signature::sign("live.example.com", &now, &key);
        let signed = [
            ("host", "live.example.com"),
            ("ali-live-timestamp", now.as_str()),
            ("ali-live-signature", signature.as_str()),
        ];
        let with_id = [
            signed[0],
            signed[1],
            signed[2],
            ("x-request-id", "given-id-7"),
        ];
        let long = format!("/?stream=course-1&pad={}", "x".repeat(MAX_QUERY_LEN));
        let cases: Vec<(&str, &str, Headers)> = vec![
            ("GET", "/?app=edu&stream=course-7&codec=h265", &signed),
            ("GET", "/?stream=other", &signed),
            ("GET", "/?stream=course-7", &with_id),
            ("HEAD", "/?stream=course-7", &signed),
            ("GET", "/?stream=course-7", &[]),
            ("GET", "/?stream=course-7", &[("x-request-id", "unsigned")]),
            ("POST", "/?stream=course-7", &signed),
            ("GET", &long, &signed),
            ("GET", "/healthz", &[]),
            ("GET", "/elsewhere?stream=course-7", &signed),
        ];
        for (method, uri, headers) in cases {
            let inline_state = state();
            let stack_state = state();
            let edge = Edge::with_callback(
                router(inline_state.clone(), "/", Duration::from_secs(5)),
                "/",
                inline_state.clone(),
            );
            let stack = Edge::new(router(stack_state.clone(), "/", Duration::from_secs(5)));
            let answer = |service: &Edge<_>| {
                let response = service
                    .call(request(method, uri, headers))
                    .now_or_never()
                    .expect("answered at once")
                    .expect("infallible");
                seen(response)
            };
            let inline = answer(&edge);
            assert_eq!(inline, answer(&stack), "{method} {uri} {headers:?}");
            assert_eq!(
                crate::http::counted_metrics(&inline_state),
                crate::http::counted_metrics(&stack_state),
                "{method} {uri} {headers:?}: the same metrics"
            );
        }
    }

    #[test]
    fn only_callbacks_within_the_cap_are_answered_inline() {
        let state = state();
        let edge = Edge::with_callback(
            router(state.clone(), "/cb", Duration::from_secs(5)),
            "/cb",
            state,
        );
        let callback = edge.callback.as_deref().expect("a callback");
        let takes = |method: &str, uri: &str| callback.takes(&request(method, uri, &[]));
        assert!(takes("GET", "/cb?stream=a"));
        assert!(takes("HEAD", "/cb"));
        assert!(
            !takes("POST", "/cb?stream=a"),
            "other methods: the stack's 405"
        );
        assert!(!takes("GET", "/cb/x?stream=a"), "other paths");
        assert!(!takes("GET", "/?stream=a"), "other paths");
        let at_cap = format!("/cb?{}", "a".repeat(MAX_QUERY_LEN));
        let over = format!("/cb?{}", "a".repeat(MAX_QUERY_LEN + 1));
        assert!(takes("GET", &at_cap), "a query at the cap");
        assert!(!takes("GET", &over), "over the cap: the stack's 414");
    }
}
