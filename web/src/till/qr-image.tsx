import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { toDataURL } from 'qrcode';
import { Busy, ErrorNotice } from '../ui/components.tsx';

/**
 * The till's signed code drawn as a QR image (a PNG data URL: the page's
 * policy allows `img-src data:`). Error correction M and a quiet zone of
 * four modules, as phone cameras read best; drawn at 8 device pixels a
 * module and scaled by CSS with crisp edges.
 */
export function QrImage(props: { readonly payload: string; readonly label: string }): JSX.Element {
  const [source, setSource] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let current = true;
    setSource(undefined);
    toDataURL(props.payload, { errorCorrectionLevel: 'M', margin: 4, scale: 8 }).then(
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
  }, [props.payload]);
  if (error !== undefined) return <ErrorNotice error={error} />;
  if (source === undefined) return <Busy label="Drawing the QR code…" />;
  return <img class="qr till-qr" src={source} alt={props.label} />;
}
