import type { Database } from '@mpay/storage';
import { sweepBankingSessions } from '../banking/authentication-server/sweep.ts';
import type { BankingContext } from '../banking/context.ts';
import { sendDueRenewalNotices } from '../banking/key-management-server/renewal-notices.ts';
import { advanceBankingTransactions } from '../banking/transaction-log-server-client/submit.ts';
import { sweepRequestNonces } from '../http/request-nonces.ts';
import type { BankLedger } from '../store/bank-ledger.ts';
import { type DeliveryContext, deliverOrder } from './deliver.ts';
import { selectDueOrders } from './orders-store.ts';
import { deliverRefundOrder } from './refund-deliver.ts';
import { selectDueRefundOrders } from './refund-orders-store.ts';

export interface BankWorker {
  /** One pass: deliver due payment orders, void expired holds. Returns what it did. */
  runOnce(): Promise<{ delivered: number; expired: number }>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Most orders one pass delivers; the next pass takes the rest. */
const deliveryBatchMax = 100;
const deliveriesInParallel = 8;

/**
 * Forgets nonces of funds-transfer messages that can no longer verify: past
 * their expiry plus the verifier's largest clock skew (300 s).
 */
async function sweepNonces(database: Database, now: Date): Promise<void> {
  await database.query('DELETE FROM interbank_nonces WHERE expires_at < $1', [
    new Date(now.getTime() - 300_000).toISOString(),
  ]);
}

/**
 * The bank's background work, safe to run in several processes at once (every
 * step is guarded by row locks and deterministic ids): the outbox of payment
 * orders (a crashed process picks up every order still 'sending' on restart)
 * and the expiry sweep of holds.
 */
export function createBankWorker(
  context: DeliveryContext | undefined,
  ledger: BankLedger,
  clock: () => Date,
  banking?: BankingContext | undefined,
  /** The bank's database, to forget the nonces of request tokens that expired. */
  requestNonces?: Database | undefined,
): BankWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const runOnce = async () => {
    let delivered = 0;
    if (context !== undefined) {
      const due = await selectDueOrders(context.database, clock(), deliveryBatchMax);
      // A few at a time, so that one unreachable peer (a timeout per order) does not hold up the others.
      for (let start = 0; start < due.length; start += deliveriesInParallel) {
        await Promise.all(
          due.slice(start, start + deliveriesInParallel).map((id) => deliverOrder(context, id)),
        );
      }
      // Refund orders (the merchant's bank paying a customer's bank back) the same way.
      const refunds = await selectDueRefundOrders(context.database, clock(), deliveryBatchMax);
      for (let start = 0; start < refunds.length; start += deliveriesInParallel) {
        await Promise.all(
          refunds.slice(start, start + deliveriesInParallel).map((id) => deliverRefundOrder(context, id)),
        );
      }
      delivered = due.length + refunds.length;
      await sweepNonces(context.database, clock());
    }
    if (requestNonces !== undefined) await sweepRequestNonces(requestNonces, clock());
    const expired = (await ledger.expirePendingTransfers(clock())).length;
    if (banking !== undefined) {
      // SA2pMP: the bank's renewal notices, then its banking transactions to the third-party log.
      // One failing part does not hold up the others. Lapsed sessions lose their sealed keys first.
      await sweepBankingSessions(banking, clock()).catch((error: unknown) =>
        banking.alarm({ error: String(error) }, 'banking session sweep failed'),
      );
      await sendDueRenewalNotices(banking, clock()).catch((error: unknown) =>
        banking.alarm({ error: String(error) }, 'renewal notice pass failed'),
      );
      await advanceBankingTransactions(banking, clock());
    }
    return { delivered, expired };
  };
  const tick = (intervalMs: number) => {
    running = runOnce()
      .catch((error: unknown) => context?.alarm({ error: String(error) }, 'bank worker pass failed'))
      .finally(() => {
        if (timer !== undefined) timer = setTimeout(() => tick(intervalMs), intervalMs);
      });
  };
  return {
    runOnce,
    start(intervalMs) {
      if (timer !== undefined) return;
      timer = setTimeout(() => tick(intervalMs), 0);
    },
    async stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
