import {
  type BankingClientId,
  type BankingRequest,
  type BankingRequestKind,
  bankingLimitsCeiling,
  isUuid,
  MpayError,
  parseCurrencyCode,
  parseMinorUnits,
} from '@mpay/protocol';
import {
  answerInvalid,
  exactRecord,
  readArray,
  readBoolean,
  readInstant,
  readSignedMinorUnits,
  readString,
  serialPattern,
  uuidPattern,
} from './json.ts';
import type { BankingRenewal } from './key-management.ts';

/**
 * The results of the Business Logic Module's requests (seed 003 §5.1), read
 * strictly from the bank's verified answer: exactly the contract's members,
 * amounts as bigint minor units, and each one checked against what the
 * device asked (the account of its ID_C, the payee and amount it signed, the
 * order id that is its request id). A result that does not match is
 * BANK_ANSWER_INVALID: the signature says the bank wrote it, not that it
 * answers this request.
 */

export interface BankingBalance {
  readonly accountId: string;
  readonly currency: string;
  /** Minor units; may be negative (an overdraft). */
  readonly balance: bigint;
  /** Minor units: what a transfer may take now (holds subtracted). */
  readonly available: bigint;
}

/**
 * Where an order is when the bank answers: posted, still being delivered to
 * the payee's bank, or refused by the payee's bank (its hold released, its
 * code in `refusalCode`).
 */
export type BankingOrderState = 'completed' | 'sending' | 'refused';

export interface BankingTransfer {
  readonly orderId: string;
  readonly state: BankingOrderState;
  /** Why the payee's bank refused (state 'refused'). */
  readonly refusalCode?: string | undefined;
  readonly payeeId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reference: string;
}

export interface BankingBillPayment {
  readonly orderId: string;
  readonly state: BankingOrderState;
  readonly refusalCode?: string | undefined;
  readonly billerId: string;
  readonly billerName: string;
  readonly customerReference: string;
  readonly amount: bigint;
  readonly currency: string;
}

export interface BankingStatementLine {
  readonly transferId: string;
  readonly direction: 'debit' | 'credit';
  readonly amount: bigint;
  readonly reference?: string | undefined;
  readonly at: string;
  /** The banking request that made the line, when one did. */
  readonly requestId?: string | undefined;
  /**
   * The transaction log's receipt for it, once the log proved it: the receipt
   * file's text (as `mpay log verify` and `verifyReceipt` read it), not checked here.
   */
  readonly receipt?: string | undefined;
}

export interface BankingStatement {
  readonly accountId: string;
  readonly currency: string;
  readonly balance: bigint;
  /** Newest first. */
  readonly lines: readonly BankingStatementLine[];
  /** Ask with it for the next (older) page; absent on the last page. */
  readonly nextCursor?: string | undefined;
}

export interface BankingDevice {
  readonly serial: string;
  readonly deviceId: string;
  /** Masked but its last 4 digits. */
  readonly sim: string;
  /** Masked but its last 4 digits. */
  readonly phoneId: string;
  readonly registeredAt: string;
  readonly notAfter: string;
  readonly state: 'active' | 'revoked' | 'expired';
  /** The device this session belongs to. */
  readonly current: boolean;
}

export interface BankingRevocation {
  readonly serial: string;
  readonly revokedAt: string;
}

export interface BankingRenewalNotice {
  readonly noticeId: string;
  readonly serial: string;
  readonly reason: string;
  readonly createdAt: string;
}

const identifierPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const maskedDigitsPattern = /^[*]{0,16}[0-9]{4}$/;
const cursorPattern = /^[A-Za-z0-9_-]{1,128}$/;
const textPattern = /^[^\p{Cc}]{1,500}$/u;
const compactJwsPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const devicesMax = 100;
const noticesMax = 100;
const deviceStates: readonly BankingDevice['state'][] = ['active', 'revoked', 'expired'];
const orderStates: readonly BankingOrderState[] = ['completed', 'sending', 'refused'];
const errorCodePattern = /^[A-Z][A-Z0-9_]{1,63}$/;

function readAmount(value: unknown, path: string): bigint {
  if (typeof value !== 'string') return answerInvalid(path);
  try {
    return parseMinorUnits(value, path);
  } catch {
    return answerInvalid(path);
  }
}

function readCurrency(value: unknown, path: string): string {
  try {
    return parseCurrencyCode(value, path);
  } catch {
    return answerInvalid(path);
  }
}

/** `state`, and `refusalCode` when (and only when) the payee's bank refused. */
function readOrderOutcome(
  record: Record<string, unknown>,
  path: string,
): { state: BankingOrderState; refusalCode?: string } {
  const state = record.state;
  if (!orderStates.includes(state as BankingOrderState)) answerInvalid(`${path}.state`);
  if (record.refusalCode === undefined) return { state: state as BankingOrderState };
  if (state !== 'refused') answerInvalid(`${path}.refusalCode`);
  return {
    state: 'refused',
    refusalCode: readString(record.refusalCode, `${path}.refusalCode`, errorCodePattern),
  };
}

/** The request a result answers and the device's ID_C (whose account the bank must have used). */
export interface ResultContext {
  readonly requestId: string;
  readonly clientId: BankingClientId;
}

function mismatch(path: string): never {
  throw new MpayError('BANK_ANSWER_INVALID', `${path} is not what the device asked`);
}

export function parseBalanceResult(result: unknown, context: ResultContext): BankingBalance {
  const record = exactRecord(result, 'balance', ['accountId', 'currency', 'balance', 'available']);
  if (record.accountId !== context.clientId.accountId) mismatch('balance.accountId');
  return Object.freeze({
    accountId: context.clientId.accountId,
    currency: readCurrency(record.currency, 'balance.currency'),
    balance: readSignedMinorUnits(record.balance, 'balance.balance'),
    available: readSignedMinorUnits(record.available, 'balance.available'),
  });
}

export function parseTransferResult(
  result: unknown,
  request: Extract<BankingRequest, { kind: 'transfer' }>,
  context: ResultContext,
): BankingTransfer {
  const record = exactRecord(
    result,
    'transfer',
    ['orderId', 'state', 'payeeId', 'amount', 'currency', 'reference'],
    ['refusalCode'],
  );
  // The contract: the order id is the request id (one request, one order).
  if (record.orderId !== context.requestId) mismatch('transfer.orderId');
  if (record.payeeId !== request.payeeId) mismatch('transfer.payeeId');
  if (readAmount(record.amount, 'transfer.amount') !== request.amount) mismatch('transfer.amount');
  if (record.currency !== request.currency) mismatch('transfer.currency');
  if (record.reference !== request.reference) mismatch('transfer.reference');
  return Object.freeze({
    orderId: context.requestId,
    ...readOrderOutcome(record, 'transfer'),
    payeeId: request.payeeId,
    amount: request.amount,
    currency: request.currency,
    reference: request.reference,
  });
}

export function parseBillPaymentResult(
  result: unknown,
  request: Extract<BankingRequest, { kind: 'bill_payment' }>,
  context: ResultContext,
): BankingBillPayment {
  const record = exactRecord(
    result,
    'bill_payment',
    ['orderId', 'state', 'billerId', 'billerName', 'customerReference', 'amount', 'currency'],
    ['refusalCode'],
  );
  if (record.orderId !== context.requestId) mismatch('bill_payment.orderId');
  if (record.billerId !== request.billerId) mismatch('bill_payment.billerId');
  if (record.customerReference !== request.customerReference) mismatch('bill_payment.customerReference');
  if (readAmount(record.amount, 'bill_payment.amount') !== request.amount) mismatch('bill_payment.amount');
  if (record.currency !== request.currency) mismatch('bill_payment.currency');
  return Object.freeze({
    orderId: context.requestId,
    ...readOrderOutcome(record, 'bill_payment'),
    billerId: request.billerId,
    billerName: readString(record.billerName, 'bill_payment.billerName', textPattern),
    customerReference: request.customerReference,
    amount: request.amount,
    currency: request.currency,
  });
}

/** A receipt file is a few kilobytes; a statement page is bounded by the bank. */
const receiptLengthMax = 65_536;

function parseStatementLine(value: unknown, path: string): BankingStatementLine {
  const record = exactRecord(
    value,
    path,
    ['transferId', 'direction', 'amount', 'at'],
    ['reference', 'requestId', 'receipt'],
  );
  if (record.direction !== 'debit' && record.direction !== 'credit') answerInvalid(`${path}.direction`);
  const receipt = record.receipt;
  if (
    receipt !== undefined &&
    (typeof receipt !== 'string' || receipt.length === 0 || receipt.length > receiptLengthMax)
  ) {
    answerInvalid(`${path}.receipt`);
  }
  return Object.freeze({
    transferId: readString(record.transferId, `${path}.transferId`, identifierPattern),
    direction: record.direction,
    amount: readAmount(record.amount, `${path}.amount`),
    ...(record.reference === undefined
      ? {}
      : { reference: readString(record.reference, `${path}.reference`, textPattern) }),
    at: readInstant(record.at, `${path}.at`),
    ...(record.requestId === undefined
      ? {}
      : { requestId: readString(record.requestId, `${path}.requestId`, uuidPattern) }),
    ...(receipt === undefined ? {} : { receipt: receipt as string }),
  });
}

export function parseStatementResult(
  result: unknown,
  request: Extract<BankingRequest, { kind: 'statement' }>,
  context: ResultContext,
): BankingStatement {
  const record = exactRecord(
    result,
    'statement',
    ['accountId', 'currency', 'balance', 'lines'],
    ['nextCursor'],
  );
  if (record.accountId !== context.clientId.accountId) mismatch('statement.accountId');
  const pageSizeMax = Math.min(
    request.pageSize ?? bankingLimitsCeiling.statementPageSizeMax,
    bankingLimitsCeiling.statementPageSizeMax,
  );
  const lines = readArray(record.lines, 'statement.lines', pageSizeMax).map((line, index) =>
    parseStatementLine(line, `statement.lines.${index}`),
  );
  return Object.freeze({
    accountId: context.clientId.accountId,
    currency: readCurrency(record.currency, 'statement.currency'),
    balance: readSignedMinorUnits(record.balance, 'statement.balance'),
    lines: Object.freeze(lines),
    ...(record.nextCursor === undefined
      ? {}
      : { nextCursor: readString(record.nextCursor, 'statement.nextCursor', cursorPattern) }),
  });
}

export function parseDevicesResult(result: unknown): readonly BankingDevice[] {
  const record = exactRecord(result, 'devices', ['devices']);
  const devices = readArray(record.devices, 'devices.devices', devicesMax).map((value, index) => {
    const path = `devices.devices.${index}`;
    const device = exactRecord(value, path, [
      'serial',
      'deviceId',
      'sim',
      'phoneId',
      'registeredAt',
      'notAfter',
      'state',
      'current',
    ]);
    if (!deviceStates.includes(device.state as BankingDevice['state'])) answerInvalid(`${path}.state`);
    return Object.freeze({
      serial: readString(device.serial, `${path}.serial`, serialPattern),
      deviceId: readString(device.deviceId, `${path}.deviceId`, deviceIdPattern),
      sim: readString(device.sim, `${path}.sim`, maskedDigitsPattern),
      phoneId: readString(device.phoneId, `${path}.phoneId`, maskedDigitsPattern),
      registeredAt: readInstant(device.registeredAt, `${path}.registeredAt`),
      notAfter: readInstant(device.notAfter, `${path}.notAfter`),
      state: device.state as BankingDevice['state'],
      current: readBoolean(device.current, `${path}.current`),
    });
  });
  return Object.freeze(devices);
}

export function parseRevocationResult(
  result: unknown,
  request: Extract<BankingRequest, { kind: 'revoke_device' }>,
): BankingRevocation {
  const record = exactRecord(result, 'revoke_device', ['serial', 'revokedAt']);
  if (record.serial !== request.serial) mismatch('revoke_device.serial');
  return Object.freeze({
    serial: request.serial,
    revokedAt: readInstant(record.revokedAt, 'revoke_device.revokedAt'),
  });
}

export function parseRenewalNoticesResult(result: unknown): readonly BankingRenewalNotice[] {
  const record = exactRecord(result, 'renewal_notices', ['notices']);
  const notices = readArray(record.notices, 'renewal_notices.notices', noticesMax).map((value, index) => {
    const path = `renewal_notices.notices.${index}`;
    const notice = exactRecord(value, path, ['noticeId', 'serial', 'reason', 'createdAt']);
    if (!isUuid(notice.noticeId)) answerInvalid(`${path}.noticeId`);
    return Object.freeze({
      noticeId: notice.noticeId,
      serial: readString(notice.serial, `${path}.serial`, serialPattern),
      reason: readString(notice.reason, `${path}.reason`, textPattern),
      createdAt: readInstant(notice.createdAt, `${path}.createdAt`),
    });
  });
  return Object.freeze(notices);
}

/** renew_key's result; the KMM then checks the binding names the new keys before it adopts them. */
export function parseRenewalResult(result: unknown): BankingRenewal {
  const record = exactRecord(result, 'renew_key', ['serial', 'binding', 'renewedFrom']);
  return Object.freeze({
    serial: readString(record.serial, 'renew_key.serial', serialPattern),
    binding: readString(record.binding, 'renew_key.binding', compactJwsPattern),
    renewedFrom: readString(record.renewedFrom, 'renew_key.renewedFrom', serialPattern),
  });
}

/** The bank closed the session (logout): its id and when. */
export interface BankingLogout {
  readonly sessionId: string;
  readonly closedAt: string;
}

export function parseLogoutResult(result: unknown, sessionId: string): BankingLogout {
  const record = exactRecord(result, 'logout', ['sessionId', 'closedAt']);
  if (record.sessionId !== sessionId) mismatch('logout.sessionId');
  return Object.freeze({ sessionId, closedAt: readInstant(record.closedAt, 'logout.closedAt') });
}

/** The kinds whose answer carries a result of the same kind (every kind: one request, one answer). */
export function requireAnswerKind(actual: BankingRequestKind, expected: BankingRequestKind): void {
  if (actual !== expected) throw new MpayError('BANK_ANSWER_INVALID', 'bankingAnswer.kind');
}
