import type { DepositoryContext } from '../key-depository/context.ts';
import { deleteSecondFactor, selectSecondFactor } from './store.ts';

/**
 * The operator resets a party's second factor (blocked after wrong codes, or
 * the authenticator lost), after identifying the customer outside this
 * service: the secret is deleted, so the party's next device enrolment
 * (after a new enrolment code) provisions a new one; until then every
 * payment that needs a code is refused. Under the row's lock, so no order
 * checks a code of a secret half reset. `reset` false: there was none.
 */
export async function resetSecondFactor(
  context: DepositoryContext,
  partyId: string,
  reason: string,
  resetBy: string,
): Promise<{ partyId: string; reset: boolean }> {
  return context.database.transaction(async (sql) => {
    const stored = await selectSecondFactor(sql, partyId, true);
    if (stored === undefined) return { partyId, reset: false };
    await deleteSecondFactor(sql, partyId);
    context.log.warn(
      { partyId, reason, resetBy, state: stored.state, failedAttempts: stored.failedAttempts },
      'second factor reset',
    );
    return { partyId, reset: true };
  });
}
