import type { KeyPairText } from '@mpay/log-service';
import { loadOrCreateKeyPair } from '@mpay/log-service';
import { parseAnySignerKey, parseVerifierKey } from '@mpay/merkle';
import { MpayError } from '@mpay/protocol';
import { readKey } from './files.ts';
import type { LogCommandIo } from './io.ts';

/**
 * The server's key pair: from `--skey FILE` and the `.vkey` beside it when
 * given, else `<data>/keys/<name>.skey`, created on first start. The
 * verifier key must belong to the signer key (same name and key ID).
 */
export async function serverKey(
  io: LogCommandIo,
  skeyFile: string | undefined,
  dataDir: string,
  name: string,
  generate: () => Promise<KeyPairText>,
): Promise<KeyPairText> {
  if (skeyFile === undefined) return loadOrCreateKeyPair(dataDir, name, generate);
  const signerKey = await readKey(io, skeyFile);
  const verifierKey = await readKey(io, skeyFile.replace(/\.skey$/, '.vkey'));
  const [signer, verifier] = await Promise.all([parseAnySignerKey(signerKey), parseVerifierKey(verifierKey)]);
  if (signer.name !== verifier.name || signer.keyHash !== verifier.keyHash) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'the .vkey is not the .skey key');
  }
  return { signerKey, verifierKey };
}
