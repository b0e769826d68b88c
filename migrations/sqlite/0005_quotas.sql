-- Quotas: the quota a recording counts toward, what each replica holds of each quota's
-- free slots (its lease), and the hours each quota recorded, in 15-minute buckets.
ALTER TABLE recordings ADD COLUMN quota TEXT;

-- One row per quota ever seen, locked by every lease change of that quota.
CREATE TABLE quotas (
    name    TEXT    PRIMARY KEY,
    refused INTEGER NOT NULL
);

-- Slots a replica may hand out without asking, renewed every sync; a lease whose
-- renewed_at (Unix milliseconds) is older than the lease timeout is void.
CREATE TABLE quota_leases (
    quota      TEXT    NOT NULL,
    replica    TEXT    NOT NULL,
    reserved   INTEGER NOT NULL,
    demand     INTEGER NOT NULL,
    renewed_at INTEGER NOT NULL,
    PRIMARY KEY (quota, replica)
);

-- Each quota's recordings in progress, kept by the ledger's writers as they open and end
-- them, in shards by a hash of the stream (so that writers rarely wait on one another):
-- the sync sums a few rows rather than counting every recording.
CREATE TABLE quota_active (
    quota  TEXT    NOT NULL,
    shard  INTEGER NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (quota, shard)
);

CREATE TABLE quota_usage (
    quota   TEXT    NOT NULL,
    bucket  INTEGER NOT NULL,
    seconds REAL    NOT NULL,
    PRIMARY KEY (quota, bucket)
);
