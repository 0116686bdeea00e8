/**
 * The key management server's own bounds. Fixed, not options: they size work
 * per pass and per answer, not policy (the notice horizon is the banking
 * limit `renewalNoticeDays`, the new binding's validity the bank's
 * `keyBindingValidityDays`).
 */
export const keyManagementLimits = Object.freeze({
  /** Most notices one worker pass issues; the next pass takes the rest. */
  renewalNoticesPerPassMax: 100,
  /** Most devices a `devices` result lists (newest registration first); renewals add one each. */
  devicesListedMax: 50,
  /** Sends of one notice's SMS before the bank gives up on it (the notice stays open in the app). */
  smsAttemptsMax: 8,
  /** Wait before the first retry of an SMS the gateway did not take; doubled per attempt. */
  smsRetryDelaySecondsMin: 30,
  /** Longest wait between two retries of one SMS. */
  smsRetryDelaySecondsMax: 3_600,
  /** Most due notice SMS one worker pass sends (one claim each). */
  smsRetriesPerPassMax: 50,
});
