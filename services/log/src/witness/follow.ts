import { fetchFor, readBounded, withRequestDeadline } from '@mpay/http-client';
import { noteBytesMax, parseCheckpoint } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import type { Cosigned, Witness } from './witness.ts';

export interface FollowOptions {
  /** Each HTTP request to the log is abandoned after this long. */
  readonly fetchTimeoutMs: number;
}

/**
 * A text the log answers, read within `noteBytesMax` (the log is not trusted: an answer beyond it
 * is refused as soon as it passes the bound, never held whole) and within one deadline that covers
 * the answer's body as well as its head.
 */
async function fetchText(url: string, options: FollowOptions): Promise<string> {
  return withRequestDeadline(options.fetchTimeoutMs, async (signal) => {
    const response = await fetchFor(undefined)(url, { signal }).catch(() => {
      throw new MpayError('SERVICE_UNAVAILABLE', 'log unreachable');
    });
    const text = await readBounded(response, noteBytesMax).catch(() => {
      throw new MpayError('SERVICE_UNAVAILABLE', 'log answer interrupted');
    });
    if (!response.ok) throw new MpayError('SERVICE_UNAVAILABLE', `log answered ${response.status}`);
    if (text === undefined) throw new MpayError('REQUEST_TOO_LARGE', 'log answer');
    return text;
  });
}

/** The `hashes` of a consistency proof's answer; undefined for an answer that is not such an object. */
function proofHashesOf(answer: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null ? (parsed as { hashes?: unknown }).hashes : undefined;
}

/**
 * Pulls the log's latest checkpoint and the consistency proof from the size
 * the witness holds, then submits both to the witness (which verifies them
 * itself: the log is not trusted for either).
 */
export async function followLog(
  witness: Witness,
  logUrl: string,
  origin: string,
  options: FollowOptions = { fetchTimeoutMs: 5_000 },
): Promise<Cosigned> {
  const signedNote = await fetchText(`${logUrl}/checkpoint`, options);
  const held = await witness.held(origin);
  const heldSize = held?.checkpoint.treeSize ?? 0n;
  let proof: Uint8Array[] = [];
  const nextSize = parseCheckpoint(signedNote.slice(0, signedNote.indexOf('\n\n') + 1)).treeSize;
  if (heldSize > 0n && nextSize > heldSize) {
    const answer = await fetchText(`${logUrl}/proofs/consistency?from=${heldSize}&to=${nextSize}`, options);
    const hashes = proofHashesOf(answer);
    if (!Array.isArray(hashes) || !hashes.every((hash) => typeof hash === 'string')) {
      throw new MpayError('PROOF_INVALID', 'proof encoding');
    }
    proof = hashes.map((hash: string) => new Uint8Array(Buffer.from(hash, 'base64')));
  }
  return witness.addCheckpoint({ checkpoint: signedNote, proof, oldSize: heldSize });
}
