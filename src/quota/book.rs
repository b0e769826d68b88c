//! The quotas a replica holds, by config position and by name, and the two ways the
//! decision asks them: `QuotaGate` takes a slot for the callback, `QuotaPeek` only looks,
//! for `/explain`.

use super::slots::{Quota, QuotaFigures, Take, describe};
use super::{QuotaMode, QuotaSpec};
use crate::ledger::live::Ends;
use crate::ledger::{Recording, RecordingKey};
use crate::verdict::Gate;
use arc_swap::ArcSwap;
use jiff::Timestamp;
use std::cell::Cell;
use std::sync::Arc;
use tokio::sync::Notify;

/// Every quota of the live config, kept across reloads by name.
#[derive(Debug)]
pub struct QuotaBook {
    quotas: ArcSwap<Vec<Arc<Quota>>>,
    wake: Arc<Notify>,
}

impl Default for QuotaBook {
    fn default() -> QuotaBook {
        QuotaBook {
            quotas: ArcSwap::from_pointee(Vec::new()),
            wake: Arc::new(Notify::new()),
        }
    }
}

impl QuotaBook {
    /// Makes `specs` the live quotas, in config order, and returns them: a quota keeps
    /// what it holds under the same name (changed settings apply at once); a new name
    /// starts from nothing; a quota no longer configured gives up its tokens.
    pub fn install(&self, specs: &[QuotaSpec]) -> Arc<Vec<Arc<Quota>>> {
        let old = self.quotas.load_full();
        let quotas: Vec<Arc<Quota>> = specs
            .iter()
            .map(
                |spec| match old.iter().find(|q| q.spec().name == spec.name) {
                    Some(quota) => {
                        if *quota.spec() != *spec {
                            quota.respec(spec.clone());
                        }
                        Arc::clone(quota)
                    }
                    None => Arc::new(Quota::new(spec.clone(), Arc::clone(&self.wake))),
                },
            )
            .collect();
        for gone in old
            .iter()
            .filter(|q| !quotas.iter().any(|k| Arc::ptr_eq(q, k)))
        {
            gone.drop_tokens();
        }
        let quotas = Arc::new(quotas);
        self.quotas.store(Arc::clone(&quotas));
        self.wake.notify_one();
        quotas
    }

    /// The live quotas, in config order.
    pub fn quotas(&self) -> Arc<Vec<Arc<Quota>>> {
        self.quotas.load_full()
    }

    /// The live quota named `name`.
    pub fn find(&self, name: &str) -> Option<Arc<Quota>> {
        self.quotas
            .load()
            .iter()
            .find(|quota| quota.spec().name == name)
            .cloned()
    }

    /// What wakes the sync early.
    pub fn wake(&self) -> &Notify {
        &self.wake
    }
}

impl Ends for QuotaBook {
    /// The ledger ended `recording`: its quota's slot is free.
    fn ended(&self, recording: &Recording) {
        if let Some(quota) = recording.quota.as_deref().and_then(|name| self.find(name)) {
            quota.release(&recording.key);
        }
    }
}

/// The callback's gate: takes a slot of the first quota that admits the stream, and
/// remembers which, so that the ledger can settle it once the decision is written.
pub struct QuotaGate<'a> {
    quotas: &'a [Arc<Quota>],
    key: &'a RecordingKey,
    writable: bool,
    taken: Cell<Option<(usize, Take)>>,
}

impl<'a> QuotaGate<'a> {
    /// A gate over `quotas` (config order) for the stream `key`; `writable` says whether
    /// the ledger has room for the decision.
    pub fn new(quotas: &'a [Arc<Quota>], key: &'a RecordingKey, writable: bool) -> Self {
        QuotaGate {
            quotas,
            key,
            writable,
            taken: Cell::new(None),
        }
    }

    /// The quota the stream counts toward, and whether it took a token (which the
    /// ledger settles when the decision is written).
    pub fn taken(&self) -> Option<(&'a Arc<Quota>, bool)> {
        let (index, take) = self.taken.get()?;
        Some((self.quotas.get(index)?, take == Take::Token))
    }

    fn ask(&self, quota: usize, now: Timestamp, forced: bool) -> bool {
        let Some(q) = self.quotas.get(quota) else {
            return true;
        };
        let take = q.take(self.key, now, self.writable, forced);
        if take.admitted() {
            self.taken.set(Some((quota, take)));
        }
        take.admitted()
    }
}

impl Gate for QuotaGate<'_> {
    fn admit(&self, quota: usize, now: Timestamp) -> bool {
        self.ask(quota, now, false)
    }

    fn count(&self, quota: usize, now: Timestamp) {
        self.ask(quota, now, true);
    }
}

/// `/explain`'s gate: says what the callback's would, taking nothing.
pub struct QuotaPeek<'a> {
    quotas: &'a [Arc<Quota>],
}

impl<'a> QuotaPeek<'a> {
    /// A gate that looks at `quotas` (config order).
    pub fn new(quotas: &'a [Arc<Quota>]) -> Self {
        QuotaPeek { quotas }
    }

    /// Whether quota `quota` would take a stream at `now`.
    fn would_admit(&self, quota: usize, now: Timestamp) -> bool {
        self.quotas
            .get(quota)
            .is_none_or(|q| q.spec().mode == QuotaMode::Shadow || q.would_take(now))
    }
}

impl Gate for QuotaPeek<'_> {
    fn admit(&self, quota: usize, now: Timestamp) -> bool {
        self.would_admit(quota, now)
    }

    fn count(&self, _quota: usize, _now: Timestamp) {}

    fn describe(&self, quota: usize, now: Timestamp) -> Option<String> {
        let q = self.quotas.get(quota)?;
        Some(q.describe(now))
    }
}

/// The gate of `recgate decide`, offline: each quota's figures as the store holds them,
/// full when its recordings reach the cap or its hours the budget.
pub struct QuotaSnapshot {
    quotas: Vec<(QuotaSpec, QuotaFigures)>,
}

impl QuotaSnapshot {
    /// A gate over `quotas` (config order) with their figures.
    pub fn new(quotas: Vec<(QuotaSpec, QuotaFigures)>) -> QuotaSnapshot {
        QuotaSnapshot { quotas }
    }

    fn has_slot(&self, quota: usize, now: Timestamp) -> bool {
        self.quotas.get(quota).is_none_or(|(spec, figures)| {
            !figures.hours_used_up(spec, now)
                && spec.max_active.is_none_or(|max| figures.active < max)
        })
    }
}

impl Gate for QuotaSnapshot {
    fn admit(&self, quota: usize, now: Timestamp) -> bool {
        self.has_slot(quota, now)
            || self
                .quotas
                .get(quota)
                .is_some_and(|(spec, _)| spec.mode == QuotaMode::Shadow)
    }

    fn count(&self, _quota: usize, _now: Timestamp) {}

    fn describe(&self, quota: usize, now: Timestamp) -> Option<String> {
        let (spec, figures) = self.quotas.get(quota)?;
        Some(describe(spec, figures, self.has_slot(quota, now), now))
    }
}
