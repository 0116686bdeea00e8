import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Busy, ErrorNotice } from '../../ui/components.tsx';
import { CustodyEnrolForm } from './enrol-form.tsx';
import { type CustodySetupRecord, readSetup } from './store.ts';
import { CustodyWalletView } from './wallet-view.tsx';
import './custody.css';

/**
 * The wallet's custody section (iMS §5): for a customer whose key is in
 * custody's HSM. First the enrolment (the bank's code and a PIN), then the
 * live requests, answered with the PIN only.
 */
export function CustodySection(props: { readonly config: WebConfig }): JSX.Element {
  const [setup, setSetup] = useState<CustodySetupRecord | null | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    readSetup().then((stored) => setSetup(stored ?? null), setError);
  }, []);
  if (error !== undefined) return <ErrorNotice error={error} />;
  if (setup === undefined) return <Busy label="Opening custody…" />;
  if (setup === null) return <CustodyEnrolForm config={props.config} onEnrolled={setSetup} />;
  return <CustodyWalletView config={props.config} setup={setup} />;
}
