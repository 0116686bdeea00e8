import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Card, ErrorNotice } from '../../ui/components.tsx';
import { formatMoney, formatTime } from '../../ui/format.ts';
import { listPayments, type PaymentRecord } from './store.ts';

const statusBadges: Readonly<Record<PaymentRecord['status'], { label: string; tone: string }>> = {
  completed: { label: 'Paid', tone: 'badge-good' },
  declined: { label: 'Declined', tone: '' },
  refused: { label: 'Not paid', tone: 'badge-bad' },
};

/** The payments this phone answered, newest first, from IndexedDB; each opens its receipt. */
export function HistoryPanel(props: { readonly onOpen: (record: PaymentRecord) => void }): JSX.Element {
  const [records, setRecords] = useState<readonly PaymentRecord[] | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    listPayments().then(setRecords, setError);
  }, []);
  return (
    <Card title="History">
      <ErrorNotice error={error} />
      {records === undefined ? (
        error === undefined ? (
          <Busy label="Loading…" />
        ) : null
      ) : records.length === 0 ? (
        <p class="muted">No payments yet.</p>
      ) : (
        <ul class="list ims-history" aria-label="Payments, newest first">
          {records.map((record) => {
            const badge = statusBadges[record.status];
            return (
              <li key={record.paymentId}>
                <button type="button" class="ims-item" onClick={() => props.onOpen(record)}>
                  <span class="row">
                    <strong>{record.merchantName}</strong>
                    <span>{formatMoney(BigInt(record.amountMinor), record.currency)}</span>
                  </span>
                  <span class="row">
                    <span class="muted">{formatTime(record.at)}</span>
                    <span class={`badge ${badge.tone}`}>{badge.label}</span>
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}
