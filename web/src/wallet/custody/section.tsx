import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Card } from '../../ui/components.tsx';

/** The wallet's custody section (being built). */
export function CustodySection(_props: { readonly config: WebConfig }): JSX.Element {
  return <Card title="Custody">Coming with this release.</Card>;
}
