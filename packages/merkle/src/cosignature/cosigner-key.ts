import { MpayError } from '@mpay/protocol';
import { base64Decode } from '../bytes.ts';
import * as ed25519 from '../note/ed25519.ts';
import { generateKeyPair } from '../note/key-pair.ts';
import {
  type KeyText,
  keyHash,
  keyInvalid,
  parseKeyText,
  signatureTypes,
  signerKeyPrefix,
  typedKey,
} from '../note/key-text.ts';
import type { NoteSigner, NoteVerifier } from '../note/note-key.ts';
import type { NoteSignature } from '../note/signature-line.ts';
import {
  cosignedMessage,
  formatTimestampedSignature,
  isCosignatureTimestamp,
  parseTimestampedSignature,
} from './timestamped-signature.ts';

const cosignatureType = signatureTypes.cosignatureV1;

/** A cosigner (witness) key: signs c2sp.org/tlog-cosignature v1 at the time its clock gives. */
export interface Cosigner extends NoteSigner {
  /** Signs `checkpointBody` at `timestamp` (POSIX seconds): the 72-byte timestamped signature. */
  cosign(checkpointBody: Uint8Array, timestamp: bigint): Promise<Uint8Array>;
}

/** The verifier of a type 0x04 key (already split by parseKeyText); checks the key ID. */
export async function cosignatureVerifier(parsed: KeyText): Promise<NoteVerifier> {
  const typedPublicKey = typedKey(cosignatureType, parsed.key);
  if ((await keyHash(parsed.name, typedPublicKey)) !== parsed.keyHash) throw keyInvalid('key hash');
  const publicKey = await ed25519.importPublicKey(parsed.key).catch(() => {
    throw keyInvalid('public key');
  });
  const verify = async (message: Uint8Array, signature: Uint8Array): Promise<boolean> => {
    const timestamped = parseTimestampedSignature(signature);
    if (timestamped === undefined) return false;
    return ed25519.verify(publicKey, cosignedMessage(message, timestamped.timestamp), timestamped.signature);
  };
  return Object.freeze({
    name: parsed.name,
    keyHash: parsed.keyHash,
    signatureType: cosignatureType,
    typedPublicKey,
    verify,
  });
}

function secondsOf(date: Date): bigint {
  const seconds = BigInt(Math.floor(date.getTime() / 1000));
  if (!isCosignatureTimestamp(seconds)) throw new MpayError('INTERNAL', 'clock before 1970');
  return seconds;
}

/**
 * Parses a cosigner key `PRIVATE+KEY+<name>+<hash>+<base64(0x04 || seed)>`
 * (the signed-note signer key text with type 0x04). Signing a note with it
 * (signNote) cosigns at the clock's current second.
 */
export async function parseCosignerKey(
  text: string,
  clock: () => Date = () => new Date(),
): Promise<Cosigner> {
  if (typeof text !== 'string' || !text.startsWith(signerKeyPrefix)) throw keyInvalid('signer key prefix');
  const { name, keyHash: hash, signatureType, key } = parseKeyText(text.slice(signerKeyPrefix.length));
  if (signatureType !== cosignatureType) throw keyInvalid('key algorithm');
  const pair = await ed25519.importSeed(key);
  if ((await keyHash(name, typedKey(cosignatureType, pair.publicKey))) !== hash) throw keyInvalid('key hash');
  const cosign = async (checkpointBody: Uint8Array, timestamp: bigint): Promise<Uint8Array> => {
    if (!isCosignatureTimestamp(timestamp)) throw new MpayError('INTERNAL', 'cosignature timestamp');
    const signature = await ed25519.sign(pair.privateKey, cosignedMessage(checkpointBody, timestamp));
    return formatTimestampedSignature(timestamp, signature);
  };
  return Object.freeze({
    name,
    keyHash: hash,
    cosign,
    sign: (message: Uint8Array) => cosign(message, secondsOf(clock())),
  });
}

/** A new cosigner key pair (type 0x04) for `name`: signer key text (secret) and verifier key text. */
export async function generateCosignerKey(name: string): Promise<{ signerKey: string; verifierKey: string }> {
  return generateKeyPair(name, cosignatureType);
}

/** The timestamp of a cosignature/v1 signature line (from openNote), or undefined if it is not one. */
export function cosignatureTimestamp(signature: NoteSignature): bigint | undefined {
  const bytes = base64Decode(signature.base64);
  if (bytes === undefined || bytes.length < 4) return undefined;
  return parseTimestampedSignature(bytes.subarray(4))?.timestamp;
}
