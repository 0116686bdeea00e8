import { MpayError, parsePartyId } from '@mpay/protocol';
import { selectAccounts } from '../store/accounts.ts';
import { retryOnUniqueViolation } from '../store/create-transfer.ts';
import type { DepositoryContext } from './context.ts';
import { enrolmentCodeHash, newEnrolmentCode } from './enrolment-code.ts';
import { replaceEnrolmentCode } from './store.ts';

export interface EnrolmentCodeRequest {
  readonly partyId: string;
  /** 1–8 account ids (the route's schema bounds the count). */
  readonly accountIds: readonly string[];
}

export interface IssuedEnrolmentCode {
  readonly partyId: string;
  /** Shown once, to the operator who hands it to the customer; the bank keeps only its hash. */
  readonly code: string;
  readonly expiresAt: Date;
}

/** A customer (person or merchant) party id in canonical form, else PARTY_ID_INVALID. */
export function customerPartyId(text: string, detail: string): string {
  const party = parsePartyId(text, detail);
  if (party.id !== text || (party.kind !== 'person' && party.kind !== 'merchant')) {
    throw new MpayError('PARTY_ID_INVALID', detail);
  }
  return party.id;
}

/**
 * The kinds of account a party's key may be bound to: a person's customer
 * accounts; a merchant's customer accounts and its merchant accounts (the
 * account it is paid into, which a refund it signs debits).
 */
function bindableKinds(partyId: string): readonly string[] {
  return parsePartyId(partyId).kind === 'merchant' ? ['customer', 'merchant'] : ['customer'];
}

/**
 * The operator issues a one-time enrolment code for a customer, after the
 * customer proved who they are (outside this service). The code names the
 * accounts the enrolled key may debit: each must exist, be open, be a
 * customer account (for a merchant also a merchant account) and belong to
 * the party (else ACCOUNT_UNKNOWN, without saying which). A new code
 * replaces the party's live one, blocked or not: that is how the operator
 * lifts a block.
 */
export async function issueEnrolmentCode(
  context: DepositoryContext,
  request: EnrolmentCodeRequest,
  issuedBy: string,
): Promise<IssuedEnrolmentCode> {
  const partyId = customerPartyId(request.partyId, 'partyId');
  const accountIds = [...request.accountIds].sort();
  if (new Set(accountIds).size !== accountIds.length) throw new MpayError('REQUEST_INVALID', 'accountIds');
  const now = context.clock();
  const expiresAt = new Date(now.getTime() + context.limits.enrolmentCodeValiditySeconds * 1000);
  const code = newEnrolmentCode();
  await retryOnUniqueViolation(() =>
    context.database.transaction(async (sql) => {
      const accounts = await selectAccounts(sql, accountIds);
      const kinds = bindableKinds(partyId);
      const fit = accounts.filter(
        (account) => !account.closed && kinds.includes(account.kind) && account.owner === partyId,
      );
      if (fit.length !== accountIds.length) throw new MpayError('ACCOUNT_UNKNOWN', 'accountIds');
      await replaceEnrolmentCode(
        sql,
        { id: context.newId(), partyId, codeHash: enrolmentCodeHash(code), accountIds, expiresAt },
        issuedBy,
        now,
      );
    }),
  );
  return { partyId, code, expiresAt };
}
