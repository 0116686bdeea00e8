import { billerIdPattern, customerReferencePattern, parsePartyId } from '@mpay/protocol';
import type { BankingBalance, BankingBillPayment, BankingOrderState, BankingTransfer } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice, Select } from '../../ui/components.tsx';
import { formatMoney, parseMoney, shortId } from '../../ui/format.ts';
import { useBankingAction } from './action.ts';
import { type OrderResult, useMoneyOrder } from './order.ts';
import type { OrderDraft } from './order-draft.ts';
import { FoundOnStatement, OrderNotice, type OrderWords } from './order-notice.tsx';
import type { BankingPhone } from './phone.ts';
import { type KnownBiller, knownBillers, rememberBiller } from './store.ts';

/**
 * The Business Logic Module's money requests (seed 003 §5.2): the balance of
 * ID_C's account, a transfer (a customer of this bank: one posted transfer;
 * of another bank: a hold here and the interbank funds transfer) and a bill
 * payment to a biller the bank registered. Each is the SDK's E(S(msg, ID_C));
 * what the page shows is the bank's verified answer, checked by the SDK to be
 * the answer to exactly what was signed. A transfer or a bill payment goes
 * with one request id for all its tries (order.ts): it moves money once.
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

type TransferDraft = Extract<OrderDraft, { kind: 'transfer' }>;
type BillDraft = Extract<OrderDraft, { kind: 'bill_payment' }>;

/** Minor units as the customer types them (`125000n` → `1250.00`), to show a kept order in its form again. */
function amountInput(minor: string, currency: string): string {
  return formatMoney(BigInt(minor), currency)
    .replace(/^[A-Z]{3} /, '')
    .replace(/,/g, '');
}

function transferWords(draft: TransferDraft | undefined): OrderWords {
  return {
    noun: 'transfer',
    summary:
      draft === undefined
        ? ''
        : `${formatMoney(BigInt(draft.amount), draft.currency)} to ${draft.payeeId} · ${draft.reference}`,
  };
}

function billWords(draft: BillDraft | undefined): OrderWords {
  return {
    noun: 'bill payment',
    summary:
      draft === undefined
        ? ''
        : `${formatMoney(BigInt(draft.amount), draft.currency)} to ${draft.billerId} · ${draft.customerReference}`,
  };
}

/** The draft a result is about, if any. */
function draftOf<D extends OrderDraft>(result: OrderResult<D, unknown> | undefined): D | undefined {
  return result !== undefined && 'draft' in result ? result.draft : undefined;
}

/**
 * A transfer. Its request id is drawn when it is first sent and kept for
 * every try of the same transfer (order.ts): a retry after a lost answer
 * never moves the money twice. Changing the payee, the amount or the
 * reference makes it another transfer, with a new id.
 */
export function TransferPanel(
  props: PanelProps & { readonly currency: string; readonly onMoved: () => void },
): JSX.Element {
  const { phone, currency } = props;
  const ownBank = phone.device.bank.id;
  const [payee, setPayee] = useState('');
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const order = useMoneyOrder<TransferDraft, BankingTransfer>({
    phone,
    kind: 'transfer',
    onSessionEnded: props.onSessionEnded,
    send: (draft, requestId) =>
      phone.client.transfer({
        payeeId: draft.payeeId,
        amount: BigInt(draft.amount),
        currency: draft.currency,
        reference: draft.reference,
        requestId,
      }),
    onRestored: (draft) => {
      setPayee(draft.payeeId);
      setAmount(amountInput(draft.amount, draft.currency));
      setReference(draft.reference);
    },
  });
  const payeeBank = bankOfPayee(payee);
  const { result } = order;

  /** The form as an order, or undefined with the first thing wrong said plainly (nothing is sent). */
  const draftOfForm = (): TransferDraft | undefined => {
    const minor = parseMoney(amount, currency);
    let wrong: string | undefined;
    if (payeeBank === undefined) wrong = 'The payee is a customer id, e.g. marko@person.xbank.';
    else if (minor === undefined || minor <= 0n) wrong = `Type an amount in ${currency}, e.g. 12.50.`;
    else if (reference.trim() === '') wrong = 'Say what the transfer is for.';
    setProblem(wrong);
    if (wrong !== undefined || minor === undefined) return undefined;
    const draft: TransferDraft = {
      kind: 'transfer',
      payeeId: payee.trim(),
      amount: minor.toString(),
      currency,
      reference: reference.trim(),
    };
    return draft;
  };
  const submit = async (draft: TransferDraft | undefined, fresh = false) => {
    if (draft === undefined) return;
    const next = await order.submit(draft, { fresh });
    if (next?.kind === 'done' || next?.kind === 'found') {
      setPayee('');
      setAmount('');
      setReference('');
      props.onMoved();
    }
  };
  const words = transferWords(draftOf(result) ?? order.open?.draft);

  return (
    <>
      {result?.kind === 'done' ? (
        <Card title="Transfer sent" tone={toneOf(result.value.state)} testId="banking-transfer-result">
          <p class="amount">{formatMoney(result.value.amount, result.value.currency)}</p>
          <Facts
            items={[
              ['To', result.value.payeeId],
              [
                'State',
                stateText(
                  result.value.state,
                  bankOfPayee(result.value.payeeId) ?? '',
                  result.value.refusalCode,
                ),
              ],
              ['Reference', result.value.reference],
              ['Order', <span title={result.value.orderId}>{shortId(result.value.orderId)}</span>],
            ]}
          />
        </Card>
      ) : result?.kind === 'found' ? (
        <FoundOnStatement
          title="Transfer made"
          words={words}
          requestId={result.requestId}
          line={result.line}
          currency={result.draft.currency}
        />
      ) : null}
      <Card title="Transfer">
        <Form onSubmit={() => void submit(draftOfForm())} label="Transfer">
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
          <OrderNotice
            result={result}
            words={words}
            busy={order.busy}
            onSendAgain={() => void submit(order.open?.draft)}
            onSendNew={() => void submit(order.open?.draft, true)}
          />
          <Button type="submit" busy={order.busy}>
            Send transfer
          </Button>
        </Form>
      </Card>
    </>
  );
}

const otherBiller = '';

/** A bill payment: its request id kept for every try of the same payment, as a transfer's. */
export function BillPanel(
  props: PanelProps & { readonly currency: string; readonly onMoved: () => void },
): JSX.Element {
  const { phone, currency } = props;
  const [billers, setBillers] = useState<readonly KnownBiller[]>([]);
  // Undefined: the biller paid last (the first known one).
  const [chosen, setChosen] = useState<string | undefined>();
  const [billerId, setBillerId] = useState('');
  const [customerReference, setCustomerReference] = useState('');
  const [amount, setAmount] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const order = useMoneyOrder<BillDraft, BankingBillPayment>({
    phone,
    kind: 'bill_payment',
    onSessionEnded: props.onSessionEnded,
    send: (draft, requestId) =>
      phone.client.payBill({
        billerId: draft.billerId,
        customerReference: draft.customerReference,
        amount: BigInt(draft.amount),
        currency: draft.currency,
        requestId,
      }),
    onRestored: (draft) => {
      void knownBillers().then((known) => {
        setChosen(known.some((biller) => biller.id === draft.billerId) ? draft.billerId : otherBiller);
        setBillerId(draft.billerId);
      });
      setCustomerReference(draft.customerReference);
      setAmount(amountInput(draft.amount, draft.currency));
    },
  });
  useEffect(() => {
    void knownBillers().then(setBillers);
  }, []);
  const selected =
    chosen !== undefined && (chosen === otherBiller || billers.some((biller) => biller.id === chosen))
      ? chosen
      : (billers[0]?.id ?? otherBiller);
  const { result } = order;

  const draftOfForm = (): BillDraft | undefined => {
    const id = selected === otherBiller ? billerId.trim().toLowerCase() : selected;
    const minor = parseMoney(amount, currency);
    let wrong: string | undefined;
    if (!billerIdPattern.test(id)) wrong = 'The biller id is as printed on the bill, e.g. power-co.';
    else if (!customerReferencePattern.test(customerReference.trim()))
      wrong = 'Your reference is the 2 to 35 letters and digits on the bill.';
    else if (minor === undefined || minor <= 0n) wrong = `Type an amount in ${currency}, e.g. 30.00.`;
    setProblem(wrong);
    if (wrong !== undefined || minor === undefined) return undefined;
    const draft: BillDraft = {
      kind: 'bill_payment',
      billerId: id,
      customerReference: customerReference.trim(),
      amount: minor.toString(),
      currency,
    };
    return draft;
  };
  const submit = async (draft: BillDraft | undefined, fresh = false) => {
    if (draft === undefined) return;
    const next = await order.submit(draft, { fresh });
    if (next?.kind !== 'done' && next?.kind !== 'found') return;
    if (next.kind === 'done') {
      // Only the bank's verified answer names the biller: it is remembered for the next bill.
      setBillers(await rememberBiller({ id: next.value.billerId, name: next.value.billerName }));
    }
    setChosen(draft.billerId);
    setBillerId('');
    setCustomerReference('');
    setAmount('');
    props.onMoved();
  };
  const words = billWords(draftOf(result) ?? order.open?.draft);

  return (
    <>
      {result?.kind === 'done' ? (
        <Card title="Bill paid" tone={toneOf(result.value.state)} testId="banking-bill-result">
          <p class="amount">{formatMoney(result.value.amount, result.value.currency)}</p>
          <Facts
            items={[
              ['Biller', `${result.value.billerName} (${result.value.billerId})`],
              ['Your reference', result.value.customerReference],
              ['State', stateText(result.value.state, result.value.billerName, result.value.refusalCode)],
              ['Order', <span title={result.value.orderId}>{shortId(result.value.orderId)}</span>],
            ]}
          />
        </Card>
      ) : result?.kind === 'found' ? (
        <FoundOnStatement
          title="Bill paid"
          words={words}
          requestId={result.requestId}
          line={result.line}
          currency={result.draft.currency}
        />
      ) : null}
      <Card title="Pay a bill">
        <Form onSubmit={() => void submit(draftOfForm())} label="Bill payment">
          {billers.length === 0 ? null : (
            <Select
              label="Biller"
              value={selected}
              onChange={setChosen}
              options={[
                ...billers.map((biller) => ({ value: biller.id, label: `${biller.name} (${biller.id})` })),
                { value: otherBiller, label: 'Another biller…' },
              ]}
            />
          )}
          {selected === otherBiller ? (
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
          <OrderNotice
            result={result}
            words={words}
            busy={order.busy}
            onSendAgain={() => void submit(order.open?.draft)}
            onSendNew={() => void submit(order.open?.draft, true)}
          />
          <Button type="submit" busy={order.busy}>
            Pay bill
          </Button>
        </Form>
      </Card>
    </>
  );
}
