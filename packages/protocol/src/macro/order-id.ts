import { assert } from '../errors/index.ts';
import type { Sha256Digest } from './messages.ts';

/**
 * The client bank's payment order for an approved SID_T, named without being
 * told: a UUID version 8 (RFC 9562 §5.8) from SHA-256 over 'macro-payment-order',
 * ID_CB and SID_T joined by NUL, the first 16 bytes with the version and
 * variant bits set. The client bank places the order under this id (one
 * session, one order; a retried placement writes the same one), and the
 * MPASP asks the client bank about it at step 12 (GET /payment-orders/:id).
 * It is the bank's `derivedId('macro-payment-order', bankId, sessionId)`
 * (services/bank/src/interbank/ids.ts); a bank test pins that the two agree.
 */
export function macroOrderId(bankId: string, sessionId: string, sha256: Sha256Digest): string {
  assert(bankId.length > 0 && !bankId.includes('\u0000'), 'bankId is a non-empty id');
  assert(sessionId.length > 0 && !sessionId.includes('\u0000'), 'sessionId is a non-empty id');
  const digest = Uint8Array.from(
    sha256(new TextEncoder().encode(['macro-payment-order', bankId, sessionId].join('\u0000'))),
  );
  assert(digest.length === 32, 'sha256 gives 32 bytes');
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = Array.from(digest.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
