import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Card, ErrorNotice } from '../../ui/components.tsx';
import { formatMoney, formatTime } from '../../ui/format.ts';
import { RefundEntry } from '../refund-screen.tsx';
import { listPayments, listRefunds, type PaymentRecord, type RefundRecord } from './store.ts';

const statusBadges: Readonly<Record<PaymentRecord['status'], { label: string; tone: string }>> = {
  completed: { label: 'Paid', tone: 'badge-good' },
  declined: { label: 'Declined', tone: '' },
  refused: { label: 'Not paid', tone: 'badge-bad' },
  cancelled: { label: 'Withdrawn', tone: '' },
  expired: { label: 'Expired', tone: '' },
};

type Entry =
  | { readonly kind: 'payment'; readonly at: string; readonly record: PaymentRecord }
  | { readonly kind: 'refund'; readonly at: string; readonly record: RefundRecord };

/** Payments and refunds in one list, newest first. */
async function listEntries(): Promise<Entry[]> {
  const [payments, refunds] = await Promise.all([listPayments(), listRefunds()]);
  const entries: Entry[] = [
    ...payments.map((record) => ({ kind: 'payment' as const, at: record.at, record })),
    ...refunds.map((record) => ({ kind: 'refund' as const, at: record.at, record })),
  ];
  return entries.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

/**
 * What this phone answered and was given back, newest first, from
 * IndexedDB: each payment opens its receipt, each refund its refund receipt.
 */
export function HistoryPanel(props: {
  readonly onOpen: (record: PaymentRecord) => void;
  readonly onOpenRefund: (record: RefundRecord) => void;
}): JSX.Element {
  const [entries, setEntries] = useState<readonly Entry[] | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    listEntries().then(setEntries, setError);
  }, []);
  return (
    <Card title="History">
      <ErrorNotice error={error} />
      {entries === undefined ? (
        error === undefined ? (
          <Busy label="Loading…" />
        ) : null
      ) : entries.length === 0 ? (
        <p class="muted">No payments yet.</p>
      ) : (
        <ul class="list ims-history" aria-label="Payments and refunds, newest first">
          {entries.map((entry) =>
            entry.kind === 'payment' ? (
              <li key={`payment:${entry.record.paymentId}`}>
                <button type="button" class="item-button" onClick={() => props.onOpen(entry.record)}>
                  <span class="row">
                    <strong>{entry.record.merchantName}</strong>
                    <span>{formatMoney(BigInt(entry.record.amountMinor), entry.record.currency)}</span>
                  </span>
                  <span class="row">
                    <span class="muted">{formatTime(entry.record.at)}</span>
                    <span class={`badge ${statusBadges[entry.record.status].tone}`}>
                      {statusBadges[entry.record.status].label}
                    </span>
                  </span>
                </button>
              </li>
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
