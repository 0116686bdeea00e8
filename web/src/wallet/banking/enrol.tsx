import {
  isBankingUserId,
  isMpayError,
  isMsisdn,
  isPhoneId,
  isSimSerial,
  type ParsedPartyId,
  parsePartyId,
} from '@mpay/protocol';
import {
  BankingKeyManager,
  type BankingKeyState,
  bankingPasswordLengthMax,
  bankingPasswordLengthMin,
  fetchBankTrust,
} from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice, Select } from '../../ui/components.tsx';
import { shortId } from '../../ui/format.ts';
import { AuthenticatorKey } from '../ims/authenticator.tsx';
import { type BankingPhone, bankUrlOf, madeUpImei, madeUpSim, newDeviceId, phoneOf } from './phone.ts';
import { IndexedDbBankingKeyStore, writeDevice } from './store.ts';

/**
 * Enrolment (seed 003 §4.3, README "Mobile banking"): the bank's operator
 * enabled the customer and gave an enrolment code. This phone then
 *   1. generates its two key pairs (ES256, ECDH-ES P-256) with WebCrypto and
 *      sends only the public keys with the code and a proof of possession
 *      (`BankingKeyManager.enrol`); the private keys are stored
 *      non-extractable in IndexedDB;
 *   2. registers its ID_C (SIM ICCID, IMEI, account) signed by the new key
 *      (`registerDevice`);
 *   3. registers the customer's password by OPAQUE (`registerPassword`): the
 *      bank never sees it.
 * A step that failed is taken up again from where it stopped (the keys
 * stay): the form then asks only for what is still missing.
 */

const digitsOnly = (text: string) => text.replace(/[\s-]/g, '');

interface EnrolInput {
  partyId: string;
  code: string;
  userId: string;
  msisdn: string;
  sim: string;
  imei: string;
  accountId: string;
  password: string;
  repeat: string;
}

type Step = 'keys' | 'device' | 'password';

/** What the form still has to do, from what the phone holds. */
function stepsFor(state: BankingKeyState | undefined, phone: BankingPhone | undefined): readonly Step[] {
  if (state === undefined || phone === undefined) return ['keys', 'device', 'password'];
  if (state.registration === undefined) return ['device', 'password'];
  return ['password'];
}

function partyOf(text: string): Extract<ParsedPartyId, { kind: 'person' | 'merchant' }> | undefined {
  try {
    const party = parsePartyId(text.trim());
    return party.kind === 'person' || party.kind === 'merchant' ? party : undefined;
  } catch {
    return undefined;
  }
}

/** The first thing wrong with what was typed, said plainly (nothing is sent until it is right). */
function problemOf(input: EnrolInput, steps: readonly Step[], config: WebConfig): string | undefined {
  if (steps.includes('keys')) {
    const party = partyOf(input.partyId);
    if (party === undefined) return 'The customer id is not one: it looks like name@person.bank.';
    if (!config.banks.some((bank) => bank.id === party.bank))
      return `${party.bank} is not a bank of this platform.`;
    if (input.code.trim() === '') return 'Type the enrolment code your bank gave you.';
  }
  if (steps.includes('device')) {
    if (!isBankingUserId(input.userId.trim()))
      return 'The user id is 3 to 64 lower-case letters, digits, dots, dashes or underscores.';
    if (!isMsisdn(digitsOnly(input.msisdn)))
      return 'The phone number is written with its country code, e.g. +38970123456.';
    if (!isSimSerial(digitsOnly(input.sim)))
      return 'The SIM card number (ICCID) is 18 to 20 digits starting 89, and its last digit must check.';
    if (!isPhoneId(digitsOnly(input.imei)))
      return 'The IMEI is 15 digits, and its last digit must check (dial *#06# to see it).';
  }
  if (steps.includes('password')) {
    if (input.password.length < bankingPasswordLengthMin || input.password.length > bankingPasswordLengthMax)
      return `Choose a password of at least ${bankingPasswordLengthMin} characters.`;
    if (input.password !== input.repeat) return 'The two passwords differ.';
  }
  return undefined;
}

/** The customer's second factor (an otpauth URI) the bank gives with the first device: shown (QR code and text), never kept. */
export function AuthenticatorNotice(props: { readonly uri: string }): JSX.Element {
  return (
    <Notice tone="warn">
      <p>
        Your bank also gave this phone your second factor for large payments (it gives it once). Add it to an
        authenticator app now; it is not kept here.
      </p>
      <AuthenticatorKey uri={props.uri} />
    </Notice>
  );
}

export function EnrolScreen(props: {
  readonly config: WebConfig;
  /** Set when the keys are made already and the registration stopped half-way. */
  readonly phone?: BankingPhone | undefined;
  readonly state?: BankingKeyState | undefined;
  readonly onDone: (notice: string, authenticator?: string) => void;
}): JSX.Element {
  const { config } = props;
  // What this phone holds so far: a step that failed is taken up from here, the rest not done again.
  const [made, setMade] = useState<{ phone: BankingPhone; state: BankingKeyState } | undefined>(
    props.phone === undefined || props.state === undefined
      ? undefined
      : { phone: props.phone, state: props.state },
  );
  const steps = stepsFor(made?.state, made?.phone);
  const [input, setInput] = useState<EnrolInput>({
    partyId: props.phone?.device.partyId ?? '',
    code: '',
    userId: props.state?.registration?.userId ?? '',
    msisdn: props.phone?.device.msisdn ?? '',
    sim: '',
    imei: '',
    accountId: props.state?.current.accounts[0] ?? '',
    password: '',
    repeat: '',
  });
  const [problem, setProblem] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState<string | undefined>();
  // Given once by the bank with the first device's enrolment: shown even if a later step fails.
  const [given, setGiven] = useState<string | undefined>();
  const set = (name: keyof EnrolInput) => (value: string) => {
    setProblem(undefined);
    setInput((old) => ({ ...old, [name]: value }));
  };
  const party = partyOf(input.partyId);

  const submit = async () => {
    setError(undefined);
    const wrong = problemOf(input, steps, config);
    setProblem(wrong);
    if (wrong !== undefined) return;
    try {
      let phone = made?.phone;
      let state = made?.state;
      let authenticator = given;
      const msisdn = digitsOnly(input.msisdn);
      if (steps.includes('keys')) {
        const customer = partyOf(input.partyId);
        if (customer === undefined) throw new Error('assertion failed: the form checked the customer id');
        setBusy(`Making this phone's keys and enrolling them at ${customer.bank}…`);
        const bankUrl = bankUrlOf(config, customer.bank);
        // Pinned here, once: every later answer of the bank is checked under these keys.
        const trust = await fetchBankTrust(bankUrl);
        if (trust.id !== customer.bank) throw new Error(`the bank at ${bankUrl} says it is ${trust.id}`);
        const device = {
          bank: { id: trust.id, keys: trust.keys, encryptionJwk: trust.encryptionJwk },
          partyId: customer.id,
          msisdn,
          deviceId: newDeviceId(),
          passwordRegistered: false,
        };
        // Written first: keys are never kept without the bank they belong to (until they exist, it is not read).
        await writeDevice(device);
        const enrolled = await BankingKeyManager.enrol({
          invitation: { bankUrl, bankId: trust.id, partyId: customer.id, code: input.code.trim() },
          deviceId: device.deviceId,
          bank: trust,
          store: new IndexedDbBankingKeyStore(),
        });
        phone = phoneOf(config, device);
        state = await phone.keys.state();
        setMade({ phone, state });
        authenticator = enrolled.authenticator;
        setGiven(authenticator);
        if (state.current.accounts.length > 1) {
          // The customer picks the account for banking in the next form.
          props.onDone('This phone is enrolled. Choose the account it banks with.', authenticator);
          return;
        }
      }
      if (phone === undefined || state === undefined) throw new Error('assertion failed: enrolled');
      if (steps.includes('device')) {
        setBusy('Registering this phone (its ID_C) for mobile banking…');
        phone = { ...phone, device: { ...phone.device, msisdn } };
        await writeDevice(phone.device);
        const accountId = input.accountId || state.current.accounts[0] || '';
        await phone.client.registerDevice(
          { sim: digitsOnly(input.sim), phoneId: digitsOnly(input.imei), accountId },
          input.userId.trim(),
        );
        state = await phone.keys.state();
        setMade({ phone, state });
      }
      const userId = state.registration?.userId;
      if (userId === undefined) throw new Error('assertion failed: registered');
      setBusy('Registering your password (OPAQUE: the bank never sees it)…');
      let notice = 'This phone is ready for mobile banking. Log in with every factor.';
      try {
        await phone.client.registerPassword(userId, input.password);
      } catch (failure) {
        // A customer's second device: the password is the customer's, registered with the first.
        if (!isMpayError(failure, 'BANKING_PASSWORD_EXISTS')) throw failure;
        notice =
          'This phone is ready. Your password was registered on another device already: log in with that one.';
      }
      await writeDevice({ ...phone.device, msisdn, passwordRegistered: true });
      props.onDone(notice, authenticator);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(undefined);
    }
  };

  const accounts = made?.state.current.accounts ?? [];
  return (
    <Card
      title={steps.includes('keys') ? 'Enrol this phone for mobile banking' : 'Finish registering this phone'}
    >
      {steps.includes('keys') ? (
        <p class="muted">
          Your bank enabled you for mobile banking and gave you your customer id, user id and a one-time
          enrolment code. This phone makes its own keys; only their public halves go to the bank.
        </p>
      ) : (
        <Facts
          items={[
            ['Bank', made?.phone.device.bank.id ?? ''],
            ['Customer', made?.phone.device.partyId ?? ''],
            ['Key', shortId(made?.state.current.serial ?? '')],
          ]}
        />
      )}
      <Form onSubmit={submit} label="Enrolment">
        {steps.includes('keys') ? (
          <>
            <Field
              label="Customer id"
              value={input.partyId}
              onInput={set('partyId')}
              hint={
                party === undefined
                  ? 'As your bank wrote it, e.g. ana@person.xbank'
                  : `Your bank: ${party.bank}`
              }
              autoComplete="username"
            />
            <Field label="Enrolment code" value={input.code} onInput={set('code')} hint="Good once" />
          </>
        ) : null}
        {steps.includes('device') ? (
          <>
            {accounts.length > 1 ? (
              <Select
                label="Account for mobile banking"
                value={input.accountId}
                onChange={set('accountId')}
                options={accounts.map((account) => ({ value: account, label: account }))}
              />
            ) : null}
            <Field
              label="User id"
              value={input.userId}
              onInput={set('userId')}
              hint="Your mobile banking user id"
            />
            <Field
              label="Phone number"
              type="tel"
              inputMode="tel"
              autoComplete="tel"
              value={input.msisdn}
              onInput={set('msisdn')}
              hint="This phone's number with its country code; the bank sends login codes to the number it registered"
            />
            <fieldset class="banking-idc">
              <legend>This phone's identifiers (ID_C)</legend>
              <p class="field-hint">
                A web page cannot read the SIM or the handset, so type them: the SIM card number (ICCID) is
                printed on the SIM and shown in Settings › About phone › SIM status; dial *#06# for the IMEI.
                The bank checks their form and binds them, with your account, to this phone's key. They are
                what you say they are: the key made in this browser is what proves the device.
              </p>
              <Field
                label="SIM card number (ICCID)"
                inputMode="numeric"
                value={input.sim}
                onInput={set('sim')}
                maxLength={24}
              />
              <Field
                label="IMEI"
                inputMode="numeric"
                value={input.imei}
                onInput={set('imei')}
                maxLength={18}
              />
              <Button
                kind="secondary"
                onClick={() => setInput((old) => ({ ...old, sim: madeUpSim(), imei: madeUpImei() }))}
              >
                Make up numbers for this browser
              </Button>
            </fieldset>
          </>
        ) : null}
        <Field
          label="Choose a password"
          type="password"
          autoComplete="new-password"
          value={input.password}
          onInput={set('password')}
          hint={`At least ${bankingPasswordLengthMin} characters. Registered by OPAQUE: the bank never sees it`}
        />
        <Field
          label="Repeat the password"
          type="password"
          autoComplete="new-password"
          value={input.repeat}
          onInput={set('repeat')}
        />
        {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
        <ErrorNotice error={error} onRetry={submit} />
        {given === undefined || error === undefined ? null : <AuthenticatorNotice uri={given} />}
        {busy === undefined ? null : <Busy label={busy} />}
        <Button type="submit" busy={busy !== undefined}>
          {steps.includes('keys') ? 'Enrol this phone' : 'Finish registration'}
        </Button>
      </Form>
    </Card>
  );
}
