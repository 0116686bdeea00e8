import type { BankingStatementLine } from '@mpay/sdk';
import { useEffect, useState } from 'preact/hooks';
import { type OpenOrder, type OrderDraft, outcomeOfFailure, requestIdFor } from './order-draft.ts';
import { type BankingPhone, sessionEnded } from './phone.ts';
import { forgetOpenOrder, readOpenOrder, writeOpenOrder } from './store.ts';

/**
 * One money order of the logged-in customer (a transfer, a bill payment),
 * sent so that it moves money at most once however often it is tried: the
 * order's request id is drawn when it is first sent, kept in IndexedDB before
 * each try, and sent again with every try of the same order until its
 * outcome is known (order-draft.ts). An earlier try the bank had already
 * received (BANKING_REQUEST_REPLAYED: the bank does not answer the first
 * outcome again) is looked up on the statement, whose lines name the request
 * that made them.
 */

/** Statement lines read to find an order the bank had received: it is among the newest. */
const statementLinesSearched = 20;

export type OrderResult<D extends OrderDraft, R> =
  /** The bank's verified answer. */
  | { readonly kind: 'done'; readonly value: R }
  /** An earlier try was carried out: its line on the statement. */
  | {
      readonly kind: 'found';
      readonly draft: D;
      readonly requestId: string;
      readonly line: BankingStatementLine;
    }
  /** An earlier try reached the bank, and it is not on the statement (refused, or still on its way). */
  | { readonly kind: 'received'; readonly draft: D; readonly statementUnread: boolean }
  /** Not known whether it was carried out: no answer (error undefined: found open at the page's start). */
  | {
      readonly kind: 'unknown';
      readonly draft: D;
      readonly error: unknown;
      readonly unverified: boolean;
    }
  /** The bank refused it, or it was never sent: nothing moved. */
  | { readonly kind: 'refused'; readonly error: unknown };

export interface MoneyOrder<D extends OrderDraft, R> {
  readonly busy: boolean;
  readonly result: OrderResult<D, R> | undefined;
  /** The order whose outcome is open (its next try goes with the same request id). */
  readonly open: OpenOrder<D> | undefined;
  /** Sends `draft`: the open order's request id when it is the same order (and not `fresh`), else a new one. */
  readonly submit: (
    draft: D,
    options?: { readonly fresh?: boolean },
  ) => Promise<OrderResult<D, R> | undefined>;
}

async function findOnStatement(
  phone: BankingPhone,
  requestId: string,
): Promise<BankingStatementLine | undefined | 'unread'> {
  try {
    const statement = await phone.client.statement({ pageSize: statementLinesSearched });
    return statement.lines.find((line) => line.requestId === requestId && line.direction === 'debit');
  } catch {
    return 'unread';
  }
}

export function useMoneyOrder<D extends OrderDraft, R>(options: {
  readonly phone: BankingPhone;
  readonly kind: D['kind'];
  readonly onSessionEnded: (error: unknown) => void;
  /** Sends one try of the order with this request id (the SDK's transfer or payBill). */
  readonly send: (draft: D, requestId: string) => Promise<R>;
  /** An order left open by an earlier visit (its answer never came): the form shows it again. */
  readonly onRestored: (draft: D) => void;
}): MoneyOrder<D, R> {
  const { phone, kind } = options;
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<OpenOrder<D> | undefined>();
  const [result, setResult] = useState<OrderResult<D, R> | undefined>();

  useEffect(() => {
    void readOpenOrder<D>(kind).then(
      (stored) => {
        if (stored === undefined) return;
        setOpen(stored);
        options.onRestored(stored.draft);
        setResult(
          stored.state === 'received'
            ? { kind: 'received', draft: stored.draft, statementUnread: false }
            : { kind: 'unknown', draft: stored.draft, error: undefined, unverified: false },
        );
      },
      (error: unknown) => setResult({ kind: 'refused', error }),
    );
  }, [kind]);

  /**
   * The order's outcome is known: the next one is a new order. A delete that
   * failed leaves it stored: its next try is answered REPLAYED and found on
   * the statement, never carried out twice.
   */
  const settle = async () => {
    setOpen(undefined);
    await forgetOpenOrder(kind).catch(() => undefined);
  };

  /** A try that failed: what it says about the order, and the order kept or settled accordingly. */
  const failed = async (order: OpenOrder<D>, error: unknown): Promise<OrderResult<D, R> | undefined> => {
    // The order stays open (stored): the next try after the login is the same request.
    if (sessionEnded(phone, error)) {
      options.onSessionEnded(error);
      return undefined;
    }
    const outcome = outcomeOfFailure(error);
    if (outcome === 'refused') {
      await settle();
      return { kind: 'refused', error };
    }
    if (outcome !== 'received') {
      return { kind: 'unknown', draft: order.draft, error, unverified: outcome === 'unverified' };
    }
    const received: OpenOrder<D> = { ...order, state: 'received' };
    setOpen(received);
    await writeOpenOrder(received).catch(() => undefined);
    const line = await findOnStatement(phone, order.requestId);
    if (line === undefined || line === 'unread')
      return { kind: 'received', draft: order.draft, statementUnread: line === 'unread' };
    await settle();
    return { kind: 'found', draft: order.draft, requestId: order.requestId, line };
  };

  const attempt = async (draft: D, fresh: boolean): Promise<OrderResult<D, R> | undefined> => {
    const order: OpenOrder<D> = { requestId: requestIdFor(draft, open, fresh), draft, state: 'sent' };
    try {
      // Kept before it is sent: if the page closes while it is under way, the next try is the same request.
      await writeOpenOrder(order);
    } catch (error) {
      return { kind: 'refused', error };
    }
    setOpen(order);
    let value: R;
    try {
      value = await options.send(draft, order.requestId);
    } catch (error) {
      return failed(order, error);
    }
    await settle();
    return { kind: 'done', value };
  };

  const submit = async (draft: D, submitOptions: { readonly fresh?: boolean } = {}) => {
    if (busy) return undefined;
    setBusy(true);
    setResult(undefined);
    const next = await attempt(draft, submitOptions.fresh === true);
    setBusy(false);
    setResult(next);
    return next;
  };

  return { busy, result, open, submit };
}
