import { isMpayError } from '@mpay/protocol';
import { type PaymentClosed, type PaymentRequestView, type TillOffer, Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useCallback, useMemo, useState } from 'preact/hooks';
import { apiUrl, type WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Notice, Tabs } from '../../ui/components.tsx';
import { formatMoney } from '../../ui/format.ts';
import { refundNoticeText } from '../refund-screen.tsx';
import { useRequestFeed } from './feed.ts';
import { ForgetButton } from './forget-button.tsx';
import { HistoryPanel } from './history-panel.tsx';
import type { PinProblem } from './pin.ts';
import { ReceiptScreen } from './receipt-screen.tsx';
import { keepRefund, RefundScreen } from './refunds.tsx';
import { RequestScreen } from './request-screen.tsx';
import { RequestsPanel } from './requests-panel.tsx';
import {
  type PaymentRecord,
  paymentRecordOf,
  type RefundRecord,
  recordPayment,
  type StoredDevice,
} from './store.ts';
import { TillPanel } from './till-panel.tsx';
import { type LockReason, UnlockScreen } from './unlock-screen.tsx';

const tabs = [
  { id: 'requests', label: 'Requests' },
  { id: 'till', label: 'Till QR' },
  { id: 'history', label: 'History' },
] as const;
type TabId = (typeof tabs)[number]['id'];

type Screen =
  | { readonly kind: 'home' }
  | { readonly kind: 'request'; readonly paymentId: string; readonly offer?: TillOffer | undefined }
  | { readonly kind: 'receipt'; readonly record: PaymentRecord; readonly error?: unknown }
  | { readonly kind: 'refund'; readonly record: RefundRecord };

type Phase =
  | { readonly kind: 'locked'; readonly reason: LockReason }
  | { readonly kind: 'unlocked' }
  | { readonly kind: 'blocked' };

/**
 * The custody URL in the keystore is where the PIN server was at enrolment;
 * the keys are not wrapped with it, so the page points it at where this page
 * reaches custody now (as the CLI's seed does), for the same custody only.
 */
function keystoreHere(config: WebConfig, device: StoredDevice): StoredDevice['keystore'] {
  const { keystore } = device;
  if (keystore.pinServer.custodyId !== config.custodyId) return keystore;
  return { ...keystore, pinServer: { ...keystore.pinServer, url: apiUrl(config, 'custody') } };
}

/**
 * A listed request that ended unanswered, as the history keeps it: the
 * merchant cancelled it or it expired (the FSP's signed outcome). Any other
 * end of a request this phone never answered (another device paid it) is not
 * this phone's to record.
 */
function closedRecordOf(view: PaymentRequestView, closed: PaymentClosed): PaymentRecord | undefined {
  if (closed.status !== 'cancelled' && closed.status !== 'expired') return undefined;
  return paymentRecordOf(view, closed.status);
}

/** PIN blocked: nothing can be signed with this phone's keys any more. */
function BlockedScreen(props: { readonly bankName: string; readonly onForget: () => void }): JSX.Element {
  return (
    <Card title="PIN blocked" tone="bad" testId="pin-blocked">
      <div class="notice notice-bad" role="alert" data-testid="blocked-notice">
        <strong>Your PIN is blocked.</strong>
        <p>
          Too many wrong PINs. Your bank's PIN server ({props.bankName}) blocked it: no payment can be signed
          with this phone's keys. Nobody was paid.
        </p>
        <p>Ask your bank for a new enrolment code, then set up this phone again.</p>
        <p class="notice-code">Code: PIN_BLOCKED</p>
      </div>
      <ForgetButton onForget={props.onForget} />
    </Card>
  );
}

/** The enrolled phone: locked, unlocked (requests, till, history) or blocked. */
export function WalletScreen(props: {
  readonly config: WebConfig;
  readonly device: StoredDevice;
  readonly firstLock: LockReason;
  readonly onForget: () => void;
}): JSX.Element {
  const { config, device } = props;
  const wallet = useMemo(
    () =>
      new Wallet({
        gatewayUrl: apiUrl(config, 'gateway'),
        keystore: keystoreHere(config, device),
        fsp: device.fsp,
      }),
    [config, device],
  );
  const [phase, setPhase] = useState<Phase>({ kind: 'locked', reason: props.firstLock });
  const [tab, setTab] = useState<TabId>('requests');
  const [screen, setScreen] = useState<Screen>({ kind: 'home' });
  const [wrongPins, setWrongPins] = useState(0);
  const [notice, setNotice] = useState<string | undefined>();
  const [storeError, setStoreError] = useState<unknown>();
  // Refunds received while open: the history reads the store again when one comes in.
  const [refundsSeen, setRefundsSeen] = useState(0);

  const lock = useCallback(
    (reason: LockReason) => {
      wallet.lock();
      setPhase({ kind: 'locked', reason });
      setScreen({ kind: 'home' });
      setNotice(undefined);
    },
    [wallet],
  );
  const keep = (record: PaymentRecord) => recordPayment(record).catch(setStoreError);
  const feed = useRequestFeed(wallet, {
    onLocked: (error) => lock(isMpayError(error, 'WALLET_LOCKED') ? 'wrong-pins' : 'connection'),
    onClosed: (view, closed) => {
      const record = closedRecordOf(view, closed);
      if (record === undefined) return;
      void keep(record);
      setNotice(
        `${record.merchantName}'s request for ${formatMoney(view.amount.minor, view.amount.currency)} ${
          record.status === 'expired' ? 'expired' : 'was withdrawn'
        }. Nothing was paid.`,
      );
    },
    onRefund: (receipt) => {
      keepRefund(receipt, new Date()).then((record) => {
        setNotice(refundNoticeText(record));
        setRefundsSeen((count) => count + 1);
      }, setStoreError);
    },
  });
  const closeFeed = feed.close;
  const block = useCallback(() => {
    closeFeed();
    wallet.lock();
    setPhase({ kind: 'blocked' });
  }, [wallet, closeFeed]);

  const pinProblem = (problem: PinProblem) => {
    if (problem.kind === 'wrong') return setWrongPins((count) => count + 1);
    setWrongPins(0);
    if (problem.kind === 'blocked') return block();
    closeFeed();
    lock('wrong-pins');
  };

  const openRequest = useCallback((view: PaymentRequestView, offer?: TillOffer) => {
    setNotice(undefined);
    setScreen({ kind: 'request', paymentId: view.paymentId, offer });
  }, []);

  const bankName = config.banks.find((bank) => bank.id === device.bankId)?.name ?? device.bankId;
  if (phase.kind === 'blocked') return <BlockedScreen bankName={bankName} onForget={props.onForget} />;
  if (phase.kind === 'locked')
    return (
      <UnlockScreen
        wallet={wallet}
        device={device}
        bankName={bankName}
        reason={phase.reason}
        onBlocked={block}
        onUnlocked={(pin) => {
          setWrongPins(0);
          setPhase({ kind: 'unlocked' });
          feed.open(pin);
        }}
      />
    );

  const header = (
    <div class="ims-who">
      <div>
        <strong>{device.displayName}</strong>
        <p class="mono muted">{device.partyId}</p>
      </div>
      <Button
        kind="secondary"
        onClick={() => {
          closeFeed();
          lock('by-customer');
        }}
      >
        Lock
      </Button>
    </div>
  );

  if (screen.kind === 'request') {
    const view = feed.state.requests.find((request) => request.paymentId === screen.paymentId);
    if (view === undefined)
      return (
        <>
          {header}
          <Notice tone="warn">This request is no longer waiting.</Notice>
          <Button kind="secondary" onClick={() => setScreen({ kind: 'home' })}>
            Back to requests
          </Button>
        </>
      );
    return (
      <>
        {header}
        <RequestScreen
          wallet={wallet}
          view={view}
          offer={screen.offer}
          wrongPins={wrongPins}
          onPinProblem={pinProblem}
          onPinAccepted={() => setWrongPins(0)}
          onPaid={(record) => {
            feed.answered(record.paymentId);
            void keep(record);
            setScreen({ kind: 'receipt', record });
          }}
          onDeclined={(record) => {
            feed.answered(record.paymentId);
            void keep(record);
            setNotice(`Declined. ${record.merchantName} is told; nothing was paid.`);
            setScreen({ kind: 'home' });
          }}
          onRefused={(record, error) => {
            feed.answered(record.paymentId);
            void keep(record);
            setScreen({ kind: 'receipt', record, error });
          }}
          onBack={() => setScreen({ kind: 'home' })}
        />
      </>
    );
  }

  if (screen.kind === 'receipt')
    return (
      <>
        {header}
        <ReceiptScreen
          config={config}
          wallet={wallet}
          record={screen.record}
          error={screen.error}
          onOpenRefund={(record) => setScreen({ kind: 'refund', record })}
          onDone={() => setScreen({ kind: 'home' })}
        />
      </>
    );

  if (screen.kind === 'refund')
    return (
      <>
        {header}
        <RefundScreen
          config={config}
          wallet={wallet}
          record={screen.record}
          onDone={() => setScreen({ kind: 'home' })}
        />
      </>
    );

  return (
    <>
      {header}
      <Tabs label="Pay" tabs={tabs} current={tab} onSelect={setTab} />
      {notice === undefined ? null : (
        <Notice tone="good" testId="ims-notice">
          {notice}
        </Notice>
      )}
      <ErrorNotice error={storeError} />
      {tab === 'requests' ? (
        <RequestsPanel
          feed={feed.state}
          onOpen={(view) => openRequest(view)}
          onDismissRefusal={feed.dismissRefusal}
          onReconnect={feed.open}
        />
      ) : tab === 'till' ? (
        <TillPanel wallet={wallet} requests={feed.state.requests} onRequest={openRequest} />
      ) : (
        <HistoryPanel
          key={refundsSeen}
          onOpen={(record) => setScreen({ kind: 'receipt', record })}
          onOpenRefund={(record) => setScreen({ kind: 'refund', record })}
        />
      )}
    </>
  );
}
