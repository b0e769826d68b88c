//! The middleware stack, built in one place and in order around a whole router.

use super::observe::{ObserveLayer, Routes};
use super::query_cap::{MAX_QUERY_LEN, QueryCapLayer};
use super::request_id::MakeFastRequestId;
use crate::state::AppState;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::response::Response;
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

/// Wraps `app`, outermost first:
/// 1. `x-request-id`: kept when the client sent one, else generated; echoed back;
/// 2. metrics: requests by route and status, refusals by reason, callback latency;
/// 3. the 2,048-character query cap.
///
/// Panics are caught closer to the handlers: `CallbackRoute` around the callback (no
/// allocation on the hot path), `catch_panics` around the router. A connection's callbacks
/// skip this stack: `Edge` does the same for them inline.
pub fn stack<S>(app: S, state: AppState, routes: Routes) -> impl App
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
        .layer(CatchPanicLayer::custom(
            move |panic: Box<dyn Any + Send>| answer_panic(&state, panic.as_ref()),
        ))
        .service(app)
}

/// A last resort around a router: a panic is logged, counted and answered with the
/// default decision.
pub fn catch_panics<S>(service: S, state: AppState) -> impl App
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    ServiceBuilder::new()
        .map_response(|response: Response<_>| response.map(axum::body::Body::new))
        .layer(CatchPanicLayer::custom(
            move |panic: Box<dyn Any + Send>| answer_panic(&state, panic.as_ref()),
        ))
        .service(service)
}

/// The answer when handling a request panicked: the default decision, so the platform
/// still gets a valid answer.
pub fn answer_panic(state: &AppState, panic: &(dyn Any + Send)) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    state.metrics().panics.inc();
    tracing::error!(panic = %message, "request handling panicked; answered the default decision");
    let body = state.rules().rules.default_answer().body.clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use axum::body::Body;
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
            catch_panics(Panics, state.clone()),
            state.clone(),
            Routes::new(&["/"], Some("/")),
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
}
