import { randomUUID } from 'node:crypto';
import { isMpayError } from '@mpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBank, type TestBank } from '../../test-helpers.ts';
import { bankingContextOf, newBankingCustomer } from '../business-logic-server/banking.test-helper.ts';
import type { BankingContext } from '../context.ts';
import { sweepBankingSessions } from './sweep.ts';

/**
 * The worker's sweep: a session nobody can use any more (past its lifetime,
 * idle) keeps no key; a session still in use is left as it is.
 */

let bank: TestBank;
let context: BankingContext;

beforeAll(async () => {
  bank = await startTestBank({ banking: {} });
  context = bankingContextOf(bank);
});

afterAll(async () => {
  await bank?.close();
});

interface Row {
  state: string;
  closed_reason: string | null;
  sealed_session_key: string | null;
  code_hash: string | null;
  server_login_state: string | null;
}

async function row(id: string): Promise<Row | undefined> {
  const { rows } = await bank.database.query<Row>(
    `SELECT state, closed_reason, sealed_session_key, code_hash, server_login_state
     FROM banking_sessions WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** A session or login of `partyId` with a key, a code hash and OPAQUE's state stored, as given. */
async function insertSession(
  partyId: string,
  serial: string,
  state: 'password_started' | 'code_sent' | 'active',
  times: { expiresAt: Date; lastUsedAt?: Date },
): Promise<string> {
  const id = randomUUID();
  const now = bank.now().toISOString();
  await bank.database.query(
    `INSERT INTO banking_sessions (id, party_id, state, serial, server_login_state, sealed_session_key, code_hash,
       expires_at, last_used_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'opaque-state', 'sealed-key', $5, $6, $7, $8, $8)`,
    [
      id,
      partyId,
      state,
      serial,
      'c'.repeat(64),
      times.expiresAt.toISOString(),
      times.lastUsedAt?.toISOString() ?? null,
      now,
    ],
  );
  return id;
}

/** Ends every lapsed session of the bank so far, whatever earlier tests left. */
async function sweepAll(now: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const ended = await sweepBankingSessions(context, now);
    total += ended;
    if (ended === 0) return total;
  }
}

describe('sweepBankingSessions', () => {
  it('closes expired and idle sessions and refuses expired logins, erasing their keys; leaves the rest', async () => {
    const customer = await newBankingCustomer(bank);
    const { partyId } = customer;
    const serial = customer.key.serial;
    const now = new Date(bank.now().getTime() + 60_000);
    const { sessionIdleSeconds } = context.banking.limits;
    const second = 1_000;
    const past = new Date(now.getTime() - second);
    const soon = new Date(now.getTime() + 600 * second);
    const idleSince = new Date(now.getTime() - sessionIdleSeconds * second);

    const expired = await insertSession(partyId, serial, 'active', { expiresAt: now, lastUsedAt: past });
    const idle = await insertSession(partyId, serial, 'active', { expiresAt: soon, lastUsedAt: idleSince });
    const expiredLogin = await insertSession(partyId, serial, 'code_sent', { expiresAt: past });
    const expiredStart = await insertSession(partyId, serial, 'password_started', { expiresAt: past });
    const active = await insertSession(partyId, serial, 'active', {
      expiresAt: soon,
      lastUsedAt: new Date(idleSince.getTime() + second),
    });
    const login = await insertSession(partyId, serial, 'code_sent', { expiresAt: soon });

    expect(await sweepAll(now)).toBeGreaterThanOrEqual(4);
    const erased = {
      closed_reason: 'expired',
      sealed_session_key: null,
      code_hash: null,
      server_login_state: null,
    };
    expect(await row(expired)).toEqual({ state: 'closed', ...erased });
    expect(await row(idle)).toEqual({ state: 'closed', ...erased });
    expect(await row(expiredLogin)).toEqual({ state: 'refused', ...erased });
    expect(await row(expiredStart)).toEqual({ state: 'refused', ...erased });
    const untouched = { closed_reason: null, sealed_session_key: 'sealed-key', code_hash: 'c'.repeat(64) };
    expect(await row(active)).toMatchObject({ state: 'active', ...untouched });
    expect(await row(login)).toMatchObject({ state: 'code_sent', ...untouched });
    // The test helper's own session (last used at the bank's now, lifetime 30 minutes) is in use too.
    expect(await row(customer.sessionId)).toMatchObject({ state: 'active' });
    // Nothing left to sweep: a second pass ends nothing, closed sessions are not touched again.
    expect(await sweepBankingSessions(context, now)).toBe(0);
  });

  it('ends at most batchMax per pass; the next pass takes the rest', async () => {
    const customer = await newBankingCustomer(bank);
    const now = new Date(bank.now().getTime() + 120_000);
    await sweepAll(now);
    const past = new Date(now.getTime() - 1_000);
    const ids = [];
    for (let index = 0; index < 3; index += 1) {
      ids.push(
        await insertSession(customer.partyId, customer.key.serial, 'active', {
          expiresAt: past,
          lastUsedAt: past,
        }),
      );
    }
    expect(await sweepBankingSessions(context, now, { batchMax: 2 })).toBe(2);
    expect(await sweepBankingSessions(context, now, { batchMax: 2 })).toBe(1);
    for (const id of ids) expect(await row(id)).toMatchObject({ state: 'closed', sealed_session_key: null });
  });

  it('refuses a batch that is no positive integer or above 10 000', async () => {
    for (const batchMax of [0, -1, 1.5, 10_001]) {
      const refused = await sweepBankingSessions(context, bank.now(), { batchMax }).catch(
        (error: unknown) => error,
      );
      expect(isMpayError(refused, 'REQUEST_INVALID')).toBe(true);
    }
  });
});
