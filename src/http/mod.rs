//! The HTTP edge: `router(state, path)` for the public callback port and
//! `admin_router(state)` for operators, both wrapped by one middleware stack, and `Edge`,
//! the service a connection runs, which answers the callback itself in front of the router.
//!
//! Handlers stay thin: they hand a request's parts to `crate::service` or
//! `crate::verdict` and send back what comes out.

mod admin;
mod callback;
mod edge;
mod error;
mod health;
mod middleware;
mod observe;
mod overrides;
mod query_cap;
mod request_id;

pub use edge::{Edge, EdgeBody};
pub use error::{ApiError, Rejected};
pub use middleware::{App, PanicAnswer};
pub use observe::UNMATCHED_ROUTE;
pub use query_cap::{MAX_QUERY_LEN, QueryCapLayer};

use crate::overrides::MAX_OVERRIDE_BODY_BYTES;
use crate::service::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use observe::Routes;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

/// Paths both listeners serve.
const HEALTH_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The public application: the callback at `callback_path`, `/healthz` and `/readyz`.
pub fn router(state: AppState, callback_path: &str, request_timeout: Duration) -> impl App {
    let routes = health_routes()
        .layer(timeout(request_timeout))
        .with_state(state.clone());
    let labels = Routes::new(
        &[callback_path, HEALTH_PATHS[0], HEALTH_PATHS[1]],
        Some(callback_path),
    );
    let app = callback::CallbackRoute::new(callback_path, state.clone(), routes);
    middleware::stack(app, state, labels, PanicAnswer::Decision)
}

/// The admin application: `/metrics`, `/rules`, `/explain`, `/overrides`, `/healthz` and
/// `/readyz`; all but the health checks need the bearer token when one is set.
pub fn admin_router(state: AppState, request_timeout: Duration) -> impl App {
    let overrides = get(overrides::list)
        .put(overrides::put)
        .delete(overrides::delete)
        .fallback(overrides::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_OVERRIDE_BODY_BYTES));
    let routes = Router::new()
        .route("/metrics", get(admin::metrics).fallback(method_not_allowed))
        .route("/rules", get(admin::rules).fallback(method_not_allowed))
        .route("/explain", get(admin::explain).fallback(method_not_allowed))
        .route("/overrides", overrides)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_token,
        ))
        .merge(health_routes())
        .layer(timeout(request_timeout));
    let labels = Routes::new(
        &[
            "/metrics",
            "/rules",
            "/explain",
            "/overrides",
            HEALTH_PATHS[0],
            HEALTH_PATHS[1],
        ],
        None,
    );
    middleware::stack(
        routes.with_state(state.clone()),
        state,
        labels,
        PanicAnswer::Error,
    )
}

/// SECURITY: bounds every endpoint but the callback, which answers synchronously.
fn timeout(limit: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limit)
}

fn health_routes() -> Router<AppState> {
    Router::new()
        .route(
            HEALTH_PATHS[0],
            get(health::live).fallback(method_not_allowed),
        )
        .route(
            HEALTH_PATHS[1],
            get(health::ready).fallback(method_not_allowed),
        )
        .fallback(not_found)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
