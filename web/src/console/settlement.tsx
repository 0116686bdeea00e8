import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, ErrorNotice, Notice } from '../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../ui/format.ts';
import { consoleApi, type SettlementOutcome, type SettlementRun, type SettlementsAnswer } from './api.ts';
import { PositionsTable } from './banks.tsx';
import { LoadedView, Panel, RefreshButton, useLoad } from './parts.tsx';

function bookingText(run: SettlementRun, booking: SettlementRun['bookings'][number]): string {
  const amount = BigInt(booking.amount);
  return amount > 0n
    ? `${booking.bank} paid ${booking.peer} ${formatMoney(amount, run.currency)}`
    : `${booking.bank} received ${formatMoney(-amount, run.currency)} from ${booking.peer}`;
}

function Runs(props: { readonly runs: readonly SettlementRun[] }): JSX.Element {
  if (props.runs.length === 0) return <p class="muted">No settlement run yet.</p>;
  return (
    <div class="table-scroll">
      <table class="console-table" aria-label="Settlement runs">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Booked</th>
            <th scope="col">Bookings</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((run) => (
            <tr key={run.id}>
              <td class="mono" title={run.id}>
                {shortId(run.id)}
              </td>
              <td class="console-nowrap">{formatTime(run.bookings[0]?.at ?? '')}</td>
              <td>
                {run.bookings.map((booking) => (
                  <p key={booking.bank}>{bookingText(run, booking)}</p>
                ))}
              </td>
              <td>
                <span class={run.complete ? 'badge badge-good' : 'badge badge-warn'}>
                  {run.complete ? 'booked at both banks' : 'booked at one bank only'}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function OutcomeNotice(props: { readonly outcome: SettlementOutcome }): JSX.Element {
  const { finished, booked, skipped } = props.outcome;
  return (
    <Notice tone={booked.length > 0 || finished.length > 0 ? 'good' : 'info'} testId="settlement-outcome">
      {booked.length === 0 && finished.length === 0 ? <p>Nothing to settle.</p> : null}
      {booked.map((run) => (
        <p key={run.id}>
          Settled: {run.banks[0]} {BigInt(run.amount) > 0n ? 'paid' : 'was paid by'} {run.banks[1]}{' '}
          {formatMoney(BigInt(run.amount) > 0n ? BigInt(run.amount) : -BigInt(run.amount), run.currency)} (run{' '}
          {shortId(run.id)}).
        </p>
      ))}
      {finished.map((id) => (
        <p key={id}>Finished run {shortId(id)}, which one bank had booked only.</p>
      ))}
      {skipped.map((pair) => (
        <p key={`${pair.banks.join('-')}-${pair.currency}`}>
          {pair.banks[0]} ⇄ {pair.banks[1]} {pair.currency}: {pair.reason}
          {pair.reason === 'payments in flight' ? ', left for the next run' : ''}.
        </p>
      ))}
    </Notice>
  );
}

/**
 * Settlement: the positions the next run would settle, a button that runs it
 * (as `mpay settlement --book` does), and the runs the banks booked.
 */
export function SettlementView(): JSX.Element {
  const loaded = useLoad(() => consoleApi.get<SettlementsAnswer>('/settlements'));
  const [running, setRunning] = useState(false);
  const [outcome, setOutcome] = useState<SettlementOutcome | undefined>();
  const [error, setError] = useState<unknown>();
  const run = async () => {
    setRunning(true);
    setError(undefined);
    try {
      setOutcome(await consoleApi.post<SettlementOutcome>('/settlements'));
      loaded.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setRunning(false);
    }
  };
  return (
    <>
      <Panel title="Next settlement" actions={<RefreshButton loaded={loaded} />}>
        <p class="muted">
          A run settles every pair of banks whose books agree, through their reserve accounts; pairs with
          payments in flight wait for the next run.
        </p>
        <LoadedView loaded={loaded} label="Reading the positions…">
          {(answer) => <PositionsTable pairs={answer.pairs} overdue={answer.overdue} />}
        </LoadedView>
        <ErrorNotice error={error} />
        {outcome === undefined ? null : <OutcomeNotice outcome={outcome} />}
        <div class="button-row">
          <Button onClick={() => void run()} busy={running}>
            Run settlement
          </Button>
        </div>
      </Panel>
      <Panel title="Settlement runs">
        <LoadedView loaded={loaded} label="Reading the runs…">
          {(answer) => <Runs runs={answer.runs} />}
        </LoadedView>
      </Panel>
    </>
  );
}
