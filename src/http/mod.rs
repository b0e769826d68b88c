//! The HTTP edge: `router(state, path)` for the public callback port and
//! `admin_router(state)` for operators, both wrapped by one middleware stack.
//!
//! Handlers stay thin: they turn a request into a `Query`, ask the rule set, and send the
//! prepared answer.

mod admin;
mod callback;
mod error;
mod health;
mod middleware;
mod query_cap;

pub use error::{ApiError, Rejected};
pub use query_cap::{MAX_QUERY_LEN, QueryCapLayer};

use crate::state::AppState;
use axum::Router;
use axum::routing::get;

/// The public router: the callback at `callback_path`, `/healthz` and `/readyz`.
pub fn router(state: AppState, callback_path: &str) -> Router {
    let routes = Router::new()
        .route(
            callback_path,
            get(callback::decide).fallback(method_not_allowed),
        )
        .merge(health_routes());
    middleware::stack(routes, &state, callback_path).with_state(state)
}

/// The admin router: `/metrics`, `/rules`, `/healthz` and `/readyz`.
pub fn admin_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/metrics", get(admin::metrics).fallback(method_not_allowed))
        .route("/rules", get(admin::rules).fallback(method_not_allowed))
        .merge(health_routes());
    middleware::stack(routes, &state, "").with_state(state)
}

fn health_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::live).fallback(method_not_allowed))
        .route("/readyz", get(health::ready).fallback(method_not_allowed))
        .fallback(not_found)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
