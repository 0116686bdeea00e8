import type { PublicJwk, PublicJwkSet } from '@mpay/envelope';
import { requestJson } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';

/** What a custody customer's phone must know of custody: its id and public keys (pinned in a real app). */
export interface CustodyTrust {
  id: string;
  /** Custody's signing key (its forwards) and encryption key (the PIN authorisations sent to it). */
  keys: PublicJwkSet;
}

/** Custody's id and keys as custody itself states them (`GET /custody`); a real app pins them instead. */
export async function fetchCustodyTrust(custodyUrl: string): Promise<CustodyTrust> {
  const { body } = await requestJson<CustodyTrust>(`${custodyUrl}/custody`, { responseBytesMax: 64 * 1024 });
  if (typeof body?.id !== 'string' || !Array.isArray(body.keys?.keys))
    throw new MpayError('SERVICE_UNAVAILABLE', 'custody answer: keys');
  return { id: body.id, keys: body.keys };
}

/** Custody's key for what the phone encrypts to it. */
export function custodyEncryptionKey(custody: CustodyTrust): PublicJwk {
  const key = custody.keys.keys.find((jwk) => jwk.use === 'enc');
  if (key === undefined) throw new MpayError('KEY_UNKNOWN', 'custody encryption key');
  return key;
}
