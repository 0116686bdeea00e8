import { accountKinds, referenceLengthCeiling, timeoutSecondsCeiling, transferKinds } from '@mpay/ledger';
import { partyIdLengthMax } from '@mpay/protocol';
import type { StrictSchema } from './strict-validator.ts';

/** Canonical lower-case UUID text. */
const ledgerId = {
  type: 'string',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
} as const;
/** A positive whole number of minor units as decimal text: no sign, no zero, no fraction, no JSON number. */
const minorUnits = { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } as const;
const currency = { type: 'string', pattern: '^[A-Z]{3}$' } as const;
const reference = { type: 'string', maxLength: referenceLengthCeiling } as const;

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
