import { MpayError } from '@mpay/protocol';

/** c2sp.org/tlog-proof v1: what a proof holds. */
export interface TlogProof {
  /** Zero-based index of the entry in the log. */
  readonly index: bigint;
  /** RFC 9162 inclusion proof hashes, from the leaf's sibling up. */
  readonly proof: readonly Uint8Array[];
  /** The checkpoint signed note, verbatim (log signature and cosignatures). */
  readonly checkpoint: string;
  /** Opaque application data; not authenticated. */
  readonly extra?: Uint8Array | undefined;
}

export const tlogProofHeader = 'c2sp.org/tlog-proof@v1';

export function tlogProofInvalid(detail: string): MpayError {
  return new MpayError('TLOG_PROOF_INVALID', detail);
}
