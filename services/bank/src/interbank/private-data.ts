import { openPrivateData } from '@mpay/envelope';
import { type ImsPrivateData, type ImsSealedData, isMpayError } from '@mpay/protocol';
import type { BankIdentity } from '../bank-identity.ts';
import type { PaymentOrderInput } from './order.ts';
import { OrderRefusal } from './refusal.ts';

function recordOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

const sealedParts = ['content', 'customer', 'payerBank', 'payeeBank'] as const;

/** The sealed private fields in the customer's signed content (data.sealed), if any, with the shape checked. */
function sealedDataOf(data: Record<string, unknown> | undefined): ImsSealedData | undefined {
  const sealed = recordOf(data?.sealed);
  if (data?.sealed === undefined) return undefined;
  const wellFormed =
    sealed !== undefined &&
    Object.keys(sealed).length === sealedParts.length &&
    sealedParts.every((part) => typeof sealed[part] === 'string');
  if (!wellFormed) throw new OrderRefusal('PRIVATE_DATA_INVALID', 'sealed data is malformed');
  return sealed as unknown as ImsSealedData;
}

/**
 * The data section's private fields as the customer signed them (iMS large
 * level, `private_data_sealed`). When the level asks for sealing, nothing
 * private travels in clear: no description and no account (the FSP fills in
 * none; this bank debits the account its own binding names), or
 * PRIVATE_DATA_NOT_SEALED. When the fields are sealed, this bank opens its
 * copy with its own key and the data must name this order
 * (PRIVATE_DATA_INVALID otherwise): it is one of the readers, and it keeps
 * nothing it could not read for a later dispute. Returns what it read.
 */
export async function checkPrivateData(
  bank: BankIdentity,
  payload: Readonly<Record<string, unknown>>,
  order: PaymentOrderInput,
  sealingRequired: boolean,
): Promise<ImsPrivateData | undefined> {
  const data = recordOf(payload.data);
  const protections = Array.isArray(payload.protections) ? payload.protections : [];
  if (sealingRequired) {
    const inClear = data?.description !== undefined || data?.accountPayable !== undefined;
    if (!protections.includes('private_data_sealed') || inClear)
      throw new OrderRefusal('PRIVATE_DATA_NOT_SEALED', 'private fields signed in clear');
  }
  const sealed = sealedDataOf(data);
  if (sealed === undefined) return undefined;
  if (bank.encryption === undefined)
    throw new OrderRefusal('PRIVATE_DATA_INVALID', 'this bank has no encryption key');
  try {
    return await openPrivateData(sealed, 'payerBank', [bank.encryption.privateJwk], order.id);
  } catch (error) {
    if (isMpayError(error)) throw new OrderRefusal('PRIVATE_DATA_INVALID', `sealed data: ${error.code}`);
    throw error;
  }
}
