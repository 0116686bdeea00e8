import { describe, expect, it } from 'vitest';
import { runMpay } from '../io.test-helper.ts';
import { parseBenchScrapeArguments } from './scrape.ts';

describe('mpay bench scrape', () => {
  it('takes the history, the scrapes and --json, with their defaults', () => {
    expect(parseBenchScrapeArguments([])).toEqual({ payments: 100_000, scrapes: 20, json: false });
    expect(parseBenchScrapeArguments(['--payments', '2000', '--scrapes', '5', '--json'])).toEqual({
      payments: 2_000,
      scrapes: 5,
      json: true,
    });
  });

  it('refuses what it does not know, a missing value and values out of bounds', () => {
    for (const args of [
      ['--payments'],
      ['--payments', '999'],
      ['--payments', '2000001'],
      ['--scrapes', '0'],
      ['--scrapes', '1001'],
      ['--scrapes', '1e3'],
      ['--seconds', '4'],
      ['scrape'],
    ])
      expect(parseBenchScrapeArguments(args), args.join(' ')).toBeUndefined();
  });

  it('times the scrape with no payment and after the history was written, and the history read as before', async () => {
    const { status, stdout, stderr } = await runMpay([
      'bench',
      'scrape',
      '--payments',
      '1000',
      '--scrapes',
      '2',
      '--json',
    ]);
    expect(status, stderr).toBe(0);
    expect(stderr).toContain('wrote 1000 of 1000 payments');
    const figures = JSON.parse(stdout);
    expect(figures).toMatchObject({ payments: 1000, scrapes: 2 });
    expect(figures.scrape_ms_median.empty).toBeGreaterThan(0);
    expect(figures.scrape_ms_median.full).toBeGreaterThan(0);
    expect(figures.baseline_history_read_ms).toBeGreaterThan(0);
    // Refused before anything starts.
    const refused = await runMpay(['bench', 'scrape', '--payments', '1']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('Usage: mpay bench scrape');
  });
});
