import { describe, expect, it } from 'vitest';
import { createBankLimits } from './limits.ts';

describe('bank limits', () => {
  it('default the key depository and consent limits, frozen', () => {
    const limits = createBankLimits();
    expect(limits).toMatchObject({
      enrolmentCodeValiditySeconds: 86_400,
      enrolmentAttemptsMax: 5,
      enrolmentProofLifetimeSecondsMax: 300,
      keyBindingValidityDays: 365,
      customerAuthorisationLifetimeSecondsMax: 300,
      customerAuthorisationClockSkewSeconds: 60,
      secondFactorWindowSteps: 1,
      secondFactorAttemptsMax: 5,
    });
    expect(Object.isFrozen(limits)).toBe(true);
  });

  it('refuses a limit out of its range, never weakening a check silently', () => {
    const outOfRange = [
      { enrolmentCodeValiditySeconds: 59 },
      { enrolmentCodeValiditySeconds: 31 * 86_400 },
      { enrolmentAttemptsMax: 0 },
      { enrolmentAttemptsMax: 6 },
      { enrolmentProofLifetimeSecondsMax: 3_601 },
      { keyBindingValidityDays: 0 },
      { keyBindingValidityDays: 1.5 },
      { customerAuthorisationLifetimeSecondsMax: 86_401 },
      { customerAuthorisationClockSkewSeconds: 301 },
      { customerAuthorisationClockSkewSeconds: -1 },
      { secondFactorWindowSteps: -1 },
      { secondFactorWindowSteps: 3 },
      { secondFactorAttemptsMax: 0 },
      { secondFactorAttemptsMax: 6 },
    ];
    for (const options of outOfRange) {
      expect(() => createBankLimits(options), JSON.stringify(options)).toThrow('bank limits');
    }
    expect(createBankLimits({ enrolmentAttemptsMax: 3 }).enrolmentAttemptsMax).toBe(3);
  });
});
