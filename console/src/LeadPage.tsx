import { useState, type FormEvent } from 'react';
import { closingDecision, type ClosingDecision, type LeadDetail, type RejectReason } from './api.ts';
import type { Signed } from './signed.ts';
import { age, duration, leadName, when, words } from './format.ts';
import { hrefOf, navigate } from './route.ts';
import { LoadProblem, SlaBadge, StageBadge, TemporalLink, useLoad, type HeadingRef } from './shared.tsx';

interface PastReview {
  reviewNo: number;
  decision: string;
  reason: string | null;
  by: string;
  notes: string | null;
  at: string;
}

/** Decisions on earlier (and the current) reviews, from the lead's history (Postgres). */
const pastReviews = (lead: LeadDetail): PastReview[] =>
  lead.history
    .filter((h) => h.kind === 'decision')
    .map((h) => ({
      reviewNo: Number(h.data.reviewNo),
      decision: String(h.data.decision),
      reason: (h.data.reason as string | null) ?? null,
      by: String(h.data.by ?? ''),
      notes: (h.data.notes as string | null) ?? null,
      at: h.at,
    }))
    .reverse();

/** A lead's story: profile, review, score breakdown, emails, past reviews, timeline; and the decision. */
export function LeadPage({
  signed,
  id,
  heading,
  onDecided,
}: {
  signed: Signed;
  id: string;
  heading: HeadingRef;
  /** A decision went through: what to tell, and which review ("id#reviewNo") it closed. */
  onDecided: (notice: string, review: string) => void;
}) {
  const { data: lead, error, reload } = useLoad(() => signed.api.lead(id), [signed.api, id]);
  const [lost, setLost] = useState<{ decision?: ClosingDecision; message: string }>();
  const name = lead ? leadName(lead) : id;
  // The workflow's story names each open or click it did not score, and why.
  const filtered = lead ? lead.timeline.filter((entry) => entry.kind === 'filtered').reverse() : [];

  return (
    <article aria-labelledby="lead-title">
      <p className="crumbs">
        <a href={hrefOf({ page: 'queue' })}>← Review queue</a>
      </p>
      <div className="page-head">
        <h1 id="lead-title" ref={heading} tabIndex={-1}>
          {name}
        </h1>
        {lead && <StageBadge stage={lead.stage} />}
        {lead && <TemporalLink session={signed.session} workflowId={lead.workflowId} />}
      </div>
      <LoadProblem error={error} />
      {lost && (
        <div role="alert" className="notice warning lost-race">
          <strong>Someone decided first.</strong>{' '}
          {lost.decision ? (
            <>
              <span className="winner">{lost.decision.by}</span> {lost.decision.decision === 'rejected' ? `rejected this lead (${words(lost.decision.reason ?? 'other')})` : `${lost.decision.decision} this lead`}{' '}
              {age(lost.decision.at)}. Your decision was not recorded.
            </>
          ) : (
            lost.message
          )}
        </div>
      )}
      {lead && (
        <div className="lead-grid">
          <section aria-labelledby="profile-title" className="card">
            <h2 id="profile-title">Profile</h2>
            <dl className="facts">
              <dt>Email</dt>
              <dd>{lead.email}</dd>
              <dt>Company</dt>
              <dd>{lead.company ?? '–'}</dd>
              <dt>Time zone</dt>
              <dd>{lead.timezone ?? '–'}</dd>
              <dt>Enrolled</dt>
              <dd>
                {when(lead.createdAt)} ({age(lead.createdAt)})
              </dd>
              <dt>Sequence</dt>
              <dd>
                {lead.sequence.id} v{lead.sequence.version}, step {lead.sequence.step}
              </dd>
              <dt>Score</dt>
              <dd data-testid="lead-score">{lead.score}</dd>
              <dt>Fit grade</dt>
              <dd data-testid="lead-grade">{lead.grade ?? '–'}</dd>
              <dt>Reviews</dt>
              <dd>
                {lead.reviewCount} ({lead.slaBreaches} past SLA)
              </dd>
              {(lead.unsubscribed || lead.deliverability.suppressed) && (
                <>
                  <dt>Email</dt>
                  <dd data-testid="lead-suppressed">{lead.deliverability.suppressed ? `suppressed: ${words(lead.deliverability.suppressed)}` : 'unsubscribed'}</dd>
                </>
              )}
              {lead.deliverability.hardBounces + lead.deliverability.softBounces + lead.deliverability.complaints > 0 && (
                <>
                  <dt>Deliverability</dt>
                  <dd>
                    {lead.deliverability.hardBounces} hard bounce(s), {lead.deliverability.softBounces} soft ({lead.deliverability.softBouncesInRow} in a row), {lead.deliverability.complaints} complaint(s)
                  </dd>
                </>
              )}
            </dl>
          </section>

          <section aria-labelledby="review-title" className="card">
            <h2 id="review-title">{lead.review ? `Review #${lead.review.reviewNo}` : 'Review'}</h2>
            {lead.review ? (
              <dl className="facts">
                <dt>Owner</dt>
                <dd>{lead.review.owner ?? 'unassigned'}</dd>
                <dt>Waiting</dt>
                <dd>
                  since {when(lead.review.since)} ({age(lead.review.since)})
                </dd>
                <dt>SLA</dt>
                <dd>
                  <SlaBadge state={lead.review.slaState} /> {lead.review.slaDueAt ? `next step ${when(lead.review.slaDueAt)}` : ''}
                </dd>
              </dl>
            ) : (
              <p className="muted">{lead.stage === 'sales_review' ? 'In sales review (its workflow keeps no owner or SLA for this review).' : `Not in sales review: ${words(lead.stage)}.`}</p>
            )}
            {lead.stage === 'sales_review' && signed.canDecide && (
              <Decide
                signed={signed}
                lead={lead}
                onDone={(notice) => {
                  onDecided(notice, `${lead.id}#${lead.reviewCount}`);
                  navigate({ page: 'queue' });
                }}
                onLost={(l) => {
                  setLost(l);
                  reload();
                }}
              />
            )}
            {lead.stage === 'sales_review' && !signed.canDecide && <p className="muted">Decisions need a sales key.</p>}
          </section>

          <section aria-labelledby="score-title" className="card wide">
            <h2 id="score-title">Score breakdown</h2>
            {lead.scoreBreakdown.length ? (
              <>
                <p className="muted">
                  Score {lead.score} of the points still counting, each from the rule that gave (or took) it:
                </p>
                <ol className="breakdown" data-testid="score-breakdown">
                  {lead.scoreBreakdown.map((item) => (
                    <li key={item.eventId}>
                      <strong className="num">{item.points < 0 ? item.points : `+${item.points}`}</strong> from rule <code>{item.rule ?? item.type}</code> for{' '}
                      {(item.count ?? 1) > 1 ? `${item.count} × ${item.type}` : item.type},{' '}
                      <time dateTime={item.occurredAt} title={when(item.occurredAt)}>
                        {age(item.occurredAt)}
                      </time>
                      ; {item.countsUntil ? `counts until ${when(item.countsUntil)}` : 'counts for good'}
                      <span className="sub mono">{item.eventId}</span>
                    </li>
                  ))}
                </ol>
              </>
            ) : (
              <p className="muted">No scored events since the last reset.</p>
            )}
            {filtered.length > 0 && (
              <>
                <h3>Recorded, not scored</h3>
                <p className="muted">Opens and clicks the engagement filter judged a machine's (privacy proxies, link scanners):</p>
                <ol className="breakdown filtered" data-testid="filtered-engagement">
                  {filtered.map((entry, i) => (
                    <li key={i}>
                      <time dateTime={entry.at}>{age(entry.at)}</time>: {entry.text}
                    </li>
                  ))}
                </ol>
              </>
            )}
          </section>

          <section aria-labelledby="emails-title" className="card wide">
            <h2 id="emails-title">Emails received</h2>
            {lead.emails.length ? (
              <table className="responsive">
                <caption className="visually-hidden">Marketing emails the lead received and its opens and clicks</caption>
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Status</th>
                    <th scope="col">Sent</th>
                    <th scope="col">Engagement</th>
                  </tr>
                </thead>
                <tbody>
                  {lead.emails.map((email, i) => (
                    <tr key={`${email.template}-${i}`}>
                      <td data-label="Email">
                        {email.subject ?? email.template}
                        <span className="sub">{email.template}</span>
                      </td>
                      <td data-label="Status">
                        {email.status}
                        {(email.feedback ?? []).map((f, j) => (
                          <span key={j} className="sub">
                            {words(f.kind)} ({f.source}) {age(f.at)}
                          </span>
                        ))}
                      </td>
                      <td data-label="Sent">{age(email.sentAt)}</td>
                      <td data-label="Engagement">
                        {email.engagement.length ? email.engagement.map((e) => `${e.type === 'email.clicked' ? 'clicked' : 'opened'} ${age(e.at)}`).join(', ') : <span className="muted">none</span>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p className="muted">No marketing email yet.</p>
            )}
          </section>

          <section aria-labelledby="reviews-title" className="card wide">
            <h2 id="reviews-title">Past reviews</h2>
            <PastReviews reviews={pastReviews(lead)} />
          </section>

          <section aria-labelledby="timeline-title" className="card wide">
            <h2 id="timeline-title">Timeline</h2>
            {lead.timeline.length ? (
              <ol className="timeline" reversed>
                {[...lead.timeline].reverse().slice(0, 30).map((entry, i) => (
                  <li key={i}>
                    <time dateTime={entry.at}>{when(entry.at)}</time> <span className={`kind kind-${entry.kind}`}>{entry.kind}</span> {entry.text}
                  </li>
                ))}
              </ol>
            ) : (
              <p className="muted">The workflow did not answer; the history above comes from the database.</p>
            )}
          </section>
        </div>
      )}
    </article>
  );
}

function PastReviews({ reviews }: { reviews: PastReview[] }) {
  if (!reviews.length) return <p className="muted">No decision yet.</p>;
  return (
    <ul className="reviews">
      {reviews.map((r) => (
        <li key={`${r.reviewNo}-${r.decision}`}>
          <strong>
            Review #{r.reviewNo}: {r.decision}
            {r.reason ? ` (${words(r.reason)})` : ''}
          </strong>{' '}
          by {r.by}, {when(r.at)}
          {r.notes && <blockquote>{r.notes}</blockquote>}
        </li>
      ))}
    </ul>
  );
}

function Decide({
  signed,
  lead,
  onDone,
  onLost,
}: {
  signed: Signed;
  lead: LeadDetail;
  onDone: (notice: string) => void;
  onLost: (lost: { decision?: ClosingDecision; message: string }) => void;
}) {
  const [reason, setReason] = useState<RejectReason | ''>('');
  const [acceptNotes, setAcceptNotes] = useState('');
  const [rejectNotes, setRejectNotes] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const by = signed.by || 'console';

  const act = async (run: () => Promise<unknown>, notice: string) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await run();
      onDone(notice);
    } catch (error) {
      const decision = closingDecision(error);
      if (decision || (error as { code?: string }).code === 'not_in_review') onLost({ ...(decision ? { decision } : {}), message: (error as Error).message });
      else setProblem((error as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const accept = (event: FormEvent) => {
    event.preventDefault();
    void act(() => signed.api.accept(lead.id, { by, ...(acceptNotes.trim() ? { notes: acceptNotes.trim() } : {}) }), `Accepted ${leadName(lead)}.`);
  };
  const reject = (event: FormEvent) => {
    event.preventDefault();
    if (!reason) return;
    void act(
      () => signed.api.reject(lead.id, { by, reason, ...(rejectNotes.trim() ? { notes: rejectNotes.trim() } : {}) }),
      `Rejected ${leadName(lead)} (${words(reason)}): back to nurturing.`,
    );
  };
  return (
    <div className="decide">
      {problem && (
        <p role="alert" className="notice error">
          {problem}
        </p>
      )}
      <form onSubmit={accept} aria-labelledby="accept-title">
        <h3 id="accept-title">Accept</h3>
        <label htmlFor="accept-notes">Notes (optional)</label>
        <textarea id="accept-notes" rows={2} value={acceptNotes} onChange={(e) => setAcceptNotes(e.target.value)} />
        <button type="submit" className="primary" disabled={busy}>
          Accept lead
        </button>
      </form>
      <form onSubmit={reject} aria-labelledby="reject-title">
        <h3 id="reject-title">Reject</h3>
        <label htmlFor="reject-reason">Reason</label>
        <select id="reject-reason" required value={reason} onChange={(e) => setReason(e.target.value as RejectReason)}>
          <option value="">Choose a reason…</option>
          {signed.session.rejectReasons.map((r) => (
            <option key={r} value={r}>
              {words(r)}
            </option>
          ))}
        </select>
        <label htmlFor="reject-notes">Notes (optional)</label>
        <textarea id="reject-notes" rows={2} value={rejectNotes} onChange={(e) => setRejectNotes(e.target.value)} />
        <button type="submit" className="danger" disabled={busy}>
          Reject lead
        </button>
      </form>
      <p className="muted small">
        Recorded as {by}. Waiting {duration(lead.review ? (Date.now() - Date.parse(lead.review.since)) / 1000 : null)}.
      </p>
    </div>
  );
}
