import * as cosigner from '../cosignature/cosigner-key.ts';
import * as ed25519 from './ed25519.ts';
import { generateKeyPair } from './key-pair.ts';
import { keyHash, keyInvalid, parseKeyText, signatureTypes, signerKeyPrefix, typedKey } from './key-text.ts';

export { formatVerifierKey, generateKeyPair } from './key-pair.ts';
export { formatKeyHash, keyHash } from './key-text.ts';

/** c2sp.org/signed-note signature type byte for Ed25519. */
export const ed25519SignatureType = signatureTypes.ed25519;

/** A parsed signer key (golang.org/x/mod/sumdb/note text encoding). */
export interface NoteSigner {
  readonly name: string;
  /** uint32 key ID. */
  readonly keyHash: number;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A parsed verifier key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  /** 0x01 (Ed25519 note signature) or 0x04 (c2sp.org/tlog-cosignature v1). */
  readonly signatureType: number;
  /** The type-prefixed public key, to tell two keys with the same name and key hash apart. */
  readonly typedPublicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>` and checks the hash against the derived public key. */
export async function parseSignerKey(text: string): Promise<NoteSigner> {
  if (typeof text !== 'string' || !text.startsWith(signerKeyPrefix)) throw keyInvalid('signer key prefix');
  const { name, keyHash: hash, signatureType, key } = parseKeyText(text.slice(signerKeyPrefix.length));
  if (signatureType !== ed25519SignatureType) throw keyInvalid('key algorithm');
  const pair = await ed25519.importSeed(key);
  if ((await keyHash(name, typedKey(ed25519SignatureType, pair.publicKey))) !== hash) {
    throw keyInvalid('key hash');
  }
  return Object.freeze({
    name,
    keyHash: hash,
    sign: (message: Uint8Array) => ed25519.sign(pair.privateKey, message),
  });
}

/**
 * Parses a verifier key `<name>+<hash>+<base64(type || public key)>` and
 * checks the hash: type 0x01 verifies Ed25519 note signatures, type 0x04
 * verifies c2sp.org/tlog-cosignature v1 cosignatures.
 *
 * The same text gives the same verifier, parsed once: every checkpoint a
 * payment's evidence is checked against parses the log's and the witnesses'
 * keys again, and each parse costs a digest and a key import. A verifier is
 * frozen and holds public values only; its `typedPublicKey` is shared and
 * must not be written to. At most parsedVerifiersMax are kept, the oldest
 * out first; a key that fails to parse is not kept.
 */
export async function parseVerifierKey(text: string): Promise<NoteVerifier> {
  if (typeof text !== 'string') return parseVerifierKeyNow(text);
  const known = parsedVerifiers.get(text);
  if (known !== undefined) return known;
  const parsing = parseVerifierKeyNow(text);
  parsedVerifiers.set(text, parsing);
  if (parsedVerifiers.size > parsedVerifiersMax) {
    const oldest = parsedVerifiers.keys().next().value;
    if (oldest !== undefined) parsedVerifiers.delete(oldest);
  }
  parsing.catch(() => {
    if (parsedVerifiers.get(text) === parsing) parsedVerifiers.delete(text);
  });
  return parsing;
}

const parsedVerifiers = new Map<string, Promise<NoteVerifier>>();
export const parsedVerifiersMax = 1_024;

async function parseVerifierKeyNow(text: string): Promise<NoteVerifier> {
  const parsed = parseKeyText(text);
  if (parsed.signatureType === signatureTypes.cosignatureV1) return cosigner.cosignatureVerifier(parsed);
  if (parsed.signatureType !== ed25519SignatureType) throw keyInvalid('key algorithm');
  const typedPublicKey = typedKey(ed25519SignatureType, parsed.key);
  if ((await keyHash(parsed.name, typedPublicKey)) !== parsed.keyHash) throw keyInvalid('key hash');
  const publicKey = await ed25519.importPublicKey(parsed.key).catch(() => {
    throw keyInvalid('public key');
  });
  return Object.freeze({
    name: parsed.name,
    keyHash: parsed.keyHash,
    signatureType: ed25519SignatureType,
    typedPublicKey,
    verify: (message: Uint8Array, signature: Uint8Array) => ed25519.verify(publicKey, message, signature),
  });
}

/** A new Ed25519 note key (type 0x01) for `name`: what a log signs its checkpoints with. */
export async function generateNoteKey(name: string): Promise<{ signerKey: string; verifierKey: string }> {
  return generateKeyPair(name, ed25519SignatureType);
}
