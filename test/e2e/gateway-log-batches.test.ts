import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LogStack, startLogStack } from '@mpay/log-service';
import { verifyReceipt } from '@mpay/merkle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransactionLogLink } from '../../services/gateway/src/log/outbox.ts';
import { runOutboxRound } from '../../services/gateway/src/outbox/deliver.ts';
import {
  addBank,
  addMerchant,
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
      asked.push(`${incoming.method} ${(incoming.url ?? '').split('?')[0]}`);
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
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
    expect(asked).toEqual(['GET /checkpoint', 'GET /proofs/consistency', 'GET /proofs/inclusions']);
    expect(await rowOf(ids[0] ?? '')).toMatchObject({
      receipt: null,
      delivered: false,
      attempts: 1,
      last_error: 'PROOF_INVALID',
    });
    for (const id of [ids[1], ids[2]])
      expect(await rowOf(id ?? '')).toMatchObject({ delivered: true, attempts: 1 });
  });
});
