import { attachDetached, canonicalBytes } from '@mpay/protocol';
import { encodeBase64url } from '../encoding.ts';

/**
 * The compact JWS a detached signature (`<protected header>..<signature>`,
 * RFC 7515 appendix F) stands for: its payload put back as the RFC 8785
 * canonical bytes of `payload`, as every mpay signature is made. Unverified:
 * a payload other than the one signed gives a signature that fails.
 */
export function attachCanonicalPayload(detached: string, payload: Readonly<Record<string, unknown>>): string {
  return attachDetached(detached, encodeBase64url(canonicalBytes(payload)));
}
