import {
  decodeBase64url,
  decryptDirect,
  encodeBase64url,
  encryptDirect,
  keyResolverFromJwkSet,
  type PrivateJwk,
  type PublicJwkSet,
  type SigningKey,
  signPayload,
  verifyPayload,
} from '@mpay/envelope';
import {
  type BankingAnswerContent,
  type BankingClientId,
  type BankingDeviceContent,
  type BankingLoginAnswerContent,
  type BankingLoginContent,
  type BankingLoginStartContent,
  type BankingPasswordContent,
  type BankingRequest,
  type BankingSessionContent,
  bankingLimitsCeiling,
  bankingRequestToJson,
  bankingSessionInfo,
  bankingSessionKeyBytes,
  type EphemeralPublicJwk,
  isMpayError,
  isUuid,
  MpayError,
  parseBankingAnswerContent,
  parseBankingClientId,
  parseBankingDeviceContent,
  parseBankingLoginContent,
  parseBankingLoginStartContent,
  parseBankingPasswordContent,
  parseBankingRequest,
  parseEphemeralPublicJwk,
} from '@mpay/protocol';
import { hkdfSha256 } from '../macro/channel-key.ts';
import { exactRecord, readInstant, readString, serialPattern } from './json.ts';

/**
 * The Security Module (SM) of SA2pMP's mobile client (seed 003 §5.1, Figure
 * 5(A)): "This message will be processed with digital signature and
 * encryption in the SM. Following the rules of ECDSA we read the private key
 * from the KLM, and then affix the digital signature to the original message,
 * along with the encryption."
 *
 * Equation 1, Client → Bank : E(S(msg, ID_C)), as the banking contract
 * builds it: S is a compact JWS (ES256) by the device's bound key over
 * `{ banking: { request, clientId, sessionId } }` (iss the customer, aud the
 * bank, txn a fresh request id); E is a compact JWE, `dir` + A256GCM under the
 * session key the login agreed (kid the session id). The bank answers the
 * same way back, signed by the bank. Everything the bank sends is refused
 * unless it opens, verifies under the bank's pinned keys and has exactly the
 * members expected (CRYPTO_VERIFICATION_FAILED, one generic failure).
 */

/** The bank as its device pins it for signatures: its id and public signing keys (a `BankTrust` is one). */
export interface BankingBankKeys {
  readonly id: string;
  readonly keys: PublicJwkSet;
}

/** The device's bound signing key: a private JWK, or an imported (non-extractable) WebCrypto key. */
export type BankingSigningKey = PrivateJwk | SigningKey;

/** How long the device's own statements (registration, password step, login, renewal proof) are good. */
export const deviceStatementLifetimeSeconds = 120;
/** A request's signature lifetime when the caller names none (the bank allows at most limits.requestLifetimeSecondsMax). */
export const bankingRequestLifetimeSecondsDefault = 60;
/** The bank signs each answer for 300 s (the contract); a longer lifetime is not the bank's answer. */
export const bankingAnswerLifetimeSecondsMax = 300;
/** The bank's login answer and session statement: bounded by the login id they name, accepted up to a day. */
export const bankingStatementLifetimeSecondsMax = 86_400;
/** Longest sealed answer opened (a statement page with its log receipts), in characters. */
export const bankingSealedLengthMax = 1024 * 1024;

/** The claims signPayload adds next to the one content member. */
const claimNames = ['aud', 'exp', 'iat', 'iss', 'nonce', 'txn'];
const codePattern = new RegExp(`^[0-9]{6,${bankingLimitsCeiling.codeDigits}}$`);
const maskedMsisdnPattern = /^\+[0-9]{3}\*{1,12}[0-9]{3}$/;
const opaqueSessionKeyBytesMin = 32;
const textEncoder = new TextEncoder();

/** What a client-side parser of ours may throw on hostile input; anything else is a bug and propagates. */
function isInputFailure(error: unknown): boolean {
  return isMpayError(error) || error instanceof SyntaxError || error instanceof TypeError;
}

function notFromBank(bank: BankingBankKeys): MpayError {
  return new MpayError('CRYPTO_VERIFICATION_FAILED', `not from ${bank.id}`);
}

/** Local input the device is about to sign: its own mistake, said plainly (REQUEST_INVALID naming the field). */
function requireUuid(value: unknown, name: string): string {
  if (!isUuid(value)) throw new MpayError('REQUEST_INVALID', name);
  return value;
}

// ─── ID_C ────────────────────────────────────────────────────────────────────

/** ID_C as a person types it: the SIM's ICCID and the handset's IMEI, maybe with spaces or dashes. */
export interface BankingClientIdParts {
  readonly sim: string;
  readonly phoneId: string;
  readonly accountId: string;
}

/**
 * ID_C (§4.2: SIM + PHID + ACCID) from its parts: spaces and dashes dropped
 * from the ICCID and IMEI, the account id in lower case, then the core's
 * strict check (Luhn digits included). REQUEST_INVALID naming the part.
 */
export function bankingClientIdOf(parts: BankingClientIdParts): BankingClientId {
  const digits = (value: unknown) => (typeof value === 'string' ? value.replace(/[\s-]/g, '') : value);
  const candidate = {
    sim: digits(parts.sim),
    phoneId: digits(parts.phoneId),
    accountId: typeof parts.accountId === 'string' ? parts.accountId.trim().toLowerCase() : parts.accountId,
  };
  try {
    return Object.freeze(parseBankingClientId(candidate, 'clientId'));
  } catch (error) {
    if (isMpayError(error, 'MESSAGE_INVALID')) throw new MpayError('REQUEST_INVALID', error.detail);
    throw error;
  }
}

// ─── the bank's signatures ───────────────────────────────────────────────────

interface BankStatementExpectations {
  readonly audience: string;
  readonly transactionId: string;
  /** The one content member besides the six claims. */
  readonly member: string;
  readonly lifetimeSecondsMax: number;
  readonly now?: (() => number) | undefined;
}

/**
 * The bank's JWS verified under its pinned keys (iss the bank, aud the
 * customer, txn as expected), its payload exactly `member` and the six
 * claims: the content. Any failure: CRYPTO_VERIFICATION_FAILED.
 */
async function verifyBankStatement(
  jws: unknown,
  bank: BankingBankKeys,
  expected: BankStatementExpectations,
): Promise<unknown> {
  try {
    const { payload } = await verifyPayload(
      jws,
      keyResolverFromJwkSet(bank.keys),
      { issuer: bank.id, audience: expected.audience, transactionId: expected.transactionId },
      {
        maxAgeSeconds: expected.lifetimeSecondsMax,
        compactLengthMax: bankingSealedLengthMax,
        ...(expected.now === undefined ? {} : { now: expected.now }),
      },
    );
    const members = Object.keys(payload).sort().join();
    if (members !== [expected.member, ...claimNames].sort().join()) throw notFromBank(bank);
    return payload[expected.member];
  } catch (error) {
    if (!isInputFailure(error)) throw error;
    throw notFromBank(bank);
  }
}

// ─── device statements (registration, password, login, renewal) ─────────────

interface DeviceStatementInput {
  readonly partyId: string;
  readonly bankId: string;
  readonly signingKey: BankingSigningKey;
  /** The device's clock, milliseconds since the epoch (default Date.now). */
  readonly now?: (() => number) | undefined;
}

function signDeviceStatement(
  content: Readonly<Record<string, unknown>>,
  transactionId: string,
  input: DeviceStatementInput,
): Promise<string> {
  return signPayload(
    content,
    {
      issuer: input.partyId,
      audience: input.bankId,
      transactionId,
      expiresInSeconds: deviceStatementLifetimeSeconds,
      ...(input.now === undefined ? {} : { now: input.now }),
    },
    input.signingKey,
  );
}

/** POST /banking/devices' `device`: `{ bankingDevice: { userId, clientId } }` signed by the bound key, txn its serial. */
export async function signBankingDevice(
  content: BankingDeviceContent,
  input: DeviceStatementInput & { readonly serial: string },
): Promise<string> {
  const checked = parseBankingDeviceContent(content);
  if (!serialPattern.test(input.serial)) throw new MpayError('REQUEST_INVALID', 'serial');
  return signDeviceStatement({ bankingDevice: checked }, input.serial, input);
}

/** base64url(SHA-256(utf8 of an OPAQUE message)): what a password step's signature covers. */
export async function bankingMessageHash(message: string): Promise<string> {
  return encodeBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', textEncoder.encode(message))));
}

/** A password step's `device`: `{ bankingPassword: { userId, step, messageHash } }` by the bound key, txn its serial. */
export async function signBankingPassword(
  content: BankingPasswordContent,
  input: DeviceStatementInput & { readonly serial: string },
): Promise<string> {
  const checked = parseBankingPasswordContent(content);
  if (!serialPattern.test(input.serial)) throw new MpayError('REQUEST_INVALID', 'serial');
  return signDeviceStatement({ bankingPassword: checked }, input.serial, input);
}

/**
 * Login step 1's `device`: `{ bankingLoginStart: { userId, messageHash } }`
 * by the bound key, messageHash = base64url(SHA-256(utf8 of the OPAQUE KE1)),
 * txn a fresh UUID v4 (default; the bank takes it as the login id and refuses
 * it twice), good for deviceStatementLifetimeSeconds (120 s, the bank's most).
 * Without it the bank answers a decoy and the login fails at its finish.
 */
export async function signBankingLoginStart(
  content: BankingLoginStartContent,
  input: DeviceStatementInput & { readonly transactionId?: string | undefined },
): Promise<string> {
  const checked = parseBankingLoginStartContent(content);
  const transactionId = requireUuid(input.transactionId ?? crypto.randomUUID(), 'transactionId');
  return signDeviceStatement({ bankingLoginStart: checked }, transactionId, input);
}

/** Login step 2's `device`: `{ bankingLogin: BankingLoginContent }` by the bound key, txn the login id. */
export async function signBankingLogin(
  content: BankingLoginContent,
  input: DeviceStatementInput,
): Promise<string> {
  const checked = parseBankingLoginContent(content);
  return signDeviceStatement({ bankingLogin: checked }, checked.loginId, input);
}

/**
 * renew_key's proof of possession: `{ renewal: { noticeId, partyId, bank } }`
 * signed by the NEW signing key (iss the customer, aud the bank, txn the notice).
 */
export async function signRenewalProof(
  noticeId: string,
  input: Omit<DeviceStatementInput, 'signingKey'> & { readonly newSigningKey: BankingSigningKey },
): Promise<string> {
  requireUuid(noticeId, 'noticeId');
  return signDeviceStatement(
    { renewal: { noticeId, partyId: input.partyId, bank: input.bankId } },
    noticeId,
    { ...input, signingKey: input.newSigningKey },
  );
}

// ─── login: the bank's answer, the session key, the code, the session ──────

export interface BankStatementContext {
  readonly bank: BankingBankKeys;
  /** The customer: the audience of everything the bank signs for this device. */
  readonly partyId: string;
  readonly now?: (() => number) | undefined;
}

/**
 * Login step 2's answer: the bank's JWS (txn the login id) over
 * `{ bankingLoginAnswer: { loginId, ephemeralJwk, codeSentTo, codeExpiresAt } }`,
 * verified and strictly parsed.
 */
export async function openBankingLoginAnswer(
  jws: unknown,
  context: BankStatementContext & { readonly loginId: string },
): Promise<BankingLoginAnswerContent> {
  const content = await verifyBankStatement(jws, context.bank, {
    audience: context.partyId,
    transactionId: context.loginId,
    member: 'bankingLoginAnswer',
    lifetimeSecondsMax: bankingStatementLifetimeSecondsMax,
    now: context.now,
  });
  try {
    const record = exactRecord(content, 'bankingLoginAnswer', [
      'loginId',
      'ephemeralJwk',
      'codeSentTo',
      'codeExpiresAt',
    ]);
    if (record.loginId !== context.loginId) throw notFromBank(context.bank);
    return Object.freeze({
      loginId: context.loginId,
      ephemeralJwk: parseEphemeralPublicJwk(record.ephemeralJwk, 'bankingLoginAnswer.ephemeralJwk'),
      codeSentTo: readString(record.codeSentTo, 'bankingLoginAnswer.codeSentTo', maskedMsisdnPattern),
      codeExpiresAt: readInstant(record.codeExpiresAt, 'bankingLoginAnswer.codeExpiresAt'),
    });
  } catch (error) {
    if (!isInputFailure(error)) throw error;
    throw notFromBank(context.bank);
  }
}

/** The device's share of a login's key agreement: a fresh ECDH P-256 pair, its private half not extractable. */
export interface BankingEphemeralKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: EphemeralPublicJwk;
}

export async function createBankingEphemeralKey(): Promise<BankingEphemeralKey> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
  const exported = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const publicJwk = parseEphemeralPublicJwk(
    { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y },
    'ephemeralJwk',
  );
  return Object.freeze({ privateKey: pair.privateKey, publicJwk: Object.freeze(publicJwk) });
}

export interface BankingSessionKeyInput {
  /** This side's ephemeral ECDH private key. */
  readonly privateKey: CryptoKey;
  /** The other side's ephemeral ECDH public key. */
  readonly peerPublicJwk: EphemeralPublicJwk;
  /** serenity's OPAQUE `sessionKey` of the login's password step (base64url). */
  readonly opaqueSessionKey: string;
  readonly bankId: string;
  readonly partyId: string;
  /** The login id, which becomes the session id. */
  readonly sessionId: string;
}

/**
 * The session key, as the contract fixes it: HKDF-SHA-256(ikm = the ECDH
 * P-256 shared secret (the 32-byte x, WebCrypto deriveBits 256), salt = the
 * OPAQUE session key's bytes, info = utf8(bankingSessionInfo(bank, party,
 * session))), 32 bytes. Both the password (OPAQUE) and the fresh ECDH shares
 * feed it: neither a stolen password record nor a recorded exchange alone
 * gives it. CRYPTO_KEY_INVALID for a peer key that is not a P-256 point or
 * an OPAQUE key that is not one.
 */
export async function deriveBankingSessionKey(input: BankingSessionKeyInput): Promise<Uint8Array> {
  const salt = decodeBase64url(input.opaqueSessionKey);
  if (salt === undefined || salt.length < opaqueSessionKeyBytesMin) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'opaqueSessionKey');
  }
  const peer = parseEphemeralPublicJwk(input.peerPublicJwk, 'peerPublicJwk');
  let peerKey: CryptoKey;
  try {
    peerKey = await crypto.subtle.importKey(
      'jwk',
      { kty: peer.kty, crv: peer.crv, x: peer.x, y: peer.y },
      { name: 'ECDH', namedCurve: 'P-256' },
      false,
      [],
    );
  } catch (cause) {
    throw new MpayError('CRYPTO_KEY_INVALID', 'peerPublicJwk', { cause });
  }
  const shared = new Uint8Array(
    await crypto.subtle.deriveBits({ name: 'ECDH', public: peerKey }, input.privateKey, 256),
  );
  const info = textEncoder.encode(bankingSessionInfo(input.bankId, input.partyId, input.sessionId));
  const key = await hkdfSha256(shared, salt, info, bankingSessionKeyBytes);
  shared.fill(0);
  return key;
}

/** Login step 3's `code`: `{ bankingCode: { loginId, code } }` sealed under the session key, kid the login id. */
export async function sealBankingCode(input: {
  readonly loginId: string;
  readonly code: string;
  readonly sessionKey: Uint8Array;
}): Promise<string> {
  const loginId = requireUuid(input.loginId, 'loginId');
  if (typeof input.code !== 'string' || !codePattern.test(input.code)) {
    throw new MpayError('REQUEST_INVALID', 'code');
  }
  return encryptDirect(JSON.stringify({ bankingCode: { loginId, code: input.code } }), input.sessionKey, {
    kid: loginId,
  });
}

/**
 * Login step 3's `statement`: the bank's JWS (txn the session id) over
 * `{ bankingSession: { sessionId, partyId, serial, clientId, expiresAt } }`.
 */
export async function openBankingSession(
  jws: unknown,
  context: BankStatementContext & { readonly sessionId: string },
): Promise<BankingSessionContent> {
  const content = await verifyBankStatement(jws, context.bank, {
    audience: context.partyId,
    transactionId: context.sessionId,
    member: 'bankingSession',
    lifetimeSecondsMax: bankingStatementLifetimeSecondsMax,
    now: context.now,
  });
  try {
    const record = exactRecord(content, 'bankingSession', [
      'sessionId',
      'partyId',
      'serial',
      'clientId',
      'expiresAt',
    ]);
    if (record.sessionId !== context.sessionId || record.partyId !== context.partyId) {
      throw notFromBank(context.bank);
    }
    return Object.freeze({
      sessionId: context.sessionId,
      partyId: context.partyId,
      serial: readString(record.serial, 'bankingSession.serial', serialPattern),
      clientId: Object.freeze(parseBankingClientId(record.clientId, 'bankingSession.clientId')),
      expiresAt: readInstant(record.expiresAt, 'bankingSession.expiresAt'),
    });
  } catch (error) {
    if (!isInputFailure(error)) throw error;
    throw notFromBank(context.bank);
  }
}

// ─── Equation 1: requests and answers ──────────────────────────────────────

export interface SealBankingRequestInput {
  readonly request: BankingRequest;
  /** ID_C: signed with the message (§4.2). */
  readonly clientId: BankingClientId;
  readonly sessionId: string;
  readonly partyId: string;
  readonly bankId: string;
  /** The device's bound key (the session's). */
  readonly signingKey: BankingSigningKey;
  /** The session key of the login (32 bytes). */
  readonly sessionKey: Uint8Array;
  /** Default: a fresh UUID v4. The bank answers one it has seen its recorded outcome for the same content, BANKING_REQUEST_REPLAYED for other content. */
  readonly requestId?: string | undefined;
  /** Default 60; at most the bank's limits.requestLifetimeSecondsMax (never above 300). */
  readonly expiresInSeconds?: number | undefined;
  readonly now?: (() => number) | undefined;
}

export interface SealedBankingRequest {
  readonly requestId: string;
  /** The compact JWE for POST /banking/requests' `request`. */
  readonly sealed: string;
  /** The device's JWS inside it (the bank keeps it as the transaction's evidence). */
  readonly jws: string;
}

/**
 * E(S(msg, ID_C)): the request checked as the bank will check it (the
 * core's strict parser), signed with ID_C and the session by the device key
 * (txn the request id), then sealed under the session key (kid the session).
 */
export async function sealBankingRequest(input: SealBankingRequestInput): Promise<SealedBankingRequest> {
  const request = parseBankingRequest(bankingRequestToJson(input.request));
  const clientId = parseBankingClientId(input.clientId, 'clientId');
  const sessionId = requireUuid(input.sessionId, 'sessionId');
  const requestId = requireUuid(input.requestId ?? crypto.randomUUID(), 'requestId');
  const expiresInSeconds = input.expiresInSeconds ?? bankingRequestLifetimeSecondsDefault;
  if (
    !Number.isSafeInteger(expiresInSeconds) ||
    expiresInSeconds < 1 ||
    expiresInSeconds > bankingLimitsCeiling.requestLifetimeSecondsMax
  ) {
    throw new MpayError('REQUEST_INVALID', 'expiresInSeconds');
  }
  const jws = await signPayload(
    { banking: { request: bankingRequestToJson(request), clientId, sessionId } },
    {
      issuer: input.partyId,
      audience: input.bankId,
      transactionId: requestId,
      expiresInSeconds,
      ...(input.now === undefined ? {} : { now: input.now }),
    },
    input.signingKey,
  );
  const sealed = await encryptDirect(jws, input.sessionKey, { kid: sessionId });
  return Object.freeze({ requestId, sealed, jws });
}

export interface OpenBankingAnswerContext extends BankStatementContext {
  readonly sessionKey: Uint8Array;
  readonly sessionId: string;
  /** The request this answers: the bank's JWS names it (txn) and so does its content. */
  readonly requestId: string;
}

/**
 * The bank's answer to one request: opened under the session key (kid the
 * session), the bank's JWS inside verified (iss the bank, aud the customer,
 * txn the request id, exactly `bankingAnswer` and the claims), its content
 * parsed by the core and naming this request and session. Any failure:
 * CRYPTO_VERIFICATION_FAILED.
 */
export async function openBankingAnswer(
  sealed: unknown,
  context: OpenBankingAnswerContext,
): Promise<BankingAnswerContent> {
  let jws: string;
  try {
    jws = new TextDecoder('utf-8', { fatal: true }).decode(
      await decryptDirect(sealed, context.sessionKey, {
        kid: context.sessionId,
        compactLengthMax: bankingSealedLengthMax,
      }),
    );
  } catch (error) {
    if (!isInputFailure(error)) throw error;
    throw notFromBank(context.bank);
  }
  const content = await verifyBankStatement(jws, context.bank, {
    audience: context.partyId,
    transactionId: context.requestId,
    member: 'bankingAnswer',
    lifetimeSecondsMax: bankingAnswerLifetimeSecondsMax,
    now: context.now,
  });
  try {
    const answer = parseBankingAnswerContent(content);
    if (answer.requestId !== context.requestId || answer.sessionId !== context.sessionId) {
      throw notFromBank(context.bank);
    }
    return Object.freeze(answer);
  } catch (error) {
    if (!isInputFailure(error)) throw error;
    throw notFromBank(context.bank);
  }
}
