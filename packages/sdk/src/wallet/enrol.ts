import { type GeneratedKeyPair, type PublicJwk, parsePublicJwk, signPayload } from '@mpay/envelope';
import { requestObject } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import { type Authenticator, openAuthenticator } from './second-factor.ts';

/** What the customer's bank gave the customer to enrol a device (by mail or at the branch). */
export interface EnrolmentInvitation {
  readonly bankUrl: string;
  readonly bankId: string;
  readonly partyId: string;
  /** The one-time enrolment code the bank issued. */
  readonly code: string;
}

export interface DeviceKeys {
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
}

export interface Enrolment {
  readonly serial: string;
  /** The bank's signed binding of the device's keys to the customer and the accounts they may debit. */
  readonly binding: string;
  /**
   * The bank's encryption key, to which the wallet seals one-time codes
   * (`sealSecondFactor`); keep it in the keystore (createKeystore's
   * `bankEncryptionJwk`). Absent when the bank has no second factor.
   */
  readonly bankEncryptionJwk?: PublicJwk | undefined;
  /**
   * The customer's second factor (an otpauth Key URI), given to the first
   * device the customer enrols and never again: keep it apart from the
   * keystore, as an authenticator app would (`authenticatorCode`).
   */
  readonly authenticator?: Authenticator | undefined;
}

const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * SA2pMP §4.3 at the device: the key pair was generated on the device; only
 * the public keys go to the customer's bank, with the one-time code and a
 * proof that the device holds the private signing key. The bank answers with
 * its signed binding, which the FSP and anyone else can check.
 */
export async function enrolDevice(
  invitation: EnrolmentInvitation,
  deviceId: string,
  keys: DeviceKeys,
  options: { timeoutMs?: number } = {},
): Promise<Enrolment> {
  if (!deviceIdPattern.test(deviceId)) throw new MpayError('REQUEST_INVALID', 'deviceId');
  const proof = await signPayload(
    { enrolment: { partyId: invitation.partyId, deviceId, bank: invitation.bankId } },
    {
      issuer: invitation.partyId,
      audience: invitation.bankId,
      transactionId: deviceId,
      expiresInSeconds: 300,
    },
    keys.signing.privateJwk,
  );
  const { body } = await requestObject<{
    serial?: unknown;
    binding?: unknown;
    bankEncryptionJwk?: unknown;
    sealedAuthenticator?: unknown;
  }>(`${invitation.bankUrl}/enrolments`, {
    body: JSON.stringify({
      partyId: invitation.partyId,
      code: invitation.code,
      deviceId,
      signingJwk: keys.signing.publicJwk,
      encryptionJwk: keys.encryption.publicJwk,
      proof,
    }),
    contentType: 'application/json',
    timeoutMs: options.timeoutMs ?? 30_000,
    responseBytesMax: 32 * 1024,
  });
  if (typeof body.serial !== 'string' || typeof body.binding !== 'string') {
    throw new MpayError('SERVICE_UNAVAILABLE', 'enrolment answer');
  }
  const bankEncryptionJwk =
    body.bankEncryptionJwk === undefined ? undefined : parsePublicJwk(body.bankEncryptionJwk);
  if (bankEncryptionJwk !== undefined && bankEncryptionJwk.use !== 'enc') {
    throw new MpayError('CRYPTO_KEY_INVALID', 'bankEncryptionJwk');
  }
  const sealed = body.sealedAuthenticator;
  if (sealed !== undefined && typeof sealed !== 'string') {
    throw new MpayError('SERVICE_UNAVAILABLE', 'enrolment answer');
  }
  const authenticator =
    sealed === undefined
      ? undefined
      : await openAuthenticator(sealed, keys.encryption.privateJwk, invitation.partyId);
  return {
    serial: body.serial,
    binding: body.binding,
    ...(bankEncryptionJwk === undefined ? {} : { bankEncryptionJwk }),
    ...(authenticator === undefined ? {} : { authenticator }),
  };
}

/** Registers the enrolled device with the FSP, on the word of the customer's bank (its binding). */
export async function registerWithFsp(
  gatewayUrl: string,
  enrolment: Enrolment,
  displayName: string,
  options: { timeoutMs?: number; idempotencyKey?: string } = {},
): Promise<{ partyId: string; serialNumber: string; bankId: string }> {
  const { body } = await requestObject<{ partyId?: unknown; serialNumber?: unknown; bankId?: unknown }>(
    `${gatewayUrl}/customers`,
    {
      body: JSON.stringify({ binding: enrolment.binding, displayName }),
      contentType: 'application/json',
      headers: { 'idempotency-key': options.idempotencyKey ?? `enrol-${enrolment.serial}` },
      timeoutMs: options.timeoutMs ?? 30_000,
    },
  );
  const { partyId, serialNumber, bankId } = body;
  if (typeof partyId !== 'string' || typeof serialNumber !== 'string' || typeof bankId !== 'string')
    throw new MpayError('SERVICE_UNAVAILABLE', 'registration answer');
  return { partyId, serialNumber, bankId };
}
