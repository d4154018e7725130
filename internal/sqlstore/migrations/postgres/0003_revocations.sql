-- latch schema, version 3 (PostgreSQL); mirrors migrations/sqlite/0003_revocations.sql:
-- what the revocation feed (GET /v1/revocations) reads.
--
-- The feed lists, for the last access-token lifetime, the sessions that
-- ended (sessions.revoked_at), the user-wide cut-offs (users.
-- tokens_valid_after) and the accounts that were deleted. A deleted user's
-- sessions go with the user (ON DELETE CASCADE), so the deletion leaves a
-- tombstone, written by a trigger so that every way of deleting a user
-- (DELETE /v1/me, the admin API) records it. Its time is the database's
-- clock in unix microseconds, like every other time column.

-- RevokedSessionsSince.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- UserCutoffsSince.
CREATE INDEX users_tokens_valid_after ON users (tokens_valid_after) WHERE tokens_valid_after IS NOT NULL;

CREATE TABLE user_tombstones (
    user_id    TEXT   PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);

CREATE INDEX user_tombstones_deleted_at ON user_tombstones (deleted_at);

CREATE FUNCTION users_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_tombstones (user_id, deleted_at)
    VALUES (OLD.id, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT)
    ON CONFLICT (user_id) DO UPDATE SET deleted_at = excluded.deleted_at;
    RETURN OLD;
END;
$$;

CREATE TRIGGER users_tombstone AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_tombstone();
