import type { JSX } from 'preact';
import { Button, Card, ErrorNotice, Facts } from '../../ui/components.tsx';
import { describeError } from '../../ui/errors.ts';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import type { OrderResult } from './order.ts';
import type { OrderDraft } from './order-draft.ts';

/**
 * What the page says about a money order whose try failed (order.ts), so
 * that the customer never sends it twice: when the answer was lost it is
 * sent again as the same order (the bank carries an order out once); when
 * the bank already had it, the statement says whether it was carried out.
 */

/** "transfer" or "bill payment", and how the order reads in one line. */
export interface OrderWords {
  readonly noun: string;
  readonly summary: string;
}

function Unknown(props: {
  readonly error: unknown;
  readonly unverified: boolean;
  readonly words: OrderWords;
  readonly busy: boolean;
  readonly onSendAgain: () => void;
}): JSX.Element {
  const { noun, summary } = props.words;
  const described = props.error === undefined ? undefined : describeError(props.error);
  return (
    <div
      class="notice notice-warn banking-order-notice"
      role="alert"
      data-testid="order-unsettled"
      data-code={described?.code}
    >
      <strong>
        {props.unverified
          ? `Your bank's answer did not verify: was the ${noun} made?`
          : described === undefined
            ? `Your last ${noun} got no answer`
            : `No answer from your bank: was the ${noun} made?`}
      </strong>
      <p class="mono">{summary}</p>
      <p>
        {props.unverified
          ? `Nothing in the answer is used. The ${noun} may have been made: check your statement before you send a new one.`
          : `This phone cannot tell whether your bank made it. Check your statement before you send a new ${noun}.`}
      </p>
      <p>
        Sending it again is safe: it goes as the same order, which your bank carries out once only, and the
        page then says whether it was made.
      </p>
      {described === undefined ? null : (
        <p class="notice-code">
          {described.title}. Code: {described.code}
        </p>
      )}
      <Button kind="secondary" onClick={props.onSendAgain} busy={props.busy}>
        Send it again
      </Button>
    </div>
  );
}

function Received(props: {
  readonly statementUnread: boolean;
  readonly words: OrderWords;
  readonly busy: boolean;
  readonly onSendAgain: () => void;
  readonly onSendNew: () => void;
}): JSX.Element {
  const { noun, summary } = props.words;
  return (
    <div
      class="notice notice-warn banking-order-notice"
      role="alert"
      data-testid="order-received"
      data-code="BANKING_REQUEST_REPLAYED"
    >
      <strong>Your bank already has this {noun}</strong>
      <p class="mono">{summary}</p>
      <p>
        An earlier try reached your bank, so it was not sent again.{' '}
        {props.statementUnread
          ? 'Your statement could not be read just now.'
          : 'It is not on your statement: your bank refused it, or it is still on its way to another bank.'}{' '}
        Check your statement and your available balance before you send it again.
      </p>
      <p class="notice-code">Code: BANKING_REQUEST_REPLAYED</p>
      <div class="button-row">
        <Button kind="secondary" onClick={props.onSendAgain} busy={props.busy}>
          Look again
        </Button>
        <Button kind="danger" onClick={props.onSendNew} disabled={props.busy}>
          Send as a new {noun}
        </Button>
      </div>
    </div>
  );
}

/** The order's try as the customer reads it; `done` is the panel's own card. */
export function OrderNotice<D extends OrderDraft, R>(props: {
  readonly result: OrderResult<D, R> | undefined;
  readonly words: OrderWords;
  readonly busy: boolean;
  readonly onSendAgain: () => void;
  readonly onSendNew: () => void;
}): JSX.Element | null {
  const { result, words } = props;
  switch (result?.kind) {
    case undefined:
    case 'done':
      return null;
    case 'refused':
      return <ErrorNotice error={result.error} />;
    case 'unknown':
      return (
        <Unknown
          error={result.error}
          unverified={result.unverified}
          words={words}
          busy={props.busy}
          onSendAgain={props.onSendAgain}
        />
      );
    case 'received':
      return (
        <Received
          statementUnread={result.statementUnread}
          words={words}
          busy={props.busy}
          onSendAgain={props.onSendAgain}
          onSendNew={props.onSendNew}
        />
      );
    case 'found':
      return null;
  }
}

/** An earlier try that was carried out, as the statement shows it: it was not sent again. */
export function FoundOnStatement(props: {
  readonly title: string;
  readonly words: OrderWords;
  readonly requestId: string;
  readonly line: { readonly amount: bigint; readonly at: string };
  readonly currency: string;
}): JSX.Element {
  const { line } = props;
  return (
    <Card title={props.title} tone="good" testId="banking-order-found">
      <p class="amount">{formatMoney(line.amount, props.currency)}</p>
      <p>
        Your bank made this {props.words.noun} when you first sent it; only its answer was lost on the way. It
        is on your statement, and it was not sent again.
      </p>
      <Facts
        items={[
          ['Order', props.words.summary],
          ['Booked', formatTime(line.at)],
          ['Order id', <span title={props.requestId}>{shortId(props.requestId)}</span>],
        ]}
      />
    </Card>
  );
}
