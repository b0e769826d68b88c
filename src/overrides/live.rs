//! The overrides a replica serves: an in-memory snapshot the callback reads without ever
//! waiting on the database, kept in step with the store.
//!
//! The snapshot is refreshed on every local write (after the store has committed it), by a
//! periodic full resync, and with PostgreSQL within moments of a write by any replica
//! (LISTEN/NOTIFY). When the store is unreachable the last snapshot keeps serving, the
//! store is reported down, and writes fail until it is back.

use super::model::{Override, OverrideKey, OverrideSet};
use super::store::{NOTIFY_CHANNEL, Store, StoreError, StoreSpec};
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use jiff::Timestamp;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::postgres::{PgListener, PgPool};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// SECURITY: most overrides one store may hold; a `PUT` of a new key past it is refused.
pub const MAX_OVERRIDES: usize = 100_000;
/// First wait before reconnecting the PostgreSQL listener; doubles up to
/// `LISTEN_RETRY_MAX`.
pub const LISTEN_RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest wait between reconnection attempts of the PostgreSQL listener.
pub const LISTEN_RETRY_MAX: Duration = Duration::from_secs(2);

/// Why a write through the admin API did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// `[overrides] store = "off"`.
    #[error("overrides are off ([overrides] store = \"off\")")]
    Off,
    /// The store could not be reached or refused the write; nothing was changed.
    #[error("the override store is unavailable: {0}")]
    Unavailable(StoreError),
    /// `MAX_OVERRIDES` are stored already.
    #[error("{MAX_OVERRIDES} overrides are stored; delete some first")]
    TooMany,
}

/// The store's health as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStatus {
    /// `off`, `sqlite` or `postgres`.
    pub store: &'static str,
    /// Whether the last contact with the store succeeded.
    pub up: bool,
    /// Overrides in the snapshot.
    pub loaded: usize,
    /// When the snapshot was last read whole from the store.
    pub last_sync: Option<Timestamp>,
}

/// Metric handles the overrides update.
struct Gauges {
    store_up: Gauge,
    loaded: Gauge,
    sync_failures: Counter,
}

/// A replica's overrides: the snapshot, the store and its health.
pub struct Overrides {
    spec: StoreSpec,
    store: Option<Store>,
    snapshot: ArcSwap<OverrideSet>,
    /// Whether `snapshot` holds any override.
    any: AtomicBool,
    /// Serialises "change the store, then the snapshot" against "read the store, then
    /// replace the snapshot", so a resync never brings back what a write just changed.
    sync: tokio::sync::Mutex<()>,
    up: AtomicBool,
    /// When the snapshot was last read whole from the store.
    last_sync: Mutex<Option<Timestamp>>,
    gauges: Gauges,
}

impl Overrides {
    /// No store: nothing overrides the rules and writes answer `WriteError::Off`.
    pub fn off(metrics: &Metrics) -> Overrides {
        Overrides::with_store(StoreSpec::Off, None, metrics)
    }

    /// Opens `spec` and reads every override; fails when the store cannot be reached, so a
    /// replica never starts without the overrides it should apply.
    pub async fn open(
        spec: &StoreSpec,
        timeout: Duration,
        metrics: &Metrics,
    ) -> Result<Overrides, StoreError> {
        let store = Store::open(spec, timeout).await?;
        let overrides = Overrides::with_store(spec.clone(), store, metrics);
        overrides.resync().await?;
        Ok(overrides)
    }

    fn with_store(spec: StoreSpec, store: Option<Store>, metrics: &Metrics) -> Overrides {
        let gauges = Gauges {
            store_up: metrics.overrides_store_up.clone(),
            loaded: metrics.overrides_loaded.clone(),
            sync_failures: metrics.override_sync_failures.clone(),
        };
        gauges.store_up.set(i64::from(store.is_some()));
        gauges.loaded.set(0);
        Overrides {
            up: AtomicBool::new(store.is_some()),
            spec,
            store,
            snapshot: ArcSwap::from_pointee(OverrideSet::default()),
            any: AtomicBool::new(false),
            sync: tokio::sync::Mutex::new(()),
            last_sync: Mutex::new(None),
            gauges,
        }
    }

    /// The store setting, as it may be logged.
    pub fn spec(&self) -> &StoreSpec {
        &self.spec
    }

    /// The snapshot; hold it for one request only.
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<OverrideSet>> {
        self.snapshot.load()
    }

    /// Whether any override is stored: one atomic read, so that the callback pays
    /// nothing more when, as usual, there are none.
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// The store's health and the snapshot's size.
    pub fn status(&self) -> StoreStatus {
        StoreStatus {
            store: self.spec.kind(),
            up: self.up.load(Ordering::Acquire),
            loaded: self.snapshot.load().len(),
            last_sync: self.last_sync.lock().map_or(None, |t| *t),
        }
    }

    fn store(&self) -> Result<&Store, WriteError> {
        self.store.as_ref().ok_or(WriteError::Off)
    }

    /// Stores `item` (replacing any with its key), then serves it; returns once the store
    /// has committed it.
    pub async fn put(&self, item: Override) -> Result<Arc<Override>, WriteError> {
        let store = self.store()?;
        let _sync = self.sync.lock().await;
        let current = self.snapshot.load_full();
        if current.get(&item.key).is_none() && current.len() >= MAX_OVERRIDES {
            return Err(WriteError::TooMany);
        }
        self.checked(store.put(&item).await)
            .map_err(WriteError::Unavailable)?;
        let item = Arc::new(item);
        let mut next = OverrideSet::clone(&current);
        next.put(Arc::clone(&item));
        self.publish(next);
        Ok(item)
    }

    /// Deletes the override of `key` from the store, then stops serving it; `None` when
    /// there was none.
    pub async fn delete(&self, key: &OverrideKey) -> Result<Option<Arc<Override>>, WriteError> {
        let store = self.store()?;
        let _sync = self.sync.lock().await;
        let deleted = self
            .checked(store.delete(key).await)
            .map_err(WriteError::Unavailable)?;
        let mut next = OverrideSet::clone(&self.snapshot.load_full());
        next.remove(key);
        self.publish(next);
        // What the store held, which another replica may have written after this
        // replica's last sync.
        Ok(deleted.map(Arc::new))
    }

    /// Purges expired overrides from the store and replaces the snapshot with what it holds.
    pub async fn resync(&self) -> Result<usize, StoreError> {
        let Some(store) = &self.store else {
            return Ok(0);
        };
        let _sync = self.sync.lock().await;
        let loaded = async {
            let purged = store.purge_expired(Timestamp::now()).await?;
            if purged > 0 {
                tracing::info!(purged, "expired overrides purged");
            }
            store.load().await
        };
        let overrides = self.checked(loaded.await).inspect_err(|_| {
            self.gauges.sync_failures.inc();
        })?;
        let set = OverrideSet::new(overrides);
        let count = set.len();
        self.publish(set);
        if let Ok(mut last_sync) = self.last_sync.lock() {
            *last_sync = Some(Timestamp::now());
        }
        Ok(count)
    }

    fn publish(&self, set: OverrideSet) {
        self.gauges.loaded.set(set.len() as i64);
        let any = !set.is_empty();
        self.snapshot.store(Arc::new(set));
        self.any.store(any, Ordering::Release);
    }

    /// Passes `result` through, noting whether the store answered.
    fn checked<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => self.mark(true, None),
            Err(error) => self.mark(false, Some(error.to_string())),
        }
        result
    }

    fn mark(&self, up: bool, error: Option<String>) {
        let was_up = self.up.swap(up, Ordering::AcqRel);
        self.gauges.store_up.set(i64::from(up));
        match (was_up, up) {
            (true, false) => tracing::error!(
                store = %self.spec,
                error = error.as_deref().unwrap_or_default(),
                "override store unreachable; serving the last snapshot"
            ),
            (false, true) => tracing::info!(store = %self.spec, "override store reachable again"),
            _ => {}
        }
    }

    /// Keeps the snapshot in step until `cancel` fires: a full resync every
    /// `resync_interval`, and with PostgreSQL a listener for other replicas' writes.
    pub fn spawn(
        self: &Arc<Self>,
        cancel: &CancellationToken,
        resync_interval: Duration,
    ) -> Vec<JoinHandle<()>> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let mut tasks = vec![tokio::spawn(
            Arc::clone(self).resync_every(resync_interval, cancel.clone()),
        )];
        if let Some(pool) = store.postgres() {
            tasks.push(tokio::spawn(
                Arc::clone(self).listen(pool.clone(), cancel.clone()),
            ));
        }
        tasks
    }

    async fn resync_every(self: Arc<Self>, every: Duration, cancel: CancellationToken) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {
                    if let Err(error) = self.resync().await {
                        tracing::warn!(%error, "override resync failed");
                    }
                }
            }
        }
        if let Some(store) = &self.store {
            store.close().await;
        }
    }

    /// Listens for changes by any replica; after every (re)connection, resyncs whole, since
    /// notifications sent while not listening are lost.
    async fn listen(self: Arc<Self>, pool: PgPool, cancel: CancellationToken) {
        let mut backoff = LISTEN_RETRY_MIN;
        loop {
            let attempt = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(NOTIFY_CHANNEL).await?;
                self.resync().await?;
                Ok::<_, StoreError>(listener)
            };
            let attempt = tokio::select! {
                () = cancel.cancelled() => return,
                attempt = attempt => attempt,
            };
            let mut listener = match attempt {
                Ok(listener) => listener,
                Err(error) => {
                    self.mark(false, Some(error.to_string()));
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(LISTEN_RETRY_MAX);
                    continue;
                }
            };
            backoff = LISTEN_RETRY_MIN;
            loop {
                let next = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = listener.try_recv() => next,
                };
                match next {
                    Ok(Some(_)) => {
                        // Several writes in a burst need one resync.
                        while listener.next_buffered().is_some() {}
                        if let Err(error) = self.resync().await {
                            tracing::warn!(%error, "override resync after a change failed");
                        }
                    }
                    Ok(None) => {
                        self.mark(false, Some("lost the connection to PostgreSQL".into()));
                        break;
                    }
                    Err(error) => {
                        self.mark(false, Some(error.to_string()));
                        break;
                    }
                }
            }
        }
    }
}
