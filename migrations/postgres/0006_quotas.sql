-- Quotas: the quota a recording counts toward, what each replica holds of each quota's
-- free slots (its lease), and the hours each quota recorded, in 15-minute buckets.
ALTER TABLE recordings ADD COLUMN quota TEXT;
CREATE INDEX recordings_quota ON recordings (quota) WHERE ended_at IS NULL AND quota IS NOT NULL;

-- One row per quota ever seen, locked by every lease change of that quota.
CREATE TABLE quotas (
    name    TEXT    PRIMARY KEY,
    refused BIGINT NOT NULL
);

-- Slots a replica may hand out without asking, renewed every sync; a lease whose
-- renewed_at (Unix milliseconds) is older than the lease timeout is void.
CREATE TABLE quota_leases (
    quota      TEXT    NOT NULL,
    replica    TEXT    NOT NULL,
    reserved   BIGINT NOT NULL,
    demand     BIGINT NOT NULL,
    renewed_at BIGINT NOT NULL,
    PRIMARY KEY (quota, replica)
);

CREATE TABLE quota_usage (
    quota   TEXT    NOT NULL,
    bucket  BIGINT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (quota, bucket)
);
