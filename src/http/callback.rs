//! The recording callback: parse the query, evaluate the rules, send the prepared body.

use super::AppState;
use crate::query::Query;
use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// `GET|HEAD <callback_path>?domain=&app=&stream=&codec=&vbitrate=`: always 200 with a
/// decision, whatever the parameters hold.
pub async fn decide(State(state): State<AppState>, uri: Uri) -> Response {
    let started = Instant::now();
    let query = Query::parse(uri.query().unwrap_or_default());
    let rules = state.rules.load();
    let verdict = rules.evaluate(&query);
    let body = verdict.answer.body.clone();
    tracing::info!(
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
        body,
    )
        .into_response()
}
