import { MpayError } from '@mpay/protocol';
import type { DepositoryContext } from './context.ts';
import { insertRevocation, type KeyBindingRecord, selectKeyBinding } from './store.ts';

export type KeyBindingStatus = 'active' | 'revoked' | 'expired';

/** Revoked wins over expired: a revocation is a fact about the device, not about time. */
export function keyBindingStatus(record: KeyBindingRecord, now: Date): KeyBindingStatus {
  if (record.revocation !== undefined) return 'revoked';
  const time = now.getTime();
  return time < record.notBefore.getTime() || time >= record.notAfter.getTime() ? 'expired' : 'active';
}

/** A binding as GET /key-bindings/:serial publishes it. */
export interface KeyBindingView {
  readonly serial: string;
  readonly binding: string;
  readonly status: KeyBindingStatus;
  readonly revokedAt?: string;
}

function viewOf(record: KeyBindingRecord, now: Date): KeyBindingView {
  return {
    serial: record.serial,
    binding: record.binding,
    status: keyBindingStatus(record, now),
    ...(record.revocation === undefined ? {} : { revokedAt: record.revocation.revokedAt.toISOString() }),
  };
}

export async function readKeyBinding(context: DepositoryContext, serial: string): Promise<KeyBindingView> {
  const record = await selectKeyBinding(context.database, serial);
  if (record === undefined) throw new MpayError('NOT_FOUND');
  return viewOf(record, context.clock());
}

/**
 * Revokes a binding (a lost device), for good: from the commit on, no
 * payment order is accepted under its key. Revoking it again answers the
 * first revocation (`created` false). The binding's row lock orders the
 * revocation with the payment orders that rely on the binding.
 */
export async function revokeKeyBinding(
  context: DepositoryContext,
  serial: string,
  reason: string,
  revokedBy: string,
): Promise<{ view: KeyBindingView; created: boolean }> {
  const now = context.clock();
  return context.database.transaction(async (sql) => {
    const record = await selectKeyBinding(sql, serial, true);
    if (record === undefined) throw new MpayError('NOT_FOUND');
    const created = await insertRevocation(sql, serial, reason, revokedBy, now);
    const revoked = await selectKeyBinding(sql, serial);
    if (revoked?.revocation === undefined) throw new Error('assertion failed: the binding is revoked');
    if (created)
      context.log.warn({ serial, partyId: record.partyId, reason, revokedBy }, 'key binding revoked');
    return { view: viewOf(revoked, now), created };
  });
}
