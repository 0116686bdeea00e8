import type { PaymentRequestView, Wallet } from '@mpay/sdk';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { expiresAtOf } from './level.ts';

/**
 * The live payment requests of an unlocked wallet: `Wallet.paymentRequests`
 * (Server-Sent Events from the gateway, through the web server's proxy), each
 * request decrypted and verified by the SDK before it is listed. A request
 * that does not verify is never listed: it is kept apart as a refusal, to warn
 * the customer, and the stream goes on.
 */

/** A request the phone received and refused: it did not open or verify. */
export interface RefusedRequest {
  /** The event's id as sent (unverified: for dismissing it, not for display as fact). */
  readonly eventId: string;
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

export function useRequestFeed(wallet: Wallet, onLocked: (error: unknown) => void): RequestFeed {
  const [state, setState] = useState<FeedState>({ status: 'off', requests: [], refused: [] });
  const abortRef = useRef<AbortController | undefined>(undefined);
  const answeredRef = useRef(new Set<string>());
  const onLockedRef = useRef(onLocked);
  onLockedRef.current = onLocked;

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
      const refuse = (refusal: { eventId: string; code: string }) => {
        if (abort.signal.aborted) return;
        const at = new Date().toISOString();
        setState((previous) => ({
          ...previous,
          refused: [
            { ...refusal, at },
            ...previous.refused.filter((r) => r.eventId !== refusal.eventId),
          ].slice(0, refusalsShownMax),
        }));
      };
      (async () => {
        for await (const view of wallet.paymentRequests(pin, abort.signal, refuse)) {
          if (abort.signal.aborted) return;
          if (answeredRef.current.has(view.paymentId)) continue;
          setState((previous) => ({
            ...previous,
            requests: newestFirst([view, ...previous.requests.filter((r) => r.paymentId !== view.paymentId)]),
          }));
        }
        if (!abort.signal.aborted) setState((previous) => ({ ...previous, status: 'ended' }));
      })().catch((error: unknown) => {
        if (abort.signal.aborted) return;
        setState((previous) => ({ ...previous, status: 'ended', error }));
        if (!wallet.unlocked) onLockedRef.current(error);
      });
    },
    [wallet],
  );

  const answered = useCallback((paymentId: string) => {
    answeredRef.current.add(paymentId);
    setState((previous) => ({
      ...previous,
      requests: previous.requests.filter((request) => request.paymentId !== paymentId),
    }));
  }, []);

  const dismissRefusal = useCallback((eventId: string) => {
    setState((previous) => ({
      ...previous,
      refused: previous.refused.filter((refusal) => refusal.eventId !== eventId),
    }));
  }, []);

  useEffect(() => () => abortRef.current?.abort(), []);
  return { state, open, close, answered, dismissRefusal };
}
