import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PairReconciliation } from '@mpay/bank';
import { writeSecret } from '../platform/identities.ts';
import { describeDebt, money, reconcileBanks } from './banks-report.ts';
import { dataDirOf, type OperatorClient, operatorClient, readDeployment, readJson } from './deployment.ts';
import type { CommandIo } from './io.ts';

/** One settlement run between two banks: both book the same amount under the same id. */
interface SettlementJournal {
  id: string;
  banks: [string, string];
  currency: string;
  /** Positive: banks[0] pays banks[1]. */
  amount: string;
}

const journalFolder = (dataDir: string) => join(dataDir, 'settlements');

/**
 * Books a run at both banks. The journal is written first and removed last,
 * so a run cut short is finished by the next `mpay settlement --book`; both
 * bookings are idempotent by the run id.
 */
async function book(
  dataDir: string,
  clients: readonly OperatorClient[],
  journal: SettlementJournal,
  io: CommandIo,
) {
  const path = join(journalFolder(dataDir), `${journal.id}.json`);
  await writeSecret(path, journal);
  const amount = BigInt(journal.amount);
  for (const [index, bankId] of journal.banks.entries()) {
    const client = clients.find((candidate) => candidate.id === bankId)!;
    const peer = journal.banks[1 - index]!;
    const signed = index === 0 ? amount : -amount;
    await client.post('/settlements', {
      id: journal.id,
      peer,
      currency: journal.currency,
      amount: signed.toString(),
    });
  }
  await rm(path);
  io.stdout(
    `booked settlement ${journal.id}: ${journal.banks[0]} paid ${journal.banks[1]} ${money(journal.currency, amount)}\n`,
  );
}

async function finishInterruptedRuns(dataDir: string, clients: readonly OperatorClient[], io: CommandIo) {
  const names = await readdir(journalFolder(dataDir)).catch(() => [] as string[]);
  for (const name of names.filter((file) => file.endsWith('.json'))) {
    const journal = await readJson<SettlementJournal>(join(journalFolder(dataDir), name));
    if (journal === undefined) continue;
    io.stdout(`finishing interrupted settlement ${journal.id}\n`);
    await book(dataDir, clients, journal, io);
  }
}

function positionLine(pair: PairReconciliation): string {
  const inFlight = pair.inFlight.fromFirst + pair.inFlight.fromSecond;
  const agreement = pair.agree
    ? 'both books agree'
    : `books differ by ${money(pair.currency, pair.claimedBySecond - pair.owedByFirst)} (in flight: ${money(pair.currency, inFlight)})`;
  return `${describeDebt(pair)} — ${agreement}\n`;
}

/**
 * `mpay settlement [--book] [--json]`: who owes whom, from every bank's books,
 * net per pair of banks and currency. `--book` settles every pair whose books
 * agree (paid through the banks' reserve accounts at the central bank); pairs
 * with payments in flight are left for the next run.
 */
export async function runSettlement(flags: Map<string, string>, io: CommandIo): Promise<number> {
  const dataDir = dataDirOf(flags);
  const deployment = await readDeployment(dataDir);
  const clients = await Promise.all(deployment.banks.map((bank) => operatorClient(dataDir, bank)));
  if (flags.has('book')) await finishInterruptedRuns(dataDir, clients, io);
  const pairs = await reconcileBanks(clients);
  if (flags.has('json') && !flags.has('book')) {
    const json = pairs.map((pair) => ({
      banks: pair.banks,
      currency: pair.currency,
      owedByFirst: pair.owedByFirst.toString(),
      claimedBySecond: pair.claimedBySecond.toString(),
      agree: pair.agree,
      consistent: pair.consistent,
    }));
    io.stdout(`${JSON.stringify({ positions: json })}\n`);
    return pairs.every((pair) => pair.consistent) ? 0 : 1;
  }
  if (pairs.length === 0) io.stdout('no interbank positions yet\n');
  for (const pair of pairs) io.stdout(positionLine(pair));
  if (!flags.has('book')) return pairs.every((pair) => pair.consistent) ? 0 : 1;
  for (const pair of pairs.filter((candidate) => candidate.agree && candidate.owedByFirst !== 0n)) {
    const journal: SettlementJournal = {
      id: randomUUID(),
      banks: [pair.banks[0], pair.banks[1]],
      currency: pair.currency,
      amount: pair.owedByFirst.toString(),
    };
    await book(dataDir, clients, journal, io);
  }
  return 0;
}
