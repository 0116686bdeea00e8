import { decodeUnverified } from '@mpay/envelope';
import type { PaymentRequestView } from '@mpay/sdk';

/**
 * A payment request's security level as the customer reads it, from the
 * protections the FSP stated under its countersignature (which the SDK
 * verified before the request was shown), never from the page's own guess.
 */

export const levelNames: Readonly<Record<string, string>> = {
  small: 'Small',
  medium: 'Medium',
  large: 'Large',
};

/** What the level asks of the customer (or of the bank for them), in the order it is asked. */
const asks: readonly (readonly [string, string])[] = [
  ['pin', 'your PIN'],
  ['low_value_exemption', 'your PIN'],
  ['second_factor', 'a code from your authenticator'],
  ['bank_approval', "your bank's explicit approval"],
];

/** What was checked or applied for the customer, beyond what they are asked. */
const applied: readonly (readonly [string, string])[] = [
  ['merchant_signature', "merchant's signature"],
  ['fsp_countersignature', "FSP's countersignature"],
  ['private_data_sealed', 'details sealed end to end'],
  ['low_value_exemption', 'low-value exemption'],
];

export function levelName(level: string): string {
  return levelNames[level] ?? level;
}

/** "your PIN · a code from your authenticator · your bank's explicit approval". */
export function levelAsks(protections: readonly string[]): readonly string[] {
  const listed = asks.filter(([protection]) => protections.includes(protection)).map(([, text]) => text);
  // The wallet signs with the device key only after the PIN, whatever the level.
  return [...new Set(['your PIN', ...listed])];
}

export function levelApplied(protections: readonly string[]): readonly string[] {
  return applied.filter(([protection]) => protections.includes(protection)).map(([, text]) => text);
}

export function asksSecondFactor(view: PaymentRequestView): boolean {
  return view.protections.includes('second_factor');
}

/**
 * When the request expires: the `exp` of the FSP's countersignature, which
 * the SDK verified (signature, issuer, audience, this payment) before it
 * showed the request; read from that very JWS.
 */
export function expiresAtOf(view: PaymentRequestView): Date | undefined {
  const fspSign = view.message.address.fspSign;
  const payload = fspSign === undefined ? undefined : decodeUnverified(fspSign)?.payload;
  const exp = (payload as { exp?: unknown } | undefined)?.exp;
  return typeof exp === 'number' && Number.isSafeInteger(exp) ? new Date(exp * 1000) : undefined;
}

/** "m-commerce" → how the customer met the merchant. */
export function procedureName(procedure: string): string {
  return procedure === 'm-trade' ? 'At a till' : procedure === 'm-commerce' ? 'Online' : procedure;
}

/** "5:33 AM" today, "Dec 4, 5:33 AM" another day: when a request expires, at a glance. */
export function expiryText(expiresAt: Date, now: Date): string {
  const sameDay = expiresAt.toDateString() === now.toDateString();
  return expiresAt.toLocaleString(
    undefined,
    sameDay ? { timeStyle: 'short' } : { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' },
  );
}
