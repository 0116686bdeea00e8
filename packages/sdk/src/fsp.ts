import {
  keyResolverFromJwkSet,
  type PublicJwk,
  type PublicJwkSet,
  type PublicKeyResolver,
} from '@mpay/envelope';
import { requestJson } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';

/** What a client must know of the FSP: its id and public keys (pinned in a real app). */
export interface FspTrust {
  id: string;
  keys: PublicJwkSet;
}

export async function fetchFspTrust(gatewayUrl: string): Promise<FspTrust> {
  const { body } = await requestJson<FspTrust>(`${gatewayUrl}/fsp`);
  return body;
}

export function fspKeyResolver(fsp: FspTrust): PublicKeyResolver {
  return keyResolverFromJwkSet(fsp.keys);
}

export function fspEncryptionKey(fsp: FspTrust): PublicJwk {
  const key = fsp.keys.keys.find((jwk) => jwk.use === 'enc');
  if (key === undefined) throw new MpayError('KEY_UNKNOWN', 'fsp encryption key');
  return key;
}
