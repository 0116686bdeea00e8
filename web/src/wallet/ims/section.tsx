import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Card } from '../../ui/components.tsx';

/** The wallet's ims section (being built). */
export function ImsSection(_props: { readonly config: WebConfig }): JSX.Element {
  return <Card title="Ims">Coming with this release.</Card>;
}
