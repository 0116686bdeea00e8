/**
 * A call's deadline, ended with the call: `signal` aborts once `timeoutMs`
 * has passed (a TimeoutError, as AbortSignal.timeout's), or at once when
 * `also` aborts (with its reason); `clear` stops the timer and lets go of
 * `also`. AbortSignal.timeout's timer fires at its end whether or not the
 * call it bounded is long over (a DOMException with its stack made, an abort
 * dispatched, for every call of a busy service), and AbortSignal.any keeps
 * its sources' listeners until they are collected; a deadline cleared in a
 * `finally` leaves nothing behind.
 */
export interface RequestDeadline {
  readonly signal: AbortSignal;
  clear(): void;
}

export function requestDeadline(timeoutMs: number, also?: AbortSignal): RequestDeadline {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error('request deadline: timeoutMs must be a positive number');
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    timeoutMs,
  );
  // Never keeps a Node process alive by itself (as AbortSignal.timeout's); a browser's timer has no unref.
  (timer as { unref?: () => void }).unref?.();
  const onAbort = () => controller.abort(also?.reason);
  if (also?.aborted === true) controller.abort(also.reason);
  else also?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      also?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Runs `call` under a deadline (requestDeadline) and clears it once the call
 * settles, whatever it did: `call` reads the answer's body within it too, so
 * that a body that trickles meets the same deadline as the head.
 */
export async function withRequestDeadline<T>(
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
  also?: AbortSignal,
): Promise<T> {
  const deadline = requestDeadline(timeoutMs, also);
  try {
    return await call(deadline.signal);
  } finally {
    deadline.clear();
  }
}
