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
pub mod live;
pub mod read;
pub mod store;
pub mod usage;

pub use event::{DomainMap, Event, FileWritten, RecordingKey, parse_ingest, parse_notify};

use crate::decision::{Decision, Format, MAX_INTERVAL_SECS};
use jiff::{SignedDuration, Timestamp};

/// How long a decided stream may go without any lifecycle event before it counts as
/// never started.
pub const DECIDED_TTL: SignedDuration = SignedDuration::from_mins(10);
/// Time past a recording's longest cycle before silence ends it.
pub const STALE_SLACK: SignedDuration = SignedDuration::from_mins(10);
/// How long an ended recording's late events (a file retried after `publish_done`) are
/// still counted to it rather than opening a new one: longer than the platform's five
/// retries at up to 10 s apart.
pub const LATE_EVENT_WINDOW: SignedDuration = SignedDuration::from_mins(2);

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
    /// The quota it counts toward, if any.
    pub quota: Option<String>,
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
    /// An operator removed it.
    Removed,
}

impl EndReason {
    /// The name the store and the admin API use.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::PublishDone => "publish_done",
            EndReason::NeverStarted => "never_started",
            EndReason::Stale => "stale",
            EndReason::Removed => "removed",
        }
    }

    /// The reason named `name`; `PublishDone` for a name not known.
    pub fn parse(name: &str) -> EndReason {
        match name {
            "never_started" => EndReason::NeverStarted,
            "stale" => EndReason::Stale,
            "removed" => EndReason::Removed,
            _ => EndReason::PublishDone,
        }
    }
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

/// What is known of one stream's recording when an event about it arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum Current {
    /// No recording, in progress or recently ended.
    None,
    /// A recording in progress.
    Active(Recording),
    /// A recording that ended within `LATE_EVENT_WINDOW` of the event, and when.
    Ended(Recording, Timestamp),
}

/// What one event did to one stream's recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Whether it changed anything.
    pub applied: Applied,
    /// The recording in progress afterwards, if any.
    pub active: Option<Recording>,
    /// The recording it ended, if it ended one.
    pub ended: Option<Ended>,
    /// A late file of an ended recording: the recording with the file counted, to be
    /// stored as ended.
    pub late: Option<Recording>,
}

/// The one transition function: `event` about `key` at `now`, given what is `current`.
/// `fresh` says whether a file event's URI was never seen before (the caller knows: the
/// store keeps every URI); it is ignored for other events.
pub fn step(
    current: Current,
    key: &RecordingKey,
    event: &Event,
    fresh: bool,
    now: Timestamp,
) -> Step {
    let unchanged = |applied, active| Step {
        applied,
        active,
        ended: None,
        late: None,
    };
    let (active, ended) = match current {
        Current::Active(recording) => (Some(recording), None),
        Current::Ended(recording, at) => (None, Some((recording, at))),
        Current::None => (None, None),
    };
    if let (Event::File(file), None, Some((mut recording, at))) = (event, &active, ended)
        && now.duration_since(at) < LATE_EVENT_WINDOW
        && file.start_time <= at.as_second()
    {
        // A file of a recording that already ended: counted to it, not reopened.
        if !fresh {
            return unchanged(Applied::Duplicate, None);
        }
        recording.count(file);
        return Step {
            applied: Applied::Applied,
            active: None,
            ended: None,
            late: Some(recording),
        };
    }
    let open = |state| {
        active
            .clone()
            .unwrap_or_else(|| Recording::new(key.clone(), state, now))
    };
    match event {
        Event::Unknown(_) => unchanged(Applied::Ignored, active),
        Event::PublishDone | Event::Removed => match active {
            Some(recording) => Step {
                applied: Applied::Applied,
                active: None,
                ended: Some(Ended {
                    recording,
                    reason: if *event == Event::Removed {
                        EndReason::Removed
                    } else {
                        EndReason::PublishDone
                    },
                    at: now,
                }),
                late: None,
            },
            None => unchanged(Applied::Ignored, None),
        },
        Event::Publish => match active {
            Some(mut recording) => {
                recording.last_event = now;
                recording.ingest_seen = true;
                unchanged(Applied::Applied, Some(recording))
            }
            None => unchanged(Applied::Ignored, None),
        },
        Event::Started | Event::Resumed | Event::Paused => {
            let state = if *event == Event::Paused {
                State::Paused
            } else {
                State::Recording
            };
            let mut recording = open(state);
            recording.last_event = now;
            let applied = if active.is_some() && recording.state == state {
                Applied::Duplicate
            } else {
                Applied::Applied
            };
            recording.state = state;
            unchanged(applied, Some(recording))
        }
        Event::File(file) => {
            let mut recording = open(State::Recording);
            if !fresh {
                return unchanged(Applied::Duplicate, active);
            }
            recording.count(file);
            if recording.state == State::Decided {
                recording.state = State::Recording;
            }
            recording.last_event = now;
            unchanged(Applied::Applied, Some(recording))
        }
    }
}

/// The recording the on-demand callback opens for `key` when it answers `decision` by
/// `rule` at `now`: `None` for a `NeedRecord: false`.
pub fn decided(
    key: RecordingKey,
    rule: &str,
    decision: &Decision,
    now: Timestamp,
) -> Option<Recording> {
    if !decision.record() {
        return None;
    }
    let mut recording = Recording::new(key, State::Decided, now);
    recording.rule = Some(rule.to_owned());
    recording.formats = decision
        .formats()
        .map(<[Format]>::to_vec)
        .unwrap_or_default();
    if let Some(longest) = decision
        .interval()
        .and_then(|i| i.entries().map(|(_, s)| s).max())
    {
        recording.cycle = SignedDuration::from_secs(longest.into());
    }
    Some(recording)
}

/// Why `recording` has gone silent for too long at `now`, if it has (see the module docs);
/// `notify_events` says whether status and file events are configured.
pub fn staleness(recording: &Recording, notify_events: bool, now: Timestamp) -> Option<EndReason> {
    let silent = now.duration_since(recording.last_event);
    match recording.state {
        State::Decided if (notify_events || !recording.ingest_seen) && silent >= DECIDED_TTL => {
            Some(EndReason::NeverStarted)
        }
        State::Recording | State::Paused
            if notify_events && silent >= recording.cycle + STALE_SLACK =>
        {
            Some(EndReason::Stale)
        }
        _ => None,
    }
}

impl Recording {
    /// A recording of `key` opened at `now` in `state`, decided by no rule.
    pub fn new(key: RecordingKey, state: State, now: Timestamp) -> Recording {
        Recording {
            key,
            state,
            rule: None,
            quota: None,
            formats: Vec::new(),
            cycle: SignedDuration::from_secs(MAX_INTERVAL_SECS.into()),
            since: now,
            last_event: now,
            ingest_seen: false,
            recorded_seconds: 0.0,
            files: 0,
        }
    }

    /// Counts `file` to the recording.
    fn count(&mut self, file: &FileWritten) {
        self.files += 1;
        self.recorded_seconds += file.duration.max(0.0);
    }
}

/// The in-memory reference model the transition tests drive.
#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
