-- Notifications name the override that changed, so that a replica reads that row alone
-- instead of the whole table. An empty payload asks for a full resync: a key too long for
-- a notification, a key changed by hand, or a TRUNCATE.
CREATE OR REPLACE FUNCTION recgate_overrides_changed() RETURNS trigger AS $$
DECLARE
    changed overrides%ROWTYPE;
    payload TEXT := '';
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    IF TG_OP <> 'UPDATE'
        OR (OLD.domain, OLD.app, OLD.stream) = (NEW.domain, NEW.app, NEW.stream) THEN
        payload := json_build_object(
            'domain', changed.domain, 'app', changed.app, 'stream', changed.stream)::text;
        IF octet_length(payload) > 4000 THEN
            payload := '';
        END IF;
    END IF;
    PERFORM pg_notify('recgate_overrides', payload);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION recgate_overrides_truncated() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('recgate_overrides', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER overrides_truncated
    AFTER TRUNCATE ON overrides
    FOR EACH STATEMENT EXECUTE FUNCTION recgate_overrides_truncated();
