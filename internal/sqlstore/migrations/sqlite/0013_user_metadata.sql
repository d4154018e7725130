-- latch schema, version 13 (SQLite): user metadata.
-- app_metadata (set by admins, copied into access tokens) and user_metadata
-- (the user's own) are JSON objects as text, in the form the service
-- stored them (auth.NormalizeMetadata): the store keeps the bytes it is
-- given, so both flavours answer, and sign, the same bytes.
ALTER TABLE users ADD COLUMN app_metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN user_metadata TEXT NOT NULL DEFAULT '{}';
