import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Card } from '../../ui/components.tsx';

/** The wallet's banking section (being built). */
export function BankingSection(_props: { readonly config: WebConfig }): JSX.Element {
  return <Card title="Banking">Coming with this release.</Card>;
}
