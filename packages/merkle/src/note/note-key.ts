import { MpayError } from '@mpay/protocol';
import { base64Decode, base64Encode, concatBytes, utf8Encode } from '../bytes.ts';
import { sha256 } from '../hash/rfc9162.ts';
import { noteKeyLengthMax } from '../limits.ts';
import * as ed25519 from './ed25519.ts';
import { isValidKeyName } from './key-name.ts';

/** c2sp.org/signed-note signature type byte for Ed25519. */
export const ed25519SignatureType = 0x01;
const typePrefix = new Uint8Array([ed25519SignatureType]);

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
  /** The 0x01-prefixed public key, to tell two keys with the same name and key hash apart. */
  readonly typedPublicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

function keyInvalid(detail: string): MpayError {
  return new MpayError('CRYPTO_KEY_INVALID', detail);
}

/** Key ID = first 4 bytes, big-endian, of SHA-256(name || 0x0A || type byte || public key). */
export async function keyHash(name: string, typedPublicKey: Uint8Array): Promise<number> {
  const digest = await sha256(concatBytes(utf8Encode(`${name}\n`), typedPublicKey));
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
}

export function formatKeyHash(hash: number): string {
  return hash.toString(16).padStart(8, '0');
}

/** Splits `name+hash+base64` (the base64 part may itself contain '+'). */
function splitKey(text: string): { name: string; hash: number; key: Uint8Array } {
  if (typeof text !== 'string' || text.length > noteKeyLengthMax) throw keyInvalid('key text');
  const [name = '', hashHex = ''] = text.split('+', 2);
  const key = base64Decode(text.slice(name.length + hashHex.length + 2));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hashHex) || key === undefined) {
    throw keyInvalid('key encoding');
  }
  // Type byte, then 32 bytes: the seed in a signer key, the public key in a verifier key.
  if (key.length !== 1 + ed25519.ed25519PublicKeyBytes || key[0] !== ed25519SignatureType) {
    throw keyInvalid('key algorithm');
  }
  return { name, hash: Number.parseInt(hashHex, 16), key: key.subarray(1) };
}

/** Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>` and checks the hash against the derived public key. */
export async function parseSignerKey(text: string): Promise<NoteSigner> {
  if (typeof text !== 'string' || !text.startsWith('PRIVATE+KEY+')) throw keyInvalid('signer key prefix');
  const { name, hash, key } = splitKey(text.slice('PRIVATE+KEY+'.length));
  const pair = await ed25519.importSeed(key);
  if ((await keyHash(name, concatBytes(typePrefix, pair.publicKey))) !== hash) {
    throw keyInvalid('key hash');
  }
  return Object.freeze({
    name,
    keyHash: hash,
    sign: (message: Uint8Array) => ed25519.sign(pair.privateKey, message),
  });
}

/** Parses `<name>+<hash>+<base64(0x01 || public key)>` and checks the hash. */
export async function parseVerifierKey(text: string): Promise<NoteVerifier> {
  const { name, hash, key } = splitKey(text);
  const typedPublicKey = concatBytes(typePrefix, key);
  if ((await keyHash(name, typedPublicKey)) !== hash) throw keyInvalid('key hash');
  const publicKey = await ed25519.importPublicKey(key).catch(() => {
    throw keyInvalid('public key');
  });
  return Object.freeze({
    name,
    keyHash: hash,
    typedPublicKey,
    verify: (message: Uint8Array, signature: Uint8Array) => ed25519.verify(publicKey, message, signature),
  });
}

/** The verifier key text for an Ed25519 public key. */
export async function formatVerifierKey(name: string, publicKey: Uint8Array): Promise<string> {
  if (!isValidKeyName(name)) throw keyInvalid('key name');
  if (publicKey.length !== ed25519.ed25519PublicKeyBytes) throw keyInvalid('public key');
  const typedPublicKey = concatBytes(typePrefix, publicKey);
  return `${name}+${formatKeyHash(await keyHash(name, typedPublicKey))}+${base64Encode(typedPublicKey)}`;
}

/** A new Ed25519 key pair for `name`, as signer key text (secret) and verifier key text. */
export async function generateNoteKey(name: string): Promise<{ signerKey: string; verifierKey: string }> {
  if (!isValidKeyName(name)) throw keyInvalid('key name');
  const seed = await ed25519.generateSeed();
  const { publicKey } = await ed25519.importSeed(seed);
  const verifierKey = await formatVerifierKey(name, publicKey);
  const hashHex = verifierKey.slice(name.length + 1, name.length + 9);
  const signerKey = `PRIVATE+KEY+${name}+${hashHex}+${base64Encode(concatBytes(typePrefix, seed))}`;
  return { signerKey, verifierKey };
}
