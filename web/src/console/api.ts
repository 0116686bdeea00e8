import { errorFromAnswer } from '@mpay/http-client';
import { isMpayError } from '@mpay/protocol';

/**
 * The console's backend (/console/api, same origin): the session cookie goes
 * with every call, the operator's credentials never come here. A 401 means
 * the session ended: whoever listens shows the sign-in form again.
 */
const base = '/console/api';
/** A call to the backend gives up after this long (an audit of a large ledger takes a while). */
const callTimeoutMs = 60_000;

const signedOutListeners = new Set<() => void>();

export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    credentials: 'same-origin',
    signal: AbortSignal.timeout(callTimeoutMs),
  });
  if (response.status === 204) return undefined as T;
  let json: unknown = null;
  try {
    json = await response.json();
  } catch {
    // No JSON: the status decides below.
  }
  if (response.ok) return json as T;
  const error = errorFromAnswer(json, response.status);
  if (isMpayError(error, 'AUTHENTICATION_FAILED') && path !== '/session')
    for (const listener of signedOutListeners) listener();
  throw error;
}

export const consoleApi = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => call<T>('POST', path, body),
  delete: (path: string) => call<void>('DELETE', path),
};

/** The answers of the backend, as the page reads them (amounts are minor units in strings). */
export interface SessionAnswer {
  readonly expiresAt: string;
  readonly idleExpiresAt: string;
}

export interface PaymentSummary {
  readonly id: string;
  readonly procedure: string;
  readonly state: string;
  readonly status: string;
  readonly securityLevel: string;
  readonly amount: { readonly currency: string; readonly minor: string };
  readonly merchant: { readonly id: string; readonly displayName: string };
  readonly customer: { readonly id: string; readonly displayName: string };
  readonly failureCode?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt: string;
}

export interface PaymentsPage {
  readonly payments: readonly PaymentSummary[];
  readonly next: string | null;
  readonly counts: { readonly byStatus: Readonly<Record<string, number>> };
}

export interface PaymentDetail {
  readonly payment: PaymentSummary;
  readonly steps: readonly {
    readonly sequence: number;
    readonly from: string | null;
    readonly to: string;
    readonly status: string;
    readonly event: string | null;
    readonly step: string | null;
    readonly detail: string | null;
    readonly at: string;
  }[];
  readonly effects: readonly {
    readonly kind: string;
    readonly state: 'delivered' | 'abandoned' | 'pending';
    readonly attempts: number;
    readonly createdAt: string;
    readonly lastError?: string;
  }[];
  readonly log: { readonly index: string | null; readonly receipted: boolean } | null;
}

export interface Pair {
  readonly banks: readonly [string, string];
  readonly currency: string;
  readonly owedByFirst: string;
  readonly claimedBySecond: string;
  readonly inFlight: { readonly fromFirst: string; readonly fromSecond: string };
  readonly agree: boolean;
  readonly consistent: boolean;
}

export interface Overdue {
  readonly bank: string;
  readonly peer: string;
  readonly count: number;
}

export interface BankAudit {
  readonly ok: boolean;
  readonly accountsChecked: number;
  readonly transfersChecked: number;
  readonly ledgers: readonly {
    readonly currency: string;
    readonly debitsPosted: string;
    readonly creditsPosted: string;
    readonly debitsPending: string;
    readonly creditsPending: string;
  }[];
  readonly violations: readonly Record<string, unknown>[];
  readonly mismatches: readonly Record<string, unknown>[];
  readonly findings: number;
}

export interface BanksAnswer {
  readonly banks: readonly ({ readonly id: string } & (
    | { readonly audit: BankAudit }
    | { readonly error: string }
  ))[];
  readonly positions:
    | { readonly pairs: readonly Pair[]; readonly overdue: readonly Overdue[] }
    | { readonly error: string };
}

export interface SettlementRun {
  readonly id: string;
  readonly currency: string;
  readonly bookings: readonly {
    readonly bank: string;
    readonly peer: string;
    readonly amount: string;
    readonly at: string;
  }[];
  readonly complete: boolean;
}

export interface SettlementsAnswer {
  readonly pairs: readonly Pair[];
  readonly overdue: readonly Overdue[];
  readonly runs: readonly SettlementRun[];
}

export interface SettlementOutcome {
  readonly finished: readonly string[];
  readonly booked: readonly {
    readonly id: string;
    readonly banks: readonly [string, string];
    readonly currency: string;
    readonly amount: string;
  }[];
  readonly skipped: readonly {
    readonly banks: readonly [string, string];
    readonly currency: string;
    readonly reason: string;
  }[];
}

export interface LogAnswer {
  readonly signedNote: string | null;
  readonly treeSize: string | null;
  readonly checkedAt: string | null;
  readonly watchingSince: string | null;
  readonly alarm: { readonly code: string; readonly detail: string; readonly at: string } | null;
  readonly lastError: { readonly code: string; readonly at: string } | null;
  /** Null when the witness runs in another process. */
  readonly witnessAlarms: Readonly<Record<string, number>> | null;
}

export interface Outbox {
  readonly name: string;
  readonly pending: number;
  readonly retrying: number;
  readonly abandoned?: number;
  readonly overdue?: number;
  readonly oldestPendingAgeSeconds: number | null;
}

export interface BacklogsAnswer {
  readonly services: readonly ({ readonly service: string } & (
    | { readonly outboxes: readonly Outbox[] }
    | { readonly error: string }
  ))[];
}

export interface MetricsPoint {
  readonly at: string;
  readonly requestsPerSecond: number;
  readonly completedPerSecond: number;
  readonly latencySeconds?: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly completed: number;
  };
}

export interface MetricsAnswer {
  readonly intervalMs: number;
  readonly latencyWindowSeconds: number;
  readonly points: readonly MetricsPoint[];
  readonly totals: { readonly requests: number; readonly completed: number } | null;
  readonly lastError?: { readonly code: string; readonly at: string };
}

export interface IssuedCode {
  readonly bankId: string;
  readonly partyId: string;
  readonly accountId?: string;
  readonly openingBalanceMinor?: string;
  readonly currency?: string;
  readonly code: string;
  readonly expiresAt: string;
}
