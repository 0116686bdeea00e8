import { parseDecimalAmount } from '@mpay/protocol';
import type { RefundReceipt, Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import { LogMark } from '../../ui/log-mark.tsx';
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

/** Who paid back, as a person reads it: the certified name kept with the payment, else the id. */
export function refunderOf(record: RefundRecord): string {
  return record.merchantName ?? record.merchantId;
}

/** One refund: the amount given back, from whom, for which payment, and its log mark checked in the page. */
export function RefundScreen(props: {
  readonly config: WebConfig;
  readonly wallet: Wallet;
  readonly record: RefundRecord;
  readonly onDone: () => void;
}): JSX.Element {
  const { record, wallet } = props;
  return (
    <Card title="Refunded to you" tone="good" testId="refund-receipt">
      <p class="amount">{formatMoney(BigInt(record.amountMinor), record.currency)}</p>
      <p>
        from <strong>{refunderOf(record)}</strong>
        {record.merchantName === undefined ? null : <span class="mono muted"> {record.merchantId}</span>}
      </p>
      <Facts
        testId="refund-facts"
        items={[
          ['Received', formatTime(record.at)],
          [
            'Refund',
            <span class="mono" title={record.refundId}>
              {shortId(record.refundId)}
            </span>,
          ],
          [
            'For payment',
            <span class="mono" title={record.paymentId}>
              {shortId(record.paymentId)}
            </span>,
          ],
        ]}
      />
      <p class="muted ims-small">Refund receipt signed by the payment service and verified on this phone.</p>
      <LogMark
        log={props.config.log}
        transactionId={record.refundId}
        message={record.receiptJws}
        evidence={() => wallet.refundEvidence(record.paymentId, record.refundId)}
      />
      <Button kind="secondary" onClick={props.onDone}>
        Done
      </Button>
    </Card>
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
              <button type="button" class="ims-item" onClick={() => props.onOpen(refund)}>
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
