import * as opaque from '@serenity-kit/opaque';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMacroOpaqueServerSetup, generateMpin, MpinServer, opaqueMessagePattern } from './mpin.ts';

let server: MpinServer;
const clientId = 'C000000000042.xbank';

beforeAll(async () => {
  server = await MpinServer.create(await createMacroOpaqueServerSetup(), 'fsp.mpay');
});

/** A device's login with `mPin` against `record`; the session keys of both sides, or undefined. */
function login(record: string | undefined, mPin: string, id = clientId) {
  const client = opaque.client.startLogin({ password: mPin });
  const started = server.startLogin(id, record, client.startLoginRequest);
  const finished = opaque.client.finishLogin({
    clientLoginState: client.clientLoginState,
    loginResponse: started.loginResponse,
    password: mPin,
    identifiers: { client: id, server: 'fsp.mpay' },
  });
  if (finished === undefined) return undefined;
  return {
    client: finished.sessionKey,
    server: server.finishLogin(id, started.serverLoginState, finished.finishLoginRequest),
  };
}

describe('generateMpin', () => {
  it('draws six digits, leading zeros kept, from the whole range', () => {
    expect(generateMpin(() => 7)).toBe('000007');
    expect(generateMpin(() => 999_999)).toBe('999999');
    expect(() => generateMpin(() => 1_000_000)).toThrow(/assertion failed/);
    const drawn = new Set(Array.from({ length: 200 }, () => generateMpin()));
    for (const mPin of drawn) expect(mPin).toMatch(/^[0-9]{6}$/);
    // 200 draws from 10^6 values: a repeat has probability ~2 %; many repeats mean a broken generator.
    expect(drawn.size).toBeGreaterThan(195);
  });
});

describe('MpinServer (OPAQUE, RFC 9807)', () => {
  it('registers an mPIN into a record that holds no trace of it, and logs in with it only', () => {
    const record = server.register(clientId, '042917');
    expect(record).toMatch(opaqueMessagePattern);
    expect(record).not.toContain('042917');
    const good = login(record, '042917');
    expect(good?.server).toBeDefined();
    expect(good?.server).toBe(good?.client);
    expect(login(record, '042918')).toBeUndefined();
  });

  it('binds the record to its client id: it logs in no other id', () => {
    const record = server.register(clientId, '123456');
    expect(login(record, '123456', 'C000000000043.xbank')).toBeUndefined();
  });

  it('answers an unknown id with a response like a real one, which no mPIN finishes', () => {
    const record = server.register(clientId, '123456');
    const real = server.startLogin(
      clientId,
      record,
      opaque.client.startLogin({ password: '123456' }).startLoginRequest,
    );
    const fake = server.startLogin(
      clientId,
      undefined,
      opaque.client.startLogin({ password: '123456' }).startLoginRequest,
    );
    expect(fake.loginResponse).toHaveLength(real.loginResponse.length);
    expect(login(undefined, '123456')).toBeUndefined();
  });

  it('refuses a malformed setup at start and a malformed login request as REQUEST_INVALID', async () => {
    await expect(MpinServer.create('not-a-setup', 'fsp.mpay')).rejects.toThrow(/OPAQUE server setup/);
    expect(() => server.startLogin(clientId, undefined, 'AAAA')).toThrow(
      expect.objectContaining({ code: 'REQUEST_INVALID' }),
    );
    expect(server.finishLogin(clientId, 'AAAA', 'AAAA')).toBeUndefined();
  });
});
