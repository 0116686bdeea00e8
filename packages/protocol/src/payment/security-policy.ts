import type { SecurityLevel } from './security-level.ts';

/**
 * What a security level asks for. The iMS paper: "different levels of
 * security have to be implemented for small, medium and large transaction of
 * funds"; "in accordance with the amount of money transferred, the data can
 * be encrypted to secure the privacy of every player".
 *
 *   merchant_signature      the merchant signs its request (iMS step 1)
 *   fsp_countersignature    the FSP countersigns what it sends the customer (step 2)
 *   customer_signature      the customer's own key signs the exact message (steps 4–5)
 *   pin                     the customer enters the PIN for this payment
 *   low_value_exemption     no PIN for this payment: PSD2 RTS Art. 16 (a small amount while
 *                           the count and sum since the last full authentication stay low)
 *   private_data_sealed     the data section's private fields (description, order lines) are
 *                           encrypted end to end for the customer and the banks; the FSP sees
 *                           the parties and the amount only
 *   second_factor           a one-time code, checked by the customer's bank
 *   bank_approval           the customer's bank approves the payment explicitly, in its signed answer
 */
export type Protection =
  | 'merchant_signature'
  | 'fsp_countersignature'
  | 'customer_signature'
  | 'pin'
  | 'low_value_exemption'
  | 'private_data_sealed'
  | 'second_factor'
  | 'bank_approval';

export const protections: readonly Protection[] = Object.freeze([
  'merchant_signature',
  'fsp_countersignature',
  'customer_signature',
  'pin',
  'low_value_exemption',
  'private_data_sealed',
  'second_factor',
  'bank_approval',
]);

/** The signatures of the paper's chain: mpay applies them at every level (they cost a few milliseconds). */
const signatureChain: readonly Protection[] = [
  'merchant_signature',
  'fsp_countersignature',
  'customer_signature',
];

/**
 * The amounts that decide a level, for one currency (minor units, bounds
 * inclusive). Splitting a payment does not lower its level: the level looks at
 * the customer's recent payments as well as this one.
 *
 *   small   amount ≤ small.amountMaxMinor, and since the customer's last payment at
 *           medium or above (their last full authentication) at most small.countMax
 *           payments including this one, summing to at most small.cumulativeMaxMinor
 *           (PSD2 RTS Art. 16: €30, €100, 5)
 *   medium  amount ≤ medium.amountMaxMinor, and since the customer's last large payment
 *           the payments including this one sum to at most medium.cumulativeMaxMinor
 *   large   everything else
 *
 * Only payments inside `windowSeconds` count; older history is forgotten.
 */
export interface CurrencySecurityPolicy {
  readonly small: {
    readonly amountMaxMinor: bigint;
    readonly cumulativeMaxMinor: bigint;
    readonly countMax: number;
  };
  readonly medium: { readonly amountMaxMinor: bigint; readonly cumulativeMaxMinor: bigint };
  readonly windowSeconds: number;
}

export interface SecurityPolicy {
  readonly currencies: Readonly<Record<string, CurrencySecurityPolicy>>;
  /** What each level requires; every level includes the signature chain, and a level asks at least what the one below asks. */
  readonly levels: Readonly<Record<SecurityLevel, readonly Protection[]>>;
}

const day = 86_400;

function eurLike(scale: bigint): CurrencySecurityPolicy {
  return {
    small: { amountMaxMinor: 30_00n * scale, cumulativeMaxMinor: 100_00n * scale, countMax: 5 },
    medium: { amountMaxMinor: 500_00n * scale, cumulativeMaxMinor: 500_00n * scale },
    windowSeconds: day,
  };
}

/**
 * The defaults: PSD2's low-value exemption for small, the paper's chain with a
 * PIN for medium; for large, on top, the private fields sealed end to end for
 * the customer and the banks, a second factor and the bank's approval.
 */
export const defaultSecurityPolicy: SecurityPolicy = deepFreeze({
  currencies: {
    EUR: eurLike(1n),
    USD: eurLike(1n),
    // The Macedonian denar, about 61.5 to the euro.
    MKD: {
      small: { amountMaxMinor: 1_800_00n, cumulativeMaxMinor: 6_000_00n, countMax: 5 },
      medium: { amountMaxMinor: 30_000_00n, cumulativeMaxMinor: 30_000_00n },
      windowSeconds: day,
    },
  },
  levels: {
    small: [...signatureChain, 'low_value_exemption'],
    medium: [...signatureChain, 'pin'],
    large: [...signatureChain, 'pin', 'private_data_sealed', 'second_factor', 'bank_approval'],
  },
});

/** One of the customer's recent payments, as the level computation sees it. */
export interface RecentPayment {
  readonly amountMinor: bigint;
  readonly level: SecurityLevel;
  readonly at: Date;
  /**
   * The customer authorised it (signed, with what its level asked). Only an
   * authorised payment is an authentication that restarts the counters; one
   * still waiting for the customer counts towards them but restarts nothing,
   * or asking for a large payment and never confirming it would reset them.
   */
  readonly authenticated: boolean;
}

export interface SecurityAssessment {
  readonly level: SecurityLevel;
  readonly protections: readonly Protection[];
  /** What decided the level, for the log and for people: e.g. 'amount 29.00 ≤ 30.00; 4th payment, 116.00 since the last full authentication > 100.00'. */
  readonly reason: string;
  /** The counters the level was computed from. */
  readonly sinceFullAuthentication: { readonly count: number; readonly totalMinor: bigint };
  readonly sinceLarge: { readonly count: number; readonly totalMinor: bigint };
}

const levelRank: Readonly<Record<SecurityLevel, number>> = { small: 0, medium: 1, large: 2 };

export function higherLevel(a: SecurityLevel, b: SecurityLevel): SecurityLevel {
  return levelRank[a] >= levelRank[b] ? a : b;
}

export function isLevelAtLeast(claimed: SecurityLevel, required: SecurityLevel): boolean {
  return levelRank[claimed] >= levelRank[required];
}

/** Sum and count of the payments after the last authorised one at `level` or above (inside the window), plus this one. */
function since(
  history: readonly RecentPayment[],
  level: SecurityLevel,
  amountMinor: bigint,
): { count: number; totalMinor: bigint } {
  const newestFirst = [...history].sort((a, b) => b.at.getTime() - a.at.getTime());
  let count = 1;
  let totalMinor = amountMinor;
  for (const payment of newestFirst) {
    if (payment.authenticated && isLevelAtLeast(payment.level, level)) break;
    count += 1;
    totalMinor += payment.amountMinor;
  }
  return { count, totalMinor };
}

/**
 * The level of a payment of `amountMinor` by a customer whose recent payments
 * (any order, any age: those outside the window are ignored) are `history`,
 * and the protections the level requires. A currency the policy does not name
 * is always large.
 */
export function assessSecurity(
  amount: { readonly currency: string; readonly minor: bigint },
  history: readonly RecentPayment[],
  policy: SecurityPolicy,
  now: Date,
): SecurityAssessment {
  const rules = policy.currencies[amount.currency];
  const assessment = (level: SecurityLevel, reason: string, counters: Counters): SecurityAssessment => ({
    level,
    protections: policy.levels[level],
    reason,
    ...counters,
  });
  const none = { count: 1, totalMinor: amount.minor };
  if (rules === undefined)
    return assessment('large', `no policy for ${amount.currency}`, {
      sinceFullAuthentication: none,
      sinceLarge: none,
    });
  const windowStart = now.getTime() - rules.windowSeconds * 1000;
  const recent = history.filter((payment) => payment.at.getTime() > windowStart);
  const counters = {
    sinceFullAuthentication: since(recent, 'medium', amount.minor),
    sinceLarge: since(recent, 'large', amount.minor),
  };
  const { small, medium } = rules;
  const { sinceFullAuthentication: full, sinceLarge } = counters;
  if (amount.minor > medium.amountMaxMinor)
    return assessment('large', `amount above ${medium.amountMaxMinor} minor units`, counters);
  if (sinceLarge.totalMinor > medium.cumulativeMaxMinor)
    return assessment(
      'large',
      `${sinceLarge.totalMinor} minor units in ${sinceLarge.count} payments since the last large one, above ${medium.cumulativeMaxMinor}`,
      counters,
    );
  if (amount.minor > small.amountMaxMinor)
    return assessment('medium', `amount above ${small.amountMaxMinor} minor units`, counters);
  if (full.count > small.countMax)
    return assessment(
      'medium',
      `payment ${full.count} since the last full authentication, above ${small.countMax}`,
      counters,
    );
  if (full.totalMinor > small.cumulativeMaxMinor)
    return assessment(
      'medium',
      `${full.totalMinor} minor units since the last full authentication, above ${small.cumulativeMaxMinor}`,
      counters,
    );
  return assessment(
    'small',
    `low value: within ${small.amountMaxMinor}, ${small.cumulativeMaxMinor} and ${small.countMax}`,
    counters,
  );
}

type Counters = Pick<SecurityAssessment, 'sinceFullAuthentication' | 'sinceLarge'>;

/**
 * The level from the amount alone, without history: the least a payment of
 * this amount may be signed at. A customer's bank, which does not see the
 * customer's payments at other merchants' FSP, checks the signed level against it.
 */
export function securityLevelFloor(
  amount: { readonly currency: string; readonly minor: bigint },
  policy: SecurityPolicy,
): SecurityLevel {
  const rules = policy.currencies[amount.currency];
  if (rules === undefined || amount.minor > rules.medium.amountMaxMinor) return 'large';
  return amount.minor > rules.small.amountMaxMinor ? 'medium' : 'small';
}

/** A configuration error: the platform refuses to start, naming the field. */
function invalid(path: string, why: string): never {
  throw new Error(`security policy: ${path}: ${why}`);
}

function recordAt(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    invalid(path, 'expected an object');
  return value as Record<string, unknown>;
}

function onlyKeys(object: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const key of Object.keys(object)) if (!keys.includes(key)) invalid(`${path}.${key}`, 'unknown field');
  for (const key of keys) if (!Object.hasOwn(object, key)) invalid(`${path}.${key}`, 'missing');
}

/** Minor units from configuration: a bigint, or a decimal-digit string (JSON has no bigint). */
function minorAt(value: unknown, path: string): bigint {
  if (typeof value === 'bigint' && value > 0n) return value;
  if (typeof value === 'string' && /^[1-9][0-9]{0,17}$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return BigInt(value);
  return invalid(path, 'expected a positive whole number of minor units');
}

function countAt(value: unknown, path: string, max: number): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max) return value;
  return invalid(path, `expected a whole number from 1 to ${max}`);
}

function currencyPolicyAt(value: unknown, path: string): CurrencySecurityPolicy {
  const object = recordAt(value, path);
  onlyKeys(object, ['small', 'medium', 'windowSeconds'], path);
  const smallRaw = recordAt(object.small, `${path}.small`);
  onlyKeys(smallRaw, ['amountMaxMinor', 'cumulativeMaxMinor', 'countMax'], `${path}.small`);
  const mediumRaw = recordAt(object.medium, `${path}.medium`);
  onlyKeys(mediumRaw, ['amountMaxMinor', 'cumulativeMaxMinor'], `${path}.medium`);
  const small = {
    amountMaxMinor: minorAt(smallRaw.amountMaxMinor, `${path}.small.amountMaxMinor`),
    cumulativeMaxMinor: minorAt(smallRaw.cumulativeMaxMinor, `${path}.small.cumulativeMaxMinor`),
    countMax: countAt(smallRaw.countMax, `${path}.small.countMax`, 1000),
  };
  const medium = {
    amountMaxMinor: minorAt(mediumRaw.amountMaxMinor, `${path}.medium.amountMaxMinor`),
    cumulativeMaxMinor: minorAt(mediumRaw.cumulativeMaxMinor, `${path}.medium.cumulativeMaxMinor`),
  };
  if (small.cumulativeMaxMinor < small.amountMaxMinor)
    invalid(`${path}.small.cumulativeMaxMinor`, 'below small.amountMaxMinor');
  if (medium.amountMaxMinor <= small.amountMaxMinor)
    invalid(`${path}.medium.amountMaxMinor`, 'not above small.amountMaxMinor');
  if (medium.cumulativeMaxMinor < medium.amountMaxMinor)
    invalid(`${path}.medium.cumulativeMaxMinor`, 'below medium.amountMaxMinor');
  const windowSeconds = countAt(object.windowSeconds, `${path}.windowSeconds`, 90 * day);
  return { small, medium, windowSeconds };
}

/** What a protection stands in for when levels are compared: the exemption is the weakest form of the PIN step. */
function strength(list: readonly Protection[]): Set<Protection> {
  const set = new Set(list);
  if (set.has('pin')) set.add('low_value_exemption');
  return set;
}

function levelsAt(value: unknown): Record<SecurityLevel, readonly Protection[]> {
  const object = recordAt(value, 'levels');
  onlyKeys(object, ['small', 'medium', 'large'], 'levels');
  const levels = {} as Record<SecurityLevel, readonly Protection[]>;
  for (const level of ['small', 'medium', 'large'] as const) {
    const list = object[level];
    const path = `levels.${level}`;
    if (!Array.isArray(list)) invalid(path, 'expected a list of protections');
    for (const entry of list) {
      if (!protections.includes(entry as Protection)) invalid(path, `unknown protection ${String(entry)}`);
    }
    const set = new Set(list as Protection[]);
    if (set.size !== list.length) invalid(path, 'a protection is listed twice');
    for (const needed of signatureChain) if (!set.has(needed)) invalid(path, `must include ${needed}`);
    if (set.has('pin') === set.has('low_value_exemption'))
      invalid(path, 'must include exactly one of pin and low_value_exemption');
    if (set.has('low_value_exemption') && level !== 'small')
      invalid(path, 'low_value_exemption applies to small payments only');
    // The bank asks for the second factor and approves only what is signed as large.
    for (const largeOnly of ['second_factor', 'bank_approval'] as const)
      if (set.has(largeOnly) !== (level === 'large'))
        invalid(path, `${largeOnly} is required at large, and only there`);
    levels[level] = Object.freeze(protections.filter((protection) => set.has(protection)));
  }
  for (const [lower, upper] of [
    ['small', 'medium'],
    ['medium', 'large'],
  ] as const) {
    const above = strength(levels[upper]);
    for (const protection of strength(levels[lower]))
      if (!above.has(protection))
        invalid(`levels.${upper}`, `must include what ${lower} requires (${protection})`);
  }
  return levels;
}

/**
 * A policy from configuration (JSON: minor units as strings or numbers),
 * validated at start: every currency a three-letter code with consistent
 * amounts, every level with the signature chain and either the PIN or the
 * exemption, each level at least as strict as the one below. Throws naming
 * the field otherwise.
 */
export function parseSecurityPolicy(value: unknown): SecurityPolicy {
  const object = recordAt(value, '(root)');
  onlyKeys(object, ['currencies', 'levels'], '(root)');
  const currenciesRaw = recordAt(object.currencies, 'currencies');
  const currencies: Record<string, CurrencySecurityPolicy> = {};
  for (const [currency, rules] of Object.entries(currenciesRaw)) {
    if (!/^[A-Z]{3}$/.test(currency)) invalid(`currencies.${currency}`, 'not an ISO 4217 code');
    currencies[currency] = currencyPolicyAt(rules, `currencies.${currency}`);
  }
  return deepFreeze({ currencies, levels: levelsAt(object.levels) });
}

/** The policy as JSON (minor units as strings), what `parseSecurityPolicy` reads back. */
export function securityPolicyToJson(policy: SecurityPolicy): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(policy, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
  ) as Record<string, unknown>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
