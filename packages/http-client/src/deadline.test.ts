import { describe, expect, it } from 'vitest';
import { requestDeadline, withRequestDeadline } from './deadline.ts';

describe('a call’s deadline (requestDeadline)', () => {
  it('aborts with a TimeoutError once its time has passed', async () => {
    const deadline = requestDeadline(20);
    const reason = await new Promise<unknown>((done) =>
      deadline.signal.addEventListener('abort', () => done(deadline.signal.reason)),
    );
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('TimeoutError');
  });

  it('cleared, never aborts, and lets go of the caller’s signal', async () => {
    const caller = new AbortController();
    const deadline = requestDeadline(20, caller.signal);
    deadline.clear();
    caller.abort(new Error('given up'));
    // Past the deadline's time: a timer left behind would have aborted by now.
    await new Promise((done) => setTimeout(done, 60));
    expect(deadline.signal.aborted).toBe(false);
  });

  it('aborts with the caller’s reason when the caller gives up first, or had already', () => {
    const caller = new AbortController();
    const deadline = requestDeadline(60_000, caller.signal);
    const reason = new Error('the stream closed');
    caller.abort(reason);
    expect(deadline.signal.reason).toBe(reason);
    deadline.clear();
    const late = requestDeadline(60_000, AbortSignal.abort('gone'));
    expect(late.signal.reason).toBe('gone');
    late.clear();
  });

  it('refuses a deadline that is no time at all', () => {
    expect(() => requestDeadline(0)).toThrow(/positive/);
    expect(() => requestDeadline(Number.NaN)).toThrow(/positive/);
  });

  it('withRequestDeadline: the call sees the deadline, which is cleared once the call settles, thrown or not', async () => {
    let seen: AbortSignal | undefined;
    expect(
      await withRequestDeadline(20, async (signal) => {
        seen = signal;
        return 'answered';
      }),
    ).toBe('answered');
    const failure = new Error('refused');
    let failed: AbortSignal | undefined;
    await expect(
      withRequestDeadline(20, async (signal) => {
        failed = signal;
        throw failure;
      }),
    ).rejects.toBe(failure);
    // Past the deadlines' time: a timer left behind would have aborted them by now.
    await new Promise((done) => setTimeout(done, 60));
    expect(seen?.aborted).toBe(false);
    expect(failed?.aborted).toBe(false);
  });

  it('withRequestDeadline: a call still running at its deadline sees its signal abort', async () => {
    const reason = await withRequestDeadline(
      20,
      (signal) => new Promise<unknown>((done) => signal.addEventListener('abort', () => done(signal.reason))),
    );
    expect((reason as DOMException).name).toBe('TimeoutError');
  });
});
