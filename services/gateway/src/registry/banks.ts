import { type PublicJwk, parsePublicJwk } from '@mpay/envelope';
import { MpayError, parsePartyId } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CachedAt } from './key-cache.ts';

/** A bank the FSP routes to: where it answers and the key its bindings and answers are signed with. */
export interface BankRecord {
  readonly id: string;
  readonly url: string;
  readonly signingJwk: PublicJwk;
}

export interface BankRegistration {
  readonly id: string;
  readonly url: string;
  readonly signingJwk: unknown;
}

/** Validates a bank's registration: a bank id, an http(s) origin, an allowed public signing key. */
export function parseBankRegistration(input: BankRegistration): BankRecord {
  if (parsePartyId(input.id, 'id').kind !== 'bank') throw new MpayError('PARTY_ID_INVALID', 'id');
  const url = URL.canParse(input.url) ? new URL(input.url) : undefined;
  if (
    url === undefined ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    input.url.length > 500
  ) {
    throw new MpayError('REQUEST_INVALID', 'url');
  }
  const signingJwk = parsePublicJwk(input.signingJwk);
  if (signingJwk.use !== undefined && signingJwk.use !== 'sig')
    throw new MpayError('CRYPTO_KEY_INVALID', 'use');
  return { id: input.id, url: url.origin, signingJwk };
}

/** Registers or changes a bank; the registry's trigger empties every instance's key cache at the commit. */
export async function upsertBank(sql: Sql, bank: BankRecord): Promise<void> {
  await sql.query(
    `INSERT INTO banks (id, url, signing_jwk) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, signing_jwk = EXCLUDED.signing_jwk`,
    [bank.id, bank.url, JSON.stringify(bank.signingJwk)],
  );
}

async function readBank(sql: Sql, bankId: string): Promise<BankRecord | undefined> {
  const { rows } = await sql.query<{ id: string; url: string; signing_jwk: string | null }>(
    'SELECT id, url, signing_jwk FROM banks WHERE id = $1',
    [bankId],
  );
  const row = rows[0];
  if (row === undefined || row.signing_jwk === null) return undefined;
  return { id: row.id, url: row.url, signingJwk: parsePublicJwk(JSON.parse(row.signing_jwk)) };
}

export async function findBank(sql: Sql, bankId: string, cached?: CachedAt): Promise<BankRecord> {
  const bank =
    cached === undefined
      ? await readBank(sql, bankId)
      : await cached.cache.bank(bankId, cached.now, () => readBank(sql, bankId));
  if (bank === undefined) throw new MpayError('BANK_UNKNOWN');
  return bank;
}
