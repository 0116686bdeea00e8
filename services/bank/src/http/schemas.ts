import { accountKinds, referenceLengthCeiling, timeoutSecondsCeiling, transferKinds } from '@mpay/ledger';
import { partyIdLengthMax } from '@mpay/protocol';
import type { StrictSchema } from './strict-validator.ts';

/** Canonical lower-case UUID text. */
export const ledgerId = {
  type: 'string',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
} as const;
/** A positive whole number of minor units as decimal text: no sign, no zero, no fraction, no JSON number. */
export const minorUnits = { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } as const;
export const currency = { type: 'string', pattern: '^[A-Z]{3}$' } as const;
export const reference = { type: 'string', maxLength: referenceLengthCeiling } as const;
/** A party id's characters and length; routes then require its canonical form (isPartyId). */
export const partyId = {
  type: 'string',
  minLength: 1,
  maxLength: partyIdLengthMax,
  pattern: '^[a-z0-9._@-]+$',
} as const;

export const idParamsSchema = {
  type: 'object',
  properties: { id: ledgerId },
  required: ['id'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface IdParams {
  id: string;
}

export const openAccountBodySchema = {
  type: 'object',
  properties: {
    id: ledgerId,
    owner: { type: 'string', minLength: 1, maxLength: partyIdLengthMax },
    currency,
    kind: { type: 'string', enum: accountKinds },
  },
  required: ['owner', 'currency', 'kind'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface OpenAccountBody {
  id?: string;
  owner: string;
  currency: string;
  kind: string;
}

export const createTransferBodySchema = {
  type: 'object',
  properties: {
    id: ledgerId,
    kind: { type: 'string', enum: transferKinds },
    debitAccountId: ledgerId,
    creditAccountId: ledgerId,
    amount: minorUnits,
    currency,
    pendingId: ledgerId,
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: timeoutSecondsCeiling },
    reference,
  },
  required: ['id'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface CreateTransferBody {
  id: string;
  kind?: string;
  debitAccountId?: string;
  creditAccountId?: string;
  amount?: string;
  currency?: string;
  pendingId?: string;
  timeoutSeconds?: number;
  reference?: string;
}

/** Most transfers one POST /transfers/batch carries. */
export const transfersPerBatchMax = 100;

export const createTransfersBodySchema = {
  type: 'object',
  properties: {
    transfers: {
      type: 'array',
      items: createTransferBodySchema,
      minItems: 1,
      maxItems: transfersPerBatchMax,
    },
    linked: { type: 'boolean' },
  },
  required: ['transfers'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface CreateTransfersBody {
  transfers: CreateTransferBody[];
  /** All or none: one chain (TigerBeetle's linked flag). */
  linked?: boolean;
}

/** POST /transfers/:id/post — the body may be absent; `id` names the posting transfer (generated when absent). */
export const postPendingBodySchema = {
  type: ['object', 'null'],
  properties: { id: ledgerId, amount: minorUnits, reference },
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface PostPendingBody {
  id?: string;
  amount?: string;
  reference?: string;
}

export const voidPendingBodySchema = {
  type: ['object', 'null'],
  properties: { id: ledgerId, reference },
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface VoidPendingBody {
  id?: string;
  reference?: string;
}

/** POST /accounts/:id/close — no fields; the body may be absent. */
export const closeAccountBodySchema = {
  type: ['object', 'null'],
  properties: {},
  additionalProperties: false,
} as const satisfies StrictSchema;

/** GET /accounts/:id/statement — query values arrive as text; the route bounds the page size. */
export const statementQuerySchema = {
  type: 'object',
  properties: {
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  },
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface StatementQuery {
  limit?: string;
  cursor?: string;
}

/** A correction says why: its reference is required and not empty. */
const correctionReference = { type: 'string', minLength: 1, maxLength: referenceLengthCeiling } as const;

/** POST /transfers/:id/refund — `id` names the refund (its idempotency key); no amount: all that is left. */
export const refundBodySchema = {
  type: 'object',
  properties: { id: ledgerId, amount: minorUnits, reference: correctionReference },
  required: ['id', 'reference'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface RefundBody {
  id: string;
  amount?: string;
  reference: string;
}

/** POST /transfers/:id/reverse — always everything not yet refunded. */
export const reverseBodySchema = {
  type: 'object',
  properties: { id: ledgerId, reference: correctionReference },
  required: ['id', 'reference'],
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface ReverseBody {
  id: string;
  reference: string;
}

/** POST /accounts/:id/limits — the limits in force afterwards; an absent field means no such limit. */
export const setLimitsBodySchema = {
  type: 'object',
  properties: { perTransactionMax: minorUnits, dailyDebitMax: minorUnits },
  additionalProperties: false,
} as const satisfies StrictSchema;

export interface SetLimitsBody {
  perTransactionMax?: string;
  dailyDebitMax?: string;
}
