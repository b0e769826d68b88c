use super::*;
use crate::overrides::StoreSpec;
use std::time::Duration;

async fn sqlite(dir: &tempfile::TempDir) -> Store {
    let spec = StoreSpec::Sqlite(dir.path().join("ledger.db"));
    match Store::open(&spec, Duration::from_secs(5)).await {
        Ok(Some(store)) => store,
        other => panic!("an SQLite store: {other:?}"),
    }
}

fn key(stream: &str) -> RecordingKey {
    RecordingKey {
        domain: "d".into(),
        app: "a".into(),
        stream: stream.into(),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn file(uri: &str, start: i64) -> Event {
    Event::File(FileWritten {
        uri: uri.into(),
        duration: 60.0,
        start_time: at(start).as_second(),
        stop_time: at(start).as_second() + 60,
        push_args: BTreeMap::new(),
    })
}

fn event(stream: &str, event: Event, second: i64) -> Work {
    Work::Event(key(stream), event, at(second))
}

async fn rows(store: &Store) -> Vec<RecordingRow> {
    on_pool!(store, pool => sqlx::query_as::<_, RecordingRow>(
        concat!("SELECT ", recording_columns!(), " FROM recordings ORDER BY id")
    ).fetch_all(pool).await.expect("rows"))
}

#[tokio::test]
async fn a_late_file_is_counted_to_the_ended_recording_in_the_store() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite(&dir).await;
    let decision = crate::decision::Decision::plain(true);
    let opened = super::super::decided(key("s"), "rule", &decision, at(0)).expect("a yes");
    let work = [
        Work::Decided(opened),
        event("s", file("f0", 0), 60),
        event("s", Event::PublishDone, 100),
        event("s", file("f1", 60), 101),
        event("s", file("f1", 60), 102),
    ];
    let outcomes = apply(&store, &work).await.expect("applied");
    let applied: Vec<Applied> = outcomes.iter().map(|o| o.applied).collect();
    assert_eq!(
        applied,
        [
            Applied::Applied,
            Applied::Applied,
            Applied::Applied,
            Applied::Applied,
            Applied::Duplicate
        ]
    );
    let rows = rows(&store).await;
    assert_eq!(
        rows.len(),
        1,
        "no new recording for the late file: {rows:?}"
    );
    assert_eq!(rows[0].recording().files, 2);
    assert_eq!(rows[0].end_reason(), Some("publish_done"));
}

#[tokio::test]
async fn a_sweep_ends_silent_recordings_and_a_purge_drops_old_history() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite(&dir).await;
    let decision = crate::decision::Decision::plain(true);
    let opened = super::super::decided(key("s"), "rule", &decision, at(0)).expect("a yes");
    apply(
        &store,
        &[Work::Decided(opened), event("t", file("f", 0), 1)],
    )
    .await
    .expect("applied");
    let ttl = super::super::DECIDED_TTL.as_secs();
    assert!(
        sweep(&store, true, at(ttl - 1))
            .await
            .expect("swept")
            .is_empty()
    );
    let ended = sweep(&store, true, at(ttl)).await.expect("swept");
    assert_eq!(
        ended.iter().map(|e| e.reason).collect::<Vec<_>>(),
        [EndReason::NeverStarted]
    );
    assert_eq!(
        purge(&store, at(ttl)).await.expect("purged"),
        2,
        "the old file and its usage bucket"
    );
    assert_eq!(
        purge(&store, at(ttl + 1)).await.expect("purged"),
        1,
        "the ended recording"
    );
    assert_eq!(
        rows(&store).await.len(),
        1,
        "the recording in progress stays"
    );
}

async fn quota_active(store: &Store) -> i64 {
    on_pool!(store, pool => sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) FROM quota_active WHERE quota = 'q'"
    ).fetch_one(pool).await.expect("a sum"))
}

#[tokio::test]
async fn a_quotas_count_follows_its_recordings_as_they_open_and_end() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite(&dir).await;
    let decision = crate::decision::Decision::plain(true);
    let opened = |stream: &str| {
        let mut recording =
            super::super::decided(key(stream), "rule", &decision, at(0)).expect("a yes");
        recording.quota = Some("q".into());
        Work::Decided(recording)
    };
    // Three streams open (one decided twice: counted once); one without a quota.
    let unquoted = super::super::decided(key("free"), "rule", &decision, at(0)).expect("a yes");
    let work = [
        opened("a"),
        opened("b"),
        opened("b"),
        opened("c"),
        Work::Decided(unquoted),
    ];
    apply(&store, &work).await.expect("applied");
    assert_eq!(quota_active(&store).await, 3);
    // publish_done and an operator's removal end two; an event for nothing ends nothing.
    let work = [
        event("a", Event::PublishDone, 10),
        event("b", Event::Removed, 10),
        event("zz", Event::PublishDone, 10),
        event("free", Event::PublishDone, 10),
    ];
    apply(&store, &work).await.expect("applied");
    assert_eq!(quota_active(&store).await, 1);
    // Silence ends the last (decided, no event for DECIDED_TTL).
    let ended = sweep(&store, true, at(3600)).await.expect("swept");
    assert_eq!(ended.len(), 1);
    assert_eq!(quota_active(&store).await, 0);
    // The rows agree.
    let open = rows(&store)
        .await
        .iter()
        .filter(|r| r.ended_at().is_none())
        .count();
    assert_eq!(open, 0);
}

#[tokio::test]
async fn decisions_in_one_statement_open_each_stream_once_and_in_order_with_events() {
    let dir = tempfile::tempdir().expect("dir");
    let store = sqlite(&dir).await;
    let decision = crate::decision::Decision::plain(true);
    let opened = |stream: &str, second: i64| {
        let recording = super::super::decided(key(stream), "rule", &decision, at(second));
        Work::Decided(recording.expect("a yes"))
    };
    let work = [
        opened("a", 0),
        opened("a", 1),
        opened("b", 2),
        event("a", Event::PublishDone, 3),
        opened("a", 4),
        opened("c", 5),
    ];
    let outcomes = apply(&store, &work).await.expect("applied");
    let applied: Vec<Applied> = outcomes.iter().map(|o| o.applied).collect();
    assert_eq!(
        applied,
        [
            Applied::Applied,
            Applied::Duplicate,
            Applied::Applied,
            Applied::Applied,
            Applied::Applied,
            Applied::Applied,
        ],
        "a retry is a duplicate; after its end, a stream opens again"
    );
    let streams: Vec<(String, bool)> = rows(&store)
        .await
        .iter()
        .map(|row| (row.stream.clone(), row.ended_at().is_some()))
        .collect();
    assert_eq!(
        streams,
        [
            ("a".to_owned(), true),
            ("b".to_owned(), false),
            ("a".to_owned(), false),
            ("c".to_owned(), false),
        ]
    );
}
