-- latch schema, version 2 (SQLite): the audit log and the admin listing.
--
-- audit_events is append-only: the triggers refuse every UPDATE and DELETE,
-- so a row, once written, stays as it was. It has no foreign key to users:
-- the record of a deleted account outlives it. details is a JSON object of
-- strings and never holds a secret.

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL DEFAULT '',
    session_id TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    details    TEXT    NOT NULL DEFAULT '{}', -- JSON object of strings
    created_at INTEGER NOT NULL
) STRICT;

-- Audit queries by user or by type, newest first (id order).
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_type ON audit_events (type, id);
-- Queries by time.
CREATE INDEX audit_events_created ON audit_events (created_at, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- The admin listing of users pages in (created_at, id) order.
CREATE INDEX users_created ON users (created_at, id);
