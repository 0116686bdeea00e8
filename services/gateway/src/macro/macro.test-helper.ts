import { randomBytes, randomUUID } from 'node:crypto';
import { encryptTo, type GeneratedKeyPair, type PrivateJwk, signPayload } from '@mpay/envelope';
import type { Mailer, OutgoingMail } from '@mpay/mail';
import { type MacroClientIdContent, type MacroRegistrationContent, MpayError } from '@mpay/protocol';
import type { Database } from '@mpay/storage';
import type { FspIdentity } from '../context.ts';
import { createGatewayService, type GatewayService, type GatewayServiceOptions } from '../service.ts';
import {
  addBank,
  type HttpStub,
  issueTestBinding,
  openGatewayDatabase,
  type RecordedRequest,
  type StubAnswer,
  startHttpStub,
  type TestBank,
  testFspIdentity,
  wholeSecond,
} from '../test-helpers.ts';
import type { MacroServiceLimits } from './limits.ts';
import { createMacroOpaqueServerSetup } from './mpin.ts';

/**
 * Test-only: a gateway service with the macro routes on a real port and a
 * migrated test database, a client bank stood in for by an HTTP stub that
 * issues client ids signed with the bank key the gateway trusts, and a mailer
 * that keeps what it is given (or fails as the test says).
 */
export interface MacroTestGateway {
  readonly service: GatewayService;
  /** The options it was created with: another instance on the same database (a restart, a second one). */
  readonly serviceOptions: GatewayServiceOptions;
  readonly database: Database;
  readonly fsp: FspIdentity;
  readonly url: string;
  readonly bank: TestBank;
  readonly bankStub: HttpStub;
  /** The mails the mailer accepted, in order. */
  readonly mails: OutgoingMail[];
  /** How the mailer answers the next send (default: accept). */
  mailerBehaviour: (mail: OutgoingMail) => Promise<void>;
  /** How the bank stub answers POST /macro/clients (default: issue, as the bank does). */
  bankBehaviour: (request: RecordedRequest) => Promise<StubAnswer>;
  advanceSeconds(seconds: number): void;
  now(): Date;
  close(): Promise<void>;
}

export const testBankId = 'xbank';

/** What the real bank answers: a client id per party (stable), signed by the bank's key, to the caller. */
export function issuingBank(bank: () => TestBank, fspId: string) {
  const issued = new Map<string, string>();
  return async (request: RecordedRequest): Promise<StubAnswer> => {
    const body = JSON.parse(request.body) as { partyId: string };
    const id =
      issued.get(body.partyId) ??
      `C${(randomBytes(6).readUIntBE(0, 6) % 10 ** 12).toString().padStart(12, '0')}.${testBankId}`;
    issued.set(body.partyId, id);
    const content: MacroClientIdContent = {
      kind: 'macro_client_id',
      clientId: id,
      partyId: body.partyId,
      bankId: testBankId,
    };
    const statement = await signPayload(
      { macroClient: content },
      { issuer: testBankId, audience: fspId, transactionId: id, expiresInSeconds: 3_600 },
      bank().key.privateJwk,
    );
    return { status: 201, json: { clientId: id, partyId: body.partyId, bankId: testBankId, statement } };
  };
}

export async function startMacroTestGateway(
  options: { macroLimits?: Partial<MacroServiceLimits>; outboxAttemptsMax?: number } = {},
): Promise<MacroTestGateway> {
  const database = await openGatewayDatabase();
  const fsp = await testFspIdentity();
  let offsetMs = 0;
  const start = wholeSecond();
  const now = () => new Date(start.getTime() + offsetMs);
  let bank: TestBank | undefined;
  const mails: OutgoingMail[] = [];
  const harness = {
    mailerBehaviour: async (_mail: OutgoingMail) => undefined,
    bankBehaviour: issuingBank(() => bank!, fsp.id),
  };
  const bankStub = await startHttpStub((request) =>
    request.url === '/macro/clients' ? harness.bankBehaviour(request) : { status: 404, json: {} },
  );
  bank = await addBank(database, testBankId, bankStub.url);
  const mailer: Mailer = {
    async send(mail) {
      await harness.mailerBehaviour(mail);
      mails.push(mail);
      return { messageId: `<${randomUUID()}@test>` };
    },
  };
  const serviceOptions: GatewayServiceOptions = {
    database,
    fsp,
    clock: now,
    mailer,
    opaqueServerSetup: await createMacroOpaqueServerSetup(),
    // Background work runs when the test says (runBackgroundOnce), never on a timer.
    backgroundIntervalMs: 3_600_000,
    ...(options.macroLimits === undefined ? {} : { macroLimits: options.macroLimits }),
    ...(options.outboxAttemptsMax === undefined
      ? {}
      : { limits: { outboxAttemptsMax: options.outboxAttemptsMax } }),
  };
  const service = await createGatewayService(serviceOptions);
  const url = await service.listen(0);
  return Object.assign(harness, {
    service,
    serviceOptions,
    database,
    fsp,
    url,
    bank,
    bankStub,
    mails,
    advanceSeconds: (seconds: number) => {
      offsetMs += seconds * 1000;
    },
    now,
    close: async () => {
      await service.close();
      await bankStub.close();
      await database.close();
    },
  });
}

/** A customer of the test bank with a device key the bank bound. */
export interface TestDevice {
  readonly partyId: string;
  readonly binding: string;
  readonly serialNumber: string;
  readonly signing: GeneratedKeyPair;
}

export async function enrolDevice(bank: TestBank, name = 'ann'): Promise<TestDevice> {
  const partyId = `${name}-${randomUUID().slice(0, 8)}@person.${testBankId}`;
  const issued = await issueTestBinding(bank, { subject: partyId });
  return { partyId, binding: issued.binding, serialNumber: issued.serialNumber, signing: issued.signing };
}

/** A fresh E.164 number no other test uses. */
export function uniqueMsisdn(): string {
  return `+3897${randomBytes(4).readUInt32BE(0).toString().padStart(10, '0').slice(0, 8)}`;
}

export interface RegistrationParts {
  readonly registration: MacroRegistrationContent;
  readonly secretAnswer: string;
}

export function registrationOf(
  device: TestDevice,
  overrides: Partial<MacroRegistrationContent> = {},
): MacroRegistrationContent {
  return {
    kind: 'macro_registration',
    partyId: device.partyId,
    msisdn: uniqueMsisdn(),
    email: `${device.partyId.split('@')[0]}@mail.example`,
    name: 'Ann Smith',
    secretQuestion: 'Name of your first school?',
    deviceSecret: randomBytes(32).toString('base64url'),
    issuedAt: new Date().toISOString(),
    ...overrides,
  };
}

/**
 * The request body as a device makes it (by hand here, independently of the
 * SDK): the registration signed with `signingKey`, in a JWE to the FSP with
 * the binding and the answer. `raw` replaces the JSON sent (shape tests).
 */
export async function registrationBody(
  fsp: FspIdentity,
  device: TestDevice,
  registration: MacroRegistrationContent,
  options: {
    secretAnswer?: unknown;
    signingKey?: PrivateJwk;
    binding?: string;
    audience?: string;
    signed?: Record<string, unknown>;
    raw?: (json: Record<string, unknown>) => Record<string, unknown>;
    /** The signature's own time (default: the registration's issuedAt). */
    signedAtMs?: number;
  } = {},
): Promise<string> {
  const nowMs = options.signedAtMs ?? Date.parse(registration.issuedAt);
  const signature = await signPayload(
    options.signed ?? registration,
    {
      issuer: device.partyId,
      audience: options.audience ?? fsp.id,
      transactionId: device.partyId,
      expiresInSeconds: 300,
      now: () => (Number.isNaN(nowMs) ? Date.now() : nowMs),
    },
    options.signingKey ?? device.signing.privateJwk,
  );
  const json: Record<string, unknown> = {
    binding: options.binding ?? device.binding,
    registration,
    signature,
    secretAnswer: options.secretAnswer ?? 'Saint Mary',
  };
  return encryptTo(JSON.stringify(options.raw ? options.raw(json) : json), fsp.encryption.publicJwk);
}

export interface HttpResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  contentType = 'application/jose',
): Promise<HttpResult> {
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType, ...headers },
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

export function codeOf(result: HttpResult): string | undefined {
  return (result.body.error as { code?: string } | undefined)?.code;
}

/** Registers `device` at the gateway (a fresh Idempotency-Key) and returns the HTTP answer. */
export async function register(
  gateway: MacroTestGateway,
  device: TestDevice,
  registration: MacroRegistrationContent = registrationOf(device),
  options: Parameters<typeof registrationBody>[3] & { idempotencyKey?: string } = {},
): Promise<HttpResult> {
  const body = await registrationBody(gateway.fsp, device, registration, options);
  return post(`${gateway.url}/macro/registrations`, body, {
    'idempotency-key': options.idempotencyKey ?? `reg-${randomUUID()}`,
  });
}

/** The mPIN and client id of the mail sent to `email` (the last one), read as a client reads it. */
export function mailedCredentials(
  mails: readonly OutgoingMail[],
  email: string,
): { clientId: string; mPin: string } {
  const mail = mails.filter((candidate) => candidate.to === email).at(-1);
  const clientId = mail?.text.match(/Client id: (C[0-9]{12}\.[a-z0-9-]+)/)?.[1];
  const mPin = mail?.text.match(/mPIN: +([0-9]{6})/)?.[1];
  if (clientId === undefined || mPin === undefined) throw new MpayError('NOT_FOUND', `no mail to ${email}`);
  return { clientId, mPin };
}

/** Every value of every table of the gateway's schema, as text: where a secret must not be. */
export async function everyStoredText(database: Database): Promise<string> {
  const { rows: tables } = await database.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  const texts: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await database.query(`SELECT * FROM "${table_name}"`);
    texts.push(JSON.stringify(rows));
  }
  return texts.join('\n');
}

/** Whether `digits` stands in `text` as a number of its own (not inside a longer run of digits). */
export function hasToken(text: string, digits: string): boolean {
  return new RegExp(`(?<![0-9])${digits}(?![0-9])`).test(text);
}
