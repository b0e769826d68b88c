//! Where overrides are kept: an SQLite file (the default) or PostgreSQL (for a fleet of
//! replicas). Both hold the same table, created by the migrations in `migrations/`, and
//! are spoken to with the same SQL.

use super::model::{Override, OverrideKey};
use super::spec::StoreSpec;
use crate::decision::{Decision, IntervalSpec, check_decision};
use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::time::Duration;

/// Connections each replica keeps to its store: writes are rare and reads are whole-table
/// resyncs, so a few are plenty.
pub const STORE_MAX_CONNECTIONS: u32 = 4;

/// The PostgreSQL channel every replica listens on; the migration's trigger notifies it.
pub const NOTIFY_CHANNEL: &str = "recgate_overrides";

/// `[overrides] store`, validated.
/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("{0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// An open store.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs the same statement on whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

pub(crate) use on_pool;

impl Store {
    /// The statement that begins a writing transaction: on SQLite `BEGIN IMMEDIATE`, which
    /// takes the write lock first (waiting for it up to the busy timeout), so that a
    /// transaction that reads, then writes, never fails on another writer's commit.
    pub(crate) fn begin_write(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "BEGIN IMMEDIATE",
            Store::Postgres(_) => "BEGIN",
        }
    }
}

/// The columns of a `Row`, in its order.
macro_rules! columns {
    () => {
        "domain, app, stream, record, formats, interval_mp4, interval_flv, interval_m3u8, \
         reason, created_at, expires_at"
    };
}
/// The one override of a key.
macro_rules! by_key {
    () => {
        " WHERE domain = $1 AND app = $2 AND stream = $3"
    };
}
const UPSERT: &str = concat!(
    "INSERT INTO overrides (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
    ON CONFLICT (domain, app, stream) DO UPDATE SET \
    record = excluded.record, formats = excluded.formats, \
    interval_mp4 = excluded.interval_mp4, interval_flv = excluded.interval_flv, \
    interval_m3u8 = excluded.interval_m3u8, reason = excluded.reason, \
    created_at = excluded.created_at, expires_at = excluded.expires_at"
);
const DELETE: &str = concat!(
    "DELETE FROM overrides",
    by_key!(),
    " RETURNING ",
    columns!()
);
const SELECT_ALL: &str = concat!("SELECT ", columns!(), " FROM overrides");
const SELECT_ONE: &str = concat!("SELECT ", columns!(), " FROM overrides", by_key!());
const PURGE: &str = "DELETE FROM overrides WHERE expires_at IS NOT NULL AND expires_at <= $1";
const COUNT: &str = "SELECT COUNT(*) FROM overrides";
const VERSION: &str = "SELECT version FROM overrides_version WHERE id = 1";

/// `migrator`, made to accept a schema that a newer build has migrated further. Migrations
/// only ever add (tables, triggers, notification payloads older builds ignore), so an older
/// build still runs on a newer schema: a rollback, or an old replica restarting in the
/// middle of a rolling upgrade, starts instead of refusing.
fn tolerant(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    migrator.set_ignore_missing(true);
    migrator
}

/// One row of the `overrides` table.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    domain: String,
    app: String,
    stream: String,
    record: bool,
    formats: Option<String>,
    interval_mp4: Option<i64>,
    interval_flv: Option<i64>,
    interval_m3u8: Option<i64>,
    reason: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
}

impl Store {
    /// Opens (creating an SQLite file if needed) and migrates the store. `timeout` bounds
    /// every wait for a connection.
    pub async fn open(spec: &StoreSpec, timeout: Duration) -> Result<Option<Store>, StoreError> {
        let store = match spec {
            StoreSpec::Off => return Ok(None),
            StoreSpec::Sqlite(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    // WAL with synchronous = FULL: a write is on disk when it commits.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(timeout);
                let pool = SqlitePoolOptions::new()
                    .max_connections(STORE_MAX_CONNECTIONS)
                    .acquire_timeout(timeout)
                    .connect_with(options)
                    .await?;
                tolerant(sqlx::migrate!("migrations/sqlite"))
                    .run(&pool)
                    .await?;
                Store::Sqlite(pool)
            }
            StoreSpec::Postgres(url) => {
                let options: PgConnectOptions = url.parse()?;
                let pool = PgPoolOptions::new()
                    .max_connections(STORE_MAX_CONNECTIONS)
                    .acquire_timeout(timeout)
                    .connect_with(options)
                    .await?;
                tolerant(sqlx::migrate!("migrations/postgres"))
                    .run(&pool)
                    .await?;
                Store::Postgres(pool)
            }
        };
        Ok(Some(store))
    }

    /// The PostgreSQL pool, for LISTEN.
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Store::Postgres(pool) => Some(pool),
            Store::Sqlite(_) => None,
        }
    }

    /// Creates or replaces the override of `item.key`; returns once committed.
    pub async fn put(&self, item: &Override) -> Result<(), StoreError> {
        let decision = &item.decision;
        let formats = decision.formats().map(|list| {
            list.iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(",")
        });
        let interval = decision.interval().copied().unwrap_or_default();
        let secs = |v: Option<u32>| v.map(i64::from);
        on_pool!(self, pool => sqlx::query(UPSERT)
            .bind(&item.key.domain)
            .bind(&item.key.app)
            .bind(&item.key.stream)
            .bind(decision.record())
            .bind(formats)
            .bind(secs(interval.mp4))
            .bind(secs(interval.flv))
            .bind(secs(interval.m3u8))
            .bind(&item.reason)
            .bind(item.created_at.as_millisecond())
            .bind(item.expires_at.map(|t| t.as_millisecond()))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Deletes the override of `key`, returning what was stored; `None` when there was none.
    pub async fn delete(&self, key: &OverrideKey) -> Result<Option<Override>, StoreError> {
        let deleted: Option<Row> = on_pool!(self, pool => sqlx::query_as(DELETE)
            .bind(&key.domain)
            .bind(&key.app)
            .bind(&key.stream)
            .fetch_optional(pool)
            .await?);
        // A row that no longer reads (edited by hand) was still deleted.
        Ok(deleted.map(|row| {
            let fallback = Override::new(
                OverrideKey {
                    domain: row.domain.clone(),
                    app: row.app.clone(),
                    stream: row.stream.clone(),
                },
                Decision::plain(row.record),
                None,
                Timestamp::UNIX_EPOCH,
                None,
            );
            row.into_override().unwrap_or(fallback)
        }))
    }

    /// Deletes every override expired at `now`; returns how many.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let purged = on_pool!(self, pool => sqlx::query(PURGE)
            .bind(now.as_millisecond())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(purged)
    }

    /// The table's change counter: different after any change to it, by anyone.
    pub async fn version(&self) -> Result<i64, StoreError> {
        let version: i64 =
            on_pool!(self, pool => sqlx::query_scalar(VERSION).fetch_one(pool).await?);
        Ok(version)
    }

    /// How many overrides are stored.
    pub async fn count(&self) -> Result<i64, StoreError> {
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar(COUNT).fetch_one(pool).await?);
        Ok(count)
    }

    /// Every stored override. A row that no longer validates (edited by hand) is skipped
    /// with a warning rather than failing the whole load.
    pub async fn load(&self) -> Result<Vec<Override>, StoreError> {
        let rows: Vec<Row> =
            on_pool!(self, pool => sqlx::query_as(SELECT_ALL).fetch_all(pool).await?);
        Ok(rows.into_iter().filter_map(Row::readable).collect())
    }

    /// The stored override of `key`; `None` when there is none, or it no longer validates.
    pub async fn get(&self, key: &OverrideKey) -> Result<Option<Override>, StoreError> {
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(SELECT_ONE)
            .bind(&key.domain)
            .bind(&key.app)
            .bind(&key.stream)
            .fetch_optional(pool)
            .await?);
        Ok(row.and_then(Row::readable))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

/// The key a change notification names; `None` asks for a full resync (an empty payload,
/// or one this version cannot read).
pub fn notified_key(payload: &str) -> Option<OverrideKey> {
    #[derive(serde::Deserialize)]
    struct Notified {
        domain: String,
        app: String,
        stream: String,
    }
    let notified: Notified = serde_json::from_str(payload).ok()?;
    Some(OverrideKey {
        domain: notified.domain,
        app: notified.app,
        stream: notified.stream,
    })
}

impl Row {
    /// The override, or `None` with a warning when the row no longer validates.
    fn readable(self) -> Option<Override> {
        let key = format!("{}/{}/{}", self.domain, self.app, self.stream);
        self.into_override()
            .map_err(|problem| {
                tracing::warn!(key, problem, "skipping an unreadable stored override");
            })
            .ok()
    }

    /// The override a row holds, its decision checked as every decision is.
    fn into_override(self) -> Result<Override, String> {
        let formats: Option<Vec<String>> = self
            .formats
            .as_deref()
            .map(|text| text.split(',').map(str::to_owned).collect());
        let interval = IntervalSpec {
            mp4: self.interval_mp4,
            flv: self.interval_flv,
            m3u8: self.interval_m3u8,
        };
        let interval = (interval != IntervalSpec::default()).then_some(interval);
        let decision = check_decision(self.record, formats.as_deref(), interval.as_ref()).map_err(
            |problems| {
                let parts: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect();
                parts.join("; ")
            },
        )?;
        let time = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| e.to_string());
        Ok(Override::new(
            OverrideKey {
                domain: self.domain,
                app: self.app,
                stream: self.stream,
            },
            decision,
            self.reason,
            time(self.created_at)?,
            self.expires_at.map(time).transpose()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Format, Interval};

    #[tokio::test]
    async fn a_store_a_newer_build_migrated_further_still_opens() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(sqlx::Error::Io)?;
        let spec = StoreSpec::Sqlite(dir.path().join("o.db"));
        let Some(Store::Sqlite(pool)) = Store::open(&spec, Duration::from_secs(5)).await? else {
            panic!("an sqlite store");
        };
        // What a later migration leaves behind in sqlx's ledger.
        sqlx::query(
            "INSERT INTO _sqlx_migrations \
             (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a newer build', 1, x'00', 0)",
        )
        .execute(&pool)
        .await?;
        pool.close().await;
        let reopened = Store::open(&spec, Duration::from_secs(5)).await?;
        assert!(reopened.is_some(), "opens on the newer schema");
        Ok(())
    }

    #[tokio::test]
    async fn an_sqlite_store_keeps_what_it_is_given() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(sqlx::Error::Io)?;
        let spec = StoreSpec::Sqlite(dir.path().join("o.db"));
        let Some(store) = Store::open(&spec, Duration::from_secs(5)).await? else {
            panic!("sqlite store is not off");
        };
        let now = Timestamp::from_second(1_800_000_000)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let item = Override::new(
            OverrideKey {
                domain: "d".into(),
                app: String::new(),
                stream: "s".into(),
            },
            Decision::new(
                true,
                Some(vec![Format::M3u8, Format::Mp4]),
                Some(Interval {
                    mp4: Some(600),
                    ..Interval::default()
                }),
            ),
            Some("why".into()),
            now,
            Some(now + jiff::SignedDuration::from_secs(60)),
        );
        store.put(&item).await?;
        store.put(&item).await?;
        assert_eq!(store.load().await?, vec![item.clone()]);
        assert_eq!(store.purge_expired(now).await?, 0);
        assert_eq!(
            store
                .purge_expired(now + jiff::SignedDuration::from_secs(60))
                .await?,
            1
        );
        assert_eq!(store.count().await?, 0);
        store.put(&item).await?;
        assert_eq!(store.delete(&item.key).await?, Some(item.clone()));
        assert_eq!(store.delete(&item.key).await?, None);
        store.close().await;
        // A second open of the same file migrates nothing and sees the same rows.
        let again = Store::open(&spec, Duration::from_secs(5)).await?;
        assert_eq!(again.map(|s| matches!(s, Store::Sqlite(_))), Some(true));
        Ok(())
    }
}
