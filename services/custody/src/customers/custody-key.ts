import type { ExternalSigningKey } from '@mpay/envelope';
import { type RequestToSign, signRequest } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CustodyContext } from '../context.ts';

/** A custody customer's key in the HSM, ready to sign in the customer's name. */
export interface CustodyKey {
  readonly kid: string;
  /** The accounts the customer's bank bound the key to. */
  readonly accounts: readonly string[];
  readonly signer: ExternalSigningKey;
}

/**
 * The one path to a signature in a customer's name: the key custody enrolled
 * for the customer, found in the HSM under its id and still the key whose
 * public half the bank bound (same kid). No key for the customer is
 * CUSTODY_ACCOUNT_NOT_BOUND; a key the HSM no longer holds, or holds with
 * another public half, is HSM_UNAVAILABLE and nothing is signed.
 */
export async function custodyKeyOf(context: CustodyContext, sql: Sql, partyId: string): Promise<CustodyKey> {
  const { rows } = await sql.query<{ hsm_key_id: string; kid: string; accounts: string }>(
    'SELECT hsm_key_id, kid, accounts FROM custody_keys WHERE party_id = $1',
    [partyId],
  );
  const key = rows[0];
  if (key === undefined) throw new MpayError('CUSTODY_ACCOUNT_NOT_BOUND');
  const hsmKey = await context.hsm.findSigningKey(key.hsm_key_id);
  if (hsmKey === undefined || hsmKey.publicJwk.kid !== key.kid) throw new MpayError('HSM_UNAVAILABLE', 'key');
  return {
    kid: key.kid,
    accounts: JSON.parse(key.accounts) as string[],
    signer: context.hsm.signer(hsmKey),
  };
}

/**
 * The `Authorization: MPay …` header of a request custody makes to the FSP
 * as the customer (issuer the customer, audience the FSP), signed in the HSM
 * with the key the customer's bank bound: the FSP authenticates it exactly as
 * a request from a phone that holds its own key.
 */
export function signRequestAsCustomer(
  context: CustodyContext,
  partyId: string,
  key: CustodyKey,
  request: RequestToSign,
): Promise<string> {
  return signRequest(request, { issuer: partyId, audience: context.fsp.id, key: key.signer });
}
