import type { Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import { LogMark } from '../../ui/log-mark.tsx';
import { levelName, procedureName } from './level.ts';
import { PaymentRefunds } from './refunds.tsx';
import type { PaymentRecord, RefundRecord } from './store.ts';

const statusTitles: Readonly<Record<PaymentRecord['status'], string>> = {
  completed: 'Paid',
  declined: 'Declined by you',
  refused: 'Not paid',
  cancelled: 'Withdrawn by the merchant',
  expired: 'Expired',
};

/**
 * A payment's outcome: the FSP's receipt (verified when it arrived) with the
 * "recorded in the public log" mark the page checks itself each time the
 * receipt is shown, or why it was not paid.
 */
export function ReceiptScreen(props: {
  readonly config: WebConfig;
  readonly wallet: Wallet;
  readonly record: PaymentRecord;
  /** The error that ended the payment, right after it happened. */
  readonly error?: unknown;
  readonly onOpenRefund: (record: RefundRecord) => void;
  readonly onDone: () => void;
}): JSX.Element {
  const { record, wallet } = props;
  const amount = formatMoney(BigInt(record.amountMinor), record.currency);
  const tone = record.status === 'completed' ? 'good' : record.status === 'refused' ? 'bad' : 'default';
  return (
    <Card title={statusTitles[record.status]} tone={tone} testId="receipt">
      <p class="amount">{amount}</p>
      <p>
        to <strong>{record.merchantName}</strong> <span class="mono muted">{record.merchantId}</span>
      </p>
      {record.description === undefined ? null : <p>{record.description}</p>}
      {props.error === undefined ? null : <ErrorNotice error={props.error} />}
      <Facts
        testId="receipt-facts"
        items={[
          ['When', formatTime(record.at)],
          ['Level', levelName(record.securityLevel)],
          ['Where', procedureName(record.procedure)],
          [
            'Payment',
            <span class="mono" title={record.paymentId}>
              {shortId(record.paymentId)}
            </span>,
          ],
          ...(record.bankTransferId === undefined || record.bankTransferId === record.paymentId
            ? []
            : [['Bank transfer', <span class="mono">{shortId(record.bankTransferId)}</span>] as const]),
          ...(record.failureCode === undefined ? [] : [['Reason', record.failureCode] as const]),
        ]}
      />
      {record.status === 'completed' ? (
        <>
          <p class="muted ims-small">Receipt signed by the payment service and verified on this phone.</p>
          <LogMark
            log={props.config.log}
            transactionId={record.paymentId}
            message={record.receiptJws}
            evidence={() => wallet.paymentEvidence(record.paymentId)}
          />
          <PaymentRefunds wallet={wallet} paymentId={record.paymentId} onOpen={props.onOpenRefund} />
        </>
      ) : null}
      <Button kind="secondary" onClick={props.onDone}>
        Done
      </Button>
    </Card>
  );
}
