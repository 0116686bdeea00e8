import type { CustodyWallet, DelegateSignature } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, Card, ErrorNotice } from '../../ui/components.tsx';
import { formatTime, shortId } from '../../ui/format.ts';

/** Signatures listed at once (custody lists up to 100, newest first). */
const signaturesShownMax = 20;

/**
 * What custody signed in the customer's name with the key in its HSM, as
 * custody lists it (iMS §5: the customer can check every delegate signature),
 * with the log index once the third-party log recorded it.
 */
export function CustodySignatures(props: { readonly wallet: CustodyWallet }): JSX.Element {
  const [signatures, setSignatures] = useState<DelegateSignature[] | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const load = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setSignatures((await props.wallet.delegateSignatures()).slice(0, signaturesShownMax));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Signed in your name">
      <p class="muted">
        Every signature custody made with your key, as custody lists it, with its index in the public log.
      </p>
      <ErrorNotice error={error} onRetry={load} />
      {signatures === undefined ? null : signatures.length === 0 ? (
        <p class="muted">Custody has signed nothing in your name.</p>
      ) : (
        <ul class="list" aria-label="Signatures custody made">
          {signatures.map((signature) => (
            <li key={`${signature.paymentId}-${signature.decision}`}>
              <div class="row">
                <strong>{signature.decision === 'confirm' ? 'Confirmed' : 'Declined'}</strong>
                <span class="mono" title={signature.paymentId}>
                  {shortId(signature.paymentId)}
                </span>
              </div>
              <div class="row">
                <span class="muted">{formatTime(signature.signedAt)}</span>
                <span class="badge">
                  {signature.logIndex === null ? 'Not yet logged' : `Log index ${signature.logIndex}`}
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
      <Button kind="secondary" busy={busy} onClick={load}>
        {signatures === undefined ? 'Show signatures' : 'Refresh'}
      </Button>
    </Card>
  );
}
