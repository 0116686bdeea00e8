import { type Account, accountAvailable, openAccount } from '../account/account.ts';
import { checkInvariants } from '../invariants/check.ts';
import { balancesFromTransfers } from '../invariants/recompute.ts';
import type { TransferResult } from '../linked/linked.ts';
import {
  emptyLedgerModel,
  type LedgerModel,
  modelCreateLinkedTransfers,
  modelExpirePendingTransfers,
  modelOpenAccount,
} from '../model/ledger-model.ts';
import type { Transfer, TransferInput, TransferRequest } from '../transfer/transfer.ts';
import { validateTransfer } from '../transfer/validate.ts';
import type { LedgerOperation, TransferOperation } from './operations.ts';
import {
  compareAll,
  describeAnswer,
  describeOutcome,
  describeRecord,
  type Outcome,
  outcomeOf,
  type PendingComparison,
  refusalCode,
} from './outcomes.ts';

export { describeRecord };

/** A ledger implementation driven by the same operations as the model (e.g. the bank's SQL store). */
export interface LedgerUnderTest {
  openAccount(account: Account): Promise<void>;
  createTransfer(request: TransferRequest, now: Date): Promise<{ transfer: Transfer; created: boolean }>;
  /** A linked chain: all commit or none (TigerBeetle's linked flag). */
  createLinkedTransfers(requests: readonly TransferRequest[], now: Date): Promise<readonly TransferResult[]>;
  expirePendingTransfers(now: Date): Promise<readonly Transfer[]>;
  getAccounts(ids: readonly string[]): Promise<readonly Account[]>;
}

/** What a run did, so that a test can check it exercised every path (a test that cannot fail is a defect). */
export interface OperationStatistics {
  readonly created: Record<string, number>;
  readonly refused: Record<string, number>;
  replayed: number;
  expired: number;
  chainsCommitted: number;
  chainsFailed: number;
}

export function emptyStatistics(): OperationStatistics {
  return { created: {}, refused: {}, replayed: 0, expired: 0, chainsCommitted: 0, chainsFailed: 0 };
}

export interface RunOptions {
  /** Ids for accounts and transfers, unique per run when the implementation keeps state between runs. */
  readonly idOf: (counter: number) => string;
  readonly start: Date;
  readonly implementation?: LedgerUnderTest | undefined;
  readonly statistics?: OperationStatistics | undefined;
  /**
   * Submit transfers to the implementation without awaiting them, in order,
   * and compare their answers only before an expiry sweep and at the end: a
   * batching implementation must answer exactly as if they came one by one.
   */
  readonly concurrent?: boolean | undefined;
}

interface RunState {
  model: LedgerModel;
  now: Date;
  counter: number;
  readonly accountIds: string[];
  /** Client requests that created a transfer, for post, void and retry steps to name. */
  readonly requests: TransferRequest[];
  readonly options: RunOptions;
  readonly statistics: OperationStatistics;
  readonly inFlight: PendingComparison[];
}

/** One chain member (or a lone request) and whether it repeats an earlier request. */
interface Step {
  readonly request: TransferRequest;
  readonly isRetry: boolean;
}

function fail(message: string): never {
  throw new Error(`ledger operations: ${message}`);
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

function nextId(state: RunState): string {
  state.counter += 1;
  return state.options.idOf(state.counter);
}

function pick<Item>(items: readonly Item[], index: number): Item | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

function transferInput(
  state: RunState,
  operation: TransferOperation & { type: 'transfer' | 'post' | 'void' },
  requests: readonly TransferRequest[],
): TransferInput | undefined {
  if (operation.type === 'transfer') {
    const debit = state.model.accounts.get(pick(state.accountIds, operation.debit) ?? '');
    const credit = state.model.accounts.get(pick(state.accountIds, operation.credit) ?? '');
    if (debit === undefined || credit === undefined) return undefined;
    const ledger = (operation.currencyOf === 'debit' ? debit : credit).ledger;
    const timeoutSeconds = operation.kind === 'pending' ? operation.timeoutSeconds : undefined;
    const { kind, amount } = operation;
    const [debitAccountId, creditAccountId] = [debit.id, credit.id];
    return { id: nextId(state), kind, debitAccountId, creditAccountId, amount, ledger, timeoutSeconds };
  }
  const target = pick(requests, operation.transfer);
  if (target === undefined) return undefined;
  const id = nextId(state);
  if (operation.type === 'void') return { id, kind: 'void_pending', pendingId: target.id };
  return { id, kind: 'post_pending', pendingId: target.id, amount: operation.amount };
}

/** The request a step makes, or undefined when it names nothing yet or validation refuses it (counted). */
function stepOf(state: RunState, operation: TransferOperation, earlier: readonly Step[]): Step | undefined {
  const requests = [
    ...state.requests,
    ...earlier.filter((step) => !step.isRetry).map((step) => step.request),
  ];
  if (operation.type === 'retry') {
    const original = pick(requests, operation.transfer);
    if (original === undefined) return undefined;
    const reference = operation.alter ? `${original.reference}altered` : original.reference;
    return { request: { ...original, reference }, isRetry: true };
  }
  const input = transferInput(state, operation, requests);
  if (input === undefined) return undefined;
  try {
    return { request: validateTransfer(input), isRetry: false };
  } catch (error) {
    count(state.statistics.refused, refusalCode(error));
    return undefined;
  }
}

function record(state: RunState, step: Step, outcome: Outcome): void {
  if ('code' in outcome) {
    count(state.statistics.refused, outcome.code);
    return;
  }
  if (outcome.created === step.isRetry)
    fail(`${step.isRetry ? 'a retry created' : 'a new request replayed'} ${step.request.id}`);
  if (step.isRetry) {
    state.statistics.replayed += 1;
    return;
  }
  count(state.statistics.created, step.request.kind);
  state.requests.push(step.request);
}

/** Runs the steps on the model (as one chain when linked), and on the implementation to compare. */
async function runSteps(state: RunState, steps: readonly Step[], linked: boolean): Promise<void> {
  const requests = steps.map((step) => step.request);
  const { model, results } = modelCreateLinkedTransfers(state.model, requests, state.now);
  state.model = model;
  const expected = results.map(outcomeOf);
  for (const [index, outcome] of expected.entries()) record(state, steps[index]!, outcome);
  if (linked) {
    if ('code' in expected[0]!) state.statistics.chainsFailed += 1;
    else state.statistics.chainsCommitted += 1;
  }
  const implementation = state.options.implementation;
  if (implementation === undefined) return;
  const answer = linked
    ? implementation.createLinkedTransfers(requests, state.now).then((answers) => answers.map(outcomeOf))
    : implementation.createTransfer(requests[0]!, state.now).then((outcome) => [outcome]);
  state.inFlight.push({
    label: `${requests.map((request) => `${request.kind} ${request.id}`).join(', ')}`,
    expected: expected.map(describeOutcome).join('\n'),
    actual: describeAnswer(answer),
  });
  if (!state.options.concurrent) await compareAll(state.inFlight);
}

async function runLinked(state: RunState, members: readonly TransferOperation[]): Promise<void> {
  const steps: Step[] = [];
  for (const member of members) {
    const step = stepOf(state, member, steps);
    if (step === undefined) return;
    steps.push(step);
  }
  await runSteps(state, steps, true);
}

async function runExpire(state: RunState): Promise<void> {
  await compareAll(state.inFlight);
  const swept = modelExpirePendingTransfers(state.model, state.now, () => nextId(state), 1_000);
  state.model = swept.model;
  state.statistics.expired += swept.expired.length;
  const ids = swept.expired.map((transfer) => transfer.pendingId ?? '');
  const implementation = state.options.implementation;
  if (implementation === undefined) return;
  const actual = (await implementation.expirePendingTransfers(state.now)).map(
    (transfer) => transfer.pendingId ?? '',
  );
  if (actual.sort().join() !== ids.sort().join()) fail(`expired ${actual.join()} instead of ${ids.join()}`);
}

async function runOpen(state: RunState, operation: LedgerOperation & { type: 'open' }): Promise<void> {
  const owners = {
    customer: 'someone@person.xbank',
    merchant: 'shop@merchant.xbank',
    settlement: 'ybank',
    funding: 'xbank',
  };
  const owner = owners[operation.kind];
  const account = openAccount({ id: nextId(state), ledger: operation.ledger, owner, kind: operation.kind });
  state.model = modelOpenAccount(state.model, account);
  await state.options.implementation?.openAccount(account);
  state.accountIds.push(account.id);
}

async function runOperation(state: RunState, operation: LedgerOperation): Promise<void> {
  switch (operation.type) {
    case 'open':
      return runOpen(state, operation);
    case 'advance':
      state.now = new Date(state.now.getTime() + operation.seconds * 1000);
      return;
    case 'expire':
      return runExpire(state);
    case 'linked':
      return runLinked(state, operation.members);
    default: {
      const step = stepOf(state, operation, []);
      if (step !== undefined) await runSteps(state, [step], false);
    }
  }
}

/** Conservation, flag limits, and the balances replayed from the transfer log. */
function checkModel(state: RunState): void {
  const accounts = [...state.model.accounts.values()];
  const report = checkInvariants(accounts);
  if (!report.ok) fail(`invariants broken: ${JSON.stringify(report.violations)}`);
  const replayed = balancesFromTransfers(state.model.transfers.values());
  for (const account of accounts) {
    if (account.flags.debitsMustNotExceedCredits && accountAvailable(account) < 0n)
      fail(`${account.id} negative`);
    const balances = replayed.get(account.id);
    const stored = [
      account.debitsPending,
      account.debitsPosted,
      account.creditsPending,
      account.creditsPosted,
    ];
    const fromLog = [
      balances?.debitsPending,
      balances?.debitsPosted,
      balances?.creditsPending,
      balances?.creditsPosted,
    ];
    if (stored.join() !== fromLog.map((value) => value ?? 0n).join())
      fail(`${account.id} differs from its log`);
  }
}

/** The implementation's accounts equal the model's (once every answer is in). */
async function checkImplementation(state: RunState): Promise<void> {
  const implementation = state.options.implementation;
  if (implementation === undefined || state.inFlight.length > 0) return;
  const actual = (await implementation.getAccounts(state.accountIds)).map(describeRecord);
  const expected = state.accountIds.map((id) =>
    describeRecord(state.model.accounts.get(id) ?? fail(`no ${id}`)),
  );
  if (actual.join('\n') !== expected.join('\n'))
    fail(`accounts differ:\n${actual.join('\n')}\n---\n${expected.join('\n')}`);
}

/**
 * Runs `operations` on the pure model (and on `implementation`, comparing
 * every outcome and the accounts), checking the ledger invariants after each step.
 */
export async function runLedgerOperations(
  operations: readonly LedgerOperation[],
  options: RunOptions,
): Promise<LedgerModel> {
  const state: RunState = {
    model: emptyLedgerModel,
    now: options.start,
    counter: 0,
    accountIds: [],
    requests: [],
    options,
    statistics: options.statistics ?? emptyStatistics(),
    inFlight: [],
  };
  for (const operation of operations) {
    await runOperation(state, operation);
    checkModel(state);
    await checkImplementation(state);
  }
  await compareAll(state.inFlight);
  await checkImplementation(state);
  return state.model;
}
