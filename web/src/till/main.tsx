import { MpayError } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiUrl, loadConfig, type WebConfig } from '../config.ts';
import { Busy, Button, Card, ErrorNotice, Field, Form, Notice, Page, Tabs } from '../ui/components.tsx';
import { mount } from '../ui/mount.tsx';
import { type SaleView, TillClient } from './api.ts';
import { OrdersDesk } from './orders.tsx';
import { RefundDesk } from './refunds.tsx';
import { NewSaleForm, readCurrentSale, SaleScreen, writeCurrentSale } from './sale.tsx';
import { merchantTokenPattern, readToken, writeToken } from './session.ts';
import '../shop/shop.css';
import './till.css';

const sections = [
  { id: 'sale', label: 'Sale' },
  { id: 'refunds', label: 'Refunds' },
  { id: 'orders', label: 'Orders' },
] as const;
type SectionId = (typeof sections)[number]['id'];

function sectionFromHash(): SectionId {
  const id = window.location.hash.replace(/^#/, '');
  return sections.find((section) => section.id === id)?.id ?? 'sale';
}

/** Staff sign in with the shop's merchant token; it is checked with the shop before it is kept. */
function SignIn(props: {
  readonly config: WebConfig;
  readonly onSignedIn: (token: string) => void;
}): JSX.Element {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async () => {
    const presented = token.trim();
    setBusy(true);
    setError(undefined);
    try {
      if (!merchantTokenPattern.test(presented)) {
        throw new MpayError('AUTHENTICATION_FAILED');
      }
      await new TillClient(apiUrl(props.config, 'shop'), presented).check();
      writeToken(presented);
      props.onSignedIn(presented);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Staff sign-in">
      <Form onSubmit={() => void submit()} label="Staff sign-in">
        <Field
          label="Merchant token"
          type="password"
          value={token}
          onInput={setToken}
          autoComplete="off"
          required
          maxLength={256}
          hint="The shop's merchant token (mpay up prints where it is kept)."
        />
        <ErrorNotice error={error} onRetry={() => void submit()} />
        <Button type="submit" busy={busy}>
          Sign in
        </Button>
      </Form>
      <Notice>
        <p>
          The token is kept in this browser tab only (sessionStorage): not in a cookie, not in storage that
          outlives the tab. Closing the tab or signing out forgets it. Whoever holds it can take payments and
          give refunds as the shop.
        </p>
      </Notice>
    </Card>
  );
}

function SaleSection(props: { readonly till: TillClient; readonly currency: string }): JSX.Element {
  const [saleId, setSaleId] = useState<string | undefined>(readCurrentSale);
  const [created, setCreated] = useState<SaleView | undefined>();
  if (saleId === undefined) {
    return (
      <NewSaleForm
        till={props.till}
        currency={props.currency}
        onCreated={(sale) => {
          writeCurrentSale(sale.saleId);
          setCreated(sale);
          setSaleId(sale.saleId);
        }}
      />
    );
  }
  return (
    <SaleScreen
      key={saleId}
      till={props.till}
      saleId={saleId}
      initial={created?.saleId === saleId ? created : undefined}
      onNewSale={() => {
        writeCurrentSale(undefined);
        setCreated(undefined);
        setSaleId(undefined);
      }}
    />
  );
}

/**
 * Merkur Trade's till for the shop's staff, on a tablet or a phone (iMS
 * §2.2, m-trade): enter an amount, show the code the shop signs, watch the
 * customer claim and pay it, print the receipt; refund; ship the shop's
 * orders.
 */
function Till(): JSX.Element {
  const [config, setConfig] = useState<WebConfig | undefined>();
  const [error, setError] = useState<unknown>();
  const [token, setToken] = useState<string | undefined>(readToken);
  const [section, setSection] = useState<SectionId>(sectionFromHash);
  useEffect(() => {
    loadConfig().then(setConfig, setError);
    const onHash = () => setSection(sectionFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const till = useMemo(
    () =>
      config === undefined || token === undefined ? undefined : new TillClient(apiUrl(config, 'shop'), token),
    [config, token],
  );
  const signOut = () => {
    writeToken(undefined);
    writeCurrentSale(undefined);
    setToken(undefined);
  };
  const select = (id: SectionId) => {
    window.location.hash = id;
    setSection(id);
  };
  return (
    <Page
      title="Merkur Trade till"
      owner="Staff only"
      actions={
        till === undefined ? undefined : (
          <Button kind="secondary" onClick={signOut}>
            Sign out
          </Button>
        )
      }
    >
      {error !== undefined ? <ErrorNotice error={error} /> : null}
      {config === undefined ? (
        error === undefined ? (
          <Busy label="Loading…" />
        ) : null
      ) : till === undefined ? (
        <SignIn config={config} onSignedIn={setToken} />
      ) : (
        <>
          <Tabs label="Till sections" tabs={sections} current={section} onSelect={select} />
          {section === 'sale' ? (
            <SaleSection till={till} currency={config.currency} />
          ) : section === 'refunds' ? (
            <RefundDesk till={till} />
          ) : (
            <OrdersDesk till={till} />
          )}
        </>
      )}
    </Page>
  );
}

mount(Till);
