import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBank, type TestBank } from '../../test-helpers.ts';

let bank: TestBank;
beforeAll(async () => {
  bank = await startTestBank();
});
afterAll(() => bank.close());

describe('GET /audit', () => {
  it('is ok after posted, held, posted-in-part and voided transfers, with totals per currency', async () => {
    const customer = await bank.openAccount('customer');
    const merchant = await bank.openAccount('merchant');
    await bank.fund(customer, 1_000n);
    await bank.fund(await bank.openAccount('customer', 'USD'), 70n, 'USD');
    const transfer = (body: Record<string, unknown>) =>
      bank.call('POST', '/transfers', {
        id: randomUUID(),
        debitAccountId: customer,
        creditAccountId: merchant,
        currency: 'EUR',
        ...body,
      });
    await transfer({ amount: '100' });
    const held = randomUUID();
    await transfer({ id: held, kind: 'pending', amount: '50', timeoutSeconds: 60 });
    await bank.call('POST', `/transfers/${held}/post`, { amount: '20' });
    const voided = randomUUID();
    await transfer({ id: voided, kind: 'pending', amount: '30', timeoutSeconds: 60 });
    await bank.call('POST', `/transfers/${voided}/void`);
    await transfer({ kind: 'pending', amount: '7', timeoutSeconds: 60 });

    const audit = await bank.call('GET', '/audit');
    expect(audit.status).toBe(200);
    expect(audit.body).toMatchObject({
      ok: true,
      violations: [],
      mismatches: [],
      accountsChecked: 5,
      transfersChecked: 8,
    });
    expect(audit.body.ledgers).toEqual([
      {
        currency: 'EUR',
        accounts: 3,
        debitsPending: '7',
        debitsPosted: '1120',
        creditsPending: '7',
        creditsPosted: '1120',
      },
      {
        currency: 'USD',
        accounts: 2,
        debitsPending: '0',
        debitsPosted: '70',
        creditsPending: '0',
        creditsPosted: '70',
      },
    ]);
  });

  it('reports a balance changed behind the ledger: unbalanced books and a mismatch with the transfers', async () => {
    const customer = await bank.openAccount('customer');
    await bank.fund(customer, 10n);
    await bank.database.query('UPDATE accounts SET credits_posted = credits_posted + 5 WHERE id = $1', [
      customer,
    ]);
    const audit = await bank.call('GET', '/audit');
    expect(audit.body.ok).toBe(false);
    expect(audit.body.violations).toEqual([{ rule: 'debits_posted_equal_credits_posted', ledger: 'EUR' }]);
    expect(audit.body.mismatches).toEqual([
      { accountId: customer, field: 'creditsPosted', stored: '15', fromTransfers: '10' },
    ]);
  });
});
