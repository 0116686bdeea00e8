import type { CustodyPaymentRequestView } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, Card, ErrorNotice, Facts, Field, Form } from '../../ui/components.tsx';
import { formatMoney } from '../../ui/format.ts';
import { levelAsks, levelChecked, levelName } from './level.ts';
import { PartyId } from './party-id.tsx';

/**
 * An incoming payment request, verified by the SDK (custody's forward, the
 * FSP's countersignature, the merchant's signature under the FSP's
 * certificate): the merchant's name as the FSP certified it ("verified"
 * only then; a certificate naming no one gives the merchant's id, said so),
 * the amount, the level and what it asks. One action plus the PIN confirms; the PIN declines.
 */
export function CustodyRequestCard(props: {
  readonly view: CustodyPaymentRequestView;
  readonly onAnswer: (decision: 'confirm' | 'decline', pin: string) => Promise<void>;
  readonly error: unknown;
}): JSX.Element {
  const { view } = props;
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState<'confirm' | 'decline' | undefined>();

  const answer = async (decision: 'confirm' | 'decline') => {
    if (busy !== undefined) return;
    setBusy(decision);
    try {
      await props.onAnswer(decision, pin);
    } finally {
      setBusy(undefined);
      setPin('');
    }
  };

  return (
    <Card title="Payment request" testId="custody-request">
      <p class="amount">{formatMoney(view.amount.minor, view.amount.currency)}</p>
      <Facts
        items={[
          [
            'To',
            <>
              {view.merchant.name}
              {view.merchant.nameCertified === false ? null : (
                <>
                  {' '}
                  <span class="badge badge-good">verified</span>
                </>
              )}
              <br />
              <span class="muted">
                <PartyId id={view.merchant.id} />
              </span>
              {view.merchant.nameCertified === false ? (
                <span class="muted" data-testid="name-not-certified">
                  <br />
                  The payment service has not certified a name for this merchant: check the merchant's id.
                </span>
              ) : null}
            </>,
          ],
          ...(view.description === undefined ? [] : [['For', view.description] as const]),
          ...(view.orderLines === undefined
            ? []
            : [
                [
                  'Items',
                  view.orderLines.map((line) => `${line.quantity} × ${line.name}`).join(', '),
                ] as const,
              ]),
          ['Level', levelName(view.securityLevel)],
          ['Asks for', levelAsks(view.protections)],
          ['Checked', levelChecked(view.protections)],
        ]}
      />
      <Form onSubmit={() => answer('confirm')} label="Answer the payment request">
        <Field
          label="PIN"
          type="password"
          inputMode="numeric"
          autoComplete="off"
          value={pin}
          onInput={setPin}
          hint="Custody signs in your name only with your PIN."
          required
          maxLength={12}
        />
        <ErrorNotice error={props.error} />
        <div class="button-row">
          <Button type="submit" busy={busy === 'confirm'} disabled={busy === 'decline'}>
            Confirm
          </Button>
          <Button
            kind="danger"
            busy={busy === 'decline'}
            disabled={busy === 'confirm'}
            onClick={() => answer('decline')}
          >
            Decline
          </Button>
        </div>
      </Form>
    </Card>
  );
}
