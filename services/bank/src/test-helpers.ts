import { randomUUID } from 'node:crypto';
import {
  type GeneratedKeyPair,
  generateEncryptionKeyPair,
  generateSigningKeyPair,
  type PrivateJwk,
  type PublicJwk,
  parsePublicJwk,
  signPayload,
} from '@mpay/envelope';
import {
  createAmount,
  customerSignedContent,
  defaultSecurityPolicy,
  type ImsMessage,
  type ImsSealedData,
  MpayError,
  type PartyId,
  type Protection,
  type SecurityLevel,
  securityLevelFloor,
} from '@mpay/protocol';
import { type Authenticator, authenticatorCode, openAuthenticator, sealSecondFactor } from '@mpay/sdk';
import { type Database, openTestDatabase } from '@mpay/storage';
import * as opaque from '@serenity-kit/opaque';
import type { BankingOptions, SmsSender } from './banking/context.ts';
import type { VerifyRequest } from './http/authenticate.ts';
import type { InterbankOptions } from './interbank/peers.ts';
import type { BankLimits } from './limits.ts';
import { migrateBank } from './migrations.ts';
import { type BankService, createBankService } from './service.ts';

/**
 * Test-only authentication: a shared bearer token, the caller named by the
 * x-test-caller header. Deliberately not exported from index.ts; production
 * plugs in JWS verification.
 */
export const testBearerToken = 'test-token-not-for-production';

/** The caller a request without x-test-caller is taken for: in the tests, both the operator and the FSP. */
export const testCaller = 'test-caller';

export function testBearerVerifier(token: string = testBearerToken): VerifyRequest {
  return async ({ headers }) => {
    if (headers.authorization !== `Bearer ${token}`) throw new Error('wrong bearer token');
    const caller = headers['x-test-caller'];
    return { callerId: typeof caller === 'string' ? caller : testCaller };
  };
}

export interface HttpAnswer {
  readonly status: number;
  /** The JSON object answered ({} for an empty body); tests inspect it with toMatchObject. */
  readonly body: Record<string, unknown>;
}

/** The error code of an mpay error answer, or undefined for a success. */
export function errorCodeOf(answer: HttpAnswer): string | undefined {
  return (answer.body.error as { code?: string } | undefined)?.code;
}

export interface TestBank {
  /** The bank's id, e.g. 'xbank'. */
  readonly name: string;
  readonly url: string;
  readonly service: BankService;
  readonly database: Database;
  /** The bank's private encryption key (second factors), unless started without one. */
  readonly encryptionKey: PrivateJwk | undefined;
  /** Moves the service clock forward. */
  advanceSeconds(seconds: number): void;
  now(): Date;
  call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpAnswer>;
  /** Opens an account (owned by `owner`, else a fixed party of the kind) and returns its id. */
  openAccount(
    kind: 'customer' | 'merchant' | 'funding' | 'settlement',
    currency?: string,
    owner?: string,
  ): Promise<string>;
  /** Moves `amount` from a funding account of the currency into `accountId`. */
  fund(accountId: string, amount: bigint, currency?: string): Promise<void>;
  /** The texts the bank sent (one-time codes, renewal notices), oldest first: its SMS gateway in memory. */
  readonly sms: TestSmsInbox;
  close(): Promise<void>;
}

/** An SMS sender that keeps what it is given, for tests: the bank's side is the real SmsSender interface. */
export interface TestSmsInbox extends SmsSender {
  readonly messages: { readonly id: string; readonly to: string; readonly text: string }[];
  /** The newest message to `msisdn`, or undefined. */
  latest(msisdn: string): { readonly to: string; readonly text: string } | undefined;
  /** Makes the next sends fail with SERVICE_UNAVAILABLE (true) or succeed again (false). */
  failing(fail: boolean): void;
}

export function createTestSmsInbox(): TestSmsInbox {
  const messages: { id: string; to: string; text: string }[] = [];
  let fail = false;
  return {
    messages,
    latest: (msisdn) => messages.filter((message) => message.to === msisdn).at(-1),
    failing: (value) => {
      fail = value;
    },
    send: async ({ to, text }) => {
      if (fail) throw new MpayError('SERVICE_UNAVAILABLE', 'sms');
      const id = randomUUID();
      messages.push({ id, to, text });
      return { id };
    },
  };
}

/** A fresh OPAQUE server setup (the bank's secret for passwords). */
export async function createTestOpaqueServerSetup(): Promise<string> {
  await opaque.ready;
  return opaque.server.createSetup();
}

function ownerOf(kind: 'customer' | 'merchant' | 'funding' | 'settlement', bank: string): string {
  if (kind === 'customer') return `ann.smith@person.${bank}`;
  if (kind === 'merchant') return `merkur.trade@merchant.${bank}`;
  return kind === 'funding' ? bank : bank === 'ybank' ? 'xbank' : 'ybank';
}

/** A migrated test database, a bank service 'xbank' listening on 127.0.0.1 port 0, and small HTTP helpers. */
export async function startTestBank(
  options: {
    limits?: Partial<BankLimits>;
    verifyRequest?: VerifyRequest;
    name?: string;
    port?: number;
    interbank?: InterbankOptions;
    /** false: a bank without an encryption key (no second factor). */
    encryptionKey?: false;
    /**
     * Mobile banking (SA2pMP) with these options; the SMS sender defaults to the
     * bank's `sms` inbox, the OPAQUE setup to a fresh one, interbank to this
     * bank alone (no peers) unless `interbank` is given.
     */
    banking?: Partial<BankingOptions>;
  } = {},
): Promise<TestBank> {
  const name = options.name ?? 'xbank';
  const database = await openTestDatabase('bank');
  await migrateBank(database);
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  const sms = createTestSmsInbox();
  const banking: BankingOptions | undefined =
    options.banking === undefined
      ? undefined
      : {
          opaqueServerSetup: options.banking.opaqueServerSetup ?? (await createTestOpaqueServerSetup()),
          sms: options.banking.sms ?? sms,
          transactionLog: options.banking.transactionLog,
          limits: options.banking.limits,
        };
  const interbank =
    options.interbank ?? (banking === undefined ? undefined : { signingKey: signing.privateJwk, peers: [] });
  const service = createBankService({
    name,
    database,
    signingKey: signing.privateJwk,
    ...(options.encryptionKey === false ? {} : { encryptionKey: encryption.privateJwk }),
    interbank,
    banking,
    verifyRequest: options.verifyRequest ?? testBearerVerifier(),
    clock: now,
    limits: options.limits,
  });
  const url = await service.listen(options.port ?? 0);
  const fundingAccounts = new Map<string, string>();
  const bank: TestBank = {
    name,
    url,
    service,
    database,
    encryptionKey: options.encryptionKey === false ? undefined : encryption.privateJwk,
    sms,
    now,
    advanceSeconds: (seconds) => {
      offsetMs += seconds * 1000;
    },
    call: async (method, path, body, headers = {}) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${testBearerToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      };
    },
    openAccount: async (kind, currency = 'EUR', owner = ownerOf(kind, name)) => {
      const answer = await bank.call('POST', '/accounts', { owner, currency, kind });
      if (answer.status !== 201) throw new Error(`open account: ${JSON.stringify(answer.body)}`);
      return answer.body.id as string;
    },
    fund: async (accountId, amount, currency = 'EUR') => {
      const funding = fundingAccounts.get(currency) ?? (await bank.openAccount('funding', currency));
      fundingAccounts.set(currency, funding);
      const body = {
        id: randomUUID(),
        debitAccountId: funding,
        creditAccountId: accountId,
        amount: `${amount}`,
        currency,
      };
      const answer = await bank.call('POST', '/transfers', body);
      if (answer.status !== 201) throw new Error(`fund: ${JSON.stringify(answer.body)}`);
    },
    close: async () => {
      await service.close();
      await database.close();
    },
  };
  return bank;
}

/** A party id no other test uses: `<prefix>-<8 hex>@<kind>.<bank>`. */
export function uniquePartyId(kind: 'person' | 'merchant', bank: string, prefix: string = kind): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@${kind}.${bank}`;
}

/** Any bank in the tests: its id and an operator's HTTP call. */
export interface BankUnderTest {
  readonly name: string;
  call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpAnswer>;
}

/** A customer's device keys as the bank bound them (what a wallet keeps after enrolment). */
export interface EnrolledKey {
  readonly partyId: string;
  readonly deviceId: string;
  readonly serial: string;
  /** The key binding (compact JWS by the bank). */
  readonly binding: string;
  readonly signing: GeneratedKeyPair;
  readonly encryption: GeneratedKeyPair;
  /** The bank's encryption key from the enrolment answer (one-time codes are sealed to it). */
  readonly bankEncryptionJwk?: PublicJwk | undefined;
  /** The party's second factor (otpauth URI), opened with the device key: only the party's first enrolment has it. */
  readonly authenticator?: Authenticator | undefined;
}

/** The proof of possession a device sends with its enrolment, made with the envelope's signPayload. */
export function enrolmentProof(
  bank: string,
  partyId: string,
  deviceId: string,
  signing: GeneratedKeyPair,
  expiresInSeconds = 300,
): Promise<string> {
  return signPayload(
    { enrolment: { partyId, deviceId, bank } },
    { issuer: partyId, audience: bank, transactionId: deviceId, expiresInSeconds },
    signing.privateJwk,
  );
}

/** The operator issues an enrolment code for `partyId` and its accounts; returns the code. */
export async function issueTestEnrolmentCode(
  bank: BankUnderTest,
  partyId: string,
  accountIds: readonly string[],
): Promise<string> {
  const answer = await bank.call('POST', '/enrolment-codes', { partyId, accountIds });
  if (answer.status !== 201) throw new Error(`enrolment code: ${JSON.stringify(answer.body)}`);
  return answer.body.code as string;
}

/**
 * Enrols a fresh device key for `partyId` and its accounts, as SA2pMP §4.3
 * does: the operator issues a one-time code, the device generates its keys
 * and proves it holds the signing key, the bank answers the binding.
 */
export async function enrolTestCustomer(
  bank: BankUnderTest,
  partyId: string,
  accountIds: readonly string[],
  deviceId = `device-${randomUUID().slice(0, 8)}`,
): Promise<EnrolledKey> {
  const code = await issueTestEnrolmentCode(bank, partyId, accountIds);
  const [signing, encryption] = await Promise.all([generateSigningKeyPair(), generateEncryptionKeyPair()]);
  const answer = await bank.call('POST', '/enrolments', {
    partyId,
    code,
    deviceId,
    signingJwk: signing.publicJwk,
    encryptionJwk: encryption.publicJwk,
    proof: await enrolmentProof(bank.name, partyId, deviceId, signing),
  });
  if (answer.status !== 201) throw new Error(`enrolment: ${JSON.stringify(answer.body)}`);
  const { bankEncryptionJwk, sealedAuthenticator } = answer.body;
  return {
    partyId,
    deviceId,
    serial: answer.body.serial as string,
    binding: answer.body.binding as string,
    signing,
    encryption,
    ...(bankEncryptionJwk === undefined ? {} : { bankEncryptionJwk: parsePublicJwk(bankEncryptionJwk) }),
    ...(typeof sealedAuthenticator === 'string'
      ? { authenticator: await openAuthenticator(sealedAuthenticator, encryption.privateJwk, partyId) }
      : {}),
  };
}

/** The debit a customer authorises: what a payment order to the customer's bank carries. */
export interface DebitToAuthorise {
  readonly id: string;
  readonly payerId: string;
  readonly debitAccountId: string;
  /** A merchant (the iMS message's payee is one). */
  readonly payeeId: string;
  readonly creditBankId: string;
  /** Minor units as decimal text, as the order carries it. */
  readonly amount: string;
  readonly currency: string;
}

export interface AuthorisationOptions {
  /** The FSP the customer signs for (the caller that orders); default testCaller. */
  readonly audience?: string;
  readonly expiresInSeconds?: number;
  /** The signer's clock, milliseconds since the epoch. */
  readonly now?: () => number;
  /** Signs with this key instead of the enrolled one (kid included). */
  readonly signingKey?: GeneratedKeyPair;
  /** The iMS <type> signed; default the least the amount may be signed at (the default policy's floor). */
  readonly type?: SecurityLevel;
  /** address.from.secondFactor: the sealed one-time code (sealSecondFactor), signed with the rest. */
  readonly secondFactor?: string;
  /** data.sealed: the private fields sealed by the merchant (sealPrivateData); none by default. */
  readonly sealed?: ImsSealedData;
  /** The protections signed; default the default policy's for the level. */
  readonly protections?: readonly Protection[];
}

/**
 * What the wallet puts into address.from.secondFactor for `debit`: the code
 * the key's authenticator shows at `now`, sealed to the bank (the SDK's
 * sealSecondFactor). The key must be the party's first enrolment.
 */
export function sealTestSecondFactor(key: EnrolledKey, debit: DebitToAuthorise, now: Date): Promise<string> {
  if (key.authenticator === undefined || key.bankEncryptionJwk === undefined) {
    throw new Error('assertion failed: the party’s first enrolment, at a bank with an encryption key');
  }
  return sealSecondFactor(
    { code: authenticatorCode(key.authenticator, now), transactionId: debit.id, payerId: debit.payerId },
    key.bankEncryptionJwk,
  );
}

/** Stands for the merchant's and the FSP's signatures: the bank does not check them (the FSP did). */
const otherSignature = 'eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl';

/**
 * The customer's authorisation of a debit, as the wallet makes it: the
 * iMS message the FSP sent (accounts filled in, merchant- and FSP-signed),
 * its customerSignedContent, signed with the enrolled key by the envelope's
 * signPayload, issuer the customer, audience the FSP, transaction the
 * payment id. The receivable account is the payee's bank id: the FSP knows
 * no merchant account.
 */
export function signTestAuthorisation(
  key: EnrolledKey,
  debit: DebitToAuthorise,
  options: AuthorisationOptions = {},
): Promise<string> {
  const amount = createAmount(debit.currency, BigInt(debit.amount));
  const type = options.type ?? securityLevelFloor(amount, defaultSecurityPolicy);
  const protections = options.protections ?? defaultSecurityPolicy.levels[type];
  // At a sealing level no account and no description travel in clear (the FSP fills in none).
  const inClear = protections.includes('private_data_sealed')
    ? {}
    : {
        accountPayable: debit.debitAccountId,
        accountReceivable: debit.creditBankId,
        ...(options.sealed === undefined ? { description: 'test purchase' } : {}),
      };
  const message: ImsMessage = {
    type,
    protections,
    transactionId: debit.id,
    procedure: 'm-commerce',
    address: {
      from: {
        id: debit.payerId as PartyId,
        ...(options.secondFactor === undefined ? {} : { secondFactor: options.secondFactor }),
      },
      to: { id: debit.payeeId as PartyId, sign: otherSignature },
      fspSign: otherSignature,
      timestamp: new Date(options.now?.() ?? Date.now()).toISOString(),
    },
    data: {
      ...inClear,
      amount,
      ...(options.sealed === undefined ? {} : { sealed: options.sealed }),
    },
  };
  return signPayload(
    customerSignedContent(message),
    {
      issuer: key.partyId,
      audience: options.audience ?? testCaller,
      transactionId: debit.id,
      expiresInSeconds: options.expiresInSeconds ?? 300,
      ...(options.now === undefined ? {} : { now: options.now }),
    },
    (options.signingKey ?? key.signing).privateJwk,
  );
}
