import { createServer, type Server } from 'node:http';
import { type Database, migrate, openTestDatabase, readMigrations } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayMigrationsFolder } from '../service.ts';
import {
  defaultWebhookLimits,
  deliverDueWebhooks,
  enqueueWebhook,
  retryDelayMs,
  type WebhookLimits,
} from './outbox.ts';

/** A merchant endpoint that fails the first `failures` deliveries, then accepts. */
function flakyReceiver(failures: number): { server: Server; received: string[] } {
  const received: string[] = [];
  let calls = 0;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      calls += 1;
      if (calls <= failures) {
        response.writeHead(503).end();
        return;
      }
      received.push(body);
      response.writeHead(200).end('{}');
    });
  });
  return { server, received };
}

describe('webhook outbox', () => {
  let database: Database;
  const limits: WebhookLimits = {
    ...defaultWebhookLimits,
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    attemptsMax: 4,
  };

  beforeAll(async () => {
    database = await openTestDatabase('webhooks');
    await migrate(database, await readMigrations(gatewayMigrationsFolder));
    await database.query(
      `INSERT INTO parties (id, kind, display_name) VALUES ('a@person.xbank', 'person', 'A'), ('m@merchant.xbank', 'merchant', 'M')`,
    );
    for (const id of ['p1', 'p2']) {
      await database.query(
        `INSERT INTO payments (id, merchant_id, customer_id, procedure, currency, amount_minor, security_level, state, message, expires_at)
         VALUES ($1, 'm@merchant.xbank', 'a@person.xbank', 'm-commerce', 'EUR', 100, 'small', 'funds_transferred', '{}', now())`,
        [id],
      );
    }
  });
  afterAll(() => database.close());

  async function until(condition: () => Promise<boolean>): Promise<void> {
    for (let round = 0; round < 50 && !(await condition()); round += 1) {
      await deliverDueWebhooks(database, limits);
      await new Promise((done) => setTimeout(done, 20));
    }
  }

  it('retries a failing merchant endpoint until it accepts, and delivers exactly once', async () => {
    const { server, received } = flakyReceiver(2);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    await enqueueWebhook(database, {
      paymentId: 'p1',
      url: `http://127.0.0.1:${port}/hook`,
      body: 'signed-body',
    });
    await until(async () => received.length > 0);
    await deliverDueWebhooks(database, limits);
    server.close();
    expect(received).toEqual(['signed-body']);
    const { rows } = await database.query<{ attempts: number; delivered: boolean }>(
      `SELECT attempts, delivered_at IS NOT NULL AS delivered FROM webhook_deliveries WHERE payment_id = 'p1'`,
    );
    expect(rows).toEqual([{ attempts: 3, delivered: true }]);
  });

  it('gives up after attemptsMax and records why', async () => {
    await enqueueWebhook(database, { paymentId: 'p2', url: 'http://127.0.0.1:1/unreachable', body: 'x' });
    const abandoned = async () =>
      (
        await database.query(
          `SELECT 1 FROM webhook_deliveries WHERE payment_id = 'p2' AND abandoned_at IS NOT NULL`,
        )
      ).rowCount === 1;
    await until(abandoned);
    const { rows } = await database.query<{ attempts: number; last_error: string }>(
      `SELECT attempts, last_error FROM webhook_deliveries WHERE payment_id = 'p2'`,
    );
    expect(rows[0]!.attempts).toBe(limits.attemptsMax);
    expect(rows[0]!.last_error).toBeTruthy();
  });

  it('backs off exponentially with jitter, capped', () => {
    const capped = { ...defaultWebhookLimits, backoffBaseMs: 100, backoffMaxMs: 1_000 };
    expect(retryDelayMs(1, capped, () => 0)).toBe(100);
    expect(retryDelayMs(1, capped, () => 1)).toBe(200);
    expect(retryDelayMs(20, capped, () => 1)).toBe(1_000);
  });
});
