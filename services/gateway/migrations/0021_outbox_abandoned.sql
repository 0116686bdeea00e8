-- The outbox's backlog at a scrape (outbox/backlog.ts) read through indexes alone: what waits through
-- outbox_due, what was given up through this one. Delivered rows, which only grow, are never read.
-- Rows enter it only when abandoned (a failure), so writing a row or marking it delivered adds nothing here.
-- A plain CREATE INDEX, in the migration's transaction: on a large outbox it holds the outbox's writes
-- (and so new payments) while it builds; a deployment with millions of rows may build it first,
-- CONCURRENTLY and under this name, before the upgrade.
CREATE INDEX IF NOT EXISTS outbox_abandoned ON outbox (kind) WHERE abandoned_at IS NOT NULL AND delivered_at IS NULL;
