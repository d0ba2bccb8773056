import { useEffect } from 'react';
import type { Signed } from './signed.ts';
import type { LeadSummary } from './api.ts';
import { duration, leadName } from './format.ts';
import { hrefOf } from './route.ts';
import { LoadProblem, SlaBadge, TemporalLink, useLoad, type HeadingRef } from './shared.tsx';

/** The leads in sales review, longest waiting first (the API's order). */
export function QueuePage({ signed, heading, decided }: { signed: Signed; heading: HeadingRef; decided: ReadonlySet<string> }) {
  const { data: all, error, loading, reload } = useLoad(() => signed.api.queue(), [signed.api], 15_000);
  // A review decided in this tab may still be listed for a moment: hide it and look again soon.
  const leads = all?.filter((lead) => !decided.has(`${lead.id}#${lead.reviewCount}`));
  const stale = Boolean(all && leads && all.length !== leads.length);
  useEffect(() => {
    if (!stale) return;
    const timer = setTimeout(reload, 1000);
    return () => clearTimeout(timer);
  }, [stale, all, reload]);
  return (
    <section aria-labelledby="queue-title">
      <div className="page-head">
        <h1 id="queue-title" ref={heading} tabIndex={-1}>
          Review queue
        </h1>
        <button type="button" onClick={reload} aria-describedby="queue-count">
          Refresh
        </button>
      </div>
      <p id="queue-count" className="muted" aria-live="polite">
        {leads ? `${leads.length} ${leads.length === 1 ? 'lead' : 'leads'} waiting for a decision, longest waiting first.` : loading ? 'Loading…' : ''}
      </p>
      <LoadProblem error={error} />
      {leads && leads.length > 0 && (
        <table className="queue responsive">
          <caption className="visually-hidden">Leads in sales review, longest waiting first</caption>
          <thead>
            <tr>
              <th scope="col">Lead</th>
              <th scope="col" className="num">
                Score
              </th>
              <th scope="col">Points by rule</th>
              <th scope="col">Grade</th>
              <th scope="col">Owner</th>
              <th scope="col">SLA</th>
              <th scope="col" className="num">
                Waiting
              </th>
              <th scope="col" className="num">
                Review
              </th>
              <th scope="col">Workflow</th>
            </tr>
          </thead>
          <tbody>
            {leads.map((lead) => (
              <tr key={lead.id} data-lead={lead.id}>
                <td data-label="Lead">
                  <a href={hrefOf({ page: 'lead', id: lead.id })} className="lead-link">
                    {leadName(lead)}
                  </a>
                  <span className="sub">{[lead.company, lead.email].filter(Boolean).join(' · ')}</span>
                </td>
                <td data-label="Score" className="num">
                  {lead.score}
                </td>
                <td data-label="Why" className="why">
                  {pointsByRule(lead.scoreBreakdown)}
                </td>
                <td data-label="Grade">
                  {lead.grade ?? <span className="muted">–</span>}
                </td>
                <td data-label="Owner">{lead.owner ?? <span className="muted">unassigned</span>}</td>
                <td data-label="SLA">
                  <SlaBadge state={lead.review?.slaState} />
                </td>
                <td data-label="Waiting" className="num">
                  {duration(lead.waitingSeconds)}
                </td>
                <td data-label="Review" className="num">
                  #{lead.reviewCount}
                </td>
                <td data-label="Workflow">
                  <TemporalLink session={signed.session} workflowId={lead.workflowId} label={lead.workflowId} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {leads && leads.length === 0 && <p className="empty">Nobody is waiting: the queue is empty.</p>}
    </section>
  );
}

/** Why the score: points per rule, largest first (`product.compared +40 · pricing-page +10`). */
function pointsByRule(lines: LeadSummary['scoreBreakdown']): string {
  const byRule = new Map<string, number>();
  for (const line of lines) byRule.set(line.rule ?? line.type, (byRule.get(line.rule ?? line.type) ?? 0) + line.points);
  return [...byRule]
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .map(([rule, points]) => `${rule} ${points < 0 ? points : `+${points}`}`)
    .join(' · ');
}
