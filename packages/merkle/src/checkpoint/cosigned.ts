import { MpayError } from '@mpay/protocol';
import { cosignatureTimestamp } from '../cosignature/cosigner-key.ts';
import { signatureTypes } from '../note/key-text.ts';
import { type NoteVerifier, parseVerifierKey } from '../note/note-key.ts';
import { type OpenedNote, openNote } from '../note/open.ts';
import { verifierId } from '../note/verifier-set.ts';
import { type Checkpoint, checkpointInvalid } from './checkpoint.ts';
import { parseCheckpoint } from './parse.ts';

/**
 * Whom a client trusts for a log: the log's own key (type 0x01; its name is
 * the checkpoint origin) and witnesses' cosigner keys (type 0x04), of which
 * at least `witnessesRequired` must have cosigned. Keys come from the
 * client's configuration, never from the data being verified.
 */
export interface WitnessPolicy {
  readonly logVerifierKey: string | NoteVerifier;
  readonly witnessVerifierKeys: readonly (string | NoteVerifier)[];
  readonly witnessesRequired: number;
}

export interface WitnessCosignature {
  readonly name: string;
  readonly keyHash: number;
  /** POSIX seconds at which the witness cosigned. */
  readonly timestamp: bigint;
}

export interface CosignedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
  readonly witnesses: readonly WitnessCosignature[];
}

/** Witness keys per policy, at most this many. */
export const witnessKeysMax = 32;

interface ResolvedPolicy {
  readonly log: NoteVerifier;
  readonly witnesses: readonly NoteVerifier[];
  readonly witnessesRequired: number;
}

const toVerifier = (key: string | NoteVerifier) => (typeof key === 'string' ? parseVerifierKey(key) : key);

export async function resolveWitnessPolicy(policy: WitnessPolicy): Promise<ResolvedPolicy> {
  const { witnessVerifierKeys, witnessesRequired } = policy;
  if (!Array.isArray(witnessVerifierKeys) || witnessVerifierKeys.length > witnessKeysMax) {
    throw new MpayError('REQUEST_INVALID', 'witness keys');
  }
  if (!Number.isSafeInteger(witnessesRequired) || witnessesRequired < 0) {
    throw new MpayError('REQUEST_INVALID', 'witnesses required');
  }
  const log = await toVerifier(policy.logVerifierKey);
  if (log.signatureType !== signatureTypes.ed25519) throw new MpayError('CRYPTO_KEY_INVALID', 'log key type');
  const witnesses = await Promise.all(witnessVerifierKeys.map(toVerifier));
  const ids = new Set([verifierId(log.name, log.keyHash)]);
  for (const witness of witnesses) {
    if (witness.signatureType !== signatureTypes.cosignatureV1) {
      throw new MpayError('CRYPTO_KEY_INVALID', 'witness key type');
    }
    ids.add(verifierId(witness.name, witness.keyHash));
  }
  if (ids.size !== witnesses.length + 1) throw new MpayError('CRYPTO_KEY_INVALID', 'repeated key');
  if (witnessesRequired > witnesses.length) throw new MpayError('WITNESS_QUORUM_NOT_MET', 'policy');
  return { log, witnesses, witnessesRequired };
}

/** What openCosignedCheckpoint opened: the note text and the policy, kept by the checkpoint it returned. */
const openings = new WeakMap<
  Checkpoint,
  { readonly text: string; readonly policy: WitnessPolicy; readonly cosigned: CosignedCheckpoint }
>();

/** The same keys and quorum: the same key objects, or the same key texts. */
export function samePolicy(a: WitnessPolicy, b: WitnessPolicy): boolean {
  return (
    a === b ||
    (a.logVerifierKey === b.logVerifierKey &&
      a.witnessesRequired === b.witnessesRequired &&
      a.witnessVerifierKeys.length === b.witnessVerifierKeys.length &&
      a.witnessVerifierKeys.every((key, index) => key === b.witnessVerifierKeys[index]))
  );
}

/**
 * The checkpoint openCosignedCheckpoint returned for this very `checkpoint`
 * object, when it opened it from `text` under the same keys and quorum as
 * `policy`; otherwise undefined. What lets a verifier that meets the same
 * note again (a tlog-proof built on a checkpoint just fetched) skip its
 * signatures without taking anyone's word for them.
 */
export function openedCheckpointOf(
  checkpoint: Checkpoint,
  text: string,
  policy: WitnessPolicy,
): CosignedCheckpoint | undefined {
  const opening = openings.get(checkpoint);
  return opening !== undefined && opening.text === text && samePolicy(opening.policy, policy)
    ? opening.cosigned
    : undefined;
}

/**
 * Opens a checkpoint as a client must before trusting it: signed by the log
 * (NOTE_KEY_UNKNOWN otherwise), every signature by a known key valid
 * (NOTE_SIGNATURE_INVALID), origin = the log key's name and no extension
 * lines — mpay's log writes none (CHECKPOINT_INVALID), and cosigned by at
 * least `witnessesRequired` distinct known witnesses (WITNESS_QUORUM_NOT_MET).
 */
export async function openCosignedCheckpoint(
  signedNote: string | Uint8Array,
  policy: WitnessPolicy,
): Promise<CosignedCheckpoint> {
  const { log, witnesses, witnessesRequired } = await resolveWitnessPolicy(policy);
  const note = await openNote(signedNote, [log, ...witnesses]);
  const logId = verifierId(log.name, log.keyHash);
  const signatures = note.verifiedSignatures;
  if (!signatures.some((signature) => verifierId(signature.name, signature.keyHash) === logId)) {
    throw new MpayError('NOTE_KEY_UNKNOWN', 'no log signature');
  }
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== log.name) throw checkpointInvalid('origin');
  if (checkpoint.extensions.length > 0) throw checkpointInvalid('extension lines');
  const cosignatures = signatures
    .filter((signature) => verifierId(signature.name, signature.keyHash) !== logId)
    .map((signature) => {
      const timestamp = cosignatureTimestamp(signature);
      if (timestamp === undefined) throw new MpayError('NOTE_SIGNATURE_INVALID');
      return Object.freeze({ name: signature.name, keyHash: signature.keyHash, timestamp });
    });
  if (cosignatures.length < witnessesRequired) {
    throw new MpayError('WITNESS_QUORUM_NOT_MET', `${cosignatures.length} of ${witnessesRequired}`);
  }
  const cosigned = Object.freeze({ checkpoint, note, witnesses: Object.freeze(cosignatures) });
  if (typeof signedNote === 'string') {
    const { logVerifierKey, witnessVerifierKeys } = policy;
    const kept = { logVerifierKey, witnessVerifierKeys: [...witnessVerifierKeys], witnessesRequired };
    openings.set(checkpoint, { text: signedNote, policy: kept, cosigned });
  }
  return cosigned;
}
