//! The service each connection runs: the recording callback answered inline, every other
//! request handed to the tower application.
//!
//! The callback is nearly all of the traffic and its answer is a synchronous function of
//! the request, so it skips what a general request needs: no clone of the middleware
//! stack, no boxed bodies, no extractors, one start time for both the log and the
//! histogram. It does what the stack would do for it (request id, metrics, query cap,
//! panic answer); `a_callback_gets_the_same_answer_inline_and_through_the_stack` holds the
//! two paths to the same responses and metrics.

use super::callback::{self, json};
use super::middleware::{App, PanicAnswer, answer_panic};
use super::observe::record;
use super::query_cap::MAX_QUERY_LEN;
use super::request_id::{MakeFastRequestId, REQUEST_ID_HEADER};
use crate::service::AppState;
use crate::telemetry::metrics::{RequestLabels, RouteLabel};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
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
        let id_text = id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let decided = std::panic::catch_unwind(AssertUnwindSafe(|| {
            callback::decide(
                &self.state,
                request.uri(),
                request.headers(),
                id_text,
                started,
            )
        }));
        let mut response = match decided {
            Ok(Ok(body)) => json(EdgeBody::Left(Full::new(body))),
            Ok(Err(error)) => error.into_response().map(EdgeBody::Right),
            Err(panic) => answer_panic(&self.state, PanicAnswer::Decision, panic.as_ref())
                .map(EdgeBody::Right),
        };
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

    /// The metrics a request leaves behind, sorted, without latencies and load times, nor
    /// the callback's 200 series that the inline path creates at 0 at startup.
    fn counted(state: &AppState) -> Vec<String> {
        let mut lines: Vec<String> = state
            .metrics()
            .render()
            .lines()
            .filter(|l| !l.starts_with("recgate_decision_duration_seconds_bucket"))
            .filter(|l| !l.starts_with("recgate_decision_duration_seconds_sum"))
            .filter(|l| !l.starts_with("recgate_config_last_reload_success_timestamp"))
            .filter(|l| !(l.starts_with("recgate_http_requests_total") && l.ends_with(" 0")))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
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
                counted(&inline_state),
                counted(&stack_state),
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
