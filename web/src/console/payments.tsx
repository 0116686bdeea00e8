import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, ErrorNotice, Facts, Select } from '../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../ui/format.ts';
import { consoleApi, type PaymentDetail, type PaymentSummary, type PaymentsPage } from './api.ts';
import { formatInstant, LoadedView, Panel, RefreshButton, StatusBadge, useLoad } from './parts.tsx';

/** The public statuses, in the order a payment goes through them. */
const statuses = [
  'requested',
  'awaiting_customer',
  'authorised',
  'completed',
  'declined',
  'cancelled',
  'expired',
  'failed',
] as const;

const pageSize = 20;

function amountOf(payment: PaymentSummary): string {
  return formatMoney(BigInt(payment.amount.minor), payment.amount.currency);
}

function PaymentRows(props: {
  readonly payments: readonly PaymentSummary[];
  readonly onOpen: (id: string) => void;
}): JSX.Element {
  if (props.payments.length === 0) return <p class="muted">No payments with this status.</p>;
  return (
    <div class="table-scroll">
      <table class="console-table console-cards">
        <thead>
          <tr>
            <th scope="col">Requested</th>
            <th scope="col">Payment</th>
            <th scope="col">Merchant</th>
            <th scope="col">Customer</th>
            <th scope="col" class="console-number">
              Amount
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {props.payments.map((payment) => (
            <tr key={payment.id}>
              <td class="console-nowrap" data-label="Requested">
                {formatTime(payment.createdAt)}
              </td>
              <td data-label="Payment">
                <button
                  type="button"
                  class="console-link mono"
                  aria-label={`Payment ${payment.id}`}
                  title={payment.id}
                  onClick={() => props.onOpen(payment.id)}
                >
                  {shortId(payment.id)}
                </button>
              </td>
              <td data-label="Merchant">{payment.merchant.displayName}</td>
              <td data-label="Customer">{payment.customer.displayName}</td>
              <td class="console-number console-nowrap" data-label="Amount">
                {amountOf(payment)}
              </td>
              <td data-label="Status">
                <StatusBadge status={payment.status} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Steps(props: { readonly steps: PaymentDetail['steps'] }): JSX.Element {
  return (
    <ol class="console-steps" aria-label="Protocol steps">
      {props.steps.map((step) => (
        <li key={step.sequence}>
          <div class="row">
            <strong>{step.step ?? 'step'}</strong>
            <span class="muted console-nowrap">{formatInstant(step.at)}</span>
          </div>
          <p class="mono">
            {step.from === null ? 'new' : step.from} → {step.to}
          </p>
          <p class="muted">
            {step.event === null
              ? 'the merchant’s request arrived'
              : `event: ${step.event.replace(/_/g, ' ')}`}
            {step.detail === null ? '' : ` — ${step.detail}`}
          </p>
        </li>
      ))}
    </ol>
  );
}

function Effects(props: { readonly effects: PaymentDetail['effects'] }): JSX.Element {
  if (props.effects.length === 0) return <p class="muted">No effects queued.</p>;
  return (
    <div class="table-scroll">
      <table class="console-table">
        <thead>
          <tr>
            <th scope="col">Effect</th>
            <th scope="col">State</th>
            <th scope="col" class="console-number">
              Attempts
            </th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {props.effects.map((effect, index) => (
            <tr key={`${effect.kind}-${index}`}>
              <td>{effect.kind.replace(/_/g, ' ')}</td>
              <td>
                <StatusBadge status={effect.state} />
              </td>
              <td class="console-number">{effect.attempts}</td>
              <td class="mono">{effect.lastError ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PaymentView(props: { readonly id: string; readonly onClose: () => void }): JSX.Element {
  const loaded = useLoad(() => consoleApi.get<PaymentDetail>(`/payments/${props.id}`));
  return (
    <Panel
      title="Payment"
      actions={
        <>
          <RefreshButton loaded={loaded} />
          <Button kind="secondary" onClick={props.onClose}>
            Back to the list
          </Button>
        </>
      }
    >
      <LoadedView loaded={loaded} label="Reading the payment…">
        {({ payment, steps, effects, log }) => (
          <>
            <Facts
              testId="payment-facts"
              items={[
                ['Payment', <span class="mono">{payment.id}</span>],
                ['Status', <StatusBadge status={payment.status} />],
                ['State', <span class="mono">{payment.state}</span>],
                ['Amount', amountOf(payment)],
                ['Merchant', `${payment.merchant.displayName} (${payment.merchant.id})`],
                ['Customer', `${payment.customer.displayName} (${payment.customer.id})`],
                ['Procedure', payment.procedure],
                ['Security level', payment.securityLevel],
                ['Requested', formatTime(payment.createdAt)],
                ['Last change', formatTime(payment.updatedAt)],
                ...(payment.failureCode === undefined
                  ? []
                  : ([['Failure', <span class="mono">{payment.failureCode}</span>]] as const)),
                [
                  'Log entry',
                  log === null
                    ? 'not logged'
                    : `${log.index === null ? 'submitting' : `entry ${log.index}`}${log.receipted ? ', receipt in' : ', waiting for its receipt'}`,
                ],
              ]}
            />
            <h3>Protocol steps</h3>
            <Steps steps={steps} />
            <h3>Effects</h3>
            <Effects effects={effects} />
          </>
        )}
      </LoadedView>
    </Panel>
  );
}

/** Payments by status, newest first, with each one's protocol steps. */
export function PaymentsView(): JSX.Element {
  const [status, setStatus] = useState<string>('');
  const [open, setOpen] = useState<string | undefined>();
  const [more, setMore] = useState<readonly PaymentSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [moreError, setMoreError] = useState<unknown>();
  const query = (after?: string) =>
    `/payments?limit=${pageSize}${status === '' ? '' : `&status=${status}`}${after === undefined ? '' : `&after=${after}`}`;
  const loaded = useLoad(
    async () => {
      const page = await consoleApi.get<PaymentsPage>(query());
      setMore([]);
      setNext(page.next);
      return page;
    },
    { key: status },
  );
  const choose = (value: string) => {
    setStatus(value);
    setMore([]);
  };
  const loadMore = async () => {
    if (next === null) return;
    try {
      const page = await consoleApi.get<PaymentsPage>(query(next));
      setMore([...more, ...page.payments]);
      setNext(page.next);
      setMoreError(undefined);
    } catch (error) {
      setMoreError(error);
    }
  };
  const counts = loaded.value?.counts.byStatus ?? {};
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return (
    <>
      {open === undefined ? null : <PaymentView id={open} onClose={() => setOpen(undefined)} />}
      <Panel title="Payments" actions={<RefreshButton loaded={loaded} />}>
        <div class="console-filter">
          <Select
            label="Status"
            value={status}
            onChange={choose}
            options={[
              { value: '', label: `All (${total})` },
              ...statuses.map((candidate) => ({
                value: candidate,
                label: `${candidate.replace(/_/g, ' ')} (${counts[candidate] ?? 0})`,
              })),
            ]}
          />
        </div>
        <LoadedView loaded={loaded} label="Reading payments…">
          {(page) => (
            <>
              <PaymentRows payments={[...page.payments, ...more]} onOpen={setOpen} />
              <ErrorNotice error={moreError} />
              {next === null ? null : (
                <div class="button-row">
                  <Button kind="secondary" onClick={() => void loadMore()}>
                    Load more
                  </Button>
                </div>
              )}
            </>
          )}
        </LoadedView>
      </Panel>
    </>
  );
}
