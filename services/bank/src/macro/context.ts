import type { PublicJwk } from '@mpay/envelope';
import { macroLimitsCeiling } from '@mpay/protocol';
import type { DeliveryContext } from '../interbank/deliver.ts';
import type { OrderContext } from '../interbank/order.ts';

/**
 * The public signing key of a caller that the bank's request verifier
 * authenticates (the FSP, which is the MPASP of seed 002), for the messages it
 * signs besides its requests: the step-6 payment request. Undefined for a
 * caller whose messages this bank does not take.
 */
export type CallerKeys = (callerId: string) => PublicJwk | undefined;

/** What the client bank's macro steps (6, 7 and 11) need: the order machinery and the callers' keys. */
export interface MacroContext extends OrderContext, DeliveryContext {
  readonly callerKeys: CallerKeys;
}

/** Named limits of the client bank's macro steps. */
export const macroBankLimits = Object.freeze({
  /** Longest lifetime (exp − iat) of the MPASP's signed step-6 request, and its age. */
  requestAgeSecondsMax: 300,
  /** Clock difference tolerated with the MPASP on that check. */
  requestClockSkewSeconds: 60,
  /** Longest T_EXP − now accepted at step 6: the protocol's own ceiling for a request's lifetime. */
  approvalWindowSecondsMax: macroLimitsCeiling.transactionLifetimeSeconds,
  /** Approval requests one GET /macro/approval-requests answers. */
  pendingApprovalsPageMax: 50,
  /** Pay_Confirms (step 9) one GET /macro/merchant-confirmations answers. */
  merchantConfirmationsPageMax: 50,
  /** How long the bank's statements (answers to the client and the MPASP) verify. */
  statementLifetimeSeconds: 86_400,
});
