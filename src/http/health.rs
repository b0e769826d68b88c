//! Liveness and readiness for load balancers and orchestrators.

use crate::service::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

/// `/healthz`: 200 for as long as the process serves requests.
pub async fn live() -> &'static str {
    "ok\n"
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    overrides: OverrideHealth,
}

#[derive(Serialize)]
struct OverrideHealth {
    store: &'static str,
    up: bool,
    loaded: usize,
    last_sync: Option<String>,
}

/// `/readyz`: 200 while rules are loaded and the server is not shutting down, else 503.
///
/// The body details the override store. A store that is down does not fail readiness:
/// every replica keeps answering from its last snapshot, and taking all of them out of
/// the load balancer at once would leave the platform with no answer at all.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<impl Serialize>) {
    let ready = state.is_ready();
    let store = state.overrides().status();
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" },
        overrides: OverrideHealth {
            store: store.store,
            up: store.up,
            loaded: store.loaded,
            last_sync: store.last_sync.map(|t| t.to_string()),
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
