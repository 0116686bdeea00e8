import { assert, type ErrorCode, isErrorCode, MpayError } from '../errors/index.ts';
import { parseTransactionId } from '../ims/fields.ts';
import { readObject } from '../ims/json-object.ts';
import { isMsisdn, parsePartyId } from '../party/index.ts';
import { isMacroClientId } from './client-id.ts';
import {
  type ChallengeContent,
  type ClientBankRequestContent,
  type FailureMsg1,
  type MacroAmount,
  macroAmountOf,
  type PaymentRequestContent,
  parseChallengeContent,
  parseClientBankRequestContent,
  parseFailureMsg1,
  parseInstant,
  parsePaymentRequestContent,
  parseSecretAnswerContent,
  type SecretAnswerContent,
  type Sha256Digest,
} from './messages.ts';
import {
  type MacroPublicStatus,
  type MacroState,
  macroPublicStatusOf,
  macroStateMachine,
  macroStates,
} from './state-machine.ts';
import type { MacroPayment } from './step.ts';

/**
 * The contents the client and the MPASP build for steps 1–6 of §4.2, from
 * the core's payment (step.ts), each validated by its parser before it is
 * sealed: the SDK and the gateway build them with the same functions, so
 * that the two never disagree on a field. Pure: no keys, no I/O.
 */

/**
 * HKDF `info` of the step-1 request key (E_SP{ID_C, AmtInfo_c, h(TransactionData)}):
 * HKDF-SHA-256(ikm = the registration's device secret, salt = the bytes of
 * ID_C, info = this). Step 1 needs no mPIN (the paper asks it at step 3);
 * the key is the registered device's alone, and the MPASP's.
 */
export const macroRequestKeyInfo = 'mpay macro request v1';

/** None of the contents built here has a hash to check (only PApp_Resp has): their parser never calls it. */
const noDigest: Sha256Digest = () => {
  throw new Error('assertion failed: only PApp_Resp is checked with a digest');
};

/**
 * What the device seals for step 1: the paper's content and the MSISDN,
 * which "is used to identify the mPIN client" (§3): the MPASP checks it is
 * the number registered with ID_C.
 */
export type MacroPaymentRequestBody = {
  readonly request: PaymentRequestContent;
  readonly msisdn: string;
};

/** Validates the step-1 body strictly (MESSAGE_INVALID with the path, PARTY_ID_INVALID, …); frozen. */
export function parseMacroPaymentRequestBody(value: unknown): MacroPaymentRequestBody {
  const record = readObject(value, '', ['request', 'msisdn']);
  if (!isMsisdn(record.msisdn)) throw new MpayError('MESSAGE_INVALID', 'msisdn');
  return Object.freeze({
    request: parsePaymentRequestContent(record.request, noDigest),
    msisdn: record.msisdn,
  });
}

/** Step 1, C → MPASP, for a TransactionData the client hashed (`hashTransactionData`). */
export function createPaymentRequestContent(input: {
  readonly clientId: string;
  readonly mpaspId: string;
  readonly requestId: string;
  readonly amount: MacroAmount;
  readonly transactionDataHash: string;
  readonly expiresAt: Date;
}): PaymentRequestContent {
  return parsePaymentRequestContent(
    {
      kind: 'macro_payment_request',
      from: input.clientId,
      to: input.mpaspId,
      requestId: input.requestId,
      amount: input.amount,
      transactionDataHash: input.transactionDataHash,
      expiresAt: input.expiresAt.toISOString(),
    },
    noDigest,
  );
}

function established<T>(value: T | null, name: string): T {
  assert(value !== null, `the payment has ${name}`);
  return value;
}

/** Step 2, MPASP → C: E_SP{ID_T, T_iS, SQn} for a payment the core moved to `challenged`. */
export function createChallengeContent(payment: MacroPayment, secretQuestion: string): ChallengeContent {
  return parseChallengeContent(
    {
      kind: 'macro_challenge',
      from: payment.mpaspId,
      to: payment.clientId,
      requestId: payment.requestId,
      transactionId: established(payment.transactionId, 'ID_T'),
      challengedAt: established(payment.challengedAt, 'T_iS').toISOString(),
      expiresAt: payment.expiresAt.toISOString(),
      amount: macroAmountOf(payment.amount),
      secretQuestion,
    },
    noDigest,
  );
}

/**
 * The device's check of an opened challenge against its own step-1 request:
 * from the MPASP it sent it to, to itself, for its request and amount, T_EXP
 * after T_iS (the parser checks that). PAYMENT_MESSAGE_MISMATCH with the field.
 */
export function checkChallengeAnswersRequest(
  challenge: ChallengeContent,
  request: PaymentRequestContent,
  transactionId: string,
): void {
  const fields: [boolean, string][] = [
    [challenge.from === request.to, 'from'],
    [challenge.to === request.from, 'to'],
    [challenge.requestId === request.requestId, 'requestId'],
    [challenge.transactionId === transactionId, 'transactionId'],
    [
      challenge.amount.currency === request.amount.currency &&
        challenge.amount.value === request.amount.value,
      'amount',
    ],
  ];
  for (const [holds, field] of fields) if (!holds) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', field);
}

/** Step 4, C → MPASP: E_SP{ID_T, SAns}, answering an opened challenge. */
export function createSecretAnswerContent(
  challenge: ChallengeContent,
  secretAnswer: string,
): SecretAnswerContent {
  return parseSecretAnswerContent(
    {
      kind: 'macro_secret_answer',
      from: challenge.to,
      to: challenge.from,
      transactionId: challenge.transactionId,
      amount: challenge.amount,
      expiresAt: challenge.expiresAt,
      secretAnswer,
    },
    noDigest,
  );
}

/** Step 5, else: send_failure_msg1 for a payment the core moved to `failed_secret`. */
export function createFailureMsg1(payment: MacroPayment): FailureMsg1 {
  assert(payment.state === 'failed_secret', 'failure_msg1 is sent from failed_secret');
  return parseFailureMsg1(
    {
      kind: 'macro_failure_msg1',
      from: payment.mpaspId,
      to: payment.clientId,
      transactionId: established(payment.transactionId, 'ID_T'),
      amount: macroAmountOf(payment.amount),
      expiresAt: payment.expiresAt.toISOString(),
    },
    noDigest,
  );
}

/**
 * Step 6, MPASP → CB: E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}, the
 * Payment Request the MPASP "creates on behalf of valid mPIN client" (§3),
 * for a payment the core moved to `session_created`.
 */
export function createClientBankRequestContent(payment: MacroPayment): ClientBankRequestContent {
  assert(payment.state === 'session_created', 'the PR to the client bank is made in session_created');
  return parseClientBankRequestContent(
    {
      kind: 'macro_client_bank_request',
      from: payment.mpaspId,
      to: established(payment.clientBankId, 'ID_CB'),
      sessionId: established(payment.sessionId, 'SID_T'),
      transactionId: established(payment.transactionId, 'ID_T'),
      clientId: payment.clientId,
      amount: macroAmountOf(payment.amount),
      transactionDataHash: payment.transactionDataHash,
      expiresAt: payment.expiresAt.toISOString(),
    },
    noDigest,
  );
}

/**
 * What the MPASP tells the client about its payment (GET
 * /macro/payments/:transactionId), sealed to it: the public status, the
 * paper's step the payment stands after, the stable code of a failure, and
 * SID_T once created.
 */
export type MacroPaymentStatusContent = {
  readonly kind: 'macro_payment_status';
  /** The MPASP. */
  readonly from: string;
  /** ID_C */
  readonly to: string;
  readonly transactionId: string;
  readonly status: MacroPublicStatus;
  readonly step: number;
  readonly outcome: ErrorCode | null;
  readonly sessionId: string | null;
  readonly expiresAt: string;
  /** When the MPASP read the status. */
  readonly at: string;
};

export function createMacroPaymentStatus(payment: MacroPayment, now: Date): MacroPaymentStatusContent {
  return parseMacroPaymentStatus({
    kind: 'macro_payment_status',
    from: payment.mpaspId,
    to: payment.clientId,
    transactionId: established(payment.transactionId, 'ID_T'),
    status: macroPublicStatusOf(payment.state),
    step: macroStateMachine[payment.state].step,
    outcome: payment.outcome,
    sessionId: payment.sessionId,
    expiresAt: payment.expiresAt.toISOString(),
    at: now.toISOString(),
  });
}

const publicStatuses: readonly string[] = [
  ...new Set(macroStates.map((state: MacroState) => macroPublicStatusOf(state))),
];

function invalid(path: string): never {
  throw new MpayError('MESSAGE_INVALID', path);
}

export function parseMacroPaymentStatus(value: unknown): MacroPaymentStatusContent {
  const record = readObject(value, '', [
    'kind',
    'from',
    'to',
    'transactionId',
    'status',
    'step',
    'outcome',
    'sessionId',
    'expiresAt',
    'at',
  ]);
  if (record.kind !== 'macro_payment_status') invalid('kind');
  const from = typeof record.from === 'string' ? parsePartyId(record.from, 'from') : undefined;
  if (from === undefined || from.kind !== 'fsp' || from.id !== record.from) invalid('from');
  if (!isMacroClientId(record.to)) invalid('to');
  if (typeof record.status !== 'string' || !publicStatuses.includes(record.status)) invalid('status');
  if (
    typeof record.step !== 'number' ||
    !Number.isInteger(record.step) ||
    record.step < 1 ||
    record.step > 12
  )
    invalid('step');
  if (record.outcome !== null && !isErrorCode(record.outcome)) invalid('outcome');
  return Object.freeze({
    kind: 'macro_payment_status',
    from: from.id,
    to: record.to,
    transactionId: parseTransactionId(record.transactionId, 'transactionId'),
    status: record.status as MacroPublicStatus,
    step: record.step,
    outcome: record.outcome,
    sessionId: record.sessionId === null ? null : parseTransactionId(record.sessionId, 'sessionId'),
    expiresAt: parseInstant(record.expiresAt, 'expiresAt'),
    at: parseInstant(record.at, 'at'),
  });
}
