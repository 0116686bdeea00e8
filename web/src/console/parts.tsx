import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { Busy, Button, ErrorNotice } from '../ui/components.tsx';

/** A titled region of the console: a card whose heading names it for screen readers and tests. */
export function Panel(props: {
  readonly title: string;
  readonly children: ComponentChildren;
  readonly tone?: 'default' | 'good' | 'warn' | 'bad';
  readonly actions?: ComponentChildren;
}): JSX.Element {
  const id = useId();
  return (
    <section class={`card card-${props.tone ?? 'default'} console-panel`} aria-labelledby={id}>
      <div class="console-panel-head">
        <h2 id={id}>{props.title}</h2>
        {props.actions === undefined ? null : <div class="console-panel-actions">{props.actions}</div>}
      </div>
      {props.children}
    </section>
  );
}

export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: unknown;
  readonly busy: boolean;
  reload(): void;
}

/**
 * Loads what a view shows, again on `reload()`, when `key` changes (a
 * filter) and every `refreshMs` if given; an answer that arrives after a
 * newer load started is dropped.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  options: { readonly refreshMs?: number; readonly key?: string } = {},
): Loaded<T> {
  const { refreshMs, key } = options;
  const [value, setValue] = useState<T | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => {
    generation.current += 1;
    const mine = generation.current;
    setBusy(true);
    loadRef.current().then(
      (loaded) => {
        if (mine !== generation.current) return;
        setValue(loaded);
        setError(undefined);
        setBusy(false);
      },
      (failure: unknown) => {
        if (mine !== generation.current) return;
        setError(failure);
        setBusy(false);
      },
    );
  }, []);
  useEffect(() => {
    reload();
    if (refreshMs === undefined) return undefined;
    const timer = setInterval(reload, refreshMs);
    return () => {
      clearInterval(timer);
      generation.current += 1;
    };
  }, [reload, refreshMs, key]);
  return { value, error, busy, reload };
}

/** What a view shows while loading, on failure (with a retry), or once loaded. */
export function LoadedView<T>(props: {
  readonly loaded: Loaded<T>;
  readonly label: string;
  readonly children: (value: T) => ComponentChildren;
}): JSX.Element {
  const { value, error, busy, reload } = props.loaded;
  return (
    <>
      {error === undefined ? null : <ErrorNotice error={error} onRetry={reload} />}
      {value === undefined ? busy ? <Busy label={props.label} /> : null : props.children(value)}
    </>
  );
}

export function RefreshButton(props: {
  readonly loaded: Loaded<unknown>;
  readonly label?: string;
}): JSX.Element {
  return (
    <Button kind="secondary" onClick={props.loaded.reload} busy={props.loaded.busy}>
      {props.label ?? 'Refresh'}
    </Button>
  );
}

const goodStatuses = new Set(['completed', 'delivered', 'refunded', 'partially_refunded']);
const badStatuses = new Set(['declined', 'failed', 'expired', 'cancelled', 'abandoned']);

/** A payment's public status (or an effect's state) as a coloured badge with its words. */
export function StatusBadge(props: { readonly status: string }): JSX.Element {
  const tone = goodStatuses.has(props.status) ? 'good' : badStatuses.has(props.status) ? 'bad' : 'warn';
  return <span class={`badge badge-${tone}`}>{props.status.replace(/_/g, ' ')}</span>;
}

/** An age in seconds as a person reads it: "42 s", "3 min", "2 h". */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** An instant to the millisecond, for steps a second apart: "05:34:13.482". */
export function formatInstant(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
    hour12: false,
  });
}
