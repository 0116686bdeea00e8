import { parseSecretAnswer } from '@mpay/protocol';
import { describe, expect, it } from 'vitest';
import { checkSecretAnswer, secretAnswerVerifier } from './secret-answer.ts';

describe('the secret answer verifier (Argon2id)', () => {
  it('is a salted Argon2id PHC string with the named parameters, never the answer', async () => {
    const one = await secretAnswerVerifier('saint mary');
    const two = await secretAnswerVerifier('saint mary');
    expect(one).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(two).not.toBe(one);
    expect(one.toLowerCase()).not.toContain('saint mary');
  });

  it('accepts the same answer however it is typed, and nothing else', async () => {
    // Stored as registration stores it: the normalised form (ß folded to ss).
    const verifier = await secretAnswerVerifier(parseSecretAnswer('Straße zum See'));
    expect(parseSecretAnswer('Straße zum See')).toBe('strasse zum see');
    for (const typed of ['Straße zum See', '  STRASSE   zum see ', 'ＳＴＲＡＳＳＥ ZUM SEE']) {
      expect({ typed, right: await checkSecretAnswer(verifier, typed) }).toEqual({ typed, right: true });
    }
    for (const typed of ['strasse zum meer', 'strassezumsee', '', 'x', 42, null, 'a'.repeat(257)]) {
      expect({ typed, right: await checkSecretAnswer(verifier, typed) }).toEqual({ typed, right: false });
    }
  });
});
