import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { delegationAuthorisation, forwardMessageHash } from './delegation.ts';

// The session key of an OPAQUE login is 64 bytes; any fixed bytes serve for the construction.
const sessionKey = Buffer.from(Array.from({ length: 64 }, (_, index) => index)).toString('base64url');
const forward = 'eyJhbGciOiJFUzI1NiJ9.eyJmb3J3YXJkIjp7fX0.c2lnbmF0dXJl';

describe('the PIN authorisation of a delegation (custody contract)', () => {
  it('hashes the forward as received: base64url(SHA-256(UTF-8))', async () => {
    expect(await forwardMessageHash(forward)).toBe(
      createHash('sha256').update(forward, 'utf8').digest('base64url'),
    );
    // A fixed vector: SHA-256 of "abc" (FIPS 180-2 appendix B.1).
    expect(await forwardMessageHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('is HMAC-SHA-256 under the session key over domain, delegation, decision and hash, one per line', async () => {
    const messageHash = await forwardMessageHash(forward);
    const expected = createHmac('sha256', Buffer.from(sessionKey, 'base64url'))
      .update(`mpay-custody-delegation/v1\ndelegation-1\nconfirm\n${messageHash}`, 'utf8')
      .digest('base64url');
    expect(await delegationAuthorisation(sessionKey, 'delegation-1', 'confirm', messageHash)).toBe(expected);
  });

  it('differs for the other decision, another delegation or another message', async () => {
    const messageHash = await forwardMessageHash(forward);
    const confirm = await delegationAuthorisation(sessionKey, 'delegation-1', 'confirm', messageHash);
    expect(await delegationAuthorisation(sessionKey, 'delegation-1', 'decline', messageHash)).not.toBe(
      confirm,
    );
    expect(await delegationAuthorisation(sessionKey, 'delegation-2', 'confirm', messageHash)).not.toBe(
      confirm,
    );
    const other = await forwardMessageHash(`${forward}x`);
    expect(await delegationAuthorisation(sessionKey, 'delegation-1', 'confirm', other)).not.toBe(confirm);
  });

  it('refuses a session key that is not one, and fields that could shift the lines', async () => {
    await expect(delegationAuthorisation('c2hvcnQ', 'delegation-1', 'confirm', 'hash')).rejects.toMatchObject(
      {
        code: 'CRYPTO_KEY_INVALID',
      },
    );
    await expect(
      delegationAuthorisation(sessionKey, 'delegation-1\nconfirm', 'confirm', 'hash'),
    ).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
    });
  });
});
