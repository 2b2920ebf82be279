import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ProblemError, type Problem } from './api/client';

export function toProblem(error: unknown): Problem {
  if (error instanceof ProblemError) return error.problem;
  return { title: 'Unexpected error', detail: error instanceof Error ? error.message : String(error) };
}

/** A failure as the problem's title and detail, announced to screen readers. */
export function ProblemAlert({ problem }: { problem: Problem | undefined }) {
  if (!problem) return null;
  return (
    <div class="alert alert-error" role="alert">
      <strong class="alert-title">{problem.title}</strong>
      {problem.detail ? <span class="alert-detail">{problem.detail}</span> : null}
      {problem.code ? <code class="alert-code">{problem.code}</code> : null}
    </div>
  );
}

export function Notice({ text }: { text: string | undefined }) {
  if (!text) return null;
  return (
    <div class="alert alert-ok" role="status">
      {text}
    </div>
  );
}

const TONES: Record<string, 'ok' | 'bad' | 'warn' | 'info' | 'muted'> = {
  online: 'ok',
  offline: 'bad',
  unauthorized: 'warn',
  enabled: 'ok',
  paused: 'warn',
  disabled: 'muted',
  stopped: 'bad',
  delivered: 'ok',
  accepted: 'info',
  queued: 'info',
  retrying: 'warn',
  suspended: 'warn',
  inError: 'bad',
  failed: 'bad',
  discarded: 'muted',
  error: 'bad',
  warning: 'warn',
  info: 'info',
};

/** A status in colour and in words: colour alone never carries the meaning. */
export function StatusBadge({ status }: { status: string }) {
  const tone = TONES[status] ?? 'muted';
  return (
    <span class={`badge badge-${tone}`} data-status={status}>
      <span class="badge-dot" aria-hidden="true" />
      {status}
    </span>
  );
}

const formatter = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function Time({ at, empty = '—' }: { at: string | undefined; empty?: string }) {
  if (!at) return <span class="muted">{empty}</span>;
  const date = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {Number.isNaN(date.getTime()) ? at : formatter.format(date)}
    </time>
  );
}

export function PageHeader({ title, subtitle, children }: { title: string; subtitle?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1 tabIndex={-1}>{title}</h1>
        {subtitle ? <p class="subtitle">{subtitle}</p> : null}
      </div>
      {children ? <div class="page-actions">{children}</div> : null}
    </header>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="card" aria-labelledby={id}>
      <div class="card-header">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export interface AsyncState<T> {
  data: T | undefined;
  problem: Problem | undefined;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (value: T) => void;
}

/** Loads on mount and when `deps` change; `reload` refreshes without clearing what is shown. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[], initial?: T): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(initial);
  const [problem, setProblem] = useState<Problem | undefined>();
  const [loading, setLoading] = useState(initial === undefined);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await load();
      if (mine === generation.current) {
        setData(value);
        setProblem(undefined);
      }
    } catch (error) {
      if (mine === generation.current) setProblem(toProblem(error));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    if (initial === undefined) void reload();
  }, [reload]);
  return { data, problem, loading, reload, setData };
}

/** Runs one operator action at a time and keeps its outcome for display. */
export function useAction() {
  const [busy, setBusy] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const run = useCallback(async (name: string, action: () => Promise<string | undefined>) => {
    setBusy(name);
    setProblem(undefined);
    setNotice(undefined);
    try {
      setNotice(await action());
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(undefined);
    }
  }, []);
  return {
    busy,
    problem,
    notice,
    run,
    clear: () => {
      setProblem(undefined);
      setNotice(undefined);
    },
  };
}

export function Button({
  children,
  onClick,
  busy,
  variant = 'secondary',
  disabled,
  type = 'button',
  ...rest
}: {
  children: ComponentChildren;
  onClick?: () => void;
  busy?: boolean;
  variant?: 'primary' | 'secondary' | 'danger';
  disabled?: boolean;
  type?: 'button' | 'submit';
  'aria-describedby'?: string;
}) {
  return (
    <button
      type={type}
      class={`button button-${variant}`}
      onClick={onClick}
      disabled={disabled || busy}
      aria-busy={busy ? 'true' : undefined}
      {...rest}
    >
      {children}
    </button>
  );
}

export function Field({ label, id, children, hint }: { label: string; id: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Definitions({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="definitions">
      {items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value ?? <span class="muted">—</span>}</dd>
        </div>
      ))}
    </dl>
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** "HTTP 422: …" unless the message already names the status. */
export function errorText(error: { httpStatus?: number; message: string }): string {
  if (!error.httpStatus || error.message.includes(`HTTP ${error.httpStatus}`)) return error.message;
  return `HTTP ${error.httpStatus}: ${error.message}`;
}
