// Test-only: a payment request exactly as the FSP pushes it (iMS step 2), made with the
// envelope's own signing functions, with knobs to break one thing at a time.
import {
  decodeUnverified,
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  issueKeyCertificate,
  publicJwkSet,
  signPayload,
} from '@mpay/envelope';
import {
  defaultSecurityPolicy,
  detachPayload,
  fspSignedContent,
  type ImsMessage,
  imsToJson,
  merchantSignedContent,
  type SignatureClaims,
  withChainSigns,
} from '@mpay/protocol';
import type { FspTrust } from '../fsp.ts';

export const customerId = 'john.bernard@person.xbank';
export const merchantId = 'merkur.trade@merchant.ybank';

export interface PartyKeys {
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
}

export interface Parties {
  readonly fspKeys: PartyKeys;
  readonly merchantKeys: PartyKeys;
  readonly fsp: FspTrust;
}

async function partyKeys(): Promise<PartyKeys> {
  return { signing: await generateSigningKeyPair('ES256'), encryption: await generateEncryptionKeyPair() };
}

export async function parties(): Promise<Parties> {
  const fspKeys = await partyKeys();
  return {
    fspKeys,
    merchantKeys: await partyKeys(),
    fsp: { id: 'fsp.test', keys: publicJwkSet([fspKeys.signing.publicJwk, fspKeys.encryption.publicJwk]) },
  };
}

export interface PushOptions {
  readonly transactionId?: string;
  readonly from?: string;
  /** Signs the FSP's countersignature with this key instead of the FSP's. */
  readonly fspSigningKey?: GeneratedKeyPair;
  /** Certifies the merchant's keys for this subject instead of the merchant. */
  readonly certificateSubject?: string;
  /** The name the certificate names (default 'Merkur Trade'); null: a certificate that names no one. */
  readonly certifiedName?: string | null;
  /** The push's unsigned `merchantName` (default 'Merkur Trade'); null: none. */
  readonly pushedName?: string | null;
  /** Changes the message after every signature was made. */
  readonly mutate?: (message: ImsMessage) => ImsMessage;
}

/** `{ ims, merchantCertificate, merchantName }` as the FSP sends it to the customer (`merchantName` unsigned). */
export async function paymentRequestPush(
  setup: Parties,
  options: PushOptions = {},
): Promise<{ push: Record<string, unknown>; message: ImsMessage }> {
  const unsigned: ImsMessage = {
    type: 'small',
    transactionId: options.transactionId ?? crypto.randomUUID(),
    procedure: 'm-commerce',
    address: {
      from: { id: (options.from ?? customerId) as ImsMessage['address']['from']['id'] },
      to: { id: merchantId as ImsMessage['address']['to']['id'] },
      timestamp: new Date().toISOString(),
    },
    data: { amount: { currency: 'EUR', minor: 12_50n }, description: 'espresso beans' },
  };
  const txn = unsigned.transactionId;
  const sign = await signPayload(
    merchantSignedContent(unsigned),
    { issuer: merchantId, audience: setup.fsp.id, transactionId: txn, expiresInSeconds: 300 },
    setup.merchantKeys.signing.privateJwk,
  );
  const merchantSigned: ImsMessage = {
    ...unsigned,
    address: { ...unsigned.address, to: { ...unsigned.address.to, sign } },
  };
  const filled: ImsMessage = {
    ...merchantSigned,
    protections: defaultSecurityPolicy.levels.small,
    data: { ...merchantSigned.data, accountPayable: 'acct-1234' },
  };
  const fspSign = await signPayload(
    fspSignedContent(filled),
    { issuer: setup.fsp.id, audience: unsigned.address.from.id, transactionId: txn, expiresInSeconds: 600 },
    (options.fspSigningKey ?? setup.fspKeys.signing).privateJwk,
  );
  const countersigned: ImsMessage = { ...filled, address: { ...filled.address, fspSign } };
  const message = options.mutate ? options.mutate(countersigned) : countersigned;
  const nowSeconds = Math.floor(Date.now() / 1000);
  const merchantCertificate = await issueKeyCertificate(
    {
      issuer: setup.fsp.id,
      subject: options.certificateSubject ?? merchantId,
      name: options.certifiedName === null ? undefined : (options.certifiedName ?? 'Merkur Trade'),
      signingJwk: setup.merchantKeys.signing.publicJwk,
      encryptionJwk: setup.merchantKeys.encryption.publicJwk,
      notBefore: nowSeconds - 60,
      notAfter: nowSeconds + 86_400,
      serialNumber: 'serial-1',
    },
    setup.fspKeys.signing.privateJwk,
  );
  const pushedName =
    options.pushedName === null ? {} : { merchantName: options.pushedName ?? 'Merkur Trade' };
  return {
    push: { ims: imsToJson(message), merchantCertificate, ...pushedName },
    message,
  };
}

/** The issued, expires and nonce push/v2 carries beside a detached signature. */
export function claimsOf(jws: string): SignatureClaims {
  const { iat, exp, nonce } = decodeUnverified(jws)!.payload as SignatureClaims;
  return { iat, exp, nonce };
}

/**
 * The same request as push/v2 (@mpay/protocol ims/push.ts): both signatures of `message` detached in place,
 * their claims beside it (a `mutate`d message keeps the signatures made before it was changed).
 */
export function pushV2(push: Record<string, unknown>, message: ImsMessage): Record<string, unknown> {
  const merchant = message.address.to.sign!;
  const fsp = message.address.fspSign!;
  return {
    ...push,
    ims: imsToJson(withChainSigns(message, { merchant: detachPayload(merchant), fsp: detachPayload(fsp) })),
    signatureClaims: { merchant: claimsOf(merchant), fsp: claimsOf(fsp) },
  };
}
