import type { JSX } from 'preact';
import { Button, Card, Facts } from '../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../ui/format.ts';
import { type EvidenceSource, LogMark, type LogTrust } from '../ui/log-mark.tsx';
import './refund-screen.css';

/**
 * A refund as the wallet shows it, whichever section kept it: the Pay section
 * (the device key's wallet, ims/refunds.tsx) and the custody section
 * (custody/wallet-view.tsx) keep the FSP's refund receipt, verified on the
 * phone, as these fields and show it with this card. The card only shows:
 * where the log's evidence comes from (the device's own wallet, or custody
 * asking with the key in its HSM) is the section's `evidence` source, and
 * the page checks that evidence itself under the config's log keys.
 */

/** The fields of a kept refund receipt the card shows. Amounts are minor units as a decimal string. */
export interface RefundReceiptFields {
  readonly refundId: string;
  readonly paymentId: string;
  /** The merchant that paid back (the receipt's payer). */
  readonly merchantId: string;
  /** The certified name kept with the payment, when the phone has the payment. */
  readonly merchantName?: string | undefined;
  readonly amountMinor: string;
  readonly currency: string;
  /** When the phone received it. */
  readonly at: string;
  /** The FSP's signed refund receipt (compact JWS): the refund's log entry must hold it. */
  readonly receiptJws: string;
}

/** Who paid back, as a person reads it: the certified name kept with the payment, else the id. */
export function refunderOf(record: Pick<RefundReceiptFields, 'merchantId' | 'merchantName'>): string {
  return record.merchantName ?? record.merchantId;
}

/** The amount given back, as a list shows it: "+EUR 2.00". */
export function refundAmountText(record: Pick<RefundReceiptFields, 'amountMinor' | 'currency'>): string {
  return `+${formatMoney(BigInt(record.amountMinor), record.currency)}`;
}

/** A history's entry of a refund: who gave back how much, when; it opens the refund's screen. */
export function RefundEntry(props: {
  readonly record: RefundReceiptFields;
  readonly onOpen: (record: RefundReceiptFields) => void;
}): JSX.Element {
  const { record } = props;
  return (
    <li>
      <button
        type="button"
        class="item-button"
        data-testid="history-refund"
        onClick={() => props.onOpen(record)}
      >
        <span class="row">
          <strong>{refunderOf(record)}</strong>
          <span>{refundAmountText(record)}</span>
        </span>
        <span class="row">
          <span class="muted">{formatTime(record.at)}</span>
          <span class="badge badge-good">Refund</span>
        </span>
      </button>
    </li>
  );
}

/** The one-line notice of a refund that just arrived: "Merkur Trade refunded EUR 2.00 to you." */
export function refundNoticeText(record: RefundReceiptFields): string {
  return `${refunderOf(record)} refunded ${formatMoney(BigInt(record.amountMinor), record.currency)} to you.`;
}

/** One refund: the amount given back, from whom, for which payment, and its log mark checked in the page. */
export function RefundReceiptCard(props: {
  readonly log: LogTrust;
  readonly record: RefundReceiptFields;
  /** The refund's evidence file (mpay-receipt/v1), undefined while the log has not proved it yet. */
  readonly evidence: EvidenceSource;
  readonly onDone: () => void;
}): JSX.Element {
  const { record } = props;
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
      <p class="muted refund-note">
        Refund receipt signed by the payment service and verified on this phone.
      </p>
      <div class="refund-log-mark">
        <LogMark
          log={props.log}
          transactionId={record.refundId}
          message={record.receiptJws}
          evidence={props.evidence}
        />
      </div>
      <Button kind="secondary" onClick={props.onDone}>
        Done
      </Button>
    </Card>
  );
}
