import { MpayError } from '@mpay/protocol';
import { hashBytes } from '../limits.ts';
import { type TreeSize, toUint64 } from '../tree-size.ts';

/** Every verification failure is this one error: which check failed is not revealed. */
export function proofInvalid(): MpayError {
  return new MpayError('PROOF_INVALID', 'proof does not verify');
}

export function proofSize(value: TreeSize): bigint {
  const size = toUint64(value);
  if (size === undefined) throw proofInvalid();
  return size;
}

export function requireHash(hash: Uint8Array): void {
  if (!(hash instanceof Uint8Array) || hash.length !== hashBytes) throw proofInvalid();
}

export function requireProofHashes(proof: readonly Uint8Array[], expectedLength: number): void {
  if (!Array.isArray(proof) || proof.length !== expectedLength) throw proofInvalid();
  for (const hash of proof) requireHash(hash);
}
