import type { BankingLimits } from './limits.ts';

/**
 * The multi-factor login of SA2pMP §4.2 as a table of states: "something you
 * have" (the device: its signature under the key the bank bound), "something
 * you know" (userid/password: OPAQUE, so the bank never sees the password),
 * "something you have" (the phone number: a one-time code sent to the
 * registered MSISDN) and the digital signature itself. The bank runs
 * `stepBankingLogin` and persists the next state with its effects in one
 * transaction.
 *
 *   password_started ──password, device, number proved──▶ code_sent ──code──▶ active
 *         │                                                  │                   │
 *         └──any factor failed──▶ refused ◀──last wrong code─┘                   └─▶ closed
 *
 * Every try counts against the customer (across devices and factors), from
 * the moment its first step is answered: OPAQUE's KE2 lets the client test
 * one password guess on its own, so a login that is never finished still
 * cost a try (`startBankingLoginTry`). A wrong code counts once more. Only a
 * login that proves every factor resets the count; the failure that finds
 * the count at `loginFailuresMax` blocks the customer. No answer says which
 * factor failed (PSD2 RTS Art. 4).
 */
export const bankingLoginStates = ['password_started', 'code_sent', 'active', 'refused', 'closed'] as const;
export type BankingLoginState = (typeof bankingLoginStates)[number];

export interface BankingLoginStep {
  /** Where the paper describes it. */
  readonly section: string;
  readonly factor: string;
  readonly next: readonly BankingLoginState[];
}

export const bankingLoginTable: Readonly<Record<BankingLoginState, BankingLoginStep>> = Object.freeze({
  password_started: {
    section: '§4.2 Multi-factor Authentication: something you know (userid/password)',
    factor: 'password (OPAQUE KE1/KE2 answered; the try counted)',
    next: ['code_sent', 'refused'],
  },
  code_sent: {
    section: '§4.2: something you have (the mobile device) and the digital signature; the phone number',
    factor: 'password proved, device signature verified, ID_C and MSISDN match; code sent by SMS',
    next: ['active', 'code_sent', 'refused'],
  },
  active: {
    section: '§5.2 Authentication Server: the session every E(S(msg, ID_C)) is checked against',
    factor: 'every factor proved',
    next: ['closed'],
  },
  refused: { section: '§4.2', factor: 'a factor failed', next: [] },
  closed: { section: '§4.3', factor: 'expired, logged out, or its key revoked or renewed', next: [] },
});

export type BankingLoginEvent =
  | { readonly kind: 'factors_proved' }
  | { readonly kind: 'factor_failed' }
  | { readonly kind: 'code_proved' }
  | { readonly kind: 'code_failed' }
  | { readonly kind: 'close' };

/** What the bank must do with the step, in the same transaction. */
export type BankingLoginEffect =
  | { readonly kind: 'send_code' }
  | { readonly kind: 'count_failure' }
  | { readonly kind: 'block_customer' }
  | { readonly kind: 'reset_failures' }
  | { readonly kind: 'open_session' };

export interface BankingLoginSnapshot {
  readonly state: BankingLoginState;
  /** Wrong codes this login took. */
  readonly codeFailures: number;
  /** The customer's failed logins in a row before this step (across devices). */
  readonly customerFailures: number;
}

export interface BankingLoginStepResult {
  readonly next: BankingLoginSnapshot;
  readonly effects: readonly BankingLoginEffect[];
}

/**
 * The count a login takes when its first step is answered, before anything a
 * guess could be tested with leaves the bank: refused (nothing answered) when
 * the customer already has `loginFailuresMax` failures, else one more.
 */
export function startBankingLoginTry(
  customerFailures: number,
  limits: Pick<BankingLimits, 'loginFailuresMax'>,
): { readonly allowed: false } | { readonly allowed: true; readonly customerFailures: number } {
  if (customerFailures >= limits.loginFailuresMax) return { allowed: false };
  return { allowed: true, customerFailures: customerFailures + 1 };
}

function failure(
  snapshot: BankingLoginSnapshot,
  limits: Pick<BankingLimits, 'loginFailuresMax'>,
  state: BankingLoginState,
  codeFailures: number,
  counted: boolean,
): BankingLoginStepResult {
  const customerFailures = snapshot.customerFailures + (counted ? 0 : 1);
  const blocked = customerFailures >= limits.loginFailuresMax;
  const effects: BankingLoginEffect[] = counted ? [] : [{ kind: 'count_failure' }];
  if (blocked) effects.push({ kind: 'block_customer' });
  return { next: { state: blocked ? 'refused' : state, codeFailures, customerFailures }, effects };
}

/**
 * One step of a login. Throws on an event the state does not take (a bug or a
 * replay the caller must refuse before it gets here).
 */
export function stepBankingLogin(
  snapshot: BankingLoginSnapshot,
  event: BankingLoginEvent,
  limits: Pick<BankingLimits, 'loginFailuresMax' | 'codeTriesPerLoginMax'>,
): BankingLoginStepResult {
  const { state } = snapshot;
  const fail = (): never => {
    throw new Error(`assertion failed: a ${state} login takes no ${event.kind}`);
  };
  switch (event.kind) {
    case 'factors_proved':
      if (state !== 'password_started') return fail();
      return { next: { ...snapshot, state: 'code_sent' }, effects: [{ kind: 'send_code' }] };
    case 'factor_failed':
      if (state !== 'password_started') return fail();
      // Its try was counted when the first step was answered (startBankingLoginTry).
      return failure(snapshot, limits, 'refused', snapshot.codeFailures, true);
    case 'code_proved':
      if (state !== 'code_sent') return fail();
      return {
        next: { state: 'active', codeFailures: snapshot.codeFailures, customerFailures: 0 },
        effects: [{ kind: 'reset_failures' }, { kind: 'open_session' }],
      };
    case 'code_failed': {
      if (state !== 'code_sent') return fail();
      const codeFailures = snapshot.codeFailures + 1;
      const state2 = codeFailures >= limits.codeTriesPerLoginMax ? 'refused' : 'code_sent';
      return failure(snapshot, limits, state2, codeFailures, false);
    }
    case 'close':
      if (state !== 'active') return fail();
      return { next: { ...snapshot, state: 'closed' }, effects: [] };
  }
}

export function isBankingLoginState(value: unknown): value is BankingLoginState {
  return (bankingLoginStates as readonly unknown[]).includes(value);
}
