-- latch schema, version 13 (PostgreSQL); mirrors migrations/sqlite/0013_user_metadata.sql.
-- TEXT rather than JSONB: JSONB reorders keys and rewrites numbers, and
-- access tokens must carry the bytes the service stored, the same on both
-- flavours (query them with app_metadata::jsonb when needed).
ALTER TABLE users ADD COLUMN app_metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN user_metadata TEXT NOT NULL DEFAULT '{}';
