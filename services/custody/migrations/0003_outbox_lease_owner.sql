-- Who holds an outbox row's lease: the start (boot id) of the custody instance that claimed it,
-- as on the gateway (its migration 0013). An instance that starts again under its name takes the
-- place of its last start in outbox_instances, and the rows that start had claimed (it was killed
-- while sending a customer's signed message to the FSP) are due again at once, not only once their
-- lease runs out (outboxLeaseMs, 30 s). The lease still runs out for an instance that never comes back.
ALTER TABLE outbox ADD COLUMN lease_owner uuid;
CREATE TABLE outbox_instances (
  name text PRIMARY KEY,
  boot_id uuid NOT NULL UNIQUE,
  started_at timestamptz NOT NULL
);
