import { generateEncryptionKeyPair, generateSigningKeyPair, type PublicJwk } from '@mpay/envelope';
import { isMpayError } from '@mpay/protocol';
import { statementCounts } from '@mpay/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addBank,
  enrolCustomer,
  openTestGateway,
  type TestBank,
  type TestCustomer,
  type TestGateway,
} from '../test-helpers.ts';
import { findBank } from './banks.ts';
import type { BoundKey } from './bindings.ts';
import { certificateBySigningKid } from './certificates.ts';
import { type KeyOwner, listenForRegistryChanges, RegistryKeyCache } from './key-cache.ts';
import { type KeyLookup, partyEncryptionKey, partySigningKeyResolver } from './keys.ts';
import { findParty, resolveParty } from './parties.ts';
import { registerMerchant } from './register.ts';

const jwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', alg: 'ES256', use: 'sig' } as unknown as PublicJwk;
const owner: KeyOwner = { partyId: 'ana@person.xbank', jwk };
const t0 = new Date('2026-12-03T12:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const farFuture = new Date('2030-01-01T00:00:00Z');

/** A load that counts its calls and answers `found`. */
function counted<T>(found: () => T) {
  const load = async () => {
    load.calls += 1;
    return found();
  };
  load.calls = 0;
  return load;
}

describe('RegistryKeyCache', () => {
  it('keeps what it found until ttlMs on the service clock, then reads again', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 5_000, entriesMax: 10 });
    const load = counted(() => ({ owner, validUntil: farFuture }));
    expect(await cache.signer('k1', at(0), load)).toEqual(owner);
    expect(await cache.signer('k1', at(4_999), load)).toEqual(owner);
    expect(load.calls).toBe(1);
    expect(await cache.signer('k1', at(5_000), load)).toEqual(owner);
    expect(load.calls).toBe(2);
  });

  it('never keeps an entry past the end of its binding or certificate', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 60_000, entriesMax: 10 });
    const load = counted(() => ({ owner, validUntil: at(1_000) }));
    await cache.signer('k1', at(0), load);
    await cache.signer('k1', at(999), load);
    expect(load.calls).toBe(1);
    await cache.signer('k1', at(1_000), load);
    expect(load.calls).toBe(2);
  });

  it('never keeps an absence: a key registered a moment ago is found', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 60_000, entriesMax: 10 });
    let registered = false;
    const load = counted(() => (registered ? { owner, validUntil: farFuture } : undefined));
    expect(await cache.signer('k1', at(0), load)).toBeUndefined();
    registered = true;
    expect(await cache.signer('k1', at(1), load)).toEqual(owner);
    expect(load.calls).toBe(2);
  });

  it('forgets everything on clear, and does not keep a read that a clear overtook', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 60_000, entriesMax: 10 });
    const load = counted(() => ({ owner, validUntil: farFuture }));
    await cache.signer('k1', at(0), load);
    cache.clear();
    expect(cache.size).toBe(0);
    // The registry changes while a read is under way: its answer serves that caller only.
    let release: () => void = () => undefined;
    const slow = cache.signer('k2', at(0), async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return { owner, validUntil: farFuture };
    });
    cache.clear();
    release();
    expect(await slow).toEqual(owner);
    expect(cache.size).toBe(0);
  });

  it('keeps a party found by its alias under its id too, until the same moment, never over a live entry of the id', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 5_000, entriesMax: 10 });
    const ana = {
      id: 'ana@person.xbank',
      kind: 'person',
      displayName: 'Ana',
      bankId: 'xbank',
      webhookUrl: null,
    } as const;
    const byAlias = counted(() => ana);
    const byId = counted(() => ana);
    expect(await cache.party('+38970000111', at(0), byAlias)).toEqual(ana);
    // The payment request that follows the merchant's alias lookup names the id: no read.
    expect(await cache.party(ana.id, at(1_000), byId)).toEqual(ana);
    expect(byId.calls).toBe(0);
    // A live entry of the id's own is not replaced by one found through an alias.
    const renamed = counted(() => ({ ...ana, displayName: 'Ana B.' }));
    await cache.party('+38970000222', at(1_001), renamed);
    expect((await cache.party(ana.id, at(1_002), byId))?.displayName).toBe('Ana');
    // An ended one (still in the map until looked up) is, by the alias's entry as found, with its end: the
    // id read at 10 s (kept to 15 s), the alias at 11 s (to 16 s); at 15.5 s a hit on the alias copies it to
    // the id, which then ends at 16 s with it, not 5 s after the copy.
    await cache.party(ana.id, at(10_000), byId);
    expect(byId.calls).toBe(1);
    await cache.party('+38970000111', at(11_000), byAlias);
    expect(byAlias.calls).toBe(2);
    await cache.party('+38970000111', at(15_500), byAlias);
    expect(await cache.party(ana.id, at(15_600), byId)).toEqual(ana);
    expect(byId.calls).toBe(1);
    await cache.party(ana.id, at(16_000), byId);
    expect(byId.calls).toBe(2);
    expect(byAlias.calls).toBe(2);
    // A read by alias that a clear overtook is kept under neither key.
    cache.clear();
    let release: () => void = () => undefined;
    const slow = cache.party('+38970000111', at(70_000), async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return ana;
    });
    cache.clear();
    release();
    expect(await slow).toEqual(ana);
    expect(cache.size).toBe(0);
  });

  it('keeps the copy under the id as the newest entry: the oldest goes first when the map is full', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 5_000, entriesMax: 3 });
    const party = (id: string) =>
      ({ id, kind: 'person', displayName: id, bankId: 'xbank', webhookUrl: null }) as const;
    const loads = counted(() => party('ana@person.xbank'));
    await cache.party('ana@person.xbank', at(0), loads);
    await cache.party(
      'bo@person.xbank',
      at(0),
      counted(() => party('bo@person.xbank')),
    );
    // Ana's own entry ends at 5 s; at 6 s her alias copies her back under her id, as the newest entry.
    await cache.party('+38970000111', at(6_000), loads);
    expect(loads.calls).toBe(2);
    // Map full (3): Bo's ended entry is the oldest; one more entry pushes it out, not Ana's copy.
    await cache.party(
      'cy@person.xbank',
      at(6_001),
      counted(() => party('cy@person.xbank')),
    );
    await cache.party('ana@person.xbank', at(6_002), loads);
    expect(loads.calls).toBe(2);
  });

  it("keeps a binding's signing key under its kid too, until the binding's entry ends, never over a live entry", async () => {
    const cache = new RegistryKeyCache({ ttlMs: 5_000, entriesMax: 10 });
    const signingJwk = { ...jwk, kid: 'k-ana' } as PublicJwk;
    const bound = { partyId: owner.partyId, signingJwk, notAfter: at(3_000) } as BoundKey;
    const byParty = counted(() => bound);
    const byKid = counted(() => ({
      owner: { partyId: owner.partyId, jwk: signingJwk },
      validUntil: farFuture,
    }));
    expect(await cache.binding(owner.partyId, at(0), byParty)).toBe(bound);
    // The confirmation that follows the payment request is signed by that key: no read.
    expect(await cache.signer('k-ana', at(1_000), byKid)).toEqual({
      partyId: owner.partyId,
      jwk: signingJwk,
    });
    expect(byKid.calls).toBe(0);
    // It ends with the binding's entry (its notAfter here), not ttlMs after it was copied.
    await cache.signer('k-ana', at(3_000), byKid);
    expect(byKid.calls).toBe(1);
    // A live entry of the kid's own is not replaced.
    const other = { partyId: 'bo@person.xbank', jwk: signingJwk };
    const byKidOther = counted(() => ({ owner: other, validUntil: farFuture }));
    const cacheTwo = new RegistryKeyCache({ ttlMs: 5_000, entriesMax: 10 });
    await cacheTwo.signer('k-ana', at(0), byKidOther);
    await cacheTwo.binding(owner.partyId, at(1), byParty);
    expect(await cacheTwo.signer('k-ana', at(2), byKid)).toEqual(other);
    // A read of the binding that a clear overtook is kept under neither key.
    cacheTwo.clear();
    let release: () => void = () => undefined;
    const slow = cacheTwo.binding(owner.partyId, at(10), async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return bound;
    });
    cacheTwo.clear();
    release();
    expect(await slow).toBe(bound);
    expect(cacheTwo.size).toBe(0);
  });

  it('holds at most entriesMax per kind, the oldest out first; ttlMs 0 holds nothing', async () => {
    const cache = new RegistryKeyCache({ ttlMs: 60_000, entriesMax: 2 });
    const load = counted(() => ({ owner, validUntil: farFuture }));
    for (const kid of ['a', 'b', 'c']) await cache.signer(kid, at(0), load);
    expect(cache.size).toBe(2);
    await cache.signer('a', at(0), load);
    expect(load.calls).toBe(4);
    const none = new RegistryKeyCache({ ttlMs: 0, entriesMax: 2 });
    const bound = { notAfter: farFuture } as BoundKey;
    const loadBinding = counted(() => bound);
    await none.binding('p', at(0), loadBinding);
    await none.binding('p', at(0), loadBinding);
    expect(loadBinding.calls).toBe(2);
    expect(none.size).toBe(0);
  });
});

describe('the key cache over the registry (trigger, notification, listener)', () => {
  let gateway: TestGateway;
  let xbank: TestBank;
  let cache: RegistryKeyCache;
  let stopListening: () => Promise<void>;
  let stopCounting: () => Promise<void>;
  /** Notifications of the registry this test heard (on the same listener as the cache's). */
  let heard = 0;

  beforeAll(async () => {
    gateway = await openTestGateway();
    xbank = await addBank(gateway.database, 'xbank');
    cache = new RegistryKeyCache({ ttlMs: 60_000, entriesMax: 100 });
    stopListening = await listenForRegistryChanges(gateway.database, cache);
    stopCounting = await gateway.database.listen('registry_changed', () => {
      heard += 1;
    });
  });
  afterAll(async () => {
    await stopCounting();
    await stopListening();
    await gateway.close();
  });

  const lookup = (): KeyLookup => ({
    sql: gateway.database,
    fsp: gateway.fsp,
    clockSkewSeconds: 60,
    now: gateway.now(),
    cache,
  });
  const resolve = (kid: string) =>
    Promise.resolve()
      .then(() => partySigningKeyResolver(lookup())(kid, { alg: 'ES256', kid, typ: 'mpay+jws' }))
      .catch((error: unknown) => (isMpayError(error) ? error.code : String(error)));
  const statementsNow = () => statementCounts()[gateway.database.schema]?.statements ?? 0;

  /**
   * Runs `change` and waits until its `notifications` (one per committed transaction that wrote the
   * registry: enrolCustomer commits the party and the binding apart) have been heard, so the cache's own
   * handler has run too; fails after a generous deadline.
   */
  async function changed(what: string, change: () => Promise<unknown>, notifications = 1): Promise<void> {
    const before = heard;
    await change();
    const deadlineMs = 20_000;
    const started = Date.now();
    while (heard < before + notifications) {
      if (Date.now() - started > deadlineMs)
        throw new Error(`${what}: no notification within ${deadlineMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(cache.size).toBe(0);
  }

  /** A customer enrolled (the party and the binding: two commits, two notifications), both heard. */
  async function enrolled(name: string): Promise<TestCustomer> {
    let customer: TestCustomer | undefined;
    await changed(
      `${name} enrolled`,
      async () => {
        customer = await enrolCustomer(gateway.database, xbank, name);
      },
      2,
    );
    if (customer === undefined) throw new Error('assertion failed: enrolled');
    return customer;
  }

  it("serves a customer's key again without a statement, and drops it when the binding is revoked by SQL", async () => {
    const customer = await enrolled('ana');
    const kid = customer.signing.kid;
    expect(await resolve(kid)).toEqual(customer.signing.publicJwk);
    const before = statementsNow();
    expect(await resolve(kid)).toEqual(customer.signing.publicJwk);
    expect((await partyEncryptionKey(lookup(), { id: customer.id, kind: 'person' })).jwk).toEqual(
      customer.encryption.publicJwk,
    );
    expect((await partyEncryptionKey(lookup(), { id: customer.id, kind: 'person' })).jwk).toEqual(
      customer.encryption.publicJwk,
    );
    // One read of the binding by party; the signing key came from memory.
    expect(statementsNow() - before).toBe(1);
    // An operator's own SQL, not the gateway's revocation route: the trigger still tells every instance.
    await changed('binding revoked', () =>
      gateway.database.query('UPDATE key_bindings SET revoked_at = now() WHERE serial_number = $1', [
        customer.serialNumber,
      ]),
    );
    expect(await resolve(kid)).toBe('KEY_UNKNOWN');
    await expect(partyEncryptionKey(lookup(), { id: customer.id, kind: 'person' })).rejects.toMatchObject({
      code: 'KEY_UNKNOWN',
    });
  });

  it("serves a merchant's certified keys (signing and encryption) again without reading or verifying, and drops them when revoked", async () => {
    const signing = await generateSigningKeyPair();
    const encryption = await generateEncryptionKeyPair();
    await changed('merchant registered', () =>
      gateway.database.transaction((sql) =>
        registerMerchant(gateway.context, sql, {
          id: 'shop@merchant.xbank',
          displayName: 'Shop',
          signingJwk: signing.publicJwk,
          encryptionJwk: encryption.publicJwk,
        }),
      ),
    );
    expect(await resolve(signing.kid)).toEqual(signing.publicJwk);
    const merchant = { id: 'shop@merchant.xbank', kind: 'merchant' } as const;
    const encryptTo = await partyEncryptionKey(lookup(), merchant);
    expect(encryptTo.jwk).toEqual(encryption.publicJwk);
    const before = statementsNow();
    expect(await resolve(signing.kid)).toEqual(signing.publicJwk);
    // The key every push is encrypted to, with its certificate: from memory too (no read, no verification).
    expect(await partyEncryptionKey(lookup(), merchant)).toEqual(encryptTo);
    expect(statementsNow() - before).toBe(0);
    const record = await certificateBySigningKid(gateway.database, signing.kid);
    await changed('certificate revoked', () =>
      gateway.database.query(
        "UPDATE key_certificates SET revoked_at = now(), revocation_reason = 'test' WHERE serial_number = $1",
        [record?.serialNumber],
      ),
    );
    expect(await resolve(signing.kid)).toBe('KEY_UNKNOWN');
    await expect(partyEncryptionKey(lookup(), merchant)).rejects.toMatchObject({ code: 'KEY_UNKNOWN' });
  });

  it('serves a party (by id or alias) again without a statement, and reads it again when it changes', async () => {
    const customer = await enrolled('cem');
    await changed('alias added', () =>
      gateway.database.query('INSERT INTO aliases (alias, party_id) VALUES ($1, $2)', [
        '+38970000111',
        customer.id,
      ]),
    );
    const cached = { cache, now: gateway.now() };
    expect((await findParty(gateway.database, customer.id, cached))?.displayName).toBe('cem');
    expect((await resolveParty(gateway.database, '+38970000111', cached)).id).toBe(customer.id);
    const before = statementsNow();
    expect((await findParty(gateway.database, customer.id, cached))?.displayName).toBe('cem');
    expect((await resolveParty(gateway.database, '+38970000111', cached)).id).toBe(customer.id);
    expect(statementsNow() - before).toBe(0);
    await changed('party renamed', () =>
      gateway.database.query("UPDATE parties SET display_name = 'Cem' WHERE id = $1", [customer.id]),
    );
    expect((await findParty(gateway.database, customer.id, cached))?.displayName).toBe('Cem');
    await changed('alias removed', () =>
      gateway.database.query('DELETE FROM aliases WHERE alias = $1', ['+38970000111']),
    );
    await expect(resolveParty(gateway.database, '+38970000111', cached)).rejects.toMatchObject({
      code: 'PARTY_UNKNOWN',
    });
  });

  it("finds a customer's signing key without a statement once its binding was read by party (the request, then the confirmation)", async () => {
    const customer = await enrolled('eli');
    expect((await partyEncryptionKey(lookup(), { id: customer.id, kind: 'person' })).jwk).toEqual(
      customer.encryption.publicJwk,
    );
    const before = statementsNow();
    expect(await resolve(customer.signing.kid)).toEqual(customer.signing.publicJwk);
    expect(statementsNow() - before).toBe(0);
  });

  it("finds a party by id without a statement once its alias was resolved (the merchant's lookup, then its request)", async () => {
    const customer = await enrolled('dea');
    await changed('alias added', () =>
      gateway.database.query('INSERT INTO aliases (alias, party_id) VALUES ($1, $2)', [
        '+38970000333',
        customer.id,
      ]),
    );
    const cached = { cache, now: gateway.now() };
    expect((await resolveParty(gateway.database, '+38970000333', cached)).id).toBe(customer.id);
    const before = statementsNow();
    expect((await resolveParty(gateway.database, customer.id, cached)).displayName).toBe('dea');
    expect((await findParty(gateway.database, customer.id, cached))?.displayName).toBe('dea');
    expect(statementsNow() - before).toBe(0);
  });

  it('serves a bank (its URL and key) again without a statement, and reads it again when it changes', async () => {
    const cached = { cache, now: gateway.now() };
    expect((await findBank(gateway.database, xbank.record.id, cached)).url).toBe(xbank.record.url);
    const before = statementsNow();
    expect((await findBank(gateway.database, xbank.record.id, cached)).url).toBe(xbank.record.url);
    expect(statementsNow() - before).toBe(0);
    const moved = 'https://xbank-moved.example';
    await changed('bank moved', () =>
      gateway.database.query('UPDATE banks SET url = $2 WHERE id = $1', [xbank.record.id, moved]),
    );
    expect((await findBank(gateway.database, xbank.record.id, cached)).url).toBe(moved);
    await changed('bank moved back', () =>
      gateway.database.query('UPDATE banks SET url = $2 WHERE id = $1', [xbank.record.id, xbank.record.url]),
    );
    // An unknown bank is never kept: registered a moment later, it is found.
    await expect(findBank(gateway.database, 'bank:zbank', cached)).rejects.toMatchObject({
      code: 'BANK_UNKNOWN',
    });
  });

  it('tells nothing for a transaction that rolled back', async () => {
    const customer = await enrolled('bea');
    expect(await resolve(customer.signing.kid)).toEqual(customer.signing.publicJwk);
    const heardBefore = heard;
    await gateway.database
      .transaction(async (sql) => {
        await sql.query('UPDATE key_bindings SET revoked_at = now() WHERE serial_number = $1', [
          customer.serialNumber,
        ]);
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    // Nothing was heard of it: the key is still served from memory. A change that did commit, after it,
    // is heard (the channel works), and the rolled-back revocation left the key usable.
    const before = statementsNow();
    expect(await resolve(customer.signing.kid)).toEqual(customer.signing.publicJwk);
    expect(statementsNow() - before).toBe(0);
    await changed('a later change', () =>
      gateway.database.query('UPDATE key_certificates SET revocation_reason = revocation_reason'),
    );
    // Notifications arrive in commit order: the rolled-back one would have come first.
    expect(heard - heardBefore).toBe(1);
    expect(await resolve(customer.signing.kid)).toEqual(customer.signing.publicJwk);
  });
});
