//! The middleware stack, built in one place and in order around a whole router.

use super::observe::{ObserveLayer, Routes};
use super::query_cap::{MAX_QUERY_LEN, QueryCapLayer};
use super::request_id::MakeFastRequestId;
use crate::metrics::Metrics;
use axum::body::Body;
use axum::response::Response;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Service, ServiceBuilder};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

/// A complete HTTP application as the server runs it: cloned per request, so every layer
/// in it clones cheaply (no boxing).
pub trait App:
    Service<
        hyper::Request<Incoming>,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> App for T where
    T: Service<
            hyper::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Wraps `app`, outermost first:
/// 1. the body type hyper reads becomes axum's;
/// 2. `x-request-id`: kept when the client sent one, else generated; echoed back;
/// 3. metrics: requests by route and status, refusals by reason, callback latency;
/// 4. the 2,048-character query cap.
pub fn stack<S>(app: S, metrics: Arc<Metrics>, routes: Routes) -> impl App
where
    S: Service<axum::extract::Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    ServiceBuilder::new()
        .map_request(|request: hyper::Request<Incoming>| request.map(Body::new))
        .layer(SetRequestIdLayer::x_request_id(MakeFastRequestId::default()))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(ObserveLayer::new(metrics, routes))
        .layer(QueryCapLayer::new(MAX_QUERY_LEN))
        .service(app)
}
