import type { Database, Sql } from '@mpay/storage';

export interface WebhookLimits {
  attemptsMax: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
  batchSizeMax: number;
  /** How long a claimed delivery is hidden from other workers. */
  leaseMs: number;
}

export const defaultWebhookLimits: WebhookLimits = {
  attemptsMax: 10,
  backoffBaseMs: 500,
  backoffMaxMs: 10 * 60_000,
  timeoutMs: 5_000,
  batchSizeMax: 32,
  leaseMs: 30_000,
};

/** Queues a signed notification in the same transaction as the state change that caused it. */
export async function enqueueWebhook(
  sql: Sql,
  delivery: { paymentId: string; url: string; body: string },
): Promise<void> {
  await sql.query('INSERT INTO webhook_deliveries (payment_id, url, body) VALUES ($1, $2, $3)', [
    delivery.paymentId,
    delivery.url,
    delivery.body,
  ]);
}

interface DueDelivery {
  id: string;
  url: string;
  body: string;
  attempts: number;
}

/** Exponential backoff with full jitter, capped. */
export function retryDelayMs(
  attempts: number,
  limits: WebhookLimits,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(limits.backoffMaxMs, limits.backoffBaseMs * 2 ** Math.min(attempts, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

async function claimDue(database: Database, limits: WebhookLimits): Promise<DueDelivery[]> {
  const { rows } = await database.query<{ id: string; url: string; body: string; attempts: number }>(
    `UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2)
     WHERE id IN (SELECT id FROM webhook_deliveries
                  WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= now()
                  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id::text AS id, url, body, attempts`,
    [limits.batchSizeMax, limits.leaseMs / 1000],
  );
  return rows;
}

async function attempt(delivery: DueDelivery, limits: WebhookLimits): Promise<string | undefined> {
  try {
    const response = await fetch(delivery.url, {
      method: 'POST',
      headers: { 'content-type': 'application/jose', 'mpay-delivery-id': delivery.id },
      body: delivery.body,
      signal: AbortSignal.timeout(limits.timeoutMs),
      redirect: 'manual',
    });
    await response.body?.cancel();
    return response.ok ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    return error instanceof Error ? error.name : 'network error';
  }
}

/** Delivers what is due once; returns how many were delivered. */
export async function deliverDueWebhooks(database: Database, limits: WebhookLimits): Promise<number> {
  let delivered = 0;
  for (const delivery of await claimDue(database, limits)) {
    const failure = await attempt(delivery, limits);
    const attempts = delivery.attempts + 1;
    if (failure === undefined) {
      delivered += 1;
      await database.query(
        'UPDATE webhook_deliveries SET delivered_at = now(), attempts = $2 WHERE id = $1',
        [delivery.id, attempts],
      );
    } else if (attempts >= limits.attemptsMax) {
      await database.query(
        'UPDATE webhook_deliveries SET abandoned_at = now(), attempts = $2, last_error = $3 WHERE id = $1',
        [delivery.id, attempts, failure],
      );
    } else {
      await database.query(
        `UPDATE webhook_deliveries SET attempts = $2, last_error = $3,
           next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1`,
        [delivery.id, attempts, failure, retryDelayMs(attempts, limits) / 1000],
      );
    }
  }
  return delivered;
}
