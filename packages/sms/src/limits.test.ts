import { describe, expect, it } from 'vitest';
import { createSmsLimits, createSmsSenderLimits, smsTextCharactersMax } from './limits.ts';

describe('sms limits', () => {
  it('have frozen defaults and take valid overrides', () => {
    const limits = createSmsLimits();
    expect(Object.isFrozen(limits)).toBe(true);
    expect(limits).toEqual({
      requestBodyBytesMax: 16_384,
      textCharactersMax: 918,
      messagesPerInboxMax: 1_000,
      inboxesMax: 10_000,
      storageFullRetryAfterSeconds: 60,
      requestsInFlightMax: 32,
      requestTimeoutMs: 30_000,
    });
    expect(smsTextCharactersMax).toBe(918);
    expect(createSmsLimits({ messagesPerInboxMax: 1 }).messagesPerInboxMax).toBe(1);
  });

  it.each([
    ['requestBodyBytesMax', 1023],
    ['requestBodyBytesMax', 1024 * 1024 + 1],
    ['textCharactersMax', 0],
    ['textCharactersMax', 919],
    ['messagesPerInboxMax', 0],
    ['messagesPerInboxMax', 100_001],
    ['messagesPerInboxMax', 2.5],
    ['inboxesMax', 0],
    ['storageFullRetryAfterSeconds', 0],
    ['requestsInFlightMax', 1_025],
    ['requestTimeoutMs', 999],
    ['requestTimeoutMs', Number.NaN],
  ])('refuses %s = %s', (name, value) => {
    expect(() => createSmsLimits({ [name]: value })).toThrow(new RegExp(`sms limits: ${name} must be`));
  });

  it('refuse sender limits out of range', () => {
    const limits = createSmsSenderLimits();
    expect(Object.isFrozen(limits)).toBe(true);
    expect(limits).toEqual({
      requestTimeoutMs: 10_000,
      responseBytesMax: 16_384,
      textCharactersMax: 918,
      retryAfterSecondsMax: 3_600,
    });
    expect(() => createSmsSenderLimits({ requestTimeoutMs: 99 })).toThrow(/requestTimeoutMs/);
    expect(() => createSmsSenderLimits({ responseBytesMax: 255 })).toThrow(/responseBytesMax/);
    expect(() => createSmsSenderLimits({ textCharactersMax: 919 })).toThrow(/textCharactersMax/);
    expect(() => createSmsSenderLimits({ retryAfterSecondsMax: -1 })).toThrow(/retryAfterSecondsMax/);
  });
});
