-- The messages whose state is not final, counted at a scrape (metrics.ts) through this index alone:
-- the receipted and closed ones, which only grow, are never read for it.
CREATE INDEX messages_open ON messages (state) WHERE state IN ('sent_to_device', 'signed', 'declined');
