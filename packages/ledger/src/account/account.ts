import { type CurrencyCode, MpayError, type PartyId, parseCurrencyCode, parsePartyId } from '@mpay/protocol';
import { parseLedgerId } from '../identifiers.ts';

export const accountKinds = ['customer', 'merchant', 'settlement', 'funding'] as const;
export type AccountKind = (typeof accountKinds)[number];

/** TigerBeetle's balance limits; at most one is set. */
export interface AccountFlags {
  /** The account cannot spend more than it holds: debitsPending + debitsPosted ≤ creditsPosted. */
  readonly debitsMustNotExceedCredits: boolean;
  /** The mirror: creditsPending + creditsPosted ≤ debitsPosted. */
  readonly creditsMustNotExceedDebits: boolean;
}

export interface AccountBalances {
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
}

export interface Account extends AccountBalances {
  readonly id: string;
  /** The ledger is the currency: accounts of different ledgers never exchange transfers. */
  readonly ledger: CurrencyCode;
  readonly owner: PartyId;
  readonly kind: AccountKind;
  readonly flags: AccountFlags;
  readonly closed: boolean;
}

export interface AccountInput {
  readonly id: string;
  readonly ledger: string;
  readonly owner: string;
  readonly kind: string;
}

export const zeroBalances: AccountBalances = Object.freeze({
  debitsPending: 0n,
  debitsPosted: 0n,
  creditsPending: 0n,
  creditsPosted: 0n,
});

/**
 * Customers and merchants hold deposits and cannot overdraw. The bank's
 * funding account is where money enters the bank (it goes negative by design),
 * and settlement accounts carry the net position with another bank, which may
 * be either side until settled; their limits come with interbank settlement.
 */
export function flagsForKind(kind: AccountKind): AccountFlags {
  const deposit = kind === 'customer' || kind === 'merchant';
  return Object.freeze({ debitsMustNotExceedCredits: deposit, creditsMustNotExceedDebits: false });
}

function parseAccountKind(value: string): AccountKind {
  const kind = accountKinds.find((candidate) => candidate === value);
  if (kind === undefined) throw new MpayError('REQUEST_INVALID', 'kind');
  return kind;
}

/** A new, open account with zero balances, after checking every field. */
export function openAccount(input: AccountInput): Account {
  const kind = parseAccountKind(input.kind);
  return Object.freeze({
    id: parseLedgerId(input.id, 'id'),
    ledger: parseCurrencyCode(input.ledger, 'currency'),
    owner: parsePartyId(input.owner, 'owner').id,
    kind,
    flags: flagsForKind(kind),
    ...zeroBalances,
    closed: false,
  });
}

/** Opening an account twice is idempotent when every field is the same, else ACCOUNT_EXISTS. */
export function compareAccount(existing: Account, opened: Account): 'same' {
  for (const field of ['ledger', 'owner', 'kind'] as const) {
    if (existing[field] !== opened[field]) throw new MpayError('ACCOUNT_EXISTS', field);
  }
  return 'same';
}

/** What the account holder owns: credits posted minus debits posted. */
export function accountBalance(account: AccountBalances): bigint {
  return account.creditsPosted - account.debitsPosted;
}

/** What the holder can still spend: the balance minus amounts held by pending debits. */
export function accountAvailable(account: AccountBalances): bigint {
  return accountBalance(account) - account.debitsPending;
}
