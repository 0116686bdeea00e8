import { describe, expect, it } from 'vitest';
import { isMpayError } from '../errors/index.ts';
import { checkPayAck, payAckOf, payConfirmToMerchantOf } from './bank-leg.ts';
import {
  type FundsTransferContent,
  parseFundsTransferContent,
  parsePayAckContent,
  parsePayConfirmToMerchantContent,
} from './messages.ts';
import { parties, seconds, sessionId, sha256 } from './scenario.test-helper.ts';

const transfer: FundsTransferContent = parseFundsTransferContent(
  {
    kind: 'macro_funds_transfer',
    from: parties.clientBank,
    to: parties.merchantBank,
    sessionId,
    clientId: parties.client,
    merchantId: parties.merchant,
    amount: { currency: 'EUR', value: '1250.00' },
    expiresAt: seconds(300).toISOString(),
  },
  sha256,
);

function failure(run: () => unknown): [string, string | undefined] | 'passed' {
  try {
    run();
    return 'passed';
  } catch (error) {
    if (!isMpayError(error)) throw error;
    return [error.code, error.detail];
  }
}

describe('steps 8–10 between the banks', () => {
  it('makes Pay_Ack (10) and Pay_Confirm to M (9) from FT alone, each a valid message of the paper', () => {
    const ack = payAckOf(transfer, seconds(60));
    expect(parsePayAckContent(ack, sha256)).toEqual({
      kind: 'macro_pay_ack',
      from: 'ybank',
      to: 'xbank',
      sessionId,
      clientId: parties.client,
      merchantId: parties.merchant,
      amount: { currency: 'EUR', value: '1250.00' },
      expiresAt: seconds(60).toISOString(),
    });
    expect(parsePayConfirmToMerchantContent(payConfirmToMerchantOf(transfer), sha256)).toEqual({
      kind: 'macro_pay_confirm_to_merchant',
      from: 'ybank',
      to: parties.merchant,
      sessionId,
      clientId: parties.client,
      amount: { currency: 'EUR', value: '1250.00' },
      expiresAt: transfer.expiresAt,
    });
  });

  it('accepts a Pay_Ack naming its own FT exactly, before it expires', () => {
    expect(failure(() => checkPayAck(transfer, payAckOf(transfer, seconds(60)), seconds(59)))).toBe('passed');
  });

  it('refuses a Pay_Ack for another amount, session, client, merchant or bank, or an expired one', () => {
    const ack = payAckOf(transfer, seconds(60));
    const cases: [Record<string, unknown>, [string, string]][] = [
      [{ amount: { currency: 'EUR', value: '1250.01' } }, ['PAYMENT_MESSAGE_MISMATCH', 'amount']],
      [{ amount: { currency: 'USD', value: '1250.00' } }, ['PAYMENT_MESSAGE_MISMATCH', 'amount']],
      [{ sessionId: transfer.sessionId.replace(/.$/, '0') }, ['PAYMENT_MESSAGE_MISMATCH', 'sessionId']],
      [{ clientId: 'C111111111111.xbank' }, ['PAYMENT_MESSAGE_MISMATCH', 'clientId']],
      [{ merchantId: 'other.shop@merchant.ybank' }, ['PAYMENT_MESSAGE_MISMATCH', 'merchantId']],
      [{ from: 'zbank' }, ['PAYMENT_MESSAGE_MISMATCH', 'from']],
      [{ to: 'zbank' }, ['PAYMENT_MESSAGE_MISMATCH', 'to']],
    ];
    for (const [change, expected] of cases) {
      const changed = { ...ack, ...change } as typeof ack;
      expect(
        failure(() => checkPayAck(transfer, changed, seconds(10))),
        JSON.stringify(change),
      ).toEqual(expected);
    }
    expect(failure(() => checkPayAck(transfer, ack, seconds(60)))).toEqual(['MESSAGE_EXPIRED', 'expiresAt']);
  });

  it('refuses a Pay_Ack whose amount is not canonical text (1250.0 for EUR 1250.00) before any comparison', () => {
    // The core's parser admits only canonical text, so equal money always has equal text.
    expect(
      failure(() =>
        parsePayAckContent(
          { ...payAckOf(transfer, seconds(60)), amount: { currency: 'EUR', value: '1250.0' } },
          sha256,
        ),
      ),
    ).not.toBe('passed');
  });
});
