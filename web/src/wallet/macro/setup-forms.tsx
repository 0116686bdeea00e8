import { MpayError, macroMpinPattern } from '@mpay/protocol';
import {
  createMacroDeviceSecret,
  fetchFspTrust,
  MacroClient,
  type PreparedMacroRegistration,
} from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { apiUrl, type WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Facts, Field, Form, Notice, Select } from '../../ui/components.tsx';
import { PartyId } from '../custody/party-id.tsx';
import { enrolMacroDevice } from './device.ts';
import {
  type MacroDeviceRecord,
  type MacroRegistrationRecord,
  writeDevice,
  writeRegistration,
} from './store.ts';

/** A step of the setup, numbered as the person meets them. */
function Steps(props: { readonly current: 1 | 2 | 3 }): JSX.Element {
  const names = ['Your bank', 'Register', 'Your mail'] as const;
  return (
    <ol class="macro-steps" aria-label="Setup steps">
      {names.map((name, index) => (
        <li
          key={name}
          class={index + 1 === props.current ? 'macro-step macro-step-current' : 'macro-step'}
          aria-current={index + 1 === props.current ? 'step' : undefined}
        >
          {index + 1}. {name}
        </li>
      ))}
    </ol>
  );
}

/** Setup 1: the device enrols its keys at the customer's bank with the bank's one-time code. */
export function MacroBankForm(props: {
  readonly config: WebConfig;
  readonly onEnrolled: (device: MacroDeviceRecord) => void;
}): JSX.Element {
  const { config } = props;
  const [bankId, setBankId] = useState(config.banks[0]?.id ?? '');
  const [partyId, setPartyId] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const enrol = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const device = await enrolMacroDevice(config, { bankId, partyId: partyId.trim(), code: code.trim() });
      await writeDevice(device);
      props.onEnrolled(device);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Macro-payments: set up">
      <Steps current={1} />
      <p class="muted">
        Pay larger amounts from your bank account. First this phone enrols a key at your bank (your client
        bank); the bank approves every payment with you directly.
      </p>
      <Form onSubmit={enrol} label="Enrolment at the bank">
        <Select
          label="Your bank"
          value={bankId}
          onChange={setBankId}
          options={config.banks.map((bank) => ({ value: bank.id, label: bank.name }))}
        />
        <Field
          label="Party id"
          value={partyId}
          onInput={setPartyId}
          hint="As your bank wrote it, e.g. ana.kovac@person.xbank"
          required
          maxLength={256}
        />
        <Field
          label="Enrolment code"
          value={code}
          onInput={setCode}
          hint="The one-time code from your bank"
          required
          maxLength={128}
        />
        <ErrorNotice error={error} />
        <Button type="submit" busy={busy}>
          Enrol this phone
        </Button>
      </Form>
    </Card>
  );
}

/**
 * Setup 2, seed 002 §3: "When the client registers to the server, MPASP
 * server collects personal details and bank account information. Also, the
 * server gets the answer for secret question from the client." The SDK signs
 * the registration with the bound key and seals it, with the answer, to the
 * MPASP. The prepared request is kept: "Try again" after a lost connection
 * sends the same bytes under the same idempotency key.
 */
export function MacroRegisterForm(props: {
  readonly config: WebConfig;
  readonly device: MacroDeviceRecord;
  readonly onRegistered: (registration: MacroRegistrationRecord) => void;
}): JSX.Element {
  const { config, device } = props;
  const [name, setName] = useState('');
  const [msisdn, setMsisdn] = useState('');
  const [email, setEmail] = useState('');
  const [secretQuestion, setSecretQuestion] = useState('');
  const [secretAnswer, setSecretAnswer] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [pending, setPending] = useState<
    { prepared: PreparedMacroRegistration; client: MacroClient; record: MacroRegistrationRecord } | undefined
  >();

  const send = async (attempt: NonNullable<typeof pending>) => {
    const registered = await attempt.client.sendRegistration(attempt.prepared);
    const record: MacroRegistrationRecord = {
      ...attempt.record,
      mailedTo: registered.mailedTo,
      registeredAt: new Date().toISOString(),
    };
    await writeRegistration(record);
    props.onRegistered(record);
  };

  const register = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (pending !== undefined) {
        await send(pending);
        return;
      }
      const fsp = await fetchFspTrust(apiUrl(config, 'gateway'));
      // The deployment names the MPASP: keys that answer under another name are not its keys.
      if (fsp.id !== config.fspId) throw new MpayError('KEY_UNKNOWN', fsp.id);
      const deviceSecret = createMacroDeviceSecret();
      const client = new MacroClient({ gatewayUrl: apiUrl(config, 'gateway'), fsp, deviceSecret });
      const prepared = await client.prepareRegistration({
        binding: device.binding,
        signingKey: device.signingKey,
        partyId: device.partyId,
        msisdn: msisdn.trim(),
        email: email.trim(),
        name,
        secretQuestion,
        secretAnswer,
      });
      const record: MacroRegistrationRecord = {
        deviceSecret,
        fsp,
        name: prepared.registration.name,
        msisdn: prepared.registration.msisdn,
        email: prepared.registration.email,
        secretQuestion: prepared.registration.secretQuestion,
      };
      // The device secret is kept before it is sent: a registration the MPASP took is never orphaned.
      await writeRegistration(record);
      const attempt = { prepared, client, record };
      setPending(attempt);
      await send(attempt);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const edit = (set: (value: string) => void) => (value: string) => {
    // A changed form is a new registration: the prepared one is dropped.
    setPending(undefined);
    set(value);
  };

  return (
    <Card title="Register for macro-payments">
      <Steps current={2} />
      <Facts
        items={[
          ['Bank', device.bankId],
          ['Party', <PartyId id={device.partyId} />],
        ]}
      />
      <p class="muted">
        The MPASP ({config.fspId}) mails you a client id and an mPIN. Each payment asks your secret question.
      </p>
      <Form onSubmit={register} label="Registration at the MPASP">
        <Field label="Your name" value={name} onInput={edit(setName)} required maxLength={100} />
        <Field
          label="Mobile number"
          type="tel"
          inputMode="tel"
          autoComplete="tel"
          value={msisdn}
          onInput={edit(setMsisdn)}
          hint="With the country code, e.g. +38970111222"
          required
          maxLength={16}
        />
        <Field
          label="E-mail"
          type="email"
          inputMode="email"
          autoComplete="email"
          value={email}
          onInput={edit(setEmail)}
          hint="Your client id and mPIN are sent here"
          required
          maxLength={254}
        />
        <Field
          label="Secret question"
          value={secretQuestion}
          onInput={edit(setSecretQuestion)}
          hint="Asked at every payment, e.g. Name of your first teacher?"
          required
          maxLength={256}
        />
        <Field
          label="Secret answer"
          type="password"
          value={secretAnswer}
          onInput={edit(setSecretAnswer)}
          hint="Only the MPASP can check it; it keeps no copy in clear"
          required
          maxLength={256}
        />
        <ErrorNotice error={error} onRetry={pending === undefined ? undefined : register} />
        <Button type="submit" busy={busy}>
          Register
        </Button>
      </Form>
    </Card>
  );
}

/**
 * Setup 3: "the server sends client id and mPIN to the respective client mail
 * via Internet". The person types both from the mail; an mPIN login at the
 * MPASP (OPAQUE, counted) proves them and the MPASP (§5.1.1) before the client
 * id is kept. The mPIN itself is never stored.
 */
export function MacroMailForm(props: {
  readonly config: WebConfig;
  readonly registration: MacroRegistrationRecord;
  readonly onConfirmed: (registration: MacroRegistrationRecord) => void;
}): JSX.Element {
  const { config, registration } = props;
  const [clientId, setClientId] = useState('');
  const [mPin, setMpin] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const client = new MacroClient({
        gatewayUrl: apiUrl(config, 'gateway'),
        fsp: registration.fsp,
        deviceSecret: registration.deviceSecret,
      });
      const channel = await client.openChannel(clientId.trim(), mPin.trim());
      const record: MacroRegistrationRecord = { ...registration, clientId: channel.clientId };
      await writeRegistration(record);
      props.onConfirmed(record);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
      setMpin('');
    }
  };

  return (
    <Card title="Check your mail">
      <Steps current={3} />
      <Notice tone="good">
        Registered. The MPASP mailed your client id and mPIN to <strong>{registration.mailedTo}</strong>.
      </Notice>
      <Form onSubmit={confirm} label="Client id and mPIN from the mail">
        <Field
          label="Client id"
          value={clientId}
          onInput={setClientId}
          hint="From the mail, e.g. C123456789012.xbank"
          required
          maxLength={64}
        />
        <Field
          label="mPIN"
          type="password"
          inputMode="numeric"
          value={mPin}
          onInput={setMpin}
          hint="6 digits from the mail. It is checked now and never stored on this phone."
          required
          maxLength={6}
          pattern={macroMpinPattern.source.replace(/^\^|\$$/g, '')}
        />
        <ErrorNotice error={error} />
        <Button type="submit" busy={busy}>
          Check and continue
        </Button>
      </Form>
    </Card>
  );
}
