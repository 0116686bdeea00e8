import { type ErrorCode, isErrorCode, MpayError, parseTillCode } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { minorOf } from '../shop/api.ts';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice } from '../ui/components.tsx';
import { formatMoney, formatTime, parseMoney, shortId } from '../ui/format.ts';
import type { SaleStatus, SaleView, TillClient } from './api.ts';
import { QrImage } from './qr-image.tsx';

/** How often the till asks the shop for the sale while it can still change. */
export const salePollMs = 1_000;
const salePollBackoffMsMax = 10_000;
const saleKey = 'mpay-till:sale';

const openStatuses: ReadonlySet<SaleStatus> = new Set<SaleStatus>(['waiting', 'claimed']);

const headings: Readonly<Record<SaleStatus, string>> = {
  waiting: 'Scan to pay',
  claimed: 'Claimed',
  paid: 'Paid',
  declined: 'Declined',
  expired: 'Expired',
  failed: 'Failed',
  cancelled: 'Cancelled',
  on_hold: 'On hold',
};

const fallbackCodes: Readonly<Partial<Record<SaleStatus, ErrorCode>>> = {
  declined: 'PAYMENT_DECLINED',
  expired: 'PAYMENT_EXPIRED',
  cancelled: 'PAYMENT_CANCELLED',
  failed: 'PAYMENT_DECLINED',
};

/**
 * The page reads the code before it shows it: a well-formed till code
 * (layout and CRC) for exactly this sale's transaction and amount. The
 * signature is the shop's own, made with the merchant's key; customers'
 * wallets verify it against the FSP's certificate.
 */
function checkCode(sale: SaleView): unknown {
  try {
    const code = parseTillCode(sale.qrPayload);
    const matches =
      code.transactionId === sale.saleId &&
      code.amount.currency === sale.amount.currency &&
      code.amount.minor === minorOf(sale.amount);
    return matches ? undefined : new MpayError('QR_INVALID', 'the code does not match the sale');
  } catch (error) {
    return error;
  }
}

function useSale(till: TillClient, saleId: string, initial: SaleView | undefined) {
  const [sale, setSale] = useState<SaleView | undefined>(initial);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delayMs = salePollMs;
    const read = async () => {
      try {
        const current = await till.sale(saleId);
        if (stopped) return;
        setSale(current);
        setError(undefined);
        delayMs = salePollMs;
        if (!openStatuses.has(current.status)) return;
      } catch (caught) {
        if (stopped) return;
        setError(caught);
        delayMs = Math.min(delayMs * 2, salePollBackoffMsMax);
      }
      timer = setTimeout(() => void read(), delayMs);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [till, saleId]);
  return { sale, setSale, error };
}

function Receipt(props: { readonly sale: SaleView; readonly onNewSale: () => void }): JSX.Element {
  const { sale } = props;
  return (
    <section class="card card-good receipt" aria-label="Receipt">
      <h2>Paid</h2>
      <p class="receipt-merchant">Merkur Trade · Skopje</p>
      <p class="amount">{formatMoney(minorOf(sale.amount), sale.amount.currency)}</p>
      <Facts
        testId="receipt"
        items={[
          ['Reference', sale.reference ?? '—'],
          ['Paid', sale.paidAt === null ? '—' : formatTime(sale.paidAt)],
          ['Customer', sale.customer ?? '—'],
          ['Sale', <span class="mono">{sale.saleId}</span>],
          ['Level', sale.securityLevel ?? '—'],
        ]}
      />
      <p class="muted small">
        The shop marked this sale paid on the FSP's signed confirmation (mpay m-trade, iMS §2.2).
      </p>
      <div class="button-row no-print">
        <Button onClick={() => window.print()}>Print receipt</Button>
        <Button kind="secondary" onClick={props.onNewSale}>
          New sale
        </Button>
      </div>
    </section>
  );
}

/** One sale followed live: its QR code while waiting, who claimed it, the outcome, the receipt. */
export function SaleScreen(props: {
  readonly till: TillClient;
  readonly saleId: string;
  readonly initial: SaleView | undefined;
  readonly onNewSale: () => void;
}): JSX.Element {
  const { sale, setSale, error } = useSale(props.till, props.saleId, props.initial);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>();
  if (sale === undefined) {
    return error === undefined ? <Busy label="Loading the sale…" /> : <ErrorNotice error={error} />;
  }
  if (sale.status === 'paid') return <Receipt sale={sale} onNewSale={props.onNewSale} />;
  const amount = formatMoney(minorOf(sale.amount), sale.amount.currency);
  const codeProblem = checkCode(sale);
  const cancel = async () => {
    setCancelling(true);
    setCancelError(undefined);
    try {
      setSale(await props.till.cancelSale(sale.saleId));
    } catch (caught) {
      setCancelError(caught);
    } finally {
      setCancelling(false);
    }
  };
  const open = openStatuses.has(sale.status);
  const failure: ErrorCode | undefined = open
    ? undefined
    : isErrorCode(sale.failureCode)
      ? sale.failureCode
      : fallbackCodes[sale.status];
  return (
    <Card tone={open ? 'default' : 'bad'} testId="sale">
      <div class="row">
        <h2 aria-live="polite">{headings[sale.status]}</h2>
        <span class={`badge ${open ? '' : 'badge-bad'}`}>{sale.status}</span>
      </div>
      <p class="amount till-amount">{amount}</p>
      {sale.reference === null ? null : <p class="muted">{sale.reference}</p>}
      {sale.status === 'waiting' ? (
        codeProblem === undefined ? (
          <>
            <QrImage payload={sale.qrPayload} label={`QR code to pay ${amount} to Merkur Trade`} />
            <p class="till-hint">
              Ask the customer to scan this code with the mpay wallet. Valid until{' '}
              {new Date(sale.codeExpiresAt).toLocaleTimeString()}.
            </p>
            <Busy label="Waiting for the customer to scan…" />
          </>
        ) : (
          <>
            <Notice tone="bad">
              This code does not match the sale, so it is not shown. Start a new sale.
            </Notice>
            <ErrorNotice error={codeProblem} />
          </>
        )
      ) : null}
      {sale.status === 'claimed' ? (
        <>
          <p>
            Claimed by <strong>{sale.customer ?? 'a customer'}</strong>.
          </p>
          <Busy label="Waiting for the customer to confirm on their phone…" />
        </>
      ) : null}
      {sale.status === 'on_hold' ? (
        <Notice tone="warn">
          A payment arrived that does not match this sale. Nothing counts as paid; the operator decides.
        </Notice>
      ) : null}
      {failure === undefined ? null : <ErrorNotice error={{ code: failure }} />}
      {error === undefined ? null : (
        <Notice tone="warn">The connection to the shop was lost; the till keeps trying.</Notice>
      )}
      <ErrorNotice error={cancelError} />
      <div class="button-row">
        {open ? (
          <Button kind="danger" onClick={() => void cancel()} busy={cancelling}>
            Cancel sale
          </Button>
        ) : (
          <Button onClick={props.onNewSale}>New sale</Button>
        )}
      </div>
      <p class="muted small">
        Sale <span title={sale.saleId}>{shortId(sale.saleId)}</span> · {formatTime(sale.createdAt)}
      </p>
    </Card>
  );
}

/** The staff enter an amount and a reference; the shop signs the code. */
export function NewSaleForm(props: {
  readonly till: TillClient;
  readonly currency: string;
  readonly onCreated: (sale: SaleView) => void;
}): JSX.Element {
  const [amountText, setAmountText] = useState('');
  const [reference, setReference] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  // One key per sale entered: a retry after a lost answer repeats it, so one sale gets one code.
  const [idempotencyKey, setIdempotencyKey] = useState<string | undefined>();
  const edit = (apply: () => void) => {
    apply();
    setIdempotencyKey(undefined);
  };
  const submit = async () => {
    const minor = parseMoney(amountText, props.currency);
    if (minor === undefined || minor <= 0n) {
      setError(new MpayError('AMOUNT_INVALID', 'amount'));
      return;
    }
    const key = idempotencyKey ?? crypto.randomUUID();
    setIdempotencyKey(key);
    setBusy(true);
    setError(undefined);
    try {
      const sale = await props.till.createSale(key, { currency: props.currency, minor }, reference);
      setIdempotencyKey(undefined);
      setAmountText('');
      setReference('');
      props.onCreated(sale);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="New sale">
      <Form onSubmit={() => void submit()} label="New sale">
        <Field
          label={`Amount (${props.currency})`}
          value={amountText}
          onInput={(value) => edit(() => setAmountText(value))}
          inputMode="decimal"
          required
          maxLength={16}
          hint="For example 7.80"
        />
        <Field
          label="Reference (optional)"
          value={reference}
          onInput={(value) => edit(() => setReference(value))}
          maxLength={64}
          hint="What the customer sees with the request, e.g. “Table 4: 2 coffees”."
        />
        <ErrorNotice error={error} onRetry={() => void submit()} />
        <Button type="submit" busy={busy}>
          Show QR code
        </Button>
      </Form>
    </Card>
  );
}

/** The sale the till shows, kept across a reload of this tab. */
export function readCurrentSale(): string | undefined {
  const id = sessionStorage.getItem(saleKey);
  return id !== null && /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

export function writeCurrentSale(saleId: string | undefined): void {
  if (saleId === undefined) sessionStorage.removeItem(saleKey);
  else sessionStorage.setItem(saleKey, saleId);
}
