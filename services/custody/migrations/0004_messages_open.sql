-- The messages whose state is not final, counted at a scrape (metrics.ts) through this index alone:
-- the receipted and closed ones, which only grow, are never read for it. A plain CREATE INDEX, in the
-- migration's transaction: on a large messages table it holds custody's message writes while it builds
-- (a deployment with millions of messages may build it first, CONCURRENTLY and under this name). With
-- state indexed, a message's change of state is no longer a HOT update.
CREATE INDEX IF NOT EXISTS messages_open ON messages (state) WHERE state IN ('sent_to_device', 'signed', 'declined');
