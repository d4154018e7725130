-- latch schema, version 4 (SQLite): emailed links against account takeover.
--
-- A confirmation link carries the hash of the password chosen in the signup
-- that sent it, so that confirming activates that password and not the one
-- of an earlier signup for the same address ('' keeps the account's).
--
-- notices records each notice mail (someone tried to sign up with your
-- address, password changed, ...) so that they can be capped per account
-- and kind: the outbox deletes a mail once it is delivered. Rows go with
-- their user and are pruned after the cap's window.

ALTER TABLE one_time_tokens ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';

CREATE TABLE notices (
    user_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL,
    sent_at INTEGER NOT NULL
) STRICT;

-- CountNotices and the cascade from users.
CREATE INDEX notices_user_kind_sent ON notices (user_id, kind, sent_at);
-- Prune.
CREATE INDEX notices_sent ON notices (sent_at);

-- PruneUnconfirmed: unconfirmed accounts by age.
CREATE INDEX users_unconfirmed_created ON users (created_at) WHERE NOT email_confirmed;
