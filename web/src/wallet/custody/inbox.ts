import {
  type CustodyPaymentRequestView,
  type CustodyWallet,
  type DelegationResult,
  type InboxEvent,
  inboxWaitMsMax,
  type RefundReceipt,
} from '@mpay/sdk';
import { describeError } from '../../ui/errors.ts';
import {
  recordOfAnswer,
  recordOfRefund,
  recordOfRequest,
  recordOfStatement,
  recordOfUnverified,
} from './records.ts';
import {
  type CustodyAlertRecord,
  type CustodyPaymentRecord,
  type CustodyRefundRecord,
  historyEntriesMax,
  readAlerts,
  readCursor,
  readPayments,
  readRefunds,
  recordRefund,
  writeAlert,
  writeCursor,
  writePayment,
} from './store.ts';

/**
 * The phone's live inbox at custody (iMS §5 step 2): a long poll of custody's
 * inbox after the stored cursor. Every event is opened with the SDK
 * (`openForward`: custody's pinned key, then the FSP's and the merchant's
 * signatures); only what verified becomes a request the customer can answer,
 * a payment's end or a refund kept in the history. A message that fails to
 * verify is kept as a warning with its stable code, never shown as what it
 * claims to be.
 */

/** First pause after a failed poll; it doubles up to `reconnectDelayMsMax`. */
const reconnectDelayMs = 500;
const reconnectDelayMsMax = 15_000;
/** Warnings shown at once (the newest); older ones are dropped from the screen. */
const warningsShownMax = 5;

export interface InboxWarning {
  readonly cursor: string;
  readonly event: InboxEvent['event'];
  readonly error: unknown;
}

export interface InboxState {
  /** Every payment this phone has seen, newest first. */
  readonly payments: readonly CustodyPaymentRecord[];
  /** Every refund this phone kept, newest first. */
  readonly refunds: readonly CustodyRefundRecord[];
  /** The newest refund kept since the page opened (read from the inbox now, not loaded from the phone). */
  readonly refundArrived?: CustodyRefundRecord;
  /** Verified requests waiting for an answer, by payment id: only these can be confirmed. */
  readonly requests: ReadonlyMap<string, CustodyPaymentRequestView>;
  readonly alerts: readonly CustodyAlertRecord[];
  readonly warnings: readonly InboxWarning[];
  readonly connection: 'connecting' | 'live' | 'lost';
  readonly connectionError?: unknown;
}

const initialState: InboxState = {
  payments: [],
  refunds: [],
  requests: new Map(),
  alerts: [],
  warnings: [],
  connection: 'connecting',
};

function nowText(): string {
  return new Date().toISOString();
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class CustodyInbox {
  readonly #wallet: CustodyWallet;
  #state: InboxState = initialState;
  readonly #listeners = new Set<(state: InboxState) => void>();
  #stopped = false;

  constructor(wallet: CustodyWallet) {
    this.#wallet = wallet;
  }

  get state(): InboxState {
    return this.#state;
  }

  subscribe(listener: (state: InboxState) => void): () => void {
    this.#listeners.add(listener);
    listener(this.#state);
    return () => this.#listeners.delete(listener);
  }

  #set(change: Partial<InboxState>): void {
    this.#state = { ...this.#state, ...change };
    for (const listener of this.#listeners) listener(this.#state);
  }

  /** Loads what the phone kept, re-verifies the requests still waiting, then polls until `stop`. */
  async start(): Promise<void> {
    const [payments, refunds, alerts] = await Promise.all([readPayments(), readRefunds(), readAlerts()]);
    this.#set({ payments, refunds, alerts });
    for (const record of payments) {
      if (this.#stopped) return;
      if (record.status === 'pending' && record.forward !== undefined)
        await this.#reopen(record.forward, record);
    }
    await this.#poll();
  }

  stop(): void {
    this.#stopped = true;
  }

  async #poll(): Promise<void> {
    let cursor = await readCursor();
    let failures = 0;
    // The first read answers at once (the page says "live" as soon as custody answered); then long polls.
    let waitMs = 0;
    while (!this.#stopped) {
      let events: InboxEvent[];
      try {
        events = await this.#wallet.events(cursor, waitMs);
        waitMs = inboxWaitMsMax;
      } catch (error) {
        if (this.#stopped) return;
        failures += 1;
        this.#set({ connection: 'lost', connectionError: error });
        await pause(Math.min(reconnectDelayMsMax, reconnectDelayMs * 2 ** Math.min(failures, 5)));
        continue;
      }
      if (this.#stopped) return;
      failures = 0;
      if (this.#state.connection !== 'live') this.#set({ connection: 'live', connectionError: undefined });
      for (const event of events) {
        await this.#apply(event);
        cursor = event.cursor;
        await writeCursor(cursor);
      }
    }
  }

  async #reopen(forward: string, record: CustodyPaymentRecord): Promise<void> {
    try {
      const opened = await this.#wallet.openForward(forward);
      if (opened.event === 'payment-request') await this.#request(opened.request);
    } catch (error) {
      await this.#store(recordOfUnverified(record.paymentId, describeError(error).code, nowText(), record));
    }
  }

  async #apply(event: InboxEvent): Promise<void> {
    let opened: Awaited<ReturnType<CustodyWallet['openForward']>>;
    try {
      opened = await this.#wallet.openForward(event.forward);
    } catch (error) {
      await this.#refused(event, error);
      return;
    }
    const now = nowText();
    switch (opened.event) {
      case 'payment-request':
        await this.#request(opened.request);
        return;
      case 'receipt':
        await this.#store(
          recordOfStatement('receipt', opened.receipt, opened.paymentId, now, this.#find(opened.paymentId)),
        );
        return;
      case 'outcome':
        await this.#store(
          recordOfStatement('outcome', opened.outcome, opened.paymentId, now, this.#find(opened.paymentId)),
        );
        return;
      case 'refund-receipt':
        await this.#refund(event, opened.refundReceipt, now);
        return;
      case 'alert': {
        const alert: CustodyAlertRecord = { alertId: opened.alertId, ...opened.alert };
        await writeAlert(alert);
        this.#set({
          alerts: [alert, ...this.#state.alerts.filter((entry) => entry.alertId !== alert.alertId)],
        });
        return;
      }
    }
  }

  /**
   * A forward that did not verify: a request is kept as unverified (or
   * expired), anything else is a warning. An expired request, receipt or
   * outcome is moot by then; a refund receipt is money given back, so even an
   * expired one is warned of (the customer checks the bank's statement).
   */
  async #refused(event: InboxEvent, error: unknown): Promise<void> {
    const code = describeError(error).code;
    if (event.event === 'payment-request' && event.paymentId !== undefined) {
      const previous = this.#find(event.paymentId);
      // An old request read again after it was answered is only old, not forged.
      if (code === 'MESSAGE_EXPIRED' && previous !== undefined && previous.status !== 'pending') return;
      await this.#store(recordOfUnverified(event.paymentId, code, nowText(), previous));
    }
    if (code === 'MESSAGE_EXPIRED' && event.event !== 'refund-receipt') return;
    const warning: InboxWarning = { cursor: event.cursor, event: event.event, error };
    this.#set({ warnings: [warning, ...this.#state.warnings].slice(0, warningsShownMax) });
  }

  async #request(view: CustodyPaymentRequestView): Promise<void> {
    const record = recordOfRequest(view, nowText(), this.#find(view.paymentId));
    await this.#store(record);
    if (record.status !== 'pending') return;
    const requests = new Map(this.#state.requests);
    requests.set(view.paymentId, view);
    this.#set({ requests });
  }

  /** A verified refund receipt: kept once per refund id; one with an amount that does not parse is refused. */
  async #refund(event: InboxEvent, receipt: RefundReceipt, now: string): Promise<void> {
    let record: CustodyRefundRecord;
    try {
      record = recordOfRefund(receipt, now, this.#find(receipt.paymentId));
    } catch (error) {
      await this.#refused(event, error);
      return;
    }
    if (!(await recordRefund(record))) return;
    const refunds = [record, ...this.#state.refunds.filter((entry) => entry.refundId !== record.refundId)];
    this.#set({ refunds: refunds.slice(0, historyEntriesMax), refundArrived: record });
  }

  #find(paymentId: string): CustodyPaymentRecord | undefined {
    return this.#state.payments.find((record) => record.paymentId === paymentId);
  }

  async #store(record: CustodyPaymentRecord): Promise<void> {
    await writePayment(record);
    const payments = [
      record,
      ...this.#state.payments.filter((entry) => entry.paymentId !== record.paymentId),
    ];
    payments.sort((left, right) => right.receivedAt.localeCompare(left.receivedAt));
    payments.splice(historyEntriesMax);
    if (record.status === 'pending' || !this.#state.requests.has(record.paymentId)) {
      this.#set({ payments });
      return;
    }
    // Answered (here, on another phone, or by the FSP's outcome): no longer a request to answer.
    const requests = new Map(this.#state.requests);
    requests.delete(record.paymentId);
    this.#set({ payments, requests });
  }

  /** Custody's answer to the customer's PIN (steps 4–6, and the receipt of step 10 when the bank paid). */
  async settle(result: DelegationResult): Promise<CustodyPaymentRecord | undefined> {
    const previous = this.#find(result.paymentId);
    if (previous === undefined) return undefined;
    const now = nowText();
    const record =
      result.status === 'completed'
        ? recordOfStatement('receipt', result.receipt, result.paymentId, now, previous)
        : recordOfAnswer(result.status, now, previous);
    await this.#store(record);
    return record;
  }
}
