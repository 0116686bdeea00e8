import { parsePrometheusText, prometheusContentType } from '@mpay/http-server';
import { statementTexts, traceStatementTexts } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvent } from '../payments/transition.ts';
import { createGatewayService, type GatewayService } from '../service.ts';
import {
  addBank,
  addMerchant,
  createPayment,
  enrolCustomer,
  openTestGateway,
  type TestGateway,
} from '../test-helpers.ts';

/**
 * The operator's views over real HTTP: GET /admin/payments (pages, filters,
 * counts), GET /admin/payments/:id (the protocol steps), GET /admin/outboxes
 * and GET /metrics, each behind the operator's bearer token.
 */
const operatorToken = 'operator-token-for-the-admin-views-test';
let gateway: TestGateway;
let service: GatewayService;
let url: string;
const ids: Record<'requested' | 'awaiting' | 'authorised' | 'expired', string> = {
  requested: '',
  awaiting: '',
  authorised: '',
  expired: '',
};

const at = (start: Date, seconds: number) => new Date(start.getTime() + seconds * 1000);

/** GET with the operator's token, another one, or none (null). */
async function get(path: string, token: string | null = operatorToken) {
  const response = await fetch(`${url}${path}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    type,
    text,
    // biome-ignore lint/suspicious/noExplicitAny: test reads JSON answers field by field
    json: (type.includes('json') ? JSON.parse(text) : undefined) as any,
  };
}

beforeAll(async () => {
  gateway = await openTestGateway();
  service = await createGatewayService({
    database: gateway.database,
    fsp: gateway.fsp,
    operatorToken,
    clock: () => gateway.now(),
    backgroundIntervalMs: 3_600_000,
  });
  url = await service.listen();
  const xbank = await addBank(gateway.database, 'xbank');
  const ybank = await addBank(gateway.database, 'ybank');
  const shop = await addMerchant(gateway.database, ybank, 'shop');
  const ann = await enrolCustomer(gateway.database, xbank, 'ann');
  const start = gateway.now();
  const payment = (stage: 'requested' | 'awaiting' | 'authorised', seconds: number, expirySeconds = 300) =>
    createPayment(gateway, {
      merchant: shop,
      customer: ann,
      stage,
      at: at(start, seconds),
      expiresAt: at(start, seconds + expirySeconds),
    });
  ids.requested = await payment('requested', 0);
  ids.awaiting = await payment('awaiting', 1);
  ids.authorised = await payment('authorised', 2);
  ids.expired = await payment('awaiting', 3, 90);
  // Nobody answered the last one: it expires 90 s after the merchant asked.
  gateway.setNow(at(start, 93));
  await applyEvent(gateway.context, ids.expired, {
    event: 'expiry_due',
    changes: { detail: 'no answer from the customer in time' },
  });
});

afterAll(async () => {
  await service?.close();
  await gateway?.close();
});

describe('the operator views of the gateway', () => {
  it('answer 401 AUTHENTICATION_FAILED without the operator token, or with another', async () => {
    for (const path of [
      '/admin/payments',
      `/admin/payments/${ids.requested}`,
      '/admin/outboxes',
      '/metrics',
    ]) {
      for (const token of [null, 'operator-token-for-the-admin-views-tesT', 'short']) {
        const answer = await get(path, token);
        expect(answer.status, `${path} ${token}`).toBe(401);
        expect(answer.json.error.code).toBe('AUTHENTICATION_FAILED');
      }
    }
  });

  it('list payments newest first, a page at a time, with counts by state and status', async () => {
    const first = await get('/admin/payments?limit=3');
    expect(first.status).toBe(200);
    expect(first.json.payments.map((payment: { id: string }) => payment.id)).toEqual([
      ids.expired,
      ids.authorised,
      ids.awaiting,
    ]);
    expect(first.json.payments[0]).toMatchObject({
      state: 'request_expired',
      status: 'expired',
      amount: { currency: 'EUR', minor: '1250' },
      merchant: { id: 'shop@merchant.ybank', displayName: 'shop' },
      customer: { id: 'ann@person.xbank' },
    });
    expect(first.json.counts.byStatus).toMatchObject({
      requested: 1,
      awaiting_customer: 1,
      authorised: 1,
      expired: 1,
      completed: 0,
    });
    expect(first.json.counts.byState.customer_signature_verified).toBe(1);
    const second = await get(`/admin/payments?limit=3&after=${first.json.next}`);
    expect(second.json.payments.map((payment: { id: string }) => payment.id)).toEqual([ids.requested]);
    expect(second.json.next).toBeNull();
  });

  it('filter by public status or by internal state', async () => {
    const expired = await get('/admin/payments?status=expired');
    expect(expired.json.payments.map((payment: { id: string }) => payment.id)).toEqual([ids.expired]);
    const waiting = await get('/admin/payments?state=awaiting_customer_signature');
    expect(waiting.json.payments.map((payment: { id: string }) => payment.id)).toEqual([ids.awaiting]);
    expect((await get('/admin/payments?status=completed')).json.payments).toEqual([]);
  });

  it('refuse a bad filter, page size or cursor with REQUEST_INVALID', async () => {
    for (const query of [
      'status=paid',
      'state=completed',
      'status=expired&state=request_expired',
      'limit=0',
      'limit=101',
      'limit=ten',
      'after=not*base64',
      `after=${Buffer.from('yesterday x').toString('base64url')}`,
      `after=${'A'.repeat(200)}`,
    ]) {
      const answer = await get(`/admin/payments?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.json.error.code).toBe('REQUEST_INVALID');
    }
  });

  it("show one payment's protocol steps, its effects and its log entry", async () => {
    const answer = await get(`/admin/payments/${ids.expired}`);
    expect(answer.status).toBe(200);
    expect(answer.json.payment).toMatchObject({ id: ids.expired, state: 'request_expired' });
    expect(
      answer.json.steps.map(
        (step: { from: string | null; to: string; event: string | null; step: string }) => [
          step.from,
          step.to,
          step.event,
          step.step,
        ],
      ),
    ).toEqual([
      [null, 'merchant_request_verified', null, 'iMS §5 step 1'],
      ['merchant_request_verified', 'awaiting_customer_signature', 'countersigned', 'iMS §5 steps 1–2'],
      ['awaiting_customer_signature', 'request_expired', 'expiry_due', 'expiry'],
    ]);
    expect(answer.json.steps[2]).toMatchObject({
      status: 'expired',
      detail: 'no answer from the customer in time',
    });
    expect(answer.json.effects.map((effect: { kind: string }) => effect.kind)).toContain('device_push');
    expect(answer.json.effects.every((effect: { state: string }) => effect.state === 'pending')).toBe(true);
    const unknown = await get('/admin/payments/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('PAYMENT_UNKNOWN');
    expect((await get('/admin/payments/not-a-payment')).json.error.code).toBe('PAYMENT_UNKNOWN');
  });

  it('report each outbox: what waits and how old the oldest is', async () => {
    const answer = await get('/admin/outboxes');
    expect(answer.status).toBe(200);
    const pushes = answer.json.outboxes.find(
      (outbox: { name: string }) => outbox.name === 'outbox/device_push',
    );
    // Three requests pushed to the device (at 1, 2 and 3 s) and the expiry told to it (at 93 s); none delivered.
    expect(pushes).toEqual({
      name: 'outbox/device_push',
      pending: 4,
      retrying: 0,
      abandoned: 0,
      oldestPendingAgeSeconds: 92,
    });
    const webhooks = answer.json.outboxes.find(
      (outbox: { name: string }) => outbox.name === 'outbox/webhook',
    );
    expect(webhooks).toMatchObject({ pending: 0, oldestPendingAgeSeconds: null });
    const orders = answer.json.outboxes.find(
      (outbox: { name: string }) => outbox.name === 'outbox/bank_order',
    );
    expect(orders).toMatchObject({ pending: 1, oldestPendingAgeSeconds: 91 });
  });

  it('export payments by state, the request → final state latency and the outbox depths as Prometheus text', async () => {
    traceStatementTexts(true);
    let texts: string[] = [];
    const answer = await get('/metrics').finally(() => {
      texts = Object.keys(statementTexts()[gateway.database.schema] ?? {});
      traceStatementTexts(false);
    });
    // What a scrape reads: what is in flight or waiting, through indexes, never the history (the events,
    // the payments that ended, the delivered effects).
    expect(texts.length).toBeGreaterThan(0);
    for (const text of texts) {
      expect(text).not.toMatch(/payment_events|delivered_at IS NOT NULL/);
      if (/\bFROM payments\b/.test(text)) expect(text).toMatch(/WHERE state = ANY\(\$1::text\[\]\) GROUP/);
      if (/\bFROM outbox\b/.test(text)) expect(text).toMatch(/delivered_at IS NULL/);
    }
    expect(answer.status).toBe(200);
    expect(answer.type).toBe(prometheusContentType);
    const valueIn = (text: string) => {
      const samples = parsePrometheusText(text);
      return (name: string, labels: Record<string, string>) =>
        samples.find(
          (sample) =>
            sample.name === name &&
            Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
        )?.value;
    };
    // The service's own counts: its process made no step (the payments were made through the test's
    // context), so what it observes is listed at zero; what it reads from the tables is all there.
    const served = valueIn(answer.text);
    expect(served('mpay_gateway_payments_total', { state: 'merchant_request_verified' })).toBe(0);
    expect(served('mpay_gateway_payment_duration_seconds_count', { state: 'request_expired' })).toBe(0);
    expect(
      served('mpay_gateway_payment_step_duration_seconds_count', {
        from_state: 'awaiting_customer_signature',
        to_state: 'request_expired',
      }),
    ).toBe(0);
    expect(served('mpay_gateway_outbox_delivery_duration_seconds_count', { outbox: 'outbox/webhook' })).toBe(
      0,
    );
    expect(served('mpay_gateway_payments', { state: 'awaiting_customer_signature' })).toBe(1);
    expect(served('mpay_gateway_payments', { state: 'merchant_request_verified' })).toBe(1);
    expect(served('mpay_gateway_payments', { state: 'customer_signature_verified' })).toBe(1);
    // Final states are not read from the table at a scrape (their totals are the counter's).
    expect(served('mpay_gateway_payments', { state: 'request_expired' })).toBeUndefined();
    // What the test's context counted as its steps committed: three requests countersigned, one signed.
    const value = valueIn(await gateway.metrics.expose());
    expect(value('mpay_gateway_payments_total', { state: 'merchant_request_verified' })).toBe(4);
    expect(value('mpay_gateway_payments_total', { state: 'awaiting_customer_signature' })).toBe(3);
    expect(value('mpay_gateway_payments_total', { state: 'request_expired', status: 'expired' })).toBe(1);
    expect(value('mpay_gateway_payments_total', { state: 'funds_transferred' })).toBe(0);
    expect(value('mpay_gateway_payments_total', { state: 'customer_signature_verified' })).toBe(1);
    const expiredStep = { from_state: 'awaiting_customer_signature', to_state: 'request_expired' };
    expect(value('mpay_gateway_payment_step_duration_seconds_count', expiredStep)).toBe(1);
    expect(value('mpay_gateway_payment_step_duration_seconds_sum', expiredStep)).toBe(90);
    const expiredLatency = { state: 'request_expired' };
    expect(value('mpay_gateway_payment_duration_seconds_count', expiredLatency)).toBe(1);
    expect(value('mpay_gateway_payment_duration_seconds_sum', expiredLatency)).toBe(90);
    expect(value('mpay_gateway_payment_duration_seconds_bucket', { ...expiredLatency, le: '60' })).toBe(0);
    expect(value('mpay_gateway_payment_duration_seconds_bucket', { ...expiredLatency, le: '120' })).toBe(1);
    expect(value('mpay_gateway_payment_duration_seconds_bucket', { ...expiredLatency, le: '+Inf' })).toBe(1);
    expect(served('mpay_gateway_outbox_pending', { outbox: 'outbox/device_push' })).toBe(4);
    expect(served('mpay_gateway_outbox_oldest_pending_age_seconds', { outbox: 'outbox/device_push' })).toBe(
      92,
    );
    expect(served('mpay_gateway_outbox_oldest_pending_age_seconds', { outbox: 'outbox/webhook' })).toBe(0);
    expect(served('mpay_gateway_log_checkpoint_refusals', {})).toBe(0);
    // This gateway has no log line (its rounds deliver log entries themselves): nothing waits, nothing left.
    expect(served('mpay_gateway_log_line_waiting', {})).toBe(0);
    expect(served('mpay_gateway_log_line_left_total', {})).toBe(0);
    expect(served('mpay_gateway_receipt_cancellations_waiting', {})).toBe(0);
    expect(served('mpay_gateway_receipt_cancellations_dropped_total', {})).toBe(0);
  });

  it('raise the log checkpoint alarm while an entry waits on a checkpoint that did not extend the one held', async () => {
    const refused = async () =>
      parsePrometheusText((await get('/metrics')).text).find(
        (sample) => sample.name === 'mpay_gateway_log_checkpoint_refusals',
      )?.value;
    // As markFailed leaves a log entry the follower refused (not due again for a long while here).
    const notDue = '2100-01-01T00:00:00Z';
    const { rows } = await gateway.database.query<{ id: string }>(
      `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at, attempts, last_error)
       VALUES ($1, 'log_entry', '{}', $2, $2, 1, 'CHECKPOINT_FORK') RETURNING id::text AS id`,
      [ids.authorised, notDue],
    );
    expect(await refused()).toBe(1);
    await gateway.database.query('UPDATE outbox SET abandoned_at = $2 WHERE id = $1', [rows[0]?.id, notDue]);
    expect(await refused()).toBe(0);
  });
});
