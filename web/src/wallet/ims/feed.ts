import { isMpayError } from '@mpay/protocol';
import type {
  DeviceEventKind,
  DeviceEventView,
  PaymentClosed,
  PaymentRequestView,
  RefundReceipt,
  Wallet,
} from '@mpay/sdk';
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

/** off: not opened; listening; reconnecting: the connection dropped and the page opens it again by itself; ended: it gave up (the PIN opens it). */
export type FeedStatus = 'off' | 'listening' | 'reconnecting' | 'ended';

export interface FeedState {
  readonly status: FeedStatus;
  /** Verified requests, newest first (by their expiry). */
  readonly requests: readonly PaymentRequestView[];
  readonly refused: readonly RefusedRequest[];
  /** Why the stream ended, when it did on its own. */
  readonly error?: unknown;
  /** While reconnecting: the attempt (1 is the first) and when it is made. */
  readonly reconnect?: { readonly attempt: number; readonly at: string };
}

/** Refusals kept on screen at once; older ones are dropped. */
const refusalsShownMax = 10;

/** How the feed reopens a dropped stream while the wallet is unlocked (Wallet.resumeEvents, no PIN). */
export interface ReconnectLimits {
  /** The first pause after a drop; it doubles up to `delayMsMax`. */
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Attempts in a row without an event before the feed gives up and asks for the PIN. */
  readonly attemptsMax: number;
}

export const defaultReconnectLimits: ReconnectLimits = Object.freeze({
  delayMsMin: 1_000,
  delayMsMax: 30_000,
  attemptsMax: 12,
});

/**
 * Whether another connection may cure what ended the stream: a clean end (the
 * gateway restarted or closed it), a network failure, or a retryable code.
 * A wrong PIN, a lock or a device the gateway no longer accepts is not.
 */
function worthReconnecting(error: unknown): boolean {
  if (error === undefined) return true;
  if (!isMpayError(error)) return true;
  return error.category === 'retryable';
}

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

export function useRequestFeed(
  wallet: Wallet,
  handlers: FeedHandlers,
  limits: ReconnectLimits = defaultReconnectLimits,
): RequestFeed {
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
      let openedAt: number | undefined;
      const opened = () => {
        if (abort.signal.aborted) return;
        openedAt = Date.now();
        setState((previous) => ({
          ...previous,
          status: 'listening',
          error: undefined,
          reconnect: undefined,
        }));
      };
      const use = (event: DeviceEventView) => {
        if (event.kind === 'refund-receipt') return handlersRef.current.onRefund(event.receipt);
        if (event.kind === 'payment-closed') {
          const listed = listedRef.current.get(event.paymentId);
          if (listed === undefined) return;
          answered(event.paymentId);
          return handlersRef.current.onClosed(listed, event);
        }
        const { view } = event;
        if (answeredRef.current.has(view.paymentId)) return;
        listedRef.current.set(view.paymentId, view);
        setState((previous) => ({
          ...previous,
          requests: newestFirst([view, ...previous.requests.filter((r) => r.paymentId !== view.paymentId)]),
        }));
      };
      // One connection; when it drops while the wallet is unlocked, the next one opens after a pause.
      const listen = async (events: AsyncGenerator<DeviceEventView>, attempt: number): Promise<void> => {
        let failures = attempt;
        let error: unknown;
        openedAt = undefined;
        try {
          for await (const event of events) {
            if (abort.signal.aborted) return;
            failures = 0;
            use(event);
          }
        } catch (failure) {
          error = failure;
        }
        if (abort.signal.aborted) return;
        // A connection that held a while before it dropped starts the count again.
        if (openedAt !== undefined && Date.now() - openedAt > limits.delayMsMax) failures = 0;
        if (!wallet.unlocked) return handlersRef.current.onLocked(error);
        if (!worthReconnecting(error) || failures >= limits.attemptsMax) {
          setState((previous) => ({ ...previous, status: 'ended', error, reconnect: undefined }));
          return;
        }
        const pauseMs = Math.min(limits.delayMsMax, limits.delayMsMin * 2 ** failures);
        const at = new Date(Date.now() + pauseMs).toISOString();
        setState((previous) => ({
          ...previous,
          status: 'reconnecting',
          error,
          reconnect: { attempt: failures + 1, at },
        }));
        await new Promise<void>((resume) => {
          const timer = setTimeout(resume, pauseMs);
          abort.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resume();
          });
        });
        if (abort.signal.aborted) return;
        return listen(wallet.resumeEvents(abort.signal, refuse, opened), failures + 1);
      };
      setState((previous) => ({ ...previous, status: 'listening', error: undefined, reconnect: undefined }));
      listen(wallet.events(pin, abort.signal, refuse, opened), 0).catch((error: unknown) => {
        if (!abort.signal.aborted) setState((previous) => ({ ...previous, status: 'ended', error }));
      });
    },
    [wallet, answered, limits],
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
