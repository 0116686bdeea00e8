import { type RevocationReason, revocationReasons } from '@mpay/protocol';
import type { BankingDevice, BankingRenewalNotice } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Notice, Select } from '../../ui/components.tsx';
import { formatTime, shortId } from '../../ui/format.ts';
import { useBankingAction } from './action.ts';
import type { PanelProps } from './money.tsx';
import { lastFour } from './phone.ts';

/**
 * The customer's banking devices (seed 003 §4.3): each one's key binding,
 * its masked SIM and IMEI, its state. A lost or stolen phone is revoked from
 * this one (`revoke_device`): its sessions end at once and it can no longer
 * log in or sign. This phone's key is renewed when the bank asks (its
 * renewal notice): a new pair made here, the request signed by the old key.
 */

const reasonText: Readonly<Record<RevocationReason, string>> = {
  lost: 'Lost',
  stolen: 'Stolen',
  replaced: 'Replaced by a new phone',
};

function stateBadge(device: BankingDevice): JSX.Element {
  const tone = device.state === 'active' ? 'good' : device.state === 'revoked' ? 'bad' : 'warn';
  return (
    <span class={`badge badge-${tone}`}>
      {device.state === 'active' ? 'Active' : device.state === 'revoked' ? 'Revoked' : 'Expired'}
    </span>
  );
}

function DeviceItem(props: {
  readonly device: BankingDevice;
  readonly busy: boolean;
  readonly onRevoke: (reason: RevocationReason) => void;
}): JSX.Element {
  const { device } = props;
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState<RevocationReason>('lost');
  return (
    <li class="banking-device">
      <div class="row">
        <strong>{device.deviceId}</strong>
        {stateBadge(device)}
      </div>
      {device.current ? <span class="badge">This phone</span> : null}
      <Facts
        items={[
          ['SIM', lastFour(device.sim)],
          ['IMEI', lastFour(device.phoneId)],
          ['Key', <span title={device.serial}>{shortId(device.serial)}</span>],
          ['Registered', formatTime(device.registeredAt)],
          ['Valid until', formatTime(device.notAfter)],
        ]}
      />
      {device.current || device.state !== 'active' ? null : confirming ? (
        <div class="banking-confirm">
          <Select
            label="Why revoke it?"
            value={reason}
            onChange={(value) => setReason(value as RevocationReason)}
            options={revocationReasons.map((each) => ({ value: each, label: reasonText[each] }))}
          />
          <div class="button-row">
            <Button kind="danger" busy={props.busy} onClick={() => props.onRevoke(reason)}>
              Revoke {device.deviceId}
            </Button>
            <Button kind="secondary" onClick={() => setConfirming(false)}>
              Keep it
            </Button>
          </div>
        </div>
      ) : (
        <Button kind="danger" onClick={() => setConfirming(true)}>
          Revoke this device…
        </Button>
      )}
    </li>
  );
}

export function DevicesPanel(
  props: PanelProps & {
    readonly notices: readonly BankingRenewalNotice[];
    readonly renewing: boolean;
    readonly onRenew: (notice: BankingRenewalNotice) => void;
    /** The bank's open renewal notices for this phone's key, asked again with the devices. */
    readonly onNotices: (notices: readonly BankingRenewalNotice[]) => void;
  },
): JSX.Element {
  const { phone } = props;
  const { busy, error, run } = useBankingAction(phone, props.onSessionEnded);
  const [devices, setDevices] = useState<readonly BankingDevice[] | undefined>();
  const [revoked, setRevoked] = useState<string | undefined>();
  const load = async () => {
    const listed = await run(async () => {
      const found = await phone.client.devices();
      const notices = await phone.client.renewalNotices();
      const state = await phone.keys.state();
      props.onNotices(notices.filter((notice) => notice.serial === state.current.serial));
      return found;
    });
    if (listed !== undefined) setDevices(listed);
  };
  useEffect(() => {
    void load();
  }, []);
  const revoke = async (device: BankingDevice, reason: RevocationReason) => {
    setRevoked(undefined);
    const revocation = await run(() => phone.client.revokeDevice(device.serial, reason));
    if (revocation === undefined) return;
    setRevoked(
      `${device.deviceId} is revoked (${formatTime(revocation.revokedAt)}): its sessions are closed and it can no longer log in or sign.`,
    );
    await load();
  };
  const notice = props.notices[0];
  return (
    <>
      <Card title="This phone's key">
        {notice === undefined ? (
          <p class="muted">Your bank has not asked this phone to renew its key.</p>
        ) : (
          <div class="banking-confirm">
            <Notice tone="warn">
              Your bank asks this phone to renew its key ({notice.reason}, {formatTime(notice.createdAt)}). A
              new key pair is made here; the old key signs the request and is then revoked.
            </Notice>
            <Button onClick={() => props.onRenew(notice)} busy={props.renewing}>
              Renew this phone's key
            </Button>
          </div>
        )}
      </Card>
      <Card title="Your banking devices">
        {revoked === undefined ? null : <Notice tone="good">{revoked}</Notice>}
        <ErrorNotice error={error} onRetry={load} />
        {busy && devices === undefined ? <Busy label="Asking your bank…" /> : null}
        {devices === undefined ? null : (
          <ul class="list" aria-label="Devices">
            {devices.map((device) => (
              <DeviceItem
                key={device.serial}
                device={device}
                busy={busy}
                onRevoke={(reason) => void revoke(device, reason)}
              />
            ))}
          </ul>
        )}
        <Button kind="secondary" onClick={load} busy={busy}>
          Refresh devices
        </Button>
      </Card>
    </>
  );
}
