//! The recording ledger's pure core: what is being recorded now, kept from the on-demand
//! decisions and the platform's lifecycle events. No I/O and no clock of its own: every
//! call takes the time, so every transition is a plain function to test.
//!
//! A recording, keyed by streaming domain, app and stream, starts as `decided` when the
//! on-demand callback answers `NeedRecord: true`, becomes `recording` on `record_started`
//! or on its first file, `paused` and back on the status events, and ends on
//! `publish_done` of its stream. The platform has no stop event, and callbacks can be
//! lost, so an entry with no sign of life also ends (`sweep`), after:
//!
//! * `DECIDED_TTL` for a decided stream with no event at all, when notify events are
//!   configured: the platform starts recording within seconds of its answer, so silence
//!   means it never started (an empty format intersection, say);
//! * its longest recording cycle plus `STALE_SLACK` for a recording or paused stream: a
//!   live recording writes a file at least once a cycle of each format (5 s to 6 h), so
//!   a full cycle and more without one means its end was lost. An unknown cycle counts as
//!   the platform's longest, `MAX_INTERVAL_SECS`.
//!
//! Without notify events a recording gets no file events, so time alone cannot tell it
//! ended: only `publish_done` ends it, and a decided stream whose ingest was never seen
//! expires after `DECIDED_TTL`.

pub mod event;

pub use event::{DomainMap, Event, FileWritten, RecordingKey, parse_ingest, parse_notify};

use crate::decision::{Decision, Format, MAX_INTERVAL_SECS};
use foldhash::HashMap;
use jiff::{SignedDuration, Timestamp};
use std::collections::VecDeque;

/// How long a decided stream may go without any lifecycle event before it counts as
/// never started.
pub const DECIDED_TTL: SignedDuration = SignedDuration::from_mins(10);
/// Time past a recording's longest cycle before silence ends it.
pub const STALE_SLACK: SignedDuration = SignedDuration::from_mins(10);
/// How long an ended recording's late events (a file retried after `publish_done`) are
/// still counted to it rather than opening a new one: longer than the platform's five
/// retries at up to 10 s apart.
pub const LATE_EVENT_WINDOW: SignedDuration = SignedDuration::from_mins(2);
/// File URIs remembered per recording to tell a retried file event from a new file; the
/// store keeps every URI for good.
pub const RECENT_FILES: usize = 64;

/// Where a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// recgate answered `NeedRecord: true`; the platform has not said it started.
    Decided,
    /// Recording.
    Recording,
    /// Paused by the platform.
    Paused,
}

impl State {
    /// The name the admin API and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Decided => "decided",
            State::Recording => "recording",
            State::Paused => "paused",
        }
    }
}

/// One recording in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// What it records.
    pub key: RecordingKey,
    /// Where it stands.
    pub state: State,
    /// The rule or override that decided it; `None` when recgate did not.
    pub rule: Option<String>,
    /// The formats it was decided with; empty when unknown.
    pub formats: Vec<Format>,
    /// Its longest recording cycle, for staleness.
    pub cycle: SignedDuration,
    /// When it began.
    pub since: Timestamp,
    /// Its last sign of life.
    pub last_event: Timestamp,
    /// Whether its ingest was seen live (`publish`).
    pub ingest_seen: bool,
    /// Seconds of content in its files so far.
    pub recorded_seconds: f64,
    /// Files written so far.
    pub files: u64,
    recent_files: VecDeque<String>,
}

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It changed the ledger.
    Applied,
    /// It was seen before (a retry) or changes nothing.
    Duplicate,
    /// It is not about anything the ledger tracks, or of an unknown kind.
    Ignored,
}

impl Applied {
    /// The outcome label of the lifecycle event metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Applied => "applied",
            Applied::Duplicate => "duplicate",
            Applied::Ignored => "ignored",
        }
    }
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its stream's `publish_done`.
    PublishDone,
    /// Decided, then no event within `DECIDED_TTL`.
    NeverStarted,
    /// No sign of life for a cycle and `STALE_SLACK`.
    Stale,
}

/// A recording that ended, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// The recording as it last stood.
    pub recording: Recording,
    /// Why it ended.
    pub reason: EndReason,
    /// When.
    pub at: Timestamp,
}

/// Every recording in progress, and the recently ended ones late events still go to.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    active: HashMap<RecordingKey, Recording>,
    recently_ended: HashMap<RecordingKey, Timestamp>,
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
        if !decision.record() {
            return Applied::Ignored;
        }
        if self.active.contains_key(&key) {
            return Applied::Duplicate;
        }
        self.recently_ended.remove(&key);
        let mut recording = Recording::new(key, State::Decided, now);
        recording.rule = Some(rule.to_owned());
        recording.formats = decision
            .formats()
            .map(<[Format]>::to_vec)
            .unwrap_or_default();
        if let Some(interval) = decision.interval() {
            let longest = interval.entries().map(|(_, secs)| secs).max();
            recording.cycle =
                longest.map_or(recording.cycle, |s| SignedDuration::from_secs(s.into()));
        }
        self.active.insert(recording.key.clone(), recording);
        Applied::Applied
    }

    /// Applies one lifecycle event about `key` at `now`; returns what it did, and the
    /// recording it ended, if any.
    pub fn apply(
        &mut self,
        key: &RecordingKey,
        event: &Event,
        now: Timestamp,
    ) -> (Applied, Option<Ended>) {
        if let Event::File(file) = event
            && !self.active.contains_key(key)
            && self.is_late(key, file.start_time, now)
        {
            // A file of a recording that already ended: counted by the store, not reopened.
            return (Applied::Applied, None);
        }
        match event {
            Event::Unknown(_) => (Applied::Ignored, None),
            Event::PublishDone => match self.active.remove(key) {
                Some(recording) => {
                    self.recently_ended.insert(key.clone(), now);
                    let ended = Ended {
                        recording,
                        reason: EndReason::PublishDone,
                        at: now,
                    };
                    (Applied::Applied, Some(ended))
                }
                None => (Applied::Ignored, None),
            },
            Event::Publish => match self.active.get_mut(key) {
                Some(recording) => {
                    recording.last_event = now;
                    recording.ingest_seen = true;
                    (Applied::Applied, None)
                }
                None => (Applied::Ignored, None),
            },
            Event::Started | Event::Resumed => (self.move_to(key, State::Recording, now), None),
            Event::Paused => (self.move_to(key, State::Paused, now), None),
            Event::File(file) => {
                let recording = self.open(key, State::Recording, now);
                if recording.recent_files.contains(&file.uri) {
                    return (Applied::Duplicate, None);
                }
                if recording.recent_files.len() == RECENT_FILES {
                    recording.recent_files.pop_front();
                }
                recording.recent_files.push_back(file.uri.clone());
                recording.files += 1;
                recording.recorded_seconds += file.duration.max(0.0);
                if recording.state == State::Decided {
                    recording.state = State::Recording;
                }
                recording.last_event = now;
                (Applied::Applied, None)
            }
        }
    }

    /// Ends every recording silent for too long at `now` (see the module docs), and
    /// forgets ended ones past `LATE_EVENT_WINDOW`.
    pub fn sweep(&mut self, now: Timestamp) -> Vec<Ended> {
        self.recently_ended
            .retain(|_, ended| now.duration_since(*ended) < LATE_EVENT_WINDOW);
        let notify = self.notify_events;
        let stale: Vec<(RecordingKey, EndReason)> = self
            .active
            .values()
            .filter_map(|r| {
                let silent = now.duration_since(r.last_event);
                let reason = match r.state {
                    State::Decided if (notify || !r.ingest_seen) && silent >= DECIDED_TTL => {
                        EndReason::NeverStarted
                    }
                    State::Recording | State::Paused
                        if notify && silent >= r.cycle + STALE_SLACK =>
                    {
                        EndReason::Stale
                    }
                    _ => return None,
                };
                Some((r.key.clone(), reason))
            })
            .collect();
        stale
            .into_iter()
            .filter_map(|(key, reason)| {
                let recording = self.active.remove(&key)?;
                self.recently_ended.insert(key, now);
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

    /// Every recording in progress, in no particular order.
    pub fn active(&self) -> impl Iterator<Item = &Recording> {
        self.active.values()
    }

    /// How many recordings are in progress.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Whether a file starting at `start_time` belongs to `key`'s recording that ended
    /// within `LATE_EVENT_WINDOW` before `now`.
    fn is_late(&self, key: &RecordingKey, start_time: i64, now: Timestamp) -> bool {
        self.recently_ended.get(key).is_some_and(|ended| {
            now.duration_since(*ended) < LATE_EVENT_WINDOW && start_time <= ended.as_second()
        })
    }

    /// Moves `key`'s recording to `state`, opening it (not decided by recgate) if needed.
    fn move_to(&mut self, key: &RecordingKey, state: State, now: Timestamp) -> Applied {
        let opened = !self.active.contains_key(key);
        let recording = self.open(key, state, now);
        recording.last_event = now;
        if !opened && recording.state == state {
            return Applied::Duplicate;
        }
        recording.state = state;
        Applied::Applied
    }

    /// `key`'s recording, opened in `state` with no deciding rule if there is none.
    fn open(&mut self, key: &RecordingKey, state: State, now: Timestamp) -> &mut Recording {
        self.active
            .entry(key.clone())
            .or_insert_with(|| Recording::new(key.clone(), state, now))
    }
}

impl Recording {
    fn new(key: RecordingKey, state: State, now: Timestamp) -> Recording {
        Recording {
            key,
            state,
            rule: None,
            formats: Vec::new(),
            cycle: SignedDuration::from_secs(MAX_INTERVAL_SECS.into()),
            since: now,
            last_event: now,
            ingest_seen: false,
            recorded_seconds: 0.0,
            files: 0,
            recent_files: VecDeque::new(),
        }
    }
}

#[cfg(test)]
mod tests;
