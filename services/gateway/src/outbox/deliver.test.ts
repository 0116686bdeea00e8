import { signPayload, verifyPayload } from '@mpay/envelope';
import { startOutboxLeases, statementTexts, traceStatementTexts } from '@mpay/storage';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { enqueueLogEntry } from '../log/outbox.ts';
import { findPayment, type OutboxLease, type OutboxRow } from '../payments/store.ts';
import { applyEvent, applyEventIn } from '../payments/transition.ts';
import {
  addBank,
  addMerchant,
  closedPortUrl,
  createPayment,
  enrolCustomer,
  type HttpStub,
  type OutboxRecord,
  openTestGateway,
  outboxOf,
  paymentsToLog,
  type RecordedRequest,
  startHttpStub,
  type TestBank,
  type TestCustomer,
  type TestGateway,
  type TestMerchant,
} from '../test-helpers.ts';
import { deliverLeasedRows, deliverLogRows, outboxLeaseOf, runOutboxRound } from './deliver.ts';
import { LogLine } from './log-line.ts';

describe('the outbox', () => {
  const limits = {
    outboxAttemptsMax: 3,
    outboxBackoffBaseMs: 100,
    outboxBackoffMaxMs: 1_000,
    outboxLeaseMs: 5_000,
    webhookTimeoutMs: 2_000,
    bankTimeoutMs: 2_000,
  };
  let gateway: TestGateway;
  let hook: HttpStub;
  let bankStub: HttpStub;
  let xbank: TestBank;
  let shop: TestMerchant;
  let ann: TestCustomer;

  beforeAll(async () => {
    gateway = await openTestGateway({ limits });
    hook = await startHttpStub(() => ({ status: 204 }));
    bankStub = await startHttpStub(() => ({ status: 503, json: { error: { code: 'SERVICE_UNAVAILABLE' } } }));
    xbank = await addBank(gateway.database, 'xbank', bankStub.url);
    const ybank = await addBank(gateway.database, 'ybank');
    shop = await addMerchant(gateway.database, ybank, 'shop', `${hook.url}/hooks/mpay`);
    ann = await enrolCustomer(gateway.database, xbank, 'ann');
  });
  afterAll(async () => {
    await hook.close();
    await bankStub.close();
    await gateway.close();
  });
  beforeEach(async () => {
    await gateway.database.query('DELETE FROM outbox');
    hook.requests.length = 0;
    bankStub.requests.length = 0;
    hook.answer = () => ({ status: 204 });
  });

  /** A cancelled payment's webhook row (iMS step 9's notification), with every other effect already delivered. */
  async function webhookRow(): Promise<OutboxRecord> {
    const id = await createPayment(gateway, { merchant: shop, customer: ann });
    await applyEvent(gateway.context, id, { event: 'merchant_cancelled' });
    await gateway.database.query(
      "UPDATE outbox SET delivered_at = next_attempt_at WHERE payment_id = $1 AND kind <> 'webhook'",
      [id],
    );
    const rows = await outboxOf(gateway.database, id, 'webhook');
    expect(rows).toHaveLength(1);
    return rows[0] as OutboxRecord;
  }

  async function rowNow(row: OutboxRecord): Promise<OutboxRecord> {
    const found = (await outboxOf(gateway.database, row.paymentId)).find(
      (candidate) => candidate.id === row.id,
    );
    if (found === undefined) throw new Error(`outbox row ${row.id} is gone`);
    return found;
  }

  async function until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('the condition never held');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it('delivers the rows a step leased at its commit without a claim, and leaves one whose lease ran out to the rounds', async () => {
    const leases: OutboxLease[] = [];
    const leasing = {
      ...gateway.context,
      leasedDelivery: { accepts: () => true, deliver: (lease: OutboxLease) => void leases.push(lease) },
    };
    /** A cancelled payment's webhook, leased as the cancellation wrote it, with the lease's end. */
    async function leasedWebhook(): Promise<{ id: string; row: OutboxRow; until: Date }> {
      const id = await createPayment(gateway, { merchant: shop, customer: ann });
      const before = leases.length;
      await applyEvent(leasing, id, { event: 'merchant_cancelled' });
      expect(leases).toHaveLength(before + 1);
      const lease = leases[before] as OutboxLease;
      const row = lease.rows.find((candidate) => candidate.kind === 'webhook');
      if (row === undefined) throw new Error('assertion failed: the webhook was leased');
      return { id, row, until: lease.until };
    }
    const leased = await leasedWebhook();
    // Leased: no round takes it while the lease holds (the round finds only the payment request's push).
    await runOutboxRound(gateway.context);
    expect(hook.requests).toHaveLength(0);
    expect((await outboxOf(gateway.database, leased.id, 'webhook'))[0]?.attempts).toBe(0);
    await deliverLeasedRows(leasing, [leased]);
    expect(hook.requests).toHaveLength(1);
    expect((await outboxOf(gateway.database, leased.id, 'webhook'))[0]?.deliveredAt).not.toBeNull();

    // Another: its lease has run out by the time its turn comes (another worker may hold it now).
    const late = await leasedWebhook();
    gateway.advanceMs(limits.outboxLeaseMs);
    await deliverLeasedRows(leasing, [late]);
    expect(hook.requests).toHaveLength(1);
    expect((await outboxOf(gateway.database, late.id, 'webhook'))[0]?.deliveredAt).toBeNull();
    // Due again: a round delivers it.
    await runOutboxRound(gateway.context);
    expect(hook.requests).toHaveLength(2);
    expect((await outboxOf(gateway.database, late.id, 'webhook'))[0]?.deliveredAt).not.toBeNull();

    // One whose lease would end before its slowest call could: left to the rounds too.
    const short = await leasedWebhook();
    gateway.advanceMs(limits.outboxLeaseMs - limits.webhookTimeoutMs);
    await deliverLeasedRows(leasing, [short]);
    expect(hook.requests).toHaveLength(2);
  });

  it("writes a delivered row's waiting mark before a delivery that could outlast its lease, not at the batch's end", async () => {
    const first = await webhookRow();
    const second = await webhookRow();
    const start = gateway.now().getTime();
    const byId = new Map([first, second].map((row) => [row.id, row]));
    const seenAtSecond: unknown[] = [];
    hook.answer = async (request) => {
      const id = String(request.headers['mpay-delivery-id']);
      // The first call takes 1.5 s of the gateway's clock; when the second starts, the first must be marked.
      if (id === first.id) gateway.advanceMs(1_500);
      else seenAtSecond.push(await rowNow(byId.get(first.id)!));
      return { status: 204 };
    };
    const asRow = (row: OutboxRecord): OutboxRow => ({
      id: row.id,
      payment_id: row.paymentId,
      kind: 'webhook',
      payload: JSON.stringify(row.payload),
      attempts: row.attempts,
    });
    await deliverLeasedRows(gateway.context, [
      // Its lease holds for its own call (2 s), not for the second's after it.
      { row: asRow(first), until: new Date(start + 3_000) },
      { row: asRow(second), until: new Date(start + limits.outboxLeaseMs) },
    ]);
    expect(hook.requests).toHaveLength(2);
    expect(seenAtSecond).toEqual([expect.objectContaining({ attempts: 1, deliveredAt: gateway.now() })]);
    expect(await rowNow(second)).toMatchObject({ attempts: 1, deliveredAt: gateway.now() });
  });

  it('pushes a payment request at the commit of the step that writes it when no other instance hears its notices: the row written delivered, the streams here told after the commit', async () => {
    const leases: OutboxLease[] = [];
    const leasing = {
      ...gateway.context,
      leasedDelivery: { accepts: () => true, deliver: (lease: OutboxLease) => void leases.push(lease) },
    };
    const pushed = vi.spyOn(gateway.context.hub, 'push');
    try {
      // A step that rolls back after writing the push: no push, no row.
      const undone = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      await expect(
        gateway.database.transaction(async (sql) => {
          await applyEventIn(
            leasing,
            sql,
            undone,
            {
              event: 'countersigned',
              changes: { pushMessage: 'undone' },
              lease: outboxLeaseOf(leasing, gateway.now()),
            },
            gateway.now(),
          );
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await outboxOf(gateway.database, undone, 'device_push')).toEqual([]);
      expect(pushed).not.toHaveBeenCalled();

      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      await applyEvent(leasing, id, { event: 'countersigned', changes: { pushMessage: 'the push' } });
      expect(pushed).toHaveBeenCalledTimes(1);
      expect(pushed).toHaveBeenCalledWith(ann.id, { event: 'payment-request', id, data: 'the push' });
      const [row] = await outboxOf(gateway.database, id, 'device_push');
      expect(row).toMatchObject({ attempts: 1, lastError: null });
      expect(row?.deliveredAt).not.toBeNull();
      // Nothing left for the line or a round.
      expect(leases.at(-1)?.rows).toEqual([]);
      expect(await runOutboxRound(gateway.context)).toBe(0);
    } finally {
      pushed.mockRestore();
    }
  });

  it('leaves a payment request to the outbox while other instances hear its notices: the notice and the mark after the commit', async () => {
    const leases: OutboxLease[] = [];
    const leasing = {
      ...gateway.context,
      leasedDelivery: { accepts: () => true, deliver: (lease: OutboxLease) => void leases.push(lease) },
    };
    const notices: unknown[] = [];
    // A sender records the push with its notice (devices/relay.ts: one transaction).
    gateway.context.hub.relayTo(async (notice, record) => {
      notices.push(notice);
      if (record !== undefined) await gateway.database.transaction((sql) => record(sql));
    });
    const pushed = vi.spyOn(gateway.context.hub, 'push');
    try {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'requested' });
      await applyEvent(leasing, id, { event: 'countersigned', changes: { pushMessage: 'the push' } });
      // Not pushed at the commit: the row is leased to this start, as any effect.
      expect(pushed).not.toHaveBeenCalled();
      expect(notices).toEqual([]);
      const push = leases.at(-1)?.rows.find((candidate) => candidate.kind === 'device_push');
      if (push === undefined) throw new Error('assertion failed: the request push was leased');
      expect((await outboxOf(gateway.database, id, 'device_push'))[0]?.deliveredAt).toBeNull();
      await deliverLeasedRows(leasing, [{ row: push, until: leases.at(-1)?.until ?? gateway.now() }]);
      expect(pushed).toHaveBeenCalledWith(ann.id, { event: 'payment-request', id, data: 'the push' });
      expect(notices).toEqual([{ kind: 'payment', party: ann.id, paymentId: id, event: 'payment-request' }]);
      expect((await outboxOf(gateway.database, id, 'device_push'))[0]?.deliveredAt).not.toBeNull();
    } finally {
      pushed.mockRestore();
      gateway.context.hub.relayTo(undefined);
    }
  });

  it('renders a leased push from the payment as its step wrote it, without reading it back; a claimed one reads it', async () => {
    const leases: OutboxLease[] = [];
    const leasing = {
      ...gateway.context,
      leasedDelivery: { accepts: () => true, deliver: (lease: OutboxLease) => void leases.push(lease) },
    };
    const id = await createPayment(gateway, { merchant: shop, customer: ann });
    await applyEvent(leasing, id, { event: 'merchant_cancelled' });
    const lease = leases[0] as OutboxLease;
    const push = lease.rows.find((row) => row.kind === 'device_push');
    if (push === undefined) throw new Error('assertion failed: the status push was leased');
    const written = lease.payments.get(id);
    expect(written).toEqual(await findPayment(gateway.database, id));
    const pushed = vi.spyOn(gateway.context.hub, 'push');
    const paymentReads = () =>
      Object.values(statementTexts())
        .flatMap((texts) => Object.entries(texts))
        .filter(([text]) => text.startsWith('SELECT p.id, p.procedure'))
        .reduce((sum, [, count]) => sum + count, 0);
    traceStatementTexts(true);
    try {
      await deliverLeasedRows(leasing, [{ row: push, until: lease.until, written }]);
      expect(paymentReads()).toBe(0);
      expect(pushed).toHaveBeenLastCalledWith(
        ann.id,
        expect.objectContaining({ id, event: 'payment-status' }),
      );
      // The same row as a round would claim it, with no payment at hand: read.
      await deliverLeasedRows(leasing, [{ row: push, until: lease.until }]);
      expect(paymentReads()).toBe(1);
      expect(pushed).toHaveBeenCalledTimes(2);
    } finally {
      traceStatementTexts(false);
      pushed.mockRestore();
    }
  });

  it('writes the effects due at once, for any round, while the line accepts no more (backed up, or closing)', async () => {
    const leases: OutboxLease[] = [];
    let kicks = 0;
    const full = {
      ...gateway.context,
      kickOutbox: () => {
        kicks += 1;
      },
      leasedDelivery: { accepts: () => false, deliver: (lease: OutboxLease) => void leases.push(lease) },
    };
    const id = await createPayment(gateway, { merchant: shop, customer: ann });
    await applyEvent(full, id, { event: 'merchant_cancelled' });
    expect(leases).toHaveLength(0);
    expect(kicks).toBe(1);
    const [webhook] = await outboxOf(gateway.database, id, 'webhook');
    expect(webhook?.nextAttemptAt.getTime()).toBe(gateway.now().getTime());
    await runOutboxRound(gateway.context);
    expect(hook.requests).toHaveLength(1);
  });

  it("delivers a webhook once on 2xx: the FSP's signed notification, with the row's delivery id", async () => {
    const row = await webhookRow();
    expect(await runOutboxRound(gateway.context)).toBe(1);
    expect(hook.requests).toHaveLength(1);
    const [request] = hook.requests as [RecordedRequest];
    expect(request).toMatchObject({ method: 'POST', url: '/hooks/mpay', body: row.payload.body });
    expect(request.headers['content-type']).toBe('application/jose');
    expect(request.headers['mpay-delivery-id']).toBe(row.id);
    // The merchant's logs can name the payment as the platform's logs do.
    expect(request.headers['x-request-id']).toBe(`payment:${row.paymentId}`);
    const notification = await verifyPayload(
      request.body,
      async () => gateway.fsp.signing.publicJwk,
      { audience: shop.id, issuer: gateway.fsp.id, transactionId: row.paymentId },
      { maxAgeSeconds: gateway.context.limits.receiptLifetimeSeconds },
    );
    expect(notification.payload).toMatchObject({
      event: 'payment.updated',
      payment: { status: 'cancelled', amount: { currency: 'EUR', minor: '1250' }, payer: ann.id },
    });
    expect(await rowNow(row)).toMatchObject({
      attempts: 1,
      deliveredAt: gateway.now(),
      abandonedAt: null,
      lastError: null,
    });
    // Delivered is delivered: later rounds, past any lease, send nothing more.
    gateway.advanceMs(limits.outboxLeaseMs * 2);
    expect(await runOutboxRound(gateway.context)).toBe(0);
    expect(hook.requests).toHaveLength(1);
  });

  it("marks a round's delivered webhooks in one statement; one refused in the same round is backed off, not marked", async () => {
    const rows = [await webhookRow(), await webhookRow(), await webhookRow()];
    const refused = rows[1]!.id;
    hook.answer = (request) =>
      request.headers['mpay-delivery-id'] === refused ? { status: 500 } : { status: 204 };
    const marks = () =>
      Object.values(statementTexts())
        .flatMap((texts) => Object.entries(texts))
        .filter(([text]) => text.startsWith('UPDATE outbox SET delivered_at'));
    traceStatementTexts(true);
    try {
      expect(await runOutboxRound(gateway.context)).toBe(3);
      expect(hook.requests).toHaveLength(3);
      // One mark for the two delivered, none alone.
      expect(marks()).toEqual([[expect.stringContaining('WHERE id = ANY($1::bigint[])'), 1]]);
    } finally {
      traceStatementTexts(false);
    }
    for (const row of [rows[0]!, rows[2]!])
      expect(await rowNow(row)).toMatchObject({ attempts: 1, deliveredAt: gateway.now(), lastError: null });
    expect(await rowNow(rows[1]!)).toMatchObject({ attempts: 1, deliveredAt: null, lastError: 'HTTP 500' });
  });

  it('retries a webhook answered 500 after its backoff, not before, and delivers it then', async () => {
    const row = await webhookRow();
    hook.answer = () => ({ status: 500, text: 'down' });
    const failedAt = gateway.now();
    await runOutboxRound(gateway.context);
    const failed = await rowNow(row);
    expect(failed).toMatchObject({
      attempts: 1,
      deliveredAt: null,
      abandonedAt: null,
      lastError: 'HTTP 500',
    });
    // First retry: ceiling base × 2, drawn within [ceiling/2, ceiling].
    const delayMs = failed.nextAttemptAt.getTime() - failedAt.getTime();
    expect(delayMs).toBeGreaterThanOrEqual(limits.outboxBackoffBaseMs);
    expect(delayMs).toBeLessThanOrEqual(2 * limits.outboxBackoffBaseMs);

    hook.answer = () => ({ status: 204 });
    expect(await runOutboxRound(gateway.context)).toBe(0);
    gateway.setNow(new Date(failed.nextAttemptAt.getTime() - 1));
    expect(await runOutboxRound(gateway.context)).toBe(0);
    expect(hook.requests).toHaveLength(1);
    gateway.setNow(failed.nextAttemptAt);
    expect(await runOutboxRound(gateway.context)).toBe(1);
    expect(hook.requests).toHaveLength(2);
    expect(await rowNow(row)).toMatchObject({
      attempts: 2,
      deliveredAt: failed.nextAttemptAt,
      lastError: null,
    });
  });

  it('abandons a webhook after outboxAttemptsMax failed attempts, says so, and sends it no more', async () => {
    const row = await webhookRow();
    hook.answer = () => ({ status: 500 });
    gateway.warnings.length = 0;
    for (let round = 0; round < limits.outboxAttemptsMax + 2; round += 1) {
      await runOutboxRound(gateway.context);
      gateway.advanceMs(limits.outboxBackoffMaxMs + limits.outboxLeaseMs);
    }
    expect(hook.requests).toHaveLength(limits.outboxAttemptsMax);
    const abandoned = await rowNow(row);
    expect(abandoned).toMatchObject({
      attempts: limits.outboxAttemptsMax,
      deliveredAt: null,
      lastError: 'HTTP 500',
    });
    expect(abandoned.abandonedAt).not.toBeNull();
    expect(gateway.warnings).toContainEqual(expect.objectContaining({ outboxId: row.id, kind: 'webhook' }));
  });

  it('does not follow a redirect: a 3xx is a failed delivery', async () => {
    const row = await webhookRow();
    hook.answer = (request) =>
      request.url === '/hooks/mpay'
        ? { status: 307, headers: { location: `${hook.url}/elsewhere` } }
        : { status: 204 };
    await runOutboxRound(gateway.context);
    expect(hook.requests.map((request) => request.url)).toEqual(['/hooks/mpay']);
    expect(await rowNow(row)).toMatchObject({ attempts: 1, deliveredAt: null, lastError: 'HTTP 307' });
  });

  it('does not let concurrent rounds claim the same row: one delivery per row', async () => {
    const rows = [await webhookRow(), await webhookRow(), await webhookRow()];
    let answered = 0;
    hook.answer = async () => {
      // Slow enough that the rounds overlap while delivering.
      await new Promise((resolve) => setTimeout(resolve, 50));
      answered += 1;
      return { status: 204 };
    };
    const claimed = await Promise.all([1, 2, 3, 4].map(() => runOutboxRound(gateway.context)));
    expect(claimed.reduce((sum, count) => sum + count, 0)).toBe(3);
    expect(answered).toBe(3);
    expect(hook.requests.map((request) => request.headers['mpay-delivery-id']).sort()).toEqual(
      rows.map((row) => row.id).sort(),
    );
  });

  it('hides a claimed row for the lease, then hands it out again (a worker that died), under the same delivery id', async () => {
    const row = await webhookRow();
    hook.answer = () => 'hang';
    const first = runOutboxRound(gateway.context);
    await until(() => hook.requests.length === 1);
    // While the first worker delivers, another round finds nothing due.
    expect(await runOutboxRound(gateway.context)).toBe(0);
    gateway.advanceMs(limits.outboxLeaseMs - 1);
    expect(await runOutboxRound(gateway.context)).toBe(0);
    // Past the lease the row is due again: at-least-once, with the id the merchant deduplicates on.
    gateway.advanceMs(1);
    const second = runOutboxRound(gateway.context);
    await until(() => hook.requests.length === 2);
    hook.release({ status: 204 });
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(hook.requests.map((request) => request.headers['mpay-delivery-id'])).toEqual([row.id, row.id]);
    expect((await rowNow(row)).deliveredAt).not.toBeNull();
  });

  it('hands back at once the row a killed start of its instance was delivering; another instance keeps its lease', async () => {
    const one = { ...gateway.context.limits, outboxBatchSizeMax: 1 };
    const killed = await startOutboxLeases(gateway.database, 'gateway', gateway.now());
    const other = await startOutboxLeases(gateway.database, 'gateway-2', gateway.now());
    const [a, b] = [await webhookRow(), await webhookRow()];
    hook.answer = () => 'hang';
    // The instance `gateway` claims one row and hangs delivering it (it is killed there); `gateway-2` the other.
    const killedRound = runOutboxRound({ ...gateway.context, limits: one, outboxLeaseOwner: killed.bootId });
    await until(() => hook.requests.length === 1);
    const otherRound = runOutboxRound({ ...gateway.context, limits: one, outboxLeaseOwner: other.bootId });
    await until(() => hook.requests.length === 2);
    const [killedRow, otherRow] = hook.requests[0]?.headers['mpay-delivery-id'] === a.id ? [a, b] : [b, a];

    // `gateway` starts again: the row its last start held is due now, not a lease later; the other is not.
    const restarted = await startOutboxLeases(gateway.database, 'gateway', gateway.now());
    expect(restarted.released).toBe(1);
    expect(restarted.bootId).not.toBe(killed.bootId);
    hook.answer = () => ({ status: 204 });
    expect(await runOutboxRound({ ...gateway.context, outboxLeaseOwner: restarted.bootId })).toBe(1);
    expect(hook.requests[2]?.headers['mpay-delivery-id']).toBe(killedRow.id);
    expect((await rowNow(killedRow)).deliveredAt).not.toBeNull();
    expect((await rowNow(otherRow)).deliveredAt).toBeNull();
    // Another start of `gateway` hands back nothing of `gateway-2`'s, whose start is still its current one.
    expect((await startOutboxLeases(gateway.database, 'gateway', gateway.now())).released).toBe(0);
    // A start whose place was taken (still running, wrongly) stamps no owner on what it claims: the
    // next start of `gateway` does not take that row from it; the row keeps its lease.
    const replaced = await webhookRow();
    hook.answer = () => 'hang';
    const replacedRound = runOutboxRound({ ...gateway.context, outboxLeaseOwner: killed.bootId });
    await until(() => hook.requests.length === 4);
    const owner = await gateway.database.query<{ lease_owner: string | null }>(
      'SELECT lease_owner::text AS lease_owner FROM outbox WHERE id = $1',
      [replaced.id],
    );
    expect(owner.rows).toEqual([{ lease_owner: null }]);
    expect((await startOutboxLeases(gateway.database, 'gateway', gateway.now())).released).toBe(0);
    hook.release({ status: 204 });
    expect(await Promise.all([killedRound, otherRound, replacedRound])).toEqual([1, 1, 1]);
    expect((await rowNow(otherRow)).deliveredAt).not.toBeNull();
  });

  it('a start whose lease ran out changes nothing of the row another start took and delivered', async () => {
    const late = await startOutboxLeases(gateway.database, 'gateway', gateway.now());
    const other = await startOutboxLeases(gateway.database, 'gateway-2', gateway.now());
    const row = await webhookRow();
    hook.answer = () => 'hang';
    const lateRound = runOutboxRound({ ...gateway.context, outboxLeaseOwner: late.bootId });
    await until(() => hook.requests.length === 1);
    // Its lease runs out while it waits: the other instance takes the row and delivers it.
    gateway.advanceMs(limits.outboxLeaseMs);
    hook.answer = () => ({ status: 204 });
    expect(await runOutboxRound({ ...gateway.context, outboxLeaseOwner: other.bootId })).toBe(1);
    const delivered = await rowNow(row);
    expect(delivered).toMatchObject({ attempts: 1, lastError: null, abandonedAt: null });
    expect(delivered.deliveredAt).not.toBeNull();
    // The late start's attempt fails now: it must not count it, nor reschedule or abandon the row.
    hook.release({ status: 500, json: { error: 'late' } });
    expect(await lateRound).toBe(1);
    expect(await rowNow(row)).toEqual(delivered);
  });

  it('a start whose name a later start took still counts its failures on the rows it claimed (no owner stamped)', async () => {
    const replaced = await startOutboxLeases(gateway.database, 'gateway', gateway.now());
    await startOutboxLeases(gateway.database, 'gateway', gateway.now());
    const row = await webhookRow();
    hook.answer = () => ({ status: 500, json: { error: 'down' } });
    expect(await runOutboxRound({ ...gateway.context, outboxLeaseOwner: replaced.bootId })).toBe(1);
    // Counted and backed off, as any failure: not retried at every lease, never abandoned.
    expect(await rowNow(row)).toMatchObject({ attempts: 1, deliveredAt: null, abandonedAt: null });
    expect((await rowNow(row)).lastError).not.toBeNull();
  });

  it('refuses an instance name that is not a plain lowercase name (CONFIGURATION_INVALID)', async () => {
    for (const name of ['', 'Gateway', 'gateway 2', 'x'.repeat(64), 'gateway;drop'])
      await expect(startOutboxLeases(gateway.database, name, gateway.now())).rejects.toMatchObject({
        code: 'CONFIGURATION_INVALID',
      });
  });

  describe('bank orders', () => {
    /** The customer's bank as it answers POST /payment-orders (orderJson, with its signed bankAnswer). */
    const signedAnswers: string[] = [];
    function bankAnswering(state: 'completed' | 'refused', signer = xbank, refusalCode?: string) {
      return async (request: RecordedRequest) => {
        const order = JSON.parse(request.body) as Record<string, string>;
        const paymentOrder = {
          id: order.id,
          state,
          payerId: order.payerId,
          payeeId: order.payeeId,
          amount: order.amount,
          currency: order.currency,
          ...(refusalCode === undefined ? {} : { refusalCode }),
        };
        const bankAnswer = await signPayload(
          { paymentOrder },
          {
            issuer: 'xbank',
            audience: gateway.fsp.id,
            transactionId: order.id ?? '',
            expiresInSeconds: 86_400,
          },
          signer.key.privateJwk,
        );
        signedAnswers.push(bankAnswer);
        return { status: 201, json: { ...paymentOrder, attempts: 1, bankAnswer } };
      };
    }

    it("completes the payment on the bank's verified answer: receipt, stored answer, merchant notified", async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'authorised' });
      bankStub.answer = bankAnswering('completed');
      await runOutboxRound(gateway.context);
      expect(bankStub.requests).toHaveLength(1);
      expect(bankStub.requests[0]?.headers['idempotency-key']).toBe(id);
      const payment = await findPayment(gateway.database, id);
      expect(payment.state).toBe('funds_transferred');
      expect(payment.receipt).not.toBeNull();
      expect(payment.bankAnswer).toBe(signedAnswers.at(-1));
      const [order] = await outboxOf(gateway.database, id, 'bank_order');
      expect(order).toMatchObject({ attempts: 1, lastError: null });
      expect(order?.deliveredAt).not.toBeNull();
      expect((await outboxOf(gateway.database, id, 'webhook')).length).toBe(1);
    });

    it('records no outcome on an answer signed by another key, and asks again later', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'authorised' });
      const impostor = await addBank(gateway.database, 'zbank');
      bankStub.answer = bankAnswering('completed', impostor);
      await runOutboxRound(gateway.context);
      const payment = await findPayment(gateway.database, id);
      expect(payment).toMatchObject({
        state: 'customer_signature_verified',
        receipt: null,
        bankAnswer: null,
      });
      const [order] = await outboxOf(gateway.database, id, 'bank_order');
      expect(order).toMatchObject({
        attempts: 1,
        deliveredAt: null,
        abandonedAt: null,
        lastError: 'BANK_ANSWER_INVALID',
      });
      expect(await outboxOf(gateway.database, id, 'webhook')).toEqual([]);
    });

    it('never abandons a bank order or a log entry, however often they fail', async () => {
      const id = await createPayment(gateway, { merchant: shop, customer: ann, stage: 'authorised' });
      await gateway.database.query(
        `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at) VALUES ($1, 'log_entry', '{}', $2, $2)`,
        [id, gateway.now().toISOString()],
      );
      await gateway.database.query('UPDATE banks SET url = $2 WHERE id = $1', [
        'xbank',
        await closedPortUrl(),
      ]);
      try {
        const rounds = limits.outboxAttemptsMax + 2;
        for (let round = 0; round < rounds; round += 1) {
          await runOutboxRound(gateway.context);
          gateway.advanceMs(limits.outboxBackoffMaxMs + limits.outboxLeaseMs);
        }
        const [order] = await outboxOf(gateway.database, id, 'bank_order');
        expect(order).toMatchObject({
          attempts: rounds,
          abandonedAt: null,
          deliveredAt: null,
          lastError: 'BANK_UNAVAILABLE',
        });
        const [logEntry] = await outboxOf(gateway.database, id, 'log_entry');
        expect(logEntry).toMatchObject({ attempts: rounds, abandonedAt: null, deliveredAt: null });
        expect((await findPayment(gateway.database, id)).state).toBe('customer_signature_verified');
      } finally {
        await gateway.database.query('UPDATE banks SET url = $2 WHERE id = $1', ['xbank', bankStub.url]);
      }
    });
  });

  describe('log entries', () => {
    it('asks for a receipt first logReceiptFirstCheckMs after the submission: not at once, and not counted as a failure', async () => {
      // The log over real HTTP: it takes the submission (index 7) and has no checkpoint yet.
      const logStub = await startHttpStub((request) =>
        request.method === 'POST' && request.url === '/entries'
          ? { status: 202, json: { index: 7 } }
          : { status: 503, json: { error: { code: 'SERVICE_UNAVAILABLE' } } },
      );
      const context = contextLoggingTo(logStub);
      const firstCheckMs = gateway.context.limits.logReceiptFirstCheckMs;
      try {
        const id = await createPayment(gateway, { merchant: shop, customer: ann });
        const submittedAt = gateway.now();
        await enqueueLogEntry(gateway.database, id, 'payment', ['a.b.c'], submittedAt);
        await gateway.database.query(
          `INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at) VALUES ($1, 'log_entry', '{}', $2, $2)`,
          [id, submittedAt.toISOString()],
        );
        const asked = () => logStub.requests.map((request) => `${request.method} ${request.url}`);
        await runOutboxRound(context);
        expect(asked()).toEqual(['POST /entries']);
        const [submitted] = await outboxOf(gateway.database, id, 'log_entry');
        expect(submitted).toMatchObject({ attempts: 0, lastError: null, deliveredAt: null });
        expect(submitted?.nextAttemptAt.getTime()).toBe(submittedAt.getTime() + firstCheckMs);
        const { rows } = await gateway.database.query<{ log_index: string }>(
          'SELECT log_index::text AS log_index FROM log_entries WHERE payment_id = $1',
          [id],
        );
        expect(rows).toEqual([{ log_index: '7' }]);
        // Not before its time; then the checkpoint is asked for (none yet: a failure, backed off as any).
        gateway.advanceMs(firstCheckMs - 1);
        await runOutboxRound(context);
        expect(asked()).toEqual(['POST /entries']);
        gateway.advanceMs(1);
        await runOutboxRound(context);
        expect(
          asked()
            .slice(1)
            .every((line) => line.startsWith('GET ')),
        ).toBe(true);
        expect(asked().length).toBeGreaterThan(1);
        const [failed] = await outboxOf(gateway.database, id, 'log_entry');
        expect(failed).toMatchObject({ attempts: 1, lastError: 'SERVICE_UNAVAILABLE', deliveredAt: null });
      } finally {
        await logStub.close();
      }
    });

    /** A log over real HTTP that gives indices from 40 on, as `answer` lets it; no checkpoint yet. */
    async function logTakingEntries(batches: 'take' | 'refuse' | 'unavailable') {
      let next = 40;
      const stub = await startHttpStub((request) => {
        if (request.method === 'POST' && request.url === '/entries')
          return { status: 202, json: { index: next++ } };
        // A log configured with a lower batch limit than the client's: a refusal of the batch itself.
        if (request.method === 'POST' && request.url === '/entry-batches' && batches === 'refuse')
          return { status: 400, json: { error: { code: 'REQUEST_INVALID', detail: 'entries' } } };
        if (request.method === 'POST' && request.url === '/entry-batches' && batches === 'take') {
          const { entries } = JSON.parse(request.body) as { entries: { transactionId: string }[] };
          return {
            status: 200,
            json: {
              entries: entries.map(({ transactionId }) => ({ index: next++, created: true, transactionId })),
            },
          };
        }
        return { status: 503, json: { error: { code: 'SERVICE_UNAVAILABLE' } } };
      });
      return { stub, context: contextLoggingTo(stub) };
    }

    /** The gateway's context with its transaction log at `stub` (no witness; no checkpoint will verify). */
    function contextLoggingTo(stub: HttpStub) {
      return {
        ...gateway.context,
        transactionLog: {
          url: stub.url,
          origin: 'log.test/transactions',
          logVerifierKey: 'log.test/transactions+00000000+AAAA',
          witnessVerifierKeys: [],
          witnessesRequired: 0,
        },
      };
    }

    const logIndexOf = async (id: string) =>
      (
        await gateway.database.query<{ log_index: string | null }>(
          'SELECT log_index::text AS log_index FROM log_entries WHERE payment_id = $1',
          [id],
        )
      ).rows[0]?.log_index;

    it("sends the entries of a round's payments to the log together, under one signature, and each gets its own index", async () => {
      const { stub, context } = await logTakingEntries('take');
      try {
        const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 3);
        // One of them submitted before (its index known): only its receipt is left to ask for, not in the batch.
        await gateway.database.query('UPDATE log_entries SET log_index = 7 WHERE payment_id = $1', [ids[1]]);
        await runOutboxRound(context);
        const posts = stub.requests.filter((request) => request.method === 'POST');
        expect(posts.map((request) => request.url)).toEqual(['/entry-batches']);
        const sent = JSON.parse(posts[0]?.body ?? '') as {
          entries: { transactionId: string; kind: string }[];
        };
        // In the order the round claimed them, which is none in particular.
        const sentIds = sent.entries.map((entry) => entry.transactionId);
        expect([...sentIds].sort()).toEqual([ids[0], ids[2]].sort());
        expect(sent.entries.every((entry) => entry.kind === 'payment.completed')).toBe(true);
        expect(posts[0]?.headers.authorization).toMatch(/^MPay /);
        // Each the index the log answered at its place in the batch.
        for (const [place, id] of sentIds.entries()) expect(await logIndexOf(id)).toBe(String(40 + place));
        expect(await logIndexOf(ids[1] ?? '')).toBe('7');
        const firstCheckMs = gateway.context.limits.logReceiptFirstCheckMs;
        for (const id of [ids[0], ids[2]]) {
          const [row] = await outboxOf(gateway.database, id ?? '', 'log_entry');
          // Submitted, as one submission alone leaves it: its receipt asked for at the first check, no attempt counted.
          expect(row).toMatchObject({ attempts: 0, lastError: null, deliveredAt: null });
          expect(row?.nextAttemptAt.getTime()).toBe(gateway.now().getTime() + firstCheckMs);
        }
        // The one submitted before asked the log for its proof instead (none yet: backed off as any failure).
        const [asked] = await outboxOf(gateway.database, ids[1] ?? '', 'log_entry');
        expect(asked).toMatchObject({ attempts: 1, lastError: 'SERVICE_UNAVAILABLE' });
      } finally {
        await stub.close();
      }
    });

    it('tries each entry alone when the log refuses the batch, so none waits on the others', async () => {
      const { stub, context } = await logTakingEntries('refuse');
      try {
        const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 2);
        await runOutboxRound(context);
        const posts = stub.requests.filter((request) => request.method === 'POST');
        expect(posts.map((request) => request.url)).toEqual(['/entry-batches', '/entries', '/entries']);
        // Each the index the log answered to its own POST /entries.
        for (const [place, request] of posts.slice(1).entries()) {
          const { transactionId } = JSON.parse(request.body) as { transactionId: string };
          expect(await logIndexOf(transactionId)).toBe(String(40 + place));
        }
        expect(
          posts
            .slice(1)
            .map((request) => (JSON.parse(request.body) as { transactionId: string }).transactionId)
            .sort(),
        ).toEqual([...ids].sort());
      } finally {
        await stub.close();
      }
    });

    /** A log that takes batches only (503 to anything else), holding each answer until the test releases them; indices from `first`. */
    async function logHoldingBatches(first: number): Promise<{ stub: HttpStub; release: () => void }> {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let next = first;
      const stub = await startHttpStub(async (request) => {
        if (request.method !== 'POST' || request.url !== '/entry-batches')
          return { status: 503, json: { error: { code: 'SERVICE_UNAVAILABLE' } } };
        await held;
        const { entries } = JSON.parse(request.body) as { entries: { transactionId: string }[] };
        return {
          status: 200,
          json: {
            entries: entries.map(({ transactionId }) => ({ index: next++, created: true, transactionId })),
          },
        };
      });
      return { stub, release };
    }

    it("delivers the round's other rows while the log is slow to take its entries", async () => {
      const { stub, release } = await logHoldingBatches(60);
      try {
        const context = contextLoggingTo(stub);
        const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 2);
        const webhook = await webhookRow();
        const round = runOutboxRound(context);
        // The webhook is delivered and recorded while the log's answer is still held (the log's client gives
        // up after 10 s and tries each entry alone: the webhook comes long before on any machine).
        await until(() => hook.requests.length === 1);
        const deadline = Date.now() + 30_000;
        while ((await rowNow(webhook)).deliveredAt === null) {
          if (Date.now() > deadline) throw new Error('the webhook was not recorded delivered');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        expect(stub.requests.map((request) => request.url)).toEqual(['/entry-batches']);
        release();
        await round;
        expect((await Promise.all(ids.map(logIndexOf))).sort()).toEqual(['60', '61']);
      } finally {
        release();
        await stub.close();
      }
    });

    it('with a log line, later rounds deliver their rows while the log still holds an earlier round’s entries', async () => {
      const { stub, release } = await logHoldingBatches(80);
      const failures: unknown[] = [];
      const logLine = new LogLine({
        deliver: deliverLogRows,
        onError: (error) => failures.push(error),
        waitingMax: () => gateway.context.limits.outboxBatchSizeMax,
      });
      try {
        const context = { ...contextLoggingTo(stub), logLine };
        const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 2);
        await gateway.database.query(
          "UPDATE outbox SET delivered_at = next_attempt_at WHERE kind <> 'log_entry'",
        );
        // The first round hands its entries to the line and returns while the log holds its answer.
        expect(await runOutboxRound(context, { awaitLogLine: false })).toBe(2);
        await until(() => stub.requests.length === 1);
        // Rounds after it deliver their own rows meanwhile; the entries the line holds stay leased to it.
        for (const round of [1, 2]) {
          const webhook = await webhookRow();
          expect(await runOutboxRound(context, { awaitLogLine: false })).toBe(1);
          expect(hook.requests).toHaveLength(round);
          expect((await rowNow(webhook)).deliveredAt).not.toBeNull();
        }
        expect(stub.requests.map((request) => request.url)).toEqual(['/entry-batches']);
        expect((await Promise.all(ids.map(logIndexOf))).sort()).toEqual([null, null]);
        release();
        await logLine.drained();
        expect((await Promise.all(ids.map(logIndexOf))).sort()).toEqual(['80', '81']);
        expect(failures).toEqual([]);
      } finally {
        release();
        await logLine.drained();
        await stub.close();
      }
    });

    it('backs every entry off when the log is unavailable to their batch, without trying each alone', async () => {
      const { stub, context } = await logTakingEntries('unavailable');
      try {
        const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 3);
        await runOutboxRound(context);
        expect(
          stub.requests.filter((request) => request.method === 'POST').map((request) => request.url),
        ).toEqual(['/entry-batches']);
        for (const id of ids) {
          const [row] = await outboxOf(gateway.database, id ?? '', 'log_entry');
          expect(row).toMatchObject({ attempts: 1, lastError: 'SERVICE_UNAVAILABLE', deliveredAt: null });
          expect(row?.nextAttemptAt.getTime()).toBeGreaterThan(gateway.now().getTime());
          expect(await logIndexOf(id ?? '')).toBeNull();
        }
      } finally {
        await stub.close();
      }
    });

    it('sends a lone entry as before, with POST /entries', async () => {
      const { stub, context } = await logTakingEntries('take');
      try {
        const [id] = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 1);
        await runOutboxRound(context);
        expect(
          stub.requests.filter((request) => request.method === 'POST').map((request) => request.url),
        ).toEqual(['/entries']);
        expect(await logIndexOf(id ?? '')).toBe('40');
      } finally {
        await stub.close();
      }
    });
  });
});
