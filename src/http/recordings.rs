//! The ledger on the admin listener: `GET /recordings` (what is recording now) and
//! `GET /files` (what was written), in pages like `/overrides`, and `GET /usage`.

use super::error::ApiError;
use crate::ledger::read::{self, FileRow, Filter};
use crate::ledger::store::RecordingRow;
use crate::ledger::usage::{self, GroupBy, MAX_USAGE_DAYS, UsageRow};
use crate::ledger::{Applied, Event, RecordingKey};
use crate::overrides::{DEFAULT_LIST_LIMIT, FieldProblem, MAX_LIST_LIMIT};
use crate::service::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use serde::Serialize;
use std::collections::BTreeMap;

/// One recording in progress, as `GET /recordings` lists it.
#[derive(Debug, Serialize)]
pub struct RecordingView {
    domain: String,
    app: String,
    stream: String,
    state: &'static str,
    rule: Option<String>,
    quota: Option<String>,
    formats: Vec<&'static str>,
    since: String,
    last_event: String,
    files: u64,
    recorded_seconds: f64,
}

/// One file, as `GET /files` lists it.
#[derive(Debug, Serialize)]
pub struct FileView {
    uri: String,
    domain: String,
    app: String,
    stream: String,
    rule: Option<String>,
    duration: f64,
    start_time: i64,
    stop_time: i64,
    push_args: BTreeMap<String, String>,
}

/// A page of items, and where the next one starts.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    items: Vec<T>,
    /// The `after` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// The query parameters, by name; unknown names are refused.
fn params(uri: &Uri, known: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut found = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if !known.contains(&name.as_ref()) {
            return Err(bad(&name, "unknown parameter"));
        }
        found.entry(name.into_owned()).or_insert(value.into_owned());
    }
    Ok(found)
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::InvalidQuery(vec![FieldProblem::new(field, message)])
}

fn limit(params: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIST_LIMIT as i64),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => Ok(n as i64),
            _ => Err(bad("limit", &format!("expected 1..={MAX_LIST_LIMIT}"))),
        },
    }
}

fn filter(params: &BTreeMap<String, String>) -> Filter {
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    Filter {
        domain: get("domain").to_lowercase(),
        app: get("app"),
        stream: get("stream"),
    }
}

fn store(state: &AppState) -> Result<&crate::overrides::Store, ApiError> {
    state
        .ledger()
        .store()
        .ok_or_else(|| ApiError::LedgerUnavailable("the recording ledger is off".into()))
}

fn unavailable(error: crate::overrides::StoreError) -> ApiError {
    ApiError::LedgerUnavailable(format!(
        "the recording ledger's store is unavailable: {error}"
    ))
}

/// `GET /recordings[?domain=&app=&stream=&state=][&limit=][&after=]`
pub async fn recordings(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Page<RecordingView>>, ApiError> {
    let params = params(
        &uri,
        &["domain", "app", "stream", "state", "limit", "after"],
    )?;
    let wanted = params.get("state").cloned().unwrap_or_default();
    if !["", "decided", "recording", "paused"].contains(&wanted.as_str()) {
        return Err(bad("state", "expected decided, recording or paused"));
    }
    let after = match params.get("after") {
        None => 0,
        Some(text) => text
            .parse()
            .map_err(|_| bad("after", "expected a page token"))?,
    };
    let limit = limit(&params)?;
    let rows = read::list_active(store(&state)?, &filter(&params), &wanted, after, limit)
        .await
        .map_err(unavailable)?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: rows.iter().map(recording_view).collect(),
        next,
    }))
}

/// The answer to `DELETE /recordings`.
#[derive(Debug, Serialize)]
pub struct Removed {
    removed: RecordingKey,
}

/// `DELETE /recordings?domain=&app=&stream=`: ends the stream's recording in progress
/// (reason `removed`), freeing its quota slot. The platform is not told: it records on
/// until the stream ends, so this is for entries the ledger keeps by mistake.
pub async fn remove(State(state): State<AppState>, uri: Uri) -> Result<Json<Removed>, ApiError> {
    let params = params(&uri, &["domain", "app", "stream"])?;
    let missing: Vec<FieldProblem> = ["domain", "app", "stream"]
        .into_iter()
        .filter(|name| !params.contains_key(*name))
        .map(|name| FieldProblem::new(name, "required"))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::InvalidQuery(missing));
    }
    let Filter {
        domain,
        app,
        stream,
    } = filter(&params);
    let key = RecordingKey {
        domain,
        app,
        stream,
    };
    let applied = state
        .ledger()
        .submit(key.clone(), Event::Removed, jiff::Timestamp::now())
        .await
        .map_err(|error| ApiError::LedgerUnavailable(error.to_string()))?;
    match applied {
        Applied::Applied => {
            tracing::info!(domain = %key.domain, app = %key.app, stream = %key.stream, "recording removed by an operator");
            Ok(Json(Removed { removed: key }))
        }
        Applied::Duplicate | Applied::Ignored => Err(ApiError::RecordingNotFound),
    }
}

/// Any method but GET or DELETE on `/recordings`.
pub async fn recordings_method_not_allowed() -> ApiError {
    ApiError::GetOrDeleteOnly
}

fn recording_view(row: &RecordingRow) -> RecordingView {
    let r = row.recording();
    RecordingView {
        domain: r.key.domain,
        app: r.key.app,
        stream: r.key.stream,
        state: r.state.as_str(),
        rule: r.rule,
        quota: r.quota,
        formats: r.formats.iter().map(|f| f.as_str()).collect(),
        since: r.since.to_string(),
        last_event: r.last_event.to_string(),
        files: r.files,
        recorded_seconds: r.recorded_seconds,
    }
}

/// `GET /files[?domain=&app=&stream=][&from=][&to=][&limit=][&after=]`: `from` and `to`
/// are RFC 3339 times or `YYYY-MM-DD` (UTC), the files that started in `[from, to)`.
pub async fn files(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Page<FileView>>, ApiError> {
    let params = params(
        &uri,
        &["domain", "app", "stream", "from", "to", "limit", "after"],
    )?;
    let time = |field: &str, default: i64| -> Result<i64, ApiError> {
        match params.get(field) {
            None => Ok(default),
            Some(text) => parse_time(text).ok_or_else(|| {
                bad(
                    field,
                    "expected an RFC 3339 time or a date such as 2026-11-25",
                )
            }),
        }
    };
    let range = (time("from", i64::MIN)?, time("to", i64::MAX)?);
    let after = match params.get("after") {
        None => (i64::MIN, String::new()),
        Some(text) => text
            .split_once('/')
            .and_then(|(secs, uri)| Some((secs.parse().ok()?, uri.to_owned())))
            .ok_or_else(|| bad("after", "expected a page token"))?,
    };
    let limit = limit(&params)?;
    let rows = read::list_files(
        store(&state)?,
        &filter(&params),
        range,
        (after.0, &after.1),
        limit,
    )
    .await
    .map_err(unavailable)?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|f| format!("{}/{}", f.start_time, f.uri)))
        .flatten();
    Ok(Json(Page {
        items: rows.into_iter().map(file_view).collect(),
        next,
    }))
}

fn file_view(row: FileRow) -> FileView {
    FileView {
        push_args: serde_json::from_str(&row.push_args).unwrap_or_default(),
        uri: row.uri,
        domain: row.domain,
        app: row.app,
        stream: row.stream,
        rule: row.rule,
        duration: row.duration,
        start_time: row.start_time,
        stop_time: row.stop_time,
    }
}

/// Unix seconds of an RFC 3339 time, or of midnight UTC starting a `YYYY-MM-DD` date.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Some(time.as_second());
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    let midnight = date.to_datetime(jiff::civil::Time::midnight());
    jiff::tz::TimeZone::UTC
        .to_timestamp(midnight)
        .ok()
        .map(|t| t.as_second())
}

/// `GET /usage?from=YYYY-MM-DD&to=YYYY-MM-DD[&by=day|rule|app|domain][&tz=Area/City]`:
/// seconds recorded, files and the most recordings at once, from `from` to `to` (both
/// included) in local days of `tz` (UTC by default).
pub async fn usage(State(state): State<AppState>, uri: Uri) -> Result<Json<UsageView>, ApiError> {
    let params = params(&uri, &["from", "to", "by", "tz"])?;
    let date = |field: &str| -> Result<jiff::civil::Date, ApiError> {
        params
            .get(field)
            .ok_or_else(|| bad(field, "required, a date such as 2026-11-01"))?
            .parse()
            .map_err(|_| bad(field, "expected a date such as 2026-11-01"))
    };
    let (from, to) = (date("from")?, date("to")?);
    let by = match params.get("by") {
        None => GroupBy::Day,
        Some(text) => {
            GroupBy::parse(text).ok_or_else(|| bad("by", "expected day, rule, app or domain"))?
        }
    };
    let tz = match params.get("tz") {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => jiff::tz::TimeZone::get(name)
            .map_err(|_| bad("tz", "expected an IANA time zone such as Asia/Shanghai"))?,
    };
    let days = from
        .until(to)
        .map_or(i64::MAX, |span| i64::from(span.get_days()));
    if !(0..MAX_USAGE_DAYS).contains(&days) {
        return Err(bad(
            "to",
            &format!("must be on or after from, and at most {MAX_USAGE_DAYS} days later"),
        ));
    }
    let period = usage::period(from, to, &tz).ok_or_else(|| bad("to", "out of range"))?;
    let rows = read::usage(store(&state)?, by, period, &tz)
        .await
        .map_err(unavailable)?;
    Ok(Json(UsageView { rows }))
}

/// The answer of `GET /usage`.
#[derive(Debug, Serialize)]
pub struct UsageView {
    rows: Vec<UsageRow>,
}
