import { isMpayError } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { SessionPinCheck, SessionPinTries, sessionPinTriesMaxOf } from './session-pin.ts';

function codeOf(action: () => void): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    if (isMpayError(error)) return error.code;
    throw error;
  }
}

describe('the PIN check of an unlocked session', () => {
  it('matches the PIN it was made with and nothing else', async () => {
    const check = await SessionPinCheck.create('2468');
    expect(await check.matches('2468')).toBe(true);
    for (const other of ['2469', '24680', '246', '', '8642', '2468 '])
      expect(await check.matches(other), other).toBe(false);
  });

  it('is made under a fresh key each session, so two sessions share no value', async () => {
    // Nothing to compare from outside (the key cannot be exported): each check knows only its own PIN.
    const first = await SessionPinCheck.create('2468');
    const second = await SessionPinCheck.create('1357');
    expect(await first.matches('1357')).toBe(false);
    expect(await second.matches('2468')).toBe(false);
  });

  it('refuses a PIN of the wrong format before anything is kept', async () => {
    await expect(SessionPinCheck.create('12')).rejects.toMatchObject({ code: 'WALLET_PIN_INVALID' });
    await expect(SessionPinCheck.create('abcd')).rejects.toMatchObject({ code: 'WALLET_PIN_INVALID' });
  });
});

describe('wrong PINs in a row within a session', () => {
  it('are WALLET_PIN_INVALID until the last allowed one, which is WALLET_LOCKED', () => {
    const tries = new SessionPinTries(3);
    expect(codeOf(() => tries.record(false))).toBe('WALLET_PIN_INVALID');
    expect(codeOf(() => tries.record(false))).toBe('WALLET_PIN_INVALID');
    expect(codeOf(() => tries.record(false))).toBe('WALLET_LOCKED');
  });

  it('start again after the right PIN (which a guesser does not have)', () => {
    const tries = new SessionPinTries(3);
    expect(codeOf(() => tries.record(false))).toBe('WALLET_PIN_INVALID');
    expect(codeOf(() => tries.record(false))).toBe('WALLET_PIN_INVALID');
    expect(codeOf(() => tries.record(true))).toBeUndefined();
    expect(codeOf(() => tries.record(false))).toBe('WALLET_PIN_INVALID');
  });

  it('have a validated limit', () => {
    expect(sessionPinTriesMaxOf(undefined)).toBe(3);
    for (const bad of [0, -1, 11, 2.5, Number.NaN])
      expect(() => sessionPinTriesMaxOf(bad), String(bad)).toThrow();
  });
});
