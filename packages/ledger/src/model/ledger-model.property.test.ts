import { isMpayError } from '@mpay/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epoch, ledgerIdOf } from '../test-fixtures.ts';
import { type LedgerOperation, ledgerOperationsArbitrary } from '../testing/operations.ts';
import { emptyStatistics, type LedgerUnderTest, runLedgerOperations } from '../testing/run-operations.ts';
import { isResolveRequest, recordTransfer } from '../transfer/transfer.ts';
import {
  emptyLedgerModel,
  type LedgerModel,
  modelCreateLinkedTransfers,
  modelCreateTransfer,
  modelExpirePendingTransfers,
  modelOpenAccount,
} from './ledger-model.ts';

describe('the ledger model under random operations', () => {
  it('never breaks conservation, never overdraws a flagged account, always matches its transfer log', async () => {
    const statistics = emptyStatistics();
    await fc.assert(
      fc.asyncProperty(ledgerOperationsArbitrary(60), async (operations) => {
        await runLedgerOperations(operations, { idOf: ledgerIdOf, start: epoch, statistics });
      }),
      { numRuns: 1000 },
    );
    // The property must have exercised every path, or it proves nothing.
    for (const kind of ['posted', 'pending', 'post_pending', 'void_pending']) {
      expect(statistics.created[kind] ?? 0).toBeGreaterThan(10);
    }
    for (const code of [
      'INSUFFICIENT_FUNDS',
      'CURRENCY_MISMATCH',
      'TRANSFER_NOT_PENDING',
      'TRANSFER_ALREADY_POSTED',
      'TRANSFER_ALREADY_VOIDED',
      'TRANSFER_EXPIRED',
      'POST_AMOUNT_EXCEEDS_PENDING',
      'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
    ]) {
      expect(statistics.refused[code] ?? 0, code).toBeGreaterThan(0);
    }
    expect(statistics.refused.LINKED_EVENT_FAILED ?? 0).toBeGreaterThan(10);
    expect(statistics.replayed).toBeGreaterThan(10);
    expect(statistics.expired).toBeGreaterThan(10);
    expect(statistics.chainsCommitted).toBeGreaterThan(10);
    expect(statistics.chainsFailed).toBeGreaterThan(10);
  });

  it('the runner compares an implementation with the model: a faithful copy passes', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerOperationsArbitrary(40), async (operations) => {
        await runLedgerOperations(operations, {
          idOf: ledgerIdOf,
          start: epoch,
          implementation: modelBacked(),
        });
      }),
      { numRuns: 50 },
    );
  });

  it('the runner catches an implementation that lets a customer overdraw (negative control)', async () => {
    const overdrawing = modelBacked({ skipFundsCheck: true });
    const operations: LedgerOperation[] = [
      { type: 'open', kind: 'customer', ledger: 'EUR' },
      { type: 'open', kind: 'merchant', ledger: 'EUR' },
      {
        type: 'transfer',
        kind: 'posted',
        debit: 0,
        credit: 1,
        amount: 5n,
        timeoutSeconds: 1,
        currencyOf: 'debit',
      },
    ];
    await expect(runLedgerOperations(operations, { idOf: ledgerIdOf, start: epoch })).resolves.toBeDefined();
    await expect(
      runLedgerOperations(operations, { idOf: ledgerIdOf, start: epoch, implementation: overdrawing }),
    ).rejects.toThrow(/implementation gave true .* model INSUFFICIENT_FUNDS/);
  });

  it('the runner catches an implementation that commits part of a failed chain (negative control)', async () => {
    const operations: LedgerOperation[] = [
      { type: 'open', kind: 'funding', ledger: 'EUR' },
      { type: 'open', kind: 'customer', ledger: 'EUR' },
      {
        type: 'linked',
        members: [
          {
            type: 'transfer',
            kind: 'posted',
            debit: 0,
            credit: 1,
            amount: 5n,
            timeoutSeconds: 1,
            currencyOf: 'debit',
          },
          {
            type: 'transfer',
            kind: 'posted',
            debit: 1,
            credit: 0,
            amount: 9n,
            timeoutSeconds: 1,
            currencyOf: 'debit',
          },
        ],
      },
    ];
    const model = await runLedgerOperations(operations, { idOf: ledgerIdOf, start: epoch });
    expect(model.transfers.size).toBe(0);
    await expect(
      runLedgerOperations(operations, {
        idOf: ledgerIdOf,
        start: epoch,
        implementation: modelBacked({ unlinked: true }),
      }),
    ).rejects.toThrow(/implementation gave true .*\nINSUFFICIENT_FUNDS, model LINKED_EVENT_FAILED/);
  });
});

/**
 * The model itself behind the LedgerUnderTest interface; `skipFundsCheck` and
 * `unlinked` (chain members committed one by one) make deliberately broken copies.
 */
function modelBacked(options: { skipFundsCheck?: boolean; unlinked?: boolean } = {}): LedgerUnderTest {
  let model: LedgerModel = emptyLedgerModel;
  let counter = 10_000;
  return {
    openAccount: async (account) => {
      model = modelOpenAccount(model, account);
    },
    createTransfer: async (request, now) => {
      try {
        const outcome = modelCreateTransfer(model, request, now);
        model = outcome.model;
        return outcome;
      } catch (error) {
        if (!options.skipFundsCheck || !isMpayError(error, 'INSUFFICIENT_FUNDS') || isResolveRequest(request))
          throw error;
        return { transfer: recordTransfer(request, now), created: true };
      }
    },
    createLinkedTransfers: async (requests, now) => {
      if (!options.unlinked) {
        const outcome = modelCreateLinkedTransfers(model, requests, now);
        model = outcome.model;
        return outcome.results;
      }
      return requests.map((request) => {
        const outcome = modelCreateLinkedTransfers(model, [request], now);
        model = outcome.model;
        return outcome.results[0]!;
      });
    },
    expirePendingTransfers: async (now) => {
      const nextId = () => {
        counter += 1;
        return ledgerIdOf(counter);
      };
      const swept = modelExpirePendingTransfers(model, now, nextId, 1_000);
      model = swept.model;
      return swept.expired;
    },
    getAccounts: async (ids) => ids.map((id) => model.accounts.get(id)!),
  };
}
