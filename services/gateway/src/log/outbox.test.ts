import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addBank,
  addMerchant,
  createPayment,
  enrolCustomer,
  openTestGateway,
  type TestGateway,
} from '../test-helpers.ts';
import { rememberLastReceipt, type TransactionLogLink } from './outbox.ts';

let gateway: TestGateway;
const link: TransactionLogLink = {
  url: 'http://127.0.0.1:9',
  origin: 'log.mpay.example/transactions',
  logVerifierKey: 'log.mpay.example/transactions+00000000+AAAA',
  witnessVerifierKeys: [],
  witnessesRequired: 0,
};

beforeAll(async () => {
  gateway = await openTestGateway();
});
afterAll(() => gateway?.close());

describe("the gateway's last receipt at start", () => {
  it('does nothing without a stored receipt, and reads the proved entry with the largest index', async () => {
    const warned: object[] = [];
    const log = { warn: (fields: object) => void warned.push(fields) };
    await rememberLastReceipt(gateway.database, link, log);
    expect(warned).toEqual([]);

    const bank = await addBank(gateway.database, 'xbank');
    const shop = await addMerchant(gateway.database, bank, 'shop');
    const ann = await enrolCustomer(gateway.database, bank, 'ann');
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1)
      ids.push(await createPayment(gateway, { merchant: shop, customer: ann }));
    // Proved entries at indexes 9 and 5, and one still unproved at 12: index 9's receipt is the one read.
    const entries: [string, number, string | null][] = [
      [ids[0] ?? '', 9, 'not a receipt (9)'],
      [ids[1] ?? '', 5, 'not a receipt (5)'],
      [ids[2] ?? '', 12, null],
    ];
    for (const [paymentId, index, receipt] of entries)
      await gateway.database.query(
        `INSERT INTO log_entries (payment_id, kind, messages, log_index, receipt, next_attempt_at, created_at)
         VALUES ($1, 'payment.completed', '[]', $2, $3, now(), now())`,
        [paymentId, index, receipt],
      );
    // A stored receipt that cannot be read again: said, not fatal (the gateway still starts).
    await rememberLastReceipt(gateway.database, link, log);
    expect(warned).toEqual([expect.objectContaining({ paymentId: ids[0] })]);
  });
});
