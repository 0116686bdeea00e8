import type { JSX } from 'preact';
import { Page } from '../ui/components.tsx';
import { mount } from '../ui/mount.tsx';

function App(): JSX.Element {
  return <Page title="wallet">{null}</Page>;
}

mount(App);
