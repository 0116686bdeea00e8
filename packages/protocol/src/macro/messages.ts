import { canonicalBytes } from '../canonical/index.ts';
import { assert, MpayError } from '../errors/index.ts';
import { parseDescription, parseTransactionId } from '../ims/fields.ts';
import { readObject } from '../ims/json-object.ts';
import { type Amount, type CurrencyCode, formatDecimalAmount, parseDecimalAmount } from '../money/index.ts';
import { type PartyKind, parsePartyId } from '../party/index.ts';
import { bankOfMacroClientId, isMacroClientId } from './client-id.ts';

/**
 * The contents of the macro payment's messages (seed 002, §4.2), one type per
 * message, each with a `kind` of its own so that no message can stand for
 * another (a PApp_Req is never a PApp_Resp, a Pay_Confirm to the merchant is
 * never the one to the client). They are what a party signs or seals: plain
 * JSON-able objects, canonicalised with RFC 8785 before signing or hashing.
 *
 * The paper's messages carry the paper's fields under readable names:
 *
 *   ID_C → clientId (or `from`/`to` where the client sends or receives)
 *   ID_T → transactionId        SID_T → sessionId          AmtInfo_c → amount
 *   ID_M → merchantId           ID_MB → merchantBankId     ID_CB → `from`/`to` of the client bank
 *   T_iS → challengedAt         T_EXP → expiresAt          SQn → secretQuestion
 *   SAns → secretAnswer         h(TransactionData) → transactionDataHash
 *
 * Hardened channels (issue 10, "Every message names sender, recipient, ID_T /
 * SID_T, the amount and its expiry"): every content names `from` and `to` as
 * party ids whose kind matches the paper's sender and receiver, the amount,
 * `expiresAt`, and ID_T or SID_T. The one exception is step 1, sent before
 * ID_T exists: it names the client's own `requestId`, which the challenge of
 * step 2 repeats next to the new ID_T.
 */

/** The paper's step numbers (§4.2). */
export type MacroStepNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12;

/**
 * The five parties of seed 002 (§3) under the paper's names: the mobile client
 * (C), the Mobile Payment Application Service Provider server (MPASP: the
 * gateway), the client bank (CB), the merchant bank (MB) and the merchant (M).
 */
export type MacroParty = 'C' | 'MPASP' | 'CB' | 'MB' | 'M';

export const macroParties: readonly MacroParty[] = Object.freeze(['C', 'MPASP', 'CB', 'MB', 'M']);

/**
 * The kind of id each party has: ID_C is the client id its bank issued
 * (`macro_client`: 'C', 12 digits, '.', the bank, `isMacroClientId`), not the
 * person's party id; the others are party ids of their kind (ids say their
 * kind: DESIGN.md "Actors and services").
 */
export type MacroPartyIdKind = PartyKind | 'macro_client';

export const macroPartyKinds: Readonly<Record<MacroParty, MacroPartyIdKind>> = Object.freeze({
  C: 'macro_client',
  MPASP: 'fsp',
  CB: 'bank',
  MB: 'bank',
  M: 'merchant',
});

/** AmtInfo_c on the wire: ISO 4217 code and canonical decimal text (one text per amount). */
export type MacroAmount = { readonly currency: CurrencyCode; readonly value: string };

/** A SHA-256 function (node:crypto, @noble/hashes, …), passed in so that this package stays pure. */
export type Sha256Digest = (data: Uint8Array) => Uint8Array;

/** Lengths of SQn and SAns, in UTF-16 code units (the iMS description's rules: no controls, no bidi overrides). */
export const secretQuestionLengthMax = 256;
export const secretAnswerLengthMax = 256;

interface MacroRoute {
  /** The step of §4.2 that sends it. */
  readonly step: MacroStepNumber;
  readonly from: MacroParty;
  readonly to: MacroParty;
}

/**
 * Each message's step, sender and receiver in the paper. `failure_msg2` is
 * also sent at step 8 in mpay, when the client bank's hold is refused after
 * the approval (the balance fell since step 6); its route is the same.
 */
export const macroMessageRoutes = Object.freeze({
  macro_payment_request: { step: 1, from: 'C', to: 'MPASP' },
  macro_challenge: { step: 2, from: 'MPASP', to: 'C' },
  macro_secret_answer: { step: 4, from: 'C', to: 'MPASP' },
  macro_failure_msg1: { step: 5, from: 'MPASP', to: 'C' },
  macro_client_bank_request: { step: 6, from: 'MPASP', to: 'CB' },
  macro_papp_req: { step: 6, from: 'CB', to: 'C' },
  macro_failure_msg2: { step: 6, from: 'CB', to: 'MPASP' },
  macro_papp_resp: { step: 7, from: 'C', to: 'CB' },
  macro_funds_transfer: { step: 8, from: 'CB', to: 'MB' },
  macro_pay_confirm_to_merchant: { step: 9, from: 'MB', to: 'M' },
  macro_pay_ack: { step: 10, from: 'MB', to: 'CB' },
  macro_pay_confirm_to_client: { step: 11, from: 'CB', to: 'C' },
  macro_pay_confirm_to_mpasp: { step: 12, from: 'CB', to: 'MPASP' },
} as const satisfies Record<string, MacroRoute>);

export type MacroMessageKind = keyof typeof macroMessageRoutes;

export const macroMessageKinds: readonly MacroMessageKind[] = Object.freeze(
  Object.keys(macroMessageRoutes) as MacroMessageKind[],
);

/**
 * TransactionData (§3): "the transaction date, transaction amount, merchant id,
 * and merchant bank id". The client hashes it for step 1; the MPASP and the
 * client bank see only the hash until the client's consent (step 7) names the
 * merchant.
 */
export type TransactionData = {
  readonly kind: 'macro_transaction_data';
  /** The transaction date: an instant, `Date.prototype.toISOString()` form. */
  readonly date: string;
  readonly amount: MacroAmount;
  /** ID_M */
  readonly merchantId: string;
  /** ID_MB: the bank of ID_M. */
  readonly merchantBankId: string;
};

/** Step 1, C → MPASP: E_SP{ID_C, AmtInfo_c, h(TransactionData)}_{C-MPASP}. `from` is ID_C. */
export type PaymentRequestContent = {
  readonly kind: 'macro_payment_request';
  /** ID_C */
  readonly from: string;
  /** The MPASP. */
  readonly to: string;
  /** The client's id for this request (ID_T does not exist yet); repeated in the challenge. */
  readonly requestId: string;
  /** AmtInfo_c */
  readonly amount: MacroAmount;
  /** h(TransactionData) */
  readonly transactionDataHash: string;
  readonly expiresAt: string;
};

/** Step 2, MPASP → C: E_SP{ID_T, T_iS, SQn}_{C-MPASP}. */
export type ChallengeContent = {
  readonly kind: 'macro_challenge';
  readonly from: string;
  /** ID_C */
  readonly to: string;
  readonly requestId: string;
  /** ID_T = create_TranId(ID_C) */
  readonly transactionId: string;
  /** T_iS: "the timestamp at C for which the value is assigned by MPASP". */
  readonly challengedAt: string;
  /** T_EXP (T_EXP > T_iS). */
  readonly expiresAt: string;
  readonly amount: MacroAmount;
  /** SQn */
  readonly secretQuestion: string;
};

/** Step 4, C → MPASP: E_SP{ID_T, SAns}_{C-MPASP}. */
export type SecretAnswerContent = {
  readonly kind: 'macro_secret_answer';
  /** ID_C */
  readonly from: string;
  readonly to: string;
  /** ID_T */
  readonly transactionId: string;
  readonly amount: MacroAmount;
  /** T_EXP, as the challenge named it. */
  readonly expiresAt: string;
  /** SAns: checked by the MPASP against a slow salted verifier, never stored. */
  readonly secretAnswer: string;
};

/**
 * Step 5, else branch, MPASP → C: send_failure_msg1 (SAns not valid). It says
 * nothing more than that the client was not authenticated for this payment.
 */
export type FailureMsg1 = {
  readonly kind: 'macro_failure_msg1';
  readonly from: string;
  /** ID_C */
  readonly to: string;
  readonly transactionId: string;
  readonly amount: MacroAmount;
  readonly expiresAt: string;
};

/**
 * Step 6, MPASP → CB: E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}_{MPASP-CB},
 * the Payment Request (PR) the MPASP "creates on behalf of valid mPIN client" (§3).
 */
export type ClientBankRequestContent = {
  readonly kind: 'macro_client_bank_request';
  readonly from: string;
  /** ID_CB: the bank of ID_C. */
  readonly to: string;
  /** SID_T */
  readonly sessionId: string;
  /** ID_T */
  readonly transactionId: string;
  /** ID_C */
  readonly clientId: string;
  readonly amount: MacroAmount;
  readonly transactionDataHash: string;
  /** T_EXP: the client bank asks no approval after it. */
  readonly expiresAt: string;
};

/** Step 6, ABal_C sufficient, CB → C: E_SP{SID_T, AmtInfo_c, PApp_Req}_{C-CB}. */
export type PAppReqContent = {
  readonly kind: 'macro_papp_req';
  /** ID_CB */
  readonly from: string;
  /** ID_C */
  readonly to: string;
  readonly sessionId: string;
  readonly transactionId: string;
  readonly amount: MacroAmount;
  /** The client compares it with its own h(TransactionData) before approving. */
  readonly transactionDataHash: string;
  /** T_EXP */
  readonly expiresAt: string;
};

/** Step 6, ABal_C insufficient, CB → MPASP: send_failure_msg2. It does not say the balance. */
export type FailureMsg2 = {
  readonly kind: 'macro_failure_msg2';
  /** ID_CB */
  readonly from: string;
  readonly to: string;
  readonly sessionId: string;
  readonly transactionId: string;
  readonly amount: MacroAmount;
  readonly expiresAt: string;
};

/**
 * Step 7, C → CB: E_SP{SID_T, AmtInfo_c, PApp_Resp}_{C-CB}: the customer's
 * consent, signed with a key the client bank bound to the account and checked
 * at the client bank (DESIGN.md: "no account is debited unless the account
 * holder's own signature over that exact debit … verifies at the account's own
 * bank"). It names the client, the transaction and session, the amount, the
 * TransactionData in full with its hash (so that the bank can check the
 * merchant it pays is the one the client hashed in step 1), the client bank,
 * the expiry and the decision.
 */
export type PAppRespContent = {
  readonly kind: 'macro_papp_resp';
  /** ID_C */
  readonly from: string;
  /** ID_CB: the bank of ID_C. */
  readonly to: string;
  readonly sessionId: string;
  readonly transactionId: string;
  readonly amount: MacroAmount;
  /** TransactionData.date */
  readonly transactionDate: string;
  /** ID_M */
  readonly merchantId: string;
  /** ID_MB */
  readonly merchantBankId: string;
  /** h(TransactionData) of { transactionDate, amount, merchantId, merchantBankId }. */
  readonly transactionDataHash: string;
  /** T_EXP */
  readonly expiresAt: string;
  readonly decision: 'approve' | 'decline';
};

/**
 * Step 8, CB → MB: FT[SID_T, ID_M, ID_CB, AmtInfo_c]_{CB-MB}. `from` is ID_CB.
 * It names the merchant, never an account: the MB credits the account its own
 * records bind to ID_M (§5.3). mpay adds ID_C: the paper's MB names ID_C in
 * steps 9 and 10 without being sent it in step 8, and its signature over
 * Pay_Ack can only bind what it was told.
 */
export type FundsTransferContent = {
  readonly kind: 'macro_funds_transfer';
  /** ID_CB */
  readonly from: string;
  /** ID_MB: the bank of ID_M. */
  readonly to: string;
  readonly sessionId: string;
  /** ID_C (mpay: see above). */
  readonly clientId: string;
  readonly merchantId: string;
  readonly amount: MacroAmount;
  /** The MB credits nothing after it. */
  readonly expiresAt: string;
};

/** Step 9, MB → M: E_SP{SID_T, Pay_Confirm, ID_C, AmtInfo_c}_{MB-M}. */
export type PayConfirmToMerchantContent = {
  readonly kind: 'macro_pay_confirm_to_merchant';
  /** ID_MB */
  readonly from: string;
  /** ID_M */
  readonly to: string;
  readonly sessionId: string;
  readonly clientId: string;
  readonly amount: MacroAmount;
  readonly expiresAt: string;
};

/** Step 10, MB → CB: [SID_T, Pay_Ack, ID_C, ID_M, AmtInfo_c]_{CB-MB}, signed by the MB and binding all four. */
export type PayAckContent = {
  readonly kind: 'macro_pay_ack';
  /** ID_MB: the bank of ID_M. */
  readonly from: string;
  /** ID_CB: the bank of ID_C. */
  readonly to: string;
  readonly sessionId: string;
  readonly clientId: string;
  readonly merchantId: string;
  readonly amount: MacroAmount;
  readonly expiresAt: string;
};

/** Step 11, CB → C: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{CB-C}. */
export type PayConfirmToClientContent = {
  readonly kind: 'macro_pay_confirm_to_client';
  /** ID_CB */
  readonly from: string;
  /** ID_C */
  readonly to: string;
  readonly sessionId: string;
  readonly merchantId: string;
  readonly amount: MacroAmount;
  readonly expiresAt: string;
};

/**
 * Step 12, CB → MPASP: E_SP{SID_T, Pay_Confirm, ID_M, AmtInfo_c}_{MPASP-CB}.
 * "Finally, the MPASP server forwards the same message to the client" (§3).
 */
export type PayConfirmToMpaspContent = {
  readonly kind: 'macro_pay_confirm_to_mpasp';
  /** ID_CB */
  readonly from: string;
  readonly to: string;
  readonly sessionId: string;
  readonly merchantId: string;
  readonly amount: MacroAmount;
  readonly expiresAt: string;
};

/** Pay_Confirm: one message per recipient (steps 9, 11 and 12), each of its own kind. */
export type PayConfirmContent =
  | PayConfirmToMerchantContent
  | PayConfirmToClientContent
  | PayConfirmToMpaspContent;

export type MacroMessage =
  | PaymentRequestContent
  | ChallengeContent
  | SecretAnswerContent
  | FailureMsg1
  | ClientBankRequestContent
  | PAppReqContent
  | FailureMsg2
  | PAppRespContent
  | FundsTransferContent
  | PayConfirmToMerchantContent
  | PayAckContent
  | PayConfirmToClientContent
  | PayConfirmToMpaspContent;

export type MacroMessageOf<K extends MacroMessageKind> = Extract<MacroMessage, { kind: K }>;

// ---------------------------------------------------------------------------
// Field parsers: strict, each failure a stable code with the field's path.

type FieldParser = (value: unknown, path: string) => unknown;

function invalid(path: string): never {
  throw new MpayError('MESSAGE_INVALID', path);
}

const hashPattern = /^[0-9a-f]{64}$/;

/** h(…) as 64 lower-case hex digits. */
function parseHash(value: unknown, path: string): string {
  return typeof value === 'string' && hashPattern.test(value) ? value : invalid(path);
}

/** An instant in exactly the form `Date.prototype.toISOString()` writes: one text per instant. */
export function parseInstant(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length !== 24) invalid(path);
  const milliseconds = Date.parse(value);
  if (Number.isNaN(milliseconds) || new Date(milliseconds).toISOString() !== value) invalid(path);
  return value;
}

function parseAmount(value: unknown, path: string): MacroAmount {
  const amount = readObject(value, path, ['currency', 'value']);
  const parsed = parseDecimalAmount(amount.value as string, amount.currency as string, path);
  return Object.freeze({ currency: parsed.currency, value: amount.value as string });
}

function parseSecretText(lengthMax: number): FieldParser {
  return (value, path) => {
    const text = parseDescription(value, path);
    return text.length <= lengthMax ? text : invalid(path);
  };
}

/**
 * An id of `party`: for C, a client id as its bank issued it (ID_C); for the
 * others, a party id in canonical form of that party's kind. Anything else is
 * PARTY_ID_INVALID.
 */
function partyOf(party: MacroParty): FieldParser {
  if (party === 'C') {
    return (value, path) => {
      if (!isMacroClientId(value)) throw new MpayError('PARTY_ID_INVALID', path);
      return value;
    };
  }
  return (value, path) => {
    const parsed = typeof value === 'string' ? parsePartyId(value, path) : undefined;
    if (parsed === undefined || parsed.id !== value || parsed.kind !== macroPartyKinds[party]) {
      throw new MpayError('PARTY_ID_INVALID', path);
    }
    return value;
  };
}

function oneOf(allowed: readonly string[]): FieldParser {
  return (value, path) => (typeof value === 'string' && allowed.includes(value) ? value : invalid(path));
}

const uuid: FieldParser = parseTransactionId;
const client = partyOf('C');
const merchant = partyOf('M');
const bank = partyOf('CB');

/** The fields of each message besides `kind`, `from` and `to`, in the order the content is rebuilt. */
const messageFields: { readonly [K in MacroMessageKind]: Readonly<Record<string, FieldParser>> } = {
  macro_payment_request: {
    requestId: uuid,
    amount: parseAmount,
    transactionDataHash: parseHash,
    expiresAt: parseInstant,
  },
  macro_challenge: {
    requestId: uuid,
    transactionId: uuid,
    challengedAt: parseInstant,
    expiresAt: parseInstant,
    amount: parseAmount,
    secretQuestion: parseSecretText(secretQuestionLengthMax),
  },
  macro_secret_answer: {
    transactionId: uuid,
    amount: parseAmount,
    expiresAt: parseInstant,
    secretAnswer: parseSecretText(secretAnswerLengthMax),
  },
  macro_failure_msg1: { transactionId: uuid, amount: parseAmount, expiresAt: parseInstant },
  macro_client_bank_request: {
    sessionId: uuid,
    transactionId: uuid,
    clientId: client,
    amount: parseAmount,
    transactionDataHash: parseHash,
    expiresAt: parseInstant,
  },
  macro_papp_req: {
    sessionId: uuid,
    transactionId: uuid,
    amount: parseAmount,
    transactionDataHash: parseHash,
    expiresAt: parseInstant,
  },
  macro_failure_msg2: { sessionId: uuid, transactionId: uuid, amount: parseAmount, expiresAt: parseInstant },
  macro_papp_resp: {
    sessionId: uuid,
    transactionId: uuid,
    amount: parseAmount,
    transactionDate: parseInstant,
    merchantId: merchant,
    merchantBankId: bank,
    transactionDataHash: parseHash,
    expiresAt: parseInstant,
    decision: oneOf(['approve', 'decline']),
  },
  macro_funds_transfer: {
    sessionId: uuid,
    clientId: client,
    merchantId: merchant,
    amount: parseAmount,
    expiresAt: parseInstant,
  },
  macro_pay_confirm_to_merchant: {
    sessionId: uuid,
    clientId: client,
    amount: parseAmount,
    expiresAt: parseInstant,
  },
  macro_pay_ack: {
    sessionId: uuid,
    clientId: client,
    merchantId: merchant,
    amount: parseAmount,
    expiresAt: parseInstant,
  },
  macro_pay_confirm_to_client: {
    sessionId: uuid,
    merchantId: merchant,
    amount: parseAmount,
    expiresAt: parseInstant,
  },
  macro_pay_confirm_to_mpasp: {
    sessionId: uuid,
    merchantId: merchant,
    amount: parseAmount,
    expiresAt: parseInstant,
  },
};

/**
 * The bank of a client id (ID_C → ID_CB: `C042917365028.xbank` → `xbank`) or
 * of a merchant's id (ID_M → ID_MB: `merkur.trade@merchant.ybank` → `ybank`).
 */
export function bankOfParty(partyId: string): string {
  if (isMacroClientId(partyId)) return bankOfMacroClientId(partyId);
  const parsed = parsePartyId(partyId);
  if (parsed.kind !== 'merchant') throw new MpayError('PARTY_ID_INVALID');
  return parsed.bank;
}

function mismatch(holds: boolean, field: string): void {
  if (!holds) throw new MpayError('PAYMENT_MESSAGE_MISMATCH', field);
}

/**
 * What must hold between the fields of one message: the banks named are the
 * banks of the parties (ids say their bank), T_EXP > T_iS, and the consent's
 * hash is the hash of the TransactionData it names.
 */
function checkConsistency(message: Readonly<Record<string, unknown>>, sha256: Sha256Digest): void {
  const field = (name: string) => message[name] as string;
  switch (message.kind as MacroMessageKind) {
    case 'macro_challenge':
      mismatch(Date.parse(field('challengedAt')) < Date.parse(field('expiresAt')), 'challengedAt');
      return;
    case 'macro_client_bank_request':
      mismatch(field('to') === bankOfParty(field('clientId')), 'to');
      return;
    case 'macro_papp_req':
    case 'macro_pay_confirm_to_merchant':
    case 'macro_pay_confirm_to_client':
      mismatch(field('from') === bankOfParty(field('to')), 'from');
      return;
    case 'macro_papp_resp': {
      mismatch(field('to') === bankOfParty(field('from')), 'to');
      mismatch(field('merchantBankId') === bankOfParty(field('merchantId')), 'merchantBankId');
      const data = transactionDataOfConsent(message as PAppRespContent);
      mismatch(hashTransactionData(data, sha256) === field('transactionDataHash'), 'transactionDataHash');
      return;
    }
    case 'macro_funds_transfer':
      mismatch(field('from') === bankOfParty(field('clientId')), 'from');
      mismatch(field('to') === bankOfParty(field('merchantId')), 'to');
      return;
    case 'macro_pay_ack':
      mismatch(field('from') === bankOfParty(field('merchantId')), 'from');
      mismatch(field('to') === bankOfParty(field('clientId')), 'to');
      return;
    default:
      return;
  }
}

/** The own `kind` of a would-be message (before its shape is checked against that kind). */
function kindOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid('(message)');
  return Object.hasOwn(value, 'kind') ? (value as { kind: unknown }).kind : undefined;
}

function isMacroMessageKind(value: unknown): value is MacroMessageKind {
  return typeof value === 'string' && Object.hasOwn(macroMessageRoutes, value);
}

/**
 * Validates one message content, strictly: a plain object with exactly the
 * fields of its kind (an unknown or missing field is MESSAGE_INVALID with its
 * path), party ids in canonical form and of the kind the paper's sender and
 * receiver have (PARTY_ID_INVALID), amounts in canonical decimal text
 * (AMOUNT_INVALID, CURRENCY_INVALID, AMOUNT_TOO_LARGE), and fields consistent
 * with each other (PAYMENT_MESSAGE_MISMATCH). With `expected`, a message of
 * another kind is MESSAGE_INVALID at `kind`. Returns a frozen copy.
 * `sha256` checks the consent's h(TransactionData) (PApp_Resp).
 */
export function parseMacroMessage<K extends MacroMessageKind = MacroMessageKind>(
  value: unknown,
  sha256: Sha256Digest,
  expected?: K,
): MacroMessageOf<K> {
  const kind = kindOf(value);
  if (!isMacroMessageKind(kind) || (expected !== undefined && kind !== expected)) invalid('kind');
  const fields = messageFields[kind];
  const route = macroMessageRoutes[kind];
  const names = Object.keys(fields);
  const record = readObject(value, '', ['kind', 'from', 'to', ...names]);
  const parsed: Record<string, unknown> = {
    kind,
    from: partyOf(route.from)(record.from, 'from'),
    to: partyOf(route.to)(record.to, 'to'),
  };
  for (const name of names) parsed[name] = fields[name]!(record[name], name);
  checkConsistency(parsed, sha256);
  return Object.freeze(parsed) as MacroMessageOf<K>;
}

/** Validates TransactionData strictly (as parseMacroMessage does a message); returns a frozen copy. */
export function parseTransactionData(value: unknown): TransactionData {
  const record = readObject(value, '', ['kind', 'date', 'amount', 'merchantId', 'merchantBankId']);
  if (record.kind !== 'macro_transaction_data') invalid('kind');
  const data: TransactionData = {
    kind: 'macro_transaction_data',
    date: parseInstant(record.date, 'date'),
    amount: parseAmount(record.amount, 'amount'),
    merchantId: merchant(record.merchantId, 'merchantId') as string,
    merchantBankId: bank(record.merchantBankId, 'merchantBankId') as string,
  };
  mismatch(data.merchantBankId === bankOfParty(data.merchantId), 'merchantBankId');
  return Object.freeze(data);
}

// One named validator per message, for services that expect one kind.
type Parse<K extends MacroMessageKind> = (value: unknown, sha256: Sha256Digest) => MacroMessageOf<K>;
function parserOf<K extends MacroMessageKind>(kind: K): Parse<K> {
  return (value, sha256) => parseMacroMessage(value, sha256, kind);
}
export const parsePaymentRequestContent = parserOf('macro_payment_request');
export const parseChallengeContent = parserOf('macro_challenge');
export const parseSecretAnswerContent = parserOf('macro_secret_answer');
export const parseFailureMsg1 = parserOf('macro_failure_msg1');
export const parseClientBankRequestContent = parserOf('macro_client_bank_request');
export const parsePAppReqContent = parserOf('macro_papp_req');
export const parseFailureMsg2 = parserOf('macro_failure_msg2');
export const parsePAppRespContent = parserOf('macro_papp_resp');
export const parseFundsTransferContent = parserOf('macro_funds_transfer');
export const parsePayConfirmToMerchantContent = parserOf('macro_pay_confirm_to_merchant');
export const parsePayAckContent = parserOf('macro_pay_ack');
export const parsePayConfirmToClientContent = parserOf('macro_pay_confirm_to_client');
export const parsePayConfirmToMpaspContent = parserOf('macro_pay_confirm_to_mpasp');

// ---------------------------------------------------------------------------
// Amounts, TransactionData and its hash.

/** AmtInfo_c as the contents carry it. */
export function macroAmountOf(amount: Amount): MacroAmount {
  return Object.freeze({ currency: amount.currency, value: formatDecimalAmount(amount, 'amount') });
}

/** AmtInfo_c of a content as an Amount (bigint minor units). */
export function amountOfMacroAmount(amount: MacroAmount): Amount {
  return parseDecimalAmount(amount.value, amount.currency, 'amount');
}

/** TransactionData for a payment to `merchantId` (ID_MB is the merchant's bank, read from its id). */
export function createTransactionData(input: {
  readonly date: Date;
  readonly amount: Amount;
  readonly merchantId: string;
}): TransactionData {
  return parseTransactionData({
    kind: 'macro_transaction_data',
    date: input.date.toISOString(),
    amount: macroAmountOf(input.amount),
    merchantId: input.merchantId,
    merchantBankId: bankOfParty(input.merchantId),
  });
}

/** The TransactionData a consent (PApp_Resp) names. */
export function transactionDataOfConsent(consent: PAppRespContent): TransactionData {
  return {
    kind: 'macro_transaction_data',
    date: consent.transactionDate,
    amount: consent.amount,
    merchantId: consent.merchantId,
    merchantBankId: consent.merchantBankId,
  };
}

const hexDigits = '0123456789abcdef';

function toHex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += hexDigits[byte >> 4]! + hexDigits[byte & 0x0f]!;
  return text;
}

/**
 * h(TransactionData): SHA-256 over the RFC 8785 canonical JSON of the
 * validated TransactionData, as 64 lower-case hex digits. Pure: the digest
 * function is passed in.
 */
export function hashTransactionData(data: TransactionData, sha256: Sha256Digest): string {
  const digest = sha256(canonicalBytes(parseTransactionData(data)));
  assert(digest instanceof Uint8Array && digest.length === 32, 'sha256 returns 32 bytes');
  return toHex(digest);
}

// ---------------------------------------------------------------------------
// ID_T = create_TranId(ID_C) and SID_T = CreateSession(ID_T).

/** Bytes of randomness a new id takes (the caller's CSPRNG: crypto.getRandomValues). */
export const macroIdRandomBytes = 16;

function uuidText(bytes: Uint8Array): string {
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The paper's `ID_T = create_TranId(ID_C)`: "the identity of transaction that
 * includes time and date of transaction". A UUID version 7 (RFC 9562 §5.7):
 * its first 48 bits are `now` in Unix milliseconds, the rest is `random`.
 * ID_C is checked (a client's id) but deliberately not encoded: ID_T travels
 * to the client bank, and the MPASP keeps the link ID_T → ID_C in its record.
 */
export function createTranId(clientId: string, now: Date, random: Uint8Array): string {
  client(clientId, 'clientId');
  const milliseconds = now.getTime();
  assert(Number.isSafeInteger(milliseconds) && milliseconds >= 0, 'now is a time after 1970');
  assert(random.length === macroIdRandomBytes, `random is ${macroIdRandomBytes} bytes`);
  const bytes = Uint8Array.from(random);
  let rest = milliseconds;
  for (let index = 5; index >= 0; index--) {
    bytes[index] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  return uuidText(bytes);
}

/** The instant an ID_T (a UUID version 7) carries. */
export function timeOfTranId(transactionId: string): Date {
  const text = uuid(transactionId, 'transactionId') as string;
  if (text[14] !== '7') invalid('transactionId');
  return new Date(Number.parseInt(text.slice(0, 8) + text.slice(9, 13), 16));
}

/**
 * The paper's `SID_T = CreateSession(ID_T)`: a fresh random UUID version 4,
 * unlinkable to ID_T (it is what the banks see: the merchant bank never
 * learns ID_T).
 */
export function createSession(transactionId: string, random: Uint8Array): string {
  uuid(transactionId, 'transactionId');
  assert(random.length === macroIdRandomBytes, `random is ${macroIdRandomBytes} bytes`);
  const bytes = Uint8Array.from(random);
  bytes[6] = 0x40 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const sessionId = uuidText(bytes);
  assert(sessionId !== transactionId, 'SID_T differs from ID_T');
  return sessionId;
}
