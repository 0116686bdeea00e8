import type { PaymentRequestView } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, Card, ErrorNotice, Field, Form } from '../../ui/components.tsx';
import { formatMoney, formatTime } from '../../ui/format.ts';
import type { FeedState, RefusedRequest } from './feed.ts';
import { expiresAtOf, expiryText, levelName } from './level.ts';
import { useNow } from './now.ts';

const refusedEventNames: Readonly<Record<RefusedRequest['event'], string>> = {
  'payment-request': 'payment request',
  receipt: 'payment receipt',
  'payment-status': "payment's outcome",
  'refund-receipt': 'refund receipt',
};

/** A request that did not verify: a red warning, never a pay button. */
function RefusedWarning(props: {
  readonly refusal: RefusedRequest;
  readonly onDismiss: () => void;
}): JSX.Element {
  return (
    <div class="notice notice-bad" role="alert" data-testid="refused-request" data-code={props.refusal.code}>
      {props.refusal.event === 'payment-request' ? (
        <>
          <strong>⚠ A payment request failed verification</strong>
          <p>
            Something in it is not what the merchant and the payment service signed, or it was not meant for
            this phone. It is not shown and cannot be paid. If a shop asked you to pay just now, do not pay
            there.
          </p>
        </>
      ) : (
        <>
          <strong>⚠ A message failed verification</strong>
          <p>
            A {refusedEventNames[props.refusal.event]} that is not what the payment service signed for this
            phone came in. It is not shown and changes nothing here.
          </p>
        </>
      )}
      <p class="notice-code">
        Code: {props.refusal.code} · {formatTime(props.refusal.at)}
      </p>
      <Button kind="secondary" onClick={props.onDismiss}>
        Dismiss
      </Button>
    </div>
  );
}

/** The stream ended (a lost connection, a restarted service): the PIN opens it again. */
function Reconnect(props: {
  readonly error: unknown;
  readonly onReconnect: (pin: string) => void;
}): JSX.Element {
  const [pin, setPin] = useState('');
  return (
    <div class="notice notice-warn" role="alert">
      <strong>Not receiving payment requests</strong>
      <p>The connection to the payment service ended. Nothing is lost: waiting requests come again.</p>
      {props.error === undefined ? null : <ErrorNotice error={props.error} />}
      <Form
        label="Reconnect"
        onSubmit={() => {
          props.onReconnect(pin);
          setPin('');
        }}
      >
        <Field label="PIN" value={pin} onInput={setPin} type="password" inputMode="numeric" maxLength={12} />
        <Button type="submit">Reconnect</Button>
      </Form>
    </div>
  );
}

/** The live requests: each verified one with its merchant, amount, level and expiry; refusals as warnings. */
export function RequestsPanel(props: {
  readonly feed: FeedState;
  readonly onOpen: (view: PaymentRequestView) => void;
  readonly onDismissRefusal: (eventId: string) => void;
  readonly onReconnect: (pin: string) => void;
}): JSX.Element {
  const { feed } = props;
  const now = useNow(5_000);
  return (
    <Card title="Payment requests">
      {feed.status === 'listening' ? (
        <p class="ims-live" role="status" data-testid="feed-status">
          <span class="ims-live-dot" aria-hidden="true" /> Listening for payment requests
        </p>
      ) : feed.status === 'reconnecting' ? (
        <p class="ims-live ims-reconnecting" role="status" data-testid="feed-reconnecting">
          Connection lost: reconnecting by itself
          {feed.reconnect === undefined ? '' : ` (attempt ${feed.reconnect.attempt})`}… Waiting requests come
          again.
        </p>
      ) : feed.status === 'ended' ? (
        <Reconnect error={feed.error} onReconnect={props.onReconnect} />
      ) : null}
      {feed.refused.map((refusal) => (
        <RefusedWarning
          key={refusal.eventId}
          refusal={refusal}
          onDismiss={() => props.onDismissRefusal(refusal.eventId)}
        />
      ))}
      {feed.requests.length === 0 ? (
        <p class="muted">No payment requests waiting. A shop's request appears here as soon as it is sent.</p>
      ) : (
        <ul class="list" aria-label="Waiting payment requests">
          {feed.requests.map((view) => {
            const expiresAt = expiresAtOf(view);
            const expired = expiresAt !== undefined && expiresAt.getTime() <= now.getTime();
            return (
              <li key={view.paymentId}>
                <button
                  type="button"
                  class="item-button"
                  onClick={() => props.onOpen(view)}
                  aria-label={`Review ${formatMoney(view.amount.minor, view.amount.currency)} to ${view.merchant.name}`}
                >
                  <span class="row">
                    <strong>{view.merchant.name}</strong>
                    <strong>{formatMoney(view.amount.minor, view.amount.currency)}</strong>
                  </span>
                  <span class="row">
                    <span class="muted">
                      {expiresAt === undefined ? '' : `Expires ${expiryText(expiresAt, now)}`}
                    </span>
                    {expired ? (
                      <span class="badge badge-bad">Expired</span>
                    ) : (
                      <span class="badge">{levelName(view.securityLevel)}</span>
                    )}
                  </span>
                  {view.description === undefined ? null : (
                    <span class="muted ims-small">{view.description}</span>
                  )}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}
