import { MacroBankClient, MacroClient } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiUrl, type WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime } from '../../ui/format.ts';
import { PartyId } from '../custody/party-id.tsx';
import { type MacroFlow, MacroPayFlow, type MacroSession } from './pay-flow.tsx';
import {
  type MacroDeviceRecord,
  type MacroPaymentPhase,
  type MacroPaymentRecord,
  type MacroRegistrationRecord,
  readPayments,
} from './store.ts';

const phaseBadges: Readonly<Record<MacroPaymentPhase, { text: string; tone: 'good' | 'warn' | 'bad' | '' }>> =
  {
    requested: { text: 'Not finished', tone: '' },
    challenge_opened: { text: 'Not finished', tone: '' },
    at_bank: { text: 'At your bank', tone: 'warn' },
    approved: { text: 'Approved', tone: 'warn' },
    declined: { text: 'Declined', tone: '' },
    completed: { text: 'Paid', tone: 'good' },
    failed: { text: 'Not paid', tone: 'bad' },
  };

function PhaseBadge(props: { readonly phase: MacroPaymentPhase }): JSX.Element {
  const badge = phaseBadges[props.phase];
  return <span class={badge.tone === '' ? 'badge' : `badge badge-${badge.tone}`}>{badge.text}</span>;
}

/** The payment the flow is on, if any. */
function flowPaymentId(flow: MacroFlow): string | undefined {
  return 'payment' in flow ? flow.payment.transactionId : undefined;
}

/** Payments that wait for the person at their bank (after a reload, say): the flow picks them up again. */
function resumable(record: MacroPaymentRecord): boolean {
  return record.phase === 'at_bank' || record.phase === 'approved';
}

/**
 * A payment left before its bank was asked (steps 2–5: the challenge, the
 * mPIN, the secret answer) when the page is not on it any more: a reload
 * ended it. Its channel key lived in the page's memory only, as the paper's
 * session keys do, so it cannot go on; no bank was asked, so nothing was
 * paid, and the MPASP drops the challenge when it expires.
 */
function interrupted(record: MacroPaymentRecord, current: string | undefined): boolean {
  return (
    (record.phase === 'requested' || record.phase === 'challenge_opened') && record.transactionId !== current
  );
}

/** The registered client's macro wallet: a payment flow, payments to finish, history. */
export function MacroHome(props: {
  readonly config: WebConfig;
  readonly device: MacroDeviceRecord;
  readonly registration: MacroRegistrationRecord;
  readonly clientId: string;
}): JSX.Element {
  const { config, device, registration, clientId } = props;
  const bankName = config.banks.find((bank) => bank.id === device.bankId)?.name ?? device.bankId;
  const session = useMemo(
    (): MacroSession => ({
      config,
      device,
      registration,
      clientId,
      bankName,
      client: new MacroClient({
        gatewayUrl: apiUrl(config, 'gateway'),
        fsp: registration.fsp,
        deviceSecret: registration.deviceSecret,
      }),
      bank: new MacroBankClient({
        bankUrl: apiUrl(config, device.bankId),
        partyId: device.partyId,
        signingKey: device.signingKey,
        encryptionKey: device.encryptionKey,
        bank: device.bank,
      }),
    }),
    [config, device, registration, clientId, bankName],
  );
  const [flow, setFlow] = useState<MacroFlow>({ step: 'form' });
  const [payments, setPayments] = useState<readonly MacroPaymentRecord[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    readPayments().then(setPayments, setError);
  }, []);

  const onRecord = (record: MacroPaymentRecord) =>
    setPayments((list) =>
      [record, ...list.filter((entry) => entry.transactionId !== record.transactionId)].sort((left, right) =>
        right.createdAt.localeCompare(left.createdAt),
      ),
    );
  const current = flowPaymentId(flow);
  const toFinish = payments.filter((record) => resumable(record) && record.transactionId !== current);

  return (
    <>
      <Card title={registration.name}>
        <Facts
          items={[
            ['Client id', <span class="mono">{clientId}</span>],
            ['Mobile', registration.msisdn],
            ['Bank', bankName],
            ['Party', <PartyId id={device.partyId} />],
          ]}
        />
      </Card>
      <ErrorNotice error={error} />
      <MacroPayFlow session={session} flow={flow} onFlow={setFlow} onRecord={onRecord} />
      {toFinish.length === 0 ? null : (
        <Card title="Waiting for you at your bank">
          <ul class="list" aria-label="Payments to finish">
            {toFinish.map((record) => (
              <li key={record.transactionId}>
                <div class="row">
                  <strong>{record.merchant.name}</strong>
                  <span>{formatMoney(BigInt(record.amount.minor), record.amount.currency)}</span>
                </div>
                <Button
                  kind="secondary"
                  onClick={() =>
                    setFlow(
                      record.phase === 'at_bank'
                        ? { step: 'bank', payment: record }
                        : { step: 'outcome', payment: record },
                    )
                  }
                >
                  Continue
                </Button>
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Card title="History">
        {payments.length === 0 ? (
          <p class="muted">No macro-payments yet.</p>
        ) : (
          <ul class="list" aria-label="Macro payments">
            {payments.map((record) => (
              <li key={record.transactionId}>
                <div class="row">
                  <strong>{record.merchant.name}</strong>
                  <span>{formatMoney(BigInt(record.amount.minor), record.amount.currency)}</span>
                </div>
                <div class="row">
                  <span class="muted">{formatTime(record.createdAt)}</span>
                  {record.transactionId === current &&
                  record.phase !== 'completed' &&
                  record.phase !== 'failed' ? (
                    <span class="badge badge-warn">In progress</span>
                  ) : interrupted(record, current) ? (
                    <span class="badge">Interrupted</span>
                  ) : (
                    <PhaseBadge phase={record.phase} />
                  )}
                </div>
                {interrupted(record, current) ? (
                  <p class="muted" data-testid="macro-interrupted">
                    Stopped before your bank was asked: nothing was paid. Start a new payment to pay.
                  </p>
                ) : null}
                {record.failureCode === undefined ? null : (
                  <p class="notice-code">Code: {record.failureCode}</p>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}
