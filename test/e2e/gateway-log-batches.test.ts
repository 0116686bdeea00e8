import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LogStack, startLogStack } from '@mpay/log-service';
import { verifyReceipt } from '@mpay/merkle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  correctLogIndex,
  type EntryRow,
  type TransactionLogLink,
} from '../../services/gateway/src/log/outbox.ts';
import { runOutboxRound } from '../../services/gateway/src/outbox/deliver.ts';
import { advanceRefundLogEntry, enqueueRefundLogEntry } from '../../services/gateway/src/refunds/log.ts';
import {
  addBank,
  addMerchant,
  createPayment,
  enrolCustomer,
  openTestGateway,
  paymentsToLog,
  type TestCustomer,
  type TestGateway,
  type TestMerchant,
} from '../../services/gateway/src/test-helpers.ts';
import { requestDeadlineMs } from '../support/deadlines.ts';

/**
 * The gateway's outbox against a real log and witness: the entries of the
 * payments one round delivers go to the log in one signed request, and their
 * receipts come from one checkpoint and one request for all their proofs;
 * each receipt verifies offline with the log's and the witness's keys.
 */
describe("the gateway's log entries, several at once, against a real log", () => {
  let stack: LogStack;
  let gateway: TestGateway;
  let proxy: Server;
  let link: TransactionLogLink;
  let shop: TestMerchant;
  let ann: TestCustomer;
  /** Each request the gateway made to the log, as `METHOD path` without the query. */
  const asked: string[] = [];
  /** A log that lies: the next answer to POST `path` rewritten by `rewrite` (its JSON body). */
  let lie: { path: string; rewrite: (body: { [key: string]: unknown }) => unknown } | undefined;
  /** A log that fails: the next GET of `path` answered 503 without reaching the log. */
  let failGet: string | undefined;

  beforeAll(async () => {
    gateway = await openTestGateway();
    stack = await startLogStack({
      submitters: [{ id: gateway.fsp.id, signingJwk: gateway.fsp.signing.publicJwk }],
      // The witness's answer on a busy machine: its default 3 s would publish a checkpoint without it.
      // The log integrates when the test says (integrateNow), not on its own timer as well.
      limits: { witnessTimeoutMs: Math.min(requestDeadlineMs, 60_000), integrationIntervalMs: 3_600_000 },
    });
    // A counting proxy between the gateway and the log, over real HTTP.
    const target = new URL(stack.logUrl);
    proxy = createServer((incoming, outgoing) => {
      const path = (incoming.url ?? '').split('?')[0];
      asked.push(`${incoming.method} ${path}`);
      if (incoming.method === 'GET' && failGet === path) {
        failGet = undefined;
        incoming.resume();
        outgoing.writeHead(503, { 'content-type': 'application/json' });
        outgoing.end(JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE' } }));
        return;
      }
      const lying = incoming.method === 'POST' && lie?.path === path ? lie : undefined;
      if (lying !== undefined) lie = undefined;
      const headers = { ...incoming.headers };
      // An answer to rewrite comes uncompressed.
      if (lying !== undefined) delete headers['accept-encoding'];
      const forward = httpRequest(
        { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers },
        (answer) => {
          if (lying === undefined) {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
            return;
          }
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const body = JSON.stringify(lying.rewrite(JSON.parse(Buffer.concat(chunks).toString())));
            outgoing.writeHead(answer.statusCode ?? 502, {
              'content-type': 'application/json; charset=utf-8',
              'content-length': Buffer.byteLength(body),
            });
            outgoing.end(body);
          });
        },
      );
      forward.on('error', () => outgoing.destroy());
      incoming.pipe(forward);
    });
    await new Promise<void>((listening) => proxy.listen(0, '127.0.0.1', listening));
    link = {
      url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      origin: stack.origin,
      logVerifierKey: stack.logVerifierKey,
      witnessVerifierKeys: [stack.witnessVerifierKey],
      witnessesRequired: 1,
    };
    const xbank = await addBank(gateway.database, 'xbank');
    const ybank = await addBank(gateway.database, 'ybank');
    shop = await addMerchant(gateway.database, ybank, 'shop');
    ann = await enrolCustomer(gateway.database, xbank, 'ann');
  });
  afterAll(async () => {
    await new Promise((closed) => proxy?.close(closed));
    await stack?.close();
    await gateway?.close();
  });

  const rowOf = async (id: string) =>
    (
      await gateway.database.query<{
        receipt: string | null;
        delivered: boolean;
        attempts: number;
        last_error: string | null;
      }>(
        `SELECT l.receipt, o.delivered_at IS NOT NULL AS delivered, o.attempts, o.last_error
           FROM log_entries l JOIN outbox o ON o.payment_id = l.payment_id AND o.kind = 'log_entry'
          WHERE l.payment_id = $1`,
        [id],
      )
    ).rows[0];

  /** The index the gateway holds for a payment's entry, and the one the log gives it (GET /entries/:index). */
  const indexOf = async (id: string) =>
    (
      await gateway.database.query<{ log_index: string | null }>(
        'SELECT log_index::text AS log_index FROM log_entries WHERE payment_id = $1',
        [id],
      )
    ).rows[0]?.log_index;
  it('submits them in one request, proves them from one checkpoint in one more, and each receipt verifies', async () => {
    const context = { ...gateway.context, transactionLog: link };
    asked.length = 0;
    const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 3);
    await runOutboxRound(context);
    expect(asked).toEqual(['POST /entry-batches']);
    // The log integrates them and its witness cosigns the checkpoint.
    expect((await stack.log.integrateNow()).appended).toBe(3);
    gateway.advanceMs(gateway.context.limits.logReceiptFirstCheckMs);
    asked.length = 0;
    await runOutboxRound(context);
    expect(asked).toEqual(['GET /checkpoint', 'GET /proofs/inclusions']);
    const policy = {
      logVerifierKey: stack.logVerifierKey,
      witnessVerifierKeys: [stack.witnessVerifierKey],
      witnessesRequired: 1,
    };
    for (const id of ids) {
      const { rows } = await gateway.database.query<{ receipt: string | null; delivered: boolean }>(
        `SELECT l.receipt, o.delivered_at IS NOT NULL AS delivered
           FROM log_entries l JOIN outbox o ON o.payment_id = l.payment_id AND o.kind = 'log_entry'
          WHERE l.payment_id = $1`,
        [id],
      );
      expect(rows[0]?.delivered, id).toBe(true);
      const verified = await verifyReceipt(rows[0]?.receipt ?? '', policy);
      expect(verified.receipt.transactionId).toBe(id);
      // Another witness's key does not pass for this one's.
      await expect(
        verifyReceipt(rows[0]?.receipt ?? '', { ...policy, witnessVerifierKeys: [stack.logVerifierKey] }),
      ).rejects.toThrow();
    }
  });

  it('refuses the one entry whose proof does not verify, as alone, and proves the others', async () => {
    const context = { ...gateway.context, transactionLog: link };
    const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 3);
    await runOutboxRound(context);
    await stack.log.integrateNow();
    // The gateway's stored messages of the first no longer match what the log holds: its proof cannot verify.
    await gateway.database.query(`UPDATE log_entries SET messages = '["tampered"]' WHERE payment_id = $1`, [
      ids[0],
    ]);
    gateway.advanceMs(gateway.context.limits.logReceiptFirstCheckMs);
    asked.length = 0;
    await runOutboxRound(context);
    // The fresh checkpoint is checked to extend the one the gateway holds (a fork or a rollback is refused).
    // For the proof that failed, the log is asked what it holds at that index: this payment's own entry, so
    // the index is right and nothing is submitted again.
    expect(asked).toEqual([
      'GET /checkpoint',
      'GET /proofs/consistency',
      'GET /proofs/inclusions',
      `GET /entries/${await indexOf(ids[0] ?? '')}`,
    ]);
    expect(await rowOf(ids[0] ?? '')).toMatchObject({
      receipt: null,
      delivered: false,
      attempts: 1,
      last_error: 'PROOF_INVALID',
    });
    for (const id of [ids[1], ids[2]])
      expect(await rowOf(id ?? '')).toMatchObject({ delivered: true, attempts: 1 });
  });

  /** The log entries earlier tests left undelivered (one refused on purpose) out of these rounds. */
  const setAsideEarlierEntries = () =>
    gateway.database.query(
      `UPDATE outbox SET abandoned_at = $1
        WHERE kind = 'log_entry' AND delivered_at IS NULL AND abandoned_at IS NULL`,
      [gateway.context.clock().toISOString()],
    );
  const policy = () => ({
    logVerifierKey: stack.logVerifierKey,
    witnessVerifierKeys: [stack.witnessVerifierKey],
    witnessesRequired: 1,
  });

  it('puts right the indices a lying log gave a batch, and proves each entry at its own', async () => {
    const context = { ...gateway.context, transactionLog: link };
    await setAsideEarlierEntries();
    const ids = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 2);
    // The log's answer with the two entries' indices swapped: each gets the other's.
    lie = {
      path: '/entry-batches',
      rewrite: (body) => {
        const [a, b] = body.entries as { index: number }[];
        return {
          entries: [
            { ...a, index: b?.index },
            { ...b, index: a?.index },
          ],
        };
      },
    };
    await runOutboxRound(context);
    expect(lie).toBeUndefined();
    const given = [await indexOf(ids[0] ?? ''), await indexOf(ids[1] ?? '')];
    await stack.log.integrateNow();
    gateway.advanceMs(gateway.context.limits.logReceiptFirstCheckMs);
    asked.length = 0;
    await runOutboxRound(context);
    // Both proofs failed; one index was checked at the log and its entry submitted again.
    expect(asked.filter((line) => line.startsWith('GET /entries/'))).toHaveLength(1);
    expect(asked.filter((line) => line === 'POST /entries')).toHaveLength(1);
    // Nothing new was appended: the log held both entries, each at the other's given index. Only one
    // index is put right per round; the other row is backed off, and put right in the next round.
    expect((await stack.log.integrateNow()).appended).toBe(0);
    for (const id of ids)
      expect(await rowOf(id)).toMatchObject({ delivered: false, attempts: 1, last_error: 'PROOF_INVALID' });
    gateway.advanceMs(gateway.context.limits.outboxBackoffMaxMs);
    asked.length = 0;
    await runOutboxRound(context);
    expect(asked.filter((line) => line === 'POST /entries')).toHaveLength(1);
    const corrected = [await indexOf(ids[0] ?? ''), await indexOf(ids[1] ?? '')];
    expect(corrected).toEqual([given[1], given[0]]);
    for (const [i, id] of ids.entries()) {
      const held = await fetch(`${stack.logUrl}/entries/${corrected[i]}`);
      expect(((await held.json()) as { transactionId: string }).transactionId).toBe(id);
    }
    expect((await stack.log.integrateNow()).appended).toBe(0);
    // Each corrected row waits out one failed attempt's backoff: a log that kept lying would meet it too.
    gateway.advanceMs(gateway.context.limits.outboxBackoffMaxMs);
    await runOutboxRound(context);
    for (const id of ids) {
      const row = await rowOf(id);
      expect(row?.delivered, id).toBe(true);
      const verified = await verifyReceipt(row?.receipt ?? '', policy());
      expect(verified.receipt.transactionId).toBe(id);
    }
  });

  it('puts right the index a lying log gave one entry alone; a right index with a wrong proof stands', async () => {
    const context = { ...gateway.context, transactionLog: link };
    await setAsideEarlierEntries();
    const [id] = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 1);
    // Index 0: another payment's entry (the first test's).
    lie = { path: '/entries', rewrite: () => ({ index: 0 }) };
    await runOutboxRound(context);
    expect(await indexOf(id ?? '')).toBe('0');
    expect((await stack.log.integrateNow()).appended).toBe(1);
    gateway.advanceMs(gateway.context.limits.logReceiptFirstCheckMs);
    asked.length = 0;
    await runOutboxRound(context);
    expect(asked).toContain('GET /entries/0');
    expect(asked).toContain('POST /entries');
    const corrected = await indexOf(id ?? '');
    expect(corrected).not.toBe('0');
    expect(await rowOf(id ?? '')).toMatchObject({
      delivered: false,
      attempts: 1,
      last_error: 'PROOF_INVALID',
    });
    gateway.advanceMs(gateway.context.limits.outboxBackoffMaxMs);
    await runOutboxRound(context);
    const row = await rowOf(id ?? '');
    expect(row?.delivered).toBe(true);
    expect((await verifyReceipt(row?.receipt ?? '', policy())).receipt.transactionId).toBe(id);

    // The log holds this payment's own entry at the index given, but the gateway's data no longer
    // matches it: not a wrong index, nothing is submitted again, the refusal stands.
    const [other] = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 1);
    await runOutboxRound(context);
    await stack.log.integrateNow();
    await gateway.database.query(`UPDATE log_entries SET messages = '["tampered"]' WHERE payment_id = $1`, [
      other,
    ]);
    const before = await indexOf(other ?? '');
    gateway.advanceMs(gateway.context.limits.logReceiptFirstCheckMs);
    asked.length = 0;
    await runOutboxRound(context);
    expect(asked).toContain(`GET /entries/${before}`);
    expect(asked).not.toContain('POST /entries');
    expect(await indexOf(other ?? '')).toBe(before);
    expect(await rowOf(other ?? '')).toMatchObject({ delivered: false, last_error: 'PROOF_INVALID' });
  });

  it('corrects an index only under the lease of the row and while the entry still has the index checked', async () => {
    await setAsideEarlierEntries();
    const [id] = await paymentsToLog(gateway, { merchant: shop, customer: ann }, 1);
    const context = { ...gateway.context, transactionLog: link };
    await runOutboxRound(context);
    await stack.log.integrateNow();
    const right = await indexOf(id ?? '');
    // As if the log had answered index 0 (another payment's entry).
    await gateway.database.query('UPDATE log_entries SET log_index = 0 WHERE payment_id = $1', [id]);
    const read = async () =>
      (
        await gateway.database.query<EntryRow>(
          'SELECT payment_id, kind, messages, log_index, receipt FROM log_entries WHERE payment_id = $1',
          [id],
        )
      ).rows[0] as EntryRow;
    const [row] = await gateway.database
      .query<{ id: string }>(
        "SELECT id::text AS id FROM outbox WHERE payment_id = $1 AND kind = 'log_entry'",
        [id],
      )
      .then((result) => result.rows);
    const submitter = { id: gateway.fsp.id, key: gateway.fsp.signing.privateJwk };
    const warnings: string[] = [];
    const log = { warn: (_fields: object, message: string) => warnings.push(message) };
    const outboxRow = { id: row?.id ?? '', retryAt: gateway.context.clock(), leaseOwner: null };
    // Another start holds the row: nothing is written.
    await gateway.database.query(
      `INSERT INTO outbox_instances (boot_id, name, started_at) VALUES ('00000000-0000-4000-8000-000000000001', 'other', now())
       ON CONFLICT DO NOTHING`,
    );
    await gateway.database.query(
      "UPDATE outbox SET lease_owner = '00000000-0000-4000-8000-000000000001' WHERE id = $1",
      [row?.id],
    );
    expect(
      await correctLogIndex(gateway.database, link, submitter, await read(), outboxRow, log),
    ).toBeUndefined();
    expect(await indexOf(id ?? '')).toBe('0');
    await gateway.database.query('UPDATE outbox SET lease_owner = NULL WHERE id = $1', [row?.id]);
    // The entry's index changed since it was read: nothing is written.
    const stale = await read();
    await gateway.database.query('UPDATE log_entries SET log_index = 1 WHERE payment_id = $1', [id]);
    expect(await correctLogIndex(gateway.database, link, submitter, stale, outboxRow, log)).toBeUndefined();
    expect(await indexOf(id ?? '')).toBe('1');
    expect(warnings).toEqual([]);
    // Held by this start (no owner) and as read: corrected, with one attempt counted.
    expect(
      String(await correctLogIndex(gateway.database, link, submitter, await read(), outboxRow, log)),
    ).toBe(right);
    expect(await indexOf(id ?? '')).toBe(right);
    expect(await rowOf(id ?? '')).toMatchObject({ attempts: 1, last_error: 'PROOF_INVALID' });
    expect(warnings).toHaveLength(1);
  });

  it("puts right the index a lying log gave a refund's entry, then proves it", async () => {
    const paymentId = await createPayment(gateway, { merchant: shop, customer: ann });
    const refundId = randomUUID();
    const now = gateway.context.clock().toISOString();
    // A refund as the refund's steps leave it once its outcome is known (only what its log entry needs).
    await gateway.database.query(
      `INSERT INTO refunds (id, payment_id, merchant_id, customer_id, currency, amount_minor, request_hash,
                            state, authorisation, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'EUR', 100, 'hash', 'completed', 'a.b.c', $5, $5)`,
      [refundId, paymentId, shop.id, ann.id, now],
    );
    await enqueueRefundLogEntry(
      gateway.database,
      refundId,
      'refund.completed',
      ['m.b.f'],
      gateway.context.clock(),
    );
    const submitter = { id: gateway.fsp.id, key: gateway.fsp.signing.privateJwk };
    const refundIndex = async () =>
      (
        await gateway.database.query<{ log_index: string | null }>(
          'SELECT log_index::text AS log_index FROM refund_log_entries WHERE refund_id = $1',
          [refundId],
        )
      ).rows[0]?.log_index;
    // Index 0: another transaction's entry.
    lie = { path: '/entries', rewrite: () => ({ index: 0 }) };
    expect(await advanceRefundLogEntry(gateway.database, link, submitter, refundId)).toBe('submitted');
    expect(await refundIndex()).toBe('0');
    expect((await stack.log.integrateNow()).appended).toBe(1);
    // The proof fails and the log does not say what it holds at 0: the refusal is thrown as it is, the
    // failed check said in the gateway's log, the index left for the next attempt.
    const warned: { object: object; message?: string | undefined }[] = [];
    const log = { warn: (object: object, message?: string) => void warned.push({ object, message }) };
    failGet = '/entries/0';
    await expect(
      advanceRefundLogEntry(gateway.database, link, submitter, refundId, log),
    ).rejects.toMatchObject({ code: 'PROOF_INVALID' });
    expect(failGet).toBeUndefined();
    expect(warned).toEqual([
      { object: expect.objectContaining({ refundId }), message: 'refund log index not checked' },
    ]);
    expect(await refundIndex()).toBe('0');
    // The proof fails, the index is put right, and the failure is still thrown (the caller backs the row off).
    asked.length = 0;
    await expect(advanceRefundLogEntry(gateway.database, link, submitter, refundId)).rejects.toMatchObject({
      code: 'PROOF_INVALID',
    });
    expect(asked).toContain('GET /entries/0');
    expect(asked).toContain('POST /entries');
    expect(await refundIndex()).not.toBe('0');
    expect((await stack.log.integrateNow()).appended).toBe(0);
    expect(await advanceRefundLogEntry(gateway.database, link, submitter, refundId)).toBe('proved');
    const { rows } = await gateway.database.query<{ receipt: string }>(
      'SELECT receipt FROM refund_log_entries WHERE refund_id = $1',
      [refundId],
    );
    expect((await verifyReceipt(rows[0]?.receipt ?? '', policy())).receipt.transactionId).toBe(refundId);
  });
});
