-- latch schema, version 15 (SQLite): a confidential client's secret can be
-- rotated with an overlap. The secret it replaced stays accepted until
-- previous_secret_until (its SHA-256 in previous_secret_hash), so that the
-- app can be redeployed with the new one without refused requests; both
-- are NULL when there is none.
ALTER TABLE oauth_clients ADD COLUMN previous_secret_hash BLOB;
ALTER TABLE oauth_clients ADD COLUMN previous_secret_until INTEGER;
