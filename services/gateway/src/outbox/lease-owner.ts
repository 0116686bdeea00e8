import { randomUUID } from 'node:crypto';
import type { Database } from '@mpay/storage';

/** A gateway instance's name on its database: what stays the same from one start to the next. */
export const gatewayInstanceNamePattern = /^[a-z][a-z0-9-]{0,62}$/;

/** The instance name of a gateway that is given none (the only instance of a deployment). */
export const defaultGatewayInstanceName = 'gateway';

/**
 * This start of the gateway instance `name` as the owner of the outbox rows it
 * claims (their `lease_owner`): its last start's place is taken, and the rows
 * that start still held (it was killed while delivering them) are due now,
 * instead of once their lease runs out. Two instances must never run under one
 * name: each start would take the other's rows (delivered twice then, which
 * every delivery tolerates, as after any crash). Returns the new boot id and
 * how many rows were handed back.
 */
export async function startOutboxLeases(
  database: Database,
  name: string,
  now: Date,
): Promise<{ readonly bootId: string; readonly released: number }> {
  if (!gatewayInstanceNamePattern.test(name))
    throw new RangeError(`gateway instance name ${JSON.stringify(name)}: give ${gatewayInstanceNamePattern}`);
  const bootId = randomUUID();
  const released = await database.transaction(async (sql) => {
    await sql.query(
      `INSERT INTO outbox_instances (name, boot_id, started_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET boot_id = EXCLUDED.boot_id, started_at = EXCLUDED.started_at`,
      [name, bootId, now.toISOString()],
    );
    // Rows leased to a start that is no instance's current one: that start ended without finishing them.
    const { rowCount } = await sql.query(
      `UPDATE outbox SET next_attempt_at = $1, lease_owner = NULL
       WHERE delivered_at IS NULL AND abandoned_at IS NULL AND lease_owner IS NOT NULL
         AND next_attempt_at > $1
         AND NOT EXISTS (SELECT 1 FROM outbox_instances i WHERE i.boot_id = outbox.lease_owner)`,
      [now.toISOString()],
    );
    return rowCount;
  });
  return { bootId, released };
}
