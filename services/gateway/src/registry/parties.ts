import { MpayError } from '@mpay/protocol';
import type { Sql } from '@mpay/storage';

export type PartyKind = 'person' | 'merchant' | 'bank' | 'fsp';

export interface Party {
  id: string;
  kind: PartyKind;
  displayName: string;
  bankId: string | null;
  accountId: string | null;
  webhookUrl: string | null;
}

interface PartyRow {
  id: string;
  kind: PartyKind;
  display_name: string;
  bank_id: string | null;
  account_id: string | null;
  webhook_url: string | null;
}

function toParty(row: PartyRow): Party {
  return {
    id: row.id,
    kind: row.kind,
    displayName: row.display_name,
    bankId: row.bank_id,
    accountId: row.account_id,
    webhookUrl: row.webhook_url,
  };
}

export async function insertBank(sql: Sql, bank: { id: string; url: string }): Promise<void> {
  await sql.query(
    'INSERT INTO banks (id, url) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url',
    [bank.id, bank.url],
  );
}

export async function bankUrl(sql: Sql, bankId: string): Promise<string> {
  const { rows } = await sql.query<{ url: string }>('SELECT url FROM banks WHERE id = $1', [bankId]);
  if (rows[0] === undefined) throw new MpayError('PARTY_UNKNOWN', 'bank');
  return rows[0].url;
}

export async function insertParty(sql: Sql, party: Party, aliases: readonly string[]): Promise<void> {
  const inserted = await sql.query(
    `INSERT INTO parties (id, kind, display_name, bank_id, account_id, webhook_url) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO NOTHING`,
    [party.id, party.kind, party.displayName, party.bankId, party.accountId, party.webhookUrl],
  );
  if (inserted.rowCount === 0) throw new MpayError('PARTY_EXISTS');
  for (const alias of aliases) {
    const added = await sql.query(
      'INSERT INTO aliases (alias, party_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [alias, party.id],
    );
    if (added.rowCount === 0) throw new MpayError('ALIAS_EXISTS');
  }
}

export async function findParty(sql: Sql, id: string): Promise<Party | undefined> {
  const { rows } = await sql.query<PartyRow>(
    'SELECT id, kind, display_name, bank_id, account_id, webhook_url FROM parties WHERE id = $1',
    [id],
  );
  return rows[0] === undefined ? undefined : toParty(rows[0]);
}

/** Resolves a party address or an MSISDN alias (`+38970123456`) to the party. */
export async function resolveParty(sql: Sql, idOrAlias: string): Promise<Party> {
  const direct = await findParty(sql, idOrAlias);
  if (direct !== undefined) return direct;
  const { rows } = await sql.query<{ party_id: string }>('SELECT party_id FROM aliases WHERE alias = $1', [
    idOrAlias,
  ]);
  const viaAlias = rows[0] === undefined ? undefined : await findParty(sql, rows[0].party_id);
  if (viaAlias === undefined) throw new MpayError('PARTY_UNKNOWN');
  return viaAlias;
}

export async function updateWebhookUrl(sql: Sql, partyId: string, webhookUrl: string): Promise<void> {
  await sql.query('UPDATE parties SET webhook_url = $2 WHERE id = $1', [partyId, webhookUrl]);
}
