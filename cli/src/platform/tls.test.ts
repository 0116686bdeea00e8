import { describe, expect, it } from 'vitest';
import { tlsWanted } from './tls.ts';

describe('whether mpay up runs TLS', () => {
  it('does by default', () => {
    expect(tlsWanted(new Map(), {})).toBe(true);
    expect(tlsWanted(new Map(), { MPAY_TLS: '1' })).toBe(true);
  });

  it('does not with --no-tls or MPAY_TLS=0 (false, off, no)', () => {
    expect(tlsWanted(new Map([['no-tls', 'true']]), {})).toBe(false);
    for (const value of ['0', 'false', 'OFF', ' no '])
      expect(tlsWanted(new Map(), { MPAY_TLS: value })).toBe(false);
  });
});
