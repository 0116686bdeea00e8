-- The outbox's backlog at a scrape (outbox/backlog.ts) read through indexes alone: what waits through
-- outbox_due, what was given up through this one. Delivered rows, which only grow, are never read.
-- Rows enter it only when abandoned (a failure), so writing a row or marking it delivered adds nothing here.
CREATE INDEX outbox_abandoned ON outbox (kind) WHERE abandoned_at IS NOT NULL;
