-- latch schema, version 1 (SQLite).
--
-- Times are INTEGER unix microseconds in UTC; NULL stands for the zero time.
-- Booleans are INTEGER 0/1. Tables are STRICT so a value of the wrong type
-- is refused instead of stored.

CREATE TABLE users (
    id                 TEXT    PRIMARY KEY,
    email              TEXT    NOT NULL,
    email_norm         TEXT    NOT NULL UNIQUE,
    password_hash      TEXT    NOT NULL DEFAULT '',
    email_confirmed    INTEGER NOT NULL DEFAULT 0,
    roles              TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    disabled           INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER,
    updated_at         INTEGER,
    tokens_valid_after INTEGER
) STRICT;

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER,
    last_used_at INTEGER,
    expires_at   INTEGER,
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    revoked_at   INTEGER
) STRICT;

-- SessionsByUser, RevokeUserSessions and the cascade from users.
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    hash             BLOB    PRIMARY KEY,
    session_id       TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at       INTEGER,
    used_at          INTEGER,
    successor_hash   BLOB,
    successor_sealed BLOB
) STRICT;

-- The cascades from sessions and users.
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE one_time_tokens (
    hash       BLOB    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER,
    expires_at INTEGER,
    used_at    INTEGER
) STRICT;

-- CountOneTimeTokens, VoidOneTimeTokens and the cascade from users.
CREATE INDEX one_time_tokens_user_kind_created ON one_time_tokens (user_id, kind, created_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ClaimMail: due rows in id order.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);

CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY,
    alg         TEXT    NOT NULL,
    private_enc BLOB    NOT NULL,
    public_jwk  TEXT    NOT NULL, -- JSON
    created_at  INTEGER,
    active_at   INTEGER,
    retired_at  INTEGER,
    expires_at  INTEGER
) STRICT;
