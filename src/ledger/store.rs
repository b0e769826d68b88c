//! The ledger's tables in the override store (SQLite or PostgreSQL, same SQL): every
//! event is applied with `step` inside a transaction, so replicas sharing one PostgreSQL
//! share one ledger, and an event answered 200 has been committed.

use super::{
    Applied, Current, EndReason, Ended, Event, FileWritten, LATE_EVENT_WINDOW, Recording,
    RecordingKey, State, staleness, step,
};
use crate::decision::Format;
use crate::overrides::{Store, StoreError, on_pool};
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// One piece of work for the ledger.
#[derive(Debug, Clone)]
pub enum Work {
    /// The on-demand callback opened this recording.
    Decided(Recording),
    /// A lifecycle event about a stream, received at a time.
    Event(RecordingKey, Event, Timestamp),
}

/// Active recordings ended in one sweep, at most: a sweep is one short transaction.
pub const SWEEP_BATCH: i64 = 10_000;
/// Rows deleted per statement by the retention purge, so that it never holds a long lock.
pub const PURGE_BATCH: i64 = 5_000;

/// The columns of a `RecordingRow`, in its order.
macro_rules! recording_columns {
    () => {
        "id, domain, app, stream, state, rule, formats, cycle_secs, since, last_event, \
         ingest_seen, recorded_seconds, files, ended_at, end_reason, quota"
    };
}
pub(super) use recording_columns;

const SELECT_ACTIVE: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings WHERE domain = $1 AND app = $2 AND stream = $3 AND ended_at IS NULL"
);
const SELECT_ACTIVE_LOCKED: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings WHERE domain = $1 AND app = $2 AND stream = $3 AND ended_at IS NULL \
    FOR UPDATE"
);
const SELECT_ENDED: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings WHERE domain = $1 AND app = $2 AND stream = $3 \
    AND ended_at IS NOT NULL AND ended_at >= $4 ORDER BY ended_at DESC LIMIT 1"
);
const INSERT_RECORDING: &str = "INSERT INTO recordings (domain, app, stream, state, rule, \
    formats, cycle_secs, since, last_event, ingest_seen, recorded_seconds, files, quota) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
    ON CONFLICT (domain, app, stream) WHERE ended_at IS NULL DO NOTHING";
const UPDATE_RECORDING: &str = "UPDATE recordings SET state = $2, last_event = $3, \
    ingest_seen = $4, recorded_seconds = $5, files = $6, ended_at = $7, end_reason = $8 \
    WHERE id = $1";
const INSERT_FILE: &str = "INSERT INTO recording_files (uri, domain, app, stream, rule, \
    duration, start_time, stop_time, push_args, received_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (uri) DO NOTHING";
const SELECT_SILENT: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings WHERE ended_at IS NULL AND last_event <= $1 ORDER BY last_event LIMIT $2"
);
const PURGE_RECORDINGS: &str = "DELETE FROM recordings WHERE id IN (SELECT id FROM recordings \
    WHERE ended_at IS NOT NULL AND ended_at < $1 LIMIT $2)";
const ADD_USAGE: &str = "INSERT INTO usage_buckets (bucket, domain, app, rule, seconds, files) \
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bucket, domain, app, rule) \
    DO UPDATE SET seconds = usage_buckets.seconds + excluded.seconds, \
    files = usage_buckets.files + excluded.files";
const ADD_QUOTA_USAGE: &str = "INSERT INTO quota_usage (quota, bucket, seconds) \
    VALUES ($1, $2, $3) ON CONFLICT (quota, bucket) \
    DO UPDATE SET seconds = quota_usage.seconds + excluded.seconds";
const ADD_QUOTA_ACTIVE: &str = "INSERT INTO quota_active (quota, shard, active) \
    VALUES ($1, $2, $3) ON CONFLICT (quota, shard) \
    DO UPDATE SET active = quota_active.active + excluded.active";
/// Shards of each quota's count of recordings in progress: writers that change the count
/// of one quota at once mostly change different rows.
pub const QUOTA_SHARDS: u64 = 16;
const PURGE_QUOTA_USAGE: &str = "DELETE FROM quota_usage WHERE bucket < $1";
/// How long quota hours are kept at least: longer than any calendar month.
pub const QUOTA_USAGE_KEPT: SignedDuration = SignedDuration::from_hours(62 * 24);
const PURGE_BUCKETS: &str = "DELETE FROM usage_buckets WHERE bucket < $1";
const PURGE_FILES: &str = "DELETE FROM recording_files WHERE uri IN (SELECT uri FROM \
    recording_files WHERE start_time < $1 LIMIT $2)";

/// Inserts `recording` as in progress; whether it was new.
macro_rules! insert_recording {
    ($tx:expr, $recording:expr) => {{
        let r: &Recording = $recording;
        sqlx::query(INSERT_RECORDING)
            .bind(&r.key.domain)
            .bind(&r.key.app)
            .bind(&r.key.stream)
            .bind(r.state.as_str())
            .bind(&r.rule)
            .bind(formats_text(&r.formats))
            .bind(r.cycle.as_secs())
            .bind(r.since.as_millisecond())
            .bind(r.last_event.as_millisecond())
            .bind(r.ingest_seen)
            .bind(r.recorded_seconds)
            .bind(i64::try_from(r.files).unwrap_or(i64::MAX))
            .bind(&r.quota)
            .execute($tx)
            .await?
            .rows_affected()
            == 1
    }};
}

/// Writes `recording`'s state to row `id`, ending it when `end` says when and why.
macro_rules! update_recording {
    ($tx:expr, $id:expr, $recording:expr, $end:expr) => {{
        let r: &Recording = $recording;
        let end: Option<(Timestamp, EndReason)> = $end;
        sqlx::query(UPDATE_RECORDING)
            .bind($id)
            .bind(r.state.as_str())
            .bind(r.last_event.as_millisecond())
            .bind(r.ingest_seen)
            .bind(r.recorded_seconds)
            .bind(i64::try_from(r.files).unwrap_or(i64::MAX))
            .bind(end.map(|(at, _)| at.as_millisecond()))
            .bind(end.map(|(_, why)| why.as_str()))
            .execute($tx)
            .await?;
    }};
}

/// Inserts `file` unless its URI is known; whether it was new.
macro_rules! insert_file {
    ($tx:expr, $key:expr, $rule:expr, $file:expr, $now:expr) => {{
        let file: &FileWritten = $file;
        let push_args = serde_json::to_string(&file.push_args).unwrap_or_else(|_| "{}".into());
        sqlx::query(INSERT_FILE)
            .bind(&file.uri)
            .bind(&$key.domain)
            .bind(&$key.app)
            .bind(&$key.stream)
            .bind($rule)
            .bind(file.duration)
            .bind(file.start_time)
            .bind(file.stop_time)
            .bind(push_args)
            .bind($now.as_millisecond())
            .execute($tx)
            .await?
            .rows_affected()
            == 1
    }};
}

/// One row of `recordings`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordingRow {
    /// Its row id: the paging key of `GET /recordings`.
    pub id: i64,
    domain: String,
    app: String,
    stream: String,
    state: String,
    rule: Option<String>,
    formats: Option<String>,
    cycle_secs: i64,
    since: i64,
    last_event: i64,
    ingest_seen: bool,
    recorded_seconds: f64,
    files: i64,
    ended_at: Option<i64>,
    end_reason: Option<String>,
    quota: Option<String>,
}

impl RecordingRow {
    /// The recording the row holds.
    pub fn recording(&self) -> Recording {
        let time = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        Recording {
            key: RecordingKey {
                domain: self.domain.clone(),
                app: self.app.clone(),
                stream: self.stream.clone(),
            },
            state: match self.state.as_str() {
                "recording" => State::Recording,
                "paused" => State::Paused,
                _ => State::Decided,
            },
            rule: self.rule.clone(),
            quota: self.quota.clone(),
            formats: self
                .formats
                .as_deref()
                .map(|text| text.split(',').filter_map(Format::parse).collect())
                .unwrap_or_default(),
            cycle: SignedDuration::from_secs(self.cycle_secs),
            since: time(self.since),
            last_event: time(self.last_event),
            ingest_seen: self.ingest_seen,
            recorded_seconds: self.recorded_seconds,
            files: u64::try_from(self.files).unwrap_or_default(),
        }
    }

    /// When it ended, if it did.
    pub fn ended_at(&self) -> Option<Timestamp> {
        self.ended_at
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
    }

    /// Why it ended, if it did.
    pub fn end_reason(&self) -> Option<&str> {
        self.end_reason.as_deref()
    }
}

/// The shard of `key`'s stream in `quota_active`.
fn shard(key: &RecordingKey) -> i64 {
    use std::hash::BuildHasher as _;
    let hash = foldhash::fast::FixedState::with_seed(1).hash_one(key);
    (hash % QUOTA_SHARDS) as i64
}

fn formats_text(formats: &[Format]) -> Option<String> {
    (!formats.is_empty()).then(|| {
        formats
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// What applying one piece of work did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whether it changed anything.
    pub applied: Applied,
    /// A file newly counted: the rule that decided its recording (`None` when recgate did
    /// not) and its seconds of content.
    pub counted: Option<(Option<String>, f64)>,
    /// A recording that counted toward a quota and ended: its slot is free.
    pub freed: Option<Recording>,
}

/// Applies `work`, in order, in one transaction; one outcome per item.
pub async fn apply(store: &Store, work: &[Work]) -> Result<Vec<Outcome>, StoreError> {
    // PostgreSQL: replicas lock the row they change; SQLite has one writer at a time.
    let select_active = if matches!(store, Store::Postgres(_)) {
        SELECT_ACTIVE_LOCKED
    } else {
        SELECT_ACTIVE
    };
    on_pool!(store, pool => {
        let mut tx = pool.begin_with(store.begin_write()).await?;
        let mut outcomes = Vec::with_capacity(work.len());
        // Files counted in this batch, summed per usage bucket, written last in key order.
        let mut usage: BTreeMap<(i64, &str, &str, String), (f64, i64)> = BTreeMap::new();
        let mut quota_usage: BTreeMap<(String, i64), f64> = BTreeMap::new();
        let mut quota_active: BTreeMap<(String, i64), i64> = BTreeMap::new();
        for item in work {
            let outcome = match item {
                Work::Decided(recording) => {
                    let inserted = insert_recording!(&mut *tx, recording);
                    if let (true, Some(quota)) = (inserted, &recording.quota) {
                        *quota_active.entry((quota.clone(), shard(&recording.key))).or_insert(0) += 1;
                    }
                    let applied = if inserted { Applied::Applied } else { Applied::Duplicate };
                    Outcome { applied, counted: None, freed: None }
                }
                Work::Event(key, event, now) => {
                    let active: Option<RecordingRow> = sqlx::query_as(select_active)
                        .bind(&key.domain).bind(&key.app).bind(&key.stream)
                        .fetch_optional(&mut *tx).await?;
                    let ended: Option<RecordingRow> = match (&active, event) {
                        (None, Event::File(_)) => {
                            let since = now.checked_sub(LATE_EVENT_WINDOW).unwrap_or(*now);
                            sqlx::query_as(SELECT_ENDED)
                                .bind(&key.domain).bind(&key.app).bind(&key.stream)
                                .bind(since.as_millisecond())
                                .fetch_optional(&mut *tx).await?
                        }
                        _ => None,
                    };
                    let rule = active.as_ref().or(ended.as_ref()).and_then(|r| r.rule.clone());
                    let quota = active.as_ref().or(ended.as_ref()).and_then(|r| r.quota.clone());
                    let fresh = match event {
                        Event::File(file) => insert_file!(&mut *tx, key, &rule, file, now),
                        _ => true,
                    };
                    let current = match (&active, &ended) {
                        (Some(row), _) => Current::Active(row.recording()),
                        (None, Some(row)) => Current::Ended(
                            row.recording(),
                            row.ended_at().unwrap_or(*now),
                        ),
                        (None, None) => Current::None,
                    };
                    let step = step(current, key, event, fresh, *now);
                    if let Some(recording) = &step.active {
                        match &active {
                            Some(row) => update_recording!(&mut *tx, row.id, recording, None),
                            None => {
                                let _inserted = insert_recording!(&mut *tx, recording);
                            }
                        }
                    }
                    if let (Some(ended), Some(row)) = (&step.ended, &active) {
                        update_recording!(&mut *tx, row.id, &ended.recording, Some((ended.at, ended.reason)));
                        if let Some(quota) = &row.quota {
                            *quota_active.entry((quota.clone(), shard(key))).or_insert(0) -= 1;
                        }
                    }
                    if let (Some(recording), Some(row)) = (&step.late, &ended) {
                        let end = row.ended_at().unwrap_or(*now);
                        let reason = EndReason::parse(row.end_reason().unwrap_or_default());
                        update_recording!(&mut *tx, row.id, recording, Some((end, reason)));
                    }
                    let counted = match event {
                        Event::File(file) if fresh => {
                            let bucket = file.start_time.div_euclid(super::usage::BUCKET_SECS)
                                * super::usage::BUCKET_SECS;
                            let slot = (bucket, key.domain.as_str(), key.app.as_str(),
                                rule.clone().unwrap_or_default());
                            let sum = usage.entry(slot).or_insert((0.0, 0));
                            sum.0 += file.duration.max(0.0);
                            sum.1 += 1;
                            if let Some(quota) = quota {
                                *quota_usage.entry((quota, bucket)).or_insert(0.0) +=
                                    file.duration.max(0.0);
                            }
                            Some((rule, file.duration.max(0.0)))
                        }
                        _ => None,
                    };
                    let freed = step.ended.filter(|e| e.recording.quota.is_some()).map(|e| e.recording);
                    Outcome { applied: step.applied, counted, freed }
                }
            };
            outcomes.push(outcome);
        }
        for ((bucket, domain, app, rule), (seconds, files)) in usage {
            sqlx::query(ADD_USAGE)
                .bind(bucket).bind(domain).bind(app).bind(rule).bind(seconds).bind(files)
                .execute(&mut *tx).await?;
        }
        for ((quota, bucket), seconds) in quota_usage {
            sqlx::query(ADD_QUOTA_USAGE)
                .bind(quota).bind(bucket).bind(seconds)
                .execute(&mut *tx).await?;
        }
        for ((quota, shard), change) in quota_active.into_iter().filter(|(_, n)| *n != 0) {
            sqlx::query(ADD_QUOTA_ACTIVE)
                .bind(quota).bind(shard).bind(change)
                .execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    })
}

/// Ends, at `now`, the recordings silent for too long (see `super::staleness`); at most
/// `SWEEP_BATCH` per call.
pub async fn sweep(
    store: &Store,
    notify_events: bool,
    now: Timestamp,
) -> Result<Vec<Ended>, StoreError> {
    let quiet_since = now.checked_sub(super::DECIDED_TTL).unwrap_or(now);
    on_pool!(store, pool => {
        let mut tx = pool.begin_with(store.begin_write()).await?;
        let silent: Vec<RecordingRow> = sqlx::query_as(SELECT_SILENT)
            .bind(quiet_since.as_millisecond())
            .bind(SWEEP_BATCH)
            .fetch_all(&mut *tx)
            .await?;
        let mut ended = Vec::new();
        let mut quota_active: BTreeMap<(String, i64), i64> = BTreeMap::new();
        for row in silent {
            let recording = row.recording();
            if let Some(reason) = staleness(&recording, notify_events, now) {
                update_recording!(&mut *tx, row.id, &recording, Some((now, reason)));
                if let Some(quota) = &recording.quota {
                    *quota_active.entry((quota.clone(), shard(&recording.key))).or_insert(0) -= 1;
                }
                ended.push(Ended { recording, reason, at: now });
            }
        }
        for ((quota, shard), change) in quota_active {
            sqlx::query(ADD_QUOTA_ACTIVE)
                .bind(quota).bind(shard).bind(change)
                .execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ended)
    })
}

/// Deletes ended recordings and files older than `before`, a batch at a time; returns
/// how many rows went.
pub async fn purge(store: &Store, before: Timestamp) -> Result<u64, StoreError> {
    // A quota's hours of this month are kept whatever the retention.
    let quota_usage_kept = Timestamp::now()
        .checked_sub(QUOTA_USAGE_KEPT)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let mut purged = 0;
    loop {
        let gone = on_pool!(store, pool => {
            let recordings = sqlx::query(PURGE_RECORDINGS)
                .bind(before.as_millisecond()).bind(PURGE_BATCH)
                .execute(pool).await?.rows_affected();
            let files = sqlx::query(PURGE_FILES)
                .bind(before.as_second()).bind(PURGE_BATCH)
                .execute(pool).await?.rows_affected();
            let buckets = sqlx::query(PURGE_BUCKETS)
                .bind(before.as_second())
                .execute(pool).await?.rows_affected();
            let quota_buckets = sqlx::query(PURGE_QUOTA_USAGE)
                .bind(before.min(quota_usage_kept).as_second())
                .execute(pool).await?.rows_affected();
            recordings + files + buckets + quota_buckets
        });
        purged += gone;
        if gone == 0 {
            return Ok(purged);
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests;
