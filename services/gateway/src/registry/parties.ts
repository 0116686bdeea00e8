import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';
import type { CachedAt } from './key-cache.ts';

export type PartyKind = 'person' | 'merchant';

/** A party of the FSP's registry: who it is, its bank, and for merchants where to notify them. */
export interface Party {
  readonly id: string;
  readonly kind: PartyKind;
  readonly displayName: string;
  readonly bankId: string;
  readonly webhookUrl: string | null;
}

interface PartyRow {
  id: string;
  kind: string;
  display_name: string;
  bank_id: string | null;
  webhook_url: string | null;
}

const partyColumns = 'id, kind, display_name, bank_id, webhook_url';

function toParty(row: PartyRow): Party {
  // Only people and merchants are registered, always with their bank (the registry's own invariant).
  if ((row.kind !== 'person' && row.kind !== 'merchant') || row.bank_id === null) {
    throw new Error(`assertion failed: party ${row.id} is a person or merchant with a bank`);
  }
  return {
    id: row.id,
    kind: row.kind,
    displayName: row.display_name,
    bankId: row.bank_id,
    webhookUrl: row.webhook_url,
  };
}

/** Inserts a party, or updates its name (and webhook) when it is already registered as the same kind at the same bank. */
export async function upsertParty(sql: Sql, party: Party): Promise<void> {
  const { rows } = await sql.query<PartyRow>(
    `INSERT INTO parties (id, kind, display_name, bank_id, webhook_url) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name,
       webhook_url = COALESCE(EXCLUDED.webhook_url, parties.webhook_url)
     WHERE parties.kind = EXCLUDED.kind AND parties.bank_id = EXCLUDED.bank_id
     RETURNING ${partyColumns}`,
    [party.id, party.kind, party.displayName, party.bankId, party.webhookUrl],
  );
  if (rows[0] === undefined) throw new MpayError('PARTY_EXISTS');
}

export async function addAlias(sql: Sql, alias: string, partyId: string): Promise<void> {
  const added = await sql.query(
    `INSERT INTO aliases (alias, party_id) VALUES ($1, $2)
     ON CONFLICT (alias) DO UPDATE SET party_id = aliases.party_id WHERE aliases.party_id = EXCLUDED.party_id`,
    [alias, partyId],
  );
  if (added.rowCount === 0) throw new MpayError('ALIAS_EXISTS');
}

/** The party registered under `id`; through the gateway's key cache when `cached` names it. */
export async function findParty(sql: Sql, id: string, cached?: CachedAt): Promise<Party | undefined> {
  const read = async () => {
    const { rows } = await sql.query<PartyRow>(`SELECT ${partyColumns} FROM parties WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toParty(rows[0]);
  };
  // An id never has the form of an alias (an MSISDN), so one map serves both lookups.
  return cached === undefined ? read() : cached.cache.party(id, cached.now, read);
}

/** Resolves a party address or an MSISDN alias (`+38970123456`) to the party; through the key cache when `cached` names it. */
export async function resolveParty(sql: Sql, idOrAlias: string, cached?: CachedAt): Promise<Party> {
  const read = async () => {
    const { rows } = await sql.query<PartyRow>(
      `SELECT ${partyColumns} FROM parties WHERE id = $1
       UNION ALL
       SELECT p.id, p.kind, p.display_name, p.bank_id, p.webhook_url FROM aliases a JOIN parties p ON p.id = a.party_id
       WHERE a.alias = $1 LIMIT 1`,
      [idOrAlias],
    );
    return rows[0] === undefined ? undefined : toParty(rows[0]);
  };
  const party = cached === undefined ? await read() : await cached.cache.party(idOrAlias, cached.now, read);
  if (party === undefined) throw new MpayError('PARTY_UNKNOWN');
  return party;
}

export async function updateWebhookUrl(sql: Sql, partyId: string, webhookUrl: string): Promise<void> {
  await sql.query('UPDATE parties SET webhook_url = $2 WHERE id = $1', [partyId, webhookUrl]);
}
