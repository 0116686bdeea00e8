import { errorCategoryOf, isErrorCode, isMpayError } from '@mpay/protocol';
import type { PaymentRequestView, TillOffer, Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, Card, ErrorNotice, Facts, Field, Form, Notice } from '../../ui/components.tsx';
import { formatMoney, shortId } from '../../ui/format.ts';
import {
  asksSecondFactor,
  expiresAtOf,
  expiryText,
  levelApplied,
  levelAsks,
  levelName,
  procedureName,
} from './level.ts';
import { useNow } from './now.ts';
import { type PinProblem, pinProblemOf, wrongPinText } from './pin.ts';
import { type PaymentRecord, paymentRecordOf } from './store.ts';

const codePattern = /^[0-9]{6,8}$/;

/** Whether a failed confirmation leaves the payment open (the PIN, a lost answer) or ends it. */
function endsThePayment(error: unknown): boolean {
  if (pinProblemOf(error) !== undefined) return false;
  const code = isMpayError(error) ? error.code : undefined;
  if (code === undefined || !isErrorCode(code)) return false;
  if (code === 'SECOND_FACTOR_REQUIRED') return false;
  return errorCategoryOf(code) !== 'retryable';
}

function countdown(until: Date, now: Date): string {
  const seconds = Math.max(0, Math.floor((until.getTime() - now.getTime()) / 1000));
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, '0')}`;
}

function Lines(props: { readonly items: readonly string[] }): JSX.Element {
  return (
    <ul class="ims-lines">
      {props.items.map((item) => (
        <li key={item}>{item}</li>
      ))}
    </ul>
  );
}

/** What the customer was asked to pay, as the SDK verified it. */
function RequestFacts(props: {
  readonly view: PaymentRequestView;
  readonly expiresAt: Date | undefined;
  readonly now: Date;
}): JSX.Element {
  const { view, expiresAt, now } = props;
  const applied = levelApplied(view.protections);
  return (
    <Facts
      testId="request-facts"
      items={[
        [
          'Level',
          <span class={`badge ${view.securityLevel === 'large' ? 'badge-warn' : ''}`}>
            {levelName(view.securityLevel)}
          </span>,
        ],
        ['Asks for', <Lines items={levelAsks(view.protections)} />],
        ...(applied.length === 0 ? [] : [['Protections', <Lines items={applied} />] as const]),
        ['Where', procedureName(view.procedure)],
        [
          'Expires',
          expiresAtOf(view) === undefined || expiresAt === undefined
            ? 'unknown'
            : `${expiryText(expiresAt, now)} (${
                expiresAt.getTime() <= now.getTime() ? 'expired' : `in ${countdown(expiresAt, now)}`
              })`,
        ],
        [
          'Payment',
          <span class="mono" title={view.paymentId}>
            {shortId(view.paymentId)}
          </span>,
        ],
      ]}
    />
  );
}

/**
 * One payment request, verified by the SDK: the merchant as the FSP
 * certified it, the amount, the level and what it asks, the expiry. One
 * action plus the PIN (and the code the customer's authenticator app shows,
 * typed in, when the level asks for it) confirms; the same PIN declines. An expired request, or one whose
 * sealed details this phone could not open, has no pay button.
 */
export function RequestScreen(props: {
  readonly wallet: Wallet;
  readonly view: PaymentRequestView;
  /** The till's code the customer scanned, when this is its request (already matched). */
  readonly offer?: TillOffer | undefined;
  readonly wrongPins: number;
  readonly onPinProblem: (problem: PinProblem) => void;
  readonly onPinAccepted: () => void;
  readonly onPaid: (record: PaymentRecord) => void;
  readonly onDeclined: (record: PaymentRecord) => void;
  readonly onRefused: (record: PaymentRecord, error: unknown) => void;
  readonly onBack: () => void;
}): JSX.Element {
  const { wallet, view } = props;
  const [pin, setPin] = useState('');
  const [secondFactorCode, setSecondFactorCode] = useState('');
  const [busy, setBusy] = useState<'paying' | 'declining' | undefined>();
  const [wrongPin, setWrongPin] = useState(false);
  const [problem, setProblem] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const now = useNow();
  const expiresAt = expiresAtOf(view);
  const expired = expiresAt !== undefined && expiresAt.getTime() <= now.getTime();
  const unreadable = view.privateDataUnreadable === true;
  const asksCode = asksSecondFactor(view);
  const amount = formatMoney(view.amount.minor, view.amount.currency);

  const failed = (failure: unknown, action: 'pay' | 'decline') => {
    setBusy(undefined);
    const pinProblem = pinProblemOf(failure);
    if (pinProblem !== undefined) {
      setPin('');
      setWrongPin(pinProblem.kind === 'wrong');
      return props.onPinProblem(pinProblem);
    }
    props.onPinAccepted();
    if (action === 'pay' && endsThePayment(failure)) {
      const code = isMpayError(failure) ? failure.code : 'UNEXPECTED';
      return props.onRefused(paymentRecordOf(view, 'refused', { failureCode: code }), failure);
    }
    setError(failure);
  };

  const before = (): boolean => {
    setWrongPin(false);
    setProblem(undefined);
    setError(undefined);
    if (!/^[0-9]{4,12}$/.test(pin)) {
      setProblem('Enter your PIN (4 to 12 digits).');
      return false;
    }
    return true;
  };

  const pay = () => {
    if (busy !== undefined || expired || unreadable || !before()) return;
    if (asksCode && !codePattern.test(secondFactorCode.replace(/\s/g, ''))) {
      return setProblem('This payment asks for the 6-digit code your authenticator app shows.');
    }
    setBusy('paying');
    wallet.confirm(view, pin, asksCode ? { secondFactorCode: secondFactorCode.replace(/\s/g, '') } : {}).then(
      (receipt) => {
        setBusy(undefined);
        setPin('');
        props.onPinAccepted();
        const content = (receipt.payload.receipt ?? {}) as Record<string, unknown>;
        props.onPaid(
          paymentRecordOf(view, 'completed', {
            receiptJws: receipt.jws,
            ...(typeof content.completedAt === 'string' ? { at: content.completedAt } : {}),
            ...(typeof content.bankTransferId === 'string' ? { bankTransferId: content.bankTransferId } : {}),
          }),
        );
      },
      (failure: unknown) => failed(failure, 'pay'),
    );
  };

  const decline = () => {
    if (busy !== undefined || !before()) return;
    setBusy('declining');
    wallet.decline(view, pin).then(
      () => {
        setBusy(undefined);
        setPin('');
        props.onPinAccepted();
        props.onDeclined(paymentRecordOf(view, 'declined'));
      },
      (failure: unknown) => failed(failure, 'decline'),
    );
  };

  return (
    <Card title="Payment request" testId="payment-request">
      <p class="ims-merchant">{view.merchant.name}</p>
      <p class="ims-verified">
        <span class="badge badge-good">✓ Verified</span> <span class="mono">{view.merchant.id}</span>
      </p>
      {view.merchant.nameCertified === false ? (
        <p class="muted ims-small" data-testid="name-not-certified">
          The payment service has not certified a name for this merchant: check the merchant's id above.
        </p>
      ) : null}
      <p class="muted ims-small">
        Signed by the merchant with the key the payment service certified, and countersigned by the payment
        service. Checked on this phone.
      </p>
      <p class="amount" data-testid="request-amount">
        {amount}
      </p>
      {view.description === undefined ? null : <p>{view.description}</p>}
      {view.orderLines === undefined || view.orderLines.length === 0 ? null : (
        <ul class="list" aria-label="What you buy">
          {view.orderLines.map((line, index) => (
            <li key={`${index}-${line.name}`} class="row">
              <span>
                {line.quantity} × {line.name}
              </span>
              <span>
                {formatMoney(line.unitAmount.minor * BigInt(line.quantity), line.unitAmount.currency)}
              </span>
            </li>
          ))}
        </ul>
      )}
      <RequestFacts view={view} expiresAt={expiresAt} now={now} />
      {props.offer === undefined ? null : (
        <Notice tone="good">
          The till's QR code you scanned asked for exactly this: same merchant, amount and payment.
        </Notice>
      )}
      {expired ? (
        <Notice tone="bad" testId="request-expired">
          <strong>This request has expired.</strong>
          <p>It can no longer be paid. Ask the merchant for a new one.</p>
        </Notice>
      ) : null}
      {unreadable ? (
        <Notice tone="warn">
          <strong>This phone could not open the request's sealed details.</strong>
          <p>You cannot see what you would pay for, so it cannot be paid here. You can decline it.</p>
        </Notice>
      ) : null}
      {expired ? (
        <Button kind="secondary" onClick={props.onBack}>
          Back to requests
        </Button>
      ) : (
        <Form onSubmit={pay} label="Answer the payment request">
          <Field
            label="PIN"
            value={pin}
            onInput={setPin}
            type="password"
            inputMode="numeric"
            autoComplete="off"
            maxLength={12}
          />
          {asksCode && !unreadable ? (
            <Field
              label="Authenticator code"
              value={secondFactorCode}
              onInput={setSecondFactorCode}
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={9}
              hint="The 6-digit code your authenticator app shows now. It goes to your bank sealed: the payment service cannot read it."
            />
          ) : null}
          {wrongPin ? (
            <Notice tone="bad" testId="pin-error">
              {wrongPinText('session', props.wrongPins)}
            </Notice>
          ) : null}
          {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
          <ErrorNotice error={error} onRetry={busy === undefined ? pay : undefined} />
          <div class="button-row">
            {unreadable ? null : (
              <Button type="submit" busy={busy === 'paying'} disabled={busy === 'declining'}>
                Pay {amount}
              </Button>
            )}
            <Button kind="danger" onClick={decline} busy={busy === 'declining'} disabled={busy === 'paying'}>
              Decline
            </Button>
          </div>
          {busy === 'paying' ? (
            <p class="muted">Signing on this phone; your bank checks your signature and moves the money…</p>
          ) : null}
          <Button kind="secondary" onClick={props.onBack} disabled={busy !== undefined}>
            Back to requests
          </Button>
        </Form>
      )}
    </Card>
  );
}
