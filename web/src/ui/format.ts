/** Decimal places of the currencies the platform settles in (ISO 4217); others show two. */
const minorDigits: Readonly<Record<string, number>> = {
  EUR: 2,
  USD: 2,
  GBP: 2,
  MKD: 2,
  JPY: 0,
  KES: 2,
  INR: 2,
};

/** `1250n, 'EUR'` → `EUR 12.50`: money is bigint minor units to the last step, never a float. */
export function formatMoney(minor: bigint, currency: string): string {
  const digits = minorDigits[currency] ?? 2;
  const negative = minor < 0n;
  const magnitude = negative ? -minor : minor;
  const scale = 10n ** BigInt(digits);
  const whole = (magnitude / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = digits === 0 ? '' : `.${(magnitude % scale).toString().padStart(digits, '0')}`;
  return `${negative ? '−' : ''}${currency} ${whole}${fraction}`;
}

/** `'12.5', 'EUR'` → `1250n`; undefined for anything that is not a plain amount with at most the currency's decimals. */
export function parseMoney(text: string, currency: string): bigint | undefined {
  const digits = minorDigits[currency] ?? 2;
  const match = /^\s*(\d{1,12})(?:[.,](\d+))?\s*$/.exec(text);
  if (match === null) return undefined;
  const fraction = match[2] ?? '';
  if (fraction.length > digits) return undefined;
  return BigInt(match[1] ?? '0') * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
}

/** A time the reader understands at a glance, in the phone's own locale and zone. */
export function formatTime(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A long id shortened for a screen, whole in its title attribute. */
export function shortId(id: string): string {
  return id.length <= 14 ? id : `${id.slice(0, 8)}…${id.slice(-4)}`;
}
