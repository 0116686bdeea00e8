import { amountOfMacroAmount } from '@mpay/protocol';
import type { MacroApprovalOutcome, MacroApprovalRequest, MacroBankClient } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, Card, ErrorNotice, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import { PartyId } from '../custody/party-id.tsx';
import type { MacroPaymentRecord } from './store.ts';

/**
 * The client bank's approval screen (seed 002 §4.2 steps 6–7, §5.1.3: "the
 * bank gets payment approval directly from the client"): the PApp_Req the
 * bank sealed to this device, opened and verified by the SDK under the bank's
 * pinned keys. The payee is the one this device asked to pay; the SDK signs
 * the approval (PApp_Resp) only if the bank's h(TransactionData) is the hash
 * of exactly that.
 */
export function MacroBankApproval(props: {
  readonly bankName: string;
  readonly bank: MacroBankClient;
  readonly request: MacroApprovalRequest;
  readonly payment: MacroPaymentRecord;
  readonly onAnswered: (outcome: MacroApprovalOutcome) => void;
}): JSX.Element {
  const { request, payment } = props;
  const [busy, setBusy] = useState<'approve' | 'decline' | undefined>();
  const [error, setError] = useState<unknown>();
  const [decided, setDecided] = useState<'approve' | 'decline'>('approve');
  const amount = amountOfMacroAmount(request.content.amount);

  const answer = async (decision: 'approve' | 'decline') => {
    setBusy(decision);
    setDecided(decision);
    setError(undefined);
    try {
      props.onAnswered(
        await props.bank.approve(request, { decision, transactionData: payment.transactionData }),
      );
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <Card title={`${props.bankName} asks for your approval`} tone="warn" testId="bank-approval">
      <p class="muted">
        Your bank checked your balance and asks you directly. Signed by {request.content.from}, verified on
        this phone.
      </p>
      <p class="amount">{formatMoney(amount.minor, amount.currency)}</p>
      <Facts
        items={[
          ['To', `${payment.merchant.name}`],
          ['Merchant', <PartyId id={payment.merchant.id} />],
          ['Client id', <span class="mono">{request.content.to}</span>],
          [
            'Session',
            <span class="mono" title={request.sessionId}>
              {shortId(request.sessionId)}
            </span>,
          ],
          ['Answer by', formatTime(request.expiresAt)],
        ]}
      />
      <ErrorNotice error={error} onRetry={() => answer(decided)} />
      <div class="button-row">
        <Button busy={busy === 'approve'} disabled={busy === 'decline'} onClick={() => answer('approve')}>
          Approve payment
        </Button>
        <Button
          kind="danger"
          busy={busy === 'decline'}
          disabled={busy === 'approve'}
          onClick={() => answer('decline')}
        >
          Decline
        </Button>
      </div>
    </Card>
  );
}
