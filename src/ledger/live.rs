//! The ledger as a server runs it: one writer task applies work in batches (group
//! commit: one transaction for every event waiting), a lifecycle event is answered only
//! once its batch has committed, and the on-demand callback hands over its decision
//! without ever waiting.

use super::store::{self, Work};
use super::{Applied, Ended, Event, Recording, RecordingKey};
use crate::overrides::{Store, StoreError};
use crate::telemetry::metrics::{Metrics, RuleLabels, StateLabels};
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// SECURITY: work waiting for the writer, at most. Past it, a lifecycle event gets 503
/// (the platform retries) and a decision is not written (its stream's first lifecycle
/// event recreates the entry): memory stays bounded when the database is slow.
pub const LEDGER_QUEUE: usize = 16_384;
/// Work applied in one transaction, at most.
pub const MAX_BATCH: usize = 512;

/// How long a batch of decisions alone (no lifecycle event waits for its commit) waits for
/// more before it is written: at a platform's steady rate of stream starts, one transaction
/// (and one `fsync`) then carries many decisions instead of a few. Decisions are written
/// after their answer, so no callback waits for it.
pub const DECISION_COMMIT_DELAY: Duration = Duration::from_millis(10);
/// Writers on PostgreSQL, each with a connection and a share of the streams (by a hash of
/// the key, so one stream's events stay in order): a writer runs its statements one round
/// trip at a time, so one alone caps throughput by latency. SQLite has one write lock, so
/// one writer. Keep it below `STORE_MAX_CONNECTIONS`, so that override writes still get
/// a connection.
pub const POSTGRES_WRITERS: usize = 3;
/// How often silent recordings are ended and the active gauges refreshed.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How often history past the retention is purged.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Why a lifecycle event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No store, or the writer is gone.
    #[error("the recording ledger is off")]
    Off,
    /// Too much work waiting.
    #[error("the recording ledger is busy; retry")]
    Busy,
    /// The database refused or could not be reached.
    #[error("the recording ledger's store is unavailable: {0}")]
    Unavailable(String),
}

struct Job {
    work: Work,
    done: Option<oneshot::Sender<Result<Applied, String>>>,
    /// Told once the work is written (or failed to be): a quota's pending admission.
    settle: Option<Arc<dyn Settle>>,
}

/// A decision's quota slot, settled once the ledger wrote the decision (or failed to).
pub trait Settle: Send + Sync {
    /// The decision is written, or lost: it is no longer pending.
    fn settle(&self);
}

/// Told of every recording that counted toward a quota and ended, so that its slot frees.
pub trait Ends: Send + Sync {
    /// `recording` ended.
    fn ended(&self, recording: &Recording);
}

/// A room in the ledger's queue for one decision, held while the callback decides.
pub struct Room<'a>(mpsc::Permit<'a, Job>);

/// The running ledger: a handle to its writer.
pub struct LiveLedger {
    /// One queue per writer; empty when the ledger is off.
    queues: Vec<mpsc::Sender<Job>>,
    store: Option<Store>,
    metrics: Arc<Metrics>,
}

/// What the writers and the sweep tell of what they did.
#[derive(Clone)]
struct Watch {
    metrics: Arc<Metrics>,
    ends: Arc<dyn Ends>,
}

impl LiveLedger {
    /// A ledger that records nothing: lifecycle events get `LedgerError::Off`.
    pub fn off(metrics: Arc<Metrics>) -> LiveLedger {
        LiveLedger {
            queues: Vec::new(),
            store: None,
            metrics,
        }
    }

    /// Starts the writers on `store`, until `finish` fires (then they write what is queued
    /// and end), and the sweep (`notify_events` says what silence means) and the purge of
    /// history older than `retention`, until `stop` fires. Recordings of a quota that end
    /// are told to `ends`.
    pub fn start(
        store: Store,
        metrics: Arc<Metrics>,
        ends: Arc<dyn Ends>,
        notify_events: bool,
        retention: Duration,
        stop: &CancellationToken,
        finish: &CancellationToken,
    ) -> (LiveLedger, LedgerTasks) {
        let watch = Watch {
            metrics: Arc::clone(&metrics),
            ends,
        };
        let writers = match store {
            Store::Postgres(_) => POSTGRES_WRITERS,
            Store::Sqlite(_) => 1,
        };
        let mut queues = Vec::with_capacity(writers);
        let mut tasks = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (queue, jobs) = mpsc::channel(LEDGER_QUEUE / writers);
            queues.push(queue);
            let (store, watch) = (store.clone(), watch.clone());
            tasks.push(tokio::spawn(write(jobs, store, watch, finish.clone())));
        }
        let sweep = tokio::spawn(sweep_and_purge(
            store.clone(),
            watch,
            notify_events,
            retention,
            stop.clone(),
        ));
        let ledger = LiveLedger {
            queues,
            store: Some(store),
            metrics,
        };
        let tasks = LedgerTasks {
            writers: tasks,
            sweep,
        };
        (ledger, tasks)
    }

    /// Whether the ledger runs (lifecycle events are configured and a store is open).
    pub fn is_on(&self) -> bool {
        !self.queues.is_empty()
    }

    /// The writer queue of `key`'s stream: always the same one.
    fn queue(&self, key: &RecordingKey) -> Option<&mpsc::Sender<Job>> {
        use std::hash::BuildHasher as _;
        let hash = foldhash::fast::FixedState::with_seed(0).hash_one(key);
        let count = self.queues.len() as u64;
        (count > 0)
            .then(|| self.queues.get((hash % count) as usize))
            .flatten()
    }

    /// The store, for the admin API's reads.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Hands over a decision without waiting; when the queue is full it is dropped and
    /// counted.
    pub fn record_decision(&self, recording: Recording) {
        let Some(queue) = self.queue(&recording.key) else {
            return;
        };
        let job = Job {
            work: Work::Decided(recording),
            done: None,
            settle: None,
        };
        if queue.try_send(job).is_err() {
            self.metrics.decisions_unrecorded.inc();
        }
    }

    /// Room for a decision about `key`'s stream, if its writer's queue has any: a quota
    /// hands out a slot only to a decision the ledger will take.
    pub fn room(&self, key: &RecordingKey) -> Option<Room<'_>> {
        self.queue(key)?.try_reserve().ok().map(Room)
    }

    /// Hands over a decision in the room kept for it; `settle` is told once it is written.
    pub fn record_in(&self, room: Room<'_>, recording: Recording, settle: Option<Arc<dyn Settle>>) {
        room.0.send(Job {
            work: Work::Decided(recording),
            done: None,
            settle,
        });
    }

    /// Applies a lifecycle event and returns once it is committed.
    pub async fn submit(
        &self,
        key: RecordingKey,
        event: Event,
        now: Timestamp,
    ) -> Result<Applied, LedgerError> {
        let kind = event.kind();
        let queue = self.queue(&key).ok_or(LedgerError::Off)?;
        let (done, answer) = oneshot::channel();
        let job = Job {
            work: Work::Event(key, event, now),
            done: Some(done),
            settle: None,
        };
        let outcome = match queue.try_send(job) {
            Ok(()) => match answer.await {
                Ok(Ok(applied)) => Ok(applied),
                Ok(Err(error)) => Err(LedgerError::Unavailable(error)),
                Err(_) => Err(LedgerError::Off),
            },
            Err(mpsc::error::TrySendError::Full(_)) => Err(LedgerError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(LedgerError::Off),
        };
        let label = outcome.as_ref().map_or("refused", |a| a.as_str());
        self.metrics.count_lifecycle_event(kind, label);
        outcome
    }
}

/// The ledger's tasks, as `LiveLedger::start` spawned them.
#[derive(Debug)]
pub struct LedgerTasks {
    /// The writers: they end once `finish` fired and the queue is written.
    pub writers: Vec<JoinHandle<()>>,
    /// The sweep and purge: it ends when `stop` fires.
    pub sweep: JoinHandle<()>,
}

/// The writer: waits for work, takes everything waiting (up to `MAX_BATCH`), applies it
/// in one transaction, answers every job. Once `finish` fires it takes no new job, writes
/// those already queued, and ends.
async fn write(
    mut jobs: mpsc::Receiver<Job>,
    store: Store,
    watch: Watch,
    finish: CancellationToken,
) {
    let metrics = &watch.metrics;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let taken = tokio::select! {
            taken = jobs.recv_many(&mut batch, MAX_BATCH) => taken,
            () = finish.cancelled(), if !jobs.is_closed() => {
                jobs.close();
                continue;
            }
        };
        if taken == 0 {
            break;
        }
        gather_decisions(&mut jobs, &mut batch, &finish).await;
        let mut work = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        let mut settles = Vec::new();
        for job in batch.drain(..) {
            work.push(job.work);
            waiting.push(job.done);
            settles.extend(job.settle);
        }
        let result = store::apply(&store, &work).await;
        for settle in settles {
            settle.settle();
        }
        match &result {
            Ok(outcomes) => {
                count_files(metrics, outcomes);
                for freed in outcomes.iter().filter_map(|o| o.freed.as_ref()) {
                    watch.ends.ended(freed);
                }
            }
            Err(error) => tracing::warn!(%error, jobs = work.len(), "ledger write failed"),
        }
        for (i, done) in waiting.into_iter().enumerate() {
            let answer = match &result {
                Ok(outcomes) => Ok(outcomes.get(i).map_or(Applied::Ignored, |o| o.applied)),
                Err(error) => Err(error.to_string()),
            };
            if let Some(done) = done {
                let _ = done.send(answer);
            } else if answer.is_err() {
                metrics.decisions_unrecorded.inc();
            }
        }
    }
}

/// When `batch` holds decisions alone, adds to it what comes within
/// `DECISION_COMMIT_DELAY`, up to `MAX_BATCH`; stops at a lifecycle event (which waits for
/// the commit) or the end.
async fn gather_decisions(
    jobs: &mut mpsc::Receiver<Job>,
    batch: &mut Vec<Job>,
    finish: &CancellationToken,
) {
    let waits_for_commit = |jobs: &[Job]| jobs.iter().any(|job| job.done.is_some());
    if waits_for_commit(batch) {
        return;
    }
    let deadline = tokio::time::sleep(DECISION_COMMIT_DELAY);
    let mut deadline = std::pin::pin!(deadline);
    while batch.len() < MAX_BATCH {
        let before = batch.len();
        tokio::select! {
            taken = jobs.recv_many(batch, MAX_BATCH - before) => if taken == 0 { return },
            () = &mut deadline => return,
            () = finish.cancelled() => return,
        }
        if waits_for_commit(&batch[before..]) {
            return;
        }
    }
}

/// Adds each newly counted file's duration to its deciding rule's recorded seconds.
fn count_files(metrics: &Metrics, outcomes: &[store::Outcome]) {
    for (rule, seconds) in outcomes.iter().filter_map(|o| o.counted.as_ref()) {
        metrics
            .recorded_seconds
            .get_or_create(&RuleLabels {
                rule: rule.clone().unwrap_or_else(|| NO_RULE.to_owned()),
            })
            .inc_by(*seconds);
    }
}

/// The `rule` label of recordings recgate did not decide.
pub const NO_RULE: &str = "none";

/// Every `SWEEP_INTERVAL`, ends silent recordings and refreshes the gauges; every
/// `PURGE_INTERVAL`, purges old history.
async fn sweep_and_purge(
    store: Store,
    watch: Watch,
    notify_events: bool,
    retention: Duration,
    stop: CancellationToken,
) {
    let mut sweeps = tokio::time::interval(SWEEP_INTERVAL);
    let mut purges = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = sweeps.tick() => {
                match store::sweep(&store, notify_events, Timestamp::now()).await {
                    Ok(ended) => {
                        log_ended(&ended);
                        for end in ended.iter().filter(|e| e.recording.quota.is_some()) {
                            watch.ends.ended(&end.recording);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "ledger sweep failed"),
                }
                if let Err(error) = refresh_gauges(&store, &watch.metrics).await {
                    tracing::debug!(%error, "cannot count active recordings");
                }
            }
            _ = purges.tick() => {
                let cutoff = Timestamp::now()
                    .checked_sub(jiff::SignedDuration::try_from(retention).unwrap_or_default())
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                match store::purge(&store, cutoff).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "ledger history past retention purged"),
                    Err(error) => tracing::warn!(%error, "ledger purge failed"),
                }
            }
        }
    }
}

fn log_ended(ended: &[Ended]) {
    for end in ended {
        tracing::info!(
            domain = %end.recording.key.domain,
            app = %end.recording.key.app,
            stream = %end.recording.key.stream,
            reason = ?end.reason,
            "recording ended without an end event"
        );
    }
}

async fn refresh_gauges(store: &Store, metrics: &Metrics) -> Result<(), StoreError> {
    let counts = super::read::count_active(store).await?;
    for state in ["decided", "recording", "paused"] {
        metrics
            .recordings_active
            .get_or_create(&StateLabels { state })
            .set(counts.get(state).copied().unwrap_or_default());
    }
    Ok(())
}
