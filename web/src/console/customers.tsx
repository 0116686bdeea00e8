import { isMsisdn, MpayError, parsePartyId } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { WebConfig } from '../config.ts';
import { Button, ErrorNotice, Facts, Field, Form, Notice, Select } from '../ui/components.tsx';
import { formatMoney, formatTime, parseMoney } from '../ui/format.ts';
import { consoleApi, type IssuedCode } from './api.ts';
import { Panel } from './parts.tsx';

/** A person's party id at `bankId` in canonical form, or PARTY_ID_INVALID. */
function personAt(partyId: string, bankId: string): string {
  const parsed = parsePartyId(partyId.trim(), 'party id');
  if (parsed.kind !== 'person' || parsed.bank !== bankId)
    throw new MpayError('PARTY_ID_INVALID', `a customer of ${bankId}: name@person.${bankId}`);
  return parsed.id;
}

function IssuedCodeCard(props: { readonly issued: IssuedCode; readonly currency: string }): JSX.Element {
  const { issued } = props;
  return (
    <Notice tone="good" testId="issued-code">
      <p>
        <strong>Enrolment code for {issued.partyId}</strong>
      </p>
      <p class="console-code" data-testid="enrolment-code">
        {issued.code}
      </p>
      <Facts
        items={[
          ['Bank', issued.bankId],
          ...(issued.accountId === undefined
            ? []
            : ([['Account', <span class="mono">{issued.accountId}</span>]] as const)),
          ...(issued.openingBalanceMinor === undefined
            ? []
            : ([
                [
                  'Opening balance',
                  formatMoney(BigInt(issued.openingBalanceMinor), issued.currency ?? props.currency),
                ],
              ] as const)),
          ['Valid until', formatTime(issued.expiresAt)],
        ]}
      />
      <p>
        Give the code to the customer: the wallet enrols the phone's key at {issued.bankId} with it, once. It
        is shown only now.
      </p>
    </Notice>
  );
}

function OpenAccount(props: { readonly config: WebConfig }): JSX.Element {
  const banks = props.config.banks;
  const [bankId, setBankId] = useState(banks[0]?.id ?? '');
  const [partyId, setPartyId] = useState('');
  const [balance, setBalance] = useState('');
  // One request id per form fill: a retry after a lost answer opens the same account, pays it once.
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [issued, setIssued] = useState<IssuedCode | undefined>();
  const submit = async () => {
    setError(undefined);
    setBusy(true);
    try {
      const minor = balance.trim() === '' ? 0n : parseMoney(balance, props.config.currency);
      if (minor === undefined) throw new MpayError('AMOUNT_INVALID', 'opening balance');
      const answer = await consoleApi.post<IssuedCode>('/customers', {
        requestId,
        bankId,
        partyId: personAt(partyId, bankId),
        openingBalanceMinor: minor.toString(),
      });
      setIssued(answer);
      setRequestId(crypto.randomUUID());
      setPartyId('');
      setBalance('');
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Open a customer account">
      <p class="muted">
        Opens a customer account at the bank, pays in its opening balance and issues the one-time code the
        customer's wallet enrols with.
      </p>
      <Form label="Open a customer account" onSubmit={() => void submit()}>
        <Select
          label="Bank"
          value={bankId}
          onChange={setBankId}
          options={banks.map((bank) => ({ value: bank.id, label: bank.name }))}
        />
        <Field
          label="Customer's party id"
          value={partyId}
          onInput={setPartyId}
          hint={`name@person.${bankId}, e.g. ana.petrova@person.${bankId}`}
          required
          maxLength={200}
        />
        <Field
          label={`Opening balance (${props.config.currency})`}
          value={balance}
          onInput={setBalance}
          inputMode="decimal"
          hint="Paid from the bank's funding account; empty for none."
        />
        <ErrorNotice error={error} onRetry={() => void submit()} />
        <div class="button-row">
          <Button type="submit" busy={busy}>
            Open account and issue code
          </Button>
        </div>
      </Form>
      {issued === undefined ? null : <IssuedCodeCard issued={issued} currency={props.config.currency} />}
    </Panel>
  );
}

function IssueCode(props: { readonly config: WebConfig }): JSX.Element {
  const banks = props.config.banks;
  const [bankId, setBankId] = useState(banks[0]?.id ?? '');
  const [partyId, setPartyId] = useState('');
  const [accountId, setAccountId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [issued, setIssued] = useState<IssuedCode | undefined>();
  const submit = async () => {
    setError(undefined);
    setBusy(true);
    try {
      setIssued(
        await consoleApi.post<IssuedCode>('/enrolment-codes', {
          bankId,
          partyId: personAt(partyId, bankId),
          accountIds: [accountId.trim().toLowerCase()],
        }),
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Issue an enrolment code">
      <p class="muted">For a customer who has an account: a new phone, or a code that expired.</p>
      <Form label="Issue an enrolment code" onSubmit={() => void submit()}>
        <Select
          label="Bank"
          value={bankId}
          onChange={setBankId}
          options={banks.map((bank) => ({ value: bank.id, label: bank.name }))}
        />
        <Field label="Customer's party id" value={partyId} onInput={setPartyId} required maxLength={200} />
        <Field
          label="Account id"
          value={accountId}
          onInput={setAccountId}
          hint="The account the phone's key may pay from."
          required
          maxLength={36}
        />
        <ErrorNotice error={error} />
        <div class="button-row">
          <Button type="submit" busy={busy}>
            Issue code
          </Button>
        </div>
      </Form>
      {issued === undefined ? null : <IssuedCodeCard issued={issued} currency={props.config.currency} />}
    </Panel>
  );
}

function LinkPhone(): JSX.Element {
  const [alias, setAlias] = useState('');
  const [partyId, setPartyId] = useState('');
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [linked, setLinked] = useState<string | undefined>();
  const submit = async () => {
    setError(undefined);
    setBusy(true);
    try {
      const phone = alias.replace(/[\s-]/g, '');
      if (!isMsisdn(phone)) throw new MpayError('REQUEST_INVALID', 'phone number');
      const party = parsePartyId(partyId.trim(), 'party id').id;
      await consoleApi.post('/aliases', { requestId, alias: phone, partyId: party });
      setLinked(`${phone} → ${party}`);
      setRequestId(crypto.randomUUID());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Link a phone number">
      <p class="muted">
        After the wallet registered with the FSP: merchants can then ask this customer to pay by phone number.
      </p>
      <Form label="Link a phone number" onSubmit={() => void submit()}>
        <Field
          label="Phone number"
          type="tel"
          inputMode="tel"
          value={alias}
          onInput={setAlias}
          hint="International format, e.g. +38970123456"
          required
          maxLength={20}
        />
        <Field label="Customer's party id" value={partyId} onInput={setPartyId} required maxLength={200} />
        <ErrorNotice error={error} />
        <div class="button-row">
          <Button type="submit" busy={busy}>
            Link phone number
          </Button>
        </div>
      </Form>
      {linked === undefined ? null : <Notice tone="good">Linked: {linked}</Notice>}
    </Panel>
  );
}

/** What a bank's operator does for a person enrolling a wallet by hand. */
export function CustomersView(props: { readonly config: WebConfig }): JSX.Element {
  return (
    <div class="console-grid">
      <OpenAccount config={props.config} />
      <IssueCode config={props.config} />
      <LinkPhone />
    </div>
  );
}
