import type { Account } from '@mpay/ledger';
import { MpayError, parsePartyId } from '@mpay/protocol';

/**
 * Who may own which account at bank `bankName`: customer and merchant
 * accounts belong to a person or merchant of this bank, the funding account to
 * the bank itself, a settlement account to another bank (its correspondent).
 */
export function checkAccountOwner(account: Account, bankName: string): void {
  const owner = parsePartyId(account.owner, 'owner');
  const belongs =
    account.kind === 'funding'
      ? owner.kind === 'bank' && owner.name === bankName
      : account.kind === 'settlement'
        ? owner.kind === 'bank' && owner.name !== bankName
        : (owner.kind === 'person' || owner.kind === 'merchant') && owner.bank === bankName;
  if (!belongs) throw new MpayError('REQUEST_INVALID', `owner of a ${account.kind} account`);
}
