import { generateEncryptionKeyPair, generateSigningKeyPair } from '@mpay/envelope';
import { MpayError, parsePartyId } from '@mpay/protocol';
import {
  createKeystore,
  type DeviceKeys,
  type Enrolment,
  enrolDevice,
  fetchFspTrust,
  registerWithFsp,
  requirePinFormat,
} from '@mpay/sdk';
import { apiUrl, type WebConfig } from '../../config.ts';
import { type StoredDevice, writeDevice } from './store.ts';

/** What the customer types to set up this phone. */
export interface EnrolmentInput {
  readonly displayName: string;
  readonly partyId: string;
  readonly bankId: string;
  /** The one-time enrolment code the bank gave the customer. */
  readonly code: string;
  readonly pin: string;
}

/** The steps, in order, for the progress the page shows. */
export const enrolmentSteps = [
  { id: 'keys', label: 'Creating the device keys on this phone' },
  { id: 'bank', label: 'Enrolling the keys at your bank' },
  { id: 'pin', label: "Registering your PIN at the bank's PIN server" },
  { id: 'fsp', label: 'Registering with the payment service' },
] as const;
export type EnrolmentStep = (typeof enrolmentSteps)[number]['id'];

/**
 * What a failed try already did, kept in memory for the next try with the
 * same party, bank and code: once the bank enrolled the keys the one-time
 * code is spent, so a try that failed later (the PIN server, the FSP, a lost
 * connection) goes on with the same keys instead of asking the bank again.
 */
export interface EnrolmentProgress {
  for?: string;
  deviceId?: string;
  keys?: DeviceKeys;
  enrolment?: Enrolment;
}

/** The phone as enrolled, and the second factor the bank gave with a customer's first device (a secret: never stored). */
export interface EnrolledPhone {
  readonly device: StoredDevice;
  /** The authenticator's otpauth Key URI, for the customer's authenticator app; shown once. */
  readonly authenticator?: string | undefined;
}

const displayNameLengthMax = 100;
const codePattern = /^[A-Za-z0-9-]{4,64}$/;

/** The input checked before anything is generated or sent (stable codes, as the services would answer). */
export function checkEnrolmentInput(config: WebConfig, input: EnrolmentInput): void {
  const name = input.displayName.trim();
  if (name.length === 0 || name.length > displayNameLengthMax)
    throw new MpayError('REQUEST_INVALID', 'displayName');
  const party = parsePartyId(input.partyId.trim(), 'partyId');
  if (party.kind !== 'person' || party.bank !== input.bankId)
    throw new MpayError('PARTY_ID_INVALID', 'a person at the bank chosen');
  if (!config.banks.some((bank) => bank.id === input.bankId)) throw new MpayError('BANK_UNKNOWN');
  if (!codePattern.test(input.code.trim())) throw new MpayError('REQUEST_INVALID', 'code');
  requirePinFormat(input.pin);
}

function newDeviceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `web-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Sets up this phone as the customer's device, with the SDK as any wallet
 * does (cli/src/platform/seed.ts enrolCustomer): the key pairs are generated
 * here with WebCrypto; only the public keys go to the bank, with the one-time
 * code and a proof of possession; the bank answers its signed binding (and,
 * to the first device, the customer's authenticator, sealed to this device).
 * The PIN is registered at custody with OPAQUE, and the private keys are
 * wrapped under its export key: what IndexedDB keeps is the wrapped keystore,
 * and the keys are unwrapped only by a login there, as non-extractable
 * CryptoKeys in memory. Then the device registers with the FSP on the
 * strength of the bank's binding; the FSP's keys are pinned for later. The
 * authenticator is returned for the page to show once, and never stored.
 */
export async function enrolThisPhone(
  config: WebConfig,
  input: EnrolmentInput,
  onStep: (step: EnrolmentStep) => void,
  progress: EnrolmentProgress = {},
): Promise<EnrolledPhone> {
  checkEnrolmentInput(config, input);
  const partyId = input.partyId.trim();
  const displayName = input.displayName.trim();
  const code = input.code.trim();
  const gatewayUrl = apiUrl(config, 'gateway');
  // The FSP first: nothing is enrolled for a deployment whose FSP is not the configured one.
  const fsp = await fetchFspTrust(gatewayUrl);
  if (fsp.id !== config.fspId) throw new MpayError('CRYPTO_VERIFICATION_FAILED', 'fsp id');

  const attempt = `${partyId}\n${input.bankId}\n${code}`;
  if (progress.for !== attempt) {
    progress.for = attempt;
    progress.deviceId = undefined;
    progress.keys = undefined;
    progress.enrolment = undefined;
  }
  onStep('keys');
  progress.keys ??= {
    signing: await generateSigningKeyPair('ES256'),
    encryption: await generateEncryptionKeyPair(),
  };
  progress.deviceId ??= newDeviceId();
  const { keys, deviceId } = progress;

  onStep('bank');
  progress.enrolment ??= await enrolDevice(
    { bankUrl: apiUrl(config, input.bankId), bankId: input.bankId, partyId, code },
    deviceId,
    keys,
  );
  const { enrolment } = progress;

  onStep('pin');
  const keystore = await createKeystore({
    partyId,
    pin: input.pin,
    keys,
    binding: enrolment.binding,
    bankEncryptionJwk: enrolment.bankEncryptionJwk,
    pinServer: { url: apiUrl(config, 'custody'), custodyId: config.custodyId },
  });

  onStep('fsp');
  await registerWithFsp(gatewayUrl, enrolment, displayName);

  const device: StoredDevice = {
    partyId,
    displayName,
    bankId: input.bankId,
    deviceId,
    serial: enrolment.serial,
    enrolledAt: new Date().toISOString(),
    keystore,
    fsp,
  };
  await writeDevice(device);
  const { authenticator } = enrolment;
  // The private keys in clear are needed no more: the keystore holds them wrapped.
  progress.for = undefined;
  progress.keys = undefined;
  progress.enrolment = undefined;
  return { device, authenticator };
}
