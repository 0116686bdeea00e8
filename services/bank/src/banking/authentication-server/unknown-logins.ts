/**
 * Logins started with a decoy (login.ts): a start without a valid statement
 * of the customer's device, a replayed one, an unknown user id, or a
 * customer without a password. They are answered like any other (OPAQUE's
 * fake record under the user id's decoy identifier), but banking_sessions
 * must not hold them: a row would say the id was tried, and they are not
 * counted. Their OPAQUE server state is kept here, in memory, bounded and
 * expiring, only so that their finish does the same work as a wrong password
 * before it fails (no shortcut an observer could time). Lost on restart,
 * which only makes their finish fail as it would anyway.
 */

/** Most such logins kept at once; beyond it the oldest is forgotten (its finish fails, as it would). */
export const unknownUserLoginsMax = 10_000;

interface UnknownUserLogin {
  readonly serverLoginState: string;
  readonly expiresAtMs: number;
}

export class UnknownUserLogins {
  readonly #logins = new Map<string, UnknownUserLogin>();
  readonly #max: number;

  constructor(max: number = unknownUserLoginsMax) {
    if (!Number.isSafeInteger(max) || max < 1) throw new Error('assertion failed: a positive bound');
    this.#max = max;
  }

  get size(): number {
    return this.#logins.size;
  }

  remember(loginId: string, serverLoginState: string, expiresAt: Date, now: Date): void {
    // Insertion order is age order: drop the expired from the front, then the oldest while full.
    for (const [id, login] of this.#logins) {
      if (login.expiresAtMs > now.getTime() && this.#logins.size < this.#max) break;
      this.#logins.delete(id);
    }
    this.#logins.set(loginId, { serverLoginState, expiresAtMs: expiresAt.getTime() });
    if (this.#logins.size > this.#max) throw new Error('assertion failed: unknown-user logins are bounded');
  }

  /** The login's OPAQUE server state, once (it is forgotten), if it is known and not expired. */
  take(loginId: string, now: Date): string | undefined {
    const login = this.#logins.get(loginId);
    if (login === undefined) return undefined;
    this.#logins.delete(loginId);
    return login.expiresAtMs > now.getTime() ? login.serverLoginState : undefined;
  }
}

const byContext = new WeakMap<object, UnknownUserLogins>();

/** The unknown-user logins of one bank service (its banking context). */
export function unknownUserLoginsOf(context: object): UnknownUserLogins {
  let logins = byContext.get(context);
  if (logins === undefined) {
    logins = new UnknownUserLogins();
    byContext.set(context, logins);
  }
  return logins;
}
