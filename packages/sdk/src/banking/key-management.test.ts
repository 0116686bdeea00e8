import { generateSigningKeyPair, publicJwkSet } from '@mpay/envelope';
import { isMpayError, luhnCheckDigit } from '@mpay/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectedCodeOf } from '../../../../test/support/code-of.ts';
import {
  type FakeBank,
  fakeAccountId,
  fakeBankId,
  fakeEnrolmentCode,
  fakePartyId,
  startFakeBank,
} from './fake-bank.test-helper.ts';
import {
  BankingKeyManager,
  type BankingKeyState,
  exportBankingKeyState,
  importBankingKeyState,
  MemoryBankingKeyStore,
} from './key-management.ts';

let bank: FakeBank;

beforeEach(async () => {
  bank = await startFakeBank();
});

afterEach(async () => {
  await bank.close();
});

function enrol(store = new MemoryBankingKeyStore(), trust = bank.trust) {
  return BankingKeyManager.enrol({
    invitation: { bankUrl: bank.url, bankId: fakeBankId, partyId: fakePartyId, code: fakeEnrolmentCode },
    deviceId: 'phone-1',
    bank: trust,
    store,
  });
}

describe('BankingKeyManager.enrol (§4.3: keys generated on the device, the public half to the bank)', () => {
  it('keeps both pairs and the bank’s verified binding of exactly them', async () => {
    const store = new MemoryBankingKeyStore();
    const { state } = await enrol(store);
    expect(await store.load()).toEqual(state);
    expect(state).toMatchObject({
      version: 1,
      bankId: fakeBankId,
      partyId: fakePartyId,
      deviceId: 'phone-1',
    });
    expect(state.current.accounts).toEqual([fakeAccountId]);
    expect(state.current.signing.publicJwk).toMatchObject({ alg: 'ES256', use: 'sig', crv: 'P-256' });
    expect(state.current.encryption.publicJwk).toMatchObject({ alg: 'ECDH-ES', use: 'enc', crv: 'P-256' });
    expect(state.current.signing.privateJwk).toMatchObject({ x: state.current.signing.publicJwk.x });
    expect(Date.parse(state.current.notAfter)).toBeGreaterThan(Date.now());
  });

  it('saves nothing when the binding does not verify under the pinned bank, and never enrols twice', async () => {
    const impostor = await generateSigningKeyPair('ES256');
    const store = new MemoryBankingKeyStore();
    expect(
      await rejectedCodeOf(enrol(store, { ...bank.trust, keys: publicJwkSet([impostor.publicJwk]) })),
    ).toBe('KEY_BINDING_INVALID');
    expect(await store.load()).toBeUndefined();
    await enrol(store);
    expect(await rejectedCodeOf(enrol(store))).toBe('REQUEST_INVALID');
  });
});

describe('renewal at the device', () => {
  it('saves the new pair before anything is sent, and renews to the same pair when asked again for the notice', async () => {
    const store = new MemoryBankingKeyStore();
    const { manager, state } = await enrol(store);
    const noticeId = crypto.randomUUID();
    const request = await manager.prepareRenewal(noticeId);
    const saved = (await store.load())!;
    expect(saved.pending?.noticeId).toBe(noticeId);
    expect(request.signingJwk).toEqual(saved.pending?.signing.publicJwk);
    expect(request.signingJwk.x).not.toBe(state.current.signing.publicJwk.x);
    expect(saved.current).toEqual(state.current);

    const again = await manager.prepareRenewal(noticeId);
    expect(again.signingJwk).toEqual(request.signingJwk);
    expect(again.proof).not.toBe(request.proof);
    const other = await manager.prepareRenewal(crypto.randomUUID());
    expect(other.signingJwk).not.toEqual(request.signingJwk);
  });

  it('adopts only a binding of the pending keys that replaces the current serial', async () => {
    const { manager, state } = await enrol();
    await manager.prepareRenewal(crypto.randomUUID());
    const pending = (await manager.state()).pending;
    // The current binding names the old keys: not a renewal of them.
    expect(
      await rejectedCodeOf(
        manager.completeRenewal(
          { serial: state.current.serial, binding: state.current.binding, renewedFrom: state.current.serial },
          bank.trust,
        ),
      ),
    ).toBe('KEY_BINDING_INVALID');
    expect(
      await rejectedCodeOf(
        manager.completeRenewal(
          { serial: 'serial-9', binding: state.current.binding, renewedFrom: 'serial-0' },
          bank.trust,
        ),
      ),
    ).toBe('BANK_ANSWER_INVALID');
    const after = await manager.state();
    expect(after.current).toEqual(state.current);
    expect(after.pending).toEqual(pending);
  });
});

describe('the JSON form of the keys (the CLI’s file)', () => {
  const sim = `8938${'0123456789012'}${luhnCheckDigit('89380123456789012')}`;
  const phoneId = `35209900176148${luhnCheckDigit('35209900176148')}`;

  async function registeredState(): Promise<BankingKeyState> {
    const { manager } = await enrol();
    await manager.prepareRenewal(crypto.randomUUID());
    return manager.register({ userId: 'alice', clientId: { sim, phoneId, accountId: fakeAccountId } });
  }

  it('reads back exactly what it wrote, private keys, pending renewal and registration included', async () => {
    const state = await registeredState();
    const text = exportBankingKeyState(state);
    expect(importBankingKeyState(text)).toEqual(state);
    expect(JSON.parse(text).current.signing.privateJwk).toEqual(state.current.signing.privateJwk);
    expect(state.current.signing.privateJwk).toMatchObject({ d: expect.any(String) });
  });

  it('refuses a file with a member added, a private key not matching its public key, or another version', async () => {
    const state = await registeredState();
    const json = JSON.parse(exportBankingKeyState(state));
    const variants: Record<string, unknown> = {
      'member added': { ...json, note: 'x' },
      'member in current': { ...json, current: { ...json.current, extra: 1 } },
      'swapped public key': {
        ...json,
        current: {
          ...json.current,
          signing: { ...json.current.signing, publicJwk: json.pending.signing.publicJwk },
        },
      },
      'enc key as signing key': {
        ...json,
        current: { ...json.current, signing: json.current.encryption },
      },
      version: { ...json, version: 2 },
      'account not in the binding form': { ...json, current: { ...json.current, accounts: ['x'] } },
    };
    for (const [name, value] of Object.entries(variants)) {
      let code = 'none';
      try {
        importBankingKeyState(JSON.stringify(value));
      } catch (error) {
        code = isMpayError(error) ? error.code : String(error);
      }
      expect([name, code]).toEqual([name, 'REQUEST_INVALID']);
    }
    expect(() => importBankingKeyState('{')).toThrow();
  });

  it('registers only an account of the binding', async () => {
    const { manager } = await enrol();
    expect(
      await rejectedCodeOf(
        manager.register({
          userId: 'alice',
          clientId: { sim, phoneId, accountId: '11111111-2222-4333-8444-555555555555' },
        }),
      ),
    ).toBe('REQUEST_INVALID');
  });
});
