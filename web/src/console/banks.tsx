import type { JSX } from 'preact';
import { ErrorNotice, Facts, Notice } from '../ui/components.tsx';
import { formatMoney } from '../ui/format.ts';
import { type BankAudit, type BanksAnswer, consoleApi, type Overdue, type Pair } from './api.ts';
import { LoadedView, Panel, RefreshButton, useLoad } from './parts.tsx';

/** "xbank owes ybank EUR 12.50", from the first bank's books. */
export function describeDebt(pair: Pair): string {
  const [first, second] = pair.banks;
  const owed = BigInt(pair.owedByFirst);
  if (owed === 0n) return `${first} and ${second} owe each other nothing`;
  return owed > 0n
    ? `${first} owes ${second} ${formatMoney(owed, pair.currency)}`
    : `${second} owes ${first} ${formatMoney(-owed, pair.currency)}`;
}

function pairState(pair: Pair): { tone: 'good' | 'warn' | 'bad'; text: string } {
  if (pair.agree) return { tone: 'good', text: 'books agree' };
  if (pair.consistent) {
    const inFlight = BigInt(pair.inFlight.fromFirst) + BigInt(pair.inFlight.fromSecond);
    return { tone: 'warn', text: `differ by payments in flight (${formatMoney(inFlight, pair.currency)})` };
  }
  return { tone: 'bad', text: 'books DO NOT agree' };
}

/** The interbank positions, pair by pair, with whether the two banks' books agree. */
export function PositionsTable(props: {
  readonly pairs: readonly Pair[];
  readonly overdue: readonly Overdue[];
}): JSX.Element {
  return (
    <>
      {props.overdue.map((late) => (
        <Notice key={`${late.bank}-${late.peer}`} tone="warn">
          {late.bank}: {late.count} payment order(s) to {late.peer} unanswered past their deadline. Is{' '}
          {late.peer} reachable?
        </Notice>
      ))}
      {props.pairs.length === 0 ? (
        <p class="muted">No interbank positions yet: no payment has crossed banks.</p>
      ) : (
        <div class="table-scroll">
          <table class="console-table" aria-label="Interbank positions">
            <thead>
              <tr>
                <th scope="col">Banks</th>
                <th scope="col">Position</th>
                <th scope="col" class="console-number">
                  Second bank's books
                </th>
                <th scope="col">Reconciliation</th>
              </tr>
            </thead>
            <tbody>
              {props.pairs.map((pair) => {
                const state = pairState(pair);
                return (
                  <tr key={`${pair.banks.join('-')}-${pair.currency}`}>
                    <td class="console-nowrap">
                      {pair.banks[0]} ⇄ {pair.banks[1]}
                    </td>
                    <td>{describeDebt(pair)}</td>
                    <td class="console-number console-nowrap">
                      {formatMoney(BigInt(pair.claimedBySecond), pair.currency)}
                    </td>
                    <td>
                      <span class={`badge badge-${state.tone}`}>{state.text}</span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function AuditFacts(props: { readonly audit: BankAudit }): JSX.Element {
  const { audit } = props;
  return (
    <>
      <p>
        <span class={audit.ok ? 'badge badge-good' : 'badge badge-bad'}>
          {audit.ok ? 'Audit holds' : 'Audit FAILED'}
        </span>
      </p>
      <Facts
        items={[
          ['Accounts checked', String(audit.accountsChecked)],
          ['Transfers checked', String(audit.transfersChecked)],
          ...audit.ledgers.map(
            (ledger) =>
              [
                `${ledger.currency} posted`,
                ledger.debitsPosted === ledger.creditsPosted
                  ? `debits = credits = ${formatMoney(BigInt(ledger.creditsPosted), ledger.currency)}`
                  : `debits ${formatMoney(BigInt(ledger.debitsPosted), ledger.currency)} ≠ credits ${formatMoney(BigInt(ledger.creditsPosted), ledger.currency)}`,
              ] as const,
          ),
          ...audit.ledgers.map(
            (ledger) =>
              [
                `${ledger.currency} held`,
                `${formatMoney(BigInt(ledger.debitsPending), ledger.currency)} pending`,
              ] as const,
          ),
        ]}
      />
      {audit.findings === 0 ? null : (
        <>
          <h3>Findings ({audit.findings})</h3>
          <ul class="list">
            {[...audit.violations, ...audit.mismatches].map((finding, index) => (
              <li key={index} class="mono">
                {JSON.stringify(finding)}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

/** Each bank's ledger audit (does every invariant hold?) and the interbank positions. */
export function BanksView(): JSX.Element {
  const loaded = useLoad(() => consoleApi.get<BanksAnswer>('/banks'));
  return (
    <LoadedView loaded={loaded} label="Auditing the banks' ledgers…">
      {(answer) => (
        <>
          <div class="console-grid">
            {answer.banks.map((bank) =>
              'audit' in bank ? (
                <Panel
                  key={bank.id}
                  title={`${bank.id} ledger`}
                  tone={bank.audit.ok ? 'default' : 'bad'}
                  actions={<RefreshButton loaded={loaded} label="Audit again" />}
                >
                  <AuditFacts audit={bank.audit} />
                </Panel>
              ) : (
                <Panel key={bank.id} title={`${bank.id} ledger`} tone="warn">
                  <ErrorNotice error={{ code: bank.error }} onRetry={loaded.reload} />
                </Panel>
              ),
            )}
          </div>
          <Panel title="Interbank positions">
            {'error' in answer.positions ? (
              <ErrorNotice error={{ code: answer.positions.error }} onRetry={loaded.reload} />
            ) : (
              <PositionsTable pairs={answer.positions.pairs} overdue={answer.positions.overdue} />
            )}
          </Panel>
        </>
      )}
    </LoadedView>
  );
}
