import { generateSigningKeyPair, verifyPayload } from '@mpay/envelope';
import { verifySignedRequest } from '@mpay/http-client';
import { MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueTestBinding } from '../test-helpers.ts';
import {
  codeOf,
  enrolDevice,
  everyStoredText,
  hasToken,
  issuingBank,
  type MacroTestGateway,
  mailedCredentials,
  post,
  register,
  registrationBody,
  registrationOf,
  startMacroTestGateway,
  testBankId,
  uniqueMsisdn,
} from './macro.test-helper.ts';
import { checkSecretAnswer } from './secret-answer.ts';
import { findMacroClient } from './store.ts';

let gateway: MacroTestGateway;

beforeAll(async () => {
  gateway = await startMacroTestGateway({ macroLimits: { registrationsPerPartyMax: 3 } });
});
afterAll(async () => {
  await gateway?.close();
});

async function mailRow(clientId: string) {
  const { rows } = await gateway.database.query<{
    payload: string;
    delivered_at: Date | null;
    abandoned_at: Date | null;
    attempts: number;
  }>(
    "SELECT payload, delivered_at, abandoned_at, attempts FROM outbox WHERE kind = 'macro_mail' AND payment_id = $1",
    [clientId],
  );
  return rows;
}

describe('POST /macro/registrations (seed 002 §3)', () => {
  it('registers, asks the client bank for ID_C, mails the client id and the mPIN, and keeps neither secret in clear', async () => {
    const device = await enrolDevice(gateway.bank);
    const registration = registrationOf(device, { email: 'ann.smith@mail.example' });
    const answer = await register(gateway, device, registration, { secretAnswer: '  Saint   MARY ' });
    expect(answer.status).toBe(201);
    const clientId = answer.body.clientId as string;
    expect(clientId).toMatch(/^C[0-9]{12}\.xbank$/);
    expect(answer.body.mailedTo).toBe('a***@mail.example');

    // The client bank was asked by the FSP, signed, for this party, number and binding.
    const asked = gateway.bankStub.requests.filter((request) => request.url === '/macro/clients').at(-1);
    expect(JSON.parse(asked?.body ?? '{}')).toEqual({
      partyId: device.partyId,
      msisdn: registration.msisdn,
      bindingSerial: device.serialNumber,
    });
    const caller = await verifySignedRequest(
      {
        method: 'POST',
        path: '/macro/clients',
        body: asked!.body,
        authorization: String(asked!.headers.authorization),
      },
      { audience: testBankId, resolveKey: () => gateway.fsp.signing.publicJwk },
    );
    expect(caller.issuer).toBe(gateway.fsp.id);

    await gateway.service.runBackgroundOnce();
    const { clientId: mailedId, mPin } = mailedCredentials(gateway.mails, registration.email);
    expect(mailedId).toBe(clientId);
    expect(mPin).toMatch(/^[0-9]{6}$/);
    const mail = gateway.mails.at(-1)!;
    expect(mail.subject).toBe('Your mpay client id and mPIN');
    expect(mail.text).toContain('Dear Ann Smith,');

    const stored = await findMacroClient(gateway.database, clientId);
    expect(stored).toMatchObject({
      partyId: device.partyId,
      bankId: testBankId,
      msisdn: registration.msisdn,
      email: registration.email,
      secretQuestion: registration.secretQuestion,
      deviceSecret: registration.deviceSecret,
      bindingSerial: device.serialNumber,
    });
    expect(stored?.secretAnswerVerifier).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // Normalised: another spelling of the same answer is right, another answer is wrong.
    expect(await checkSecretAnswer(stored!.secretAnswerVerifier, 'saint mary')).toBe(true);
    expect(await checkSecretAnswer(stored!.secretAnswerVerifier, 'ＳＡＩＮＴ Mary')).toBe(true);
    expect(await checkSecretAnswer(stored!.secretAnswerVerifier, 'saint marie')).toBe(false);
    // The bank's statement is kept as evidence and verifies under the bank's key.
    await verifyPayload(
      stored!.clientIdStatement,
      () => gateway.bank.key.publicJwk,
      {
        issuer: testBankId,
        audience: gateway.fsp.id,
        transactionId: clientId,
      },
      { maxAgeSeconds: 86_400 },
    );

    // Sent: the row is delivered and the mPIN erased from it; nothing in the database holds either secret.
    const [row] = await mailRow(clientId);
    expect(row?.delivered_at).not.toBeNull();
    expect(JSON.parse(row!.payload)).toEqual({ clientId, mailedTo: 'a***@mail.example', mPinErased: true });
    const everything = await everyStoredText(gateway.database);
    expect(everything).toContain(clientId);
    expect(hasToken(everything, mPin)).toBe(false);
    // Neither as typed nor normalised (base64 and hex hold no space: no false alarm).
    expect(everything.toLowerCase()).not.toMatch(/saint +mary/);
  });

  it('answers a retry under the same Idempotency-Key with the first answer, once', async () => {
    const device = await enrolDevice(gateway.bank);
    const registration = registrationOf(device);
    const body = await registrationBody(gateway.fsp, device, registration);
    const url = `${gateway.url}/macro/registrations`;
    const first = await post(url, body, { 'idempotency-key': 'retry-1' });
    const again = await post(url, body, { 'idempotency-key': 'retry-1' });
    expect(first.status).toBe(201);
    expect(again).toMatchObject({ status: 201, body: first.body });
    expect(await mailRow(first.body.clientId as string)).toHaveLength(1);
    const other = await registrationBody(gateway.fsp, device, registration);
    expect(codeOf(await post(url, other, { 'idempotency-key': 'retry-1' }))).toBe('IDEMPOTENCY_KEY_REUSED');
    // Without a key: refused before anything is done.
    const fresh = await enrolDevice(gateway.bank);
    const unkeyed = await post(url, await registrationBody(gateway.fsp, fresh, registrationOf(fresh)));
    expect(codeOf(unkeyed)).toBe('IDEMPOTENCY_KEY_INVALID');
  });

  it('refuses an MSISDN already registered, to anyone (MACRO_MSISDN_TAKEN), and a second client of one party', async () => {
    const ann = await enrolDevice(gateway.bank);
    const bob = await enrolDevice(gateway.bank, 'bob');
    const msisdn = uniqueMsisdn();
    expect((await register(gateway, ann, registrationOf(ann, { msisdn }))).status).toBe(201);
    const taken = await register(gateway, bob, registrationOf(bob, { msisdn }));
    expect(taken.status).toBe(409);
    expect(codeOf(taken)).toBe('MACRO_MSISDN_TAKEN');
    // The same party with the same number: the number is taken too.
    expect(codeOf(await register(gateway, ann, registrationOf(ann, { msisdn })))).toBe('MACRO_MSISDN_TAKEN');
    // The same party with another number: one client per customer.
    const again = await register(gateway, ann, registrationOf(ann));
    expect(again.status).toBe(409);
    expect(codeOf(again)).toBe('MACRO_CLIENT_EXISTS');
    // A number the operator made another party's alias is taken as well; the party's own alias is not.
    const aliased = uniqueMsisdn();
    await gateway.database.query(
      "INSERT INTO parties (id, kind, display_name, bank_id) VALUES ($1, 'person', 'Eve', $2) ON CONFLICT DO NOTHING",
      ['eve@person.xbank', testBankId],
    );
    await gateway.database.query('INSERT INTO aliases (alias, party_id) VALUES ($1, $2)', [
      aliased,
      'eve@person.xbank',
    ]);
    expect(codeOf(await register(gateway, bob, registrationOf(bob, { msisdn: aliased })))).toBe(
      'MACRO_MSISDN_TAKEN',
    );
  });

  it('refuses a binding not signed by the bank, another party’s binding or signature, and a changed registration', async () => {
    const ann = await enrolDevice(gateway.bank);
    const bob = await enrolDevice(gateway.bank, 'bob');
    const forger = await generateSigningKeyPair();
    const forged = await issueTestBinding(gateway.bank, {
      subject: ann.partyId,
      signedWith: forger,
      signing: ann.signing,
    });
    expect(codeOf(await register(gateway, ann, registrationOf(ann), { binding: forged.binding }))).toBe(
      'KEY_BINDING_INVALID',
    );
    // Ann's registration signed with Bob's key (Ann's binding): not Ann's signature.
    expect(
      codeOf(await register(gateway, ann, registrationOf(ann), { signingKey: bob.signing.privateJwk })),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
    // Ann's registration with Bob's binding and key: Bob cannot register Ann.
    expect(
      codeOf(
        await register(gateway, ann, registrationOf(ann), {
          binding: bob.binding,
          signingKey: bob.signing.privateJwk,
        }),
      ),
    ).toBe('CRYPTO_VERIFICATION_FAILED');
    // A signature over another e-mail address does not register this one.
    const registration = registrationOf(ann);
    const signed = { ...registration, email: 'someone.else@mail.example' };
    expect(codeOf(await register(gateway, ann, registration, { signed }))).toBe('CRYPTO_VERIFICATION_FAILED');
    // Signed for another FSP.
    expect(codeOf(await register(gateway, ann, registrationOf(ann), { audience: 'fsp.other' }))).toBe(
      'CRYPTO_VERIFICATION_FAILED',
    );
    // issuedAt that does not agree with the signature's own time.
    const late = registrationOf(ann);
    const lateAnswer = await register(gateway, ann, late, {
      signedAtMs: Date.parse(late.issuedAt) - 120_000,
    });
    expect({
      code: codeOf(lateAnswer),
      detail: (lateAnswer.body.error as { detail?: string }).detail,
    }).toEqual({
      code: 'CLAIMS_INVALID',
      detail: 'issuedAt',
    });
    expect(
      await gateway.database.query('SELECT 1 FROM macro_clients WHERE party_id = $1', [ann.partyId]),
    ).toMatchObject({
      rows: [],
    });
  });

  it('checks the limits: name, question, answer, address, shape', async () => {
    const device = await enrolDevice(gateway.bank);
    const cases: [Record<string, unknown>, unknown, string][] = [
      [{ name: 'x'.repeat(101) }, 'Saint Mary', 'name'],
      [{ name: ' Ann' }, 'Saint Mary', 'name'],
      [{ secretQuestion: `${'q'.repeat(256)}?` }, 'Saint Mary', 'secretQuestion'],
      [{ secretQuestion: 'Bidi \u202e question' }, 'Saint Mary', 'secretQuestion'],
      [{}, 'a'.repeat(257), 'secretAnswer'],
      [{}, ' x ', 'secretAnswer'],
      [{ email: 'ann@mail.example, eve@evil.example' }, 'Saint Mary', 'email'],
      [{ email: `${'a'.repeat(250)}@b.example` }, 'Saint Mary', 'email'],
      [{ msisdn: '0038970123456' }, 'Saint Mary', 'msisdn'],
      [{ deviceSecret: 'short' }, 'Saint Mary', 'deviceSecret'],
    ];
    for (const [override, secretAnswer, path] of cases) {
      const answer = await register(gateway, device, { ...registrationOf(device), ...override } as never, {
        secretAnswer,
      });
      expect({
        path,
        code: codeOf(answer),
        detail: (answer.body.error as { detail?: string }).detail,
      }).toEqual({
        path,
        code: 'MESSAGE_INVALID',
        detail: path,
      });
    }
    const extra = await register(gateway, device, registrationOf(device), {
      raw: (json) => ({ ...json, admin: true }),
    });
    expect(codeOf(extra)).toBe('MESSAGE_INVALID');
    const notJose = await post(
      `${gateway.url}/macro/registrations`,
      '{}',
      { 'idempotency-key': 'k' },
      'application/json',
    );
    expect(codeOf(notJose)).toBe('REQUEST_INVALID');
  });

  it("passes the client bank's refusal on, and refuses an answer not signed by the bank", async () => {
    const device = await enrolDevice(gateway.bank);
    const issue = gateway.bankBehaviour;
    try {
      gateway.bankBehaviour = async () => ({
        status: 403,
        json: { error: new MpayError('KEY_BINDING_REVOKED').toJSON() },
      });
      expect(codeOf(await register(gateway, device))).toBe('KEY_BINDING_REVOKED');
      // The same answer, signed by a key that is not the one the gateway registered for xbank.
      const impostor = await generateSigningKeyPair();
      gateway.bankBehaviour = issuingBank(() => ({ ...gateway.bank, key: impostor }), gateway.fsp.id);
      expect(codeOf(await register(gateway, device))).toBe('BANK_ANSWER_INVALID');
    } finally {
      gateway.bankBehaviour = issue;
    }
    expect(
      await gateway.database.query('SELECT 1 FROM macro_clients WHERE party_id = $1', [device.partyId]),
    ).toMatchObject({ rows: [] });
  });

  it('limits verified attempts per party over the window (429 with Retry-After)', async () => {
    const device = await enrolDevice(gateway.bank);
    const taken = uniqueMsisdn();
    const other = await enrolDevice(gateway.bank, 'bob');
    expect((await register(gateway, other, registrationOf(other, { msisdn: taken }))).status).toBe(201);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(codeOf(await register(gateway, device, registrationOf(device, { msisdn: taken })))).toBe(
        'MACRO_MSISDN_TAKEN',
      );
    }
    const limited = await register(gateway, device);
    expect(limited.status).toBe(429);
    expect(codeOf(limited)).toBe('REQUEST_RATE_LIMITED');
    expect(limited.headers.get('retry-after')).toBe('3600');
    gateway.advanceSeconds(3_601);
    expect((await register(gateway, device)).status).toBe(201);
  });
});
