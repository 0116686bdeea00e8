import * as ed25519 from './ed25519.ts';
import { isValidKeyName } from './key-name.ts';
import { formatKeyText, keyHash, keyInvalid, signatureTypes, signerKeyPrefix, typedKey } from './key-text.ts';

/** The verifier key text for an Ed25519 public key of the given signature type (default 0x01). */
export async function formatVerifierKey(
  name: string,
  publicKey: Uint8Array,
  signatureType: number = signatureTypes.ed25519,
): Promise<string> {
  if (!isValidKeyName(name)) throw keyInvalid('key name');
  if (publicKey.length !== ed25519.ed25519PublicKeyBytes) throw keyInvalid('public key');
  if (signatureType !== signatureTypes.ed25519 && signatureType !== signatureTypes.cosignatureV1) {
    throw keyInvalid('key algorithm');
  }
  const hash = await keyHash(name, typedKey(signatureType, publicKey));
  return formatKeyText(name, hash, signatureType, publicKey);
}

/** A new Ed25519 key pair for `name` and the signature type: signer key text (secret) and verifier key text. */
export async function generateKeyPair(
  name: string,
  signatureType: number,
): Promise<{ signerKey: string; verifierKey: string }> {
  if (!isValidKeyName(name)) throw keyInvalid('key name');
  const seed = await ed25519.generateSeed();
  const { publicKey } = await ed25519.importSeed(seed);
  const verifierKey = await formatVerifierKey(name, publicKey, signatureType);
  const hash = await keyHash(name, typedKey(signatureType, publicKey));
  const signerKey = `${signerKeyPrefix}${formatKeyText(name, hash, signatureType, seed)}`;
  return { signerKey, verifierKey };
}
