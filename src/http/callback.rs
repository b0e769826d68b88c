//! The recording callback: parse the query, evaluate the rules, send the prepared body.

use crate::query::Query;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// `GET|HEAD <callback_path>?domain=&app=&stream=&codec=&vbitrate=`: always 200 with a
/// decision, whatever the parameters hold.
pub async fn decide(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let query = Query::parse(request.uri().query().unwrap_or_default());
    let live = state.rules();
    let verdict = live.rules.evaluate(&query);
    if let Some(counter) = live.counter(&verdict) {
        counter.inc();
    }
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info!(
        request_id,
        domain = ?query.domain,
        app = ?query.app,
        stream = ?query.stream,
        codec = %query.codec,
        vbitrate = query.vbitrate,
        rule = verdict.rule_name(),
        need_record = verdict.answer.decision.record,
        latency_us = started.elapsed().as_micros() as u64,
        "callback"
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        verdict.answer.body.clone(),
    )
        .into_response()
}
