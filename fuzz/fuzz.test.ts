import { describe, expect, it } from 'vitest';
import { campaigns } from './campaigns/index.ts';
import { runCampaign } from './harness.ts';

/**
 * CI's short version of `npm run fuzz`: every campaign at a few hundred cases, with the same limits
 * (one case within 2 s, bounded heap growth). A random seed each run, printed with the failure's
 * replay command; MPAY_FUZZ_CASES changes the count.
 */
const cases = Number(process.env.MPAY_FUZZ_CASES ?? 300);

describe('fuzz campaigns (short)', () => {
  it('has one campaign per name', () => {
    const names = campaigns.map((campaign) => campaign.name);
    expect(new Set(names).size).toBe(names.length);
  });

  for (const campaign of campaigns) {
    it(`${campaign.name}: no input crashes ${campaign.covers}`, async () => {
      const result = await runCampaign(campaign, { cases });
      expect(result.failure, result.failure).toBeUndefined();
      expect(result.cases).toBe(cases);
    });
  }
});
