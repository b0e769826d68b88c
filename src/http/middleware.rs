//! The middleware stack, built in one place and in order: request id, metrics, query cap.

use super::error::Rejected;
use super::query_cap::{MAX_QUERY_LEN, QueryCapLayer};
use crate::metrics::{ReasonLabels, RequestLabels};
use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// The route label of requests that matched no route.
const UNMATCHED_ROUTE: &str = "unmatched";

/// Wraps `routes`, outermost first:
/// 1. `x-request-id`: kept when the client sent one, else generated; echoed back;
/// 2. metrics: requests by route template and status, refusals by reason, and the
///    callback's latency (for `callback_path`; empty for none);
/// 3. the 2,048-character query cap.
pub fn stack(routes: Router<AppState>, state: &AppState, callback_path: &str) -> Router<AppState> {
    let observed = Observed {
        state: state.clone(),
        callback_path: Arc::from(callback_path),
    };
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(from_fn_with_state(observed, record))
            .layer(QueryCapLayer::new(MAX_QUERY_LEN)),
    )
}

#[derive(Clone)]
struct Observed {
    state: AppState,
    callback_path: Arc<str>,
}

async fn record(State(observed): State<Observed>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let metrics = &observed.state.metrics;
    if *route == *observed.callback_path {
        metrics
            .decision_duration
            .observe(started.elapsed().as_secs_f64());
    }
    if let Some(Rejected(reason)) = response.extensions().get::<Rejected>() {
        metrics
            .rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }
    metrics
        .http_requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
