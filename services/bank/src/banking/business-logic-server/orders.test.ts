import { generateSigningKeyPair, type PublicJwk } from '@mpay/envelope';
import { restartablePorts } from '@mpay/http-server/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBank, type TestBank, uniquePartyId } from '../../test-helpers.ts';
import {
  type BankingTestCustomer,
  balanceOf,
  bankingContextOf,
  newBankingCustomer,
  openTestRequest,
} from './banking.test-helper.ts';
import { executeBankingRequest } from './dispatch.ts';

/**
 * A banking transfer to a customer of another bank, over the existing
 * interbank path between two banks on loopback (each its own database):
 * xbank (the customer's, with mobile banking) holds the amount and sends the
 * signed funds transfer; ybank credits its customer and answers; xbank posts.
 */

let x: TestBank;
let y: TestBank;
let alice: BankingTestCustomer;

beforeAll(async () => {
  const [xPort, yPort] = await restartablePorts(2);
  const [xKey, yKey] = await Promise.all([generateSigningKeyPair(), generateSigningKeyPair()]);
  const peer = (id: string, port: number | undefined, signingJwk: PublicJwk) => ({
    id,
    url: `http://127.0.0.1:${port}`,
    signingJwk,
  });
  x = await startTestBank({
    name: 'xbank',
    port: xPort,
    interbank: { signingKey: xKey.privateJwk, peers: [peer('ybank', yPort, yKey.publicJwk)] },
    banking: {},
  });
  y = await startTestBank({
    name: 'ybank',
    port: yPort,
    interbank: { signingKey: yKey.privateJwk, peers: [peer('xbank', xPort, xKey.publicJwk)] },
  });
  alice = await newBankingCustomer(x, { funds: 20_000n, prefix: 'alice' });
});

afterAll(async () => {
  await x?.close();
  await y?.close();
});

describe('transfer to a customer of another bank', () => {
  it('holds, delivers the funds transfer, posts; the payee is credited there; the line carries the request', async () => {
    const carol = uniquePartyId('person', 'ybank', 'carol');
    const carolAccount = await y.openAccount('customer', 'EUR', carol);
    const opened = await openTestRequest(x, alice, {
      kind: 'transfer',
      payeeId: carol,
      amount: 3_000n,
      currency: 'EUR',
      reference: 'dinner',
    });
    const result = await executeBankingRequest(bankingContextOf(x), opened, x.now());
    expect(result).toEqual({
      orderId: opened.requestId,
      state: 'completed',
      payeeId: carol,
      amount: '3000',
      currency: 'EUR',
      reference: 'dinner',
    });
    expect(await balanceOf(x, alice.clientId.accountId)).toEqual({ balance: 17_000n, available: 17_000n });
    expect((await balanceOf(y, carolAccount)).balance).toBe(3_000n);

    // The hold's id is the order's (= the request's); the banking transaction names it.
    const { rows: hold } = await x.database.query<{ kind: string; reference: string }>(
      'SELECT kind, reference FROM transfers WHERE id = $1',
      [opened.requestId],
    );
    expect(hold).toEqual([{ kind: 'pending', reference: `banking ${opened.requestId}` }]);
    const { rows: recorded } = await x.database.query<{ transfer_id: string }>(
      'SELECT transfer_id::text AS transfer_id FROM banking_transactions WHERE id = $1',
      [opened.requestId],
    );
    expect(recorded).toEqual([{ transfer_id: opened.requestId }]);

    // The statement's line is the post of the hold; it is matched to the request through the hold.
    const statement = await executeBankingRequest(
      bankingContextOf(x),
      await openTestRequest(x, alice, { kind: 'statement' }),
      x.now(),
    );
    const [newest] = statement.lines as { transferId: string; amount: string; requestId?: string }[];
    expect(newest).toMatchObject({ amount: '3000', requestId: opened.requestId });
    expect(newest?.transferId).not.toBe(opened.requestId);
  });

  it('refuses a payee at a bank that is no peer (BANK_UNKNOWN): nothing held', async () => {
    const before = await balanceOf(x, alice.clientId.accountId);
    const opened = await openTestRequest(x, alice, {
      kind: 'transfer',
      payeeId: uniquePartyId('person', 'zbank', 'zed'),
      amount: 100n,
      currency: 'EUR',
      reference: 'nowhere',
    });
    await expect(executeBankingRequest(bankingContextOf(x), opened, x.now())).rejects.toMatchObject({
      code: 'BANK_UNKNOWN',
    });
    expect(await balanceOf(x, alice.clientId.accountId)).toEqual(before);
  });
});
