/** The lifetimes of the deployment's certificates, as named, validated, frozen options. */
export interface PkiLimits {
  /** How long the deployment's root CA is valid (days). */
  readonly caValidityDays: number;
  /** How long a service's certificate is valid (days): short, so a stolen one is soon worthless. */
  readonly leafValidityDays: number;
  /** A service's certificate is reissued when it expires within this many days (rotation before expiry). */
  readonly leafRenewBeforeDays: number;
  /**
   * How far before "now" a new certificate's notBefore is set (seconds), so that a peer whose clock
   * is a little behind does not see it as not yet valid.
   */
  readonly notBeforeBackdateSeconds: number;
  /**
   * How long the current CA's proof that another CA of the folder belongs to
   * its rotation (`ca.next.proof.json`, `ca.previous.proof.json`: ./ca-proof.ts)
   * is valid (days), never past either CA's notAfter: the time an operator has
   * from `begin` to `switch`, and how long after `switch` the previous CA is
   * trusted. At least `leafValidityDays`, so that every certificate the
   * previous CA issued before the switch expires before its proof does.
   */
  readonly caProofValidityDays: number;
}

export const defaultPkiLimits: PkiLimits = Object.freeze({
  caValidityDays: 3_650,
  leafValidityDays: 90,
  leafRenewBeforeDays: 30,
  notBeforeBackdateSeconds: 300,
  caProofValidityDays: 365,
});

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`pki: ${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

export function createPkiLimits(overrides: Partial<PkiLimits> = {}): PkiLimits {
  const limits = { ...defaultPkiLimits, ...overrides };
  checkInteger('caValidityDays', limits.caValidityDays, 1, 36_500);
  checkInteger('leafValidityDays', limits.leafValidityDays, 1, 825);
  checkInteger('leafRenewBeforeDays', limits.leafRenewBeforeDays, 0, limits.leafValidityDays - 1);
  checkInteger('notBeforeBackdateSeconds', limits.notBeforeBackdateSeconds, 0, 86_400);
  checkInteger('caProofValidityDays', limits.caProofValidityDays, 1, 36_500);
  if (limits.leafValidityDays > limits.caValidityDays) {
    throw new RangeError('pki: leafValidityDays must not exceed caValidityDays');
  }
  if (limits.caProofValidityDays < limits.leafValidityDays) {
    throw new RangeError('pki: caProofValidityDays must be at least leafValidityDays');
  }
  return Object.freeze({
    caValidityDays: limits.caValidityDays,
    leafValidityDays: limits.leafValidityDays,
    leafRenewBeforeDays: limits.leafRenewBeforeDays,
    notBeforeBackdateSeconds: limits.notBeforeBackdateSeconds,
    caProofValidityDays: limits.caProofValidityDays,
  });
}

export const dayMs = 86_400_000;
