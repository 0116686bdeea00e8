import { MpayError } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { minorOf } from '../shop/api.ts';
import { Busy, Button, Card, ErrorNotice, Field, Form } from '../ui/components.tsx';
import { formatMoney, formatTime, parseMoney, shortId } from '../ui/format.ts';
import { isRefundOpen, type PaidPaymentView, type RefundView, type TillClient } from './api.ts';

/** How many recent paid payments the desk lists. */
const paymentsListed = 20;
/** How often open refunds are read again (the banks pay back in the background). */
export const refundPollMs = 1_500;

const refundTone: Readonly<Record<RefundView['status'], string>> = {
  requested: 'badge',
  ordered: 'badge badge-warn',
  completed: 'badge badge-good',
  refused: 'badge badge-bad',
  failed: 'badge badge-bad',
};

const refundWords: Readonly<Record<RefundView['status'], string>> = {
  requested: 'Requested',
  ordered: 'On its way',
  completed: 'Refunded',
  refused: 'Refused',
  failed: 'Failed',
};

function RefundLine(props: { readonly refund: RefundView }): JSX.Element {
  const { refund } = props;
  return (
    <li class="row refund-line">
      <span>
        {formatMoney(minorOf(refund.amount), refund.amount.currency)}
        {refund.reason === null ? null : <span class="muted"> · {refund.reason}</span>}
      </span>
      <span class={refundTone[refund.status]} data-testid="refund-status">
        {refundWords[refund.status]}
      </span>
      {refund.failureCode === null ? null : <ErrorNotice error={{ code: refund.failureCode }} />}
    </li>
  );
}

function RefundForm(props: {
  readonly till: TillClient;
  readonly payment: PaidPaymentView;
  readonly onDone: () => void;
  readonly onCancel: () => void;
}): JSX.Element {
  const { payment } = props;
  const currency = payment.refundable.currency;
  const left = BigInt(payment.refundable.minor);
  const [amountText, setAmountText] = useState(
    formatMoney(left, currency)
      .replace(/^[A-Z]{3} /, '')
      .replace(/,/g, ''),
  );
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  // The refund's id is its idempotency key at the shop and the FSP: kept across retries of this form.
  const [refundId, setRefundId] = useState(() => crypto.randomUUID());
  const minor = parseMoney(amountText, currency);
  const submit = async () => {
    if (minor === undefined || minor <= 0n) {
      setError(new MpayError('AMOUNT_INVALID', 'amount'));
      return;
    }
    if (minor > left) {
      setError(new MpayError('REFUND_EXCEEDS_ORIGINAL'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.till.refund({
        paymentId: payment.paymentId,
        refundId,
        amount: { currency, minor },
        reason,
      });
      setRefundId(crypto.randomUUID());
      props.onDone();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Form onSubmit={() => void submit()} label={`Refund ${payment.description}`}>
      <Field
        label={`Amount to refund (${currency})`}
        value={amountText}
        onInput={setAmountText}
        inputMode="decimal"
        required
        maxLength={16}
        hint={`At most ${formatMoney(left, currency)} is left to refund.`}
      />
      <Field label="Reason (optional)" value={reason} onInput={setReason} maxLength={200} />
      <ErrorNotice error={error} onRetry={() => void submit()} />
      <div class="button-row refund-actions">
        <Button type="submit" kind="danger" busy={busy}>
          {minor === undefined || minor <= 0n ? 'Refund' : `Refund ${formatMoney(minor, currency)}`}
        </Button>
        <Button kind="secondary" onClick={props.onCancel} disabled={busy}>
          Close
        </Button>
      </div>
    </Form>
  );
}

function PaymentItem(props: {
  readonly till: TillClient;
  readonly payment: PaidPaymentView;
  readonly onChanged: () => void;
}): JSX.Element {
  const { payment } = props;
  const [open, setOpen] = useState(false);
  const left = BigInt(payment.refundable.minor);
  return (
    <li class="payment-item" data-testid="paid-payment">
      <div class="line">
        <strong class="payment-description">{payment.description}</strong>
        <strong>{formatMoney(minorOf(payment.amount), payment.amount.currency)}</strong>
      </div>
      <p class="muted small">
        <span class="badge">{payment.kind === 'sale' ? 'Till sale' : 'Shop order'}</span>{' '}
        {formatTime(payment.at)} · <span title={payment.paymentId}>{shortId(payment.paymentId)}</span>
        {payment.customer === null ? null : <> · {payment.customer}</>}
      </p>
      {payment.refunds.length === 0 ? null : (
        <ul class="list refund-list" aria-label="Refunds">
          {payment.refunds.map((refund) => (
            <RefundLine key={refund.refundId} refund={refund} />
          ))}
        </ul>
      )}
      {open ? (
        <RefundForm
          till={props.till}
          payment={payment}
          onDone={() => {
            setOpen(false);
            props.onChanged();
          }}
          onCancel={() => setOpen(false)}
        />
      ) : left === 0n ? (
        <p class="muted small">Fully refunded.</p>
      ) : (
        <Button kind="secondary" onClick={() => setOpen(true)}>
          Refund…
        </Button>
      )}
    </li>
  );
}

/**
 * The refund desk: the recent paid sales and orders; a refund in full or in
 * part of each, signed by the shop with the merchant's key and sent to the
 * FSP; and each refund's status, read again until the banks have answered.
 */
export function RefundDesk(props: { readonly till: TillClient }): JSX.Element {
  const [payments, setPayments] = useState<readonly PaidPaymentView[] | undefined>();
  const [error, setError] = useState<unknown>();
  const load = useCallback(async () => {
    try {
      setPayments(await props.till.payments(paymentsListed));
      setError(undefined);
    } catch (caught) {
      setError(caught);
    }
  }, [props.till]);
  useEffect(() => {
    void load();
  }, [load]);
  const openRefunds = (payments ?? []).flatMap((payment) =>
    payment.refunds.filter((refund) => isRefundOpen(refund.status)).map((refund) => refund.refundId),
  );
  const waitingFor = openRefunds.join(',');
  useEffect(() => {
    if (waitingFor === '') return;
    const timer = setTimeout(() => {
      void (async () => {
        for (const refundId of waitingFor.split(',')) {
          await props.till.refundStatus(refundId).catch(() => undefined);
        }
        await load();
      })();
    }, refundPollMs);
    return () => clearTimeout(timer);
  }, [waitingFor, payments, load, props.till]);
  return (
    <Card title="Refunds">
      <p class="muted small">Recent paid till sales and shop orders. Refund all or part of one.</p>
      <ErrorNotice error={error} onRetry={() => void load()} />
      {payments === undefined ? (
        error === undefined ? (
          <Busy label="Loading payments…" />
        ) : null
      ) : payments.length === 0 ? (
        <p class="muted">No paid sales or orders yet.</p>
      ) : (
        <ul class="list" aria-label="Paid payments">
          {payments.map((payment) => (
            <PaymentItem
              key={payment.paymentId}
              till={props.till}
              payment={payment}
              onChanged={() => void load()}
            />
          ))}
        </ul>
      )}
      <Button kind="secondary" onClick={() => void load()}>
        Refresh
      </Button>
    </Card>
  );
}
