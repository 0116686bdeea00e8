import type { BankingStatement, BankingStatementLine } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts } from '../../ui/components.tsx';
import { formatMoney, formatTime } from '../../ui/format.ts';
import { useBankingAction } from './action.ts';
import type { PanelProps } from './money.tsx';
import { checkReceipt, logPolicyOf, type ReceiptCheck, type ReceiptContext } from './receipt.ts';
import { signingKeysHeld } from './store.ts';

/**
 * The statement of ID_C's account, newest first, a page at a time. Every
 * line a banking request made carries the transaction log's receipt once the
 * log proved it; the page checks each one itself (receipt.ts) and says
 * "Recorded in the public log" only for a receipt that verified.
 */

const pageSize = 10;

type Checked = ReceiptCheck | { readonly status: 'checking' };

function ReceiptMark(props: { readonly check: Checked }): JSX.Element {
  const { check } = props;
  switch (check.status) {
    case 'checking':
      return <Busy label="Checking the log receipt…" />;
    case 'none':
      return <p class="banking-receipt muted">Not a mobile banking request: no log receipt</p>;
    case 'pending':
      return (
        <p class="banking-receipt">
          <span class="badge badge-warn">Not in the public log yet</span> The bank submits it; look again
          later.
        </p>
      );
    case 'verified':
      return (
        <div class="banking-receipt">
          <span class="badge badge-good">✓ Recorded in the public log</span>
          <p class="muted">
            Entry {check.index.toString()} of {check.origin} (tree size {check.treeSize.toString()}), cosigned
            by {check.witnesses.join(', ')}. Proof checked on this phone;{' '}
            {check.signedRequest === undefined
              ? 'signed on another of your devices.'
              : 'signed on this phone.'}
          </p>
        </div>
      );
    case 'failed':
      return (
        <div class="banking-receipt">
          <span class="badge badge-bad">✗ Log receipt did not verify</span>
          <ErrorNotice error={check.error} />
        </div>
      );
  }
}

/** The line as the customer knows it: what this phone signed when the log proved it, else the bank's reference. */
function lineTitle(
  line: BankingStatementLine,
  check: Checked,
): { title: string; detail?: string | undefined } {
  const signed = check.status === 'verified' ? check.signedRequest : undefined;
  if (signed?.kind === 'transfer' && signed.payeeId !== undefined)
    return { title: `Transfer to ${signed.payeeId}`, detail: signed.reference };
  if (signed?.kind === 'bill_payment' && signed.billerId !== undefined)
    return { title: `Bill ${signed.billerId}`, detail: signed.customerReference };
  return { title: line.reference ?? (line.direction === 'credit' ? 'Money received' : 'Payment') };
}

function StatementLine(props: {
  readonly line: BankingStatementLine;
  readonly currency: string;
  readonly check: Checked;
}) {
  const { line } = props;
  const signed = line.direction === 'credit' ? line.amount : -line.amount;
  const { title, detail } = lineTitle(line, props.check);
  return (
    <li class="banking-line">
      <div class="row">
        <strong>{title}</strong>
        <span class={line.direction === 'credit' ? 'banking-credit' : 'banking-debit'}>
          {line.direction === 'credit' ? '+' : ''}
          {formatMoney(signed, props.currency)}
        </span>
      </div>
      <p class="muted">
        {detail === undefined ? null : `${detail} · `}
        {formatTime(line.at)}
      </p>
      <ReceiptMark check={props.check} />
    </li>
  );
}

export function StatementPanel(props: PanelProps): JSX.Element {
  const { phone } = props;
  const { busy, error, run } = useBankingAction(phone, props.onSessionEnded);
  const [pages, setPages] = useState<readonly BankingStatement[]>([]);
  const [checks, setChecks] = useState<ReadonlyMap<string, Checked>>(new Map());

  const checkLines = async (lines: readonly BankingStatementLine[]) => {
    const state = await phone.keys.state();
    const context: ReceiptContext = {
      policy: logPolicyOf(phone.config),
      bank: phone.device.bank,
      partyId: state.partyId,
      deviceKeys: [state.current.signing.publicJwk, ...(await signingKeysHeld())],
    };
    setChecks(
      (old) => new Map([...old, ...lines.map((line) => [line.transferId, { status: 'checking' }] as const)]),
    );
    await Promise.all(
      lines.map(async (line) => {
        const check = await checkReceipt(line, context);
        setChecks((old) => new Map(old).set(line.transferId, check));
      }),
    );
  };

  const load = async (cursor?: string) => {
    const page = await run(() =>
      phone.client.statement({ pageSize, ...(cursor === undefined ? {} : { cursor }) }),
    );
    if (page === undefined) return;
    setPages((old) => (cursor === undefined ? [page] : [...old, page]));
    if (cursor === undefined) setChecks(new Map());
    await checkLines(page.lines);
  };
  useEffect(() => {
    void load();
  }, []);

  const first = pages[0];
  const last = pages.at(-1);
  const lines = pages.flatMap((page) => page.lines);
  return (
    <Card title="Statement">
      {first === undefined ? null : (
        <Facts
          items={[
            ['Balance', formatMoney(first.balance, first.currency)],
            ['Account', first.accountId],
          ]}
        />
      )}
      {first !== undefined && lines.length === 0 ? <p class="muted">No transactions yet.</p> : null}
      <ul class="list" aria-label="Statement lines">
        {lines.map((line) => (
          <StatementLine
            key={line.transferId}
            line={line}
            currency={first?.currency ?? phone.config.currency}
            check={checks.get(line.transferId) ?? { status: 'checking' }}
          />
        ))}
      </ul>
      <ErrorNotice error={error} onRetry={() => load()} />
      {busy ? <Busy label="Asking your bank…" /> : null}
      <div class="button-row">
        <Button kind="secondary" onClick={() => load()} busy={busy}>
          Refresh statement
        </Button>
        {last?.nextCursor === undefined ? null : (
          <Button kind="secondary" onClick={() => load(last.nextCursor)} busy={busy}>
            Older lines
          </Button>
        )}
      </div>
    </Card>
  );
}
