import { MpayError } from '@mpay/protocol';
import { finishPinLogin, registerPin, requirePinFormat, startPinLogin } from '../pin/opaque.ts';
import {
  answerString,
  type CustodyCallOptions,
  compactPattern,
  identifierPattern,
  opaqueValuePattern,
  postToCustody,
} from './http.ts';

/** The same device ids as a bank enrolment (`enrolDevice`). */
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
/** A bearer token (RFC 6750 token68), bounded. */
export const deviceTokenPattern = /^[A-Za-z0-9._~+/-]{16,1024}=*$/;
/** Custody's own bound on a display name. */
const displayNameLengthMax = 100;

export interface CustodyEnrolmentInput {
  readonly custodyUrl: string;
  readonly bankId: string;
  readonly partyId: string;
  /** The one-time enrolment code the customer's bank issued. */
  readonly code: string;
  readonly deviceId: string;
  readonly displayName: string;
  readonly pin: string;
}

/** Custody's answer to an enrolment: the key custody holds for the customer, bound by the bank. */
export interface CustodyEnrolment {
  readonly partyId: string;
  readonly serial: string;
  /** The bank's signed binding of the key custody generated in its HSM. */
  readonly binding: string;
  /** The customer's PIN credential at custody. */
  readonly credentialId: string;
  readonly deviceId: string;
  /** The phone's bearer token for its calls to custody: keep it like a password. */
  readonly deviceToken: string;
}

function requireDeviceId(deviceId: string): void {
  if (!deviceIdPattern.test(deviceId)) throw new MpayError('REQUEST_INVALID', 'deviceId');
}

/**
 * Enrols a custody customer (no key on the phone): the PIN is registered with
 * OPAQUE, then custody generates the customer's key in its HSM, enrols it at
 * the bank with the one-time code, registers the customer with the FSP, and
 * gives this phone its device token (`POST /enrolments`).
 */
export async function enrolWithCustody(
  input: CustodyEnrolmentInput,
  options: CustodyCallOptions = {},
): Promise<CustodyEnrolment> {
  requireDeviceId(input.deviceId);
  requirePinFormat(input.pin);
  if (input.displayName.length === 0 || input.displayName.length > displayNameLengthMax)
    throw new MpayError('REQUEST_INVALID', 'displayName');
  const registration = await registerPin(input.custodyUrl, input.pin, options);
  const answer = await postToCustody(
    `${input.custodyUrl}/enrolments`,
    {
      partyId: input.partyId,
      bankId: input.bankId,
      code: input.code,
      deviceId: input.deviceId,
      displayName: input.displayName,
      registrationId: registration.registrationId,
      registrationRecord: registration.registrationRecord,
    },
    options,
  );
  const enrolment: CustodyEnrolment = {
    partyId: answerString(answer, 'partyId', /^.{1,256}$/),
    serial: answerString(answer, 'serial', identifierPattern),
    binding: answerString(answer, 'binding', compactPattern),
    credentialId: answerString(answer, 'credentialId', identifierPattern),
    deviceId: answerString(answer, 'deviceId', deviceIdPattern),
    deviceToken: answerString(answer, 'deviceToken', deviceTokenPattern),
  };
  if (enrolment.partyId !== input.partyId || enrolment.deviceId !== input.deviceId)
    throw new MpayError('SERVICE_UNAVAILABLE', 'custody answer: partyId or deviceId');
  return Object.freeze(enrolment);
}

export interface CustodyDeviceInput {
  readonly custodyUrl: string;
  readonly partyId: string;
  /** The customer's PIN credential at custody (from the first device's enrolment). */
  readonly credentialId: string;
  readonly deviceId: string;
  readonly pin: string;
}

/**
 * Adds another phone for a custody customer: a PIN login at custody (counted;
 * PIN_REFUSED, PIN_BLOCKED) whose finish custody takes as the customer's
 * consent to the new device (`POST /customers/{partyId}/devices`). A wrong
 * PIN is sent as a failed finish, and custody's refusal is the answer.
 */
export async function addCustodyDevice(
  input: CustodyDeviceInput,
  options: CustodyCallOptions = {},
): Promise<{ readonly deviceToken: string }> {
  requireDeviceId(input.deviceId);
  const start = await startPinLogin(input.pin);
  const login = await postToCustody(
    `${input.custodyUrl}/pin-logins`,
    { credentialId: input.credentialId, startLoginRequest: start.startLoginRequest },
    options,
  );
  const loginId = answerString(login, 'loginId', identifierPattern);
  const loginResponse = answerString(login, 'loginResponse', opaqueValuePattern);
  const finished = await finishPinLogin(start, loginResponse, input.pin).catch(() => undefined);
  // A wrong PIN is still sent as a failed finish (null): custody counts it and blocks at the limit at once.
  const answer = await postToCustody(
    `${input.custodyUrl}/customers/${encodeURIComponent(input.partyId)}/devices`,
    { deviceId: input.deviceId, loginId, finishLoginRequest: finished?.finishLoginRequest ?? null },
    options,
  );
  return Object.freeze({ deviceToken: answerString(answer, 'deviceToken', deviceTokenPattern) });
}
