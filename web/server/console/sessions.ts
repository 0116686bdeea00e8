import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MpayError } from '@mpay/protocol';
import type { ConsoleLimits } from './limits.ts';

/** The session cookie: HttpOnly, SameSite=Strict, only sent to the console's paths. */
export const sessionCookieName = 'mpay_console';
export const sessionCookiePath = '/console';

/** Random bytes of a session id (256 bits). */
const sessionIdBytes = 32;
const sessionIdPattern = /^[A-Za-z0-9_-]{43}$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compares the presented operator token with the configured one in constant
 * time: both are hashed first, so neither their content nor their length
 * shows in the time taken.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  if (expected.length < 16)
    throw new Error('assertion failed: the operator token has at least 16 characters');
  return timingSafeEqual(sha256(presented), sha256(expected));
}

export interface Session {
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** When it ends without another request. */
  readonly idleExpiresAt: Date;
}

interface StoredSession {
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  lastSeenMs: number;
}

/**
 * The console's sessions, kept on the server: the browser holds only a
 * random id in an HttpOnly cookie; the store keeps the id's SHA-256, so the
 * ids themselves are nowhere in memory after the answer that set them. A
 * session ends at its absolute lifetime, after its idle time, at sign-out,
 * or when `sessionsMax` newer ones push it out.
 */
export class SessionStore {
  readonly #sessions = new Map<string, StoredSession>();
  readonly #limits: ConsoleLimits;
  readonly #clock: () => Date;

  constructor(limits: ConsoleLimits, clock: () => Date) {
    this.#limits = limits;
    this.#clock = clock;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** A new session; returns its id for the cookie (the only time it exists in clear). */
  create(): { id: string; session: Session } {
    const nowMs = this.#clock().getTime();
    this.#forgetEnded(nowMs);
    while (this.#sessions.size >= this.#limits.sessionsMax) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(sessionIdBytes).toString('base64url');
    const stored: StoredSession = {
      createdAtMs: nowMs,
      expiresAtMs: nowMs + this.#limits.sessionLifetimeSeconds * 1000,
      lastSeenMs: nowMs,
    };
    this.#sessions.set(sha256(id).toString('hex'), stored);
    return { id, session: this.#view(stored) };
  }

  /** The live session of `id` (its idle time restarts), or AUTHENTICATION_FAILED. */
  touch(id: string | undefined): Session {
    if (id === undefined || !sessionIdPattern.test(id)) throw new MpayError('AUTHENTICATION_FAILED');
    const key = sha256(id).toString('hex');
    const stored = this.#sessions.get(key);
    const nowMs = this.#clock().getTime();
    if (stored === undefined || this.#ended(stored, nowMs)) {
      this.#sessions.delete(key);
      throw new MpayError('AUTHENTICATION_FAILED');
    }
    stored.lastSeenMs = nowMs;
    return this.#view(stored);
  }

  end(id: string | undefined): void {
    if (id !== undefined && sessionIdPattern.test(id)) this.#sessions.delete(sha256(id).toString('hex'));
  }

  #ended(stored: StoredSession, nowMs: number): boolean {
    return nowMs >= stored.expiresAtMs || nowMs >= stored.lastSeenMs + this.#limits.sessionIdleSeconds * 1000;
  }

  #forgetEnded(nowMs: number): void {
    for (const [key, stored] of this.#sessions) if (this.#ended(stored, nowMs)) this.#sessions.delete(key);
  }

  #view(stored: StoredSession): Session {
    return {
      createdAt: new Date(stored.createdAtMs),
      expiresAt: new Date(stored.expiresAtMs),
      idleExpiresAt: new Date(
        Math.min(stored.expiresAtMs, stored.lastSeenMs + this.#limits.sessionIdleSeconds * 1000),
      ),
    };
  }
}

/** The value of cookie `name` in a Cookie header, if present once and well-formed. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8_192) return undefined;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
  return values.length === 1 ? values[0] : undefined;
}

/** The Set-Cookie of a new session; `secure` when the console is served over HTTPS. */
export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${sessionCookieName}=${id}`,
    `Path=${sessionCookiePath}`,
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/** The Set-Cookie that removes the session cookie at sign-out. */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/**
 * Wrong operator tokens counted per client address over a fixed window: past
 * the bound every sign-in from that address (a right token too, so a guess
 * cannot be tested meanwhile) is REQUEST_RATE_LIMITED until the window ends.
 * Other addresses are never refused for it, so a stranger cannot lock the
 * operator out; at most signInClientsTrackedMax addresses are remembered.
 */
export class SignInLimiter {
  readonly #limits: ConsoleLimits;
  readonly #clock: () => Date;
  #windowStartMs = 0;
  readonly #failuresByClient = new Map<string, number>();

  constructor(limits: ConsoleLimits, clock: () => Date) {
    this.#limits = limits;
    this.#clock = clock;
  }

  /** Throws REQUEST_RATE_LIMITED (with Retry-After) when `client` may not try now. */
  check(client: string): void {
    const nowMs = this.#roll();
    const byClient = this.#failuresByClient.get(client) ?? 0;
    if (byClient < this.#limits.signInFailuresPerClientMax) return;
    const windowEndMs = this.#windowStartMs + this.#limits.signInWindowSeconds * 1000;
    throw new MpayError('REQUEST_RATE_LIMITED', 'sign-in', {
      retryAfterSeconds: Math.max(1, Math.ceil((windowEndMs - nowMs) / 1000)),
    });
  }

  failed(client: string): void {
    this.#roll();
    const failures = (this.#failuresByClient.get(client) ?? 0) + 1;
    this.#failuresByClient.delete(client);
    if (this.#failuresByClient.size >= this.#limits.signInClientsTrackedMax) {
      // Forget the address that failed longest ago (a Map keeps insertion order).
      const oldest = this.#failuresByClient.keys().next().value;
      if (oldest !== undefined) this.#failuresByClient.delete(oldest);
    }
    this.#failuresByClient.set(client, failures);
  }

  #roll(): number {
    const nowMs = this.#clock().getTime();
    if (
      nowMs >= this.#windowStartMs + this.#limits.signInWindowSeconds * 1000 ||
      nowMs < this.#windowStartMs
    ) {
      this.#windowStartMs = nowMs;
      this.#failuresByClient.clear();
    }
    return nowMs;
  }
}
