import type { DeviceEventKind, PaymentClosed, PaymentRequestView, RefundReceipt, Wallet } from '@mpay/sdk';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { expiresAtOf } from './level.ts';

/**
 * The live events of an unlocked wallet: `Wallet.events` (Server-Sent Events
 * from the gateway, through the web server's proxy), each decrypted and
 * verified by the SDK before the page uses it. Payment requests are listed;
 * a listed request that ends before the customer answers it (the merchant
 * cancelled it, it expired: the FSP's signed outcome) leaves the list and is
 * handed to `onClosed`; refund receipts go to `onRefund`. An event that does
 * not verify is never used: it is kept apart as a refusal, to warn the
 * customer, and the stream goes on.
 */

/** A request the phone received and refused: it did not open or verify. */
export interface RefusedRequest {
  /** The event's id as sent (unverified: for dismissing it, not for display as fact). */
  readonly eventId: string;
  /** What the refused event claimed to be. */
  readonly event: DeviceEventKind;
  readonly code: string;
  readonly at: string;
}

export type FeedStatus = 'off' | 'listening' | 'ended';

export interface FeedState {
  readonly status: FeedStatus;
  /** Verified requests, newest first (by their expiry). */
  readonly requests: readonly PaymentRequestView[];
  readonly refused: readonly RefusedRequest[];
  /** Why the stream ended, when it did on its own. */
  readonly error?: unknown;
}

/** Refusals kept on screen at once; older ones are dropped. */
const refusalsShownMax = 10;

function newestFirst(requests: readonly PaymentRequestView[]): PaymentRequestView[] {
  const time = (view: PaymentRequestView) => expiresAtOf(view)?.getTime() ?? 0;
  return [...requests].sort((a, b) => time(b) - time(a));
}

export interface RequestFeed {
  readonly state: FeedState;
  /** Opens the stream with the PIN (checked against the open session). */
  open(pin: string): void;
  close(): void;
  /** Takes an answered request off the list (and keeps it off if the stream sends it again). */
  answered(paymentId: string): void;
  dismissRefusal(eventId: string): void;
}

/** What the page does with what the feed does not list itself. */
export interface FeedHandlers {
  /** The stream ended because the wallet locked (WALLET_LOCKED) or could not go on. */
  readonly onLocked: (error: unknown) => void;
  /** A listed request ended before the customer answered it. */
  readonly onClosed: (view: PaymentRequestView, closed: PaymentClosed) => void;
  readonly onRefund: (receipt: RefundReceipt) => void;
}

export function useRequestFeed(wallet: Wallet, handlers: FeedHandlers): RequestFeed {
  const [state, setState] = useState<FeedState>({ status: 'off', requests: [], refused: [] });
  const abortRef = useRef<AbortController | undefined>(undefined);
  const answeredRef = useRef(new Set<string>());
  // The requests as listed, for the events that end one (read outside a state update).
  const listedRef = useRef(new Map<string, PaymentRequestView>());
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;

  const answered = useCallback((paymentId: string) => {
    answeredRef.current.add(paymentId);
    listedRef.current.delete(paymentId);
    setState((previous) => ({
      ...previous,
      requests: previous.requests.filter((request) => request.paymentId !== paymentId),
    }));
  }, []);

  const close = useCallback(() => {
    abortRef.current?.abort();
    abortRef.current = undefined;
    setState((previous) => ({ ...previous, status: 'off', error: undefined }));
  }, []);

  const open = useCallback(
    (pin: string) => {
      abortRef.current?.abort();
      const abort = new AbortController();
      abortRef.current = abort;
      setState((previous) => ({ ...previous, status: 'listening', error: undefined }));
      const refuse = (refusal: { eventId: string; code: string; event?: DeviceEventKind }) => {
        if (abort.signal.aborted) return;
        const at = new Date().toISOString();
        setState((previous) => ({
          ...previous,
          refused: [
            { eventId: refusal.eventId, code: refusal.code, event: refusal.event ?? 'payment-request', at },
            ...previous.refused.filter((r) => r.eventId !== refusal.eventId),
          ].slice(0, refusalsShownMax),
        }));
      };
      (async () => {
        for await (const event of wallet.events(pin, abort.signal, refuse)) {
          if (abort.signal.aborted) return;
          if (event.kind === 'refund-receipt') {
            handlersRef.current.onRefund(event.receipt);
            continue;
          }
          if (event.kind === 'payment-closed') {
            const listed = listedRef.current.get(event.paymentId);
            if (listed === undefined) continue;
            answered(event.paymentId);
            handlersRef.current.onClosed(listed, event);
            continue;
          }
          const { view } = event;
          if (answeredRef.current.has(view.paymentId)) continue;
          listedRef.current.set(view.paymentId, view);
          setState((previous) => ({
            ...previous,
            requests: newestFirst([view, ...previous.requests.filter((r) => r.paymentId !== view.paymentId)]),
          }));
        }
        if (!abort.signal.aborted) setState((previous) => ({ ...previous, status: 'ended' }));
      })().catch((error: unknown) => {
        if (abort.signal.aborted) return;
        setState((previous) => ({ ...previous, status: 'ended', error }));
        if (!wallet.unlocked) handlersRef.current.onLocked(error);
      });
    },
    [wallet, answered],
  );

  const dismissRefusal = useCallback((eventId: string) => {
    setState((previous) => ({
      ...previous,
      refused: previous.refused.filter((refusal) => refusal.eventId !== eventId),
    }));
  }, []);

  useEffect(() => () => abortRef.current?.abort(), []);
  return { state, open, close, answered, dismissRefusal };
}
