//! An in-memory ledger on the same `step` as the store: the model the transition tests
//! drive, without a database.

use super::*;
use foldhash::{HashMap, HashSet};

/// Recordings in progress and recently ended, in memory.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    active: HashMap<RecordingKey, Recording>,
    recently_ended: HashMap<RecordingKey, (Recording, Timestamp)>,
    seen_files: HashSet<String>,
    /// Whether the platform's notify events reach recgate, which decides what silence means.
    notify_events: bool,
}

impl Ledger {
    /// An empty ledger; `notify_events` says whether status and file events are configured.
    pub fn new(notify_events: bool) -> Ledger {
        Ledger {
            notify_events,
            ..Ledger::default()
        }
    }

    /// The on-demand callback decided `key` at `now`: a `NeedRecord: true` opens a
    /// recording, unless one is open already (a retried callback keeps its entry).
    pub fn decided(
        &mut self,
        key: RecordingKey,
        rule: &str,
        decision: &Decision,
        now: Timestamp,
    ) -> Applied {
        if self.active.contains_key(&key) {
            return if decision.record() {
                Applied::Duplicate
            } else {
                Applied::Ignored
            };
        }
        match decided(key, rule, decision, now) {
            Some(recording) => {
                self.recently_ended.remove(&recording.key);
                self.active.insert(recording.key.clone(), recording);
                Applied::Applied
            }
            None => Applied::Ignored,
        }
    }

    /// Applies one lifecycle event about `key` at `now`; returns what it did, and the
    /// recording it ended, if any.
    pub fn apply(
        &mut self,
        key: &RecordingKey,
        event: &Event,
        now: Timestamp,
    ) -> (Applied, Option<Ended>) {
        let fresh = match event {
            Event::File(file) => self.seen_files.insert(file.uri.clone()),
            _ => true,
        };
        let current = match (self.active.remove(key), self.recently_ended.get(key)) {
            (Some(recording), _) => Current::Active(recording),
            (None, Some((recording, at))) => Current::Ended(recording.clone(), *at),
            (None, None) => Current::None,
        };
        let step = step(current, key, event, fresh, now);
        if let Some(recording) = step.active {
            self.active.insert(key.clone(), recording);
        }
        if let Some(recording) = step.late {
            self.recently_ended
                .entry(key.clone())
                .and_modify(|(ended, _)| *ended = recording);
        }
        if let Some(ended) = &step.ended {
            self.recently_ended
                .insert(key.clone(), (ended.recording.clone(), ended.at));
        }
        (step.applied, step.ended)
    }

    /// Ends every recording silent for too long at `now`, and forgets ended ones past
    /// `LATE_EVENT_WINDOW`.
    pub fn sweep(&mut self, now: Timestamp) -> Vec<Ended> {
        self.recently_ended
            .retain(|_, (_, ended)| now.duration_since(*ended) < LATE_EVENT_WINDOW);
        let stale: Vec<(RecordingKey, EndReason)> = self
            .active
            .values()
            .filter_map(|r| Some((r.key.clone(), staleness(r, self.notify_events, now)?)))
            .collect();
        stale
            .into_iter()
            .filter_map(|(key, reason)| {
                let recording = self.active.remove(&key)?;
                self.recently_ended.insert(key, (recording.clone(), now));
                Some(Ended {
                    recording,
                    reason,
                    at: now,
                })
            })
            .collect()
    }

    /// The recording of `key`, if one is in progress.
    pub fn get(&self, key: &RecordingKey) -> Option<&Recording> {
        self.active.get(key)
    }

    /// How many recordings are in progress.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }
}
