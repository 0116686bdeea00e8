import type { PublicJwk } from '@mpay/envelope';
import type { Database } from '@mpay/storage';
import type { BankRecord } from './banks.ts';
import type { BoundKey } from './bindings.ts';
import type { Party } from './parties.ts';

/** Whom a signing key speaks for, as `ownerOfKid` found it: the binding's customer or the certificate's merchant. */
export interface KeyOwner {
  readonly partyId: string;
  readonly jwk: PublicJwk;
}

/** A merchant's current certified encryption key, with the certificate it comes from (what a push names). */
export interface CertifiedEncryptionKey {
  readonly jwk: PublicJwk;
  readonly certificate: string;
}

/** The limits of a `RegistryKeyCache`: named, validated at start. */
export interface RegistryKeyCacheLimits {
  /** Longest time an entry is used without being read again (0: no cache). */
  readonly ttlMs: number;
  /** Entries kept per map; the oldest goes first. */
  readonly entriesMax: number;
}

interface Entry<T> {
  readonly value: T;
  /** Service-clock milliseconds after which the entry is read again. */
  readonly expiresAtMs: number;
}

/**
 * The gateway's keys of the registry, as checked, for a few seconds: every
 * payment looks up the customer's binding and the merchant's certified key
 * several times (each signature it verifies, each message it encrypts), and
 * each lookup was a query (two for a merchant's key: the binding by kid first)
 * and a certificate verification.
 *
 * Only what was found active and valid is kept, never an absence: a key
 * registered a moment ago is found at once. An entry is dropped
 *
 * - when any row of `key_bindings`, `key_certificates`, `parties`,
 *   `aliases` or `banks` changes, on this
 *   instance or another on the same database: a trigger notifies
 *   `registry_changed` in the writing transaction (sent at its commit), and
 *   every instance's listener empties its cache (`listenForRegistryChanges`);
 *   after a lost listening connection comes back, too;
 * - when this instance writes the registry itself, once the write has
 *   committed (`clear`), so its own next request never waits for the
 *   notification;
 * - when its binding or certificate ends (`notAfter`), and at the latest
 *   `ttlMs` after it was read: the bound on staleness if notifications stop
 *   (a listener down and not yet back).
 *
 * A revocation therefore takes effect here when its notification arrives (a
 * few milliseconds on one database), within `ttlMs` at worst; the customer's
 * bank checks its own binding before any debit whatever the gateway believes.
 */
export class RegistryKeyCache {
  readonly #limits: RegistryKeyCacheLimits;
  readonly #signers = new Map<string, Entry<KeyOwner>>();
  readonly #bindings = new Map<string, Entry<BoundKey>>();
  readonly #parties = new Map<string, Entry<Party>>();
  readonly #encryptionKeys = new Map<string, Entry<CertifiedEncryptionKey>>();
  readonly #banks = new Map<string, Entry<BankRecord>>();
  #generation = 0;

  constructor(limits: RegistryKeyCacheLimits) {
    this.#limits = limits;
  }

  /** The owner of signing key `kid`, from the cache or `load` (kept when found, until `validUntil`). */
  async signer(
    kid: string,
    now: Date,
    load: () => Promise<{ owner: KeyOwner; validUntil: Date } | undefined>,
  ): Promise<KeyOwner | undefined> {
    return this.#through(this.#signers, kid, now, async () => {
      const found = await load();
      return found === undefined ? undefined : { value: found.owner, validUntil: found.validUntil };
    });
  }

  /**
   * The customer's newest active binding, from the cache or `load` (kept
   * until the binding's notAfter). Its signing key's owner is kept under the
   * key's kid too, until the same moment: the payment request reads the
   * customer's binding (to encrypt the push to the device), and the
   * confirmation that follows is signed by that key, whose lookup (`signer`)
   * then finds it without a statement.
   */
  async binding(
    partyId: string,
    now: Date,
    load: () => Promise<BoundKey | undefined>,
  ): Promise<BoundKey | undefined> {
    const bound = await this.#through(this.#bindings, partyId, now, async () => {
      const found = await load();
      return found === undefined ? undefined : { value: found, validUntil: found.notAfter };
    });
    const kept = this.#bindings.get(partyId);
    // Only what was just kept (never a read a clear overtook).
    if (bound !== undefined && kept?.value === bound && bound.signingJwk.kid !== undefined) {
      const owner: KeyOwner = { partyId: bound.partyId, jwk: bound.signingJwk };
      this.#keepAlso(
        this.#signers,
        bound.signingJwk.kid,
        { value: owner, expiresAtMs: kept.expiresAtMs },
        now,
      );
    }
    return bound;
  }

  /**
   * The party a party id or an MSISDN alias names, from the cache or `load`
   * (kept until ttlMs; `parties` and `aliases` notify like the keys). The
   * party is frozen: every caller shares it. A party found by its alias is
   * kept under its id too, until the same moment: a merchant resolves the
   * customer's phone number, then sends the payment request naming the id
   * it got, and that request's lookup finds it without a statement.
   */
  async party(
    idOrAlias: string,
    now: Date,
    load: () => Promise<Party | undefined>,
  ): Promise<Party | undefined> {
    const party = await this.#frozenForTtl(this.#parties, idOrAlias, now, load);
    if (party === undefined || party.id === idOrAlias) return party;
    const kept = this.#parties.get(idOrAlias);
    // Only what was just kept (never a read a clear overtook).
    if (kept?.value === party) this.#keepAlso(this.#parties, party.id, kept, now);
    return party;
  }

  /**
   * A merchant's current certified encryption key, checked (the FSP's
   * signature, validity, revocation), from the cache or `load` (kept until
   * the certificate's end): every push is encrypted to it.
   */
  async encryptionKey(
    partyId: string,
    now: Date,
    load: () => Promise<{ key: CertifiedEncryptionKey; validUntil: Date }>,
  ): Promise<CertifiedEncryptionKey> {
    const found = await this.#through(this.#encryptionKeys, partyId, now, async () => {
      const loaded = await load();
      return { value: Object.freeze({ ...loaded.key }), validUntil: loaded.validUntil };
    });
    if (found === undefined) throw new Error('assertion failed: a loaded encryption key is kept or returned');
    return found;
  }

  /**
   * A registered bank (its URL and signing key), from the cache or `load`
   * (kept until ttlMs; `banks` notifies like the keys): every payment's order
   * goes to the customer's bank. The record is frozen: every caller shares it.
   */
  async bank(
    bankId: string,
    now: Date,
    load: () => Promise<BankRecord | undefined>,
  ): Promise<BankRecord | undefined> {
    return this.#frozenForTtl(this.#banks, bankId, now, load);
  }

  /** Forgets everything: the registry changed (here or on another instance), or may have unseen. */
  clear(): void {
    this.#generation += 1;
    this.#signers.clear();
    this.#bindings.clear();
    this.#parties.clear();
    this.#encryptionKeys.clear();
    this.#banks.clear();
  }

  /** Entries held now (tests, metrics). */
  get size(): number {
    return (
      this.#signers.size +
      this.#bindings.size +
      this.#parties.size +
      this.#encryptionKeys.size +
      this.#banks.size
    );
  }

  /** A record with no end of validity of its own (a party, a bank): frozen and shared, kept for ttlMs. */
  async #frozenForTtl<T extends object>(
    map: Map<string, Entry<Readonly<T>>>,
    key: string,
    now: Date,
    load: () => Promise<T | undefined>,
  ): Promise<Readonly<T> | undefined> {
    return this.#through(map, key, now, async () => {
      const found = await load();
      return found === undefined ? undefined : { value: Object.freeze({ ...found }), validUntil: never };
    });
  }

  async #through<T>(
    map: Map<string, Entry<T>>,
    key: string,
    now: Date,
    load: () => Promise<{ value: T; validUntil: Date } | undefined>,
  ): Promise<T | undefined> {
    const nowMs = now.getTime();
    const cached = map.get(key);
    if (cached !== undefined) {
      if (nowMs < cached.expiresAtMs) return cached.value;
      map.delete(key);
    }
    // A clear while the read was under way means the read may predate the change: used once, not kept.
    const generation = this.#generation;
    const found = await load();
    if (found === undefined || this.#limits.ttlMs === 0 || generation !== this.#generation)
      return found?.value;
    const expiresAtMs = Math.min(nowMs + this.#limits.ttlMs, found.validUntil.getTime());
    if (expiresAtMs <= nowMs) return found.value;
    this.#keep(map, key, { value: found.value, expiresAtMs });
    return found.value;
  }

  /**
   * Keeps `entry`, just kept under another key, under `key` as well: never
   * over a live entry of `key`'s own (an ended one stays in the map until it
   * is looked up: it is replaced). Out first, so that the copy is the newest
   * entry of the map, not the ended one's place (the first out).
   */
  #keepAlso<T>(map: Map<string, Entry<T>>, key: string, entry: Entry<T>, now: Date): void {
    const own = map.get(key);
    if (own !== undefined && now.getTime() < own.expiresAtMs) return;
    map.delete(key);
    this.#keep(map, key, entry);
  }

  /** Keeps `entry` under `key`, the oldest entry of `map` out when it holds more than entriesMax. */
  #keep<T>(map: Map<string, Entry<T>>, key: string, entry: Entry<T>): void {
    map.set(key, entry);
    if (map.size > this.#limits.entriesMax) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}

/** A lookup through the cache at the service's time `now`. */
export interface CachedAt {
  readonly cache: RegistryKeyCache;
  readonly now: Date;
}

/** The context's key cache at its clock's now, or undefined when it has none (every lookup reads). */
export function cachedAt(context: {
  readonly keyCache?: RegistryKeyCache | undefined;
  readonly clock: () => Date;
}): CachedAt | undefined {
  return context.keyCache === undefined ? undefined : { cache: context.keyCache, now: context.clock() };
}

/** A party has no end of validity of its own: only ttlMs and the notifications bound its entry. */
const never = new Date(8.64e15);

/** The channel the registry's trigger notifies (migration 0009_registry_changes.sql). */
export const registryChangedChannel = 'registry_changed';

/**
 * Empties `cache` whenever the registry changes on the database (any
 * instance, any writer) and whenever a lost listening connection is back.
 * Returns the function that stops listening.
 */
export async function listenForRegistryChanges(
  database: Database,
  cache: RegistryKeyCache,
): Promise<() => Promise<void>> {
  return database.listen(registryChangedChannel, () => cache.clear(), { onResume: () => cache.clear() });
}
