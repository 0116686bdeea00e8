import type { ComponentChildren, JSX } from 'preact';
import { useId } from 'preact/hooks';
import { type DescribedError, describeError } from './errors.ts';

/** The frame of every page: a header with the page's name and where it belongs, then the content. */
export function Page(props: {
  readonly title: string;
  readonly owner?: string;
  readonly actions?: ComponentChildren;
  readonly children: ComponentChildren;
  readonly wide?: boolean;
}): JSX.Element {
  return (
    <div class={props.wide ? 'page page-wide' : 'page'}>
      <header class="page-header">
        <div>
          <h1>{props.title}</h1>
          {props.owner === undefined ? null : <p class="page-owner">{props.owner}</p>}
        </div>
        {props.actions === undefined ? null : <nav class="page-actions">{props.actions}</nav>}
      </header>
      <main>{props.children}</main>
    </div>
  );
}

export function Card(props: {
  readonly title?: string;
  readonly children: ComponentChildren;
  readonly tone?: 'default' | 'good' | 'warn' | 'bad';
  readonly testId?: string;
}): JSX.Element {
  return (
    <section class={`card card-${props.tone ?? 'default'}`} data-testid={props.testId}>
      {props.title === undefined ? null : <h2>{props.title}</h2>}
      {props.children}
    </section>
  );
}

export function Button(props: {
  readonly children: ComponentChildren;
  readonly onClick?: () => void;
  readonly kind?: 'primary' | 'secondary' | 'danger';
  readonly type?: 'button' | 'submit';
  readonly disabled?: boolean;
  readonly busy?: boolean;
  readonly testId?: string;
}): JSX.Element {
  return (
    <button
      type={props.type ?? 'button'}
      class={`button button-${props.kind ?? 'primary'}`}
      onClick={props.onClick}
      disabled={props.disabled === true || props.busy === true}
      aria-busy={props.busy === true}
      data-testid={props.testId}
    >
      {props.busy === true ? <span class="spinner" aria-hidden="true" /> : null}
      {props.children}
    </button>
  );
}

/** A labelled input: every control has a visible label the screen reader reads too. */
export function Field(props: {
  readonly label: string;
  readonly value: string;
  readonly onInput: (value: string) => void;
  readonly type?: 'text' | 'password' | 'tel' | 'email';
  readonly inputMode?: 'numeric' | 'decimal' | 'tel' | 'text' | 'email';
  readonly autoComplete?: string;
  readonly hint?: string;
  readonly required?: boolean;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly name?: string;
}): JSX.Element {
  const id = useId();
  const hintId = `${id}-hint`;
  const attributes = {
    id,
    name: props.name,
    inputMode: props.inputMode,
    autoComplete: props.autoComplete ?? 'off',
    value: props.value,
    required: props.required,
    maxLength: props.maxLength,
    pattern: props.pattern,
    list: undefined,
    'aria-describedby': props.hint === undefined ? undefined : hintId,
    onInput: (event: Event) => props.onInput((event.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.type === 'password' ? (
        <input type="password" {...attributes} />
      ) : (
        <input type={props.type ?? 'text'} {...attributes} />
      )}
      {props.hint === undefined ? null : (
        <p class="field-hint" id={hintId}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

/** A labelled select. */
export function Select(props: {
  readonly label: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly options: readonly { readonly value: string; readonly label: string }[];
}): JSX.Element {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        onChange={(event) => props.onChange((event.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A form whose submit never reloads the page. */
export function Form(props: {
  readonly onSubmit: () => void;
  readonly children: ComponentChildren;
  readonly label?: string;
}): JSX.Element {
  return (
    <form
      class="form"
      aria-label={props.label}
      onSubmit={(event) => {
        event.preventDefault();
        props.onSubmit();
      }}
    >
      {props.children}
    </form>
  );
}

/** An error as a person reads it: what happened, what to do, and the stable code for support. */
export function ErrorNotice(props: {
  readonly error: unknown;
  readonly onRetry?: () => void;
}): JSX.Element | null {
  if (props.error === undefined || props.error === null) return null;
  const described: DescribedError = describeError(props.error);
  return (
    <div class="notice notice-bad" role="alert" data-testid="error" data-code={described.code}>
      <strong>{described.title}</strong>
      <p>{described.advice}</p>
      <p class="notice-code">Code: {described.code}</p>
      {props.onRetry !== undefined && described.retryable ? (
        <Button kind="secondary" onClick={props.onRetry} testId="retry">
          Try again
        </Button>
      ) : null}
    </div>
  );
}

export function Notice(props: {
  readonly tone?: 'info' | 'good' | 'warn' | 'bad';
  readonly children: ComponentChildren;
  readonly testId?: string;
}): JSX.Element {
  const tone = props.tone ?? 'info';
  return (
    <div
      class={`notice notice-${tone}`}
      role={tone === 'bad' || tone === 'warn' ? 'alert' : 'status'}
      data-testid={props.testId}
    >
      {props.children}
    </div>
  );
}

/** Shown while something slow runs (a PIN login, a proof check). */
export function Busy(props: { readonly label: string }): JSX.Element {
  return (
    <p class="busy" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {props.label}
    </p>
  );
}

/** A term and its value in a list of facts (a payment's payee, amount, level). */
export function Facts(props: {
  readonly items: readonly (readonly [string, ComponentChildren])[];
  readonly testId?: string;
}): JSX.Element {
  return (
    <dl class="facts" data-testid={props.testId}>
      {props.items.map(([term, value]) => (
        <div key={term} class="fact">
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Tabs as a row of buttons; the current one is pressed. */
export function Tabs<T extends string>(props: {
  readonly label: string;
  readonly tabs: readonly { readonly id: T; readonly label: string }[];
  readonly current: T;
  readonly onSelect: (id: T) => void;
}): JSX.Element {
  return (
    <nav class="tabs" aria-label={props.label}>
      {props.tabs.map((tab) => (
        <button
          key={tab.id}
          type="button"
          class={tab.id === props.current ? 'tab tab-current' : 'tab'}
          aria-current={tab.id === props.current ? 'page' : undefined}
          onClick={() => props.onSelect(tab.id)}
        >
          {tab.label}
        </button>
      ))}
    </nav>
  );
}
