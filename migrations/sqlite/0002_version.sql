-- A counter that every change to the table bumps, so that a periodic resync can tell that
-- nothing changed and skip reading the table.
CREATE TABLE overrides_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO overrides_version (id, version) VALUES (1, 0);

CREATE TRIGGER overrides_version_insert AFTER INSERT ON overrides
BEGIN
    UPDATE overrides_version SET version = version + 1;
END;
CREATE TRIGGER overrides_version_update AFTER UPDATE ON overrides
BEGIN
    UPDATE overrides_version SET version = version + 1;
END;
CREATE TRIGGER overrides_version_delete AFTER DELETE ON overrides
BEGIN
    UPDATE overrides_version SET version = version + 1;
END;
