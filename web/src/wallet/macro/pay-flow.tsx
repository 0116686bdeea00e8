import {
  type Amount,
  createAmount,
  defaultMacroLimits,
  type ErrorCode,
  isMpayError,
  MpayError,
  macroMpinPattern,
} from '@mpay/protocol';
import type {
  MacroApprovalOutcome,
  MacroBankClient,
  MacroClient,
  MacroConfirmation,
  OpenedMacroChallenge,
  PreparedMacroPayment,
} from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { apiUrl, type WebConfig } from '../../config.ts';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice } from '../../ui/components.tsx';
import { formatMoney, formatTime, parseMoney, shortId } from '../../ui/format.ts';
import { PartyId } from '../custody/party-id.tsx';
import { MacroBankApproval } from './bank-approval.tsx';
import { type VerifiedMerchant, verifiedMerchant } from './merchant.ts';
import { useNow, usePolling } from './polling.ts';
import { failureOfStatus, recordOfStarted, timeLeft, withPhase } from './records.ts';
import type { MacroDeviceRecord, MacroPaymentRecord, MacroRegistrationRecord } from './store.ts';
import { writePayment } from './store.ts';

/** What every step of a macro payment needs: the person's registration, device and the two clients. */
export interface MacroSession {
  readonly config: WebConfig;
  readonly device: MacroDeviceRecord;
  readonly registration: MacroRegistrationRecord;
  readonly clientId: string;
  /** The device's client of the MPASP (steps 1–5, its status): holds the payments in steps 2–5. */
  readonly client: MacroClient;
  /** The device's client of its own bank (steps 6, 7 and 11). */
  readonly bank: MacroBankClient;
  readonly bankName: string;
}

/** Where the person is in one payment. */
export type MacroFlow =
  | { readonly step: 'form' }
  | { readonly step: 'review'; readonly merchant: VerifiedMerchant; readonly amount: Amount }
  | { readonly step: 'challenge'; readonly payment: MacroPaymentRecord }
  | { readonly step: 'question'; readonly payment: MacroPaymentRecord; readonly opened: OpenedMacroChallenge }
  | { readonly step: 'bank'; readonly payment: MacroPaymentRecord }
  | { readonly step: 'outcome'; readonly payment: MacroPaymentRecord }
  | {
      readonly step: 'done';
      readonly payment: MacroPaymentRecord;
      readonly confirmation?: MacroConfirmation;
    };

function now(): string {
  return new Date().toISOString();
}

/** Codes after which this payment is over (the person starts a new one). */
const finalCodes: ReadonlySet<ErrorCode> = new Set([
  'AUTHENTICATION_FAILED',
  'PAYMENT_EXPIRED',
  'MACRO_CHALLENGE_DELETED',
  'MACRO_MPIN_BLOCKED',
  'MACRO_SECRET_ANSWER_BLOCKED',
  'PAYMENT_UNKNOWN',
]);

function finalCodeOf(error: unknown): ErrorCode | undefined {
  return isMpayError(error) && finalCodes.has(error.code) ? error.code : undefined;
}

/** The payment this person is making, step by step, in the order of §4.2. */
export function MacroPayFlow(props: {
  readonly session: MacroSession;
  readonly flow: MacroFlow;
  readonly onFlow: (flow: MacroFlow) => void;
  readonly onRecord: (record: MacroPaymentRecord) => void;
}): JSX.Element {
  const { session, flow, onFlow } = props;
  const save = async (record: MacroPaymentRecord) => {
    await writePayment(record);
    props.onRecord(record);
  };
  const fail = async (payment: MacroPaymentRecord, code: ErrorCode) => {
    const failed = withPhase(payment, 'failed', now(), { failureCode: code });
    await save(failed);
    onFlow({ step: 'done', payment: failed });
  };
  switch (flow.step) {
    case 'form':
      return (
        <PaymentForm
          session={session}
          onReview={(merchant, amount) => onFlow({ step: 'review', merchant, amount })}
        />
      );
    case 'review':
      return (
        <ReviewCard
          session={session}
          merchant={flow.merchant}
          amount={flow.amount}
          onBack={() => onFlow({ step: 'form' })}
          onStarted={async (payment) => {
            await save(payment);
            onFlow({ step: 'challenge', payment });
          }}
        />
      );
    case 'challenge':
      return (
        <ChallengeCard
          session={session}
          payment={flow.payment}
          onOpened={async (opened) => {
            const payment = withPhase(flow.payment, 'challenge_opened', now());
            await save(payment);
            onFlow({ step: 'question', payment, opened });
          }}
          onFailed={(code) => fail(flow.payment, code)}
        />
      );
    case 'question':
      return (
        <QuestionCard
          session={session}
          payment={flow.payment}
          opened={flow.opened}
          onAnswered={async (sessionId) => {
            const payment = withPhase(flow.payment, 'at_bank', now(), { sessionId });
            await save(payment);
            onFlow({ step: 'bank', payment });
          }}
          onFailed={(code) => fail(flow.payment, code)}
        />
      );
    case 'bank':
      return (
        <BankStep
          session={session}
          payment={flow.payment}
          onAnswered={async (outcome) => {
            const payment = withPhase(
              flow.payment,
              outcome.state === 'approved' ? 'approved' : 'declined',
              now(),
            );
            await save(payment);
            onFlow(outcome.state === 'approved' ? { step: 'outcome', payment } : { step: 'done', payment });
          }}
          onFailed={(code) => fail(flow.payment, code)}
        />
      );
    case 'outcome':
      return (
        <OutcomeStep
          session={session}
          payment={flow.payment}
          onDone={async (payment, confirmation) => {
            await save(payment);
            onFlow({ step: 'done', payment, ...(confirmation === undefined ? {} : { confirmation }) });
          }}
        />
      );
    case 'done':
      return (
        <DoneCard
          session={session}
          payment={flow.payment}
          {...(flow.confirmation === undefined ? {} : { confirmation: flow.confirmation })}
          onNew={() => onFlow({ step: 'form' })}
        />
      );
  }
}

/** A value of the page's link (`?merchant=…&amount=…`), bounded, or empty. */
function linked(name: 'merchant' | 'amount'): string {
  return (new URLSearchParams(window.location.search).get(name) ?? '').slice(0, 256);
}

/** What the person asks to pay: ID_M and AmtInfo_c (seed 002 §3: "client id, merchant id and payment transaction data"). */
function PaymentForm(props: {
  readonly session: MacroSession;
  readonly onReview: (merchant: VerifiedMerchant, amount: Amount) => void;
}): JSX.Element {
  const { config, registration } = props.session;
  // A merchant's checkout may link here with its id and the amount (`?merchant=…&amount=…#macro`):
  // only a prefill; the merchant is still looked up and its certificate verified before anything is sent.
  const [merchantId, setMerchantId] = useState(() => linked('merchant'));
  const [amountText, setAmountText] = useState(() => linked('amount'));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const review = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const minor = parseMoney(amountText, config.currency);
      if (minor === undefined || minor <= 0n) throw new MpayError('AMOUNT_INVALID');
      const amount = createAmount(config.currency, minor);
      const merchant = await verifiedMerchant(apiUrl(config, 'gateway'), registration.fsp, merchantId.trim());
      props.onReview(merchant, amount);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="New macro-payment">
      <Form onSubmit={review} label="Payment to a merchant">
        <Field
          label="Merchant id"
          value={merchantId}
          onInput={setMerchantId}
          hint="From the merchant's invoice or checkout, e.g. merkur.trade@merchant.ybank"
          required
          maxLength={256}
        />
        <Field
          label={`Amount (${config.currency})`}
          inputMode="decimal"
          value={amountText}
          onInput={setAmountText}
          hint="e.g. 129.90"
          required
          maxLength={16}
        />
        <ErrorNotice error={error} />
        <Button type="submit" busy={busy}>
          Continue
        </Button>
      </Form>
    </Card>
  );
}

/**
 * Step 1, sent once the person saw the merchant's certified name: the
 * request sealed under the device's request key. The prepared bytes are kept
 * so that "Try again" after a lost connection sends the same request under
 * the same idempotency key (the MPASP answers its first answer).
 */
function ReviewCard(props: {
  readonly session: MacroSession;
  readonly merchant: VerifiedMerchant;
  readonly amount: Amount;
  readonly onBack: () => void;
  readonly onStarted: (payment: MacroPaymentRecord) => Promise<void>;
}): JSX.Element {
  const { session, merchant, amount } = props;
  const [prepared, setPrepared] = useState<PreparedMacroPayment | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const send = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const request =
        prepared ??
        (await session.client.preparePayment({
          clientId: session.clientId,
          msisdn: session.registration.msisdn,
          merchantId: merchant.id,
          amount,
        }));
      setPrepared(request);
      const started = await session.client.sendPayment(request);
      await props.onStarted(recordOfStarted(started, merchant, amount, now()));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Check the payment">
      <p class="amount">{formatMoney(amount.minor, amount.currency)}</p>
      <Facts
        items={[
          [
            'To',
            <>
              {merchant.name}{' '}
              {merchant.nameCertified ? <span class="badge badge-good">certified by the FSP</span> : null}
            </>,
          ],
          ['Merchant', <PartyId id={merchant.id} />],
          ['Their bank', merchant.bankId],
          ['From', `your account at ${session.bankName}`],
        ]}
      />
      <ErrorNotice error={error} onRetry={send} />
      <div class="button-row">
        <Button busy={busy} onClick={send}>
          Send to the MPASP
        </Button>
        <Button kind="secondary" disabled={busy} onClick={props.onBack}>
          Change
        </Button>
      </div>
    </Card>
  );
}

function ExpiryFacts(props: { readonly payment: MacroPaymentRecord }): JSX.Element {
  const nowMs = useNow();
  const left = timeLeft(props.payment.expiresAt, nowMs);
  return (
    <Facts
      items={[
        ['To', props.payment.merchant.name],
        ['Amount', formatMoney(BigInt(props.payment.amount.minor), props.payment.amount.currency)],
        [
          'Transaction',
          <span class="mono" title={props.payment.transactionId}>
            {shortId(props.payment.transactionId)}
          </span>,
        ],
        ['Answer by', `${formatTime(props.payment.expiresAt)} (${left ?? 'expired'})`],
      ]}
    />
  );
}

/**
 * Steps 2–3: the MPASP answered with ID_T and T_EXP; its question is sealed
 * under a key that only an mPIN login at the MPASP gives. Opening it proves
 * the MPASP (§5.1.1). Three wrong mPINs delete it on this device.
 */
function ChallengeCard(props: {
  readonly session: MacroSession;
  readonly payment: MacroPaymentRecord;
  readonly onOpened: (opened: OpenedMacroChallenge) => Promise<void>;
  readonly onFailed: (code: ErrorCode) => Promise<void>;
}): JSX.Element {
  const [mPin, setMpin] = useState('');
  const [failures, setFailures] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const open = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onOpened(
        await props.session.client.openChallenge(props.payment.transactionId, mPin.trim()),
      );
    } catch (caught) {
      const code = finalCodeOf(caught);
      if (code !== undefined) {
        await props.onFailed(code);
        return;
      }
      if (isMpayError(caught, 'MACRO_MPIN_REFUSED')) setFailures((count) => count + 1);
      setError(caught);
    } finally {
      setBusy(false);
      setMpin('');
    }
  };

  const triesLeft = defaultMacroLimits.challengeOpenTriesMax - failures;
  return (
    <Card title="Open the MPASP's question">
      <p class="muted">
        The MPASP accepted the request and sealed your secret question to this phone. Your mPIN opens it and
        proves the answer comes from the MPASP.
      </p>
      <ExpiryFacts payment={props.payment} />
      <Form onSubmit={open} label="mPIN for this payment">
        <Field
          label="mPIN"
          type="password"
          inputMode="numeric"
          value={mPin}
          onInput={setMpin}
          hint={`The 6 digits from your mail. ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left before this request is deleted.`}
          required
          maxLength={6}
          pattern={macroMpinPattern.source.replace(/^\^|\$$/g, '')}
        />
        <ErrorNotice error={error} />
        <Button type="submit" busy={busy}>
          Open the question
        </Button>
      </Form>
    </Card>
  );
}

/** Steps 4–5: the question as the MPASP sealed it; the answer goes back under the payment's channel key. */
function QuestionCard(props: {
  readonly session: MacroSession;
  readonly payment: MacroPaymentRecord;
  readonly opened: OpenedMacroChallenge;
  readonly onAnswered: (sessionId: string) => Promise<void>;
  readonly onFailed: (code: ErrorCode) => Promise<void>;
}): JSX.Element {
  const [answer, setAnswer] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const send = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const created = await props.session.client.answerSecret(props.payment.transactionId, answer);
      await props.onAnswered(created.sessionId);
    } catch (caught) {
      const code = finalCodeOf(caught);
      if (code !== undefined) {
        await props.onFailed(code);
        return;
      }
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Your secret question">
      <p class="muted">Opened with your mPIN: sealed by the MPASP for this payment only.</p>
      <p class="macro-question" data-testid="secret-question">
        {props.opened.challenge.secretQuestion}
      </p>
      <ExpiryFacts payment={props.payment} />
      <Form onSubmit={send} label="Answer to the secret question">
        <Field
          label="Your answer"
          type="password"
          value={answer}
          onInput={setAnswer}
          hint="As you gave it when you registered"
          required
          maxLength={256}
        />
        <ErrorNotice error={error} />
        <Button type="submit" busy={busy}>
          Send the answer
        </Button>
      </Form>
    </Card>
  );
}

/**
 * Step 6 at the device: the MPASP sent the Payment Request to the client
 * bank, which checks the balance first (failure_msg2 if too low, read from
 * the MPASP's status) and then asks the device directly (PApp_Req).
 */
function BankStep(props: {
  readonly session: MacroSession;
  readonly payment: MacroPaymentRecord;
  readonly onAnswered: (outcome: MacroApprovalOutcome) => Promise<void>;
  readonly onFailed: (code: ErrorCode) => Promise<void>;
}): JSX.Element {
  const { session, payment } = props;
  const [request, setRequest] = useState<Awaited<ReturnType<MacroBankClient['approvalRequests']>>[number]>();
  const sessionId = payment.sessionId ?? '';
  const error = usePolling(
    `bank-${sessionId}`,
    async () => {
      const found = (await session.bank.approvalRequests()).find((entry) => entry.sessionId === sessionId);
      if (found !== undefined) return { found };
      const status = await session.client.paymentStatus(session.clientId, payment.transactionId);
      const failure = failureOfStatus(status);
      return failure === undefined ? undefined : { failure };
    },
    (value) => {
      if ('found' in value) setRequest(value.found);
      else void props.onFailed(value.failure);
    },
  );
  if (request === undefined)
    return (
      <Card title={`Waiting for ${session.bankName}`}>
        <Notice tone="good">The MPASP checked your answer and sent the payment request to your bank.</Notice>
        <Busy label={`${session.bankName} checks your balance…`} />
        <ErrorNotice error={error} />
      </Card>
    );
  return (
    <MacroBankApproval
      bankName={session.bankName}
      bank={session.bank}
      request={request}
      payment={payment}
      onAnswered={(outcome) => void props.onAnswered(outcome)}
    />
  );
}

/** Steps 8–12: the banks move the money; the bank's Pay_Confirm (step 11) and the MPASP's status (step 12). */
function OutcomeStep(props: {
  readonly session: MacroSession;
  readonly payment: MacroPaymentRecord;
  readonly onDone: (payment: MacroPaymentRecord, confirmation?: MacroConfirmation) => Promise<void>;
}): JSX.Element {
  const { session, payment } = props;
  const error = usePolling(
    `outcome-${payment.transactionId}`,
    async () => {
      const status = await session.client.paymentStatus(session.clientId, payment.transactionId);
      const failure = failureOfStatus(status);
      if (failure !== undefined)
        return { record: withPhase(payment, 'failed', now(), { failureCode: failure, status }) };
      if (status.status !== 'completed') return undefined;
      const confirmation = await session.bank.confirmation(payment.sessionId ?? '');
      if (confirmation.state !== 'completed') return undefined;
      return { record: withPhase(payment, 'completed', now(), { status }), confirmation };
    },
    (value) => void props.onDone(value.record, value.confirmation),
  );
  return (
    <Card title="Approved">
      <Busy label="The banks move the money…" />
      <ErrorNotice error={error} />
    </Card>
  );
}

/** What a failure means in this flow, before the code's general text. */
const failureContext: Partial<Record<ErrorCode, string>> = {
  AUTHENTICATION_FAILED:
    'The MPASP did not accept the answer to your secret question (its failure_msg1, sealed to this phone and verified here). This payment is over.',
  INSUFFICIENT_FUNDS:
    'Your bank checked the balance before asking you and refused the payment request (failure_msg2).',
  PAYMENT_EXPIRED: 'The time to answer (T_EXP) ran out before you approved.',
  MACRO_CHALLENGE_DELETED: "Three wrong mPINs: this phone deleted the MPASP's question.",
  PAYMENT_DECLINED: 'The payment was declined.',
};

/** The end: Pay_Confirm (verified under the bank's key) and the MPASP's status, or the failure's stable code. */
function DoneCard(props: {
  readonly session: MacroSession;
  readonly payment: MacroPaymentRecord;
  readonly confirmation?: MacroConfirmation;
  readonly onNew: () => void;
}): JSX.Element {
  const { payment, confirmation, session } = props;
  const payConfirm = confirmation?.payConfirm;
  const amount = formatMoney(BigInt(payment.amount.minor), payment.amount.currency);
  if (payment.phase === 'completed')
    return (
      <Card title="Paid" tone="good" testId="macro-result">
        <p class="amount">{amount}</p>
        <Facts
          items={[
            ['To', payment.merchant.name],
            ['Merchant', <PartyId id={payConfirm?.merchantId ?? payment.merchant.id} />],
            [
              'Session',
              <span class="mono" title={payment.sessionId}>
                {shortId(payment.sessionId ?? '')}
              </span>,
            ],
            [
              'MPASP',
              payment.status === undefined ? '—' : `${payment.status.status} (step ${payment.status.step})`,
            ],
          ]}
        />
        {payConfirm === undefined ? null : (
          <p class="muted">
            Pay_Confirm signed by {payConfirm.from} for {payConfirm.amount.currency} {payConfirm.amount.value}
            , sealed to this phone and verified here.
          </p>
        )}
        <div class="button-row macro-actions">
          <Button kind="secondary" onClick={props.onNew}>
            New payment
          </Button>
        </div>
      </Card>
    );
  const declined = payment.phase === 'declined';
  return (
    <Card
      title={declined ? 'Declined' : 'Not paid'}
      tone={declined ? 'default' : 'bad'}
      testId="macro-result"
    >
      <p class="amount">{amount}</p>
      <Facts
        items={[
          ['To', payment.merchant.name],
          [
            'Transaction',
            <span class="mono" title={payment.transactionId}>
              {shortId(payment.transactionId)}
            </span>,
          ],
        ]}
      />
      {declined ? (
        <p>You declined at {session.bankName}. Nothing was paid.</p>
      ) : (
        <>
          {payment.failureCode === undefined || failureContext[payment.failureCode] === undefined ? null : (
            <p>{failureContext[payment.failureCode]}</p>
          )}
          <ErrorNotice error={new MpayError(payment.failureCode ?? 'PAYMENT_DECLINED')} />
        </>
      )}
      <div class="button-row macro-actions">
        <Button kind="secondary" onClick={props.onNew}>
          New payment
        </Button>
      </div>
    </Card>
  );
}
