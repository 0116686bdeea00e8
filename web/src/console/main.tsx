import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { loadConfig, type WebConfig } from '../config.ts';
import { Busy, Button, Card, ErrorNotice, Field, Form, Page, Tabs } from '../ui/components.tsx';
import { mount } from '../ui/mount.tsx';
import { consoleApi, onSignedOut, type SessionAnswer } from './api.ts';
import { BacklogsView } from './backlogs.tsx';
import { BanksView } from './banks.tsx';
import { ChartsView } from './charts.tsx';
import { CustomersView } from './customers.tsx';
import { LogView } from './log.tsx';
import { PaymentsView } from './payments.tsx';
import { SettlementView } from './settlement.tsx';
import './console.css';

/** The console's views; the URL's hash names the one shown. */
const views = [
  { id: 'payments', label: 'Payments' },
  { id: 'banks', label: 'Banks' },
  { id: 'settlement', label: 'Settlement' },
  { id: 'log', label: 'Log' },
  { id: 'backlogs', label: 'Backlogs' },
  { id: 'charts', label: 'Charts' },
  { id: 'customers', label: 'Customers' },
] as const;
type ViewId = (typeof views)[number]['id'];

function viewFromHash(): ViewId {
  const id = window.location.hash.replace(/^#/, '');
  return views.find((view) => view.id === id)?.id ?? 'payments';
}

type SessionState = 'checking' | 'signed-out' | 'signed-in';

function SignIn(props: { readonly onSignedIn: () => void }): JSX.Element {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await consoleApi.post<SessionAnswer>('/session', { token: token.trim() });
      setToken('');
      props.onSignedIn();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="console-narrow">
      <Card title="Sign in">
        <p>
          The console is for the platform's operator. Sign in with the operator token (in{' '}
          <span class="mono">&lt;data folder&gt;/keys/operator-token.json</span>).
        </p>
        <Form label="Sign in" onSubmit={() => void submit()}>
          <Field
            label="Operator token"
            type="password"
            value={token}
            onInput={setToken}
            autoComplete="current-password"
            required
            maxLength={1024}
          />
          <ErrorNotice error={error} />
          <div class="button-row">
            <Button type="submit" busy={busy}>
              Sign in
            </Button>
          </div>
        </Form>
      </Card>
    </div>
  );
}

function ConsoleView(props: { readonly config: WebConfig; readonly view: ViewId }): JSX.Element {
  switch (props.view) {
    case 'payments':
      return <PaymentsView />;
    case 'banks':
      return <BanksView />;
    case 'settlement':
      return <SettlementView />;
    case 'log':
      return <LogView config={props.config} />;
    case 'backlogs':
      return <BacklogsView />;
    case 'charts':
      return <ChartsView />;
    case 'customers':
      return <CustomersView config={props.config} />;
  }
}

/**
 * The operator console: nothing but the sign-in form until the backend has
 * a session for this browser; then payments, the banks' ledgers and
 * positions, settlement, the log, backlogs, charts and customers.
 */
function Console(): JSX.Element {
  const [config, setConfig] = useState<WebConfig | undefined>();
  const [error, setError] = useState<unknown>();
  const [session, setSession] = useState<SessionState>('checking');
  const [view, setView] = useState<ViewId>(viewFromHash);
  useEffect(() => {
    loadConfig().then(setConfig, setError);
    consoleApi.get<SessionAnswer>('/session').then(
      () => setSession('signed-in'),
      () => setSession('signed-out'),
    );
    const stopListening = onSignedOut(() => setSession('signed-out'));
    const onHash = () => setView(viewFromHash());
    window.addEventListener('hashchange', onHash);
    return () => {
      stopListening();
      window.removeEventListener('hashchange', onHash);
    };
  }, []);
  const select = (id: ViewId) => {
    window.location.hash = id;
    setView(id);
  };
  const signOut = async () => {
    await consoleApi.delete('/session').catch(() => undefined);
    setSession('signed-out');
  };
  const signedIn = session === 'signed-in' && config !== undefined;
  return (
    <Page
      title="Operator console"
      owner={config === undefined ? 'mpay' : `mpay · ${config.fspId}`}
      wide
      actions={
        signedIn ? (
          <Button kind="secondary" onClick={() => void signOut()}>
            Sign out
          </Button>
        ) : undefined
      }
    >
      {error === undefined ? null : <ErrorNotice error={error} />}
      {session === 'checking' || (config === undefined && error === undefined) ? (
        <Busy label="Loading…" />
      ) : session === 'signed-out' ? (
        <SignIn onSignedIn={() => setSession('signed-in')} />
      ) : signedIn ? (
        <>
          <Tabs label="Console views" tabs={views} current={view} onSelect={select} />
          <ConsoleView config={config} view={view} />
        </>
      ) : null}
    </Page>
  );
}

mount(Console);
