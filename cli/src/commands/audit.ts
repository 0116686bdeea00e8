import { bankIds } from '../platform/banks.ts';
import { describeDebt, money, reconcileBanks } from './banks-report.ts';
import { dataDirOf, type OperatorClient, operatorClient, readDeployment } from './deployment.ts';
import type { CommandIo } from './io.ts';

interface AuditAnswer {
  ok: boolean;
  accountsChecked: number;
  transfersChecked: number;
  ledgers: {
    currency: string;
    debitsPosted: string;
    creditsPosted: string;
    debitsPending: string;
    creditsPending: string;
  }[];
  violations: { rule: string; [field: string]: unknown }[];
  mismatches: { accountId: string; field: string; stored: string; fromTransfers: string }[];
}

/**
 * The banks are read one after the other, so a payment that completes between
 * two reads can look like a disagreement: read again, a few times, before
 * calling a difference real.
 */
async function reconcileSettled(clients: readonly OperatorClient[], io: CommandIo) {
  const overdue = new Map<string, string>();
  const note = (bank: string, peer: string, count: number) =>
    overdue.set(
      `${bank}→${peer}`,
      `warning  ${bank}: ${count} payment order(s) to ${peer} unanswered past their deadline; is ${peer} reachable?\n`,
    );
  let pairs = await reconcileBanks(clients, note);
  for (let attempt = 1; attempt < 4 && pairs.some((pair) => !pair.consistent); attempt += 1) {
    await new Promise((done) => setTimeout(done, 200 * attempt));
    pairs = await reconcileBanks(clients, note);
  }
  for (const line of overdue.values()) io.stdout(line);
  return pairs;
}

/**
 * `mpay audit`: every bank checks its own ledger (debits = credits per ledger,
 * posted and pending; no account beyond its limit; every balance equal to the
 * sum of its transfers), then the banks' positions towards each other are
 * reconciled. Exit 0 only when everything holds; 1 with a report otherwise.
 */
export async function runAudit(flags: Map<string, string>, io: CommandIo): Promise<number> {
  const dataDir = dataDirOf(flags);
  const deployment = await readDeployment(dataDir);
  const clients = await Promise.all(deployment.banks.map((bank) => operatorClient(dataDir, bank)));
  let ok = deployment.banks.length === bankIds.length;
  if (!ok)
    io.stdout(
      `! expected banks ${bankIds.join(', ')}, deployment lists ${deployment.banks.map((b) => b.id).join(', ')}\n`,
    );
  for (const client of clients) {
    const report = await client.get<AuditAnswer>('/audit');
    ok &&= report.ok;
    const totals = report.ledgers
      .map((ledger) => `posted debits = credits = ${money(ledger.currency, BigInt(ledger.creditsPosted))}`)
      .join('; ');
    io.stdout(
      `${report.ok ? 'ok' : 'FAILED'}  ${client.id}: ${report.accountsChecked} accounts, ${report.transfersChecked} transfers${totals ? `; ${totals}` : ''}\n`,
    );
    for (const violation of report.violations) io.stdout(`    violation: ${JSON.stringify(violation)}\n`);
    for (const mismatch of report.mismatches) {
      io.stdout(
        `    balance mismatch: account ${mismatch.accountId} ${mismatch.field} stored ${mismatch.stored}, from transfers ${mismatch.fromTransfers}\n`,
      );
    }
  }
  for (const pair of await reconcileSettled(clients, io)) {
    ok &&= pair.consistent;
    const [first, second] = pair.banks;
    const inFlight = pair.inFlight.fromFirst + pair.inFlight.fromSecond;
    const state = pair.agree
      ? 'books agree'
      : pair.consistent
        ? `differ by payments in flight (${money(pair.currency, inFlight)})`
        : 'DO NOT AGREE';
    io.stdout(
      `${pair.consistent ? 'ok' : 'FAILED'}  ${first} ⇄ ${second} ${pair.currency}: ${describeDebt(pair)}; ${second}'s books: ${money(pair.currency, pair.claimedBySecond)}; ${state}\n`,
    );
  }
  io.stdout(ok ? 'audit: every invariant holds\n' : 'audit: FAILED (see above)\n');
  return ok ? 0 : 1;
}
