import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Button, Card, ErrorNotice, Field, Form, Notice, Select } from '../../ui/components.tsx';
import {
  type EnrolledPhone,
  type EnrolmentProgress,
  type EnrolmentStep,
  enrolmentSteps,
  enrolThisPhone,
} from './enrol.ts';

/**
 * Setting up this phone: the customer's name, party id and bank, the one-time
 * enrolment code the bank gave them, and a new PIN (twice). Shows each step
 * while it runs: the keys are made here, the PIN's registration takes CPU.
 */
export function EnrolScreen(props: {
  readonly config: WebConfig;
  readonly onEnrolled: (enrolled: EnrolledPhone) => void;
}): JSX.Element {
  const { config } = props;
  const [displayName, setDisplayName] = useState('');
  const [partyId, setPartyId] = useState('');
  const [bankId, setBankId] = useState(config.banks[0]?.id ?? '');
  const [code, setCode] = useState('');
  const [pin, setPin] = useState('');
  const [pinAgain, setPinAgain] = useState('');
  const [step, setStep] = useState<EnrolmentStep | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const progress = useRef<EnrolmentProgress>({});
  const running = step !== undefined;

  const submit = () => {
    setError(undefined);
    setProblem(undefined);
    if (!/^[0-9]{4,12}$/.test(pin)) return setProblem('The PIN is 4 to 12 digits.');
    if (pin !== pinAgain) return setProblem('The two PINs are not the same. Type the new PIN twice.');
    setStep('keys');
    enrolThisPhone(config, { displayName, partyId, bankId, code, pin }, setStep, progress.current).then(
      (enrolled) => {
        setPin('');
        setPinAgain('');
        props.onEnrolled(enrolled);
      },
      (failure: unknown) => {
        setStep(undefined);
        setError(failure);
      },
    );
  };

  const stepIndex = enrolmentSteps.findIndex((candidate) => candidate.id === step);
  return (
    <Card title="Set up this phone">
      <p>
        Your bank gave you a one-time enrolment code. This phone makes its own keys: only their public halves
        leave it.
      </p>
      <Form onSubmit={submit} label="Set up this phone">
        <Field label="Your name" value={displayName} onInput={setDisplayName} autoComplete="name" required />
        <Field
          label="Your party id"
          value={partyId}
          onInput={setPartyId}
          type="email"
          inputMode="email"
          hint="As your bank wrote it, e.g. john.bernard@person.xbank"
          required
        />
        <Select
          label="Your bank"
          value={bankId}
          onChange={setBankId}
          options={config.banks.map((bank) => ({ value: bank.id, label: bank.name }))}
        />
        <Field label="Enrolment code" value={code} onInput={setCode} autoComplete="one-time-code" required />
        <Field
          label="New PIN"
          value={pin}
          onInput={setPin}
          type="password"
          inputMode="numeric"
          autoComplete="off"
          hint="4 to 12 digits. Your bank's PIN server checks it and blocks it after a few wrong tries."
          maxLength={12}
          required
        />
        <Field
          label="New PIN again"
          value={pinAgain}
          onInput={setPinAgain}
          type="password"
          inputMode="numeric"
          autoComplete="off"
          maxLength={12}
          required
        />
        {problem === undefined ? null : <Notice tone="bad">{problem}</Notice>}
        <ErrorNotice error={error} onRetry={submit} />
        <Button type="submit" busy={running}>
          Set up wallet
        </Button>
      </Form>
      {running ? (
        <ol class="ims-steps" aria-label="Setting up">
          {enrolmentSteps.map((candidate, index) => (
            <li
              key={candidate.id}
              class={index < stepIndex ? 'ims-step-done' : index === stepIndex ? 'ims-step-now' : 'muted'}
              aria-current={index === stepIndex ? 'step' : undefined}
            >
              {index < stepIndex ? '✓ ' : index === stepIndex ? '… ' : ''}
              {candidate.label}
            </li>
          ))}
        </ol>
      ) : null}
    </Card>
  );
}
