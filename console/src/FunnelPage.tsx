import { BarElement, CategoryScale, Chart as ChartJS, Legend, LinearScale, Tooltip, type ChartOptions } from 'chart.js';
import { useState } from 'react';
import { Bar } from 'react-chartjs-2';
import type { Funnel, FunnelFigures } from './api.ts';
import type { Signed } from './signed.ts';
import { bucketLabel, duration, percent, words } from './format.ts';
import { LoadProblem, useLoad, type HeadingRef } from './shared.tsx';

ChartJS.register(BarElement, CategoryScale, LinearScale, Tooltip, Legend);
// Static charts: nothing moves while people (or screenshots) look at them.
ChartJS.defaults.animation = false;
ChartJS.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';

const COLORS = { enrolled: '#3b82f6', escalated: '#8b5cf6', accepted: '#16a34a', rejected: '#dc2626', time: '#0ea5e9' };

/** A period as the funnel filter takes it: whole UTC days, `to` inclusive in the form, exclusive in the API. */
const dayStart = (day: string) => (day ? `${day}T00:00:00.000Z` : undefined);
const dayAfter = (day: string) => (day ? new Date(Date.parse(`${day}T00:00:00.000Z`) + 86_400_000).toISOString() : undefined);

/** The funnel stages as counts and step-by-step conversion. */
function stagesOf(f: FunnelFigures) {
  return [
    { label: 'Enrolled', count: f.enrolled, conversion: null as number | null, color: COLORS.enrolled },
    { label: 'Escalated to sales (MQL)', count: f.escalated, conversion: f.enrolled ? f.escalated / f.enrolled : null, color: COLORS.escalated },
    { label: 'Accepted by sales', count: f.accepted, conversion: f.escalated ? f.accepted / f.escalated : null, color: COLORS.accepted },
  ];
}

const horizontal: ChartOptions<'bar'> = {
  indexAxis: 'y',
  responsive: true,
  maintainAspectRatio: false,
  plugins: { legend: { display: false } },
  scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
};
const vertical: ChartOptions<'bar'> = {
  responsive: true,
  maintainAspectRatio: false,
  plugins: { legend: { display: false } },
  scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
};

/** Funnel figures with filters by sequence and period. */
export function FunnelPage({ signed, heading }: { signed: Signed; heading: HeadingRef }) {
  const [sequence, setSequence] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const filter = { ...(sequence ? { sequence } : {}), ...(from ? { from: dayStart(from) } : {}), ...(to ? { to: dayAfter(to) } : {}) };
  const { data: funnel, error, loading, reload } = useLoad(() => signed.api.funnel(filter), [signed.api, sequence, from, to], 30_000);

  return (
    <section aria-labelledby="funnel-title">
      <div className="page-head">
        <h1 id="funnel-title" ref={heading} tabIndex={-1}>
          Funnel
        </h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Funnel filters">
        <div>
          <label htmlFor="f-sequence">Sequence</label>
          <select id="f-sequence" value={sequence} onChange={(e) => setSequence(e.target.value)}>
            <option value="">All sequences</option>
            {signed.session.sequences.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-from">Enrolled from</label>
          <input id="f-from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div>
          <label htmlFor="f-to">to (inclusive)</label>
          <input id="f-to" type="date" value={to} min={from || undefined} onChange={(e) => setTo(e.target.value)} />
        </div>
        {(sequence || from || to) && (
          <button
            type="button"
            onClick={() => {
              setSequence('');
              setFrom('');
              setTo('');
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      <p className="muted" aria-live="polite">
        {loading ? 'Loading…' : funnel ? describeFilter(funnel) : ''}
      </p>
      <LoadProblem error={error} />
      {funnel && <FunnelBody funnel={funnel} />}
    </section>
  );
}

function describeFilter(f: Funnel): string {
  const parts = [f.filter.sequence ? `sequence ${f.filter.sequence}` : 'all sequences'];
  if (f.filter.from) parts.push(`enrolled from ${f.filter.from.slice(0, 10)}`);
  if (f.filter.to) parts.push(`before ${f.filter.to.slice(0, 10)}`);
  return `Leads of ${parts.join(', ')} (UTC days).`;
}

function Figure({ id, label, value }: { id: string; label: string; value: string | number }) {
  return (
    <div className="figure" data-testid={`figure-${id}`}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function FunnelBody({ funnel }: { funnel: Funnel }) {
  const stages = stagesOf(funnel);
  const reasons = Object.entries(funnel.rejectedByReason).sort((a, b) => b[1] - a[1]);
  return (
    <>
      <dl className="figures">
        <Figure id="enrolled" label="Enrolled" value={funnel.enrolled} />
        <Figure id="escalated" label="Escalated (MQL)" value={funnel.escalated} />
        <Figure id="in-review" label="In review now" value={funnel.byStage.sales_review ?? 0} />
        <Figure id="accepted" label="Accepted" value={funnel.accepted} />
        <Figure id="rejected" label="Rejected" value={funnel.rejected} />
        <Figure id="acceptance" label="Acceptance rate" value={percent(funnel.acceptanceRate)} />
        <Figure id="recycled" label="Recycled" value={funnel.recycled} />
        <Figure id="sla" label="SLA breaches" value={funnel.slaBreaches} />
      </dl>
      <div className="chart-grid">
        <section className="card" aria-labelledby="stages-title">
          <h2 id="stages-title">Funnel</h2>
          <div className="chart" role="img" aria-label={stages.map((s) => `${s.label}: ${s.count}`).join(', ')}>
            <Bar
              data={{ labels: stages.map((s) => s.label), datasets: [{ label: 'Leads', data: stages.map((s) => s.count), backgroundColor: stages.map((s) => s.color) }] }}
              options={horizontal}
            />
          </div>
          <table className="compact" data-testid="funnel-table">
            <caption className="visually-hidden">Funnel stages with counts and conversion from the previous stage</caption>
            <thead>
              <tr>
                <th scope="col">Stage</th>
                <th scope="col" className="num">
                  Leads
                </th>
                <th scope="col" className="num">
                  Conversion
                </th>
              </tr>
            </thead>
            <tbody>
              {stages.map((s) => (
                <tr key={s.label}>
                  <th scope="row">{s.label}</th>
                  <td className="num">{s.count}</td>
                  <td className="num">{s.conversion === null ? '–' : percent(s.conversion)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="reasons-title">
          <h2 id="reasons-title">Rejection reasons</h2>
          {reasons.length ? (
            <>
              <div className="chart" role="img" aria-label={reasons.map(([r, n]) => `${words(r)}: ${n}`).join(', ')}>
                <Bar data={{ labels: reasons.map(([r]) => words(r)), datasets: [{ label: 'Rejections', data: reasons.map(([, n]) => n), backgroundColor: COLORS.rejected }] }} options={horizontal} />
              </div>
              <table className="compact" data-testid="reasons-table">
                <caption className="visually-hidden">Rejections by reason</caption>
                <tbody>
                  {reasons.map(([r, n]) => (
                    <tr key={r}>
                      <th scope="row">{words(r)}</th>
                      <td className="num">{n}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : (
            <p className="muted">No rejections in this selection.</p>
          )}
        </section>
        <Distribution id="escalation" title="Time to escalation" hint="from enrolment to the first escalation" stats={funnel.timeToEscalation} />
        <Distribution id="decision" title="Time to decision" hint="from escalation to the sales decision" stats={funnel.timeToDecision} />
      </div>
      <Revenue revenue={funnel.revenue} />
      {funnel.bySequence.length > 1 && (
        <section className="card wide" aria-labelledby="by-sequence-title">
          <h2 id="by-sequence-title">By sequence</h2>
          <SliceTable rows={funnel.bySequence.map((s) => ({ ...s, label: s.sequence }))} first="Sequence" />
        </section>
      )}
      {funnel.byWeek.length > 0 && (
        <section className="card wide" aria-labelledby="by-week-title">
          <h2 id="by-week-title">By week of enrolment</h2>
          <SliceTable rows={funnel.byWeek.map((w) => ({ ...w, label: `week of ${w.week}` }))} first="Week" />
        </section>
      )}
    </>
  );
}

function Distribution({ id, title, hint, stats }: { id: string; title: string; hint: string; stats: FunnelFigures['timeToDecision'] }) {
  const buckets = stats.histogram.map((b, i) => ({ label: bucketLabel(i === 0 ? null : (stats.histogram[i - 1]!.upToSeconds ?? null), b.upToSeconds), count: b.count }));
  // Trailing empty buckets say nothing; keep at least up to the last non-empty one (and four buckets).
  const last = Math.max(3, ...buckets.map((b, i) => (b.count ? i : 0)));
  const shown = buckets.slice(0, last + 1);
  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <p className="muted small">
        {hint}: {stats.count} {stats.count === 1 ? 'case' : 'cases'}, median {duration(stats.medianSeconds)}, 90th percentile {duration(stats.p90Seconds)}
      </p>
      <div className="chart" role="img" aria-label={`${title}: ${shown.map((b) => `${b.label}: ${b.count}`).join(', ')}`}>
        <Bar data={{ labels: shown.map((b) => b.label), datasets: [{ label: 'Cases', data: shown.map((b) => b.count), backgroundColor: COLORS.time }] }} options={vertical} />
      </div>
    </section>
  );
}

function SliceTable({ rows, first }: { rows: Array<FunnelFigures & { label: string }>; first: string }) {
  return (
    <table className="responsive">
      <thead>
        <tr>
          <th scope="col">{first}</th>
          <th scope="col" className="num">
            Enrolled
          </th>
          <th scope="col" className="num">
            Escalated
          </th>
          <th scope="col" className="num">
            Accepted
          </th>
          <th scope="col" className="num">
            Rejected
          </th>
          <th scope="col" className="num">
            Acceptance
          </th>
          <th scope="col" className="num">
            Median to decision
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.label}>
            <th scope="row" data-label={first}>
              {r.label}
            </th>
            <td data-label="Enrolled" className="num">
              {r.enrolled}
            </td>
            <td data-label="Escalated" className="num">
              {r.escalated}
            </td>
            <td data-label="Accepted" className="num">
              {r.accepted}
            </td>
            <td data-label="Rejected" className="num">
              {r.rejected}
            </td>
            <td data-label="Acceptance" className="num">
              {percent(r.acceptanceRate)}
            </td>
            <td data-label="Median to decision" className="num">
              {duration(r.timeToDecision.medianSeconds)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type RevenueFigures = Omit<Funnel['revenue'], 'bySequence' | 'byGrade' | 'byWeek'>;

/** Amounts won, one per currency: "12,500 EUR, 900 USD". */
const amountText = (amount: RevenueFigures['amount']): string => {
  const parts = Object.entries(amount).map(([currency, total]) => `${total.toLocaleString('en')}${currency === 'none' ? '' : ` ${currency}`}`);
  return parts.length ? parts.join(', ') : '–';
};

/** Past the hand-off: accepted → won, and what was won, by sequence, grade and week. */
function Revenue({ revenue }: { revenue: Funnel['revenue'] }) {
  const slices: Array<{ title: string; first: string; rows: Array<RevenueFigures & { label: string }> }> = [
    { title: 'Revenue by sequence', first: 'Sequence', rows: revenue.bySequence.map((s) => ({ ...s, label: s.sequence })) },
    { title: 'Revenue by grade', first: 'Grade', rows: revenue.byGrade.map((g) => ({ ...g, label: g.grade === 'none' ? 'no grade' : `grade ${g.grade}` })) },
    { title: 'Revenue by week', first: 'Week', rows: revenue.byWeek.map((w) => ({ ...w, label: `week of ${w.week}` })) },
  ];
  return (
    <section className="card wide" aria-labelledby="revenue-title" data-testid="revenue">
      <h2 id="revenue-title">Revenue</h2>
      <dl className="figures">
        <Figure id="won" label="Won" value={revenue.won} />
        <Figure id="lost" label="Lost" value={revenue.lost} />
        <Figure id="open-outcomes" label="Accepted, outcome open" value={revenue.open} />
        <Figure id="win-rate" label="Win rate" value={percent(revenue.winRate)} />
        <Figure id="amount-won" label="Amount won" value={amountText(revenue.amount)} />
      </dl>
      {slices
        .filter((s) => s.rows.length > 0)
        .map((s) => (
          <table key={s.title} className="responsive">
            <caption>{s.title}</caption>
            <thead>
              <tr>
                <th scope="col">{s.first}</th>
                <th scope="col" className="num">
                  Accepted
                </th>
                <th scope="col" className="num">
                  Won
                </th>
                <th scope="col" className="num">
                  Lost
                </th>
                <th scope="col" className="num">
                  Win rate
                </th>
                <th scope="col" className="num">
                  Amount won
                </th>
              </tr>
            </thead>
            <tbody>
              {s.rows.map((r) => (
                <tr key={r.label}>
                  <th scope="row" data-label={s.first}>
                    {r.label}
                  </th>
                  <td data-label="Accepted" className="num">
                    {r.accepted}
                  </td>
                  <td data-label="Won" className="num">
                    {r.won}
                  </td>
                  <td data-label="Lost" className="num">
                    {r.lost}
                  </td>
                  <td data-label="Win rate" className="num">
                    {percent(r.winRate)}
                  </td>
                  <td data-label="Amount won" className="num">
                    {amountText(r.amount)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}
