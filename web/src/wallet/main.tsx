import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { loadConfig, type WebConfig } from '../config.ts';
import { Busy, ErrorNotice, Page, Tabs } from '../ui/components.tsx';
import { mount } from '../ui/mount.tsx';
import { BankingSection } from './banking/section.tsx';
import { CustodySection } from './custody/section.tsx';
import { ImsSection } from './ims/section.tsx';
import { MacroSection } from './macro/section.tsx';

/** The wallet's sections, one per way the platform lets a customer pay or bank. */
const sections = [
  { id: 'ims', label: 'Pay' },
  { id: 'custody', label: 'Custody' },
  { id: 'macro', label: 'Macro' },
  { id: 'banking', label: 'Banking' },
] as const;
type SectionId = (typeof sections)[number]['id'];

function sectionFromHash(): SectionId {
  const id = window.location.hash.replace(/^#/, '');
  return sections.find((section) => section.id === id)?.id ?? 'ims';
}

function Wallet(): JSX.Element {
  const [config, setConfig] = useState<WebConfig | undefined>();
  const [error, setError] = useState<unknown>();
  const [section, setSection] = useState<SectionId>(sectionFromHash);
  useEffect(() => {
    loadConfig().then(setConfig, setError);
    const onHash = () => setSection(sectionFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const select = (id: SectionId) => {
    window.location.hash = id;
    setSection(id);
  };
  return (
    <Page title="mpay wallet">
      <Tabs label="Wallet sections" tabs={sections} current={section} onSelect={select} />
      {error !== undefined ? <ErrorNotice error={error} /> : null}
      {config === undefined ? (
        error === undefined ? (
          <Busy label="Loading…" />
        ) : null
      ) : section === 'ims' ? (
        <ImsSection config={config} />
      ) : section === 'custody' ? (
        <CustodySection config={config} />
      ) : section === 'macro' ? (
        <MacroSection config={config} />
      ) : (
        <BankingSection config={config} />
      )}
    </Page>
  );
}

mount(Wallet);

// Installable, and the shell opens offline; payments always need the network (see /wallet/sw.js).
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/wallet/sw.js', { scope: '/wallet/' }).catch(() => undefined);
}
