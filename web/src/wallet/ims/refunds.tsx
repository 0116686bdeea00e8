import { parseDecimalAmount } from '@mpay/protocol';
import type { RefundReceipt, Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Button, ErrorNotice } from '../../ui/components.tsx';
import { formatMoney, formatTime } from '../../ui/format.ts';
import { RefundReceiptCard } from '../refund-screen.tsx';
import { listRefunds, type RefundRecord, readPayment, recordRefund } from './store.ts';

/**
 * Refunds on the customer's phone: a merchant gave money back for a payment.
 * The FSP's refund receipt arrives verified by the SDK (pushed on the device
 * stream, or listed by Wallet.refunds for a phone that was offline); it is
 * kept in the history beside its payment, and its screen checks the refund's
 * own entry in the public log.
 */

/** The refund as the history keeps it, named as the payment was when this phone has it. */
export async function keepRefund(receipt: RefundReceipt, now: Date): Promise<RefundRecord> {
  const payment = await readPayment(receipt.paymentId);
  const amount = parseDecimalAmount(receipt.amount.value, receipt.amount.currency);
  const record: RefundRecord = {
    refundId: receipt.refundId,
    paymentId: receipt.paymentId,
    merchantId: receipt.payer,
    merchantName: payment?.merchantId === receipt.payer ? payment.merchantName : undefined,
    amountMinor: amount.minor.toString(),
    currency: amount.currency,
    at: now.toISOString(),
    receiptJws: receipt.jws,
  };
  await recordRefund(record);
  return record;
}

/** Who paid back (the shared card's rule), where the Pay section's screens import it from. */
export { refunderOf } from '../refund-screen.tsx';

/** One refund: the shared refund card, its evidence asked for with this phone's own key. */
export function RefundScreen(props: {
  readonly config: WebConfig;
  readonly wallet: Wallet;
  readonly record: RefundRecord;
  readonly onDone: () => void;
}): JSX.Element {
  const { record, wallet } = props;
  return (
    <RefundReceiptCard
      log={props.config.log}
      record={record}
      evidence={() => wallet.refundEvidence(record.paymentId, record.refundId)}
      onDone={props.onDone}
    />
  );
}

/**
 * A completed payment's refunds: those this phone keeps, and a button that
 * asks the payment service for any it missed (Wallet.refunds: each receipt
 * verified on the phone, then kept).
 */
export function PaymentRefunds(props: {
  readonly wallet: Wallet;
  readonly paymentId: string;
  readonly onOpen: (record: RefundRecord) => void;
}): JSX.Element {
  const { wallet, paymentId } = props;
  const [refunds, setRefunds] = useState<readonly RefundRecord[] | undefined>();
  const [checking, setChecking] = useState(false);
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    listRefunds(paymentId).then(setRefunds, setError);
  }, [paymentId]);
  const check = async () => {
    setChecking(true);
    setError(undefined);
    try {
      const now = new Date();
      for (const receipt of await wallet.refunds(paymentId)) await keepRefund(receipt, now);
      setRefunds(await listRefunds(paymentId));
      setChecked(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setChecking(false);
    }
  };
  return (
    <section class="ims-refunds" aria-label="Refunds">
      <h3>Refunds</h3>
      <ErrorNotice error={error} />
      {refunds === undefined || refunds.length === 0 ? (
        <p class="muted" data-testid="no-refunds">
          {checked ? 'The payment service has no refund of this payment.' : 'No refund on this phone.'}
        </p>
      ) : (
        <ul class="list ims-refund-list" aria-label="Refunds of this payment">
          {refunds.map((refund) => (
            <li key={refund.refundId}>
              <button type="button" class="item-button" onClick={() => props.onOpen(refund)}>
                <span class="row">
                  <strong>Refund</strong>
                  <span>+{formatMoney(BigInt(refund.amountMinor), refund.currency)}</span>
                </span>
                <span class="muted">{formatTime(refund.at)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <Button kind="secondary" onClick={() => void check()} busy={checking}>
        Check for refunds
      </Button>
    </section>
  );
}
