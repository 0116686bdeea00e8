-- Who holds an outbox row's lease: the start (boot id) of the shop instance that claimed it, or
-- that queued it for its own request to do at once (enqueue's ownedForMs), as on the gateway (its
-- migration 0013). An instance that starts again under its name takes the place of its last start
-- in outbox_instances, and the rows that start held (it was killed while asking the FSP for an
-- order's payment, or handing a notification to its hook) are due again at once, not only once
-- their lease runs out. The lease still runs out for an instance that never comes back.
ALTER TABLE outbox ADD COLUMN lease_owner uuid;
CREATE TABLE outbox_instances (
  name text PRIMARY KEY,
  boot_id uuid NOT NULL UNIQUE,
  started_at timestamptz NOT NULL
);
