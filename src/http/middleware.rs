//! The middleware stack, built in one place and in order around a whole router.

use super::callback::json;
use super::error::ApiError;
use super::observe::{ObserveLayer, Routes};
use super::query_cap::{MAX_QUERY_LEN, QueryCapLayer};
use super::request_id::MakeFastRequestId;
use crate::service::AppState;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

/// A complete HTTP application as the server runs it: cloned per request, so every layer
/// in it clones cheaply (no boxing).
pub trait App:
    Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> App for T where
    T: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// What a listener answers when handling a request panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicAnswer {
    /// The default decision, 200: the public listener, so the platform still gets a
    /// valid answer.
    Decision,
    /// 500 with the API's JSON error shape: the admin listener.
    Error,
}

/// Wraps `app`, outermost first:
/// 1. `x-request-id`: kept when the client sent one, else generated; echoed back;
/// 2. metrics: requests by route and status, refusals by reason, callback latency;
/// 3. the 2,048-character query cap;
/// 4. a last resort against panics, answered as `on_panic` says.
///
/// A connection's callbacks skip this stack: `Edge` does the same for them inline.
pub fn stack<S>(app: S, state: AppState, routes: Routes, on_panic: PanicAnswer) -> impl App
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeFastRequestId::default()))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(ObserveLayer::new(Arc::clone(state.metrics()), routes))
        .layer(QueryCapLayer::new(MAX_QUERY_LEN))
        .map_response(|response: Response<_>| response.map(axum::body::Body::new))
        .layer(catch_panics(state, on_panic))
        .service(app)
}

/// A last resort around one route, answered as `on_panic` says: for routes whose panic
/// answer differs from their listener's.
pub fn catch_panics(state: AppState, on_panic: PanicAnswer) -> CatchPanicLayer<PanicHandler> {
    CatchPanicLayer::custom(PanicHandler { state, on_panic })
}

/// `catch_panics`' handler.
#[derive(Clone)]
pub struct PanicHandler {
    state: AppState,
    on_panic: PanicAnswer,
}

impl tower_http::catch_panic::ResponseForPanic for PanicHandler {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> Response {
        answer_panic(&self.state, self.on_panic, panic.as_ref())
    }
}

/// The answer when handling a request panicked, logged and counted.
pub fn answer_panic(state: &AppState, on_panic: PanicAnswer, panic: &(dyn Any + Send)) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    state.metrics().panics.inc();
    match on_panic {
        PanicAnswer::Decision => {
            tracing::error!(panic = %message, "request handling panicked; answered the default decision");
            let body = state.live().rule_set.default_decision().body().clone();
            json(Body::from(body))
        }
        PanicAnswer::Error => {
            tracing::error!(panic = %message, "request handling panicked; answered 500");
            ApiError::Internal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::convert::Infallible;
    use tower::ServiceExt;

    #[derive(Clone)]
    struct Panics;

    impl Service<axum::extract::Request> for Panics {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: axum::extract::Request) -> Self::Future {
            panic!("boom")
        }
    }

    #[tokio::test]
    async fn a_panic_is_answered_with_the_default_decision_and_counted() {
        let config = Config::from_str(
            "[default]\nrecord = true\nformats = [\"mp4\"]\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid");
        let state = AppState::new(config.rules, None, config.source);
        let app = stack(
            Panics,
            state.clone(),
            Routes::new(&["/"], Some("/")),
            PanicAnswer::Decision,
        );
        let request = Request::builder()
            .uri("/?app=x")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("answered");
        assert_eq!(response.status(), 200, "a panic still gets a decision");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(
            body,
            r#"{"ApiVersion":"1.0","NeedRecord":true,"Format":["mp4"]}"#
        );
        assert_eq!(state.metrics().panics.get(), 1, "the panic is counted");
    }

    #[tokio::test]
    async fn an_admin_panic_is_answered_500_with_the_json_error_shape_and_counted() {
        let config = Config::from_str("[default]\nrecord = true\n", std::path::Path::new("t.toml"))
            .expect("valid");
        let state = AppState::new(config.rules, None, config.source);
        let app = stack(
            Panics,
            state.clone(),
            Routes::new(&["/overrides"], None),
            PanicAnswer::Error,
        );
        let request = Request::builder()
            .method("PUT")
            .uri("/overrides")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("answered");
        assert_eq!(response.status(), 500, "an admin panic is a server error");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(json["error"], "internal", "the API's error shape: {json}");
        assert!(
            json.get("NeedRecord").is_none(),
            "not a recording decision: {json}"
        );
        assert_eq!(state.metrics().panics.get(), 1, "the panic is counted");
    }
}
