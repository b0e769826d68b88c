//! The platform's lifecycle callbacks: the stream ingest callback (`GET <ingest_path>`)
//! and the recording status and file callbacks (`POST <notify_path>`, JSON). Each event is
//! answered 200 only once the ledger has committed it; anything a client sends wrong gets
//! a 4xx that changes nothing, and an unknown kind of event gets 200 (counted as ignored),
//! since any other status only makes the platform retry.

use super::error::ApiError;
use crate::auth::signature::Verifier;
use crate::ledger::live::LedgerError;
use crate::ledger::{Event, RecordingKey, parse_ingest, parse_notify};
use crate::service::AppState;
use crate::service::callback::check_signature;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri, header};
use serde::Serialize;

/// SECURITY: largest body of a status or file event; the documented file event is about
/// 300 bytes, and the platform caps what it sends at 2,048 characters.
pub const MAX_NOTIFY_BODY_BYTES: usize = 16 * 1024;

/// The body of a lifecycle answer.
#[derive(Debug, Serialize)]
pub struct EventAnswer {
    /// `applied`, `duplicate` or `ignored`.
    pub outcome: &'static str,
}

/// `GET <ingest_path>?action=publish|publish_done&app=<ingest domain>&appname=&id=...`
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<EventAnswer>, ApiError> {
    let raw = uri.query().unwrap_or_default();
    let live = state.live();
    let (key, event) = parse_ingest(raw, &live.domains);
    // The platform signs ingest events with the ingest domain they name.
    let ingest_domain = form_urlencoded::parse(raw.as_bytes())
        .find(|(name, _)| name == "app")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    check(
        &state,
        live.ingest_auth.as_ref(),
        &headers,
        Some(ingest_domain.as_bytes()),
        &event,
    )?;
    drop(live);
    submit(&state, key, event).await
}

/// `POST <notify_path>` with a status event or a file event as JSON.
pub async fn notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventAnswer>, ApiError> {
    let body = body.map_err(|_| ApiError::BodyTooLarge {
        max: MAX_NOTIFY_BODY_BYTES,
    })?;
    let (key, event) = match parse_notify(&body) {
        Ok(parsed) => parsed,
        Err(error) => {
            count(&state, "unknown", "refused");
            return Err(ApiError::InvalidEvent(error.to_string()));
        }
    };
    let host = headers.get(header::HOST).map(|v| v.as_bytes());
    let live = state.live();
    check(&state, live.notify_auth.as_ref(), &headers, host, &event)?;
    drop(live);
    submit(&state, key, event).await
}

/// Any method but POST on the notify path.
pub async fn notify_method_not_allowed() -> ApiError {
    ApiError::PostOnly
}

/// Checks the event's signature as `auth` says; `host` is the domain the platform signs.
fn check(
    state: &AppState,
    auth: Option<&Verifier>,
    headers: &HeaderMap,
    host: Option<&[u8]>,
    event: &Event,
) -> Result<(), ApiError> {
    let Some(verifier) = auth else {
        return Ok(());
    };
    check_signature(
        state,
        verifier,
        headers,
        host,
        event.kind(),
        jiff::Timestamp::now(),
    )
    .map_err(|failure| {
        count(state, event.kind(), "refused");
        ApiError::Forbidden(failure)
    })
}

async fn submit(
    state: &AppState,
    key: RecordingKey,
    event: Event,
) -> Result<Json<EventAnswer>, ApiError> {
    if let Event::Unknown(kind) = &event {
        tracing::debug!(kind, "lifecycle event of a kind recgate does not act on");
    }
    let applied = state
        .ledger()
        .submit(key, event, jiff::Timestamp::now())
        .await
        .map_err(|error| match error {
            LedgerError::Off | LedgerError::Busy | LedgerError::Unavailable(_) => {
                ApiError::LedgerUnavailable(error.to_string())
            }
        })?;
    Ok(Json(EventAnswer {
        outcome: applied.as_str(),
    }))
}

fn count(state: &AppState, kind: &'static str, outcome: &'static str) {
    state.metrics().count_lifecycle_event(kind, outcome);
}
