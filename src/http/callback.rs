//! The recording callback: parse the query, evaluate the rules, send the prepared body.
//!
//! `decide` is the answer itself. Connections reach it inline through `Edge`; the router
//! also serves it, through `CallbackRoute` in front of its routing table, so that the
//! router is complete on its own and the inline path has a reference to be held to.

use super::error::ApiError;
use super::middleware::answer_panic;
use super::request_id::REQUEST_ID_HEADER;
use crate::metrics::{ReasonLabels, RuleLabels};
use crate::overrides::{OVERRIDE_RULE_NAME, OverrideKey};
use crate::query::Query;
use crate::rules::Answer;
use crate::signature::{Failure, Mode, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier};
use crate::state::AppState;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::{Either, Ready, ready};
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::Service;

/// The answer to `GET|HEAD <callback_path>?domain=&app=&stream=&codec=&vbitrate=`: always
/// 200 with a decision, whatever the parameters hold.
pub fn answer(state: &AppState, request: &Request) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match decide(
        state,
        request.uri(),
        request.headers(),
        request_id,
        Instant::now(),
    ) {
        Ok(body) => json(body),
        Err(error) => error.into_response(),
    }
}

/// The body of the answer to a callback that arrived at `started`: the prepared decision of
/// the override or rule that matches, or a refusal when the signature is enforced and
/// does not verify. Counts and logs the decision.
pub fn decide(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    request_id: &str,
    started: Instant,
) -> Result<Bytes, ApiError> {
    let now_ms = unix_ms();
    let live = state.rules();
    if let Some(verifier) = &live.auth
        && let Err(failure) = check_signature(verifier, headers, now_ms)
    {
        state
            .metrics()
            .signature_failures
            .get_or_create(&ReasonLabels {
                reason: failure.code(),
            })
            .inc();
        tracing::warn!(
            reason = failure.code(),
            mode = verifier.mode.as_str(),
            "callback signature did not verify"
        );
        if verifier.mode == Mode::Enforce {
            return Err(ApiError::Forbidden(failure));
        }
    }
    let mut query = Query::parse(uri.query().unwrap_or_default());
    let now = jiff::Timestamp::from_millisecond(now_ms as i64).unwrap_or_default();
    query.at = Some(now);
    let overrides = state.overrides();
    let snapshot = overrides.any().then(|| overrides.snapshot());
    let verdict;
    let decided = match snapshot.as_ref().and_then(|set| set.find(&query, now)) {
        Some(item) => {
            state.override_counter(item.answer.decision.record).inc();
            Decided {
                rule: OVERRIDE_RULE_NAME,
                override_key: Some(&item.key),
                shadow_rule: None,
                answer: &item.answer,
            }
        }
        None => {
            verdict = live.rules.evaluate(&query);
            if let Some(counter) = live.counter(&verdict) {
                counter.inc();
            }
            live.touch(verdict.index, now_ms);
            if let Some(shadow) = verdict.shadow {
                state
                    .metrics()
                    .shadow_matches
                    .get_or_create(&RuleLabels {
                        rule: shadow.name.clone(),
                    })
                    .inc();
                live.touch(verdict.shadow_index, now_ms);
            }
            Decided {
                rule: verdict.rule_name(),
                override_key: None,
                shadow_rule: verdict.shadow.map(|r| r.name.as_str()),
                answer: verdict.answer,
            }
        }
    };
    tracing::info!(
        request_id,
        domain = ?query.domain,
        app = ?query.app,
        stream = ?query.stream,
        codec = %query.codec,
        vbitrate = query.vbitrate,
        rule = decided.rule,
        override_key = decided.override_key.map(tracing::field::display),
        shadow_rule = decided.shadow_rule,
        need_record = decided.answer.decision.record,
        latency_us = started.elapsed().as_micros() as u64,
        "callback"
    );
    Ok(decided.answer.body.clone())
}

/// What answered a callback: an override or a rule (or the default).
struct Decided<'a> {
    rule: &'a str,
    override_key: Option<&'a OverrideKey>,
    shadow_rule: Option<&'a str>,
    answer: &'a Answer,
}

/// A 200 with a prepared JSON body.
fn json(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Checks the platform's signature headers against the server's clock.
fn check_signature(verifier: &Verifier, headers: &HeaderMap, now_ms: u64) -> Result<(), Failure> {
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes());
    let now = (now_ms / 1000) as i64;
    verifier.verify(
        header(header::HOST.as_str()),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        now,
    )
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Serves the callback path itself and hands every other path to `inner`.
#[derive(Clone)]
pub struct CallbackRoute<S> {
    path: Arc<str>,
    state: AppState,
    inner: S,
}

impl<S> CallbackRoute<S> {
    /// Answers callbacks on `path` from `state`, passing other requests to `inner`.
    pub fn new(path: &str, state: AppState, inner: S) -> CallbackRoute<S> {
        CallbackRoute {
            path: Arc::from(path),
            state,
            inner,
        }
    }
}

impl<S> Service<Request> for CallbackRoute<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.uri().path() != &*self.path {
            return Either::Right(self.inner.call(request));
        }
        let response = match *request.method() {
            // A last resort: a panic still answers the default decision.
            Method::GET | Method::HEAD => {
                std::panic::catch_unwind(AssertUnwindSafe(|| answer(&self.state, &request)))
                    .unwrap_or_else(|panic| answer_panic(&self.state, panic.as_ref()))
            }
            _ => ApiError::MethodNotAllowed.into_response(),
        };
        Either::Left(ready(Ok(response)))
    }
}
