import { MpayError } from '@mpay/protocol';
import { enrolWithCustody, fetchCustodyTrust, fetchFspTrust, pinPattern } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { apiUrl, type WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Field, Form, Notice, Select } from '../../ui/components.tsx';
import { type CustodySetupRecord, writeSetup } from './store.ts';

/**
 * Enrolment of a custody customer (iMS §5): the person types what their bank
 * gave them (their party id and a one-time enrolment code) and chooses a PIN.
 * The SDK registers the PIN with custody by OPAQUE (the PIN never leaves the
 * phone), custody generates the customer's key in its HSM and enrols it at
 * the bank; the phone keeps only its token and custody's and the FSP's keys,
 * pinned from now on.
 */
export function CustodyEnrolForm(props: {
  readonly config: WebConfig;
  readonly onEnrolled: (setup: CustodySetupRecord) => void;
}): JSX.Element {
  const { config } = props;
  const [partyId, setPartyId] = useState('');
  const [bankId, setBankId] = useState(config.banks[0]?.id ?? '');
  const [code, setCode] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [pin, setPin] = useState('');
  const [pinAgain, setPinAgain] = useState('');
  const [mismatch, setMismatch] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const enrol = async () => {
    setError(undefined);
    setMismatch(undefined);
    if (!pinPattern.test(pin)) {
      setMismatch('The PIN is 4 to 12 digits.');
      return;
    }
    if (pin !== pinAgain) {
      setMismatch('The two PINs differ: type the same PIN twice.');
      return;
    }
    setBusy(true);
    try {
      const custodyUrl = apiUrl(config, 'custody');
      const [custody, fsp] = await Promise.all([
        fetchCustodyTrust(custodyUrl),
        fetchFspTrust(apiUrl(config, 'gateway')),
      ]);
      // The deployment names custody and the FSP: keys that answer under another name are not theirs.
      if (custody.id !== config.custodyId) throw new MpayError('CUSTODY_SOURCE_INVALID', custody.id);
      if (fsp.id !== config.fspId) throw new MpayError('KEY_UNKNOWN', fsp.id);
      const enrolment = await enrolWithCustody({
        custodyUrl,
        bankId,
        partyId: partyId.trim(),
        code: code.trim(),
        deviceId: `web-${crypto.randomUUID().slice(0, 13)}`,
        displayName: displayName.trim(),
        pin,
      });
      const setup: CustodySetupRecord = {
        enrolment,
        bankId,
        displayName: displayName.trim(),
        custody,
        fsp,
        enrolledAt: new Date().toISOString(),
      };
      await writeSetup(setup);
      props.onEnrolled(setup);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
      setPin('');
      setPinAgain('');
    }
  };

  return (
    <Card title="Set up custody">
      <p class="muted">
        Your key stays in custody's hardware security module; this phone holds none. You confirm each payment
        with your PIN only.
      </p>
      <Form onSubmit={enrol} label="Custody enrolment">
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
          hint="As your bank wrote it, e.g. mila.novak@person.xbank"
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
        <Field label="Your name" value={displayName} onInput={setDisplayName} required maxLength={100} />
        <Field
          label="Choose a PIN"
          type="password"
          inputMode="numeric"
          autoComplete="new-password"
          value={pin}
          onInput={setPin}
          hint="4 to 12 digits. Custody counts wrong PINs and blocks after five."
          required
          maxLength={12}
        />
        <Field
          label="PIN again"
          type="password"
          inputMode="numeric"
          autoComplete="new-password"
          value={pinAgain}
          onInput={setPinAgain}
          required
          maxLength={12}
        />
        {mismatch === undefined ? null : <Notice tone="warn">{mismatch}</Notice>}
        <ErrorNotice error={error} />
        <Button type="submit" busy={busy}>
          Enrol with custody
        </Button>
      </Form>
    </Card>
  );
}
