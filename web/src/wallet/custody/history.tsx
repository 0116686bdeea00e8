import { parseDecimalAmount } from '@mpay/protocol';
import type { CustodyWallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Button, Card, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import { LogMark } from '../../ui/log-mark.tsx';
import { RefundEntry, refundAmountText } from '../refund-screen.tsx';
import { levelName } from './level.ts';
import { PartyId } from './party-id.tsx';
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

const resultTitles: Readonly<Record<CustodyPaymentStatus, string>> = {
  pending: 'Waiting for your answer',
  completed: 'Paid',
  authorised: 'Authorised: waiting for your bank',
  declined: 'Declined',
  expired: 'Expired',
  cancelled: 'Cancelled',
  failed: 'Not paid',
  unverified: 'Not verified',
};

/** What happened to a payment that was not paid, for a person: always that nothing was paid. */
const notPaidTexts: Readonly<Partial<Record<CustodyPaymentStatus, string>>> = {
  pending:
    'The request waits for your answer: tap Done to see it. Nothing is paid until you confirm with your PIN.',
  declined: 'Custody signed your decline. Nothing was paid.',
  expired: 'The request expired before it was paid. Nothing was paid.',
  cancelled: 'The merchant withdrew the request. Nothing was paid.',
  failed: 'The payment service refused the payment. Nothing was paid.',
  unverified: 'The request failed the checks on this phone, so it was never shown to you. Nothing was paid.',
};

/**
 * The merchant as a person reads it: the name the FSP certified when the
 * request verified, marked so; a payment known only from the FSP's receipt
 * or outcome has the payee's id for a name (no certified name to show).
 */
function MerchantFact(props: { readonly merchant: CustodyPaymentRecord['merchant'] }): JSX.Element {
  const { merchant } = props;
  if (merchant === undefined) return <>—</>;
  if (merchant.name === merchant.id) return <PartyId id={merchant.id} />;
  return (
    <>
      {merchant.name} <span class="badge badge-good">verified</span>
      <br />
      <span class="muted">
        <PartyId id={merchant.id} />
      </span>
    </>
  );
}

/**
 * A payment's screen, right after the customer answered it and again from the
 * history: the FSP's receipt (verified by the SDK under the FSP's pinned key
 * when it arrived) or what happened instead. A receipt carries the "recorded
 * in the public log" mark, checked in the page each time it is shown: custody
 * fetches the evidence with the customer's key (the phone has none), and the
 * page verifies it under the log's and the witnesses' keys of the config, and
 * that the entry holds this very receipt — custody is not trusted for it. A
 * record kept without the receipt's text (an older phone's) says so instead of
 * showing a mark it cannot check.
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
  const tone =
    record.status === 'completed'
      ? 'good'
      : record.status === 'failed' || record.status === 'unverified'
        ? 'bad'
        : 'default';
  const code = record.failureCode ?? (record.status === 'unverified' ? record.verificationCode : undefined);
  const notPaid = notPaidTexts[record.status];
  return (
    <Card title={resultTitles[record.status]} tone={tone} testId="custody-result">
      <p class="amount">{amountText(record.amount)}</p>
      {record.description === undefined ? null : <p>{record.description}</p>}
      <Facts
        testId="custody-result-facts"
        items={[
          ['To', <MerchantFact key="to" merchant={record.merchant} />],
          ['Status', <StatusBadge key="status" status={record.status} />],
          ...(record.securityLevel === undefined
            ? []
            : [['Level', levelName(record.securityLevel)] as const]),
          ...(record.completedAt === undefined ? [] : [['When', formatTime(record.completedAt)] as const]),
          ...(code === undefined ? [] : [['Code', code] as const]),
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
          {record.statement === undefined ? (
            <p class="muted" data-testid="receipt-missing">
              The FSP's receipt is not on this phone (it was kept before phones kept receipts), so its entry
              in the public log cannot be checked here.
            </p>
          ) : (
            <>
              <p class="muted">Receipt signed by the FSP and verified on this phone.</p>
              <div class="custody-log-mark">
                <LogMark
                  log={props.config.log}
                  transactionId={record.paymentId}
                  message={record.statement}
                  evidence={() => wallet.paymentEvidence(record.paymentId)}
                />
              </div>
            </>
          )}
          <PaymentRefundList refunds={props.refunds} onOpen={props.onOpenRefund} />
        </>
      ) : record.status === 'authorised' ? (
        <p class="muted">Custody signed in your name; the receipt follows once your bank paid.</p>
      ) : notPaid === undefined ? null : (
        <p data-testid="nothing-paid">{notPaid}</p>
      )}
      <Button kind="secondary" onClick={props.onDone}>
        Done
      </Button>
    </Card>
  );
}

/** Refund amounts are money back: shown with a plus. */
/** A payment's refunds, inside its receipt: each opens its refund screen. */
function PaymentRefundList(props: {
  readonly refunds: readonly CustodyRefundRecord[];
  readonly onOpen: (refund: CustodyRefundRecord) => void;
}): JSX.Element {
  return (
    <section class="custody-refunds" aria-label="Refunds">
      <h3>Refunds</h3>
      {props.refunds.length === 0 ? (
        <p class="muted" data-testid="no-refunds">
          No refund on this phone.
        </p>
      ) : (
        <ul class="list" aria-label="Refunds of this payment">
          {props.refunds.map((refund) => (
            <li key={refund.refundId}>
              <button type="button" class="item-button" onClick={() => props.onOpen(refund)}>
                <span class="row">
                  <strong>Refund</strong>
                  <span>{refundAmountText(refund)}</span>
                </span>
                <span class="muted">{formatTime(refund.at)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
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

/**
 * Everything this phone saw, newest first: payments that open their receipt
 * (or what happened instead), and refunds that open their refund screen.
 */
export function CustodyHistory(props: {
  readonly payments: readonly CustodyPaymentRecord[];
  readonly refunds: readonly CustodyRefundRecord[];
  readonly onOpenPayment: (record: CustodyPaymentRecord) => void;
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
              <PaymentEntry
                key={`payment:${entry.record.paymentId}`}
                record={entry.record}
                onOpen={props.onOpenPayment}
              />
            ) : (
              <RefundEntry
                key={`refund:${entry.record.refundId}`}
                record={entry.record}
                onOpen={props.onOpenRefund}
              />
            ),
          )}
        </ul>
      )}
    </Card>
  );
}

/** The history's entry of a payment: a button named by merchant, amount and status, that opens its screen. */
function PaymentEntry(props: {
  readonly record: CustodyPaymentRecord;
  readonly onOpen: (record: CustodyPaymentRecord) => void;
}): JSX.Element {
  const { record } = props;
  const merchant = record.merchant?.name ?? 'Unknown payee';
  const amount = amountText(record.amount);
  return (
    <li>
      <button
        type="button"
        class="item-button"
        data-testid="history-payment"
        data-payment-id={record.paymentId}
        aria-label={`${merchant}, ${amount}, ${statusBadges[record.status].text}`}
        onClick={() => props.onOpen(record)}
      >
        <span class="row">
          <strong>{merchant}</strong>
          <span>{amount}</span>
        </span>
        <span class="row">
          <span class="muted">{formatTime(record.completedAt ?? record.receivedAt)}</span>
          <StatusBadge status={record.status} />
        </span>
        {record.verificationCode !== undefined && record.status === 'unverified' ? (
          <span class="notice-code">Not shown: {record.verificationCode}</span>
        ) : null}
      </button>
    </li>
  );
}
