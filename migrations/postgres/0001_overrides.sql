-- Runtime overrides: one decision per (domain, app, stream); '' stands for any domain or app.
-- Times are Unix milliseconds.
CREATE TABLE overrides (
    domain        TEXT    NOT NULL,
    app           TEXT    NOT NULL,
    stream        TEXT    NOT NULL,
    record        BOOLEAN NOT NULL,
    formats       TEXT,
    interval_mp4  BIGINT,
    interval_flv  BIGINT,
    interval_m3u8 BIGINT,
    reason        TEXT,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    PRIMARY KEY (domain, app, stream)
);
CREATE INDEX overrides_expires_at ON overrides (expires_at) WHERE expires_at IS NOT NULL;

-- Every change, by any replica or by hand, tells every listening replica to resync.
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION recgate_overrides_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('recgate_overrides', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER overrides_changed
    AFTER INSERT OR UPDATE OR DELETE ON overrides
    FOR EACH ROW EXECUTE FUNCTION recgate_overrides_changed();
