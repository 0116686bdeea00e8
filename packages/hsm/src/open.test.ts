import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ErrorCode, isMpayError, type MpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hsm, type HsmOptions, locateSoftHsmModule } from './index.ts';
import { ensureSoftHsmToken } from './soft-hsm/ensure-token.ts';
import { sharedTestHsmDirectory } from './test-support.ts';

let options: HsmOptions;
let scratch: string;

beforeAll(async () => {
  options = await ensureSoftHsmToken({ directory: sharedTestHsmDirectory(), tokenLabel: 'mpay-test-open' });
  scratch = mkdtempSync(join(tmpdir(), 'mpay-hsm-open-'));
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function openingError(attempt: HsmOptions, code: ErrorCode): MpayError {
  let caught: unknown;
  try {
    Hsm.open(attempt).close();
  } catch (error) {
    caught = error;
  }
  if (!isMpayError(caught, code)) throw new Error(`expected ${code}, got ${String(caught)}`);
  if (attempt.userPin !== '') expect(caught.detail ?? '').not.toContain(attempt.userPin);
  return caught;
}

describe('Hsm.open', () => {
  it('finds softhsm2 on this machine', () => {
    expect(locateSoftHsmModule()).toBe(options.modulePath);
  });

  it('opens the token with its PIN, and closes (twice is fine)', async () => {
    const hsm = Hsm.open(options);
    await hsm.ensureSecretKey('open-probe');
    hsm.close();
    hsm.close();
    await expect(hsm.ensureSecretKey('open-probe')).rejects.toMatchObject({ code: 'HSM_UNAVAILABLE' });
  });

  it('a missing module: HSM_UNAVAILABLE naming the path', () => {
    const modulePath = join(scratch, 'libmissing.so');
    expect(openingError({ ...options, modulePath }, 'HSM_UNAVAILABLE').detail).toBe(
      `module ${modulePath}: not found`,
    );
  });

  it('a file that is no library: HSM_UNAVAILABLE naming the path', () => {
    const modulePath = join(scratch, 'libnotelf.so');
    writeFileSync(modulePath, 'not a shared object');
    expect(openingError({ ...options, modulePath }, 'HSM_UNAVAILABLE').detail).toMatch(/cannot load/);
  });

  it('an unknown token label: HSM_UNAVAILABLE naming the label', () => {
    const detail = openingError(
      { ...options, tokenLabel: 'mpay-test-no-such-token' },
      'HSM_UNAVAILABLE',
    ).detail;
    expect(detail).toMatch(/^token "mpay-test-no-such-token": no such token/);
  });

  it('a label no token can have: HSM_UNAVAILABLE', () => {
    openingError({ ...options, tokenLabel: 'x'.repeat(33) }, 'HSM_UNAVAILABLE');
    openingError({ ...options, tokenLabel: ' padded' }, 'HSM_UNAVAILABLE');
  });

  it('a wrong PIN: HSM_LOCKED with the return value, never the PIN', () => {
    const error = openingError({ ...options, userPin: `${options.userPin}x` }, 'HSM_LOCKED');
    expect(error.detail).toBe('token "mpay-test-open": C_Login CKR_PIN_INCORRECT');
    openingError({ ...options, userPin: '' }, 'HSM_LOCKED');
  });

  it('a wrong PIN is refused while another Hsm holds the token logged in', async () => {
    const first = Hsm.open(options);
    try {
      openingError({ ...options, userPin: `${options.userPin}x` }, 'HSM_LOCKED');
      const second = Hsm.open(options);
      second.close();
      // Closing the second leaves the first logged in.
      await first.ensureSecretKey('open-probe');
      const sealed = await first.seal('open-probe', new Uint8Array([7]), new Uint8Array(0));
      expect([...(await first.unseal('open-probe', sealed, new Uint8Array(0)))]).toEqual([7]);
    } finally {
      first.close();
    }
  });
});
