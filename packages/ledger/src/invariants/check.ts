import type { Account } from '../account/account.ts';

/** Totals of one ledger (currency): double entry means debits equal credits, posted and pending. */
export interface LedgerTotals {
  readonly ledger: string;
  readonly accounts: number;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
}

export type InvariantRule =
  | 'debits_posted_equal_credits_posted'
  | 'debits_pending_equal_credits_pending'
  | 'balance_not_negative'
  | 'debits_must_not_exceed_credits'
  | 'credits_must_not_exceed_debits';

export interface InvariantViolation {
  readonly rule: InvariantRule;
  readonly ledger: string;
  /** The account that breaks the rule; absent for a ledger-wide rule. */
  readonly accountId?: string;
}

export interface InvariantReport {
  readonly ok: boolean;
  readonly ledgers: readonly LedgerTotals[];
  readonly violations: readonly InvariantViolation[];
}

function accountViolations(account: Account): InvariantViolation[] {
  const at = { ledger: account.ledger, accountId: account.id };
  const fields = [account.debitsPending, account.debitsPosted, account.creditsPending, account.creditsPosted];
  const violations: InvariantViolation[] = [];
  if (fields.some((value) => value < 0n)) violations.push({ rule: 'balance_not_negative', ...at });
  if (
    account.flags.debitsMustNotExceedCredits &&
    account.debitsPending + account.debitsPosted > account.creditsPosted
  ) {
    violations.push({ rule: 'debits_must_not_exceed_credits', ...at });
  }
  if (
    account.flags.creditsMustNotExceedDebits &&
    account.creditsPending + account.creditsPosted > account.debitsPosted
  ) {
    violations.push({ rule: 'credits_must_not_exceed_debits', ...at });
  }
  return violations;
}

function addTo(totals: LedgerTotals | undefined, account: Account): LedgerTotals {
  return {
    ledger: account.ledger,
    accounts: (totals?.accounts ?? 0) + 1,
    debitsPending: (totals?.debitsPending ?? 0n) + account.debitsPending,
    debitsPosted: (totals?.debitsPosted ?? 0n) + account.debitsPosted,
    creditsPending: (totals?.creditsPending ?? 0n) + account.creditsPending,
    creditsPosted: (totals?.creditsPosted ?? 0n) + account.creditsPosted,
  };
}

/**
 * Conservation of money: per ledger, the sums of debits and credits are
 * equal (posted and pending separately), and no account is beyond the limit
 * its flags set or has a negative balance field. Pure; the caller decides
 * whether a violation stops the service.
 */
export function checkInvariants(accounts: Iterable<Account>): InvariantReport {
  const totalsByLedger = new Map<string, LedgerTotals>();
  const violations: InvariantViolation[] = [];
  for (const account of accounts) {
    totalsByLedger.set(account.ledger, addTo(totalsByLedger.get(account.ledger), account));
    violations.push(...accountViolations(account));
  }
  const ledgers = [...totalsByLedger.values()].sort((a, b) => (a.ledger < b.ledger ? -1 : 1));
  for (const totals of ledgers) {
    if (totals.debitsPosted !== totals.creditsPosted) {
      violations.push({ rule: 'debits_posted_equal_credits_posted', ledger: totals.ledger });
    }
    if (totals.debitsPending !== totals.creditsPending) {
      violations.push({ rule: 'debits_pending_equal_credits_pending', ledger: totals.ledger });
    }
  }
  return Object.freeze({ ok: violations.length === 0, ledgers, violations });
}
