import { parseDecimalAmount } from '@mpay/protocol';
import type { CustodyWallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Button, Card, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import { LogMark } from '../../ui/log-mark.tsx';
import { refunderOf } from '../refund-screen.tsx';
import type { CustodyPaymentRecord, CustodyPaymentStatus, CustodyRefundRecord } from './store.ts';

/** A payment's status as a badge: text and tone. */
const statusBadges: Readonly<
  Record<CustodyPaymentStatus, { text: string; tone: 'good' | 'warn' | 'bad' | '' }>
> = {
  pending: { text: 'Waiting for you', tone: 'warn' },
  authorised: { text: 'Authorised', tone: 'warn' },
  completed: { text: 'Paid', tone: 'good' },
  declined: { text: 'Declined', tone: '' },
  expired: { text: 'Expired', tone: '' },
  cancelled: { text: 'Cancelled', tone: '' },
  failed: { text: 'Failed', tone: 'bad' },
  unverified: { text: 'Not verified', tone: 'bad' },
};

export function StatusBadge(props: { readonly status: CustodyPaymentStatus }): JSX.Element {
  const badge = statusBadges[props.status];
  return <span class={badge.tone === '' ? 'badge' : `badge badge-${badge.tone}`}>{badge.text}</span>;
}

/** The signed amount for the screen; an amount that does not parse is shown as signed, never guessed. */
export function amountText(amount: CustodyPaymentRecord['amount']): string {
  if (amount === undefined) return '—';
  try {
    const parsed = parseDecimalAmount(amount.value, amount.currency);
    return formatMoney(parsed.minor, parsed.currency);
  } catch {
    return `${amount.currency} ${amount.value}`;
  }
}

const resultTitles: Partial<Record<CustodyPaymentStatus, string>> = {
  completed: 'Paid',
  authorised: 'Authorised: waiting for your bank',
  declined: 'Declined',
  expired: 'Expired',
  cancelled: 'Cancelled',
  failed: 'Not paid',
};

/**
 * The answer to a payment the customer just confirmed or declined: the FSP's
 * receipt (verified by the SDK under the FSP's pinned key) or custody's word.
 * A receipt carries the "recorded in the public log" mark, checked in the
 * page: custody fetches the evidence with the customer's key (the phone has
 * none), and the page verifies it under the log's and the witnesses' keys of
 * the config, and that the entry holds this very receipt — custody is not
 * trusted for it.
 */
export function CustodyResultCard(props: {
  readonly config: WebConfig;
  readonly wallet: CustodyWallet;
  readonly record: CustodyPaymentRecord;
  /** The refunds of this payment this phone kept, newest first. */
  readonly refunds: readonly CustodyRefundRecord[];
  readonly onOpenRefund: (refund: CustodyRefundRecord) => void;
  readonly onDone: () => void;
}): JSX.Element {
  const { record, wallet } = props;
  const tone = record.status === 'completed' ? 'good' : record.status === 'failed' ? 'bad' : 'default';
  return (
    <Card title={resultTitles[record.status] ?? 'Payment'} tone={tone} testId="custody-result">
      <p class="amount">{amountText(record.amount)}</p>
      <Facts
        items={[
          ['To', record.merchant?.name ?? '—'],
          ['Status', <StatusBadge key="status" status={record.status} />],
          ...(record.completedAt === undefined ? [] : [['When', formatTime(record.completedAt)] as const]),
          ...(record.failureCode === undefined ? [] : [['Code', record.failureCode] as const]),
          [
            'Payment',
            <span key="id" class="mono" title={record.paymentId}>
              {shortId(record.paymentId)}
            </span>,
          ],
        ]}
      />
      {record.status === 'completed' ? (
        <>
          <p class="muted">Receipt signed by the FSP and verified on this phone.</p>
          {record.statement === undefined ? null : (
            <div class="custody-log-mark">
              <LogMark
                log={props.config.log}
                transactionId={record.paymentId}
                message={record.statement}
                evidence={() => wallet.paymentEvidence(record.paymentId)}
              />
            </div>
          )}
          {props.refunds.length === 0 ? null : (
            <PaymentRefundList refunds={props.refunds} onOpen={props.onOpenRefund} />
          )}
        </>
      ) : record.status === 'authorised' ? (
        <p class="muted">Custody signed in your name; the receipt follows once your bank paid.</p>
      ) : record.status === 'declined' ? (
        <p class="muted">Custody signed your decline. Nothing was paid.</p>
      ) : null}
      <Button kind="secondary" onClick={props.onDone}>
        Done
      </Button>
    </Card>
  );
}

/** Refund amounts are money back: shown with a plus. */
function refundAmountText(refund: CustodyRefundRecord): string {
  return `+${formatMoney(BigInt(refund.amountMinor), refund.currency)}`;
}

/** A payment's refunds, inside its receipt: each opens its refund screen. */
function PaymentRefundList(props: {
  readonly refunds: readonly CustodyRefundRecord[];
  readonly onOpen: (refund: CustodyRefundRecord) => void;
}): JSX.Element {
  return (
    <section class="custody-refunds" aria-label="Refunds">
      <h3>Refunds</h3>
      <ul class="list" aria-label="Refunds of this payment">
        {props.refunds.map((refund) => (
          <li key={refund.refundId}>
            <button type="button" class="custody-item" onClick={() => props.onOpen(refund)}>
              <span class="row">
                <strong>Refund</strong>
                <span>{refundAmountText(refund)}</span>
              </span>
              <span class="muted">{formatTime(refund.at)}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

type HistoryEntry =
  | { readonly kind: 'payment'; readonly at: string; readonly record: CustodyPaymentRecord }
  | { readonly kind: 'refund'; readonly at: string; readonly record: CustodyRefundRecord };

/** Payments (by when they arrived) and refunds (by when they were received) in one list, newest first. */
function historyEntries(
  payments: readonly CustodyPaymentRecord[],
  refunds: readonly CustodyRefundRecord[],
): HistoryEntry[] {
  const entries: HistoryEntry[] = [
    ...payments.map((record) => ({ kind: 'payment' as const, at: record.receivedAt, record })),
    ...refunds.map((record) => ({ kind: 'refund' as const, at: record.at, record })),
  ];
  return entries.sort((left, right) => right.at.localeCompare(left.at));
}

/** Everything this phone saw, newest first: payments, and refunds that open their refund screen. */
export function CustodyHistory(props: {
  readonly payments: readonly CustodyPaymentRecord[];
  readonly refunds: readonly CustodyRefundRecord[];
  readonly onOpenRefund: (refund: CustodyRefundRecord) => void;
}): JSX.Element {
  const entries = historyEntries(props.payments, props.refunds);
  return (
    <Card title="History">
      {entries.length === 0 ? (
        <p class="muted">No payments yet.</p>
      ) : (
        <ul class="list" aria-label="Custody payments and refunds, newest first">
          {entries.map((entry) =>
            entry.kind === 'payment' ? (
              <PaymentEntry key={`payment:${entry.record.paymentId}`} record={entry.record} />
            ) : (
              <li key={`refund:${entry.record.refundId}`}>
                <button
                  type="button"
                  class="custody-item"
                  data-testid="history-refund"
                  onClick={() => props.onOpenRefund(entry.record)}
                >
                  <span class="row">
                    <strong>{refunderOf(entry.record)}</strong>
                    <span>{refundAmountText(entry.record)}</span>
                  </span>
                  <span class="row">
                    <span class="muted">{formatTime(entry.record.at)}</span>
                    <span class="badge badge-good">Refund</span>
                  </span>
                </button>
              </li>
            ),
          )}
        </ul>
      )}
    </Card>
  );
}

function PaymentEntry(props: { readonly record: CustodyPaymentRecord }): JSX.Element {
  const { record } = props;
  return (
    <li>
      <div class="row">
        <strong>{record.merchant?.name ?? 'Unknown payee'}</strong>
        <span>{amountText(record.amount)}</span>
      </div>
      <div class="row">
        <span class="muted">{formatTime(record.completedAt ?? record.receivedAt)}</span>
        <StatusBadge status={record.status} />
      </div>
      {record.verificationCode !== undefined && record.status === 'unverified' ? (
        <p class="notice-code">Not shown: {record.verificationCode}</p>
      ) : null}
    </li>
  );
}
