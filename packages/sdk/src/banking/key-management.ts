import {
  type DecryptionKey,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  importPrivateKey,
  type KeyBinding,
  keyResolverFromJwkSet,
  type PrivateJwk,
  type PublicJwk,
  parsePrivateJwk,
  parsePublicJwk,
  publicPart,
  type SigningKey,
  verifyKeyBinding,
} from '@mpay/envelope';
import {
  type BankingClientId,
  type BankingRequest,
  isBankingUserId,
  isMpayError,
  isUuid,
  MpayError,
  parseBankingClientId,
} from '@mpay/protocol';
import { type EnrolmentInvitation, enrolDevice } from '../wallet/enrol.ts';
import type { Authenticator } from '../wallet/second-factor.ts';
import { exactRecord, readInstant, readString, serialPattern } from './json.ts';
import { type BankingBankKeys, signRenewalProof } from './security.ts';

/**
 * The Key Management Module (KMM) of SA2pMP's mobile client (seed 003 §5.1,
 * §4.3): "To keep the private key secret we propose to generate the key pair
 * in the mobile device"; the public key goes to the bank's public key
 * depository (POST /enrolments with the operator's one-time code, the
 * wallet's enrolment); "renewal of a key pair must be initiated by the
 * banking server ... a notice (such as SMS) must be sent to the mobile device
 * to generate a new key pair" (the bank's renewal notice, answered by a
 * renew_key request whose proof the NEW key signs).
 *
 * The keys live in a `BankingKeyStore`: in memory here, a JSON file for the
 * CLI (`exportBankingKeyState` / `importBankingKeyState`), IndexedDB in a
 * browser (the wallet's banking section keeps them as non-extractable
 * WebCrypto keys). A renewal's new pair is saved BEFORE the request goes out,
 * so that a device which crashes after the bank renewed still holds the key
 * the bank bound.
 */

/**
 * A key pair of the device. The private half is a JWK as generated (and in
 * the CLI's file), or, once a store imported it, the same key as a
 * non-extractable WebCrypto key (`BankingHeldKeyPair`): everything that signs
 * takes either. The member keeps its name for the file format's sake.
 */
export interface BankingKeyPair<Private extends PrivateJwk | SigningKey | DecryptionKey = PrivateJwk> {
  /** Secret: at rest only where the store keeps it; never logged. */
  readonly privateJwk: Private;
  readonly publicJwk: PublicJwk;
}

/** The signing pair as a store may hand it back: the private key a JWK or a non-extractable WebCrypto key. */
export type BankingSigningKeyPair = BankingKeyPair<PrivateJwk | SigningKey>;
/** The encryption pair as a store may hand it back (the device's ECDH-ES key, used at enrolment only). */
export type BankingEncryptionKeyPair = BankingKeyPair<PrivateJwk | DecryptionKey>;

/** One generation of the device's keys and the bank's binding of them. */
export interface BankingKeyGeneration {
  readonly serial: string;
  /** The bank's signed key binding (compact JWS), verified when it was received. */
  readonly binding: string;
  /** The accounts the binding names: ID_C's account must be one of them. */
  readonly accounts: readonly string[];
  /** When the binding expires (ISO 8601): the bank's renewal notice comes before. */
  readonly notAfter: string;
  readonly signing: BankingSigningKeyPair;
  readonly encryption: BankingEncryptionKeyPair;
}

/** A new pair generated for a renewal notice and not yet bound by the bank. */
export interface BankingPendingRenewal {
  readonly noticeId: string;
  readonly signing: BankingSigningKeyPair;
  readonly encryption: BankingEncryptionKeyPair;
}

/** The device's banking registration: the user id and ID_C the bank recorded for it (POST /banking/devices). */
export interface BankingRegistration {
  readonly userId: string;
  readonly clientId: BankingClientId;
}

export interface BankingKeyState {
  readonly version: 1;
  readonly bankId: string;
  readonly partyId: string;
  readonly deviceId: string;
  readonly current: BankingKeyGeneration;
  readonly pending?: BankingPendingRenewal | undefined;
  readonly registration?: BankingRegistration | undefined;
}

/**
 * Where the device keeps its banking keys. Implementations keep the state as
 * given and hand it back as saved, except that a store may keep a private
 * JWK as the same key imported non-extractable (`importPrivateKey`) and hand
 * that back instead.
 */
export interface BankingKeyStore {
  load(): Promise<BankingKeyState | undefined>;
  save(state: BankingKeyState): Promise<void>;
}

/** Keys in memory only (tests, and a session that will export them itself). */
export class MemoryBankingKeyStore implements BankingKeyStore {
  #state: BankingKeyState | undefined;

  constructor(initial?: BankingKeyState) {
    this.#state = initial;
  }

  async load(): Promise<BankingKeyState | undefined> {
    return this.#state;
  }

  async save(state: BankingKeyState): Promise<void> {
    this.#state = state;
  }
}

export const bankingKeyStateVersion = 1;
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const identifierPattern = /^[A-Za-z0-9._@:+-]{1,254}$/;
const compactJwsPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const bindingLengthMax = 16 * 1024;
const accountsMax = 8;

/** A fresh pair of each kind, generated on the device (ES256 to sign, ECDH-ES P-256 to receive), as the wallet's. */
export async function generateBankingKeyPairs(): Promise<{
  readonly signing: BankingKeyPair & { readonly kid: string };
  readonly encryption: BankingKeyPair & { readonly kid: string };
}> {
  const [signing, encryption] = await Promise.all([
    generateSigningKeyPair('ES256'),
    generateEncryptionKeyPair('ECDH-ES'),
  ]);
  return Object.freeze({ signing, encryption });
}

function samePublicKey(left: PublicJwk, right: PublicJwk): boolean {
  return (
    left.kty === right.kty &&
    left.crv === right.crv &&
    left.alg === right.alg &&
    left.x === right.x &&
    left.y === right.y
  );
}

/**
 * The bank's binding of THESE keys: signed by the pinned bank, not expired,
 * naming the party, the serial, the device and both public keys. A binding
 * that does not is KEY_BINDING_INVALID (the device never adopts it).
 */
async function verifyOwnBinding(
  binding: unknown,
  bank: BankingBankKeys,
  expected: {
    readonly partyId: string;
    readonly serial: string;
    readonly deviceId: string;
    readonly signing: PublicJwk;
    readonly encryption: PublicJwk;
    readonly now?: (() => number) | undefined;
  },
): Promise<KeyBinding> {
  if (typeof binding !== 'string' || binding.length > bindingLengthMax) {
    throw new MpayError('KEY_BINDING_INVALID');
  }
  const verified = await verifyKeyBinding(binding, keyResolverFromJwkSet(bank.keys), {
    isRevoked: () => false,
    issuer: bank.id,
    ...(expected.now === undefined ? {} : { now: expected.now }),
  });
  if (
    verified.subject !== expected.partyId ||
    verified.serialNumber !== expected.serial ||
    verified.deviceId !== expected.deviceId ||
    !samePublicKey(verified.signingJwk, expected.signing) ||
    !samePublicKey(verified.encryptionJwk, expected.encryption)
  ) {
    throw new MpayError('KEY_BINDING_INVALID', 'not the binding of these keys');
  }
  return verified;
}

function generationOf(
  verified: KeyBinding,
  binding: string,
  keys: { readonly signing: BankingSigningKeyPair; readonly encryption: BankingEncryptionKeyPair },
): BankingKeyGeneration {
  return Object.freeze({
    serial: verified.serialNumber,
    binding,
    accounts: Object.freeze([...verified.accounts]),
    notAfter: new Date(verified.notAfter * 1000).toISOString(),
    signing: pairOf(keys.signing),
    encryption: pairOf(keys.encryption),
  });
}

/** A public JWK as the request's JSON member (what POST /enrolments takes). */
function jsonOf(jwk: PublicJwk): Readonly<Record<string, unknown>> {
  return Object.freeze({ ...jwk });
}

function pairOf<Private extends PrivateJwk | SigningKey | DecryptionKey>(
  pair: BankingKeyPair<Private>,
): BankingKeyPair<Private> {
  return Object.freeze({ privateJwk: pair.privateJwk, publicJwk: pair.publicJwk });
}

export interface BankingEnrolmentInput {
  /** The operator's one-time code and where the bank is (what the wallet's enrolment takes). */
  readonly invitation: EnrolmentInvitation;
  /** The device's id at the bank (letters, digits, '_' and '-'; at most 64). */
  readonly deviceId: string;
  /** The bank as pinned by the app: its binding must verify under these keys. */
  readonly bank: BankingBankKeys;
  /** Where the new keys are kept; it must be empty. */
  readonly store: BankingKeyStore;
  readonly timeoutMs?: number | undefined;
  readonly now?: (() => number) | undefined;
}

export interface BankingEnrolled {
  readonly manager: BankingKeyManager;
  readonly state: BankingKeyState;
  /**
   * The customer's second factor, when this was the customer's first device
   * (the bank gives it once): keep it apart from the banking keys.
   */
  readonly authenticator?: Authenticator | undefined;
}

/** The renew_key request the device sends for a notice (signed with the OLD key by the SM, as every request). */
export type BankingRenewKeyRequest = Extract<BankingRequest, { kind: 'renew_key' }>;

/** The bank's result of renew_key. */
export interface BankingRenewal {
  readonly serial: string;
  /** The new key binding (compact JWS by the bank). */
  readonly binding: string;
  /** The serial of the binding it replaces (revoked, reason 'renewed'). */
  readonly renewedFrom: string;
}

export class BankingKeyManager {
  readonly #store: BankingKeyStore;

  constructor(store: BankingKeyStore) {
    this.#store = store;
  }

  /**
   * §4.3 at the device: generates the two key pairs here, enrols them at the
   * bank (POST /enrolments with the operator's one-time code and a proof
   * signed by the new key: the wallet's `enrolDevice`), checks the bank's
   * binding names exactly these keys, and keeps them in `store`.
   */
  static async enrol(input: BankingEnrolmentInput): Promise<BankingEnrolled> {
    const { invitation, bank } = input;
    if (invitation.bankId !== bank.id) throw new MpayError('REQUEST_INVALID', 'invitation.bankId');
    if (!deviceIdPattern.test(input.deviceId)) throw new MpayError('REQUEST_INVALID', 'deviceId');
    if ((await input.store.load()) !== undefined) {
      throw new MpayError('REQUEST_INVALID', 'the store already holds banking keys');
    }
    const keys = await generateBankingKeyPairs();
    const enrolment = await enrolDevice(invitation, input.deviceId, keys, {
      ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
    });
    const verified = await verifyOwnBinding(enrolment.binding, bank, {
      partyId: invitation.partyId,
      serial: enrolment.serial,
      deviceId: input.deviceId,
      signing: keys.signing.publicJwk,
      encryption: keys.encryption.publicJwk,
      now: input.now,
    });
    const state: BankingKeyState = Object.freeze({
      version: bankingKeyStateVersion,
      bankId: bank.id,
      partyId: invitation.partyId,
      deviceId: input.deviceId,
      current: generationOf(verified, enrolment.binding, keys),
    });
    await input.store.save(state);
    return Object.freeze({
      manager: new BankingKeyManager(input.store),
      state,
      ...(enrolment.authenticator === undefined ? {} : { authenticator: enrolment.authenticator }),
    });
  }

  /** The keys as stored; KEY_UNKNOWN when the device has none (it must enrol first). */
  async state(): Promise<BankingKeyState> {
    const state = await this.#store.load();
    if (state === undefined) throw new MpayError('KEY_UNKNOWN', 'no banking keys on this device');
    return state;
  }

  /** Records the device's banking registration (after the bank accepted POST /banking/devices). */
  async register(registration: BankingRegistration): Promise<BankingKeyState> {
    const state = await this.state();
    if (!isBankingUserId(registration.userId)) throw new MpayError('REQUEST_INVALID', 'userId');
    const clientId = parseBankingClientId(registration.clientId, 'clientId');
    if (!state.current.accounts.includes(clientId.accountId)) {
      throw new MpayError('REQUEST_INVALID', 'clientId.accountId is not an account of this binding');
    }
    const next: BankingKeyState = Object.freeze({
      ...state,
      registration: Object.freeze({ userId: registration.userId, clientId: Object.freeze(clientId) }),
    });
    await this.#store.save(next);
    return next;
  }

  /**
   * Answers the bank's renewal notice (§4.3): a new pair generated here (or
   * the one already generated for this notice, so a retry renews to the same
   * key) and SAVED before anything is sent, then the renew_key request with
   * the new public keys and the proof signed by the new signing key (iss the
   * customer, aud the bank, txn the notice).
   */
  async prepareRenewal(
    noticeId: string,
    options: { now?: () => number } = {},
  ): Promise<BankingRenewKeyRequest> {
    if (!isUuid(noticeId)) throw new MpayError('REQUEST_INVALID', 'noticeId');
    let state = await this.state();
    let pending = state.pending;
    if (pending?.noticeId !== noticeId) {
      // A renewal of another notice never completed on this device: the bank either refused it or
      // revoked the current key with it, and in both cases its pair is of no use any more.
      const keys = await generateBankingKeyPairs();
      pending = Object.freeze({
        noticeId,
        signing: pairOf(keys.signing),
        encryption: pairOf(keys.encryption),
      });
      state = Object.freeze({ ...state, pending });
      await this.#store.save(state);
    }
    const proof = await signRenewalProof(noticeId, {
      partyId: state.partyId,
      bankId: state.bankId,
      newSigningKey: pending.signing.privateJwk,
      now: options.now,
    });
    return Object.freeze({
      kind: 'renew_key',
      noticeId,
      signingJwk: jsonOf(pending.signing.publicJwk),
      encryptionJwk: jsonOf(pending.encryption.publicJwk),
      proof,
    });
  }

  /**
   * The bank renewed: its new binding must name the pending keys, this party
   * and device, and replace the current serial; then the pending pair becomes
   * the current one (the registration carries over: the bank copied it).
   * BANK_ANSWER_INVALID / KEY_BINDING_INVALID otherwise, and nothing changes.
   */
  async completeRenewal(
    renewal: BankingRenewal,
    bank: BankingBankKeys,
    options: { now?: () => number } = {},
  ): Promise<BankingKeyState> {
    const state = await this.state();
    const pending = state.pending;
    if (pending === undefined) throw new MpayError('REQUEST_INVALID', 'no renewal is pending');
    if (bank.id !== state.bankId) throw new MpayError('REQUEST_INVALID', 'bank');
    if (renewal.renewedFrom !== state.current.serial) {
      throw new MpayError('BANK_ANSWER_INVALID', 'renewedFrom');
    }
    const verified = await verifyOwnBinding(renewal.binding, bank, {
      partyId: state.partyId,
      serial: renewal.serial,
      deviceId: state.deviceId,
      signing: pending.signing.publicJwk,
      encryption: pending.encryption.publicJwk,
      now: options.now,
    });
    const next: BankingKeyState = Object.freeze({
      version: bankingKeyStateVersion,
      bankId: state.bankId,
      partyId: state.partyId,
      deviceId: state.deviceId,
      current: generationOf(verified, renewal.binding, pending),
      ...(state.registration === undefined ? {} : { registration: state.registration }),
    });
    await this.#store.save(next);
    return next;
  }

  /** Forgets a pending renewal the bank refused (BANKING_RENEWAL_INVALID): the current key stays. */
  async abandonRenewal(noticeId: string): Promise<void> {
    const state = await this.state();
    if (state.pending?.noticeId !== noticeId) return;
    const { pending: _pending, ...rest } = state;
    await this.#store.save(Object.freeze(rest));
  }
}

// ─── non-extractable keys (a browser's store) ───────────────────────────────

async function heldSigningPair(pair: BankingSigningKeyPair): Promise<BankingSigningKeyPair> {
  if ('cryptoKey' in pair.privateJwk) return pair;
  const imported = await importPrivateKey(pair.privateJwk);
  if (imported.use !== 'sig') throw new MpayError('CRYPTO_KEY_INVALID', 'signing.use');
  const { cryptoKey, kid, alg } = imported;
  return Object.freeze({ privateJwk: Object.freeze({ cryptoKey, kid, alg }), publicJwk: pair.publicJwk });
}

async function heldEncryptionPair(pair: BankingEncryptionKeyPair): Promise<BankingEncryptionKeyPair> {
  if ('cryptoKey' in pair.privateJwk) return pair;
  const imported = await importPrivateKey(pair.privateJwk);
  if (imported.use !== 'enc') throw new MpayError('CRYPTO_KEY_INVALID', 'encryption.use');
  const { cryptoKey, kid, alg } = imported;
  return Object.freeze({ privateJwk: Object.freeze({ cryptoKey, kid, alg }), publicJwk: pair.publicJwk });
}

/**
 * The state with every private JWK imported as a non-extractable WebCrypto
 * key (keys imported already stay as they are): what a browser's store keeps
 * (IndexedDB stores a CryptoKey without exporting it), so no script can read
 * a private key back. Everything else as it was; such a state has no JSON
 * form (`exportBankingKeyState` refuses it).
 */
export async function importBankingPrivateKeys(state: BankingKeyState): Promise<BankingKeyState> {
  const [signing, encryption] = await Promise.all([
    heldSigningPair(state.current.signing),
    heldEncryptionPair(state.current.encryption),
  ]);
  const pending =
    state.pending === undefined
      ? undefined
      : Object.freeze({
          noticeId: state.pending.noticeId,
          signing: await heldSigningPair(state.pending.signing),
          encryption: await heldEncryptionPair(state.pending.encryption),
        });
  return Object.freeze({
    ...state,
    current: Object.freeze({ ...state.current, signing, encryption }),
    ...(pending === undefined ? {} : { pending }),
  });
}

// ─── the JSON form (the CLI's file) ──────────────────────────────────────────

/**
 * The state as JSON text, private keys INCLUDED: whoever stores it must
 * protect it as the keys themselves (a file readable by its owner only). A
 * state whose private keys a store imported non-extractable has no JSON form
 * (REQUEST_INVALID).
 */
export function exportBankingKeyState(state: BankingKeyState): string {
  return JSON.stringify(parseState(JSON.parse(JSON.stringify(state))));
}

/** A state read back from `exportBankingKeyState`'s text, checked strictly (REQUEST_INVALID naming the member). */
export function importBankingKeyState(text: string): BankingKeyState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MpayError('REQUEST_INVALID', 'banking keys: not JSON');
  }
  return parseState(value);
}

function parseState(value: unknown): BankingKeyState {
  try {
    const record = exactRecord(
      value,
      'keys',
      ['version', 'bankId', 'partyId', 'deviceId', 'current'],
      ['pending', 'registration'],
    );
    if (record.version !== bankingKeyStateVersion) throw new MpayError('REQUEST_INVALID', 'keys.version');
    const registration =
      record.registration === undefined ? undefined : parseRegistration(record.registration);
    const pending = record.pending === undefined ? undefined : parsePending(record.pending);
    return Object.freeze({
      version: bankingKeyStateVersion,
      bankId: readString(record.bankId, 'keys.bankId', identifierPattern),
      partyId: readString(record.partyId, 'keys.partyId', identifierPattern),
      deviceId: readString(record.deviceId, 'keys.deviceId', deviceIdPattern),
      current: parseGeneration(record.current),
      ...(pending === undefined ? {} : { pending }),
      ...(registration === undefined ? {} : { registration }),
    });
  } catch (error) {
    if (isMpayError(error, 'REQUEST_INVALID')) throw error;
    if (isMpayError(error))
      throw new MpayError('REQUEST_INVALID', `banking keys: ${error.detail ?? error.code}`);
    throw error;
  }
}

function parseKeyPair(value: unknown, path: string, use: 'sig' | 'enc'): BankingKeyPair {
  const record = exactRecord(value, path, ['privateJwk', 'publicJwk']);
  const privateJwk = parsePrivateJwk(record.privateJwk);
  const publicJwk = parsePublicJwk(record.publicJwk);
  if (privateJwk.use !== use || !samePublicKey(publicPart(privateJwk), publicJwk)) {
    throw new MpayError('REQUEST_INVALID', path);
  }
  return Object.freeze({ privateJwk: Object.freeze(privateJwk), publicJwk: Object.freeze(publicJwk) });
}

function parseGeneration(value: unknown): BankingKeyGeneration {
  const record = exactRecord(value, 'keys.current', [
    'serial',
    'binding',
    'accounts',
    'notAfter',
    'signing',
    'encryption',
  ]);
  const accounts = record.accounts;
  if (
    !Array.isArray(accounts) ||
    accounts.length < 1 ||
    accounts.length > accountsMax ||
    !accounts.every(isUuid)
  ) {
    throw new MpayError('REQUEST_INVALID', 'keys.current.accounts');
  }
  return Object.freeze({
    serial: readString(record.serial, 'keys.current.serial', serialPattern),
    binding: readString(record.binding, 'keys.current.binding', compactJwsPattern),
    accounts: Object.freeze([...accounts]),
    notAfter: readInstant(record.notAfter, 'keys.current.notAfter'),
    signing: parseKeyPair(record.signing, 'keys.current.signing', 'sig'),
    encryption: parseKeyPair(record.encryption, 'keys.current.encryption', 'enc'),
  });
}

function parsePending(value: unknown): BankingPendingRenewal {
  const record = exactRecord(value, 'keys.pending', ['noticeId', 'signing', 'encryption']);
  if (!isUuid(record.noticeId)) throw new MpayError('REQUEST_INVALID', 'keys.pending.noticeId');
  return Object.freeze({
    noticeId: record.noticeId,
    signing: parseKeyPair(record.signing, 'keys.pending.signing', 'sig'),
    encryption: parseKeyPair(record.encryption, 'keys.pending.encryption', 'enc'),
  });
}

function parseRegistration(value: unknown): BankingRegistration {
  const record = exactRecord(value, 'keys.registration', ['userId', 'clientId']);
  if (!isBankingUserId(record.userId)) throw new MpayError('REQUEST_INVALID', 'keys.registration.userId');
  return Object.freeze({
    userId: record.userId,
    clientId: Object.freeze(parseBankingClientId(record.clientId, 'keys.registration.clientId')),
  });
}
