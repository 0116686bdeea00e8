import { authenticatorCode } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useNow } from './now.ts';

/** The TOTP period of the authenticator (otpauth `period`, 30 s when absent). */
function periodSecondsOf(authenticator: string): number {
  const match = /[?&]period=(\d{1,3})(?:&|$)/.exec(authenticator);
  const seconds = match === null ? 30 : Number(match[1]);
  return seconds >= 1 ? seconds : 30;
}

/**
 * The customer's authenticator, as an authenticator app shows it: the
 * current one-time code and how long it stays. The secret came from the bank
 * at enrolment, sealed to this device, and is kept apart from the keystore;
 * the code itself goes to the bank sealed inside the signed confirmation.
 */
export function AuthenticatorCode(props: {
  readonly authenticator: string;
  readonly onUse?: (code: string) => void;
}): JSX.Element {
  const now = useNow();
  const code = authenticatorCode(props.authenticator, now);
  const period = periodSecondsOf(props.authenticator);
  const secondsLeft = period - (Math.floor(now.getTime() / 1000) % period);
  const spaced = code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
  return (
    <aside class="ims-authenticator" aria-label="Your authenticator">
      <p class="muted">Your authenticator (on this phone) shows:</p>
      <p class="ims-authenticator-code" data-testid="authenticator-code" data-code={code}>
        {spaced}
      </p>
      <p class="muted">Changes in {secondsLeft} s.</p>
      {props.onUse === undefined ? null : (
        <button type="button" class="button button-secondary" onClick={() => props.onUse?.(code)}>
          Use this code
        </button>
      )}
    </aside>
  );
}
