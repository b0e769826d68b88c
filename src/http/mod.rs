//! The HTTP edge: `router(state, path)` for the public callback port and
//! `admin_router(state)` for operators, both wrapped by one middleware stack, and `Edge`,
//! the service a connection runs, which answers the callback itself in front of the router.
//!
//! Handlers stay thin: they hand a request's parts to `crate::service` or
//! `crate::verdict` and send back what comes out.

mod admin;
mod callback;
mod console;
mod edge;
mod error;
mod health;
mod lifecycle;
mod middleware;
mod observe;
mod overrides;
mod query_cap;
mod quotas;
mod raw;
mod recordings;
mod request_id;

pub use edge::{Edge, EdgeBody, MAX_RAW_HEADERS, RawAnswer, RawHead};
pub use error::{ApiError, Rejected};
pub use middleware::{App, PanicAnswer};
pub use observe::UNMATCHED_ROUTE;
pub use query_cap::{MAX_QUERY_LEN, QueryCapLayer};

use crate::overrides::MAX_OVERRIDE_BODY_BYTES;
use crate::service::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
pub use lifecycle::MAX_NOTIFY_BODY_BYTES;
use observe::Routes;
use std::convert::Infallible;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

/// Paths both listeners serve.
const HEALTH_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Every path of the admin listener (`/ui/` stands for the console's files under it), as
/// metrics label them and as `api/openapi.json` describes them.
pub const ADMIN_PATHS: [&str; 14] = [
    "/metrics",
    "/rules",
    "/explain",
    "/overrides",
    "/recordings",
    "/files",
    "/usage",
    "/quotas",
    "/openapi.json",
    "/ui",
    "/ui/",
    "/ui/{file}",
    HEALTH_PATHS[0],
    HEALTH_PATHS[1],
];

/// The paths the public listener serves besides the health checks.
#[derive(Debug, Clone, Copy)]
pub struct PublicPaths<'a> {
    /// The on-demand recording callback.
    pub callback: &'a str,
    /// The stream ingest callback, when served.
    pub ingest: Option<&'a str>,
    /// The recording status and file callbacks, when served.
    pub notify: Option<&'a str>,
}

/// The public application with the callback at `callback_path`, `/healthz` and `/readyz`.
pub fn router(state: AppState, callback_path: &str, request_timeout: Duration) -> impl App {
    let paths = PublicPaths {
        callback: callback_path,
        ingest: None,
        notify: None,
    };
    public_router(state, paths, request_timeout)
}

/// The public application: the callback, the lifecycle callbacks when configured,
/// `/healthz` and `/readyz`. A panic answers the default decision, but on the lifecycle
/// paths, where it answers 500 so that the platform retries the event.
pub fn public_router(
    state: AppState,
    paths: PublicPaths<'_>,
    request_timeout: Duration,
) -> impl App {
    let mut routes = health_routes();
    let mut labelled = vec![paths.callback, HEALTH_PATHS[0], HEALTH_PATHS[1]];
    if let Some(path) = paths.ingest {
        routes = routes.route(
            path,
            get(lifecycle::ingest)
                .fallback(method_not_allowed)
                .layer(middleware::catch_panics(state.clone(), PanicAnswer::Error)),
        );
        labelled.push(path);
    }
    if let Some(path) = paths.notify {
        routes = routes.route(
            path,
            post(lifecycle::notify)
                .fallback(lifecycle::notify_method_not_allowed)
                .layer::<_, Infallible>(DefaultBodyLimit::max(MAX_NOTIFY_BODY_BYTES))
                .layer(middleware::catch_panics(state.clone(), PanicAnswer::Error)),
        );
        labelled.push(path);
    }
    let routes = routes
        .layer(timeout(request_timeout))
        .with_state(state.clone());
    let labels = Routes::new(&labelled, Some(paths.callback));
    let app = callback::CallbackRoute::new(paths.callback, state.clone(), routes);
    middleware::stack(app, state, labels, PanicAnswer::Decision)
}

/// The admin application (`ADMIN_PATHS`): the API needs the bearer token when one is set;
/// the health checks, the console's files and the OpenAPI document do not.
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
        .route(
            "/recordings",
            get(recordings::recordings)
                .delete(recordings::remove)
                .fallback(recordings::recordings_method_not_allowed),
        )
        .route("/quotas", get(quotas::quotas).fallback(method_not_allowed))
        .route(
            "/files",
            get(recordings::files).fallback(method_not_allowed),
        )
        .route(
            "/usage",
            get(recordings::usage).fallback(method_not_allowed),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_token,
        ))
        .route(
            "/openapi.json",
            get(console::openapi).fallback(method_not_allowed),
        )
        .route("/ui", get(console::to_console).fallback(method_not_allowed))
        .route("/ui/", get(console::index).fallback(method_not_allowed))
        .route(
            "/ui/{*file}",
            get(console::file).fallback(method_not_allowed),
        )
        .merge(health_routes())
        .layer(timeout(request_timeout));
    let labels = Routes::new(&ADMIN_PATHS, None);
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

/// The metrics requests left behind, sorted, without latencies and load times, nor the
/// callback's 200 series that the inline path creates at 0 at startup: what two ways of
/// answering the same requests must agree on.
#[cfg(test)]
pub fn counted_metrics(state: &AppState) -> Vec<String> {
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
