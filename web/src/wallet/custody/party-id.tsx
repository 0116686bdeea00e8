import type { JSX } from 'preact';

/**
 * A party id (`mila.novak@person.xbank`) in a narrow column: it may break
 * after the `@` and the dots of its domain, not in the middle of a name.
 */
export function PartyId(props: { readonly id: string }): JSX.Element {
  const at = props.id.lastIndexOf('@');
  if (at < 0) return <span class="mono">{props.id}</span>;
  const domain = props.id.slice(at + 1).split('.');
  return (
    <span class="mono">
      {props.id.slice(0, at + 1)}
      <wbr />
      {domain.map((part, index) => (
        <span key={index}>
          {index === 0 ? '' : '.'}
          {index === 0 ? null : <wbr />}
          {part}
        </span>
      ))}
    </span>
  );
}
