import type { BankingRequestKind } from '@mpay/protocol';
import { logoutBankingSession, type OpenedBankingRequest } from '../authentication-server/request.ts';
import type { BankingContext } from '../context.ts';
import {
  listDevices,
  listRenewalNotices,
  renewKey,
  revokeDevice,
} from '../key-management-server/requests.ts';
import { executeBalance, executeStatement } from './account-views.ts';
import { executeBillPayment, executeTransfer } from './orders.ts';

type Execute = (
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
) => Promise<Readonly<Record<string, unknown>>>;

/**
 * Who carries out each kind of request (seed 003 Figure 5(B)): the business
 * logic server the banking business, the key management server the device
 * keys, the authentication server the end of its session (logout). Every
 * kind has exactly one entry (the type says so).
 */
const executors: Readonly<Record<BankingRequestKind, Execute>> = Object.freeze({
  balance: (context, opened) => executeBalance(context, opened),
  transfer: executeTransfer,
  bill_payment: executeBillPayment,
  statement: (context, opened) => executeStatement(context, opened),
  devices: listDevices,
  revoke_device: revokeDevice,
  renewal_notices: listRenewalNotices,
  renew_key: renewKey,
  logout: logoutBankingSession,
});

/**
 * Carries out a banking request the authentication server opened, verified
 * and claimed (seed 003 §5.2: "the message which has passed through AS is a
 * legal business message and so it is next interpreted as to the original
 * business request"), and answers the result object of its kind, in JSON
 * (amounts as decimal text of minor units), for the authentication server
 * to sign and seal. A refusal is thrown as an MpayError with its code
 * (INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, BANKING_BILLER_UNKNOWN,
 * PAYEE_UNKNOWN, ACCOUNT_UNKNOWN, BANKING_REQUEST_INVALID for a binding
 * revoked in flight, ...): then nothing moved and nothing was recorded.
 *
 * A kind that writes records the request's outcome in the transaction of
 * its effect (recordOutcomeWithEffect: effect and outcome commit together,
 * so that a retry of the request is answered the outcome and never runs it
 * twice); only the kinds of readOnlyBankingKinds write nothing and leave
 * their outcome to the authentication server, after the answer.
 */
export async function executeBankingRequest(
  context: BankingContext,
  opened: OpenedBankingRequest,
  now: Date,
): Promise<Readonly<Record<string, unknown>>> {
  return executors[opened.request.kind](context, opened, now);
}
