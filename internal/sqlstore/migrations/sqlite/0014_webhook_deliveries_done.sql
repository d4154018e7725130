-- latch schema, version 14 (SQLite): the prune of finished webhook deliveries
-- walks an index of their end instead of the whole table.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at) WHERE state <> 'pending';
