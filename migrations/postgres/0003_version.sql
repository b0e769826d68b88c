-- A counter that every change to the table bumps (in the same transaction), so that a
-- periodic resync can tell that nothing changed and skip reading the table.
CREATE TABLE overrides_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO overrides_version (id, version) VALUES (1, 0);

CREATE FUNCTION recgate_overrides_bump() RETURNS trigger AS $$
BEGIN
    UPDATE overrides_version SET version = version + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Per row: a statement-level trigger would fire for statements that change nothing, such
-- as every resync's purge of expired overrides when none has expired.
CREATE TRIGGER overrides_bump
    AFTER INSERT OR UPDATE OR DELETE ON overrides
    FOR EACH ROW EXECUTE FUNCTION recgate_overrides_bump();

CREATE TRIGGER overrides_bump_truncate
    AFTER TRUNCATE ON overrides
    FOR EACH STATEMENT EXECUTE FUNCTION recgate_overrides_bump();
