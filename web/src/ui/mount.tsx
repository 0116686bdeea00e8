import { type ComponentType, render } from 'preact';
import './styles.css';

/** Renders a page's root component into `#app`. */
export function mount(Root: ComponentType): void {
  const host = document.getElementById('app');
  if (host === null) throw new Error('the page has no #app element');
  render(<Root />, host);
}
