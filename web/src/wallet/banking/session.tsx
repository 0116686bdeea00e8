import type {
  BankingBalance,
  BankingKeyState,
  BankingLogout,
  BankingRenewalNotice,
  BankingSession,
} from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Button, Card, ErrorNotice, Notice, Tabs } from '../../ui/components.tsx';
import { formatTime } from '../../ui/format.ts';
import { useBankingAction } from './action.ts';
import { DevicesPanel } from './devices.tsx';
import { BalancePanel, BillPanel, TransferPanel } from './money.tsx';
import type { BankingPhone } from './phone.ts';
import { StatementPanel } from './statement.tsx';

/** The logged-in customer: one panel per business function, the session's end and the key's renewal. */

const panels = [
  { id: 'balance', label: 'Balance' },
  { id: 'transfer', label: 'Transfer' },
  { id: 'bills', label: 'Bills' },
  { id: 'statement', label: 'Statement' },
  { id: 'devices', label: 'Devices' },
] as const;
type PanelId = (typeof panels)[number]['id'];

export function SessionScreen(props: {
  readonly phone: BankingPhone;
  readonly state: BankingKeyState;
  readonly session: BankingSession;
  readonly onSessionEnded: (error: unknown) => void;
  readonly onLoggedOut: (logout: BankingLogout | undefined) => void;
  readonly onRenewed: (renewed: BankingKeyState, from: string) => void;
}): JSX.Element {
  const { phone, state, session, onSessionEnded } = props;
  const [panel, setPanel] = useState<PanelId>('balance');
  const [balance, setBalance] = useState<BankingBalance | undefined>();
  const [notices, setNotices] = useState<readonly BankingRenewalNotice[]>([]);
  const [loggingOut, setLoggingOut] = useState(false);
  const renewal = useBankingAction(phone, onSessionEnded);
  const noticesAction = useBankingAction(phone, onSessionEnded);

  useEffect(() => {
    // §4.3: renewal is the bank's initiative; its notices for this phone's key are asked at each login.
    void noticesAction
      .run(() => phone.client.renewalNotices())
      .then((found) => {
        if (found !== undefined) setNotices(found.filter((notice) => notice.serial === state.current.serial));
      });
  }, []);

  const renew = async (notice: BankingRenewalNotice) => {
    const renewed = await renewal.run(() => phone.client.renewKey(notice.noticeId));
    if (renewed !== undefined) props.onRenewed(renewed, state.current.serial);
  };
  const logOut = async () => {
    setLoggingOut(true);
    // Never rejects: the session is forgotten here whatever the bank answered.
    const logout = await phone.client.logout();
    props.onLoggedOut(logout);
  };
  const panelProps = { phone, onSessionEnded };
  const currency = balance?.currency ?? phone.config.currency;
  const moved = () => setBalance(undefined);

  return (
    <>
      <Card>
        <div class="row banking-who">
          <strong>{state.registration?.userId}</strong>
          <Button kind="secondary" onClick={logOut} busy={loggingOut}>
            Log out
          </Button>
        </div>
        <p class="muted banking-session">
          Logged in at {phone.device.bank.id} until {formatTime(session.expiresAt)}
        </p>
        <ErrorNotice error={noticesAction.error} />
      </Card>
      {notices.length > 0 && panel !== 'devices' ? (
        <Notice tone="warn">
          Your bank asks this phone to renew its key.{' '}
          <button type="button" class="banking-link" onClick={() => setPanel('devices')}>
            Renew it in Devices
          </button>
        </Notice>
      ) : null}
      <Tabs label="Banking" tabs={panels} current={panel} onSelect={setPanel} />
      {panel === 'balance' ? (
        <BalancePanel {...panelProps} balance={balance} onBalance={setBalance} />
      ) : panel === 'transfer' ? (
        <TransferPanel {...panelProps} currency={currency} onMoved={moved} />
      ) : panel === 'bills' ? (
        <BillPanel {...panelProps} currency={currency} onMoved={moved} />
      ) : panel === 'statement' ? (
        <StatementPanel {...panelProps} />
      ) : (
        <>
          <ErrorNotice error={renewal.error} />
          <DevicesPanel
            {...panelProps}
            notices={notices}
            renewing={renewal.busy}
            onRenew={renew}
            onNotices={setNotices}
          />
        </>
      )}
    </>
  );
}
