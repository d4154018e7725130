-- latch schema, version 11 (PostgreSQL): OpenID Provider for the authorization
-- code flow.
--
-- oauth_clients are the clients registered through the admin API (those of
-- LATCH_OAUTH_CLIENTS stay configuration). A confidential client's secret
-- is kept only as its SHA-256 (256 random bits, so a fast hash is enough);
-- the URI lists and grant types are JSON arrays of strings.
CREATE TABLE oauth_clients (
    id                        TEXT    PRIMARY KEY,
    name                      TEXT    NOT NULL,
    type                      TEXT    NOT NULL,
    secret_hash               BYTEA,
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    grant_types               TEXT    NOT NULL DEFAULT '[]',
    created_at                BIGINT,
    updated_at                BIGINT
);

-- Authorization codes: SHA-256 of each, single-use (used_at set by one
-- conditional write), 60 s, bound to the client, redirect_uri, PKCE
-- challenge, nonce and browser session. session_id is the token session
-- the first use started, which a second use ends. No foreign key to
-- oauth_clients: static clients have no row.
CREATE TABLE oauth_codes (
    hash               BYTEA    PRIMARY KEY,
    client_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id TEXT    NOT NULL DEFAULT '',
    redirect_uri       TEXT    NOT NULL,
    code_challenge     TEXT    NOT NULL DEFAULT '',
    nonce              TEXT    NOT NULL DEFAULT '',
    scope              TEXT    NOT NULL DEFAULT '',
    auth_time          BIGINT,
    amr                TEXT    NOT NULL DEFAULT '',
    created_at         BIGINT,
    expires_at         BIGINT,
    used_at            BIGINT,
    session_id         TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX oauth_codes_user ON oauth_codes (user_id);
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);

-- Browser sessions: the single sign-on cookie on latch's origin, stored
-- as the SHA-256 of its value. id is public (the sid claim).
CREATE TABLE browser_sessions (
    id         TEXT    PRIMARY KEY,
    hash       BYTEA    NOT NULL UNIQUE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amr        TEXT    NOT NULL DEFAULT '',
    auth_time  BIGINT,
    created_at BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX browser_sessions_user ON browser_sessions (user_id);
