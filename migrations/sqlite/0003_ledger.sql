-- The recording ledger: one row per recording (in progress while ended_at is NULL) and one
-- row per file written, counted once by its URI. Times are Unix milliseconds, but a file's
-- start_time and stop_time, which are the platform's Unix seconds.
CREATE TABLE recordings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    domain           TEXT    NOT NULL,
    app              TEXT    NOT NULL,
    stream           TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    rule             TEXT,
    formats          TEXT,
    cycle_secs       INTEGER NOT NULL,
    since            INTEGER NOT NULL,
    last_event       INTEGER NOT NULL,
    ingest_seen      BOOLEAN NOT NULL,
    recorded_seconds REAL    NOT NULL,
    files            INTEGER NOT NULL,
    ended_at         INTEGER,
    end_reason       TEXT
);
CREATE UNIQUE INDEX recordings_active ON recordings (domain, app, stream) WHERE ended_at IS NULL;
CREATE INDEX recordings_last_event ON recordings (last_event) WHERE ended_at IS NULL;
CREATE INDEX recordings_ended ON recordings (domain, app, stream, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX recordings_ended_at ON recordings (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE recording_files (
    uri         TEXT    PRIMARY KEY,
    domain      TEXT    NOT NULL,
    app         TEXT    NOT NULL,
    stream      TEXT    NOT NULL,
    rule        TEXT,
    duration    REAL    NOT NULL,
    start_time  INTEGER NOT NULL,
    stop_time   INTEGER NOT NULL,
    push_args   TEXT    NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX recording_files_start ON recording_files (start_time);
CREATE INDEX recording_files_stream ON recording_files (domain, app, stream, start_time);
