//! One quota as a replica holds it in memory: the callback's check takes a token here,
//! under a lock held for a few instructions, and never waits on the store.

use super::{QuotaMode, QuotaSpec};
use crate::ledger::RecordingKey;
use foldhash::fast::FixedState;
use jiff::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a stream that took a slot keeps it for a retried callback, which then gets the
/// same answer without taking a second slot: the platform retries after 5 s.
pub const RETRY_WINDOW: Duration = Duration::from_secs(30);

/// What the quota's check did with a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// It took a slot (a token of this replica's lease).
    Token,
    /// It already holds a slot: a retried callback.
    Held,
    /// The quota has no cap on streams at once (hours only): nothing to take.
    Uncapped,
    /// A shadow quota, or an override: admitted with no slot free, over the cap.
    Over,
    /// Refused: no free slot.
    NoSlot,
    /// Refused: the month's hours are used up.
    NoHours,
}

impl Take {
    /// Whether the stream may be recorded under the quota.
    pub fn admitted(self) -> bool {
        !matches!(self, Take::NoSlot | Take::NoHours)
    }
}

/// The quota's figures as of the last sync with the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaFigures {
    /// Its recordings in progress, across the fleet.
    pub active: u64,
    /// Seconds recorded in the month of `month_start`.
    pub seconds: f64,
    /// The start of the month counted.
    pub month_start: Timestamp,
    /// The start of the next month: past it, the month's seconds count as none.
    pub month_end: Timestamp,
    /// Streams refused (or, in shadow mode, that would have been), across the fleet.
    pub refused: u64,
    /// When the figures were read; `None`: never yet.
    pub synced: Option<Timestamp>,
}

impl Default for QuotaFigures {
    fn default() -> QuotaFigures {
        QuotaFigures {
            active: 0,
            seconds: 0.0,
            month_start: Timestamp::UNIX_EPOCH,
            month_end: Timestamp::UNIX_EPOCH,
            refused: 0,
            synced: None,
        }
    }
}

impl QuotaFigures {
    /// Whether `spec`'s monthly hours are used up at `now`.
    pub fn hours_used_up(&self, spec: &QuotaSpec, now: Timestamp) -> bool {
        spec.monthly_seconds()
            .is_some_and(|budget| self.seconds_at(now) >= budget)
    }

    /// Seconds recorded in the month of `now`: none once a new month began.
    pub fn seconds_at(&self, now: Timestamp) -> f64 {
        if now >= self.month_end {
            0.0
        } else {
            self.seconds
        }
    }
}

#[derive(Debug, Default)]
struct Slots {
    /// Slots this replica may still hand out.
    tokens: u64,
    /// Streams admitted with a token that the ledger has not written yet.
    pending: u64,
    /// Admissions settled since the quota was made: a sync marks it before it counts the
    /// store's recordings, since one settled after the mark may be missing from that count.
    settled: u64,
    /// Past this, the lease may have lapsed in the store: no token is handed out.
    valid_until: Option<Instant>,
    /// Admissions and refusals since the last sync.
    demand: u64,
    /// Streams that took a slot here lately (by a hash of the key), and when.
    holders: HashMap<u64, Instant, FixedState>,
    /// The same in the order they took it, to forget them past the retry window without
    /// looking at the others.
    taken_at: VecDeque<(Instant, u64)>,
    /// Bumped when the cap changes: a grant reckoned under the old cap is void.
    generation: u64,
}

/// The hash a stream is remembered by for retries: 64 bits, so that a new stream is taken
/// for a retry of another one (and let in without a slot) at a chance of about one in
/// 10^13, even with three million streams in the retry window.
fn key_hash(key: &RecordingKey) -> u64 {
    FixedState::with_seed(0x5eed).hash_one(key)
}

/// One quota, live.
#[derive(Debug)]
pub struct Quota {
    spec: RwLock<Arc<QuotaSpec>>,
    slots: Mutex<Slots>,
    figures: RwLock<QuotaFigures>,
    /// Refusals not yet added to the store's count.
    unsynced_refused: AtomicU64,
    /// Refusals by this replica since it started.
    refused_here: AtomicU64,
    wake: Arc<Notify>,
}

/// The count of settled admissions when a sync began reading the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleMark(u64);

/// What a sync changed in the lease: the slots to reserve in the store, and the tokens to
/// add once that is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebalance {
    /// Tokens plus pending admissions, as the store should hold them.
    pub reserved: u64,
    /// Tokens to add after the commit.
    pub grant: u64,
    /// Demand since the last sync, for the others' shares.
    pub demand: u64,
    /// The cap's generation it was reckoned under.
    generation: u64,
}

impl Quota {
    /// A quota of `spec` with nothing held; `wake` starts a sync.
    pub fn new(spec: QuotaSpec, wake: Arc<Notify>) -> Quota {
        Quota {
            spec: RwLock::new(Arc::new(spec)),
            slots: Mutex::new(Slots::default()),
            figures: RwLock::new(QuotaFigures::default()),
            unsynced_refused: AtomicU64::new(0),
            refused_here: AtomicU64::new(0),
            wake,
        }
    }

    /// Its settings.
    pub fn spec(&self) -> Arc<QuotaSpec> {
        match self.spec.read() {
            Ok(spec) => Arc::clone(&spec),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Applies changed settings at once: a changed cap drops the tokens held (the next
    /// sync, started now, hands out what the new cap allows).
    pub fn respec(&self, spec: QuotaSpec) {
        let old = self.spec();
        if old.max_active != spec.max_active {
            let mut slots = self.slots();
            slots.tokens = 0;
            slots.generation += 1;
        }
        match self.spec.write() {
            Ok(mut slot) => *slot = Arc::new(spec),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(spec),
        }
        self.wake.notify_one();
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The figures of the last sync.
    pub fn figures(&self) -> QuotaFigures {
        match self.figures.read() {
            Ok(figures) => *figures,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Whether the month's hours are used up at `now`.
    pub fn hours_used_up(&self, spec: &QuotaSpec, now: Timestamp) -> bool {
        self.figures().hours_used_up(spec, now)
    }

    /// The callback's check of `key` at `now`: takes a slot if one is free. `writable`
    /// says whether the ledger can take the decision (a slot it cannot write would count
    /// for nobody); `forced` admits with no slot free (an override), counting nothing as
    /// refused.
    pub fn take(&self, key: &RecordingKey, now: Timestamp, writable: bool, forced: bool) -> Take {
        let spec = self.spec();
        let shadow = spec.mode == QuotaMode::Shadow;
        if !forced && self.hours_used_up(&spec, now) {
            return self.refuse(shadow, Take::NoHours);
        }
        if spec.max_active.is_none() {
            return Take::Uncapped;
        }
        let mut slots = self.slots();
        slots.demand = slots.demand.saturating_add(1);
        let at = Instant::now();
        let hash = key_hash(key);
        if slots
            .holders
            .get(&hash)
            .is_some_and(|&since| at.duration_since(since) < RETRY_WINDOW)
        {
            return Take::Held;
        }
        let valid = slots.valid_until.is_some_and(|until| at < until);
        if slots.tokens > 0 && valid && writable {
            slots.tokens -= 1;
            slots.pending += 1;
            slots.holders.insert(hash, at);
            slots.taken_at.push_back((at, hash));
            return Take::Token;
        }
        drop(slots);
        self.wake.notify_one();
        if forced {
            return Take::Over;
        }
        self.refuse(shadow, Take::NoSlot)
    }

    /// Whether a new stream would get a slot at `now`, taking nothing (for `/explain`).
    pub fn would_take(&self, now: Timestamp) -> bool {
        let spec = self.spec();
        if self.hours_used_up(&spec, now) {
            return false;
        }
        if spec.max_active.is_none() {
            return true;
        }
        let slots = self.slots();
        let valid = slots
            .valid_until
            .is_some_and(|until| Instant::now() < until);
        slots.tokens > 0 && valid
    }

    /// The quota's check at `now` in words, with its figures, as explain shows it.
    pub fn describe(&self, now: Timestamp) -> String {
        describe(&self.spec(), &self.figures(), self.would_take(now), now)
    }

    /// Counts a refusal; a shadow quota admits anyway.
    fn refuse(&self, shadow: bool, why: Take) -> Take {
        self.unsynced_refused.fetch_add(1, Ordering::Relaxed);
        self.refused_here.fetch_add(1, Ordering::Relaxed);
        if shadow { Take::Over } else { why }
    }

    /// Refusals by this replica since it started.
    pub fn refused_here(&self) -> u64 {
        self.refused_here.load(Ordering::Relaxed)
    }

    /// The ledger wrote (or failed to write) a decision admitted with a token: it is no
    /// longer pending, and counts in the store's `active` if it was written.
    pub fn settle(&self) {
        let mut slots = self.slots();
        slots.pending = slots.pending.saturating_sub(1);
        slots.settled = slots.settled.wrapping_add(1);
    }

    /// Taken by a sync before it counts the store's recordings, and handed to `rebalance`.
    pub fn mark(&self) -> SettleMark {
        SettleMark(self.slots().settled)
    }

    /// `key`'s recording ended: its slot is free for the next sync to hand out.
    pub fn release(&self, key: &RecordingKey) {
        self.slots().holders.remove(&key_hash(key));
        self.wake.notify_one();
    }

    /// Refusals to add to the store's count, taken.
    pub fn take_unsynced_refused(&self) -> u64 {
        self.unsynced_refused.swap(0, Ordering::Relaxed)
    }

    /// Refusals that could not be added to the store, put back.
    pub fn restore_unsynced_refused(&self, count: u64) {
        self.unsynced_refused.fetch_add(count, Ordering::Relaxed);
    }

    /// Inside a sync's transaction: sets the tokens to `wanted(pending, demand)`, taking
    /// away at once what is too many, and says what to reserve and what to grant after
    /// the commit. `mark` was taken before the store's recordings were counted: the
    /// admissions settled since then count as pending too, for the count may have been
    /// read before their commit (counted twice until the next sync rather than never).
    pub fn rebalance(&self, mark: SettleMark, wanted: impl FnOnce(u64, u64) -> u64) -> Rebalance {
        let mut slots = self.slots();
        let demand = std::mem::take(&mut slots.demand);
        let pending = slots.pending + slots.settled.wrapping_sub(mark.0);
        let target = wanted(pending, demand);
        let grant = target.saturating_sub(slots.tokens);
        slots.tokens = slots.tokens.min(target);
        Rebalance {
            reserved: slots.tokens + grant + pending,
            grant,
            demand,
            generation: slots.generation,
        }
    }

    /// After a committed sync: adds the tokens granted by `plan`, keeps the
    /// lease valid until `valid_until`, forgets holders past the retry window and keeps
    /// the figures read.
    pub fn synced(&self, plan: Rebalance, valid_until: Instant, figures: QuotaFigures) {
        let mut slots = self.slots();
        if slots.generation == plan.generation {
            slots.tokens += plan.grant;
        }
        slots.valid_until = Some(valid_until);
        let now = Instant::now();
        while let Some(&(since, hash)) = slots.taken_at.front() {
            if now.duration_since(since) < RETRY_WINDOW {
                break;
            }
            slots.taken_at.pop_front();
            if slots.holders.get(&hash) == Some(&since) {
                slots.holders.remove(&hash);
            }
        }
        drop(slots);
        match self.figures.write() {
            Ok(mut slot) => *slot = figures,
            Err(poisoned) => *poisoned.into_inner() = figures,
        }
    }

    /// Gives up every token (shutdown, or a quota gone from the config).
    pub fn drop_tokens(&self) {
        let mut slots = self.slots();
        slots.tokens = 0;
        slots.valid_until = None;
    }

    /// Tokens held and admissions pending, for tests and the admin API.
    pub fn holding(&self) -> (u64, u64) {
        let slots = self.slots();
        (slots.tokens, slots.pending)
    }
}

impl crate::ledger::live::Settle for Quota {
    fn settle(&self) {
        Quota::settle(self);
    }
}

/// A quota's check in words with its `figures`, as explain shows it: `quota courses full:
/// 200/200 active`. `has_slot` says whether a new stream would get a slot.
pub fn describe(
    spec: &QuotaSpec,
    figures: &QuotaFigures,
    has_slot: bool,
    now: Timestamp,
) -> String {
    let name = &spec.name;
    let hours = figures.seconds_at(now) / 3600.0;
    let shadow = if spec.mode == QuotaMode::Shadow {
        " (shadow: not enforced)"
    } else {
        ""
    };
    if let Some(budget) = spec
        .monthly_hours
        .filter(|_| figures.hours_used_up(spec, now))
    {
        return format!("quota {name} used up: {hours:.1}/{budget} hours this month{shadow}");
    }
    let mut parts = Vec::with_capacity(2);
    if let Some(max) = spec.max_active {
        parts.push(format!("{}/{max} active", figures.active));
    }
    if let Some(budget) = spec.monthly_hours {
        parts.push(format!("{hours:.1}/{budget} hours this month"));
    }
    let figures_text = parts.join(", ");
    match spec.max_active {
        Some(max) if !has_slot => {
            let leased = if figures.active < max {
                " (the free slots are leased to other replicas)"
            } else {
                ""
            };
            format!("quota {name} full: {figures_text}{leased}{shadow}")
        }
        _ => format!("quota {name}: {figures_text}{shadow}"),
    }
}
