import type { BankingKeyState, BankingSession } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { WebConfig } from '../../config.ts';
import { Busy, ErrorNotice } from '../../ui/components.tsx';
import { formatTime, shortId } from '../../ui/format.ts';
import { AuthenticatorNotice, EnrolScreen } from './enrol.tsx';
import { LoginScreen } from './login.tsx';
import { type BankingPhone, type PhoneStage, readPhoneStage, recoverPendingRenewal } from './phone.ts';
import { SessionScreen } from './session.tsx';
import { forgetBanking } from './store.ts';
import './banking.css';

/**
 * The wallet's banking section: SA2pMP mobile banking (seed 003), the
 * customer and the bank as the two parties. The phone's side is the SDK's
 * Figure 5(A) modules, used exactly as Node code uses them; the page adds
 * the screens: enrolment, login with every factor, balance, transfers, bills,
 * the statement with each line's log receipt checked here, and devices.
 */

type View =
  | { readonly kind: 'loading' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'enrol'; readonly stage: PhoneStage }
  | {
      readonly kind: 'login';
      readonly phone: BankingPhone;
      readonly state: BankingKeyState;
      readonly notice?: string | undefined;
      readonly reason?: unknown;
      /** Remounts the login form for every new reason to be there. */
      readonly visit: number;
    }
  | {
      readonly kind: 'session';
      readonly phone: BankingPhone;
      readonly state: BankingKeyState;
      readonly session: BankingSession;
    };

let visits = 0;

export function BankingSection(props: { readonly config: WebConfig }): JSX.Element {
  const { config } = props;
  const [view, setView] = useState<View>({ kind: 'loading' });
  const [authenticator, setAuthenticator] = useState<string | undefined>();

  const load = async (notice?: string, reason?: unknown) => {
    try {
      const stage = await readPhoneStage(config);
      if (stage.stage !== 'ready') {
        setView({ kind: 'enrol', stage });
        return;
      }
      let { state } = stage;
      let recovered: string | undefined;
      if (state.pending !== undefined) {
        // A renewal whose answer never arrived: the bank may have renewed; the SDK looks for it.
        const next = await recoverPendingRenewal(stage.phone).catch(() => undefined);
        if (next !== undefined) {
          recovered = `The key renewal that was cut off is complete: key ${shortId(next.current.serial)} replaces ${shortId(state.current.serial)}.`;
          state = next;
        }
      }
      visits += 1;
      setView({
        kind: 'login',
        phone: stage.phone,
        state,
        notice: recovered ?? notice,
        reason,
        visit: visits,
      });
    } catch (error) {
      setView({ kind: 'failed', error });
    }
  };
  useEffect(() => {
    void load();
  }, []);

  switch (view.kind) {
    case 'loading':
      return <Busy label="Opening this phone's banking keys…" />;
    case 'failed':
      return <ErrorNotice error={view.error} onRetry={() => load()} />;
    case 'enrol':
      return (
        <EnrolScreen
          config={config}
          phone={view.stage.stage === 'new' ? undefined : view.stage.phone}
          state={view.stage.stage === 'new' ? undefined : view.stage.state}
          onDone={(notice, given) => {
            setAuthenticator(given);
            void load(notice);
          }}
        />
      );
    case 'login':
      return (
        <>
          {authenticator === undefined ? null : <AuthenticatorNotice uri={authenticator} />}
          <LoginScreen
            key={view.visit}
            phone={view.phone}
            state={view.state}
            notice={view.notice}
            reason={view.reason}
            onLoggedIn={(session) => {
              setAuthenticator(undefined);
              setView({ kind: 'session', phone: view.phone, state: view.state, session });
            }}
            onForget={() => {
              void forgetBanking().then(() => load());
            }}
          />
        </>
      );
    case 'session':
      return (
        <SessionScreen
          phone={view.phone}
          state={view.state}
          session={view.session}
          onSessionEnded={(error) => void load(undefined, error)}
          onLoggedOut={(logout) =>
            void load(
              logout === undefined
                ? 'Logged out on this phone. The bank did not confirm; it ends the session on its own clock.'
                : `Logged out: the bank closed the session at ${formatTime(logout.closedAt)}.`,
            )
          }
          onRenewed={(renewed, from) =>
            void load(
              `Key renewed: key ${shortId(renewed.current.serial)}, valid until ${formatTime(renewed.current.notAfter)}, replaces ${shortId(from)}. The bank closed the old key's sessions: log in again.`,
            )
          }
        />
      );
  }
}
