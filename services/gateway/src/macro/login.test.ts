import { randomUUID } from 'node:crypto';
import { decodeBase64url, decryptDirect } from '@mpay/envelope';
import { parseMacroChannelConfirmation } from '@mpay/protocol';
import * as opaque from '@serenity-kit/opaque';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveChannelKey } from './channel.ts';
import {
  codeOf,
  enrolDevice,
  type MacroTestGateway,
  mailedCredentials,
  post,
  register,
  registrationOf,
  startMacroTestGateway,
} from './macro.test-helper.ts';
import { findOpenChannel } from './store.ts';

let gateway: MacroTestGateway;

beforeAll(async () => {
  await opaque.ready;
  gateway = await startMacroTestGateway();
});
afterAll(async () => {
  await gateway?.close();
});

interface Client {
  readonly clientId: string;
  readonly mPin: string;
  readonly deviceSecret: string;
}

async function registeredClient(): Promise<Client> {
  const device = await enrolDevice(gateway.bank);
  const registration = registrationOf(device);
  const answer = await register(gateway, device, registration);
  expect(answer.status).toBe(201);
  await gateway.service.runBackgroundOnce();
  return { ...mailedCredentials(gateway.mails, registration.email), deviceSecret: registration.deviceSecret };
}

async function start(clientId: string, mPin: string) {
  const client = opaque.client.startLogin({ password: mPin });
  const answer = await post(
    `${gateway.url}/macro/sessions`,
    JSON.stringify({ clientId, startLoginRequest: client.startLoginRequest }),
    {},
    'application/json',
  );
  return { client, answer };
}

function finish(loginId: string, finishLoginRequest: string | null) {
  return post(
    `${gateway.url}/macro/sessions/${loginId}/finish`,
    JSON.stringify({ finishLoginRequest }),
    {},
    'application/json',
  );
}

/** A whole login as a device runs it; a wrong mPIN is told to the MPASP with a null finish. */
async function login(clientId: string, mPin: string) {
  const { client, answer } = await start(clientId, mPin);
  if (answer.status !== 201) return { answer };
  const loginId = answer.body.loginId as string;
  const finished = opaque.client.finishLogin({
    clientLoginState: client.clientLoginState,
    loginResponse: answer.body.loginResponse as string,
    password: mPin,
    identifiers: { client: clientId, server: gateway.fsp.id },
  });
  const done = await finish(loginId, finished?.finishLoginRequest ?? null);
  return { answer: done, sessionKey: finished?.sessionKey, started: answer };
}

function wrongPin(mPin: string): string {
  return ((Number(mPin) + 1) % 1_000_000).toString().padStart(6, '0');
}

describe('the mPIN channel login (E_SP, issue 10 §3)', () => {
  it('opens a channel with the mailed mPIN: the client derives the key the MPASP stored, and opens its confirmation', async () => {
    const { clientId, mPin, deviceSecret } = await registeredClient();
    const { answer, sessionKey } = await login(clientId, mPin);
    expect(answer.status).toBe(201);
    const sessionId = answer.body.sessionId as string;
    const channelKey = await deriveChannelKey({ sessionKey: sessionKey!, deviceSecret, clientId, sessionId });
    const stored = await findOpenChannel(gateway.database, sessionId, gateway.now());
    expect(stored?.clientId).toBe(clientId);
    expect(decodeBase64url(stored!.channelKey)).toEqual(channelKey);
    expect(answer.body.expiresAt).toBe(new Date(gateway.now().getTime() + 900_000).toISOString());
    const opened = await decryptDirect(answer.body.confirmation, channelKey, { kid: sessionId });
    expect(parseMacroChannelConfirmation(JSON.parse(new TextDecoder().decode(opened)))).toEqual({
      kind: 'macro_channel_confirmation',
      from: gateway.fsp.id,
      to: clientId,
      sessionId,
      expiresAt: answer.body.expiresAt,
    });
    // Another device secret (the mPIN alone, without the registered device) gives another key: it opens nothing.
    const otherKey = await deriveChannelKey({
      sessionKey: sessionKey!,
      deviceSecret: Buffer.alloc(32, 7).toString('base64url'),
      clientId,
      sessionId,
    });
    await expect(decryptDirect(answer.body.confirmation, otherKey, { kid: sessionId })).rejects.toThrow();
    // The channel closes at its expiry, and housekeeping forgets its key.
    gateway.advanceSeconds(901);
    expect(await findOpenChannel(gateway.database, sessionId, gateway.now())).toBeUndefined();
    await gateway.service.runBackgroundOnce();
    const { rows } = await gateway.database.query('SELECT 1 FROM macro_channels WHERE session_id = $1', [
      sessionId,
    ]);
    expect(rows).toEqual([]);
  });

  it('refuses wrong mPINs, counts them, blocks at the fifth in a row, and then refuses the right one too', async () => {
    const { clientId, mPin } = await registeredClient();
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const { answer } = await login(clientId, wrongPin(mPin));
      expect({ attempt, code: codeOf(answer) }).toEqual({ attempt, code: 'MACRO_MPIN_REFUSED' });
      expect(answer.status).toBe(403);
    }
    const fifth = await login(clientId, wrongPin(mPin));
    expect(codeOf(fifth.answer)).toBe('MACRO_MPIN_BLOCKED');
    expect(fifth.answer.status).toBe(423);
    const right = await login(clientId, mPin);
    expect(codeOf(right.answer)).toBe('MACRO_MPIN_BLOCKED');
    const { rows } = await gateway.database.query<{ failed_tries: number; blocked_at: Date | null }>(
      'SELECT failed_tries, blocked_at FROM macro_login_tries WHERE client_id = $1',
      [clientId],
    );
    expect(rows[0]?.blocked_at).not.toBeNull();
  });

  it('resets the count on a success: four wrong, one right, four wrong is not a block', async () => {
    const { clientId, mPin } = await registeredClient();
    for (let attempt = 0; attempt < 4; attempt += 1) {
      expect(codeOf((await login(clientId, wrongPin(mPin))).answer)).toBe('MACRO_MPIN_REFUSED');
    }
    expect((await login(clientId, mPin)).answer.status).toBe(201);
    for (let attempt = 0; attempt < 4; attempt += 1) {
      expect(codeOf((await login(clientId, wrongPin(mPin))).answer)).toBe('MACRO_MPIN_REFUSED');
    }
    expect((await login(clientId, mPin)).answer.status).toBe(201);
  });

  it('counts a started login that is never finished: the sixth start of a row is refused', async () => {
    const { clientId, mPin } = await registeredClient();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await start(clientId, mPin)).answer.status).toBe(201);
    }
    expect(codeOf((await start(clientId, mPin)).answer)).toBe('MACRO_MPIN_BLOCKED');
  });

  it('answers an id nobody holds like a held one, and blocks it alike', async () => {
    const { clientId, mPin } = await registeredClient();
    const unknown = `C${'0'.repeat(11)}1.xbank` === clientId ? 'C000000000002.xbank' : 'C000000000001.xbank';
    const held = await start(clientId, wrongPin(mPin));
    const nobody = await start(unknown, '123456');
    expect(nobody.answer.status).toBe(held.answer.status);
    expect((nobody.answer.body.loginResponse as string).length).toBe(
      (held.answer.body.loginResponse as string).length,
    );
    // The start above counted one try, as it does for a held id: three refusals more, then the block.
    for (let attempt = 2; attempt <= 4; attempt += 1) {
      expect(codeOf((await login(unknown, '123456')).answer)).toBe('MACRO_MPIN_REFUSED');
    }
    expect(codeOf((await login(unknown, '123456')).answer)).toBe('MACRO_MPIN_BLOCKED');
  });

  it('uses a login once, and not after its lifetime', async () => {
    const { clientId, mPin } = await registeredClient();
    const { client, answer } = await start(clientId, mPin);
    const loginId = answer.body.loginId as string;
    const finished = opaque.client.finishLogin({
      clientLoginState: client.clientLoginState,
      loginResponse: answer.body.loginResponse as string,
      password: mPin,
      identifiers: { client: clientId, server: gateway.fsp.id },
    })!;
    expect((await finish(loginId, finished.finishLoginRequest)).status).toBe(201);
    expect(codeOf(await finish(loginId, finished.finishLoginRequest))).toBe('MACRO_MPIN_REFUSED');

    const late = await start(clientId, mPin);
    const lateFinished = opaque.client.finishLogin({
      clientLoginState: late.client.clientLoginState,
      loginResponse: late.answer.body.loginResponse as string,
      password: mPin,
      identifiers: { client: clientId, server: gateway.fsp.id },
    })!;
    gateway.advanceSeconds(121);
    expect(codeOf(await finish(late.answer.body.loginId as string, lateFinished.finishLoginRequest))).toBe(
      'MACRO_MPIN_REFUSED',
    );
    expect(codeOf(await finish(randomUUID(), lateFinished.finishLoginRequest))).toBe('MACRO_MPIN_REFUSED');
    expect(codeOf(await finish('not-a-login', null))).toBe('MACRO_MPIN_REFUSED');
  });

  it('binds the login to the client id: a finish made for another id does not open a channel', async () => {
    const { clientId, mPin } = await registeredClient();
    const { client, answer } = await start(clientId, mPin);
    const finished = opaque.client.finishLogin({
      clientLoginState: client.clientLoginState,
      loginResponse: answer.body.loginResponse as string,
      password: mPin,
      identifiers: { client: 'C999999999999.xbank', server: gateway.fsp.id },
    });
    // The client already sees that the transcript is not for its id.
    expect(finished).toBeUndefined();
    expect(codeOf(await finish(answer.body.loginId as string, null))).toBe('MACRO_MPIN_REFUSED');
  });

  it('refuses malformed requests before counting anything', async () => {
    const bad = await post(
      `${gateway.url}/macro/sessions`,
      JSON.stringify({ clientId: 'john.bernard@person.xbank', startLoginRequest: 'x'.repeat(100) }),
      {},
      'application/json',
    );
    expect(codeOf(bad)).toBe('REQUEST_INVALID');
    const { rows } = await gateway.database.query('SELECT 1 FROM macro_login_tries WHERE client_id = $1', [
      'john.bernard@person.xbank',
    ]);
    expect(rows).toEqual([]);
  });
});
