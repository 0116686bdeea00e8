import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Busy, ErrorNotice } from '../../ui/components.tsx';
import { EnrolScreen } from './enrol-screen.tsx';
import { ForgetButton } from './forget-button.tsx';
import { forgetDevice, readDevice, type StoredDevice } from './store.ts';
import type { LockReason } from './unlock-screen.tsx';
import { WalletScreen } from './wallet-screen.tsx';
import './ims.css';

type Loaded =
  | { readonly kind: 'loading' }
  | { readonly kind: 'none' }
  | { readonly kind: 'device'; readonly device: StoredDevice; readonly firstLock: LockReason }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * The wallet's Pay section: iMS payments with this phone's own device key.
 * Not set up yet: the enrolment. Set up: the lock screen, then live payment
 * requests, paying at a till by its QR code, receipts with their public-log
 * mark, and the history.
 */
export function ImsSection(props: { readonly config: WebConfig }): JSX.Element {
  return (
    <div class="ims">
      <ImsContent config={props.config} />
    </div>
  );
}

function ImsContent(props: { readonly config: WebConfig }): JSX.Element {
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  useEffect(() => {
    readDevice().then(
      (device) =>
        setLoaded(device === undefined ? { kind: 'none' } : { kind: 'device', device, firstLock: 'start' }),
      (error: unknown) => setLoaded({ kind: 'failed', error }),
    );
  }, []);
  const forget = () => {
    forgetDevice().then(
      () => setLoaded({ kind: 'none' }),
      (error: unknown) => setLoaded({ kind: 'failed', error }),
    );
  };
  switch (loaded.kind) {
    case 'loading':
      return <Busy label="Opening the wallet…" />;
    case 'none':
      return (
        <EnrolScreen
          config={props.config}
          onEnrolled={(device) => setLoaded({ kind: 'device', device, firstLock: 'enrolled' })}
        />
      );
    case 'device':
      return (
        <WalletScreen
          key={loaded.device.deviceId}
          config={props.config}
          device={loaded.device}
          firstLock={loaded.firstLock}
          onForget={forget}
        />
      );
    case 'failed':
      return (
        <>
          <ErrorNotice error={loaded.error} />
          <ForgetButton onForget={forget} />
        </>
      );
  }
}
