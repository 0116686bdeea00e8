import { billerIdPattern, customerReferencePattern, parsePartyId } from '@mpay/protocol';
import type { BankingBalance, BankingBillPayment, BankingOrderState, BankingTransfer } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice, Select } from '../../ui/components.tsx';
import { formatMoney, parseMoney, shortId } from '../../ui/format.ts';
import { useBankingAction } from './action.ts';
import type { BankingPhone } from './phone.ts';
import { type KnownBiller, knownBillers, rememberBiller } from './store.ts';

/**
 * The Business Logic Module's money requests (seed 003 §5.2): the balance of
 * ID_C's account, a transfer (a customer of this bank: one posted transfer;
 * of another bank: a hold here and the interbank funds transfer) and a bill
 * payment to a biller the bank registered. Each is the SDK's E(S(msg, ID_C));
 * what the page shows is the bank's verified answer, checked by the SDK to be
 * the answer to exactly what was signed.
 */

export interface PanelProps {
  readonly phone: BankingPhone;
  readonly onSessionEnded: (error: unknown) => void;
}

export function BalancePanel(
  props: PanelProps & {
    readonly balance: BankingBalance | undefined;
    readonly onBalance: (balance: BankingBalance) => void;
  },
): JSX.Element {
  const { busy, error, run } = useBankingAction(props.phone, props.onSessionEnded);
  const refresh = async () => {
    const balance = await run(() => props.phone.client.balance());
    if (balance !== undefined) props.onBalance(balance);
  };
  useEffect(() => {
    if (props.balance === undefined) void refresh();
  }, []);
  const { balance } = props;
  return (
    <Card title="Balance">
      {balance === undefined ? null : (
        <>
          <p class="amount" data-testid="banking-balance">
            {formatMoney(balance.balance, balance.currency)}
          </p>
          <Facts
            items={[
              ['Available', formatMoney(balance.available, balance.currency)],
              ['Account', <span title={balance.accountId}>{shortId(balance.accountId)}</span>],
            ]}
          />
        </>
      )}
      <ErrorNotice error={error} onRetry={refresh} />
      {busy ? <Busy label="Asking your bank…" /> : null}
      <Button kind="secondary" onClick={refresh} busy={busy}>
        Refresh balance
      </Button>
    </Card>
  );
}

function stateText(state: BankingOrderState, payeeBank: string, refusalCode?: string): string {
  if (state === 'completed') return 'Completed';
  if (state === 'sending') return `On its way to ${payeeBank}`;
  return `Refused by ${payeeBank}${refusalCode === undefined ? '' : ` (${refusalCode})`}`;
}

function toneOf(state: BankingOrderState): 'good' | 'warn' | 'bad' {
  return state === 'completed' ? 'good' : state === 'sending' ? 'warn' : 'bad';
}

function bankOfPayee(payeeId: string): string | undefined {
  try {
    const party = parsePartyId(payeeId.trim());
    return party.kind === 'person' || party.kind === 'merchant' ? party.bank : undefined;
  } catch {
    return undefined;
  }
}

export function TransferPanel(
  props: PanelProps & { readonly currency: string; readonly onMoved: () => void },
): JSX.Element {
  const { phone, currency } = props;
  const ownBank = phone.device.bank.id;
  const { busy, error, run } = useBankingAction(phone, props.onSessionEnded);
  const [payee, setPayee] = useState('');
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [done, setDone] = useState<BankingTransfer | undefined>();
  const payeeBank = bankOfPayee(payee);

  const send = async () => {
    const minor = parseMoney(amount, currency);
    if (payeeBank === undefined) setProblem('The payee is a customer id, e.g. marko@person.xbank.');
    else if (minor === undefined || minor <= 0n) setProblem(`Type an amount in ${currency}, e.g. 12.50.`);
    else if (reference.trim() === '') setProblem('Say what the transfer is for.');
    else {
      setProblem(undefined);
      setDone(undefined);
      const transfer = await run(() =>
        phone.client.transfer({
          payeeId: payee.trim(),
          amount: minor,
          currency,
          reference: reference.trim(),
        }),
      );
      if (transfer !== undefined) {
        setDone(transfer);
        setPayee('');
        setAmount('');
        setReference('');
        props.onMoved();
      }
    }
  };

  return (
    <>
      {done === undefined ? null : (
        <Card title="Transfer sent" tone={toneOf(done.state)} testId="banking-transfer-result">
          <p class="amount">{formatMoney(done.amount, done.currency)}</p>
          <Facts
            items={[
              ['To', done.payeeId],
              ['State', stateText(done.state, bankOfPayee(done.payeeId) ?? '', done.refusalCode)],
              ['Reference', done.reference],
              ['Order', <span title={done.orderId}>{shortId(done.orderId)}</span>],
            ]}
          />
        </Card>
      )}
      <Card title="Transfer">
        <Form onSubmit={send} label="Transfer">
          <Field
            label="Pay to (customer id)"
            value={payee}
            onInput={setPayee}
            autoComplete="off"
            hint={
              payeeBank === undefined
                ? 'Their customer id, e.g. marko@person.xbank'
                : payeeBank === ownBank
                  ? `A customer of ${ownBank}, your bank: paid at once`
                  : `A customer of ${payeeBank}, another bank: sent by interbank transfer`
            }
          />
          <Field
            label={`Amount (${currency})`}
            inputMode="decimal"
            value={amount}
            onInput={setAmount}
            maxLength={16}
          />
          <Field label="Reference" value={reference} onInput={setReference} maxLength={140} />
          {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
          <ErrorNotice error={error} />
          <Button type="submit" busy={busy}>
            Send transfer
          </Button>
        </Form>
      </Card>
    </>
  );
}

const otherBiller = '';

export function BillPanel(
  props: PanelProps & { readonly currency: string; readonly onMoved: () => void },
): JSX.Element {
  const { phone, currency } = props;
  const { busy, error, run } = useBankingAction(phone, props.onSessionEnded);
  const [billers, setBillers] = useState<readonly KnownBiller[]>([]);
  const [chosen, setChosen] = useState(otherBiller);
  const [billerId, setBillerId] = useState('');
  const [customerReference, setCustomerReference] = useState('');
  const [amount, setAmount] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [done, setDone] = useState<BankingBillPayment | undefined>();
  useEffect(() => {
    void knownBillers().then((known) => {
      setBillers(known);
      if (known[0] !== undefined) setChosen(known[0].id);
    });
  }, []);

  const pay = async () => {
    const id = chosen === otherBiller ? billerId.trim().toLowerCase() : chosen;
    const minor = parseMoney(amount, currency);
    if (!billerIdPattern.test(id)) setProblem('The biller id is as printed on the bill, e.g. power-co.');
    else if (!customerReferencePattern.test(customerReference.trim()))
      setProblem('Your reference is the 2 to 35 letters and digits on the bill.');
    else if (minor === undefined || minor <= 0n) setProblem(`Type an amount in ${currency}, e.g. 30.00.`);
    else {
      setProblem(undefined);
      setDone(undefined);
      const payment = await run(() =>
        phone.client.payBill({
          billerId: id,
          customerReference: customerReference.trim(),
          amount: minor,
          currency,
        }),
      );
      if (payment !== undefined) {
        setDone(payment);
        // Only the bank's verified answer names the biller: it is remembered for the next bill.
        setBillers(await rememberBiller({ id: payment.billerId, name: payment.billerName }));
        setChosen(payment.billerId);
        setBillerId('');
        setCustomerReference('');
        setAmount('');
        props.onMoved();
      }
    }
  };

  return (
    <>
      {done === undefined ? null : (
        <Card title="Bill paid" tone={toneOf(done.state)} testId="banking-bill-result">
          <p class="amount">{formatMoney(done.amount, done.currency)}</p>
          <Facts
            items={[
              ['Biller', `${done.billerName} (${done.billerId})`],
              ['Your reference', done.customerReference],
              ['State', stateText(done.state, done.billerName, done.refusalCode)],
              ['Order', <span title={done.orderId}>{shortId(done.orderId)}</span>],
            ]}
          />
        </Card>
      )}
      <Card title="Pay a bill">
        <Form onSubmit={pay} label="Bill payment">
          {billers.length === 0 ? null : (
            <Select
              label="Biller"
              value={chosen}
              onChange={setChosen}
              options={[
                ...billers.map((biller) => ({ value: biller.id, label: `${biller.name} (${biller.id})` })),
                { value: otherBiller, label: 'Another biller…' },
              ]}
            />
          )}
          {chosen === otherBiller ? (
            <Field
              label="Biller id"
              value={billerId}
              onInput={setBillerId}
              hint="As printed on the bill; your bank pays only the billers it registered"
            />
          ) : null}
          <Field
            label="Your reference at the biller"
            value={customerReference}
            onInput={setCustomerReference}
          />
          <Field
            label={`Amount (${currency})`}
            inputMode="decimal"
            value={amount}
            onInput={setAmount}
            maxLength={16}
          />
          {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
          <ErrorNotice error={error} />
          <Button type="submit" busy={busy}>
            Pay bill
          </Button>
        </Form>
      </Card>
    </>
  );
}
