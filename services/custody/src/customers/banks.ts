import { decodeUnverified, type KeyBinding, verifyKeyBinding } from '@mpay/envelope';
import { requestObject } from '@mpay/http-client';
import { MpayError, parsePartyId } from '@mpay/protocol';
import type { BankLink, CustodyContext } from '../context.ts';

export function bankOf(context: CustodyContext, bankId: string): BankLink {
  const bank = context.banks.find((candidate) => candidate.id === bankId);
  if (bank === undefined) throw new MpayError('BANK_UNKNOWN', bankId);
  return bank;
}

/**
 * A key binding as its bank issued it: under the key of the bank its `iss`
 * names (one custody knows), valid now, the subject a person of that bank.
 * Checked here only; `confirmActiveAtBank` asks the bank whether it still stands by it.
 */
export async function verifiedBinding(context: CustodyContext, compact: string): Promise<KeyBinding> {
  const issuer = (decodeUnverified(compact)?.payload as { iss?: unknown } | undefined)?.iss;
  if (typeof issuer !== 'string') throw new MpayError('KEY_BINDING_INVALID');
  const bank = bankOf(context, issuer);
  const now = context.clock();
  const binding = await verifyKeyBinding(compact, async () => bank.signingJwk, {
    isRevoked: () => false,
    issuer: bank.id,
    clockSkewSeconds: context.limits.clockSkewSeconds,
    now: () => now.getTime(),
  });
  const party = parsePartyId(binding.subject, 'sub');
  if (party.kind !== 'person' || !('bank' in party) || party.bank !== bank.id) {
    throw new MpayError('KEY_BINDING_INVALID', 'subject');
  }
  return binding;
}

/** The bank still stands by the binding (it may have been revoked since it was issued). */
export async function confirmActiveAtBank(context: CustodyContext, binding: KeyBinding): Promise<void> {
  const bank = bankOf(context, binding.issuer);
  const { body } = await requestObject<{ status?: unknown }>(
    `${bank.url}/key-bindings/${encodeURIComponent(binding.serialNumber)}`,
    { timeoutMs: context.limits.callTimeoutMs, responseBytesMax: 16 * 1024 },
    'BANK_UNAVAILABLE',
  );
  if (body.status !== 'active') throw new MpayError('KEY_BINDING_REVOKED');
}
