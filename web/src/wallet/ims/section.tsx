import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Busy, ErrorNotice } from '../../ui/components.tsx';
import { AuthenticatorSetupScreen } from './authenticator.tsx';
import { EnrolScreen } from './enrol-screen.tsx';
import { ForgetButton } from './forget-button.tsx';
import { forgetDevice, readDevice, type StoredDevice, takeLegacyAuthenticator } from './store.ts';
import type { LockReason } from './unlock-screen.tsx';
import { WalletScreen } from './wallet-screen.tsx';
import './ims.css';

type Loaded =
  | { readonly kind: 'loading' }
  | { readonly kind: 'none' }
  | { readonly kind: 'device'; readonly device: StoredDevice; readonly firstLock: LockReason }
  /** The second factor the bank gave, shown once for an authenticator app before the wallet opens. */
  | {
      readonly kind: 'authenticator';
      readonly uri: string;
      readonly device: StoredDevice;
      readonly firstLock: LockReason;
    }
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
    const load = async (): Promise<Loaded> => {
      // A secret an earlier version of this page kept: out of IndexedDB now, shown once to move it to an app.
      const legacy = await takeLegacyAuthenticator();
      const device = await readDevice();
      if (device === undefined) return { kind: 'none' };
      return legacy === undefined
        ? { kind: 'device', device, firstLock: 'start' }
        : { kind: 'authenticator', uri: legacy, device, firstLock: 'start' };
    };
    load().then(setLoaded, (error: unknown) => setLoaded({ kind: 'failed', error }));
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
          onEnrolled={({ device, authenticator }) =>
            setLoaded(
              authenticator === undefined
                ? { kind: 'device', device, firstLock: 'enrolled' }
                : { kind: 'authenticator', uri: authenticator, device, firstLock: 'enrolled' },
            )
          }
        />
      );
    case 'authenticator':
      return (
        <AuthenticatorSetupScreen
          uri={loaded.uri}
          // The key lives in this screen's state only: going on drops it.
          onAdded={() => setLoaded({ kind: 'device', device: loaded.device, firstLock: loaded.firstLock })}
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
