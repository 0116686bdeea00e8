import type { JSX } from 'preact';
import type { WebConfig } from '../../config.ts';
import { Card } from '../../ui/components.tsx';

/** The wallet's macro section (being built). */
export function MacroSection(_props: { readonly config: WebConfig }): JSX.Element {
  return <Card title="Macro">Coming with this release.</Card>;
}
