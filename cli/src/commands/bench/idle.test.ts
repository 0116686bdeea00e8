import { describe, expect, it } from 'vitest';
import { parseBenchIdleArguments } from './idle.ts';

describe('mpay bench idle arguments', () => {
  it('takes the window, the settle time and --json, with their defaults', () => {
    expect(parseBenchIdleArguments([])).toEqual({ seconds: 20, settleSeconds: 5, json: false });
    expect(parseBenchIdleArguments(['--seconds', '60', '--settle', '10', '--json'])).toEqual({
      seconds: 60,
      settleSeconds: 10,
      json: true,
    });
  });

  it('refuses what it does not know, a missing value and values out of bounds', () => {
    for (const args of [
      ['--seconds'],
      ['--seconds', '4'],
      ['--seconds', '601'],
      ['--settle', '0'],
      ['--settle', '121'],
      ['--seconds', '1e3'],
      ['--concurrency', '4'],
      ['idle'],
    ])
      expect(parseBenchIdleArguments(args), args.join(' ')).toBeUndefined();
  });
});
