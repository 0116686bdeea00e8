import { MpayError } from '../errors/index.ts';
import { parseDescription, parseTransactionId } from '../ims/fields.ts';
import { readObject } from '../ims/json-object.ts';
import { isMsisdn, parsePartyId } from '../party/index.ts';
import { bankOfMacroClientId, isMacroClientId } from './client-id.ts';
import { parseInstant, secretAnswerLengthMax, secretQuestionLengthMax } from './messages.ts';

export { bankOfMacroClientId, isMacroClientId, macroClientIdPattern } from './client-id.ts';

/**
 * The registration of seed 002 §3, as data: "When the client registers to the
 * server, MPASP server collects personal details and bank account
 * information. Also, the server gets the answer for secret question from the
 * client. [...] the bank issues the ID for registered users". Pure: the
 * gateway (the MPASP), the client bank and the SDK share these shapes and
 * checks; the cryptography is theirs.
 *
 * What mpay adds, and why:
 * - The registering party is a bank customer with a device key the bank bound
 *   (its key binding): the bank vouches for the person and the account, and
 *   the device signs `MacroRegistrationContent` with that key, naming the FSP
 *   as audience, so a signed registration cannot be replayed to register
 *   another e-mail address, number or question.
 * - The secret answer (SAns) is not part of the signed content: a JWS payload
 *   is only base64url, and the MPASP keeps the signed registration as
 *   evidence. It travels beside it, in the same JWE to the MPASP, which keeps
 *   only a slow salted verifier of its normalised form.
 * - `deviceSecret` is the high-entropy secret established at registration
 *   (issue 10: "derive each channel's key from a high-entropy secret
 *   established at registration, plus the mPIN through a server that counts
 *   tries"): 32 random bytes from the device, the salt of every E_SP channel
 *   key, so that the mailed mPIN alone opens no channel.
 */
export type MacroRegistrationContent = {
  readonly kind: 'macro_registration';
  /** The bank customer registering: the subject of the key binding and the signer. */
  readonly partyId: string;
  /** E.164; "The requester MSISDN number is used to identify the mPIN client" (§3). One client per number. */
  readonly msisdn: string;
  /** Where the MPASP mails the client id and the mPIN (§3). */
  readonly email: string;
  readonly name: string;
  /** SQn, asked again at step 2 of every payment. */
  readonly secretQuestion: string;
  /** base64url of `macroDeviceSecretBytes` random bytes. */
  readonly deviceSecret: string;
  /** When the device made it (`toISOString()` form); it must agree with the signature's `iat`. */
  readonly issuedAt: string;
};

/** RFC 5321's longest forward path (254 octets); mpay accepts ASCII addresses only. */
export const macroEmailLengthMax = 254;
export const macroNameLengthMax = 100;
/** A secret answer shorter than this, once normalised, is refused: it would be guessed in a few tries. */
export const secretAnswerLengthMin = 3;
export const macroDeviceSecretBytes = 32;
/** The mPIN the MPASP generates and mails (§3): six decimal digits. */
export const macroMpinDigits = 6;
export const macroMpinPattern = /^[0-9]{6}$/;

/** A mailbox the mailer will send to as one recipient: no comma, quote, bracket, space or non-ASCII. */
const emailPattern =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
/** 32 bytes in base64url without padding: 43 characters, the last one carrying 4 bits (its low 2 bits zero). */
const deviceSecretPattern = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

function invalid(path: string): never {
  throw new MpayError('MESSAGE_INVALID', path);
}

/** Text a person types and another reads: the iMS description's rules (no controls, no bidi overrides), trimmed. */
function parseTypedText(value: unknown, path: string, lengthMax: number): string {
  const text = parseDescription(value, path);
  return text.length <= lengthMax && text.trim() === text ? text : invalid(path);
}

export function isMacroEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= macroEmailLengthMax && emailPattern.test(value);
}

export function isMacroDeviceSecret(value: unknown): value is string {
  return typeof value === 'string' && deviceSecretPattern.test(value);
}

/** The address shown back to the client, without giving it away: `a***@example.org`. */
export function maskEmail(email: string): string {
  if (!isMacroEmail(email)) throw new MpayError('REQUEST_INVALID', 'email');
  const at = email.lastIndexOf('@');
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

/**
 * Validates a registration strictly (exactly its members; a person's party id
 * in canonical form, an E.164 number, one ASCII address, the typed texts
 * trimmed and within their limits, a well-formed device secret and instant);
 * returns a frozen copy. MESSAGE_INVALID with the member's path, or
 * PARTY_ID_INVALID.
 */
export function parseMacroRegistration(value: unknown): MacroRegistrationContent {
  const record = readObject(value, '', [
    'kind',
    'partyId',
    'msisdn',
    'email',
    'name',
    'secretQuestion',
    'deviceSecret',
    'issuedAt',
  ]);
  if (record.kind !== 'macro_registration') invalid('kind');
  const party = typeof record.partyId === 'string' ? parsePartyId(record.partyId, 'partyId') : undefined;
  if (party === undefined || party.kind !== 'person' || party.id !== record.partyId) {
    throw new MpayError('PARTY_ID_INVALID', 'partyId');
  }
  if (!isMsisdn(record.msisdn)) invalid('msisdn');
  if (!isMacroEmail(record.email)) invalid('email');
  if (!isMacroDeviceSecret(record.deviceSecret)) invalid('deviceSecret');
  return Object.freeze({
    kind: 'macro_registration',
    partyId: party.id,
    msisdn: record.msisdn,
    email: record.email,
    name: parseTypedText(record.name, 'name', macroNameLengthMax),
    secretQuestion: parseTypedText(record.secretQuestion, 'secretQuestion', secretQuestionLengthMax),
    deviceSecret: record.deviceSecret,
    issuedAt: parseInstant(record.issuedAt, 'issuedAt'),
  });
}

/**
 * SAns in the one form it is compared in, so that "Bernard", " bernard " and
 * "ＢＥＲＮＡＲＤ" are the same answer: Unicode NFKC, whitespace trimmed and
 * runs of it made one space, case folded (upper- then lower-casing, which also
 * folds ß to ss and a final sigma to σ), NFKC again. Deterministic: the MPASP
 * applies it both when it stores the verifier and when it checks an answer.
 */
export function normalizeSecretAnswer(answer: string): string {
  return answer.normalize('NFKC').trim().replace(/\s+/gu, ' ').toUpperCase().toLowerCase().normalize('NFKC');
}

/**
 * A secret answer as typed: the description's character rules, at most
 * `secretAnswerLengthMax` code units, at least `secretAnswerLengthMin`
 * characters once normalised. Returns the normalised answer.
 */
export function parseSecretAnswer(value: unknown, path = 'secretAnswer'): string {
  const text = parseDescription(value, path);
  if (text.length > secretAnswerLengthMax) invalid(path);
  const normalized = normalizeSecretAnswer(text);
  return [...normalized].length >= secretAnswerLengthMin ? normalized : invalid(path);
}

/**
 * What the client bank signs when it issues ID_C ("the bank issues the ID for
 * registered users", §3): this client id is its customer `partyId`'s, at
 * `bankId`. The MPASP keeps it as the bank's word.
 */
export type MacroClientIdContent = {
  readonly kind: 'macro_client_id';
  readonly clientId: string;
  readonly partyId: string;
  readonly bankId: string;
};

/** Validates the bank's statement strictly: the id names the bank, the party is a person of that bank. */
export function parseMacroClientIdContent(value: unknown): MacroClientIdContent {
  const record = readObject(value, '', ['kind', 'clientId', 'partyId', 'bankId']);
  if (record.kind !== 'macro_client_id') invalid('kind');
  if (!isMacroClientId(record.clientId)) invalid('clientId');
  const party = typeof record.partyId === 'string' ? parsePartyId(record.partyId, 'partyId') : undefined;
  if (party === undefined || party.kind !== 'person' || party.id !== record.partyId) {
    throw new MpayError('PARTY_ID_INVALID', 'partyId');
  }
  if (record.bankId !== party.bank || bankOfMacroClientId(record.clientId) !== party.bank) invalid('bankId');
  return Object.freeze({
    kind: 'macro_client_id',
    clientId: record.clientId,
    partyId: party.id,
    bankId: party.bank,
  });
}

/**
 * HKDF `info` of an E_SP channel key between the client and the MPASP (the
 * paper's `E_SP{M}_{C-MPASP}`), hardened as issue 10 asks: the key is
 * HKDF-SHA-256(ikm = the OPAQUE session key of an mPIN login, salt = the
 * registration's device secret, info = this). It names the protocol and
 * version, the client and the channel session, separated by NUL so that no
 * two (client, session) pairs give the same text.
 */
export const macroChannelInfoLabel = 'mpay macro E_SP v1';
export const macroChannelKeyBytes = 32;

export function macroChannelInfo(clientId: string, sessionId: string): string {
  if (!isMacroClientId(clientId)) throw new MpayError('REQUEST_INVALID', 'clientId');
  parseTransactionId(sessionId, 'sessionId');
  return `${macroChannelInfoLabel}\u0000${clientId}\u0000${sessionId}`;
}

/**
 * The MPASP's first message on a new channel, sealed with the channel key
 * (`dir`, A256GCM): the client checks that it opens and names its own client
 * id, the session and the MPASP. Only whoever holds the OPAQUE session key and
 * the device secret can make it (§5.1.1, "the customer authenticates the MPASP
 * server").
 */
export type MacroChannelConfirmation = {
  readonly kind: 'macro_channel_confirmation';
  /** The MPASP (the FSP's party id). */
  readonly from: string;
  /** ID_C */
  readonly to: string;
  readonly sessionId: string;
  readonly expiresAt: string;
};

export function parseMacroChannelConfirmation(value: unknown): MacroChannelConfirmation {
  const record = readObject(value, '', ['kind', 'from', 'to', 'sessionId', 'expiresAt']);
  if (record.kind !== 'macro_channel_confirmation') invalid('kind');
  const from = typeof record.from === 'string' ? parsePartyId(record.from, 'from') : undefined;
  if (from === undefined || from.kind !== 'fsp' || from.id !== record.from) invalid('from');
  if (!isMacroClientId(record.to)) invalid('to');
  return Object.freeze({
    kind: 'macro_channel_confirmation',
    from: from.id,
    to: record.to,
    sessionId: parseTransactionId(record.sessionId, 'sessionId'),
    expiresAt: parseInstant(record.expiresAt, 'expiresAt'),
  });
}
