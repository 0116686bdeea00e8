import { type ErrorCode, isMpayError } from '@mpay/protocol';
import { type Account, accountAvailable, openAccount } from '../account/account.ts';
import { checkInvariants } from '../invariants/check.ts';
import { balancesFromTransfers } from '../invariants/recompute.ts';
import {
  emptyLedgerModel,
  type LedgerModel,
  modelCreateTransfer,
  modelExpirePendingTransfers,
  modelOpenAccount,
} from '../model/ledger-model.ts';
import type { Transfer, TransferInput, TransferRequest } from '../transfer/transfer.ts';
import { validateTransfer } from '../transfer/validate.ts';
import type { LedgerOperation } from './operations.ts';

/** A ledger implementation driven by the same operations as the model (e.g. the bank's SQL store). */
export interface LedgerUnderTest {
  openAccount(account: Account): Promise<void>;
  createTransfer(request: TransferRequest, now: Date): Promise<{ transfer: Transfer; created: boolean }>;
  expirePendingTransfers(now: Date): Promise<readonly Transfer[]>;
  getAccounts(ids: readonly string[]): Promise<readonly Account[]>;
}

/** What a run did, so that a test can check it exercised every path (a test that cannot fail is a defect). */
export interface OperationStatistics {
  readonly created: Record<string, number>;
  readonly refused: Record<string, number>;
  replayed: number;
  expired: number;
}

export function emptyStatistics(): OperationStatistics {
  return { created: {}, refused: {}, replayed: 0, expired: 0 };
}

/** Refusals a client can provoke; any other error (an assertion) fails the run. */
const expectedRefusals: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ACCOUNTS_MUST_BE_DIFFERENT',
  'CURRENCY_MISMATCH',
  'INSUFFICIENT_FUNDS',
  'TRANSFER_EXISTS_WITH_DIFFERENT_FIELDS',
  'TRANSFER_NOT_PENDING',
  'TRANSFER_ALREADY_POSTED',
  'TRANSFER_ALREADY_VOIDED',
  'TRANSFER_EXPIRED',
  'POST_AMOUNT_EXCEEDS_PENDING',
]);

export interface RunOptions {
  /** Ids for accounts and transfers, unique per run when the implementation keeps state between runs. */
  readonly idOf: (counter: number) => string;
  readonly start: Date;
  readonly implementation?: LedgerUnderTest | undefined;
  readonly statistics?: OperationStatistics | undefined;
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
}

type Outcome = { readonly transfer: Transfer; readonly created: boolean } | { readonly code: ErrorCode };

function fail(message: string): never {
  throw new Error(`ledger operations: ${message}`);
}

function refusalCode(error: unknown): ErrorCode {
  if (isMpayError(error) && expectedRefusals.has(error.code)) return error.code;
  throw error;
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

function nextId(state: RunState): string {
  state.counter += 1;
  return state.options.idOf(state.counter);
}

/** A stable text of a transfer or account for comparisons: bigint and Date as text, undefined fields dropped. */
export function describeRecord(record: Transfer | Account): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1))),
    (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value),
  );
}

function pick<Item>(items: readonly Item[], index: number): Item | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

function transferInput(state: RunState, operation: LedgerOperation): TransferInput | undefined {
  const id = nextId(state);
  if (operation.type === 'transfer') {
    const debit = state.model.accounts.get(pick(state.accountIds, operation.debit) ?? '');
    const credit = state.model.accounts.get(pick(state.accountIds, operation.credit) ?? '');
    if (debit === undefined || credit === undefined) return undefined;
    const ledger = (operation.currencyOf === 'debit' ? debit : credit).ledger;
    const timeoutSeconds = operation.kind === 'pending' ? operation.timeoutSeconds : undefined;
    const { kind, amount } = operation;
    return { id, kind, debitAccountId: debit.id, creditAccountId: credit.id, amount, ledger, timeoutSeconds };
  }
  const target = pick(
    state.requests,
    operation.type === 'post' || operation.type === 'void' ? operation.transfer : 0,
  );
  if (target === undefined) return undefined;
  if (operation.type === 'post')
    return { id, kind: 'post_pending', pendingId: target.id, amount: operation.amount };
  if (operation.type === 'void') return { id, kind: 'void_pending', pendingId: target.id };
  return undefined;
}

async function createInBoth(state: RunState, request: TransferRequest): Promise<Outcome> {
  let expected: Outcome;
  try {
    const outcome = modelCreateTransfer(state.model, request, state.now);
    state.model = outcome.model;
    expected = { transfer: outcome.transfer, created: outcome.created };
  } catch (error) {
    expected = { code: refusalCode(error) };
  }
  const implementation = state.options.implementation;
  if (implementation === undefined) return expected;
  let actual: Outcome;
  try {
    actual = await implementation.createTransfer(request, state.now);
  } catch (error) {
    actual = { code: refusalCode(error) };
  }
  const describe = (outcome: Outcome) =>
    'code' in outcome ? outcome.code : `${outcome.created} ${describeRecord(outcome.transfer)}`;
  if (describe(actual) !== describe(expected)) {
    fail(
      `implementation gave ${describe(actual)}, model ${describe(expected)} for ${request.kind} ${request.id}`,
    );
  }
  return expected;
}

function record(state: RunState, request: TransferRequest, outcome: Outcome, isRetry: boolean): void {
  if ('code' in outcome) {
    count(state.statistics.refused, outcome.code);
    return;
  }
  if (outcome.created === isRetry)
    fail(`${isRetry ? 'a retry created' : 'a new request replayed'} ${request.id}`);
  if (isRetry) {
    state.statistics.replayed += 1;
    return;
  }
  count(state.statistics.created, request.kind);
  state.requests.push(request);
}

async function runTransfer(state: RunState, input: TransferInput, isRetry: boolean): Promise<void> {
  let request: TransferRequest;
  try {
    request = validateTransfer(input);
  } catch (error) {
    count(state.statistics.refused, refusalCode(error));
    return;
  }
  record(state, request, await createInBoth(state, request), isRetry);
}

async function runRetry(state: RunState, transfer: number, alter: boolean): Promise<void> {
  const original = pick(state.requests, transfer);
  if (original === undefined) return;
  const reference = alter ? `${original.reference}altered` : original.reference;
  record(state, original, await createInBoth(state, { ...original, reference }), true);
}

async function runExpire(state: RunState): Promise<void> {
  const ids: string[] = [];
  const swept = modelExpirePendingTransfers(state.model, state.now, () => nextId(state), 1_000);
  state.model = swept.model;
  state.statistics.expired += swept.expired.length;
  ids.push(...swept.expired.map((transfer) => transfer.pendingId ?? ''));
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
    case 'retry':
      return runRetry(state, operation.transfer, operation.alter);
    default: {
      const input = transferInput(state, operation);
      if (input !== undefined) await runTransfer(state, input, false);
    }
  }
}

/** Conservation, flag limits, and the balances replayed from the transfer log; then the implementation's accounts. */
async function checkState(state: RunState): Promise<void> {
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
  const implementation = state.options.implementation;
  if (implementation === undefined) return;
  const actual = (await implementation.getAccounts(state.accountIds)).map(describeRecord);
  const expected = state.accountIds.map((id) =>
    describeRecord(state.model.accounts.get(id) ?? fail(`no ${id}`)),
  );
  if (actual.join('\n') !== expected.join('\n'))
    fail(`accounts differ:\n${actual.join('\n')}\n---\n${expected.join('\n')}`);
}

/**
 * Runs `operations` on the pure model (and on `implementation`, comparing
 * every outcome), checking the ledger invariants after each step.
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
  };
  for (const operation of operations) {
    await runOperation(state, operation);
    await checkState(state);
  }
  return state.model;
}
