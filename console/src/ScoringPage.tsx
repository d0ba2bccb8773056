import { BarElement, CategoryScale, Chart as ChartJS, Legend, LinearScale, Tooltip, type ChartOptions } from 'chart.js';
import { useState } from 'react';
import { Bar } from 'react-chartjs-2';
import type { RuleCalibration, ScoringReport } from './api.ts';
import type { Signed } from './signed.ts';
import { percent, words } from './format.ts';
import { LoadProblem, useLoad, type HeadingRef } from './shared.tsx';

ChartJS.register(BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const COLORS = { lift: '#8b5cf6', weak: '#cbd5e1', current: '#94a3b8', suggested: '#16a34a' };

const liftText = (lift: number | null): string => (lift === null ? '–' : `× ${(Math.round(lift * 100) / 100).toFixed(2)}`);
const reasonsText = (r: RuleCalibration): string =>
  Object.entries(r.rejectedByReason)
    .map(([reason, n]) => `${words(reason)} ${n}`)
    .join(', ');

const horizontal = (title: string): ChartOptions<'bar'> => ({
  indexAxis: 'y',
  responsive: true,
  maintainAspectRatio: false,
  plugins: { legend: { display: true, position: 'bottom' }, tooltip: { enabled: true } },
  // Every rule's name on its bar: none skipped for want of room.
  scales: { x: { beginAtZero: true, title: { display: true, text: title } }, y: { ticks: { autoSkip: false } } },
});

/**
 * Scoring calibration, for marketing and sales together: per scoring rule, how its leads fared
 * with sales (the lift against the leads without it) and the points that evidence suggests.
 */
export function ScoringPage({ signed, heading }: { signed: Signed; heading: HeadingRef }) {
  const [since, setSince] = useState('');
  const { data: report, error, loading, reload } = useLoad(() => signed.api.scoring(since ? `${since}T00:00:00.000Z` : undefined), [signed.api, since]);
  return (
    <section aria-labelledby="scoring-title">
      <div className="page-head">
        <h1 id="scoring-title" ref={heading} tabIndex={-1}>
          Scoring calibration
        </h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Which points reflect real intent? For each scoring rule: the leads that earned points from it, what sales made of them, and its <strong>lift</strong>: the share
        of those leads sales accepted, divided by the same share among the leads without it (× 2: twice as often accepted). The suggested points scale today's by the lift,
        held closer to today's when few leads had the rule.
      </p>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Scoring filters">
        <div>
          <label htmlFor="s-since">Leads enrolled since</label>
          <input id="s-since" type="date" value={since} onChange={(e) => setSince(e.target.value)} />
        </div>
      </form>
      <p className="muted" aria-live="polite">
        {loading ? 'Loading…' : report ? `${report.threshold.leads} leads${report.since ? ` enrolled since ${report.since.slice(0, 10)}` : ''}.` : ''}
      </p>
      <LoadProblem error={error} />
      {report && <ScoringBody report={report} />}
    </section>
  );
}

function ScoringBody({ report }: { report: ScoringReport }) {
  const rules = report.rules;
  const t = report.threshold;
  return (
    <>
      <dl className="figures">
        <div className="figure" data-testid="figure-threshold">
          <dt>Sales-review threshold</dt>
          <dd>{t.points} points</dd>
        </div>
        <div className="figure" data-testid="figure-escalated">
          <dt>Escalated</dt>
          <dd>
            {t.escalated} of {t.leads}
          </dd>
        </div>
        <div className="figure" data-testid="figure-accepted">
          <dt>Accepted (share of escalated)</dt>
          <dd>
            {t.accepted} ({percent(t.acceptanceRate)})
          </dd>
        </div>
        <div className="figure" data-testid="figure-won">
          <dt>Won</dt>
          <dd>{t.won}</dd>
        </div>
      </dl>
      <div className="chart-grid">
        <section className="card" aria-labelledby="lift-title">
          <h2 id="lift-title">Lift per rule</h2>
          <p className="muted small">Pale bars: fewer than {report.minSample} leads, not to be trusted yet.</p>
          <div className="chart per-rule" role="img" aria-label={`Lift per rule: ${rules.map((r) => `${r.rule} ${liftText(r.lift)}${r.warning ? ' (too few leads)' : ''}`).join(', ')}`}>
            <Bar
              data={{
                labels: rules.map((r) => r.rule),
                datasets: [{ label: 'Lift (× acceptance of leads without the rule)', data: rules.map((r) => r.lift ?? 0), backgroundColor: rules.map((r) => (r.warning ? COLORS.weak : COLORS.lift)) }],
              }}
              options={horizontal('lift')}
            />
          </div>
        </section>
        <section className="card" aria-labelledby="points-title">
          <h2 id="points-title">Points: current and suggested</h2>
          <p className="muted small">A rule without a suggestion has no lift to go by.</p>
          <div className="chart per-rule" role="img" aria-label={`Points per rule: ${rules.map((r) => `${r.rule} ${r.currentPoints} now, ${r.suggestedPoints ?? 'no'} suggested`).join(', ')}`}>
            <Bar
              data={{
                labels: rules.map((r) => r.rule),
                datasets: [
                  { label: 'Current points', data: rules.map((r) => r.currentPoints), backgroundColor: COLORS.current },
                  { label: 'Suggested points', data: rules.map((r) => r.suggestedPoints ?? 0), backgroundColor: COLORS.suggested },
                ],
              }}
              options={horizontal('points')}
            />
          </div>
        </section>
      </div>
      <section className="card wide" aria-labelledby="rules-title">
        <h2 id="rules-title">Rules</h2>
        <table className="responsive" data-testid="scoring-table">
          <caption className="visually-hidden">Per scoring rule: leads, escalations, decisions, wins, lift, current and suggested points, and warnings</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col" className="num">
                Leads
              </th>
              <th scope="col" className="num">
                Escalated
              </th>
              <th scope="col" className="num">
                Accepted
              </th>
              <th scope="col">Rejected</th>
              <th scope="col" className="num">
                Won
              </th>
              <th scope="col" className="num">
                Lift
              </th>
              <th scope="col" className="num">
                Points now
              </th>
              <th scope="col" className="num">
                Suggested
              </th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.rule} data-rule={r.rule}>
                <th scope="row" data-label="Rule">
                  {r.rule}
                  {r.kind === 'conditional' && <span className="muted small"> (on {r.eventType})</span>}
                </th>
                <td data-label="Leads" className="num">
                  {r.leads}
                </td>
                <td data-label="Escalated" className="num">
                  {r.escalated}
                </td>
                <td data-label="Accepted" className="num">
                  {r.accepted}
                </td>
                <td data-label="Rejected">
                  {r.rejected}
                  {r.rejected > 0 && <span className="muted small"> ({reasonsText(r)})</span>}
                </td>
                <td data-label="Won" className="num">
                  {r.won}
                </td>
                <td data-label="Lift" className="num" data-testid="lift">
                  {liftText(r.lift)}
                </td>
                <td data-label="Points now" className="num">
                  {r.currentPoints}
                </td>
                <td data-label="Suggested" className="num" data-testid="suggested">
                  {r.suggestedPoints ?? '–'}
                </td>
                <td data-label="Note">{r.warning ? <span role="note">⚠ {r.warning}</span> : <span className="muted">{r.sampleSize.with} leads with it, {r.sampleSize.without} without</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
