//! The overrides a replica serves: an in-memory snapshot the callback reads without ever
//! waiting on the database, kept in step with the store.
//!
//! The snapshot is refreshed on every local write (after the store has committed it), by a
//! periodic full resync, and with PostgreSQL within moments of a write by any replica
//! (LISTEN/NOTIFY): a notification names the override that changed, and the replica reads
//! that row alone; a burst of more than `MAX_CHANGED_PER_SYNC`, or a change a notification
//! cannot name (a TRUNCATE, a key edited by hand), reads the whole store. When the store is unreachable the last snapshot keeps serving, the
//! store is reported down, and writes fail until it is back.

use super::model::{Override, OverrideKey, OverrideSet};
use super::spec::StoreSpec;
use super::store::{NOTIFY_CHANNEL, Store, StoreError, notified_key};
use crate::telemetry::metrics::{Metrics, ScopeLabels};
use arc_swap::ArcSwap;
use jiff::Timestamp;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::postgres::{PgListener, PgPool};
use std::collections::BTreeSet;
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
    /// When the snapshot was last found in step with the whole store (read, or unchanged).
    pub last_sync: Option<Timestamp>,
}

/// Most overrides one burst of PostgreSQL notifications may name for a replica to read them
/// one by one; a larger burst (a bulk change) reads the whole store instead.
pub const MAX_CHANGED_PER_SYNC: usize = 64;

fn sync_counter(metrics: &Metrics, scope: &'static str) -> Counter {
    metrics
        .override_syncs
        .get_or_create(&ScopeLabels { scope })
        .clone()
}

/// Metric handles the overrides update.
struct Gauges {
    store_up: Gauge,
    loaded: Gauge,
    sync_failures: Counter,
    full_syncs: Counter,
    changed_syncs: Counter,
    unchanged_syncs: Counter,
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
    /// Holds the store's change counter as of the last full read of it.
    sync: tokio::sync::Mutex<Option<i64>>,
    up: AtomicBool,
    /// When the snapshot was last found in step with the whole store.
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
            full_syncs: sync_counter(metrics, "full"),
            changed_syncs: sync_counter(metrics, "changed"),
            unchanged_syncs: sync_counter(metrics, "unchanged"),
        };
        gauges.store_up.set(i64::from(store.is_some()));
        gauges.loaded.set(0);
        Overrides {
            up: AtomicBool::new(store.is_some()),
            spec,
            store,
            snapshot: ArcSwap::from_pointee(OverrideSet::default()),
            any: AtomicBool::new(false),
            sync: tokio::sync::Mutex::new(None),
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

    /// The open store, if any: the recording ledger keeps its tables in it too.
    pub fn database(&self) -> Option<&Store> {
        self.store.as_ref()
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

    /// Purges expired overrides from the store and replaces the snapshot with what it holds,
    /// unless the store has not changed since the snapshot was read whole from it.
    pub async fn resync(&self) -> Result<usize, StoreError> {
        let Some(store) = &self.store else {
            return Ok(0);
        };
        let mut read_at = self.sync.lock().await;
        let read = async {
            let purged = store.purge_expired(Timestamp::now()).await?;
            if purged > 0 {
                tracing::info!(purged, "expired overrides purged");
            }
            // Read before the rows: a change in between is read now and again next time.
            let version = store.version().await?;
            if *read_at == Some(version) {
                return Ok(None);
            }
            Ok(Some((version, store.load().await?)))
        };
        let read = self.checked(read.await).inspect_err(|_| {
            self.gauges.sync_failures.inc();
        })?;
        match read {
            None => self.gauges.unchanged_syncs.inc(),
            Some((version, overrides)) => {
                self.publish(OverrideSet::new(overrides));
                *read_at = Some(version);
                self.gauges.full_syncs.inc()
            }
        };
        if let Ok(mut last_sync) = self.last_sync.lock() {
            *last_sync = Some(Timestamp::now());
        }
        Ok(self.snapshot.load().len())
    }

    /// Reads the overrides of `keys` (which another replica changed) from the store and
    /// serves what it holds for them: the new version, or none.
    pub async fn sync_changed(&self, keys: &BTreeSet<OverrideKey>) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let _sync = self.sync.lock().await;
        let read = async {
            let mut stored = Vec::with_capacity(keys.len());
            for key in keys {
                stored.push((key, store.get(key).await?));
            }
            Ok(stored)
        };
        let stored = self.checked(read.await)?;
        let mut next = OverrideSet::clone(&self.snapshot.load_full());
        for (key, item) in stored {
            match item {
                Some(item) => next.put(Arc::new(item)),
                None => {
                    next.remove(key);
                }
            }
        }
        self.publish(next);
        self.gauges.changed_syncs.inc();
        Ok(())
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
                    Ok(Some(first)) => {
                        // A burst of writes needs one refresh.
                        let mut changed = Changed::default();
                        changed.add(first.payload());
                        while let Some(next) = listener.next_buffered() {
                            changed.add(next.payload());
                        }
                        let refreshed = match changed.keys() {
                            Some(keys) => self.sync_changed(keys).await,
                            None => self.resync().await.map(|_| ()),
                        };
                        if let Err(error) = refreshed {
                            tracing::warn!(%error, "override refresh after a change failed");
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

/// What a burst of change notifications names: a few keys, or "read everything".
#[derive(Debug, Default)]
struct Changed {
    keys: BTreeSet<OverrideKey>,
    everything: bool,
}

impl Changed {
    fn add(&mut self, payload: &str) {
        if self.everything {
            return;
        }
        match notified_key(payload) {
            Some(key) if self.keys.len() < MAX_CHANGED_PER_SYNC || self.keys.contains(&key) => {
                self.keys.insert(key);
            }
            _ => {
                self.everything = true;
                self.keys.clear();
            }
        }
    }

    /// The keys to read one by one, or `None` for a full resync.
    fn keys(&self) -> Option<&BTreeSet<OverrideKey>> {
        (!self.everything).then_some(&self.keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(stream: &str) -> String {
        serde_json::json!({"domain": "", "app": "edu", "stream": stream}).to_string()
    }

    #[test]
    fn a_burst_names_its_keys_once_each() {
        let mut changed = Changed::default();
        for stream in ["a", "b", "a"] {
            changed.add(&payload(stream));
        }
        let keys: Vec<&str> = changed
            .keys()
            .expect("keys to read")
            .iter()
            .map(|key| key.stream.as_str())
            .collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(
            changed
                .keys()
                .and_then(|k| k.first())
                .map(|k| k.app.as_str()),
            Some("edu")
        );
    }

    #[test]
    fn what_a_notification_cannot_name_reads_everything() {
        for odd in ["", "{}", "not json", r#"{"stream":"a"}"#] {
            let mut changed = Changed::default();
            changed.add(&payload("a"));
            changed.add(odd);
            changed.add(&payload("b"));
            assert!(changed.keys().is_none(), "{odd:?}: a full resync");
        }
    }

    #[test]
    fn a_bulk_change_reads_everything() {
        let mut changed = Changed::default();
        for i in 0..MAX_CHANGED_PER_SYNC {
            changed.add(&payload(&format!("s{i}")));
        }
        changed.add(&payload("s0"));
        assert_eq!(
            changed.keys().map(BTreeSet::len),
            Some(MAX_CHANGED_PER_SYNC),
            "up to the limit, one read per key"
        );
        changed.add(&payload("one-more"));
        assert!(changed.keys().is_none(), "past it, a full resync");
    }
}
