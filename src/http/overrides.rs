//! `/overrides` on the admin listener: create or replace (`PUT`), list (`GET`) and delete
//! (`DELETE`) runtime overrides, JSON in and out.

use super::error::ApiError;
use crate::overrides::{FieldProblem, OverrideKey, OverrideRequest, OverrideView, check_key};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::Uri;
use jiff::Timestamp;
use serde::Serialize;

/// `PUT /overrides`: validates the body, stores it durably, then serves it; answers the
/// stored override.
pub async fn put(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<OverrideView>, ApiError> {
    let body = body.map_err(|_| ApiError::BodyTooLarge)?;
    let request = parse_request(&body)?;
    let item = request
        .into_override(Timestamp::now())
        .map_err(ApiError::InvalidOverride)?;
    let stored = state.overrides().put(item).await?;
    tracing::info!(
        key = %stored.key,
        decision = %stored.answer.decision,
        expires_at = stored.expires_at.map(|t| t.to_string()),
        reason = stored.reason.as_deref(),
        "override set"
    );
    Ok(Json(OverrideView::from(&*stored)))
}

/// Reads the JSON body, naming the field of a type error by its path.
fn parse_request(body: &[u8]) -> Result<OverrideRequest, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut json).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        // An unknown field is already on the path; a missing one is not.
        let field = match (path.as_str(), named_field(&message)) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "body".to_owned(),
            (path, Some(name)) if !path.ends_with(name) => format!("{path}.{name}"),
            (path, _) => path.to_owned(),
        };
        ApiError::InvalidOverride(vec![FieldProblem::new(&field, message)])
    })
}

/// The field a "missing field `x`" or "unknown field `x`" message is about.
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

#[derive(Serialize)]
struct ListView {
    overrides: Vec<OverrideView>,
}

/// `GET /overrides[?domain=&app=&stream=]`: the overrides in force, optionally only those
/// whose key has the given fields, from the snapshot the callback reads.
pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<impl Serialize>, ApiError> {
    let filter = key_params(&uri, false)?;
    let snapshot = state.overrides().snapshot();
    let overrides = snapshot
        .live(Timestamp::now())
        .into_iter()
        .filter(|o| {
            let wanted =
                |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
            wanted(&filter.domain, &o.key.domain)
                && wanted(&filter.app, &o.key.app)
                && wanted(&filter.stream, &o.key.stream)
        })
        .map(|o| OverrideView::from(&**o))
        .collect();
    Ok(Json(ListView { overrides }))
}

/// `DELETE /overrides?stream=[&domain=&app=]`: deletes that exact key; answers what was
/// deleted, or 404.
pub async fn delete(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<OverrideView>, ApiError> {
    let params = key_params(&uri, true)?;
    let mut problems = Vec::new();
    let key: OverrideKey = check_key(
        params.domain.as_deref(),
        params.app.as_deref(),
        params.stream.as_deref().unwrap_or_default(),
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(ApiError::InvalidOverride(problems));
    }
    let removed = state
        .overrides()
        .delete(&key)
        .await?
        .ok_or(ApiError::OverrideNotFound)?;
    tracing::info!(key = %removed.key, "override deleted");
    Ok(Json(OverrideView::from(&*removed)))
}

/// Any other method on `/overrides`.
pub async fn method_not_allowed() -> ApiError {
    ApiError::OverrideMethodNotAllowed
}

/// `domain`, `app`, `stream` from the query string; nothing else is accepted.
#[derive(Default)]
struct KeyParams {
    domain: Option<String>,
    app: Option<String>,
    stream: Option<String>,
}

fn key_params(uri: &Uri, stream_required: bool) -> Result<KeyParams, ApiError> {
    let mut params = KeyParams::default();
    let mut problems = Vec::new();
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        let slot = match name.as_ref() {
            "domain" => &mut params.domain,
            "app" => &mut params.app,
            "stream" => &mut params.stream,
            other => {
                problems.push(FieldProblem::new(
                    other,
                    "unknown parameter; use domain, app and stream",
                ));
                continue;
            }
        };
        let value = value.into_owned();
        *slot = Some(if name == "domain" {
            value.to_lowercase()
        } else {
            value
        });
    }
    if stream_required && params.stream.is_none() {
        problems.push(FieldProblem::new("stream", "is required"));
    }
    if problems.is_empty() {
        Ok(params)
    } else {
        Err(ApiError::InvalidOverride(problems))
    }
}
