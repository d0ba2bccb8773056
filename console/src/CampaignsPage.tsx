import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, type Campaign, type CampaignSegment } from './api.ts';
import type { Signed } from './signed.ts';
import { when, words } from './format.ts';
import { LoadProblem, TemporalLink, useLoad, type HeadingRef } from './shared.tsx';

const STAGES = ['nurturing', 'sales_review', 'accepted', 'disqualified'] as const;

interface Form {
  id: string;
  sequence: string;
  stages: string[];
  scoreMin: string;
  scoreMax: string;
  attributes: string;
  inactiveFor: string;
  ratePerSecond: string;
}

/** `key=value` lines: a value that reads as JSON (20, true, "20") is that value, else the text. */
function parseAttributes(text: string): { attributes?: Record<string, string | number | boolean>; problem?: string } {
  const attributes: Record<string, string | number | boolean> = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    if (at < 1) return { problem: `"${line}" is not key=value` };
    const raw = line.slice(at + 1).trim();
    let value: string | number | boolean = raw;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean') value = parsed;
    } catch {
      // plain text
    }
    Object.defineProperty(attributes, line.slice(0, at).trim(), { value, enumerable: true, writable: true, configurable: true });
  }
  return Object.keys(attributes).length ? { attributes } : {};
}

function segmentOf(form: Form): { segment: CampaignSegment; problem?: string } {
  const { attributes, problem } = parseAttributes(form.attributes);
  const number = (text: string) => (text.trim() === '' ? undefined : Number(text));
  const segment: CampaignSegment = {
    ...(form.stages.length ? { stages: form.stages as CampaignSegment['stages'] } : {}),
    ...(number(form.scoreMin) !== undefined ? { scoreMin: number(form.scoreMin) } : {}),
    ...(number(form.scoreMax) !== undefined ? { scoreMax: number(form.scoreMax) } : {}),
    ...(attributes ? { attributes } : {}),
    ...(form.inactiveFor.trim() ? { inactiveFor: form.inactiveFor.trim() } : {}),
  };
  return { segment, ...(problem ? { problem } : {}) };
}

const problemOf = (error: unknown): string => {
  if (error instanceof ApiError && Array.isArray(error.details)) {
    return `${error.message}`.replace(/^invalid request: /, '');
  }
  return (error as Error).message;
};

/** Marketing's campaigns: a segment with its live count, the start, and every campaign's progress with cancel. */
export function CampaignsPage({ signed, heading }: { signed: Signed; heading: HeadingRef }) {
  const [form, setForm] = useState<Form>({ id: '', sequence: signed.session.sequences[0] ?? '', stages: ['nurturing'], scoreMin: '', scoreMax: '', attributes: '', inactiveFor: '', ratePerSecond: '20' });
  const [count, setCount] = useState<{ matched: number; sample: string[] } | { problem: string }>();
  const [notice, setNotice] = useState<{ text: string; error?: boolean }>();
  const [busy, setBusy] = useState(false);
  const { data: campaigns, error, reload } = useLoad(() => signed.api.campaigns(), [signed.api]);
  const running = campaigns?.some((c) => c.status === 'running');
  const { segment, problem } = segmentOf(form);
  const segmentKey = JSON.stringify(segment);

  // The live count: a dry run a moment after the segment stops changing.
  useEffect(() => {
    if (problem) {
      setCount({ problem });
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      signed.api.dryRun(JSON.parse(segmentKey) as CampaignSegment).then(
        (answer) => current && setCount(answer),
        (e: unknown) => current && setCount({ problem: problemOf(e) }),
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [signed.api, segmentKey, problem]);

  // Progress every second while a campaign runs.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, 1000);
    return () => clearInterval(timer);
  }, [running, reload]);

  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const start = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const started = await signed.api.startCampaign({ id: form.id.trim(), sequence: form.sequence, segment, ratePerSecond: Number(form.ratePerSecond) });
      setNotice({ text: `Campaign ${started.id} started: ${started.matched} ${started.matched === 1 ? 'lead matches' : 'leads match'}.` });
      reload();
    } catch (e) {
      setNotice({ text: `Not started: ${problemOf(e)}`, error: true });
    } finally {
      setBusy(false);
    }
  };
  const cancel = async (campaign: Campaign) => {
    try {
      const stopped = await signed.api.cancelCampaign(campaign.id);
      setNotice({ text: `Campaign ${stopped.id} ${stopped.status === 'cancelled' ? 'cancelled' : stopped.status}: ${stopped.enrolled} enrolled; they stay enrolled.` });
    } catch (e) {
      setNotice({ text: `Not cancelled: ${problemOf(e)}`, error: true });
    }
    reload();
  };

  return (
    <section aria-labelledby="campaigns-title">
      <div className="page-head">
        <h1 id="campaigns-title" ref={heading} tabIndex={-1}>
          Campaigns
        </h1>
      </div>
      <p className="muted">Send a segment of leads into a sequence. Leads in sales review, closed, unsubscribed or already in that sequence are skipped and counted.</p>
      {notice && (
        <p role={notice.error ? 'alert' : 'status'} className={`notice ${notice.error ? 'error' : 'success'}`}>
          {notice.text}
        </p>
      )}
      <form className="card campaign-form" onSubmit={start} aria-labelledby="new-campaign">
        <h2 id="new-campaign">New campaign</h2>
        <div className="campaign-grid">
          <div>
            <label htmlFor="c-id">Campaign id</label>
            <input id="c-id" required pattern="[A-Za-z0-9._\-]+" maxLength={100} placeholder="webinar-december" value={form.id} onChange={(e) => set({ id: e.target.value })} />
          </div>
          <div>
            <label htmlFor="c-sequence">Sequence</label>
            <select id="c-sequence" value={form.sequence} onChange={(e) => set({ sequence: e.target.value })}>
              {signed.session.sequences.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <fieldset>
            <legend>Stages</legend>
            {STAGES.map((stage) => (
              <label key={stage} className="check">
                <input
                  type="checkbox"
                  checked={form.stages.includes(stage)}
                  onChange={(e) => set({ stages: e.target.checked ? [...form.stages, stage] : form.stages.filter((s) => s !== stage) })}
                />{' '}
                {words(stage)}
              </label>
            ))}
          </fieldset>
          <div>
            <label htmlFor="c-min">Score at least</label>
            <input id="c-min" type="number" min={0} inputMode="numeric" value={form.scoreMin} onChange={(e) => set({ scoreMin: e.target.value })} />
            <label htmlFor="c-max">Score at most</label>
            <input id="c-max" type="number" min={0} inputMode="numeric" value={form.scoreMax} onChange={(e) => set({ scoreMax: e.target.value })} />
          </div>
          <div>
            <label htmlFor="c-attributes">Attributes</label>
            <textarea id="c-attributes" rows={3} placeholder="industry=fintech" aria-describedby="c-attributes-hint" value={form.attributes} onChange={(e) => set({ attributes: e.target.value })} />
            <span id="c-attributes-hint" className="sub">
              One key=value a line; 20 and true are a number and a yes, "20" is text.
            </span>
          </div>
          <div>
            <label htmlFor="c-quiet">Quiet for</label>
            <input id="c-quiet" placeholder="30 days" aria-describedby="c-quiet-hint" value={form.inactiveFor} onChange={(e) => set({ inactiveFor: e.target.value })} />
            <span id="c-quiet-hint" className="sub">
              No engagement for this long.
            </span>
            <label htmlFor="c-rate">Leads per second</label>
            <input id="c-rate" type="number" min={1} max={1000} required value={form.ratePerSecond} onChange={(e) => set({ ratePerSecond: e.target.value })} />
          </div>
        </div>
        <p className="match-count" aria-live="polite" data-testid="dry-run">
          {count === undefined ? 'Counting…' : 'problem' in count ? <span className="notice error">{count.problem}</span> : `${count.matched} ${count.matched === 1 ? 'lead matches' : 'leads match'}${count.sample.length ? `: ${count.sample.slice(0, 5).join(', ')}${count.matched > 5 ? '…' : ''}` : ''}`}
        </p>
        <button type="submit" className="primary" disabled={busy}>
          Start campaign
        </button>
      </form>

      <h2 className="campaigns-head">Campaigns</h2>
      <LoadProblem error={error} />
      {campaigns && campaigns.length === 0 && <p className="empty">No campaign yet.</p>}
      <ul className="campaigns" aria-label="Campaigns, newest first">
        {campaigns?.map((c) => {
          const asked = c.enrolled + c.failed + Object.values(c.skipped).reduce((a, b) => a + b, 0);
          const skipped = Object.entries(c.skipped).filter(([, n]) => n > 0);
          return (
            <li key={c.id} className="card campaign" data-campaign={c.id}>
              <h3>
                {c.id} <span className={`badge status-${c.status}`}>{words(c.status)}</span>
              </h3>
              <p className="sub">
                {c.description} → {c.sequence}@v{c.sequenceVersion} at {c.ratePerSecond}/s · started {when(c.startedAt)}
                {c.finishedAt ? ` · finished ${when(c.finishedAt)}` : ''}
              </p>
              <label htmlFor={`p-${c.id}`}>
                {asked} of {c.matched} asked
              </label>
              <progress id={`p-${c.id}`} max={Math.max(c.matched, asked, 1)} value={c.matched === 0 && c.status !== 'running' ? 1 : asked} />
              <p data-testid={`counts-${c.id}`}>
                Enrolled {c.enrolled} · skipped {skipped.length ? skipped.map(([reason, n]) => `${words(reason)} ${n}`).join(', ') : 0} · failed {c.failed}
              </p>
              <div className="actions">
                {c.status === 'running' && (
                  <button type="button" className="danger" onClick={() => void cancel(c)}>
                    Cancel {c.id}
                  </button>
                )}
                <TemporalLink session={signed.session} workflowId={c.workflowId} label={c.workflowId} />
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
