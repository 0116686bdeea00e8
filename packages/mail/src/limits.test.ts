import { describe, expect, it } from 'vitest';
import { createMailerLimits, createMailLimits } from './limits.ts';

describe('mail limits', () => {
  it('have frozen defaults and take valid overrides', () => {
    const limits = createMailLimits();
    expect(Object.isFrozen(limits)).toBe(true);
    expect(limits).toEqual({
      messageSizeBytesMax: 1_048_576,
      recipientsPerMessageMax: 10,
      messagesPerMailboxMax: 1_000,
      mailboxesMax: 10_000,
      connectionsMax: 32,
      socketTimeoutMs: 30_000,
      closeTimeoutMs: 5_000,
    });
    expect(createMailLimits({ recipientsPerMessageMax: 1 }).recipientsPerMessageMax).toBe(1);
  });

  it.each([
    ['messageSizeBytesMax', 1023],
    ['messageSizeBytesMax', 32 * 1024 * 1024 + 1],
    ['messageSizeBytesMax', 2048.5],
    ['recipientsPerMessageMax', 0],
    ['messagesPerMailboxMax', 100_001],
    ['mailboxesMax', 0],
    ['connectionsMax', 1_025],
    ['socketTimeoutMs', 999],
    ['closeTimeoutMs', -1],
    ['closeTimeoutMs', Number.NaN],
  ])('refuses %s = %s', (name, value) => {
    expect(() => createMailLimits({ [name]: value })).toThrow(new RegExp(`mail limits: ${name} must be`));
  });

  it('refuse mailer limits out of range', () => {
    expect(Object.isFrozen(createMailerLimits())).toBe(true);
    expect(() => createMailerLimits({ connectionTimeoutMs: 99 })).toThrow(/connectionTimeoutMs/);
    expect(() => createMailerLimits({ subjectLengthMax: 999 })).toThrow(/subjectLengthMax/);
    expect(() => createMailerLimits({ textBytesMax: 0 })).toThrow(/textBytesMax/);
  });
});
