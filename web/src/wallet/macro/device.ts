import {
  type DecryptionKey,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  importPrivateKey,
  type SigningKey,
} from '@mpay/envelope';
import { MpayError } from '@mpay/protocol';
import { enrolDevice, fetchBankTrust } from '@mpay/sdk';
import { apiUrl, type WebConfig } from '../../config.ts';
import type { MacroDeviceRecord } from './store.ts';

/**
 * Seed 002 §3: "The client must have an account in a bank and he/she must be
 * registered with MPASP server as well as with the bank." The device enrols
 * its keys at the customer's bank (SA2pMP §4.3, the SDK's `enrolDevice`):
 * generated here with WebCrypto, only the public halves and a proof of
 * possession sent with the bank's one-time code. Once the bank answered with
 * its binding, the private keys are imported as non-extractable CryptoKeys
 * and only those are stored (IndexedDB keeps a CryptoKey without exporting it).
 */
export interface MacroEnrolmentInput {
  readonly partyId: string;
  readonly bankId: string;
  readonly code: string;
}

async function signingKeyOf(jwk: Parameters<typeof importPrivateKey>[0]): Promise<SigningKey> {
  const imported = await importPrivateKey(jwk);
  if (imported.use !== 'sig') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return { cryptoKey: imported.cryptoKey, kid: imported.kid, alg: imported.alg };
}

async function decryptionKeyOf(jwk: Parameters<typeof importPrivateKey>[0]): Promise<DecryptionKey> {
  const imported = await importPrivateKey(jwk);
  if (imported.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return { cryptoKey: imported.cryptoKey, kid: imported.kid, alg: imported.alg };
}

export async function enrolMacroDevice(
  config: WebConfig,
  input: MacroEnrolmentInput,
): Promise<MacroDeviceRecord> {
  const bankUrl = apiUrl(config, input.bankId);
  const bank = await fetchBankTrust(bankUrl);
  // The deployment names the bank: keys that answer under another name are not its keys.
  if (bank.id !== input.bankId) throw new MpayError('BANK_UNKNOWN', bank.id);
  const keys = {
    signing: await generateSigningKeyPair('ES256'),
    encryption: await generateEncryptionKeyPair(),
  };
  const deviceId = `web-macro-${crypto.randomUUID().slice(0, 8)}`;
  const enrolment = await enrolDevice(
    { bankUrl, bankId: input.bankId, partyId: input.partyId, code: input.code },
    deviceId,
    keys,
  );
  return {
    partyId: input.partyId,
    bankId: input.bankId,
    deviceId,
    serial: enrolment.serial,
    binding: enrolment.binding,
    signingKey: await signingKeyOf(keys.signing.privateJwk),
    encryptionKey: await decryptionKeyOf(keys.encryption.privateJwk),
    bank,
    enrolledAt: new Date().toISOString(),
  };
}
