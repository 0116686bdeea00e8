import { randomUUID } from 'node:crypto';
import { type PrometheusSample, parsePrometheusText } from '@mpay/http-server';
import { isTransferRefusal } from '@mpay/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBankMetrics } from './metrics.ts';
import { createBankLedger } from './store/bank-ledger.ts';
import { observingTransfers } from './store/transfer-observer.ts';
import { startTestBank, type TestBank } from './test-helpers.ts';

/**
 * The bank's metrics over a real ledger: the batcher reports each batch
 * (transfers, commit time, each request's outcome), the committed transfers
 * are counted once their transaction committed, the tables give the
 * outboxes, and GET /metrics refuses a bank
 * started without a scrape token.
 */
let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
}, 60_000);
afterAll(async () => {
  await bank?.close();
});

function sampleValue(
  samples: readonly PrometheusSample[],
  name: string,
  labels: Record<string, string> = {},
) {
  const matching = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (matching.length === 0) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}

describe('the bank metrics', () => {
  it('count batches, their sizes and each transfer request by kind and outcome', async () => {
    const metrics = createBankMetrics(bank.database, bank.now);
    // As the service opens it: the transfers its transactions write are counted once committed.
    const database = observingTransfers(bank.database, (kinds) => metrics.transfersCommitted(kinds));
    const ledger = createBankLedger(database, {
      bankName: bank.name,
      limits: bank.service.limits,
      observeBatch: metrics.observeBatch,
    });
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 10_00n);
    const before = parsePrometheusText(await metrics.registry.expose());
    const transfer = (id: string, amount: bigint) => ({
      kind: 'posted' as const,
      id,
      debitAccountId: customer,
      creditAccountId: merchant,
      amount,
      ledger: 'EUR' as const,
      reference: 'metrics test',
    });
    const id = randomUUID();
    await ledger.createTransfer(transfer(id, 1_00n), bank.now());
    // Three at once share a batch: the same transfer again (replayed), a new one, and an overdraft.
    const results = await ledger.createTransfers(
      [transfer(id, 1_00n), transfer(randomUUID(), 2_00n), transfer(randomUUID(), 1_000_00n)],
      { linked: false },
      bank.now(),
    );
    expect(results.map((result) => (isTransferRefusal(result) ? 'refused' : result.created))).toEqual([
      false,
      true,
      'refused',
    ]);
    const after = parsePrometheusText(await metrics.registry.expose());
    const requests = (outcome: string) =>
      sampleValue(after, 'mpay_bank_ledger_transfer_requests_total', { kind: 'posted', outcome });
    expect([requests('created'), requests('replayed'), requests('refused')]).toEqual([2, 1, 1]);
    expect(sampleValue(after, 'mpay_bank_ledger_transfer_requests_total', { kind: 'pending' })).toBe(0);
    expect(sampleValue(after, 'mpay_bank_ledger_batch_transfers_sum')).toBe(4);
    const batches = sampleValue(after, 'mpay_bank_ledger_batch_transfers_count');
    expect(batches).toBeGreaterThanOrEqual(2);
    expect(batches).toBeLessThanOrEqual(4);
    expect(sampleValue(after, 'mpay_bank_ledger_batch_transfers_bucket', { le: '1' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(after, 'mpay_bank_ledger_batch_commit_duration_seconds_count')).toBe(batches);
    expect(sampleValue(after, 'mpay_bank_ledger_batch_fallbacks_total')).toBe(0);
    // The two transfers this ledger committed (the replay and the refusal wrote none).
    expect(
      sampleValue(after, 'mpay_bank_ledger_transfers_total', { kind: 'posted' }) -
        sampleValue(before, 'mpay_bank_ledger_transfers_total', { kind: 'posted' }),
    ).toBe(2);
    for (const outbox of [
      'payment_orders',
      'refund_orders',
      'banking_transactions',
      'banking_renewal_notices',
    ])
      expect(sampleValue(after, 'mpay_bank_outbox_pending', { outbox })).toBe(0);
    expect(sampleValue(after, 'mpay_bank_payment_orders', { state: 'sending' })).toBe(0);
    expect(sampleValue(after, 'mpay_bank_payment_orders_total', { state: 'completed' })).toBe(0);
  });

  it('refuses every scrape of a bank started without a metrics token', async () => {
    for (const authorization of [undefined, 'Bearer ', `Bearer ${'x'.repeat(32)}`]) {
      const response = await fetch(`${bank.url}/metrics`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(response.status).toBe(401);
    }
  });
});
