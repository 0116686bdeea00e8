import { randomBytes, randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import { openMailbox, type StoredMail } from '@mpay/mail';
import { createMacroDeviceSecret, type DeviceKeys, enrolDevice, MacroClient } from '@mpay/sdk';
import { generatePartyKeys } from '../../cli/src/platform/identities.ts';
import { backgroundWorkDeadlineMs, waitFor } from '../support/deadlines.ts';
import type { TestPlatform } from './harness.ts';

/** What the macro end-to-end tests share: fresh xbank customers, registered at the MPASP through the SDK. */

export interface MacroCustomer {
  readonly partyId: string;
  readonly account: string;
  readonly keys: DeviceKeys;
  readonly binding: string;
  readonly serial: string;
}

export const macroSecretQuestion = 'Name of your first teacher?';
export const macroSecretAnswer = 'Marija Petrovska';

function xbankOf(test: TestPlatform): RunningBank {
  const xbank = test.platform.banks.find((bank) => bank.id === 'xbank');
  if (xbank === undefined) throw new Error('the test platform runs xbank');
  return xbank;
}

/**
 * A new xbank customer: an account opened by the bank's operator (funded
 * with `balanceMinor` when above zero), and a device enrolled on it.
 */
export async function newMacroCustomer(
  test: TestPlatform,
  name: string,
  balanceMinor = 0n,
): Promise<MacroCustomer> {
  const xbank = xbankOf(test);
  const partyId = `${name}-${randomUUID().slice(0, 8)}@person.xbank`;
  const operator = bankOperator(xbank, xbank.operatorKey);
  const account = randomUUID();
  await operator.post('/accounts', { id: account, owner: partyId, currency: 'EUR', kind: 'customer' });
  if (balanceMinor > 0n)
    await operator.post('/transfers', {
      id: randomUUID(),
      debitAccountId: demoParties.bank.fundingAccount,
      creditAccountId: account,
      amount: balanceMinor.toString(),
      currency: 'EUR',
      reference: 'opening balance',
    });
  const { code } = await operator.post<{ code: string }>('/enrolment-codes', {
    partyId,
    accountIds: [account],
  });
  const keys = await generatePartyKeys();
  const enrolment = await enrolDevice(
    { bankUrl: xbank.url, bankId: 'xbank', partyId, code },
    `phone-${randomUUID().slice(0, 8)}`,
    keys,
  );
  return { partyId, account, keys, binding: enrolment.binding, serial: enrolment.serial };
}

export function uniqueMsisdn(): string {
  return `+3897${(randomBytes(4).readUInt32BE(0) % 10 ** 8).toString().padStart(8, '0')}`;
}

export function macroClientOf(test: TestPlatform, deviceSecret = createMacroDeviceSecret()): MacroClient {
  return new MacroClient({ gatewayUrl: test.platform.urls.gateway, fsp: test.fsp, deviceSecret });
}

export function registrationInput(
  customer: MacroCustomer,
  overrides: { msisdn?: string; email?: string } = {},
) {
  return {
    binding: customer.binding,
    signingKey: customer.keys.signing.privateJwk,
    partyId: customer.partyId,
    msisdn: overrides.msisdn ?? uniqueMsisdn(),
    email: overrides.email ?? `${customer.partyId.split('@')[0]}@mail.example`,
    name: 'Ana Kovac',
    secretQuestion: macroSecretQuestion,
    secretAnswer: macroSecretAnswer,
  };
}

/** The mail the platform's embedded server received for `email`, once the MPASP's outbox sent it. */
export async function registrationMail(test: TestPlatform, email: string): Promise<StoredMail> {
  const mailDir = test.platform.mail.dir;
  if (mailDir === undefined) throw new Error('the test platform runs the embedded mail server');
  return waitFor(async () => (await openMailbox(mailDir).list(email))[0], {
    deadlineMs: backgroundWorkDeadlineMs,
    what: `the registration mail to ${email}`,
  });
}

export function credentialsOf(mail: StoredMail): { clientId: string; mPin: string } {
  const clientId = mail.text.match(/Client id: (C[0-9]{12}\.xbank)/)?.[1];
  const mPin = mail.text.match(/mPIN: +([0-9]{6})/)?.[1];
  if (clientId === undefined || mPin === undefined) throw new Error(`no credentials in: ${mail.text}`);
  return { clientId, mPin };
}

export interface RegisteredMacroClient {
  readonly customer: MacroCustomer;
  readonly client: MacroClient;
  readonly deviceSecret: string;
  readonly input: ReturnType<typeof registrationInput>;
  /** What the registration answered (the client id, the masked mailbox). */
  readonly registered: { readonly clientId: string; readonly mailedTo: string };
  readonly clientId: string;
  readonly mPin: string;
  readonly msisdn: string;
}

/** A fresh client registered through the SDK, its client id and mPIN read from its mailbox. */
export async function registerMacroClient(
  test: TestPlatform,
  name: string,
  balanceMinor = 0n,
): Promise<RegisteredMacroClient> {
  const customer = await newMacroCustomer(test, name, balanceMinor);
  const deviceSecret = createMacroDeviceSecret();
  const client = macroClientOf(test, deviceSecret);
  const input = registrationInput(customer);
  const registered = await client.register(input);
  const credentials = credentialsOf(await registrationMail(test, input.email));
  return { customer, client, deviceSecret, input, registered, ...credentials, msisdn: input.msisdn };
}
