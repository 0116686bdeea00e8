import { isMpayError } from '@mpay/protocol';
import { type CustodyEventKind, type CustodyPaymentRequestView, CustodyWallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiUrl, type WebConfig } from '../../config.ts';
import { Busy, Card, ErrorNotice, Facts, Notice } from '../../ui/components.tsx';
import { formatTime, shortId } from '../../ui/format.ts';
import { RefundReceiptCard, refundNoticeText } from '../refund-screen.tsx';
import { CustodyHistory, CustodyResultCard } from './history.tsx';
import { CustodyInbox, type InboxState } from './inbox.ts';
import { PartyId } from './party-id.tsx';
import { CustodyRequestCard } from './request-card.tsx';
import { CustodySignatures } from './signatures.tsx';
import type {
  CustodyAlertRecord,
  CustodyPaymentRecord,
  CustodyRefundRecord,
  CustodySetupRecord,
} from './store.ts';

/** What a refused inbox message claimed to be, for a person. */
const eventNames: Readonly<Record<CustodyEventKind, string>> = {
  'payment-request': 'payment request',
  receipt: 'receipt',
  outcome: "payment's outcome",
  alert: 'alert from custody',
  'refund-receipt': 'refund receipt',
};

function alertText(alert: CustodyAlertRecord): string {
  const failures = /^pin-failures:(\d+)$/.exec(alert.reason)?.[1];
  if (failures !== undefined)
    return `${failures} wrong PIN${failures === '1' ? ' was' : 's were'} entered for your key (${formatTime(alert.at)}). If that was not you, call your bank.`;
  return `Custody alert: ${alert.reason} (${formatTime(alert.at)})`;
}

/** Custody signed for this payment after `at` (a PIN it accepted). */
function signedAfter(record: CustodyPaymentRecord, at: string): boolean {
  return (
    (record.status === 'completed' || record.status === 'authorised' || record.status === 'declined') &&
    record.updatedAt > at
  );
}

function ConnectionState(props: { readonly state: InboxState }): JSX.Element {
  const { state } = props;
  if (state.connection === 'live')
    return (
      <span class="badge badge-good" role="status">
        Live
      </span>
    );
  if (state.connection === 'connecting')
    return (
      <span class="badge" role="status">
        Connecting…
      </span>
    );
  return (
    <span class="badge badge-warn" role="status">
      Reconnecting…
    </span>
  );
}

/** The wallet and its inbox, or why custody's pinned keys were refused. */
type Opened =
  | { readonly kind: 'open'; readonly wallet: CustodyWallet; readonly inbox: CustodyInbox }
  | { readonly kind: 'refused'; readonly error: unknown };

/** The enrolled custody customer's wallet: live requests, answers with the PIN, receipts, history. */
export function CustodyWalletView(props: {
  readonly config: WebConfig;
  readonly setup: CustodySetupRecord;
}): JSX.Element {
  const { config, setup } = props;
  const opened = useMemo((): Opened => {
    try {
      const wallet = new CustodyWallet({
        custodyUrl: apiUrl(config, 'custody'),
        custody: setup.custody,
        fsp: setup.fsp,
        partyId: setup.enrolment.partyId,
        deviceToken: setup.enrolment.deviceToken,
      });
      return { kind: 'open', wallet, inbox: new CustodyInbox(wallet) };
    } catch (error) {
      return { kind: 'refused', error };
    }
  }, [config, setup]);
  const [state, setState] = useState<InboxState | undefined>();
  const [startError, setStartError] = useState<unknown>();
  const [answerErrors, setAnswerErrors] = useState<ReadonlyMap<string, unknown>>(new Map());
  const [answered, setAnswered] = useState<readonly string[]>([]);
  const [blocked, setBlocked] = useState(false);
  // The refund screen, over the rest (as the Pay section's); the notice of a refund until one is opened.
  const [openRefund, setOpenRefund] = useState<CustodyRefundRecord | undefined>();
  const [noticeSeen, setNoticeSeen] = useState<string | undefined>();
  // A payment opened from the history (its receipt, or what happened instead), by id: shown as it is
  // now, so a refund or an outcome arriving while it is open shows on it. A refund opened from it goes
  // over it, and back to it.
  const [openPaymentId, setOpenPaymentId] = useState<string | undefined>();
  // The history entry a closed payment screen hands the keyboard focus back to.
  const [focusEntry, setFocusEntry] = useState<string | undefined>();

  useEffect(() => {
    if (focusEntry === undefined) return;
    const entry = Array.from(document.querySelectorAll<HTMLElement>('[data-testid="history-payment"]')).find(
      (element) => element.dataset.paymentId === focusEntry,
    );
    entry?.focus();
    setFocusEntry(undefined);
  }, [focusEntry]);

  useEffect(() => {
    if (opened.kind !== 'open') return;
    const unsubscribe = opened.inbox.subscribe(setState);
    opened.inbox.start().catch(setStartError);
    return () => {
      unsubscribe();
      opened.inbox.stop();
    };
  }, [opened]);

  if (opened.kind !== 'open') return <ErrorNotice error={opened.error} />;
  const { wallet, inbox } = opened;

  const setAnswerError = (paymentId: string, error: unknown) =>
    setAnswerErrors((errors) => {
      const next = new Map(errors);
      if (error === undefined) next.delete(paymentId);
      else next.set(paymentId, error);
      return next;
    });

  const answer = async (view: CustodyPaymentRequestView, decision: 'confirm' | 'decline', pin: string) => {
    setAnswerError(view.paymentId, undefined);
    try {
      const result =
        decision === 'confirm' ? await wallet.confirm(view, pin) : await wallet.decline(view, pin);
      await inbox.settle(result);
      setBlocked(false);
      setAnswered((ids) => [result.paymentId, ...ids.filter((id) => id !== result.paymentId)]);
    } catch (error) {
      if (isMpayError(error, 'PIN_BLOCKED')) setBlocked(true);
      setAnswerError(view.paymentId, error);
    }
  };

  const payments = state?.payments ?? [];
  const requests = payments.flatMap((record) => {
    const view = state?.requests.get(record.paymentId);
    return view === undefined ? [] : [view];
  });
  // Only the newest alert counts, and a block stands until custody signed again (the bank lifted it).
  const latestAlert = state?.alerts[0];
  const blockAlert =
    latestAlert?.reason === 'pin-blocked' && !payments.some((record) => signedAfter(record, latestAlert.at))
      ? latestAlert
      : undefined;
  const results = answered.flatMap((id) => payments.filter((record) => record.paymentId === id));
  const bank = config.banks.find((candidate) => candidate.id === setup.bankId)?.name ?? setup.bankId;
  const refunds = state?.refunds ?? [];
  const refundArrived = state?.refundArrived;
  const openPayment =
    openPaymentId === undefined ? undefined : payments.find((record) => record.paymentId === openPaymentId);
  const showPayment = (record: CustodyPaymentRecord) => {
    setOpenPaymentId(record.paymentId);
    window.scrollTo(0, 0);
  };
  const closePayment = () => {
    setFocusEntry(openPaymentId);
    setOpenPaymentId(undefined);
  };
  const showRefund = (refund: CustodyRefundRecord) => {
    setNoticeSeen(refundArrived?.refundId);
    setOpenRefund(refund);
    window.scrollTo(0, 0);
  };

  const account = (
    <Card title={setup.displayName}>
      <Facts
        items={[
          ['Party', <PartyId id={setup.enrolment.partyId} />],
          ['Key', `in custody's HSM, bound by ${bank}`],
          [
            'Binding',
            <span class="mono" title={setup.enrolment.serial}>
              {shortId(setup.enrolment.serial)}
            </span>,
          ],
          ['Requests', state === undefined ? <Busy label="Opening…" /> : <ConnectionState state={state} />],
        ]}
      />
      {state?.connection === 'lost' ? <ErrorNotice error={state.connectionError} /> : null}
      <ErrorNotice error={startError} />
    </Card>
  );

  if (openRefund !== undefined)
    return (
      <>
        {account}
        <RefundReceiptCard
          log={config.log}
          record={openRefund}
          evidence={() => wallet.refundEvidence(openRefund.paymentId, openRefund.refundId)}
          onDone={() => setOpenRefund(undefined)}
        />
      </>
    );

  if (openPayment !== undefined)
    return (
      <>
        {account}
        <CustodyResultCard
          config={config}
          wallet={wallet}
          record={openPayment}
          refunds={refunds.filter((refund) => refund.paymentId === openPayment.paymentId)}
          onOpenRefund={showRefund}
          onDone={closePayment}
        />
      </>
    );

  return (
    <>
      {account}
      {blocked || blockAlert !== undefined ? (
        <Notice tone="bad" testId="pin-blocked">
          <strong>PIN blocked</strong>
          <p>
            Too many wrong PINs: custody will not sign in your name until {bank} lifts the block. Call your
            bank.
          </p>
          {blockAlert === undefined ? null : (
            <p class="muted">Custody alerted this phone at {formatTime(blockAlert.at)}.</p>
          )}
        </Notice>
      ) : latestAlert === undefined ? null : (
        <Notice tone="warn">{alertText(latestAlert)}</Notice>
      )}
      {refundArrived === undefined || refundArrived.refundId === noticeSeen ? null : (
        <Notice tone="good" testId="custody-notice">
          {refundNoticeText(refundArrived)}
        </Notice>
      )}
      {(state?.warnings ?? []).map((warning) => (
        <Card key={warning.cursor} title="A message failed to verify" tone="bad" testId="inbox-warning">
          <p>
            This {eventNames[warning.event]} failed the checks on this phone (custody's signature, then the
            payment service's), so it is not shown or used.
          </p>
          {warning.event === 'refund-receipt' ? (
            <p>Whether money came back shows on your bank's statement.</p>
          ) : null}
          <ErrorNotice error={warning.error} />
        </Card>
      ))}
      {results.map((record) => (
        <CustodyResultCard
          key={record.paymentId}
          config={config}
          wallet={wallet}
          record={record}
          refunds={refunds.filter((refund) => refund.paymentId === record.paymentId)}
          onOpenRefund={showRefund}
          onDone={() => setAnswered((ids) => ids.filter((id) => id !== record.paymentId))}
        />
      ))}
      {requests.map((view) => (
        <CustodyRequestCard
          key={view.paymentId}
          view={view}
          error={answerErrors.get(view.paymentId)}
          onAnswer={(decision, pin) => answer(view, decision, pin)}
        />
      ))}
      {state !== undefined && requests.length === 0 && results.length === 0 ? (
        <Notice>No request waiting. A merchant's request appears here as soon as it arrives.</Notice>
      ) : null}
      <CustodyHistory
        payments={payments}
        refunds={refunds}
        onOpenPayment={showPayment}
        onOpenRefund={showRefund}
      />
      <CustodySignatures wallet={wallet} />
    </>
  );
}
