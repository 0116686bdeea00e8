import { MpayError } from '../errors/index.ts';
import { parseDescription } from '../ims/fields.ts';
import { readObject } from '../ims/json-object.ts';
import { parseCurrencyCode } from '../money/currency.ts';
import { parseMinorUnits } from '../money/decimal.ts';
import { isMsisdn, parsePartyId } from '../party/index.ts';
import { type BankingClientId, parseBankingClientId } from './client-id.ts';

/**
 * The messages of SA2pMP mobile banking (seed 003 §4–5), as data. Pure: the
 * bank's mobile banking server and the device's banking module share these
 * shapes and checks; the cryptography is theirs.
 *
 * Equation 1, `Client → Bank : E(S(msg, ID_C))`, is built as:
 * - S: a compact JWS (ES256 or EdDSA, never ECDSA-192/SHA-1) by the device's
 *   bound key over `{ banking: BankingSignedRequest, iss, aud, txn, iat, exp,
 *   nonce }`: msg is `request`, ID_C is `clientId`, and the session names
 *   the login it belongs to; iss the customer, aud the bank, txn the request id.
 * - E: a compact JWE, `dir` A256GCM under the session key agreed at login
 *   (ECDH P-256 plus the OPAQUE session key, HKDF-SHA-256), kid the session id.
 *
 * The bank answers the same way the other direction: its JWS over
 * `{ bankingAnswer: BankingAnswerContent }` (aud the customer, txn the request
 * id), sealed under the session key.
 */

export const bankingRequestKinds = [
  'balance',
  'transfer',
  'bill_payment',
  'statement',
  'devices',
  'revoke_device',
  'renewal_notices',
  'renew_key',
  'logout',
] as const;
export type BankingRequestKind = (typeof bankingRequestKinds)[number];

/** Why a customer revokes a device. */
export const revocationReasons = ['lost', 'stolen', 'replaced'] as const;
export type RevocationReason = (typeof revocationReasons)[number];

export type BankingRequest =
  | { readonly kind: 'balance' }
  | {
      readonly kind: 'transfer';
      /** Another customer (person or merchant), at this bank or another: `name@person.bank`. */
      readonly payeeId: string;
      readonly amount: bigint;
      readonly currency: string;
      /** What the payee sees. */
      readonly reference: string;
    }
  | {
      readonly kind: 'bill_payment';
      /** A biller registered at the bank. */
      readonly billerId: string;
      /** The customer's reference with that biller (a contract or invoice number). */
      readonly customerReference: string;
      readonly amount: bigint;
      readonly currency: string;
    }
  | {
      readonly kind: 'statement';
      readonly cursor?: string | undefined;
      readonly pageSize?: number | undefined;
    }
  | { readonly kind: 'devices' }
  | { readonly kind: 'revoke_device'; readonly serial: string; readonly reason: RevocationReason }
  | { readonly kind: 'renewal_notices' }
  | {
      readonly kind: 'renew_key';
      /** The bank's notice this renewal answers (§4.3: "renewal of a key pair must be initiated by the banking server"). */
      readonly noticeId: string;
      /** The new public keys, generated on the device (JWK, as POST /enrolments takes them). */
      readonly signingJwk: Readonly<Record<string, unknown>>;
      readonly encryptionJwk: Readonly<Record<string, unknown>>;
      /** Proof of possession of the new signing key: its JWS over `{ renewal: { noticeId, partyId, bank } }`. */
      readonly proof: string;
    }
  /** Ends the session at the bank (closed, its key erased): `{ sessionId, closedAt }`. */
  | { readonly kind: 'logout' };

/** What the device signs: msg, ID_C and the session (Equation 1's S(msg, ID_C)). */
export interface BankingSignedRequest {
  readonly request: BankingRequest;
  readonly clientId: BankingClientId;
  readonly sessionId: string;
}

export const bankingUserIdPattern = /^[a-z0-9][a-z0-9._-]{2,63}$/;
export const bankingReferenceLengthMax = 140;
export const billerIdPattern = /^[a-z0-9][a-z0-9-]{1,31}$/;
export const customerReferencePattern = /^[A-Za-z0-9][A-Za-z0-9 ./-]{0,33}[A-Za-z0-9]$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const serialPattern = /^[A-Za-z0-9_-]{1,64}$/;
const cursorPattern = /^[A-Za-z0-9_-]{1,128}$/;
const compactJwsPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const jwsLengthMax = 8_192;

function invalid(path: string): never {
  throw new MpayError('MESSAGE_INVALID', path);
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

export function isBankingUserId(value: unknown): value is string {
  return typeof value === 'string' && bankingUserIdPattern.test(value);
}

function parseUuid(value: unknown, path: string): string {
  return isUuid(value) ? value : invalid(path);
}

function parseAmountText(value: unknown, path: string): bigint {
  if (typeof value !== 'string') invalid(path);
  return parseMinorUnits(value, path);
}

function parseJwkObject(value: unknown, path: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(path);
  // JSON.stringify throws RangeError on a value nested a few thousand levels deep (which JSON.parse
  // accepts): too deep is too large (found by the fuzz campaign banking-request).
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return invalid(path);
  }
  if (text.length > 2_048) invalid(path);
  return value as Record<string, unknown>;
}

function parseCompactJws(value: unknown, path: string): string {
  return typeof value === 'string' && value.length <= jwsLengthMax && compactJwsPattern.test(value)
    ? value
    : invalid(path);
}

/** One request, strictly: its kind's members and no others, each checked. */
export function parseBankingRequest(value: unknown, path = 'request'): BankingRequest {
  const kind = (value as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case 'balance':
    case 'devices':
    case 'renewal_notices':
    case 'logout':
      readObject(value, path, ['kind']);
      return { kind };
    case 'transfer': {
      const record = readObject(value, path, ['kind', 'payeeId', 'amount', 'currency', 'reference']);
      // The type first: String() of an array nested thousands deep throws RangeError (found by the
      // fuzz campaign banking-request).
      if (typeof record.payeeId !== 'string') invalid(`${path}.payeeId`);
      const payee = parsePartyId(record.payeeId, `${path}.payeeId`);
      if (payee.kind === 'bank') invalid(`${path}.payeeId`);
      return {
        kind,
        payeeId: record.payeeId,
        amount: parseAmountText(record.amount, `${path}.amount`),
        currency: parseCurrencyCode(record.currency, `${path}.currency`),
        reference: parseReference(record.reference, `${path}.reference`),
      };
    }
    case 'bill_payment': {
      const record = readObject(value, path, ['kind', 'billerId', 'customerReference', 'amount', 'currency']);
      if (typeof record.billerId !== 'string' || !billerIdPattern.test(record.billerId)) {
        invalid(`${path}.billerId`);
      }
      if (
        typeof record.customerReference !== 'string' ||
        !customerReferencePattern.test(record.customerReference)
      ) {
        invalid(`${path}.customerReference`);
      }
      return {
        kind,
        billerId: record.billerId,
        customerReference: record.customerReference,
        amount: parseAmountText(record.amount, `${path}.amount`),
        currency: parseCurrencyCode(record.currency, `${path}.currency`),
      };
    }
    case 'statement': {
      const record = readObject(value, path, ['kind'], ['cursor', 'pageSize']);
      if (
        record.cursor !== undefined &&
        (typeof record.cursor !== 'string' || !cursorPattern.test(record.cursor))
      ) {
        invalid(`${path}.cursor`);
      }
      if (
        record.pageSize !== undefined &&
        (!Number.isSafeInteger(record.pageSize) || (record.pageSize as number) < 1)
      ) {
        invalid(`${path}.pageSize`);
      }
      return {
        kind,
        ...(record.cursor === undefined ? {} : { cursor: record.cursor as string }),
        ...(record.pageSize === undefined ? {} : { pageSize: record.pageSize as number }),
      };
    }
    case 'revoke_device': {
      const record = readObject(value, path, ['kind', 'serial', 'reason']);
      if (typeof record.serial !== 'string' || !serialPattern.test(record.serial)) invalid(`${path}.serial`);
      if (!(revocationReasons as readonly unknown[]).includes(record.reason)) invalid(`${path}.reason`);
      return { kind, serial: record.serial, reason: record.reason as RevocationReason };
    }
    case 'renew_key': {
      const record = readObject(value, path, ['kind', 'noticeId', 'signingJwk', 'encryptionJwk', 'proof']);
      return {
        kind,
        noticeId: parseUuid(record.noticeId, `${path}.noticeId`),
        signingJwk: parseJwkObject(record.signingJwk, `${path}.signingJwk`),
        encryptionJwk: parseJwkObject(record.encryptionJwk, `${path}.encryptionJwk`),
        proof: parseCompactJws(record.proof, `${path}.proof`),
      };
    }
    default:
      return invalid(`${path}.kind`);
  }
}

/** A reference a person types and another reads (the iMS description's rules), at most 140 characters. */
function parseReference(value: unknown, path: string): string {
  const text = parseDescription(value, path);
  return text.length <= bankingReferenceLengthMax && text.trim() === text ? text : invalid(path);
}

/** The `banking` member of a signed request: exactly `{ request, clientId, sessionId }`. */
export function parseBankingSignedRequest(value: unknown): BankingSignedRequest {
  const record = readObject(value, 'banking', ['request', 'clientId', 'sessionId']);
  return {
    request: parseBankingRequest(record.request, 'banking.request'),
    clientId: parseBankingClientId(record.clientId, 'banking.clientId'),
    sessionId: parseUuid(record.sessionId, 'banking.sessionId'),
  };
}

/** The JSON form of a request (amounts as decimal text of minor units), as the device signs it. */
export function bankingRequestToJson(request: BankingRequest): Record<string, unknown> {
  if (request.kind === 'transfer' || request.kind === 'bill_payment') {
    return { ...request, amount: request.amount.toString() };
  }
  return { ...request };
}

/**
 * The bank's answer to one request, signed by the bank (aud the customer, txn
 * the request id): `result` is the kind's result in JSON (amounts as decimal
 * text of minor units), as the business logic server made it.
 */
export interface BankingAnswerContent {
  readonly requestId: string;
  readonly sessionId: string;
  readonly kind: BankingRequestKind;
  readonly result: Readonly<Record<string, unknown>>;
}

export function parseBankingAnswerContent(value: unknown): BankingAnswerContent {
  const record = readObject(value, 'bankingAnswer', ['requestId', 'sessionId', 'kind', 'result']);
  if (!(bankingRequestKinds as readonly unknown[]).includes(record.kind)) invalid('bankingAnswer.kind');
  if (typeof record.result !== 'object' || record.result === null || Array.isArray(record.result)) {
    invalid('bankingAnswer.result');
  }
  return {
    requestId: parseUuid(record.requestId, 'bankingAnswer.requestId'),
    sessionId: parseUuid(record.sessionId, 'bankingAnswer.sessionId'),
    kind: record.kind as BankingRequestKind,
    result: record.result as Record<string, unknown>,
  };
}

/** A P-256 public key for ECDH, exactly `{ kty, crv, x, y }`. */
export interface EphemeralPublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

const coordinatePattern = /^[A-Za-z0-9_-]{43}$/;

export function parseEphemeralPublicJwk(value: unknown, path: string): EphemeralPublicJwk {
  const record = readObject(value, path, ['kty', 'crv', 'x', 'y']);
  if (record.kty !== 'EC' || record.crv !== 'P-256') invalid(path);
  if (typeof record.x !== 'string' || !coordinatePattern.test(record.x)) invalid(`${path}.x`);
  if (typeof record.y !== 'string' || !coordinatePattern.test(record.y)) invalid(`${path}.y`);
  return { kty: 'EC', crv: 'P-256', x: record.x, y: record.y };
}

/**
 * The device's half of a login's second step (possession: its signature; the
 * phone number it has; its ID_C; its ECDH share of the session key), signed
 * by the device key as `{ bankingLogin, iss: partyId, aud: bank, txn: loginId }`.
 */
export interface BankingLoginContent {
  readonly loginId: string;
  readonly userId: string;
  readonly clientId: BankingClientId;
  readonly msisdn: string;
  readonly ephemeralJwk: EphemeralPublicJwk;
}

export function parseBankingLoginContent(value: unknown): BankingLoginContent {
  const record = readObject(value, 'bankingLogin', [
    'loginId',
    'userId',
    'clientId',
    'msisdn',
    'ephemeralJwk',
  ]);
  if (!isBankingUserId(record.userId)) invalid('bankingLogin.userId');
  if (!isMsisdn(record.msisdn)) invalid('bankingLogin.msisdn');
  return {
    loginId: parseUuid(record.loginId, 'bankingLogin.loginId'),
    userId: record.userId,
    clientId: parseBankingClientId(record.clientId, 'bankingLogin.clientId'),
    msisdn: record.msisdn,
    ephemeralJwk: parseEphemeralPublicJwk(record.ephemeralJwk, 'bankingLogin.ephemeralJwk'),
  };
}

/**
 * A login's first step, signed by the device's bound key as
 * `{ bankingLoginStart, iss: partyId, aud: bank, txn: a fresh UUID v4 the
 * device draws }` (at most 120 s): the user id and `messageHash`,
 * base64url(SHA-256) of the utf8 OPAQUE KE1 it carries. Only a start signed
 * under an active binding of that customer with a banking device registration
 * is counted and answered from the customer's record; any other start is
 * answered with a decoy KE2, uncounted, so step 1 neither blocks anyone nor
 * says which user ids have a password. The bank takes the txn as the login id.
 */
export interface BankingLoginStartContent {
  readonly userId: string;
  readonly messageHash: string;
}

export function parseBankingLoginStartContent(value: unknown): BankingLoginStartContent {
  const record = readObject(value, 'bankingLoginStart', ['userId', 'messageHash']);
  if (!isBankingUserId(record.userId)) invalid('bankingLoginStart.userId');
  if (typeof record.messageHash !== 'string' || !coordinatePattern.test(record.messageHash)) {
    invalid('bankingLoginStart.messageHash');
  }
  return { userId: record.userId, messageHash: record.messageHash };
}

/**
 * The bank's half of the key agreement, signed by the bank (aud the
 * customer, txn the login id): its ECDH share, where the code went (masked)
 * and until when it is good.
 */
export interface BankingLoginAnswerContent {
  readonly loginId: string;
  readonly ephemeralJwk: EphemeralPublicJwk;
  readonly codeSentTo: string;
  readonly codeExpiresAt: string;
}

/** What the device seals under the session key to finish a login: the code the SMS carried. */
export interface BankingCodeContent {
  readonly loginId: string;
  readonly code: string;
}

export function parseBankingCodeContent(value: unknown, digits: number): BankingCodeContent {
  const record = readObject(value, 'bankingCode', ['loginId', 'code']);
  if (typeof record.code !== 'string' || !new RegExp(`^[0-9]{${digits}}$`).test(record.code)) {
    invalid('bankingCode.code');
  }
  return { loginId: parseUuid(record.loginId, 'bankingCode.loginId'), code: record.code };
}

/** The session the bank opened, signed by it (aud the customer, txn the session id). */
export interface BankingSessionContent {
  readonly sessionId: string;
  readonly partyId: string;
  /** The key binding of the device the session belongs to. */
  readonly serial: string;
  readonly clientId: BankingClientId;
  readonly expiresAt: string;
}

/** The registration of a device for banking: its ID_C, signed by its bound key (txn the binding serial). */
export interface BankingDeviceContent {
  readonly userId: string;
  readonly clientId: BankingClientId;
}

export function parseBankingDeviceContent(value: unknown): BankingDeviceContent {
  const record = readObject(value, 'bankingDevice', ['userId', 'clientId']);
  if (!isBankingUserId(record.userId)) invalid('bankingDevice.userId');
  return { userId: record.userId, clientId: parseBankingClientId(record.clientId, 'bankingDevice.clientId') };
}

/**
 * A step of the customer's password registration (OPAQUE), signed by a
 * device key bound to the customer: `messageHash` is base64url(SHA-256) of
 * the OPAQUE message it carries, so the signature covers exactly it.
 */
export interface BankingPasswordContent {
  readonly userId: string;
  readonly step: 'start' | 'finish';
  readonly messageHash: string;
}

export function parseBankingPasswordContent(value: unknown): BankingPasswordContent {
  const record = readObject(value, 'bankingPassword', ['userId', 'step', 'messageHash']);
  if (!isBankingUserId(record.userId)) invalid('bankingPassword.userId');
  if (record.step !== 'start' && record.step !== 'finish') invalid('bankingPassword.step');
  if (typeof record.messageHash !== 'string' || !coordinatePattern.test(record.messageHash)) {
    invalid('bankingPassword.messageHash');
  }
  return { userId: record.userId, step: record.step, messageHash: record.messageHash };
}

/** The info of the session key's HKDF: names the protocol, the bank, the customer and the session. */
export function bankingSessionInfo(bankId: string, partyId: string, sessionId: string): string {
  return `mpay banking session v1 ${bankId} ${partyId} ${sessionId}`;
}

/** Bytes of the session key (A256GCM). */
export const bankingSessionKeyBytes = 32;

/** "+38970123456" → "+389******456": where a code went, without the whole number. */
export function maskMsisdn(msisdn: string): string {
  if (!isMsisdn(msisdn)) throw new MpayError('MESSAGE_INVALID', 'msisdn');
  return `${msisdn.slice(0, 4)}${'*'.repeat(msisdn.length - 7)}${msisdn.slice(-3)}`;
}
