import { defaultBankingLimits, isMsisdn, MpayError } from '@mpay/protocol';
import type { BankingCodePrompt, BankingKeyState, BankingSession } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice } from '../../ui/components.tsx';
import { formatTime, shortId } from '../../ui/format.ts';
import { type BankingPhone, lastFour } from './phone.ts';
import { writeDevice } from './store.ts';

/**
 * Login with every factor (seed 003 §4.2; README "Mobile banking"):
 * something known (the password, by OPAQUE: it never leaves the page),
 * something held (this phone: its signature under the key the bank bound,
 * naming its registered ID_C), the phone number (the bank sends a one-time
 * code by SMS to the number it registered; a device stating another is
 * refused) and the signature itself. `BankingClient.login` runs the three
 * steps; the page answers its `readCode` with the code the person types. A
 * wrong code is asked again while the login has tries; every refusal is the
 * bank's one BANKING_LOGIN_FAILED, whatever factor failed.
 */

interface PendingCode {
  readonly prompt: BankingCodePrompt;
  readonly answer: (code: string) => void;
  readonly cancel: () => void;
}

/** The person closed the code prompt: the login ends without a message. */
class LoginCancelled extends Error {}

export function LoginScreen(props: {
  readonly phone: BankingPhone;
  readonly state: BankingKeyState;
  /** Why the customer is here again (logged out, the session ended, the key renewed). */
  readonly notice?: string | undefined;
  readonly reason?: unknown;
  readonly onLoggedIn: (session: BankingSession) => void;
  readonly onForget: () => void;
}): JSX.Element {
  const { phone, state } = props;
  const registration = state.registration;
  const [password, setPassword] = useState('');
  const [msisdn, setMsisdn] = useState(phone.device.msisdn);
  const [code, setCode] = useState('');
  const [pending, setPending] = useState<PendingCode | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(props.reason);
  const [problem, setProblem] = useState<string | undefined>();
  const [forgetting, setForgetting] = useState(false);
  const [notice, setNotice] = useState(props.notice);
  const running = useRef(false);

  /** The SDK's readCode: shows the prompt and resolves with what the person types. */
  const readCode = (prompt: BankingCodePrompt) =>
    new Promise<string>((resolve, reject) => {
      setCode('');
      setBusy(undefined);
      setPending({
        prompt,
        answer: (typed) => {
          setPending(undefined);
          setBusy('Checking the code…');
          resolve(typed);
        },
        cancel: () => {
          setPending(undefined);
          reject(new LoginCancelled());
        },
      });
    });

  const logIn = async () => {
    if (registration === undefined || running.current) return;
    const number = msisdn.replace(/[\s-]/g, '');
    if (!isMsisdn(number)) {
      setProblem('The phone number is written with its country code, e.g. +38970123456.');
      return;
    }
    setProblem(undefined);
    setError(undefined);
    setNotice(undefined);
    running.current = true;
    setBusy('Checking your password and this phone…');
    try {
      const session = await phone.client.login({
        userId: registration.userId,
        password,
        msisdn: number,
        readCode,
      });
      if (number !== phone.device.msisdn) await writeDevice({ ...phone.device, msisdn: number });
      setPassword('');
      props.onLoggedIn(session);
    } catch (failure) {
      if (!(failure instanceof LoginCancelled)) setError(failure);
      setPassword('');
    } finally {
      running.current = false;
      setPending(undefined);
      setBusy(undefined);
    }
  };

  if (pending !== undefined) {
    const { prompt } = pending;
    const triesMax = defaultBankingLimits.codeTriesPerLoginMax;
    return (
      <Card title="Code from the SMS">
        <p>
          Your bank sent a code to <strong>{prompt.codeSentTo}</strong>. It is good until{' '}
          {formatTime(prompt.codeExpiresAt)}.
        </p>
        {prompt.attempt > 1 ? (
          <>
            {/* The bank refused the code just sent: the same generic refusal as every factor's. */}
            <ErrorNotice error={new MpayError('BANKING_LOGIN_FAILED')} />
            <p class="muted">
              Try {prompt.attempt} of {triesMax}: type the code again.
            </p>
          </>
        ) : null}
        <Form
          onSubmit={() => {
            const typed = code.replace(/\s/g, '');
            // A typo is not sent: no try of the bank is spent on it.
            if (!/^[0-9]{6,9}$/.test(typed)) setProblem('The code is the 6 to 9 digits of the SMS.');
            else {
              setProblem(undefined);
              pending.answer(typed);
            }
          }}
          label="One-time code"
        >
          <Field
            label="SMS code"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={9}
            value={code}
            onInput={setCode}
            hint="6 to 9 digits"
          />
          {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
          <div class="button-row">
            <Button type="submit">Confirm code</Button>
            <Button kind="secondary" onClick={pending.cancel}>
              Cancel
            </Button>
          </div>
        </Form>
      </Card>
    );
  }

  return (
    <>
      {notice === undefined ? null : <Notice tone="good">{notice}</Notice>}
      <Card title="Log in to mobile banking">
        <Facts
          testId="banking-login-facts"
          items={[
            ['User id', registration?.userId ?? ''],
            ['Bank', phone.device.bank.id],
            ['This phone', `${phone.device.deviceId} · key ${shortId(state.current.serial)}`],
            ...(registration === undefined
              ? []
              : ([
                  ['SIM (ICCID)', lastFour(registration.clientId.sim)],
                  ['IMEI', lastFour(registration.clientId.phoneId)],
                  ['Account', shortId(registration.clientId.accountId)],
                ] as const)),
          ]}
        />
        <Form onSubmit={logIn} label="Login">
          <Field
            label="Password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={setPassword}
          />
          <Field
            label="Phone number"
            type="tel"
            inputMode="tel"
            autoComplete="tel"
            value={msisdn}
            onInput={setMsisdn}
            hint="The code goes by SMS to the number your bank registered"
          />
          {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
          <ErrorNotice error={error} onRetry={logIn} />
          {busy === undefined ? null : <Busy label={busy} />}
          <Button type="submit" busy={busy !== undefined}>
            Log in
          </Button>
        </Form>
        <ul class="banking-factors">
          <li>Your password: checked by OPAQUE, never sent</li>
          <li>This phone: it signs with its key, which cannot leave it</li>
          <li>Your phone number: a code by SMS</li>
        </ul>
      </Card>
      <Card title="Lost access?">
        {forgetting ? (
          <>
            <Notice tone="warn">
              This removes this phone's banking keys from this browser. To bank here again you need a new
              enrolment code from your bank.
            </Notice>
            <div class="button-row">
              <Button kind="danger" onClick={props.onForget}>
                Remove the keys
              </Button>
              <Button kind="secondary" onClick={() => setForgetting(false)}>
                Keep them
              </Button>
            </div>
          </>
        ) : (
          <Button kind="secondary" onClick={() => setForgetting(true)}>
            Remove banking from this phone
          </Button>
        )}
      </Card>
    </>
  );
}
