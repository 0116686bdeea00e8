import type { Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Field, Form, Notice } from '../../ui/components.tsx';
import { pinProblemOf, sessionPinTriesMax, wrongPinText } from './pin.ts';
import type { StoredDevice } from './store.ts';

/** Why the wallet shows its lock screen. */
export type LockReason = 'start' | 'wrong-pins' | 'by-customer' | 'enrolled' | 'connection';

const lockNotices: Readonly<
  Record<Exclude<LockReason, 'start'>, { tone: 'good' | 'warn' | 'bad'; text: string }>
> = {
  enrolled: { tone: 'good', text: 'This phone is set up. Unlock the wallet with your new PIN.' },
  'by-customer': { tone: 'good', text: 'Locked. The keys are gone from memory until you unlock again.' },
  'wrong-pins': {
    tone: 'bad',
    text: `Wallet locked after ${sessionPinTriesMax} wrong PINs in a row. Nothing was signed. Unlocking again asks your bank's PIN server, which blocks the PIN after a few more wrong ones.`,
  },
  connection: {
    tone: 'warn',
    text: 'The wallet locked itself. Unlock it to receive payment requests again.',
  },
};

/**
 * The lock screen: the PIN unlocks the wallet by a login at the bank's PIN
 * server (custody, OPAQUE): custody counts every try and gives back the key
 * that unwraps the device keys, in memory, non-extractable. It takes a moment
 * of CPU, shown as progress.
 */
export function UnlockScreen(props: {
  readonly wallet: Wallet;
  readonly device: StoredDevice;
  readonly bankName: string;
  readonly reason: LockReason;
  readonly onUnlocked: (pin: string) => void;
  readonly onBlocked: () => void;
}): JSX.Element {
  const [pin, setPin] = useState('');
  const [busy, setBusy] = useState(false);
  const [wrong, setWrong] = useState(false);
  const [error, setError] = useState<unknown>();
  const { device } = props;

  const submit = () => {
    if (busy) return;
    setBusy(true);
    setWrong(false);
    setError(undefined);
    props.wallet.unlock(pin).then(
      () => {
        setBusy(false);
        const entered = pin;
        setPin('');
        props.onUnlocked(entered);
      },
      (failure: unknown) => {
        setBusy(false);
        const problem = pinProblemOf(failure);
        if (problem?.kind === 'blocked') return props.onBlocked();
        if (problem?.kind === 'wrong') {
          setPin('');
          return setWrong(true);
        }
        // Kept for "Try again" (a lost connection): the same PIN, asked again.
        setError(failure);
      },
    );
  };

  const notice = props.reason === 'start' ? undefined : lockNotices[props.reason];
  return (
    <Card title="Unlock your wallet">
      {notice === undefined ? null : (
        <Notice tone={notice.tone} testId="lock-notice">
          {notice.text}
        </Notice>
      )}
      <Facts
        items={[
          ['Name', device.displayName],
          ['Party', <span class="mono">{device.partyId}</span>],
          ['Bank', props.bankName],
        ]}
      />
      <Form onSubmit={submit} label="Unlock">
        <Field
          label="PIN"
          value={pin}
          onInput={setPin}
          type="password"
          inputMode="numeric"
          autoComplete="off"
          maxLength={12}
          required
        />
        {wrong ? (
          <Notice tone="bad" testId="pin-error">
            {wrongPinText('custody', 0)}
          </Notice>
        ) : null}
        <ErrorNotice error={error} onRetry={submit} />
        <Button type="submit" busy={busy}>
          Unlock
        </Button>
        {busy ? <Busy label="Checking your PIN with your bank's PIN server…" /> : null}
      </Form>
    </Card>
  );
}
