-- latch schema, version 12 (SQLite): webhooks.
--
-- An endpoint's events are stored space separated with a space at each
-- end (' user.created user.login '), so that the transaction that makes a
-- change queues its deliveries with one INSERT ... SELECT matching
-- LIKE '% type %'. The signing secret is sealed with LATCH_SECRET.
CREATE TABLE webhook_endpoints (
    id            TEXT    PRIMARY KEY,
    url           TEXT    NOT NULL,
    events        TEXT    NOT NULL,
    secret_sealed BLOB    NOT NULL,
    created_at    INTEGER,
    updated_at    INTEGER
) STRICT;

-- One event on its way to one endpoint. message_id is the webhook-id
-- header, the same on every attempt. user_id has no foreign key: a
-- user.deleted event outlives its user. A claim moves next_attempt_at to
-- the end of its lease and counts an attempt; the outcome is recorded
-- only by the attempt that still holds it (attempts unchanged).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id      TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    retry_until     INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_latency_us INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    done_at         INTEGER
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, user_id, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
