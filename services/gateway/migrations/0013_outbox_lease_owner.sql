-- Who holds an outbox row's lease: the start (boot id) of the gateway instance that claimed it.
-- An instance that starts again under its name takes the place of its last start here, and
-- the rows that start had claimed (it was killed while delivering them) are due again at once,
-- not only once their lease runs out (outboxLeaseMs, 30 s): a payment whose bank order was
-- being sent when the gateway crashed no longer stands still for half a minute after its restart.
-- The lease still runs out for an instance that never comes back.
ALTER TABLE outbox ADD COLUMN lease_owner uuid;
CREATE TABLE outbox_instances (
  name text PRIMARY KEY,
  boot_id uuid NOT NULL UNIQUE,
  started_at timestamptz NOT NULL
);
