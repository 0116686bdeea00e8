import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeCustody, startFakeCustody } from '../custody/fake-custody.test-helper.ts';
import { postToCustody } from '../custody/http.ts';
import { pinLogin, registerPin } from './opaque.ts';

let custody: FakeCustody;

beforeAll(async () => {
  custody = await startFakeCustody();
});
afterAll(async () => {
  await custody?.close();
});

/** Registers a PIN and stores its record, as `/wallet-pins` does once custody has checked the binding. */
async function registered(pin: string) {
  const registration = await registerPin(custody.url, pin);
  await postToCustody(`${custody.url}/wallet-pins`, {
    registrationId: registration.registrationId,
    registrationRecord: registration.registrationRecord,
  });
  return registration;
}

describe('the PIN at custody (OPAQUE, RFC 9807)', () => {
  it('a login with the right PIN gives back the export key of the registration', async () => {
    const registration = await registered('2468');
    expect(Buffer.from(registration.exportKey, 'base64url')).toHaveLength(64);
    const login = await pinLogin(custody.url, registration.registrationId, '2468');
    expect(login.exportKey).toBe(registration.exportKey);
    expect(Buffer.from(login.sessionKey, 'base64url')).toHaveLength(64);
    expect(custody.failures()).toBe(0);
  });

  it('a wrong PIN is PIN_REFUSED, counted by custody, and reported as a finish without proof', async () => {
    const registration = await registered('2468');
    const before = custody.requests.length;
    await expect(pinLogin(custody.url, registration.registrationId, '1357')).rejects.toMatchObject({
      code: 'PIN_REFUSED',
    });
    expect(
      custody.requests
        .slice(before)
        .map((request) => request.replace(/\/pin-logins\/[^/]+\//, '/pin-logins/ID/')),
    ).toEqual(['POST /pin-logins', 'POST /pin-logins/ID/finish']);
    expect(custody.failures()).toBe(1);
    await pinLogin(custody.url, registration.registrationId, '2468');
    expect(custody.failures()).toBe(0);
  });

  it('after five failures custody answers PIN_BLOCKED, even to the right PIN', async () => {
    const blocking = await startFakeCustody();
    try {
      const registration = await registerPin(blocking.url, '2468');
      await postToCustody(`${blocking.url}/wallet-pins`, {
        registrationId: registration.registrationId,
        registrationRecord: registration.registrationRecord,
      });
      for (let attempt = 0; attempt < 5; attempt += 1)
        await expect(pinLogin(blocking.url, registration.registrationId, '0000')).rejects.toMatchObject({
          code: 'PIN_REFUSED',
        });
      await expect(pinLogin(blocking.url, registration.registrationId, '2468')).rejects.toMatchObject({
        code: 'PIN_BLOCKED',
      });
    } finally {
      await blocking.close();
    }
  });

  it('a PIN that is not 4–12 digits is refused before anything is sent (no try spent)', async () => {
    const before = custody.requests.length;
    for (const pin of ['123', '1234567890123', 'abcd', '12 34', ''])
      await expect(pinLogin(custody.url, 'credential', pin), pin).rejects.toMatchObject({
        code: 'WALLET_PIN_INVALID',
      });
    await expect(registerPin(custody.url, '12')).rejects.toMatchObject({ code: 'WALLET_PIN_INVALID' });
    expect(custody.requests.length).toBe(before);
  });
});
