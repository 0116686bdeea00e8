/**
 * A payment's security level as a custody customer reads it: what this phone
 * checked, and what the level asks of them, from the protections the FSP
 * stated under its countersignature (never from the page's own guess).
 */

/** Protections the phone itself checked before it showed the request. */
const checkedByPhone: Readonly<Record<string, string>> = {
  merchant_signature: "the merchant's signature",
  fsp_countersignature: "the FSP's countersignature",
  private_data_sealed: 'details sealed end to end',
};

/** Protections that ask something of the customer (or of custody and the bank in their name). */
const askedOfCustomer: Readonly<Record<string, string>> = {
  customer_signature: 'custody signs in your name',
  pin: 'your PIN',
  second_factor: 'a one-time code',
  bank_approval: "your bank's approval",
};

const levelNames: Readonly<Record<string, string>> = {
  small: 'Small',
  medium: 'Medium',
  large: 'Large',
};

export function levelName(level: string | undefined): string {
  if (level === undefined) return 'Unknown';
  return levelNames[level] ?? level;
}

/** What the level asks: "your PIN · custody signs in your name". */
export function levelAsks(protections: readonly string[] | undefined): string {
  const asks = new Set((protections ?? []).flatMap((name) => askedOfCustomer[name] ?? []));
  // Custody never signs without the PIN, whatever the level (a low-value exemption included).
  return ['your PIN', ...[...asks].filter((ask) => ask !== 'your PIN')].join(' · ');
}

/** What this phone verified: "the merchant's signature · the FSP's countersignature". */
export function levelChecked(protections: readonly string[] | undefined): string {
  const checked = (protections ?? []).flatMap((name) => checkedByPhone[name] ?? []);
  return ["custody's forward", ...checked].join(' · ');
}
