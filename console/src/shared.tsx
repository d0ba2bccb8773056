import { useCallback, useEffect, useState, type RefObject } from 'react';
import type { Session } from './api.ts';
import { SLA_LABELS, words } from './format.ts';

export type HeadingRef = RefObject<HTMLHeadingElement | null>;

/** The lead's workflow page in the Temporal UI (latest run), or nothing without a configured UI. */
export function temporalUrl(session: Session, workflowId: string): string | undefined {
  const ui = session.temporalUi;
  return ui ? `${ui.url}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}` : undefined;
}

export function TemporalLink({ session, workflowId, label }: { session: Session; workflowId: string; label?: string }) {
  const href = temporalUrl(session, workflowId);
  if (!href) return null;
  return (
    <a className="temporal-link" href={href} target="_blank" rel="noopener noreferrer">
      {label ?? 'Workflow in Temporal UI'}
      <span className="visually-hidden"> (workflow {workflowId}, opens in a new tab)</span>
    </a>
  );
}

export function SlaBadge({ state }: { state: string | null | undefined }) {
  if (!state) return <span className="muted">–</span>;
  return <span className={`badge sla-${state}`}>{SLA_LABELS[state] ?? words(state)}</span>;
}

export function StageBadge({ stage }: { stage: string }) {
  return <span className={`badge stage-${stage}`}>{words(stage)}</span>;
}

/** Loads data with `load`, again on `reload()` and every `refreshMs`; keeps the last good data on a failed refresh. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], refreshMs?: number) {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let current = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (!current) return;
        setError(e.message);
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, reload]);
  return { data, error, loading, reload };
}

export function LoadProblem({ error }: { error: string | undefined }) {
  return error ? (
    <p role="alert" className="notice error">
      {error}
    </p>
  ) : null;
}
