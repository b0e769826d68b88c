use super::model::Ledger;
use super::*;
use crate::decision::Interval;
use std::collections::BTreeMap;

fn key(stream: &str) -> RecordingKey {
    RecordingKey {
        domain: "live.example.com".into(),
        app: "live".into(),
        stream: stream.into(),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn file(uri: &str, start: i64, duration: f64) -> Event {
    Event::File(FileWritten {
        uri: uri.into(),
        duration,
        start_time: at(start).as_second(),
        stop_time: at(start).as_second() + duration as i64,
        push_args: BTreeMap::new(),
    })
}

fn record_mp4_every(secs: u32) -> Decision {
    Decision::new(
        true,
        Some(vec![Format::Mp4]),
        Some(Interval {
            mp4: Some(secs),
            ..Interval::default()
        }),
    )
}

fn state(ledger: &Ledger, stream: &str) -> Option<&'static str> {
    ledger.get(&key(stream)).map(|r| r.state.as_str())
}

/// Every transition of the state machine, one row each: the events in order, then the
/// state the recording is in and what the last event did.
#[test]
fn each_transition_moves_the_recording_as_documented() {
    type Step = (Option<&'static str>, Event);
    let decide: Option<&str> = Some("decide");
    let cases: Vec<(&str, Vec<Step>, Option<&str>, Applied)> = vec![
        (
            "decided",
            vec![(decide, Event::Publish)],
            Some("decided"),
            Applied::Applied,
        ),
        (
            "decided -> recording on record_started",
            vec![(decide, Event::Started)],
            Some("recording"),
            Applied::Applied,
        ),
        (
            "decided -> recording on its first file",
            vec![(decide, file("a.mp4", 0, 10.0))],
            Some("recording"),
            Applied::Applied,
        ),
        (
            "recording -> paused",
            vec![(decide, Event::Started), (None, Event::Paused)],
            Some("paused"),
            Applied::Applied,
        ),
        (
            "paused -> recording",
            vec![(decide, Event::Paused), (None, Event::Resumed)],
            Some("recording"),
            Applied::Applied,
        ),
        (
            "a file while paused keeps it paused",
            vec![(decide, Event::Paused), (None, file("a.mp4", 0, 5.0))],
            Some("paused"),
            Applied::Applied,
        ),
        (
            "ends on publish_done",
            vec![(decide, Event::Started), (None, Event::PublishDone)],
            None,
            Applied::Applied,
        ),
        (
            "a repeated status event is a duplicate",
            vec![(decide, Event::Started), (None, Event::Started)],
            Some("recording"),
            Applied::Duplicate,
        ),
        (
            "a retried file is a duplicate",
            vec![
                (decide, file("a.mp4", 0, 5.0)),
                (None, file("a.mp4", 0, 5.0)),
            ],
            Some("recording"),
            Applied::Duplicate,
        ),
        (
            "an event for a stream recgate did not decide opens it",
            vec![(None, Event::Started)],
            Some("recording"),
            Applied::Applied,
        ),
        (
            "a file before record_started opens it recording",
            vec![(None, file("a.mp4", 0, 5.0)), (None, Event::Started)],
            Some("recording"),
            Applied::Duplicate,
        ),
        (
            "publish_done of an unknown stream is ignored",
            vec![(None, Event::PublishDone)],
            None,
            Applied::Ignored,
        ),
        (
            "an unknown event is ignored",
            vec![(decide, Event::Unknown("record_error".into()))],
            Some("decided"),
            Applied::Ignored,
        ),
    ];
    for (name, steps, expected_state, expected_last) in cases {
        let mut ledger = Ledger::new(true);
        let mut last = Applied::Ignored;
        for (i, (decide, event)) in steps.iter().enumerate() {
            let now = at(i as i64);
            if decide.is_some() {
                ledger.decided(key("s"), "courses", &record_mp4_every(300), now);
            }
            last = ledger.apply(&key("s"), event, now).0;
        }
        assert_eq!(state(&ledger, "s"), expected_state, "{name}: state");
        assert_eq!(last, expected_last, "{name}: what the last event did");
    }
}

#[test]
fn a_retried_decision_keeps_its_entry_and_a_no_opens_nothing() {
    let mut ledger = Ledger::new(true);
    let yes = record_mp4_every(300);
    assert_eq!(
        ledger.decided(key("s"), "courses", &yes, at(0)),
        Applied::Applied
    );
    assert_eq!(
        ledger.decided(key("s"), "courses", &yes, at(5)),
        Applied::Duplicate
    );
    assert_eq!(
        ledger.get(&key("s")).map(|r| r.since),
        Some(at(0)),
        "first decision kept"
    );
    let no = Decision::plain(false);
    assert_eq!(
        ledger.decided(key("t"), "never", &no, at(0)),
        Applied::Ignored
    );
    assert_eq!(ledger.len(), 1, "a no is not a recording");
}

#[test]
fn a_file_is_counted_once_and_a_late_file_goes_to_the_ended_recording() {
    let mut ledger = Ledger::new(true);
    ledger.decided(key("s"), "courses", &record_mp4_every(300), at(0));
    ledger.apply(&key("s"), &file("a.mp4", 0, 300.0), at(300));
    ledger.apply(&key("s"), &file("a.mp4", 0, 300.0), at(301));
    let recording = ledger.get(&key("s")).expect("recording");
    assert_eq!((recording.files, recording.recorded_seconds), (1, 300.0));
    let (_, ended) = ledger.apply(&key("s"), &Event::PublishDone, at(400));
    assert_eq!(ended.map(|e| e.recording.files), Some(1));
    // The last file, retried after publish_done: counted (by the store), not reopened.
    let (applied, _) = ledger.apply(&key("s"), &file("b.mp4", 300, 100.0), at(401));
    assert_eq!(applied, Applied::Applied);
    assert!(ledger.get(&key("s")).is_none(), "the recording stays ended");
    // A new session's file, after the window, opens a new recording.
    ledger.sweep(at(400) + LATE_EVENT_WINDOW);
    ledger.apply(&key("s"), &file("c.mp4", 700, 5.0), at(705));
    assert_eq!(state(&ledger, "s"), Some("recording"));
}

#[test]
fn silence_ends_a_decided_stream_and_a_stale_recording_after_the_documented_times() {
    let mut ledger = Ledger::new(true);
    ledger.decided(key("never"), "courses", &record_mp4_every(300), at(0));
    ledger.decided(key("live"), "courses", &record_mp4_every(300), at(0));
    ledger.apply(&key("live"), &Event::Started, at(1));
    let ttl = DECIDED_TTL.as_secs();
    assert!(ledger.sweep(at(ttl - 1)).is_empty(), "not yet");
    let ended = ledger.sweep(at(ttl));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].reason, EndReason::NeverStarted);
    assert_eq!(ended[0].recording.key, key("never"));
    // A 300 s cycle: silent for 300 s + the slack ends it.
    let stale = 1 + 300 + STALE_SLACK.as_secs();
    assert!(
        ledger.sweep(at(stale - 1)).is_empty(),
        "a cycle and slack not yet over"
    );
    let ended = ledger.sweep(at(stale));
    assert_eq!(
        ended.iter().map(|e| e.reason).collect::<Vec<_>>(),
        [EndReason::Stale]
    );
    assert!(ledger.is_empty());
}

#[test]
fn without_notify_events_only_publish_done_ends_a_stream_whose_ingest_was_seen() {
    let mut ledger = Ledger::new(false);
    ledger.decided(key("s"), "courses", &record_mp4_every(300), at(0));
    ledger.apply(&key("s"), &Event::Publish, at(1));
    ledger.decided(key("ghost"), "courses", &record_mp4_every(300), at(0));
    let ended = ledger.sweep(at(100_000));
    assert_eq!(ended.len(), 1, "only the stream never seen live");
    assert_eq!(ended[0].recording.key, key("ghost"));
    assert_eq!(state(&ledger, "s"), Some("decided"));
    let (_, ended) = ledger.apply(&key("s"), &Event::PublishDone, at(100_001));
    assert_eq!(ended.map(|e| e.reason), Some(EndReason::PublishDone));
}
