import { randomUUID } from 'node:crypto';
import { bankOperator, demoParties, type RunningBank } from '@mpay/cli';
import {
  decodeBase64url,
  decryptDirect,
  encodeBase64url,
  encryptDirect,
  generateSigningKeyPair,
  issueKeyBinding,
} from '@mpay/envelope';
import { createMacroDeviceSecret } from '@mpay/sdk';
import type { Database } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundWorkDeadlineMs, waitFor } from '../support/deadlines.ts';
import { expectCode, startTestPlatform, type TestPlatform } from './harness.ts';
import {
  credentialsOf,
  macroClientOf,
  newMacroCustomer,
  registerMacroClient,
  registrationInput,
  registrationMail,
} from './macro-support.ts';

/**
 * Seed 002 §3 end to end over real HTTP: a customer of xbank with an enrolled
 * device registers with the MPASP (the gateway); xbank issues the client id;
 * the MPASP mails the client id and the mPIN through the platform's embedded
 * mail server; the mPIN opens an E_SP channel through an OPAQUE login the
 * MPASP counts. Refusals by their stable codes, and the MPASP's database read
 * for the secrets it must not hold.
 */
let test: TestPlatform;
let xbank: RunningBank;
let gatewayDatabase: Database;

beforeAll(async () => {
  test = await startTestPlatform();
  xbank = test.platform.banks.find((bank) => bank.id === 'xbank') as RunningBank;
  gatewayDatabase = test.platform.gateway.context.database;
});
afterAll(async () => {
  await test?.close();
});

const newCustomer = (name: string) => newMacroCustomer(test, name);
const macroClient = (deviceSecret?: string) => macroClientOf(test, deviceSecret);
const mailTo = (email: string) => registrationMail(test, email);

/** A registered client: registered through the SDK, its credentials read from its mailbox. */
async function registeredClient(name: string) {
  const client = await registerMacroClient(test, name);
  expect(client.clientId).toBe(client.registered.clientId);
  return client;
}

async function everyStoredText(database: Database): Promise<string> {
  const { rows: tables } = await database.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  const texts: string[] = [];
  for (const { table_name } of tables) {
    texts.push(JSON.stringify((await database.query(`SELECT * FROM "${table_name}"`)).rows));
  }
  return texts.join('\n');
}

function wrongPin(mPin: string): string {
  return ((Number(mPin) + 1) % 1_000_000).toString().padStart(6, '0');
}

describe('macro registration (seed 002 §3) and the mPIN channel, end to end', () => {
  it('registers a bank customer, mails the client id and the mPIN, and the mailed mPIN opens an E_SP channel', async () => {
    const customer = await newCustomer('nina');
    const deviceSecret = createMacroDeviceSecret();
    const client = macroClient(deviceSecret);
    const input = registrationInput(customer);
    const registered = await client.register(input);
    expect(registered.clientId).toMatch(/^C[0-9]{12}\.xbank$/);
    expect(registered.mailedTo).toBe(`${input.email[0]}***@mail.example`);

    // §3: "the server sends client id and mPIN to the respective client mail", from the MPASP.
    const mail = await mailTo(input.email);
    expect(mail).toMatchObject({ from: 'mpasp@fsp.mpay', subject: 'Your mpay client id and mPIN' });
    const { clientId, mPin } = credentialsOf(mail);
    expect(clientId).toBe(registered.clientId);

    // §3: "the bank issues the ID for registered users": xbank holds it, for this customer and device.
    const { rows: issued } = await xbank.database.query<{ party_id: string; binding_serial: string }>(
      'SELECT party_id, binding_serial FROM macro_clients WHERE client_id = $1',
      [clientId],
    );
    expect(issued).toEqual([{ party_id: customer.partyId, binding_serial: customer.serial }]);

    const channel = await client.openChannel(clientId, mPin);
    expect(channel.channelKey).toHaveLength(32);
    // The MPASP derived the same key: a message the device seals with it opens with the MPASP's.
    const { rows } = await gatewayDatabase.query<{ channel_key: string; client_id: string }>(
      'SELECT channel_key, client_id FROM macro_channels WHERE session_id = $1',
      [channel.sessionId],
    );
    expect(rows[0]?.client_id).toBe(clientId);
    expect(rows[0]?.channel_key).toBe(encodeBase64url(channel.channelKey));
    const sealed = await encryptDirect('{"hello":"E_SP"}', channel.channelKey, { kid: channel.sessionId });
    const opened = await decryptDirect(sealed, decodeBase64url(rows[0]!.channel_key)!, {
      kid: channel.sessionId,
    });
    expect(new TextDecoder().decode(opened)).toBe('{"hello":"E_SP"}');

    // Neither the mPIN nor the secret answer is in the MPASP's database in clear (the mail is sent: its row erased).
    await waitFor(
      async () => {
        const { rows: mails } = await gatewayDatabase.query<{ delivered_at: Date | null }>(
          "SELECT delivered_at FROM outbox WHERE kind = 'macro_mail' AND payment_id = $1",
          [clientId],
        );
        return mails[0]?.delivered_at !== null && mails[0]?.delivered_at !== undefined;
      },
      { deadlineMs: backgroundWorkDeadlineMs, what: 'the registration mail marked delivered' },
    );
    const stored = await everyStoredText(gatewayDatabase);
    expect(stored).toContain(clientId);
    expect(stored).toMatch(/\$argon2id\$/);
    expect(new RegExp(`(?<![0-9])${mPin}(?![0-9])`).test(stored)).toBe(false);
    expect(stored.toLowerCase()).not.toContain('saint cyril');
  });

  it('refuses a wrong mPIN and counts it: five in a row block the client id, the right mPIN included', async () => {
    const { clientId, mPin, deviceSecret } = await registeredClient('olga');
    const client = macroClient(deviceSecret);
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      expect({ attempt, code: await expectCode(client.openChannel(clientId, wrongPin(mPin))) }).toEqual({
        attempt,
        code: 'MACRO_MPIN_REFUSED',
      });
    }
    expect(await expectCode(client.openChannel(clientId, wrongPin(mPin)))).toBe('MACRO_MPIN_BLOCKED');
    expect(await expectCode(client.openChannel(clientId, mPin))).toBe('MACRO_MPIN_BLOCKED');
  });

  it('opens no channel with the mailed mPIN alone: another device (another device secret) cannot use it', async () => {
    const { clientId, mPin } = await registeredClient('petra');
    expect(await expectCode(macroClient().openChannel(clientId, mPin))).toBe('CRYPTO_VERIFICATION_FAILED');
  });

  it('refuses an MSISDN already registered: a macro client’s, or another party’s alias (MACRO_MSISDN_TAKEN)', async () => {
    const { input } = await registeredClient('vera');
    const other = await newCustomer('zora');
    expect(await expectCode(macroClient().register(registrationInput(other, { msisdn: input.msisdn })))).toBe(
      'MACRO_MSISDN_TAKEN',
    );
    expect(
      await expectCode(
        macroClient().register(registrationInput(other, { msisdn: demoParties.customer.msisdn })),
      ),
    ).toBe('MACRO_MSISDN_TAKEN');
  });

  it('refuses a binding signed by another key than the bank’s, another party’s signature, and a revoked binding', async () => {
    const ann = await newCustomer('ann');
    const bob = await newCustomer('bob');
    const forger = await generateSigningKeyPair();
    const nowSeconds = Math.floor(Date.now() / 1000);
    const forged = await issueKeyBinding(
      {
        issuer: 'xbank',
        subject: ann.partyId,
        deviceId: 'forged-phone',
        accounts: [randomUUID()],
        signingJwk: ann.keys.signing.publicJwk,
        encryptionJwk: ann.keys.encryption.publicJwk,
        notBefore: nowSeconds - 60,
        notAfter: nowSeconds + 86_400,
        serialNumber: `kb-${randomUUID().slice(0, 8)}`,
      },
      forger.privateJwk,
    );
    expect(await expectCode(macroClient().register({ ...registrationInput(ann), binding: forged }))).toBe(
      'KEY_BINDING_INVALID',
    );
    // Ann's registration signed by Bob's device: not Ann's request.
    expect(
      await expectCode(
        macroClient().register({ ...registrationInput(ann), signingKey: bob.keys.signing.privateJwk }),
      ),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
    // Bob's binding and key, registering Ann: Bob cannot register anyone but himself.
    expect(
      await expectCode(
        macroClient().register({
          ...registrationInput(ann),
          binding: bob.binding,
          signingKey: bob.keys.signing.privateJwk,
        }),
      ),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
    // A lost device: xbank refuses to issue a client id under its revoked binding.
    await bankOperator(xbank, xbank.operatorKey).post(`/key-bindings/${bob.serial}/revocation`, {
      reason: 'lost phone',
    });
    expect(await expectCode(macroClient().register(registrationInput(bob)))).toBe('KEY_BINDING_REVOKED');
    const { rows } = await gatewayDatabase.query('SELECT 1 FROM macro_clients WHERE party_id = ANY($1)', [
      [ann.partyId, bob.partyId],
    ]);
    expect(rows).toEqual([]);
  });
});
