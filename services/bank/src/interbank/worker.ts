import type { BankLedger } from '../store/bank-ledger.ts';
import { type DeliveryContext, deliverOrder } from './deliver.ts';
import { selectDueOrders } from './orders-store.ts';

export interface BankWorker {
  /** One pass: deliver due payment orders, void expired holds. Returns what it did. */
  runOnce(): Promise<{ delivered: number; expired: number }>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Most orders one pass delivers; the next pass takes the rest. */
const deliveryBatchMax = 100;

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
): BankWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const runOnce = async () => {
    let delivered = 0;
    if (context !== undefined) {
      for (const id of await selectDueOrders(context.database, clock(), deliveryBatchMax)) {
        await deliverOrder(context, id);
        delivered += 1;
      }
    }
    const expired = (await ledger.expirePendingTransfers(clock())).length;
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
