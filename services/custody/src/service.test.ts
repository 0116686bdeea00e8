import { deleteSoftHsmToken, ensureSoftHsmToken } from '@mpay/hsm';
import { sharedTestHsmDirectory } from '@mpay/hsm/test-support';
import { openTestDatabase } from '@mpay/storage';
import { describe, expect, it } from 'vitest';
import { createCustodyLimits } from './limits.ts';
import { createCustodyService } from './service.ts';
import { custodyStartOptions } from './start-options.test-helper.ts';

describe('custody refuses to start without its HSM', () => {
  it('names a missing PKCS#11 module (HSM_UNAVAILABLE) and signs nothing', async () => {
    const database = await openTestDatabase('custody');
    try {
      await expect(
        createCustodyService({
          ...(await custodyStartOptions()),
          database,
          hsm: { modulePath: '/nonexistent/libsofthsm2.so', tokenLabel: 'none', userPin: '1234' },
        }),
      ).rejects.toMatchObject({ code: 'HSM_UNAVAILABLE' });
    } finally {
      await database.close();
    }
  });

  it('refuses a token whose PIN is wrong (HSM_LOCKED), and starts with the right one', async () => {
    const token = {
      directory: sharedTestHsmDirectory(),
      tokenLabel: `custody-start-${crypto.randomUUID().slice(0, 8)}`,
    };
    const hsm = await ensureSoftHsmToken(token);
    const database = await openTestDatabase('custody');
    try {
      await expect(
        createCustodyService({
          ...(await custodyStartOptions()),
          database,
          hsm: { ...hsm, userPin: '000000' },
        }),
      ).rejects.toMatchObject({ code: 'HSM_LOCKED' });
      const service = await createCustodyService({ ...(await custodyStartOptions()), database, hsm });
      // The OPRF secret is sealed by the HSM: the database holds no usable copy of it.
      const { rows } = await database.query<{ sealed: string }>('SELECT sealed FROM sealed_secrets');
      expect(rows).toHaveLength(1);
      expect(Buffer.from(rows[0]!.sealed, 'base64url').toString('utf8')).not.toMatch(/^[A-Za-z0-9_-]{40,}$/);
      await service.close();
      // A restart unseals the same secret (the same OPAQUE server key).
      const again = await createCustodyService({ ...(await custodyStartOptions()), database, hsm });
      expect(again.context.pins.publicKey).toBe(service.context.pins.publicKey);
      await again.close();
    } finally {
      await database.close();
      await deleteSoftHsmToken(token);
    }
  });
});

describe('custody limits', () => {
  it('are validated at start: more than 5 PIN tries, or an unknown limit, is a configuration error', () => {
    expect(createCustodyLimits().pinTriesMax).toBe(5);
    expect(() => createCustodyLimits({ pinTriesMax: 6 })).toThrow(/pinTriesMax/);
    expect(() => createCustodyLimits({ delegateSignatureLifetimeSeconds: 301 })).toThrow(/delegateSignature/);
    expect(() => createCustodyLimits({ nope: 1 } as never)).toThrow(/unknown limit nope/);
  });
});
