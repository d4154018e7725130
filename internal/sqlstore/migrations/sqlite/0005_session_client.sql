-- latch schema, version 5 (SQLite): the OAuth client a session was started
-- through. Its refresh token refreshes, and its tokens are revoked, only
-- through that client (RFC 6749 §6, RFC 7009 §2.1). '' is no client (the
-- JSON API, or an OAuth request naming none): such sessions, and every
-- session from before this version, stay usable as before.
ALTER TABLE sessions ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
-- 1 when the client authenticated with its secret: then refreshing needs
-- that client authenticated, not merely its id.
ALTER TABLE sessions ADD COLUMN client_confidential INTEGER NOT NULL DEFAULT 0;
