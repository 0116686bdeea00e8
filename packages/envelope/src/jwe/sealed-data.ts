import {
  type ImsPrivateData,
  type ImsSealedData,
  imsPrivateDataFromText,
  imsPrivateDataToText,
  MpayError,
} from '@mpay/protocol';
import { SESSION_KEY_LENGTH_BYTES } from '../algorithms.ts';
import { decodeUtf8, encodeBase64url, encodeUtf8 } from '../encoding.ts';
import { sha256 } from '../engine.ts';
import type { PrivateJwk, PublicJwk } from '../keys/jwk.ts';
import { type DecryptionKey, decryptDirect, decryptWith } from './decrypt.ts';
import { encryptDirect, encryptTo } from './encrypt.ts';

/** Who may open sealed private fields: one sealed content key each. */
export type SealedDataReader = 'customer' | 'payerBank' | 'payeeBank';

export const sealedDataReaders: readonly SealedDataReader[] = Object.freeze([
  'customer',
  'payerBank',
  'payeeBank',
]);

const CONTENT_TYPE = 'mpay-private+json';
const KEY_CONTENT_TYPE = 'mpay-content-key';

/**
 * The commitment to a content key, written as the content JWE's `kid`:
 * SHA-256 over a label and the key. AES-GCM does not commit to its key, so
 * without it a merchant could seal keys that open one ciphertext into two
 * different texts for two readers; with it every reader opens the same text.
 * A hash of a random 256-bit key says nothing about the key.
 */
export async function keyCommitment(contentKey: Uint8Array): Promise<string> {
  const label = encodeUtf8('mpay sealed data key v1\u0000');
  const input = new Uint8Array(label.length + contentKey.length);
  input.set(label);
  input.set(contentKey, label.length);
  return encodeBase64url(await sha256(input));
}

/**
 * Seals a payment's private fields (iMS data section, `private_data_sealed`)
 * for its three readers: the text is encrypted once (`dir`, A256GCM) under a
 * fresh content key, and the key is sealed (ECDH-ES) to each reader's
 * encryption key. The caller must have the keys from their owners (the
 * customer's device key from the binding its bank signed, each bank's key
 * from the bank), not from whoever relays the message.
 */
export async function sealPrivateData(
  data: ImsPrivateData,
  readers: Readonly<Record<SealedDataReader, PublicJwk>>,
): Promise<ImsSealedData> {
  const contentKey = crypto.getRandomValues(new Uint8Array(SESSION_KEY_LENGTH_BYTES));
  const content = await encryptDirect(imsPrivateDataToText(data), contentKey, {
    kid: await keyCommitment(contentKey),
    contentType: CONTENT_TYPE,
  });
  const sealKey = (reader: SealedDataReader) =>
    encryptTo(contentKey, readers[reader], { contentType: KEY_CONTENT_TYPE });
  const [customer, payerBank, payeeBank] = await Promise.all(sealedDataReaders.map(sealKey));
  return Object.freeze({ content, customer: customer!, payerBank: payerBank!, payeeBank: payeeBank! });
}

/**
 * Opens the private fields as one reader: its sealed content key with its
 * private key, the key checked against the commitment, the content with the
 * key, then the strict private-data rules, and the data must name this
 * payment. Anything wrong is CRYPTO_DECRYPTION_FAILED (a wrong key, a swapped
 * part) or MESSAGE_INVALID (a well-sealed text that is not private data of
 * this payment), without saying more.
 */
export async function openPrivateData(
  sealed: ImsSealedData,
  reader: SealedDataReader,
  privateKeys: readonly (PrivateJwk | DecryptionKey)[],
  transactionId: string,
): Promise<ImsPrivateData> {
  const contentKey = await decryptWith(sealed[reader], privateKeys);
  if (contentKey.length !== SESSION_KEY_LENGTH_BYTES) throw new MpayError('CRYPTO_DECRYPTION_FAILED');
  const plaintext = await decryptDirect(sealed.content, contentKey, { kid: await keyCommitment(contentKey) });
  const text = decodeUtf8(plaintext);
  if (text === undefined) throw new MpayError('MESSAGE_INVALID', 'private');
  const data = imsPrivateDataFromText(text);
  if (data.transactionId !== transactionId) throw new MpayError('MESSAGE_INVALID', 'private.transactionId');
  return data;
}
