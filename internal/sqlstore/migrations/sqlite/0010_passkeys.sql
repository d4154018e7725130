-- latch schema, version 10 (SQLite): passkeys (WebAuthn credentials).
--
-- A passkey is a row of mfa_factors (kind 'passkey'): credential_id is its
-- credential id, secret_sealed its COSE public key (public, so not sealed),
-- last_step its signature counter. What else a later assertion is checked
-- against is kept beside it: the transports the browser reported (space
-- separated), the authenticator's AAGUID and its flags (bit 0 user
-- verified, bit 1 backup eligible, bit 2 backed up).
ALTER TABLE mfa_factors ADD COLUMN transports TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_factors ADD COLUMN aaguid BLOB;
ALTER TABLE mfa_factors ADD COLUMN passkey_flags INTEGER NOT NULL DEFAULT 0;

-- A WebAuthn ceremony's challenge, kept server-side between begin and
-- finish: single-use (used_at, set by one conditional write), short-lived,
-- and bound to what began it: the user and session registering a passkey,
-- the mfa_token of a login waiting for its second factor, or nothing for a
-- passwordless (discoverable) login. state is the ceremony's own data (the
-- challenge bytes, the allowed credentials, the user verification asked
-- for). hash is the SHA-256 of the challenge_id handed to the client.
CREATE TABLE passkey_challenges (
    hash           BLOB    PRIMARY KEY,
    purpose        TEXT    NOT NULL,
    user_id        TEXT    REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT    NOT NULL DEFAULT '',
    mfa_token_hash BLOB,
    state          BLOB    NOT NULL,
    created_at     INTEGER,
    expires_at     INTEGER,
    used_at        INTEGER
) STRICT;

CREATE INDEX passkey_challenges_user ON passkey_challenges (user_id);
