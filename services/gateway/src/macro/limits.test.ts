import { describe, expect, it } from 'vitest';
import { coreMacroLimits, createMacroServiceLimits, defaultMacroServiceLimits } from './limits.ts';

describe('createMacroServiceLimits', () => {
  it('gives the frozen defaults, with the tries limit at DESIGN.md’s five', () => {
    const limits = createMacroServiceLimits();
    expect(limits).toEqual(defaultMacroServiceLimits);
    expect(limits.mpinLoginFailuresMax).toBe(5);
    expect(Object.isFrozen(limits)).toBe(true);
  });

  it('takes values within their bounds and refuses others by name', () => {
    expect(createMacroServiceLimits({ mpinLoginFailuresMax: 3 }).mpinLoginFailuresMax).toBe(3);
    expect(() => createMacroServiceLimits({ mpinLoginFailuresMax: 6 })).toThrow(/mpinLoginFailuresMax/);
    expect(() => createMacroServiceLimits({ channelLifetimeSeconds: 1.5 })).toThrow(/channelLifetimeSeconds/);
    expect(() => createMacroServiceLimits({ registrationsPerPartyMax: 0 })).toThrow(
      /registrationsPerPartyMax/,
    );
    expect(() => createMacroServiceLimits({ mpinTries: 3 } as never)).toThrow(/unknown limit mpinTries/);
  });

  it('bounds the payment limits by the core’s: three openings of a challenge, five wrong answers, 30 minutes', () => {
    expect(coreMacroLimits(createMacroServiceLimits())).toEqual({
      transactionLifetimeSeconds: 300,
      challengeOpenTriesMax: 3,
    });
    expect(coreMacroLimits(createMacroServiceLimits({ transactionLifetimeSeconds: 30 }))).toMatchObject({
      transactionLifetimeSeconds: 30,
    });
    expect(() => createMacroServiceLimits({ challengeOpenTriesMax: 4 })).toThrow(/challengeOpenTriesMax/);
    expect(() => createMacroServiceLimits({ transactionLifetimeSeconds: 1_801 })).toThrow(
      /transactionLifetimeSeconds/,
    );
    expect(() => createMacroServiceLimits({ secretAnswerFailuresMax: 6 })).toThrow(/secretAnswerFailuresMax/);
    expect(() => createMacroServiceLimits({ openPaymentsPerClientMax: 0 })).toThrow(
      /openPaymentsPerClientMax/,
    );
  });
});
