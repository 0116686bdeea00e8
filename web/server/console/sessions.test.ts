import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { createConsoleLimits } from './limits.ts';
import { cookieValue, SessionStore, SignInLimiter, sessionCookie, tokenMatches } from './sessions.ts';

function clock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return {
    now: () => new Date(now),
    advanceSeconds: (seconds: number) => {
      now += seconds * 1000;
    },
  };
}

const codeOf = (work: () => unknown) => {
  try {
    work();
    return undefined;
  } catch (error) {
    return isMpayError(error) ? error.code : String(error);
  }
};

describe("the console's sessions", () => {
  const limits = createConsoleLimits({
    sessionLifetimeSeconds: 3_600,
    sessionIdleSeconds: 600,
    sessionsMax: 3,
  });

  it('open with a random id, restart their idle time on use, and end after it', () => {
    const time = clock();
    const store = new SessionStore(limits, time.now);
    const { id, session } = store.create();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.create().id).not.toBe(id);
    expect(session.expiresAt.getTime() - time.now().getTime()).toBe(3_600_000);
    time.advanceSeconds(599);
    expect(store.touch(id).idleExpiresAt.getTime()).toBe(time.now().getTime() + 600_000);
    time.advanceSeconds(599);
    expect(codeOf(() => store.touch(id))).toBeUndefined();
    time.advanceSeconds(600);
    expect(codeOf(() => store.touch(id))).toBe('AUTHENTICATION_FAILED');
  });

  it('end at their lifetime however busy, at sign-out, and when newer ones push them out', () => {
    const time = clock();
    const store = new SessionStore(limits, time.now);
    const busy = store.create().id;
    for (let minute = 0; minute < 59; minute += 1) {
      time.advanceSeconds(60);
      store.touch(busy);
    }
    time.advanceSeconds(60);
    expect(codeOf(() => store.touch(busy))).toBe('AUTHENTICATION_FAILED');
    const signedOut = store.create().id;
    store.end(signedOut);
    expect(codeOf(() => store.touch(signedOut))).toBe('AUTHENTICATION_FAILED');
    const oldest = store.create().id;
    for (let index = 0; index < 3; index += 1) store.create();
    expect(store.size).toBe(3);
    expect(codeOf(() => store.touch(oldest))).toBe('AUTHENTICATION_FAILED');
  });

  it('refuse an absent, malformed or unknown id alike', () => {
    const store = new SessionStore(limits, clock().now);
    for (const id of [undefined, '', 'x', 'A'.repeat(43), `${store.create().id}=`])
      expect(
        codeOf(() => store.touch(id)),
        String(id),
      ).toBe('AUTHENTICATION_FAILED');
  });
});

describe('the operator token and the cookie', () => {
  it('compares the token whole, whatever its length', () => {
    const token = 'a-long-operator-token-0123456789';
    expect(tokenMatches(token, token)).toBe(true);
    for (const other of ['', token.slice(0, -1), `${token}x`, token.toUpperCase()])
      expect(tokenMatches(other, token), other).toBe(false);
    expect(() => tokenMatches('short', 'short')).toThrow(/16 characters/);
  });

  it('sets an HttpOnly, SameSite=Strict cookie for the console only, and reads it back once', () => {
    expect(sessionCookie('abc', 60, false)).toBe(
      'mpay_console=abc; Path=/console; Max-Age=60; HttpOnly; SameSite=Strict',
    );
    expect(sessionCookie('abc', 60, true)).toMatch(/; Secure$/);
    expect(cookieValue('a=1; mpay_console=abc; b=2', 'mpay_console')).toBe('abc');
    expect(cookieValue('mpay_console=abc; mpay_console=def', 'mpay_console')).toBeUndefined();
    expect(cookieValue(undefined, 'mpay_console')).toBeUndefined();
    expect(cookieValue('xmpay_console=abc', 'mpay_console')).toBeUndefined();
  });
});

describe('the sign-in limiter', () => {
  const limits = createConsoleLimits({
    signInFailuresPerClientMax: 3,
    signInClientsTrackedMax: 5,
    signInWindowSeconds: 60,
  });

  it('refuses a client after its wrong tokens until the window ends, and says when to come back', () => {
    const time = clock();
    const limiter = new SignInLimiter(limits, time.now);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      limiter.check('10.0.0.1');
      limiter.failed('10.0.0.1');
    }
    time.advanceSeconds(20);
    let refusal: unknown;
    try {
      limiter.check('10.0.0.1');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 'REQUEST_RATE_LIMITED', retryAfterSeconds: 40 });
    expect(codeOf(() => limiter.check('10.0.0.2'))).toBeUndefined();
    time.advanceSeconds(40);
    expect(codeOf(() => limiter.check('10.0.0.1'))).toBeUndefined();
  });

  it('never refuses a client for the failures of others (no lock-out by strangers), and stays bounded', () => {
    const limiter = new SignInLimiter(limits, clock().now);
    for (let client = 0; client < 50; client += 1)
      for (let attempt = 0; attempt < 3; attempt += 1) limiter.failed(`10.0.1.${client}`);
    expect(codeOf(() => limiter.check('10.0.9.9'))).toBeUndefined();
    // The last five addresses are remembered and refused; the first ones were forgotten.
    expect(codeOf(() => limiter.check('10.0.1.49'))).toBe('REQUEST_RATE_LIMITED');
    expect(codeOf(() => limiter.check('10.0.1.0'))).toBeUndefined();
  });
});
