import { createMetricsRegistry, parsePrometheusText } from '@mpay/http-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxKinds } from '../outbox/backlog.ts';
import {
  addBank,
  addMerchant,
  createPayment,
  enrolCustomer,
  openTestGateway,
  type TestCustomer,
  type TestGateway,
  type TestMerchant,
} from '../test-helpers.ts';
import {
  createPaymentStatistics,
  observeDeliveredAfterCommit,
  paymentStepBucketsSeconds,
  readPaymentsInFlight,
} from './statistics.ts';
import { applyEventIn } from './transition.ts';

async function samplesOf(
  exposition: Promise<string>,
): Promise<(name: string, labels: Record<string, string>) => number | undefined> {
  const samples = parsePrometheusText(await exposition);
  return (name, labels) =>
    samples.find(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
    )?.value;
}

describe('payment statistics (observed as their steps commit, in this process)', () => {
  let gateway: TestGateway;
  let shop: TestMerchant;
  let ann: TestCustomer;

  beforeAll(async () => {
    gateway = await openTestGateway();
    const xbank = await addBank(gateway.database, 'xbank');
    const ybank = await addBank(gateway.database, 'ybank');
    shop = await addMerchant(gateway.database, ybank, 'shop');
    ann = await enrolCustomer(gateway.database, xbank, 'ann');
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('lists every state, step and outbox at zero before anything happened', async () => {
    const registry = createMetricsRegistry();
    createPaymentStatistics(registry, outboxKinds);
    const value = await samplesOf(registry.expose());
    expect(value('mpay_gateway_payments_total', { state: 'funds_transferred', status: 'completed' })).toBe(0);
    expect(value('mpay_gateway_payment_duration_seconds_count', { state: 'customer_declined' })).toBe(0);
    expect(
      value('mpay_gateway_payment_step_duration_seconds_count', {
        from_state: 'customer_signature_verified',
        to_state: 'funds_transferred',
      }),
    ).toBe(0);
    expect(
      value('mpay_gateway_outbox_delivery_duration_seconds_count', { outbox: 'outbox/macro_mail' }),
    ).toBe(0);
  });

  it('counts a step once its transaction committed, and nothing of one that rolled back', async () => {
    const before = await samplesOf(gateway.metrics.expose());
    const reachedBefore = before('mpay_gateway_payments_total', { state: 'request_expired' }) ?? 0;
    const requestsBefore = before('mpay_gateway_payments_total', { state: 'merchant_request_verified' }) ?? 0;
    const start = gateway.now();
    const id = await createPayment(gateway, {
      merchant: shop,
      customer: ann,
      stage: 'requested',
      at: start,
      expiresAt: new Date(start.getTime() + 40_000),
    });
    const expiredAt = new Date(start.getTime() + 42_000);
    await expect(
      gateway.database.transaction(async (sql) => {
        await applyEventIn(gateway.context, sql, id, { event: 'expiry_due' }, expiredAt);
        throw new Error('rolled back after the step');
      }),
    ).rejects.toThrow('rolled back after the step');
    const rolledBack = await samplesOf(gateway.metrics.expose());
    expect(rolledBack('mpay_gateway_payments_total', { state: 'merchant_request_verified' })).toBe(
      requestsBefore + 1,
    );
    expect(rolledBack('mpay_gateway_payments_total', { state: 'request_expired' })).toBe(reachedBefore);
    await gateway.database.transaction((sql) =>
      applyEventIn(gateway.context, sql, id, { event: 'expiry_due' }, expiredAt),
    );
    const after = await samplesOf(gateway.metrics.expose());
    expect(after('mpay_gateway_payments_total', { state: 'request_expired' })).toBe(reachedBefore + 1);
    const step = { from_state: 'merchant_request_verified', to_state: 'request_expired' };
    expect(after('mpay_gateway_payment_step_duration_seconds_count', step)).toBe(1);
    expect(after('mpay_gateway_payment_step_duration_seconds_sum', step)).toBe(42);
    expect(after('mpay_gateway_payment_step_duration_seconds_bucket', { ...step, le: '30' })).toBe(0);
    expect(after('mpay_gateway_payment_step_duration_seconds_bucket', { ...step, le: '60' })).toBe(1);
    expect(
      after('mpay_gateway_payment_duration_seconds_sum', { state: 'request_expired' }),
    ).toBeGreaterThanOrEqual(42);
  });

  it('counts each delivered row once, never a negative duration, and none for a rollback', async () => {
    const registry = createMetricsRegistry();
    const observations = createPaymentStatistics(registry, outboxKinds);
    const queued = new Date('2026-12-08T10:00:00Z');
    const rows = [
      { kind: 'webhook', created_at: queued },
      { kind: 'webhook', created_at: queued.toISOString() },
      // A clock that stepped back between the two readings: counted as no wait at all.
      { kind: 'bank_order', created_at: new Date(queued.getTime() + 5_000) },
    ];
    await expect(
      gateway.database.transaction(async (sql) => {
        observeDeliveredAfterCommit(sql, observations, rows, new Date(queued.getTime() + 80));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await gateway.database.transaction(async (sql) => {
      observeDeliveredAfterCommit(sql, observations, rows, new Date(queued.getTime() + 80));
    });
    const value = await samplesOf(registry.expose());
    const webhook = { outbox: 'outbox/webhook' };
    expect(value('mpay_gateway_outbox_delivery_duration_seconds_count', webhook)).toBe(2);
    expect(value('mpay_gateway_outbox_delivery_duration_seconds_sum', webhook)).toBeCloseTo(0.16, 9);
    expect(value('mpay_gateway_outbox_delivery_duration_seconds_bucket', { ...webhook, le: '0.05' })).toBe(0);
    expect(value('mpay_gateway_outbox_delivery_duration_seconds_bucket', { ...webhook, le: '0.1' })).toBe(2);
    const order = { outbox: 'outbox/bank_order' };
    expect(value('mpay_gateway_outbox_delivery_duration_seconds_sum', order)).toBe(0);
    expect(
      value('mpay_gateway_outbox_delivery_duration_seconds_bucket', {
        ...order,
        le: String(paymentStepBucketsSeconds[0]),
      }),
    ).toBe(1);
  });

  it('reads the payments in flight by state, every state that is not final listed', async () => {
    const counts = await readPaymentsInFlight(gateway.database);
    expect([...counts.keys()]).toEqual([
      'merchant_request_verified',
      'awaiting_customer_signature',
      'customer_signature_verified',
    ]);
    const { rows } = await gateway.database.query<{ state: string; count: string }>(
      'SELECT state, count(*)::text AS count FROM payments GROUP BY state',
    );
    for (const [state, count] of counts)
      expect(count).toBe(Number(rows.find((row) => row.state === state)?.count ?? 0));
  });
});
