import { randomUUID } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import type { Database, Sql } from './database.ts';

/**
 * Who holds an outbox row's lease, for the services whose outbox leases the
 * rows it claims (the gateway, custody, the merchant shop): each keeps in its
 * own schema a table `outbox` with `next_attempt_at`, `delivered_at` and
 * `lease_owner uuid`, and a table `outbox_instances (name PRIMARY KEY,
 * boot_id UNIQUE, started_at)`. A claim leases a row by moving its next
 * attempt `outboxLeaseMs` ahead and stamps this start's boot id on it, but
 * only while that boot id is still registered:
 * `lease_owner = (SELECT boot_id FROM outbox_instances WHERE boot_id = $n::uuid)`.
 * Giving a row back (a failure, a deferral, an abandon) clears the owner only
 * when it is this start's: `lease_owner = NULLIF(lease_owner, $n::uuid)`.
 */

/** An instance's name on its database: what stays the same from one start to the next. */
export const outboxInstanceNamePattern = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * This start of the instance `name` as the owner of the outbox rows it
 * claims (their `lease_owner`): it takes its last start's place, and the rows
 * that start still held (it was killed while delivering them) are due now,
 * instead of once their lease runs out. Rows of other instances are not
 * touched, and a start whose place was taken stamps no owner on what it claims
 * afterwards, so its rows keep their lease. Two instances must never run
 * under one name: each start would take the other's rows (delivered twice
 * then, which every delivery tolerates, as after any crash). Returns the new
 * boot id and how many rows were handed back.
 */
export async function startOutboxLeases(
  database: Database,
  name: string,
  now: Date,
  options: {
    /**
     * Leases of the service's own tables besides `outbox` (the gateway's macro exchanges), given back in the
     * same transaction: what the last start (`previousBootId`) held is due at `now`. Returns how many.
     */
    readonly alsoRelease?: (sql: Sql, previousBootId: string, now: Date) => Promise<number>;
  } = {},
): Promise<{ readonly bootId: string; readonly released: number }> {
  if (!outboxInstanceNamePattern.test(name))
    throw new MpayError(
      'CONFIGURATION_INVALID',
      `instance name ${JSON.stringify(name)}: give 1-63 of a-z, 0-9 and -, starting with a letter`,
    );
  const bootId = randomUUID();
  const released = await database.transaction(async (sql) => {
    // Locked until this start is registered: two starts under one name take turns.
    const { rows } = await sql.query<{ boot_id: string }>(
      'SELECT boot_id::text AS boot_id FROM outbox_instances WHERE name = $1 FOR UPDATE',
      [name],
    );
    await sql.query(
      `INSERT INTO outbox_instances (name, boot_id, started_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET boot_id = EXCLUDED.boot_id, started_at = EXCLUDED.started_at`,
      [name, bootId, now.toISOString()],
    );
    const previous = rows[0]?.boot_id;
    if (previous === undefined) return 0;
    // The rows the last start of this instance held: it ended without finishing them.
    const { rowCount } = await sql.query(
      `UPDATE outbox SET next_attempt_at = $1, lease_owner = NULL
       WHERE delivered_at IS NULL AND lease_owner = $2 AND next_attempt_at > $1`,
      [now.toISOString(), previous],
    );
    return rowCount + ((await options.alsoRelease?.(sql, previous, now)) ?? 0);
  });
  return { bootId, released };
}
