import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button } from '../../ui/components.tsx';

/** Removing the wallet from the phone, in two steps: it deletes the keys, and only the bank can give new ones. */
export function ForgetButton(props: { readonly onForget: () => void }): JSX.Element {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <Button kind="danger" onClick={() => setAsking(true)}>
        Remove this wallet from the phone
      </Button>
    );
  return (
    <div class="notice notice-warn" role="alert">
      <strong>Delete this phone's keys?</strong>
      <p>To pay with this phone again you need a new enrolment code from your bank.</p>
      <div class="button-row">
        <Button kind="danger" onClick={props.onForget}>
          Delete the keys
        </Button>
        <Button kind="secondary" onClick={() => setAsking(false)}>
          Keep them
        </Button>
      </div>
    </div>
  );
}
