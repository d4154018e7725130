-- latch schema, version 6 (SQLite): second factors.
--
-- mfa_factors holds every factor of every kind: 'totp' now, 'passkey'
-- (WebAuthn credentials) next, so that listing, counting and an admin's
-- reset are one query whatever the kind. A TOTP secret is sealed with
-- LATCH_SECRET (like signing keys). last_step is the one number each kind
-- advances with a conditional write: the last accepted TOTP time step (a
-- code is accepted only for a later step, so at most once), a passkey's
-- sign counter.
CREATE TABLE mfa_factors (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    secret_sealed BLOB,
    credential_id BLOB,
    last_step     INTEGER NOT NULL DEFAULT -1,
    created_at    INTEGER,
    confirmed_at  INTEGER, -- NULL while enrolment waits for its first code
    last_used_at  INTEGER
) STRICT;

CREATE INDEX mfa_factors_user ON mfa_factors (user_id);
-- One authenticator app per account (a pending enrolment included).
CREATE UNIQUE INDEX mfa_factors_one_totp ON mfa_factors (user_id) WHERE kind = 'totp';
-- A passkey's credential id names one account.
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (credential_id) WHERE credential_id IS NOT NULL;

-- Recovery codes: SHA-256 of each 80-bit code, single-use.
CREATE TABLE mfa_recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    created_at INTEGER,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT;

-- The mfa_token of a login that passed the password and waits for the
-- second factor: single-use, short-lived, bound to the password checked
-- (password_binding, a hash of the password hash then) and to the OAuth
-- client that asked. A passkey assertion will redeem it too.
CREATE TABLE mfa_challenges (
    hash                BLOB    PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_binding    BLOB    NOT NULL,
    client_id           TEXT    NOT NULL DEFAULT '',
    client_confidential INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER,
    expires_at          INTEGER,
    used_at             INTEGER
) STRICT;

CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- How the session was authenticated (RFC 8176 amr values, space
-- separated): access tokens of the session carry it, refreshed or not.
-- '' (every session from before this version) reads as a password.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
