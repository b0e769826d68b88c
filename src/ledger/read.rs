//! The ledger's read side, for the admin API: recordings in progress, files, and usage.

use super::store::{RecordingRow, recording_columns};
use super::usage::{GroupBy, Span, UsageRow};
use crate::overrides::{Store, StoreError, on_pool};
use jiff::Timestamp;
use std::collections::BTreeMap;

const LIST_ACTIVE: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings WHERE ended_at IS NULL AND id > $1 \
    AND ($2 = '' OR domain = $2) AND ($3 = '' OR app = $3) AND ($4 = '' OR stream = $4) \
    AND ($5 = '' OR state = $5) ORDER BY id LIMIT $6"
);
const COUNT_ACTIVE: &str =
    "SELECT state, COUNT(*) FROM recordings WHERE ended_at IS NULL GROUP BY state";
const LIST_FILES: &str = "SELECT uri, domain, app, stream, rule, duration, start_time, \
    stop_time, push_args FROM recording_files \
    WHERE ($1 = '' OR domain = $1) AND ($2 = '' OR app = $2) AND ($3 = '' OR stream = $3) \
    AND start_time >= $4 AND start_time < $5 AND (start_time > $6 OR (start_time = $6 AND uri > $7)) \
    ORDER BY start_time, uri LIMIT $8";
const USAGE_BUCKETS: &str = "SELECT bucket, SUM(seconds), CAST(SUM(files) AS BIGINT) FROM usage_buckets \
    WHERE bucket >= $1 AND bucket < $2 GROUP BY bucket";
const USAGE_BY_RULE: &str = "SELECT CASE WHEN rule = '' THEN 'none' ELSE rule END, \
    SUM(seconds), CAST(SUM(files) AS BIGINT) FROM usage_buckets WHERE bucket >= $1 AND bucket < $2 GROUP BY 1";
const USAGE_BY_APP: &str = "SELECT app, SUM(seconds), CAST(SUM(files) AS BIGINT) FROM usage_buckets \
    WHERE bucket >= $1 AND bucket < $2 GROUP BY app";
const USAGE_BY_DOMAIN: &str = "SELECT domain, SUM(seconds), CAST(SUM(files) AS BIGINT) FROM usage_buckets \
    WHERE bucket >= $1 AND bucket < $2 GROUP BY domain";
const USAGE_SPANS: &str = "SELECT rule, app, domain, since, ended_at FROM recordings \
    WHERE since < $2 AND (ended_at IS NULL OR ended_at >= $1)";

/// One row of `recording_files`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileRow {
    /// The object's path in the bucket.
    pub uri: String,
    /// Streaming domain.
    pub domain: String,
    /// App.
    pub app: String,
    /// Stream.
    pub stream: String,
    /// The rule that decided its recording, if recgate did.
    pub rule: Option<String>,
    /// Seconds of content.
    pub duration: f64,
    /// Unix seconds.
    pub start_time: i64,
    /// Unix seconds.
    pub stop_time: i64,
    /// JSON object of the `callback_*` arguments.
    pub push_args: String,
}

/// What `GET /recordings` and `GET /files` filter on; empty matches any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Streaming domain, lower-cased.
    pub domain: String,
    /// App.
    pub app: String,
    /// Stream.
    pub stream: String,
}

/// Recordings in progress matching `filter` and `state` (empty for any), after row
/// `after`, at most `limit`, in row order.
pub async fn list_active(
    store: &Store,
    filter: &Filter,
    state: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<RecordingRow>, StoreError> {
    Ok(on_pool!(store, pool => sqlx::query_as(LIST_ACTIVE)
        .bind(after).bind(&filter.domain).bind(&filter.app).bind(&filter.stream)
        .bind(state).bind(limit)
        .fetch_all(pool).await?))
}

/// How many recordings are in progress, by state name.
pub async fn count_active(store: &Store) -> Result<BTreeMap<String, i64>, StoreError> {
    let rows: Vec<(String, i64)> =
        on_pool!(store, pool => sqlx::query_as(COUNT_ACTIVE).fetch_all(pool).await?);
    Ok(rows.into_iter().collect())
}

/// Files matching `filter` that started in `[from, to)` (Unix seconds), after the file
/// `after` (its start time and URI), at most `limit`, in start time order.
pub async fn list_files(
    store: &Store,
    filter: &Filter,
    (from, to): (i64, i64),
    after: (i64, &str),
    limit: i64,
) -> Result<Vec<FileRow>, StoreError> {
    Ok(on_pool!(store, pool => sqlx::query_as(LIST_FILES)
        .bind(&filter.domain).bind(&filter.app).bind(&filter.stream)
        .bind(from).bind(to).bind(after.0).bind(after.1).bind(limit)
        .fetch_all(pool).await?))
}

/// A recording's span as `USAGE_SPANS` selects it: rule, app, domain, since, ended_at.
type SpanRow = (Option<String>, String, String, i64, Option<i64>);

/// Usage over `[start, end)` (Unix seconds), grouped `by`, days in `tz`.
pub async fn usage(
    store: &Store,
    by: GroupBy,
    (start, end): (i64, i64),
    tz: &jiff::tz::TimeZone,
) -> Result<Vec<UsageRow>, StoreError> {
    let (buckets, groups) = match by {
        GroupBy::Day => {
            let rows: Vec<(i64, f64, i64)> = on_pool!(store, pool => sqlx::query_as(USAGE_BUCKETS)
                .bind(start).bind(end).fetch_all(pool).await?);
            let buckets = rows
                .into_iter()
                .map(|(b, secs, n)| (b, secs, u64::try_from(n).unwrap_or_default()))
                .collect();
            (buckets, Vec::new())
        }
        GroupBy::Rule | GroupBy::App | GroupBy::Domain => {
            let sql = match by {
                GroupBy::Rule => USAGE_BY_RULE,
                GroupBy::App => USAGE_BY_APP,
                _ => USAGE_BY_DOMAIN,
            };
            let rows: Vec<(String, f64, i64)> = on_pool!(store, pool => sqlx::query_as(sql)
                .bind(start).bind(end).fetch_all(pool).await?);
            let groups = rows
                .into_iter()
                .map(|(k, secs, n)| (k, secs, u64::try_from(n).unwrap_or_default()))
                .collect();
            (Vec::new(), groups)
        }
    };
    let rows: Vec<SpanRow> = on_pool!(store, pool => sqlx::query_as(USAGE_SPANS)
            .bind(start.saturating_mul(1000)).bind(end.saturating_mul(1000))
            .fetch_all(pool).await?);
    let spans: Vec<Span> = rows
        .into_iter()
        .map(|(rule, app, domain, since, ended)| Span {
            rule,
            app,
            domain,
            since,
            ended,
        })
        .collect();
    let now = Timestamp::now().as_millisecond();
    Ok(super::usage::usage(
        by,
        (start, end),
        tz,
        &buckets,
        &groups,
        &spans,
        now,
    ))
}
