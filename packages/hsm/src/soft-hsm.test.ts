import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteSoftHsmToken, ensureSoftHsmToken, Hsm, sweepSoftHsmTokens, type TokenOwner } from './index.ts';
import { sharedTestHsmDirectory } from './test-support.ts';

const shared = sharedTestHsmDirectory();
const scratch: string[] = [];
const childScript = fileURLToPath(new URL('./soft-hsm/ensure-token.child.ts', import.meta.url));

afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

function scratchDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'mpay-hsm-scratch-'));
  scratch.push(directory);
  return directory;
}

/** How many initialised tokens of `configPath` carry `label`, as softhsm2-util (another process) sees them. */
function tokensLabelled(configPath: string, label: string): number {
  const shown = spawnSync('softhsm2-util', ['--show-slots'], {
    encoding: 'utf8',
    env: { ...process.env, SOFTHSM2_CONF: configPath },
  });
  expect(shown.status).toBe(0);
  return shown.stdout.split('\n').filter((line) => line.trim() === `Label:            ${label}`.trim())
    .length;
}

function ensureInAnotherProcess(directory: string, tokenLabel: string): void {
  const child = spawnSync(process.execPath, ['--import', 'tsx', childScript, directory, tokenLabel], {
    encoding: 'utf8',
  });
  expect(child.stderr).toBe('');
  expect(child.stdout).toBe('ready\n');
}

describe('ensureSoftHsmToken', () => {
  it('makes the token once: a second call, or two at once, find it with the same PINs', async () => {
    const first = await ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-idempotent' });
    const [second, third] = await Promise.all([
      ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-idempotent' }),
      ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-idempotent' }),
    ]);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(first.configPath).toBe(join(shared, 'softhsm2.conf'));
    expect(process.env.SOFTHSM2_CONF).toBe(first.configPath);
    expect(tokensLabelled(first.configPath, 'mpay-test-idempotent')).toBe(1);
    expect(statSync(shared).mode & 0o777).toBe(0o700);
    expect(statSync(join(shared, 'tokens')).mode & 0o777).toBe(0o700);
    expect(statSync(join(shared, 'pins.json')).mode & 0o777).toBe(0o600);
    Hsm.open(first).close();
  });

  it('gives one process two tokens that both work, each with its own keys', async () => {
    const optionsA = await ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-a' });
    const a = Hsm.open(optionsA);
    // Made (the first time) while the library is initialised and A is open: visible at once.
    const optionsB = await ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-b' });
    const b = Hsm.open(optionsB);
    try {
      expect(optionsB.userPin).not.toBe(optionsA.userPin);
      const keyA = await a.generateSigningKey('platform-a');
      const keyB = await b.generateSigningKey('platform-b');
      expect(await b.findSigningKey(keyA.id)).toBeUndefined();
      expect(await a.findSigningKey(keyB.id)).toBeUndefined();
      expect(await a.signer(keyA).sign(new Uint8Array(4))).toHaveLength(64);
      expect(await b.signer(keyB).sign(new Uint8Array(4))).toHaveLength(64);
      await expect(b.signer(keyA).sign(new Uint8Array(4))).rejects.toMatchObject({ code: 'HSM_UNAVAILABLE' });
      await a.ensureSecretKey('seal');
      await b.ensureSecretKey('seal');
      const sealed = await a.seal('seal', new Uint8Array([1]), new Uint8Array(0));
      await expect(b.unseal('seal', sealed, new Uint8Array(0))).rejects.toMatchObject({
        code: 'CRYPTO_DECRYPTION_FAILED',
      });
      await a.destroySigningKey(keyA.id);
      await b.destroySigningKey(keyB.id);
    } finally {
      a.close();
      b.close();
    }
  });

  it('keeps a process on one directory while softhsm2 is initialised in it, and moves once all is closed', async () => {
    const held = Hsm.open(await ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-a' }));
    const elsewhere = scratchDirectory();
    try {
      await expect(
        ensureSoftHsmToken({ directory: elsewhere, tokenLabel: 'mpay-test-moved' }),
      ).rejects.toMatchObject({
        code: 'HSM_UNAVAILABLE',
        detail: expect.stringContaining('reads SOFTHSM2_CONF only at C_Initialize'),
      });
    } finally {
      held.close();
    }
    const moved = await ensureSoftHsmToken({ directory: elsewhere, tokenLabel: 'mpay-test-moved' });
    expect(process.env.SOFTHSM2_CONF).toBe(join(elsewhere, 'softhsm2.conf'));
    const hsm = Hsm.open(moved);
    await hsm.ensureSecretKey('moved');
    hsm.close();
    // And back: the shared directory's tokens are all there again.
    Hsm.open(await ensureSoftHsmToken({ directory: shared, tokenLabel: 'mpay-test-a' })).close();
  });

  it('refuses to duplicate a token another process made after this one initialised softhsm2', async () => {
    const directory = scratchDirectory();
    const first = Hsm.open(await ensureSoftHsmToken({ directory, tokenLabel: 'first' }));
    try {
      ensureInAnotherProcess(directory, 'late');
      await expect(ensureSoftHsmToken({ directory, tokenLabel: 'late' })).rejects.toMatchObject({
        code: 'HSM_UNAVAILABLE',
        detail: expect.stringContaining('not visible here'),
      });
      // A token this process makes itself is visible at once, even with the library initialised.
      Hsm.open(await ensureSoftHsmToken({ directory, tokenLabel: 'own' })).close();
    } finally {
      first.close();
    }
    const late = Hsm.open(await ensureSoftHsmToken({ directory, tokenLabel: 'late' }));
    await late.ensureSecretKey('late');
    late.close();
    expect(tokensLabelled(join(directory, 'softhsm2.conf'), 'late')).toBe(1);
  });

  it('takes any printable label, including names of Object.prototype members', async () => {
    const directory = scratchDirectory();
    for (const tokenLabel of ['constructor', '__proto__', 'a label with spaces']) {
      const options = await ensureSoftHsmToken({ directory, tokenLabel });
      expect(options.userPin).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(await ensureSoftHsmToken({ directory, tokenLabel })).toEqual(options);
      Hsm.open(options).close();
    }
    expect(tokensLabelled(join(directory, 'softhsm2.conf'), 'constructor')).toBe(1);
  });

  it('refuses a token whose PINs it does not have (HSM_LOCKED)', async () => {
    const directory = scratchDirectory();
    const { configPath } = await ensureSoftHsmToken({ directory, tokenLabel: 'known' });
    const made = spawnSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', 'orphan', '--so-pin', '12345678', '--pin', '12345678'],
      { encoding: 'utf8', env: { ...process.env, SOFTHSM2_CONF: configPath } },
    );
    expect(made.status).toBe(0);
    await expect(ensureSoftHsmToken({ directory, tokenLabel: 'orphan' })).rejects.toMatchObject({
      code: 'HSM_LOCKED',
      detail: expect.stringContaining('PINs are not in pins.json'),
    });
  });

  it('takes over a lock left by a process that died, and waits for a live one', async () => {
    const directory = scratchDirectory();
    await ensureSoftHsmToken({ directory, tokenLabel: 'locked' });
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(directory, '.lock'), String(gone));
    await ensureSoftHsmToken({ directory, tokenLabel: 'locked' });
    writeFileSync(join(directory, '.lock'), String(process.pid));
    let finished = false;
    const waiting = ensureSoftHsmToken({ directory, tokenLabel: 'locked' }).then(() => {
      finished = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(finished).toBe(false);
    rmSync(join(directory, '.lock'));
    await waiting;
    expect(finished).toBe(true);
  });
});

describe('ensureSoftHsmToken over a damaged folder', () => {
  const tokenFolders = (directory: string) => readdirSync(join(directory, 'tokens')).length;

  it('makes anew a token whose creation was interrupted after its PINs were written', async () => {
    const directory = scratchDirectory();
    await ensureSoftHsmToken({ directory, tokenLabel: 'first' });
    const pins = {
      userPin: 'half-made-user-pin-0123456789abcdef',
      soPin: 'half-made-so-pin-0123456789abcdef',
    };
    const file = JSON.parse(readFileSync(join(directory, 'pins.json'), 'utf8'));
    writeFileSync(
      join(directory, 'pins.json'),
      JSON.stringify({ tokens: { ...file.tokens, 'half-made': pins } }),
    );
    const made = await ensureSoftHsmToken({ directory, tokenLabel: 'half-made' });
    expect(made.userPin).toBe(pins.userPin);
    Hsm.open(made).close();
    expect(tokenFolders(directory)).toBe(2);
  });

  it('refuses to make again a token softhsm2 cannot read, rather than put a new one in its place', async () => {
    const directory = scratchDirectory();
    const options = await ensureSoftHsmToken({ directory, tokenLabel: 'damaged' });
    const hsm = Hsm.open(options);
    await hsm.ensureSecretKey('sealing');
    hsm.close();
    const [folder] = readdirSync(join(directory, 'tokens'));
    // softhsm2 then leaves the token out of its slots at C_Initialize, without an error.
    writeFileSync(join(directory, 'tokens', folder ?? '', 'token.object'), Buffer.alloc(0));
    await expect(ensureSoftHsmToken({ directory, tokenLabel: 'damaged' })).rejects.toMatchObject({
      code: 'HSM_UNAVAILABLE',
      detail: expect.stringContaining('softhsm2 cannot read'),
    });
    expect(tokenFolders(directory)).toBe(1);
    // Another label is made as ever.
    Hsm.open(await ensureSoftHsmToken({ directory, tokenLabel: 'other' })).close();
  });
});

function pinLabels(directory: string): string[] {
  return Object.keys(JSON.parse(readFileSync(join(directory, 'pins.json'), 'utf8')).tokens).sort();
}

describe('deleteSoftHsmToken', () => {
  it('deletes a token and its PINs; a process holding softhsm2 meanwhile still finds and makes its own', async () => {
    const directory = scratchDirectory();
    const keptOptions = await ensureSoftHsmToken({ directory, tokenLabel: 'kept' });
    await ensureSoftHsmToken({ directory, tokenLabel: 'gone' });
    const configPath = join(directory, 'softhsm2.conf');
    // Open: the library stays initialised here with the deleted token's slot in its list.
    const kept = Hsm.open(keptOptions);
    try {
      await deleteSoftHsmToken({ directory, tokenLabel: 'gone' });
      expect(tokensLabelled(configPath, 'gone')).toBe(0);
      expect(pinLabels(directory)).toEqual(['kept']);
      // softhsm2 answers CKR_GENERAL_ERROR for the deleted token's slot until it finalises: passed over.
      expect(await ensureSoftHsmToken({ directory, tokenLabel: 'kept' })).toEqual(keptOptions);
      const again = Hsm.open(keptOptions);
      await again.ensureSecretKey('after-delete');
      again.close();
      Hsm.open(await ensureSoftHsmToken({ directory, tokenLabel: 'made-after' })).close();
      // Idempotent: nothing left to delete is not an error.
      await deleteSoftHsmToken({ directory, tokenLabel: 'gone' });
    } finally {
      kept.close();
    }
    expect(tokensLabelled(configPath, 'kept')).toBe(1);
    expect(pinLabels(directory)).toEqual(['kept', 'made-after']);
    // A folder that was never set up has nothing to delete.
    await deleteSoftHsmToken({ directory: join(directory, 'never'), tokenLabel: 'gone' });
  });

  it('does not make a second token for a label whose token was deleted under the initialised library', async () => {
    const directory = scratchDirectory();
    const options = await ensureSoftHsmToken({ directory, tokenLabel: 'lost' });
    const held = Hsm.open(await ensureSoftHsmToken({ directory, tokenLabel: 'holder' }));
    try {
      // Its folder removed behind the library's back, its PINs still listed.
      const removed = spawnSync('softhsm2-util', ['--delete-token', '--token', 'lost'], {
        encoding: 'utf8',
        env: { ...process.env, SOFTHSM2_CONF: options.configPath },
      });
      expect(removed.status).toBe(0);
      await expect(ensureSoftHsmToken({ directory, tokenLabel: 'lost' })).rejects.toMatchObject({
        code: 'HSM_UNAVAILABLE',
        detail: expect.stringContaining('not visible here'),
      });
    } finally {
      held.close();
    }
    expect(tokensLabelled(options.configPath, 'lost')).toBe(0);
  });

  it('refuses a label that is not one', async () => {
    await expect(deleteSoftHsmToken({ directory: scratchDirectory(), tokenLabel: '' })).rejects.toMatchObject(
      {
        code: 'HSM_UNAVAILABLE',
      },
    );
  });
});

describe('sweepSoftHsmTokens', () => {
  it('deletes the tokens whose owner is gone, and no other: not those of a live owner, nor those without one', async () => {
    const directory = scratchDirectory();
    const host = 'test-host boot';
    const ended: TokenOwner = { pid: 101, host };
    const live: TokenOwner = { pid: 102, startTicks: '5', host };
    await ensureSoftHsmToken({ directory, tokenLabel: 'ended-run', owner: ended });
    const liveOptions = await ensureSoftHsmToken({ directory, tokenLabel: 'live-run', owner: live });
    await ensureSoftHsmToken({ directory, tokenLabel: 'no-owner' });
    // A token found already keeps the owner it was made for.
    expect(await ensureSoftHsmToken({ directory, tokenLabel: 'live-run', owner: ended })).toEqual(
      liveOptions,
    );
    const asked: TokenOwner[] = [];
    const swept = await sweepSoftHsmTokens(directory, (owner) => {
      asked.push(owner);
      return owner.pid === ended.pid;
    });
    expect(swept).toEqual(['ended-run']);
    expect(asked).toEqual([ended, live]);
    const configPath = join(directory, 'softhsm2.conf');
    expect(tokensLabelled(configPath, 'ended-run')).toBe(0);
    expect(tokensLabelled(configPath, 'live-run')).toBe(1);
    expect(pinLabels(directory)).toEqual(['live-run', 'no-owner']);
    // Once its owner is gone too; a token without an owner stays whatever the answer.
    expect(await sweepSoftHsmTokens(directory, () => true)).toEqual(['live-run']);
    expect(pinLabels(directory)).toEqual(['no-owner']);
    expect(tokensLabelled(configPath, 'no-owner')).toBe(1);
    // A folder that was never set up has nothing to sweep.
    expect(await sweepSoftHsmTokens(join(directory, 'never'), () => true)).toEqual([]);
  });

  it('refuses a pins.json whose owner is not one, rather than guess whose token it is', async () => {
    const directory = scratchDirectory();
    await ensureSoftHsmToken({ directory, tokenLabel: 'owned', owner: { pid: 7, host: 'h' } });
    const path = join(directory, 'pins.json');
    const file = JSON.parse(readFileSync(path, 'utf8'));
    file.tokens.owned.owner = { pid: -7, host: 'h' };
    writeFileSync(path, JSON.stringify(file));
    await expect(sweepSoftHsmTokens(directory, () => true)).rejects.toMatchObject({
      code: 'HSM_UNAVAILABLE',
      detail: expect.stringContaining('not a pin file'),
    });
  });
});
