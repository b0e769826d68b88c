//! The quota sync: several times a second, and at once when a replica runs out of tokens
//! or a slot frees, each replica renews its lease of every quota in one transaction of
//! the store, taking each quota's row lock in name order (so that replicas never
//! deadlock), reading the quota's figures and moving its tokens by `lease::tokens_wanted`.
//!
//! A replica that stops syncing (killed, or cut off from the store) stops handing out
//! tokens `LEASE_TIMEOUT / 2` after its last sync, and the others void its lease after
//! `LEASE_TIMEOUT`: its unused slots return to the pool, while its recordings still count
//! until they end. Replicas compare lease times written by each other's clocks, so their
//! clocks must agree to well within `LEASE_TIMEOUT / 2` (NTP does).

use super::lease::{Lease, tokens_wanted};
use super::month::month_span;
use super::slots::{Quota, QuotaFigures, Rebalance};
use super::{QuotaBook, QuotaSpec};
use crate::overrides::{Store, StoreError, on_pool};
use crate::telemetry::metrics::{Metrics, QuotaReading};
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often a replica renews its leases and refreshes the quotas' figures.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// The least time between two syncs, however often they are asked for.
pub const MIN_SYNC_GAP: Duration = Duration::from_millis(20);
/// How long a starting server waits for its first sync before it serves anyway.
pub const FIRST_SYNC_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a lease stays valid without renewal: after it, the other replicas hand out
/// the slots it held. The replica itself stops using them after half of it.
pub const LEASE_TIMEOUT: Duration = Duration::from_secs(10);

const ADD_QUOTA: &str = "INSERT INTO quotas (name, refused) VALUES ($1, 0) \
    ON CONFLICT (name) DO NOTHING";
const LOCK_QUOTA: &str =
    "UPDATE quotas SET refused = refused + $2 WHERE name = $1 RETURNING refused";
const EXPIRE_LEASES: &str = "DELETE FROM quota_leases WHERE quota = $1 AND renewed_at < $2";
/// The quota's recordings in progress, as the ledger's writers keep them in sharded rows
/// (16 rows to sum, however many recordings there are).
const COUNT_ACTIVE: &str =
    "SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) FROM quota_active WHERE quota = $1";
const OTHER_LEASES: &str =
    "SELECT reserved, demand FROM quota_leases WHERE quota = $1 AND replica <> $2";
const MONTH_SECONDS: &str = "SELECT COALESCE(SUM(seconds), 0.0) FROM quota_usage \
    WHERE quota = $1 AND bucket >= $2 AND bucket < $3";
const RENEW_LEASE: &str = "INSERT INTO quota_leases (quota, replica, reserved, demand, \
    renewed_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (quota, replica) DO UPDATE SET \
    reserved = excluded.reserved, demand = excluded.demand, renewed_at = excluded.renewed_at";
const DROP_LEASE: &str = "DELETE FROM quota_leases WHERE quota = $1 AND replica = $2";
const MY_LEASES: &str = "SELECT quota FROM quota_leases WHERE replica = $1";
const READ_REFUSED: &str = "SELECT refused FROM quotas WHERE name = $1";
const DROP_MY_LEASES: &str = "DELETE FROM quota_leases WHERE replica = $1";

/// Syncs `book`'s quotas once (so that a server starts with its leases, if the store
/// answers within `FIRST_SYNC_TIMEOUT`), then in the background until `stop` fires, when
/// it gives back every lease.
pub async fn start(
    book: Arc<QuotaBook>,
    store: Store,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let replica = uuid::Uuid::new_v4().to_string();
    let quotas = book.quotas();
    if !quotas.is_empty() {
        let first = sync(&store, &quotas, &replica, Timestamp::now());
        match tokio::time::timeout(FIRST_SYNC_TIMEOUT, first).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "first quota sync failed; retrying in the background")
            }
            Err(_) => tracing::warn!("first quota sync timed out; retrying in the background"),
        }
    }
    tokio::spawn(run(book, store, metrics, stop, replica))
}

/// Syncs `book`'s quotas with `store` as `replica` until `stop` fires, then gives back
/// every lease.
async fn run(
    book: Arc<QuotaBook>,
    store: Store,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    replica: String,
) {
    let mut failing = false;
    let mut held_any = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(SYNC_INTERVAL) => {}
            () = book.wake().notified() => {}
        }
        let quotas = book.quotas();
        // No quota, and no lease left to give back: nothing to ask the store.
        if quotas.is_empty() && !held_any {
            continue;
        }
        held_any = !quotas.is_empty();
        match sync(&store, &quotas, &replica, Timestamp::now()).await {
            Ok(()) => {
                if failing {
                    tracing::info!("quota sync with the store works again");
                }
                failing = false;
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "quota sync failed; quotas hand out no new slot past their lease");
                }
                failing = true;
            }
        }
        let now = Timestamp::now();
        for quota in quotas.iter() {
            let (spec, figures) = (quota.spec(), quota.figures());
            let reading = QuotaReading {
                active: figures.active,
                max_active: spec.max_active,
                hours: figures.seconds_at(now) / 3600.0,
                monthly_hours: spec.monthly_hours,
                refused: quota.refused_here(),
            };
            metrics.show_quota(&spec.name, reading);
        }
        tokio::time::sleep(MIN_SYNC_GAP).await;
    }
    for quota in book.quotas().iter() {
        quota.drop_tokens();
    }
    let released = on_pool!(&store, pool => {
        sqlx::query(DROP_MY_LEASES).bind(&replica).execute(pool).await.map(|_| ())
    });
    if let Err(error) = released {
        tracing::warn!(%error, "quota leases not given back; they lapse after the lease timeout");
    }
}

/// One sync of every quota at `now`, as `replica`, in one transaction.
pub async fn sync(
    store: &Store,
    quotas: &[Arc<Quota>],
    replica: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let started = Instant::now();
    let mut order: Vec<&Arc<Quota>> = quotas.iter().collect();
    order.sort_by_key(|quota| quota.spec().name.clone());
    let refusals: Vec<u64> = order.iter().map(|q| q.take_unsynced_refused()).collect();
    let result = renew(store, &order, &refusals, replica, now).await;
    match result {
        Ok(plans) => {
            let valid_until = started + LEASE_TIMEOUT / 2;
            for (quota, (plan, figures)) in order.iter().zip(plans) {
                quota.synced(plan, valid_until, figures);
            }
            Ok(())
        }
        Err(error) => {
            for (quota, refused) in order.iter().zip(refusals) {
                quota.restore_unsynced_refused(refused);
            }
            Err(error)
        }
    }
}

async fn renew(
    store: &Store,
    order: &[&Arc<Quota>],
    refusals: &[u64],
    replica: &str,
    now: Timestamp,
) -> Result<Vec<(Rebalance, QuotaFigures)>, StoreError> {
    let lapsed = now
        .checked_sub(SignedDuration::try_from(LEASE_TIMEOUT).unwrap_or_default())
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .as_millisecond();
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let as_u64 = |n: i64| u64::try_from(n).unwrap_or_default();
    on_pool!(store, pool => {
        let mut tx = pool.begin_with(store.begin_write()).await?;
        let mut plans = Vec::with_capacity(order.len());
        for (quota, refused) in order.iter().zip(refusals) {
            let spec = quota.spec();
            let name = spec.name.as_str();
            sqlx::query(ADD_QUOTA).bind(name).execute(&mut *tx).await?;
            let refused: i64 = sqlx::query_scalar(LOCK_QUOTA)
                .bind(name).bind(as_i64(*refused))
                .fetch_one(&mut *tx).await?;
            sqlx::query(EXPIRE_LEASES).bind(name).bind(lapsed).execute(&mut *tx).await?;
            let mark = quota.mark();
            let active: i64 = sqlx::query_scalar(COUNT_ACTIVE)
                .bind(name).fetch_one(&mut *tx).await?;
            let (month_start, month_end) = month_span(now, &spec.timezone);
            let seconds: f64 = sqlx::query_scalar(MONTH_SECONDS)
                .bind(name).bind(month_start.as_second()).bind(month_end.as_second())
                .fetch_one(&mut *tx).await?;
            let plan = match spec.max_active {
                Some(cap) => {
                    let others: Vec<(i64, i64)> = sqlx::query_as(OTHER_LEASES)
                        .bind(name).bind(replica)
                        .fetch_all(&mut *tx).await?;
                    let others: Vec<Lease> = others
                        .into_iter()
                        .map(|(reserved, demand)| Lease {
                            reserved: as_u64(reserved),
                            demand: as_u64(demand),
                        })
                        .collect();
                    let active = as_u64(active);
                    let plan = quota.rebalance(mark, |pending, demand| {
                        tokens_wanted(cap, active, &others, pending, demand)
                    });
                    sqlx::query(RENEW_LEASE)
                        .bind(name).bind(replica)
                        .bind(as_i64(plan.reserved)).bind(as_i64(plan.demand))
                        .bind(now.as_millisecond())
                        .execute(&mut *tx).await?;
                    plan
                }
                None => {
                    sqlx::query(DROP_LEASE).bind(name).bind(replica).execute(&mut *tx).await?;
                    quota.rebalance(mark, |_, _| 0)
                }
            };
            let figures = QuotaFigures {
                active: as_u64(active),
                seconds,
                month_start,
                month_end,
                refused: as_u64(refused),
                synced: Some(now),
            };
            plans.push((plan, figures));
        }
        // Leases of quotas no longer configured (removed or renamed) are given back.
        let mine: Vec<String> = sqlx::query_scalar(MY_LEASES)
            .bind(replica).fetch_all(&mut *tx).await?;
        for gone in mine.iter().filter(|name| !order.iter().any(|q| q.spec().name == **name)) {
            sqlx::query(DROP_LEASE).bind(gone).bind(replica).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(plans)
    })
}

/// Each of `specs`' figures at `now` as the store holds them, for `recgate decide`.
pub async fn read_figures(
    store: &Store,
    specs: &[QuotaSpec],
    now: Timestamp,
) -> Result<Vec<QuotaFigures>, StoreError> {
    let mut all = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name.as_str();
        let (month_start, month_end) = month_span(now, &spec.timezone);
        let figures = on_pool!(store, pool => {
            let active: i64 = sqlx::query_scalar(COUNT_ACTIVE).bind(name).fetch_one(pool).await?;
            let seconds: f64 = sqlx::query_scalar(MONTH_SECONDS)
                .bind(name).bind(month_start.as_second()).bind(month_end.as_second())
                .fetch_one(pool).await?;
            let refused: Option<i64> = sqlx::query_scalar(READ_REFUSED)
                .bind(name).fetch_optional(pool).await?;
            QuotaFigures {
                active: u64::try_from(active).unwrap_or_default(),
                seconds,
                month_start,
                month_end,
                refused: refused.and_then(|n| u64::try_from(n).ok()).unwrap_or_default(),
                synced: Some(now),
            }
        });
        all.push(figures);
    }
    Ok(all)
}
