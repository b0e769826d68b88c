//! The HTTP edge: `router(state)` wires the callback and health endpoints to shared state.
//!
//! Handlers stay thin: they turn a request into a `Query`, ask the rule set, and send the
//! prepared answer.

mod callback;
mod error;
mod health;
mod query_cap;

pub use error::ApiError;
pub use query_cap::{MAX_QUERY_LEN, QueryCapLayer};

use crate::rules::RuleSet;
use arc_swap::ArcSwap;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What every handler shares: the live rule set and the readiness flag.
#[derive(Clone)]
pub struct AppState {
    /// The rule set; swapped whole on reload, loaded once per request.
    pub rules: Arc<ArcSwap<RuleSet>>,
    ready: Arc<AtomicBool>,
}

impl AppState {
    /// State serving `rules`, ready at once.
    pub fn new(rules: RuleSet) -> AppState {
        AppState {
            rules: Arc::new(ArcSwap::from_pointee(rules)),
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Flips readiness, e.g. to 503 when shutdown begins.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
}

/// The public router: the callback at `callback_path`, `/healthz` and `/readyz`.
pub fn router(state: AppState, callback_path: &str) -> Router {
    Router::new()
        .route("/healthz", get(health::live).fallback(method_not_allowed))
        .route("/readyz", get(health::ready).fallback(method_not_allowed))
        .route(
            callback_path,
            get(callback::decide).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .layer(QueryCapLayer::new(MAX_QUERY_LEN))
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
