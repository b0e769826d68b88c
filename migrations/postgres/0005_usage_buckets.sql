-- Usage in 15-minute buckets by streaming domain, app and deciding rule ('' for none),
-- kept by a trigger as files are counted: GET /usage reads these few rows rather than
-- every file. A bucket never straddles a local midnight (offsets are multiples of 15 min).
CREATE TABLE usage_buckets (
    bucket  BIGINT           NOT NULL,
    domain  TEXT             NOT NULL,
    app     TEXT             NOT NULL,
    rule    TEXT             NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    files   BIGINT           NOT NULL,
    PRIMARY KEY (bucket, domain, app, rule)
);

CREATE FUNCTION recgate_usage_counted() RETURNS trigger AS $$
BEGIN
    INSERT INTO usage_buckets (bucket, domain, app, rule, seconds, files)
    VALUES (floor(NEW.start_time / 900.0)::BIGINT * 900, NEW.domain, NEW.app,
            COALESCE(NEW.rule, ''), NEW.duration, 1)
    ON CONFLICT (bucket, domain, app, rule)
    DO UPDATE SET seconds = usage_buckets.seconds + excluded.seconds,
                  files = usage_buckets.files + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER recording_files_usage AFTER INSERT ON recording_files
    FOR EACH ROW EXECUTE FUNCTION recgate_usage_counted();
