import './macro.css';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Busy, ErrorNotice } from '../../ui/components.tsx';
import { MacroHome } from './home.tsx';
import { MacroBankForm, MacroMailForm, MacroRegisterForm } from './setup-forms.tsx';
import {
  type MacroDeviceRecord,
  type MacroRegistrationRecord,
  readDevice,
  readRegistration,
} from './store.ts';

/**
 * The wallet's macro section (seed 002, remote macro-payments): the device
 * enrolled at the customer's bank, the registration at the MPASP (the client
 * id and mPIN arrive by mail), then payments with the secret question and
 * the approval at the customer's bank, all on this phone.
 */
export function MacroSection(props: { readonly config: WebConfig }): JSX.Element {
  const [device, setDevice] = useState<MacroDeviceRecord | null | undefined>();
  const [registration, setRegistration] = useState<MacroRegistrationRecord | null | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    Promise.all([readDevice(), readRegistration()]).then(([storedDevice, storedRegistration]) => {
      setDevice(storedDevice ?? null);
      setRegistration(storedRegistration ?? null);
    }, setError);
  }, []);
  if (error !== undefined) return <ErrorNotice error={error} />;
  if (device === undefined || registration === undefined) return <Busy label="Opening macro-payments…" />;
  if (device === null) return <MacroBankForm config={props.config} onEnrolled={setDevice} />;
  if (registration?.mailedTo === undefined)
    return <MacroRegisterForm config={props.config} device={device} onRegistered={setRegistration} />;
  if (registration.clientId === undefined)
    return <MacroMailForm config={props.config} registration={registration} onConfirmed={setRegistration} />;
  return (
    <MacroHome
      config={props.config}
      device={device}
      registration={registration}
      clientId={registration.clientId}
    />
  );
}
