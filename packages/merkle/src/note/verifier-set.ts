import { MpayError } from '@mpay/protocol';
import { bytesEqual } from '../bytes.ts';
import { type NoteVerifier, parseVerifierKey } from './note-key.ts';

/** Known verifiers by name and key hash. */
export type VerifierSet = ReadonlyMap<string, NoteVerifier>;

export function verifierId(name: string, keyHash: number): string {
  return `${name}+${keyHash}`;
}

/**
 * Indexes the verifiers by (name, key hash). The same key listed twice is
 * fine; two different keys with the same name and key hash are refused, since
 * a signature could not be attributed to one of them.
 */
export async function verifierSet(verifiers: readonly (string | NoteVerifier)[]): Promise<VerifierSet> {
  const parsed = await Promise.all(verifiers.map((v) => (typeof v === 'string' ? parseVerifierKey(v) : v)));
  const set = new Map<string, NoteVerifier>();
  for (const verifier of parsed) {
    const id = verifierId(verifier.name, verifier.keyHash);
    const known = set.get(id);
    if (known !== undefined && !bytesEqual(known.typedPublicKey, verifier.typedPublicKey)) {
      throw new MpayError('CRYPTO_KEY_INVALID', 'ambiguous verifier keys');
    }
    set.set(id, verifier);
  }
  return set;
}
