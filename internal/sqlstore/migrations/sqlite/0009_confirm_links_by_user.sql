-- latch schema, version 9 (SQLite): one-time tokens by kind, then user.
-- Pruning unconfirmed accounts walks the confirmation links in user order,
-- a batch at a time, instead of every unconfirmed account (imported ones
-- included, which were never sent a link): its work grows with recent
-- signups, not with the size of the users table.
CREATE INDEX one_time_tokens_kind_user ON one_time_tokens (kind, user_id);
