import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { toDataURL } from 'qrcode';
import { Busy, Button, Card, ErrorNotice, Notice } from '../../ui/components.tsx';
import './ims.css';

/**
 * The customer's second factor for large payments: an otpauth Key URI the
 * bank seals to the customer's first device at enrolment (it gives it once).
 * It belongs in an authenticator app on another device: a wallet that kept
 * it would hold both factors, and anyone with the phone's storage would too.
 * So the page shows it once, as a QR code an authenticator app scans and as
 * text, and then lets it go: it is never written to IndexedDB, and when a
 * payment asks for the second factor the customer types the code the app
 * shows.
 */

/** The key drawn as a QR code (a PNG data URL: the page's policy allows `img-src data:`). */
function KeyQrImage(props: { readonly uri: string }): JSX.Element {
  const [source, setSource] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let current = true;
    toDataURL(props.uri, { errorCorrectionLevel: 'M', margin: 4, scale: 6 }).then(
      (url) => {
        if (current) setSource(url);
      },
      (caught: unknown) => {
        if (current) setError(caught);
      },
    );
    return () => {
      current = false;
    };
  }, [props.uri]);
  if (error !== undefined) return <ErrorNotice error={error} />;
  if (source === undefined) return <Busy label="Drawing the QR code…" />;
  return <img class="qr" src={source} alt="QR code of your authenticator key" />;
}

/** The key behind a toggle (no one reads it over the customer's shoulder by chance): a QR code and its text. */
export function AuthenticatorKey(props: { readonly uri: string }): JSX.Element {
  const [shown, setShown] = useState(false);
  return (
    <details
      class="authenticator-key"
      onToggle={(event) => setShown((event.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>Show the key</summary>
      {shown ? (
        <>
          <KeyQrImage uri={props.uri} />
          <p class="muted ims-small">Or type this key into the app:</p>
          <p class="mono" data-testid="authenticator-uri">
            {props.uri}
          </p>
        </>
      ) : null}
    </details>
  );
}

/**
 * Shown once, right after the enrolment that brought the key: add it to an
 * authenticator app, then "I have added it" lets it go from this phone.
 */
export function AuthenticatorSetupScreen(props: {
  readonly uri: string;
  readonly onAdded: () => void;
}): JSX.Element {
  return (
    <Card title="Add your second factor" testId="authenticator-setup">
      <p>
        Your bank gave you your second factor for large payments. It gives it only once: add it now to an
        authenticator app, on another device if you can.
      </p>
      <ol class="ims-authenticator-steps">
        <li>Open your authenticator app and add an account.</li>
        <li>Scan the QR code, or type the key.</li>
        <li>A large payment then asks for the 6-digit code the app shows.</li>
      </ol>
      <AuthenticatorKey uri={props.uri} />
      <Notice tone="warn">
        This wallet does not keep the key: a phone that held it would hold both of your factors. Once you go
        on, it is gone from here, and only your bank can give you a new one.
      </Notice>
      <Button onClick={props.onAdded}>I have added it</Button>
    </Card>
  );
}
