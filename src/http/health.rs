//! Liveness and readiness for load balancers and orchestrators, in plain text.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// `/healthz`: 200 for as long as the process serves requests.
pub async fn live() -> &'static str {
    "ok\n"
}

/// `/readyz`: 200 while rules are loaded and the server is not shutting down, else 503.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}
