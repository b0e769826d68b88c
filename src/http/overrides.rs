//! `/overrides` on the admin listener: create or replace (`PUT`), list (`GET`) and delete
//! (`DELETE`) runtime overrides, JSON in and out.

use super::error::ApiError;
use crate::overrides::MAX_OVERRIDE_BODY_BYTES;
use crate::overrides::{
    DEFAULT_LIST_LIMIT, FieldProblem, MAX_LIST_LIMIT, OverrideKey, OverrideRequest, OverrideView,
    check_key,
};
use crate::service::AppState;
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
    let body = body.map_err(|_| ApiError::BodyTooLarge {
        max: MAX_OVERRIDE_BODY_BYTES,
    })?;
    let request = parse_request(&body)?;
    let item = request
        .into_override(Timestamp::now())
        .map_err(ApiError::InvalidOverride)?;
    let stored = state.overrides().put(item).await?;
    tracing::info!(
        key = %stored.key,
        decision = %stored.decision,
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
    /// Where the next page starts (`after=`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// `GET /overrides[?domain=&app=&stream=][&limit=][&after=]`: the overrides in force, in
/// key order, optionally only those whose key has the given fields, from the snapshot the
/// callback reads. At most `limit` per page (`DEFAULT_LIST_LIMIT`, up to `MAX_LIST_LIMIT`);
/// `next` in the answer is the `after` of the next page.
pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<impl Serialize>, ApiError> {
    let params = key_params(&uri, Params::List)?;
    let snapshot = state.overrides().snapshot();
    let wanted = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let mut page: Vec<_> = snapshot
        .live(Timestamp::now())
        .into_iter()
        .filter(|o| {
            wanted(&params.domain, &o.key.domain)
                && wanted(&params.app, &o.key.app)
                && wanted(&params.stream, &o.key.stream)
                && params.after.as_ref().is_none_or(|after| o.key > *after)
        })
        .take(params.limit + 1)
        .collect();
    let next = (page.len() > params.limit)
        .then(|| page.get(params.limit - 1).map(|last| cursor(&last.key)))
        .flatten();
    page.truncate(params.limit);
    let overrides = page.into_iter().map(|o| OverrideView::from(&**o)).collect();
    Ok(Json(ListView { overrides, next }))
}

/// The `after` that starts a page past `key`: its fields as a JSON array, in hex so that it
/// needs no escaping in a URL.
fn cursor(key: &OverrideKey) -> String {
    let fields = [&key.domain, &key.app, &key.stream];
    hex::encode(serde_json::to_vec(&fields).unwrap_or_default())
}

/// The key an `after` names.
fn from_cursor(text: &str) -> Option<OverrideKey> {
    let bytes = hex::decode(text).ok()?;
    let (domain, app, stream): (String, String, String) = serde_json::from_slice(&bytes).ok()?;
    Some(OverrideKey {
        domain,
        app,
        stream,
    })
}

/// `DELETE /overrides?stream=[&domain=&app=]`: deletes that exact key; answers what was
/// deleted, or 404.
pub async fn delete(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<OverrideView>, ApiError> {
    let params = key_params(&uri, Params::Delete)?;
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

/// Which query parameters an endpoint takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Params {
    /// `domain`, `app`, `stream`, `limit`, `after`.
    List,
    /// `domain`, `app`, `stream` (required).
    Delete,
}

/// The query string's parameters; any other is refused.
struct KeyParams {
    domain: Option<String>,
    app: Option<String>,
    stream: Option<String>,
    limit: usize,
    after: Option<OverrideKey>,
}

fn key_params(uri: &Uri, kind: Params) -> Result<KeyParams, ApiError> {
    let mut params = KeyParams {
        domain: None,
        app: None,
        stream: None,
        limit: DEFAULT_LIST_LIMIT,
        after: None,
    };
    let mut problems = Vec::new();
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        let slot = match (name.as_ref(), kind) {
            ("domain", _) => &mut params.domain,
            ("app", _) => &mut params.app,
            ("stream", _) => &mut params.stream,
            ("limit", Params::List) => {
                match value.parse() {
                    Ok(limit) if (1..=MAX_LIST_LIMIT).contains(&limit) => params.limit = limit,
                    _ => problems.push(FieldProblem::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIST_LIMIT}"),
                    )),
                }
                continue;
            }
            ("after", Params::List) => {
                params.after = from_cursor(&value);
                if params.after.is_none() {
                    problems.push(FieldProblem::new(
                        "after",
                        "is not a `next` this endpoint answered",
                    ));
                }
                continue;
            }
            (other, _) => {
                let known = match kind {
                    Params::List => "domain, app, stream, limit and after",
                    Params::Delete => "domain, app and stream",
                };
                problems.push(FieldProblem::new(
                    other,
                    format!("unknown parameter; use {known}"),
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
    if kind == Params::Delete && params.stream.is_none() {
        problems.push(FieldProblem::new("stream", "is required"));
    }
    if problems.is_empty() {
        Ok(params)
    } else {
        Err(ApiError::InvalidOverride(problems))
    }
}
