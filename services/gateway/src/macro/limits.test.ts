import { describe, expect, it } from 'vitest';
import { createMacroServiceLimits, defaultMacroServiceLimits } from './limits.ts';

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
});
