-- Runtime overrides: one decision per (domain, app, stream); '' stands for any domain or app.
-- Times are Unix milliseconds.
CREATE TABLE overrides (
    domain       TEXT    NOT NULL,
    app          TEXT    NOT NULL,
    stream       TEXT    NOT NULL,
    record       BOOLEAN NOT NULL,
    formats      TEXT,
    interval_mp4 INTEGER,
    interval_flv INTEGER,
    interval_m3u8 INTEGER,
    reason       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    PRIMARY KEY (domain, app, stream)
);
CREATE INDEX overrides_expires_at ON overrides (expires_at) WHERE expires_at IS NOT NULL;
