-- Usage in 15-minute buckets by streaming domain, app and deciding rule ('' for none),
-- added to as files are counted (once per transaction, in key order, so that writers
-- never deadlock on them): GET /usage reads these few rows rather than every file. A
-- bucket never straddles a local midnight (offsets are multiples of 15 minutes).
CREATE TABLE usage_buckets (
    bucket  INTEGER NOT NULL,
    domain  TEXT    NOT NULL,
    app     TEXT    NOT NULL,
    rule    TEXT    NOT NULL,
    seconds REAL    NOT NULL,
    files   INTEGER NOT NULL,
    PRIMARY KEY (bucket, domain, app, rule)
);
