import type { Pool } from '../infra/db.js';

/** Median and 90th percentile of a duration, over the cases that have one, and its histogram. */
export interface DurationStats {
  /** How many cases the figures are computed over. */
  count: number;
  medianSeconds: number | null;
  p90Seconds: number | null;
  /** How many cases fall in each bucket: from the previous bucket's bound up to (not including) `upToSeconds`; null: no bound. */
  histogram: Array<{ upToSeconds: number | null; count: number }>;
}

/** Upper bounds of the duration histogram buckets: 1 min, 10 min, 1 h, 4 h, 1 day, 2 days, 1 week, 30 days, then the rest. */
export const DURATION_BUCKETS: readonly number[] = [60, 600, 3600, 4 * 3600, 86_400, 2 * 86_400, 7 * 86_400, 30 * 86_400];

/** One `count(*) FILTER` column per histogram bucket of the duration `seconds` (an SQL expression). */
function histogramColumns(seconds: string, prefix: string, also = 'true'): string {
  return [...DURATION_BUCKETS, null]
    .map((upTo, i) => {
      const from = i === 0 ? null : DURATION_BUCKETS[i - 1];
      const bounds = [from === null ? null : `${seconds} >= ${from}`, upTo === null ? `${seconds} IS NOT NULL` : `${seconds} < ${upTo}`].filter(Boolean).join(' AND ');
      return `count(*) FILTER (WHERE ${also} AND ${bounds})::int AS ${prefix}_${i}`;
    })
    .join(',\n         ');
}

const histogramOf = (row: Record<string, unknown> | undefined, prefix: string): DurationStats['histogram'] =>
  [...DURATION_BUCKETS, null].map((upToSeconds, i) => ({ upToSeconds, count: Number(row?.[`${prefix}_${i}`] ?? 0) }));

/** The funnel for one slice of leads (all of them, one sequence, or one enrolment week). */
export interface FunnelFigures {
  /** Leads enrolled in the slice. */
  enrolled: number;
  /** Leads per current stage. */
  byStage: Record<string, number>;
  /** Leads that reached sales review at least once (MQLs). */
  escalated: number;
  /** Escalations in all (a recycled lead can escalate again). */
  escalations: number;
  /** Sales decisions. */
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  disqualified: number;
  /** Leads sales rejected at least once (they went back to nurturing). */
  recycled: number;
  /** Leads that reached sales review more than once. */
  reEscalated: number;
  unsubscribed: number;
  /** Leads whose address bounced hard (a provider's report or a 5xx at send time). */
  hardBounced: number;
  /** Leads whose address soft-bounced at least once. */
  softBounced: number;
  /** Leads whose recipient complained (marked the email as spam). */
  complained: number;
  /** accepted / (accepted + rejected); null before any decision. */
  acceptanceRate: number | null;
  /** From enrolment to the first escalation. */
  timeToEscalation: DurationStats;
  /** From an escalation to the decision on that review. */
  timeToDecision: DurationStats;
  /** Reviews that went past their SLA (a reminder went to sales). */
  slaBreaches: number;
}

export interface FunnelFilter {
  /** Only leads enrolled in this sequence. */
  sequence?: string;
  /** Only leads enrolled at or after this instant. */
  from?: Date;
  /** Only leads enrolled before this instant. */
  to?: Date;
}

/** From accepted to won: the outcomes sales reported and the amounts won (per currency). */
export interface RevenueFigures {
  /** Accepted reviews. */
  accepted: number;
  won: number;
  lost: number;
  /** Accepted reviews still waiting for their outcome. */
  open: number;
  /** won / (won + lost); null before any outcome. */
  winRate: number | null;
  /** The amounts won, per currency (`none` for amounts given without one). */
  amount: Record<string, number>;
}

export interface RevenueReport extends RevenueFigures {
  /** By the lead's enrolment sequence. */
  bySequence: Array<RevenueFigures & { sequence: string }>;
  /** By the lead's fit grade (`none` without one). */
  byGrade: Array<RevenueFigures & { grade: string }>;
  /** By the week the outcome was reported (Monday, UTC): where the revenue landed. Accepted reviews count in the week of the accept. */
  byWeek: Array<RevenueFigures & { week: string }>;
}

export interface FunnelReport extends FunnelFigures {
  filter: { sequence: string | null; from: string | null; to: string | null };
  /** The funnel past the hand-off: accepted → won, and the amounts won. */
  revenue: RevenueReport;
  bySequence: Array<FunnelFigures & { sequence: string }>;
  /** By the week of enrolment (weeks start on Monday, UTC). */
  byWeek: Array<FunnelFigures & { week: string }>;
}

const STAGES = ['nurturing', 'sales_review', 'accepted', 'disqualified'];

// Per lead: its slice (sequence, enrolment week) and what happened to it. Per review: the time
// from escalation to decision. Both filtered the same way, then aggregated over three grouping
// sets at once: everything, by sequence, by week.
const LEADS_IN_SCOPE = `
  scoped AS (
    SELECT l.id, l.enrol_sequence AS sequence, to_char(date_trunc('week', l.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week,
           l.stage, l.unsubscribed, l.created_at
      FROM leads l
     WHERE ($1::text IS NULL OR l.enrol_sequence = $1)
       AND ($2::timestamptz IS NULL OR l.created_at >= $2)
       AND ($3::timestamptz IS NULL OR l.created_at < $3)
  ),
  reviews AS (
    SELECT t.lead_id, t.at, row_number() OVER (PARTITION BY t.lead_id ORDER BY t.at, t.id) AS review_no
      FROM lead_transitions t JOIN scoped s ON s.id = t.lead_id
     WHERE t.to_stage = 'sales_review'
  )`;

const LEAD_FIGURES = `
  WITH ${LEADS_IN_SCOPE},
  per_lead AS (
    SELECT s.*,
           (SELECT count(*) FROM reviews r WHERE r.lead_id = s.id) AS escalations,
           (SELECT min(r.at) FROM reviews r WHERE r.lead_id = s.id) AS first_escalation,
           (SELECT count(*) FROM sales_decisions d WHERE d.lead_id = s.id AND d.decision = 'rejected') AS rejections,
           (SELECT count(*) FROM review_sla_breaches b WHERE b.lead_id = s.id AND b.level = 1) AS breaches,
           EXISTS (SELECT 1 FROM email_feedback f WHERE f.lead_id = s.id AND f.kind = 'hard_bounce') AS hard_bounced,
           EXISTS (SELECT 1 FROM email_feedback f WHERE f.lead_id = s.id AND f.kind = 'soft_bounce') AS soft_bounced,
           EXISTS (SELECT 1 FROM email_feedback f WHERE f.lead_id = s.id AND f.kind = 'complaint') AS complained
      FROM scoped s
  )
  SELECT GROUPING(sequence) AS all_sequences, GROUPING(week) AS all_weeks, sequence, week,
         count(*)::int AS enrolled,
         count(*) FILTER (WHERE stage = 'nurturing')::int AS nurturing,
         count(*) FILTER (WHERE stage = 'sales_review')::int AS sales_review,
         count(*) FILTER (WHERE stage = 'accepted')::int AS accepted_stage,
         count(*) FILTER (WHERE stage = 'disqualified')::int AS disqualified_stage,
         count(*) FILTER (WHERE escalations > 0)::int AS escalated,
         coalesce(sum(escalations), 0)::int AS escalations,
         count(*) FILTER (WHERE rejections > 0)::int AS recycled,
         count(*) FILTER (WHERE escalations > 1)::int AS re_escalated,
         count(*) FILTER (WHERE unsubscribed)::int AS unsubscribed,
         count(*) FILTER (WHERE hard_bounced)::int AS hard_bounced,
         count(*) FILTER (WHERE soft_bounced)::int AS soft_bounced,
         count(*) FILTER (WHERE complained)::int AS complained,
         coalesce(sum(breaches), 0)::int AS sla_breaches,
         count(first_escalation)::int AS escalation_count,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_escalation - created_at)) AS escalation_p50,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_escalation - created_at)) AS escalation_p90,
         ${histogramColumns('extract(epoch FROM first_escalation - created_at)', 'escalation_h')}
    FROM per_lead
   GROUP BY GROUPING SETS ((), (sequence), (week))`;

const DECIDED = `
  WITH ${LEADS_IN_SCOPE},
  decided AS (
    SELECT s.sequence, s.week, d.decision, coalesce(d.reason, 'other') AS reason, extract(epoch FROM d.at - r.at) AS seconds
      FROM reviews r
      JOIN scoped s ON s.id = r.lead_id
      JOIN sales_decisions d ON d.lead_id = r.lead_id AND d.review_no = r.review_no
  )`;

const DECISION_FIGURES = `${DECIDED}
  SELECT GROUPING(sequence) AS all_sequences, GROUPING(week) AS all_weeks, sequence, week,
         count(*) FILTER (WHERE decision = 'accepted')::int AS accepted,
         count(*) FILTER (WHERE decision = 'rejected')::int AS rejected,
         count(*) FILTER (WHERE decision = 'disqualified')::int AS disqualified,
         count(*) FILTER (WHERE decision IN ('accepted', 'rejected'))::int AS decision_count,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE decision IN ('accepted', 'rejected')) AS decision_p50,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE decision IN ('accepted', 'rejected')) AS decision_p90,
         ${histogramColumns('seconds', 'decision_h', "decision IN ('accepted', 'rejected')")}
    FROM decided
   GROUP BY GROUPING SETS ((), (sequence), (week))`;

const REJECTION_REASONS = `${DECIDED}
  SELECT GROUPING(sequence) AS all_sequences, GROUPING(week) AS all_weeks, sequence, week, reason, count(*)::int AS n
    FROM decided
   WHERE decision = 'rejected'
   GROUP BY GROUPING SETS ((reason), (sequence, reason), (week, reason))`;

// Per accepted review: its outcome, if reported. Grouped four ways: everything, by sequence, by
// grade, by week (of the outcome, else of the accept); amounts once more per currency.
const ACCEPTED_REVIEWS = `
  WITH scoped AS (
    SELECT l.id, l.enrol_sequence AS sequence, coalesce(l.grade, 'none') AS grade
      FROM leads l
     WHERE ($1::text IS NULL OR l.enrol_sequence = $1)
       AND ($2::timestamptz IS NULL OR l.created_at >= $2)
       AND ($3::timestamptz IS NULL OR l.created_at < $3)
  ),
  accepted AS (
    SELECT s.sequence, s.grade, o.outcome, o.amount, coalesce(o.currency, 'none') AS currency,
           to_char(date_trunc('week', coalesce(o.decided_at, d.at) AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week
      FROM sales_decisions d
      JOIN scoped s ON s.id = d.lead_id
      LEFT JOIN lead_outcomes o ON o.lead_id = d.lead_id AND o.review_no = d.review_no
     WHERE d.decision = 'accepted'
  )`;

const REVENUE_FIGURES = `${ACCEPTED_REVIEWS}
  SELECT GROUPING(sequence) AS all_sequences, GROUPING(grade) AS all_grades, GROUPING(week) AS all_weeks, sequence, grade, week,
         count(*)::int AS accepted,
         count(*) FILTER (WHERE outcome = 'won')::int AS won,
         count(*) FILTER (WHERE outcome = 'lost')::int AS lost
    FROM accepted
   GROUP BY GROUPING SETS ((), (sequence), (grade), (week))`;

const REVENUE_AMOUNTS = `${ACCEPTED_REVIEWS}
  SELECT GROUPING(sequence) AS all_sequences, GROUPING(grade) AS all_grades, GROUPING(week) AS all_weeks, sequence, grade, week, currency,
         sum(amount)::text AS amount
    FROM accepted
   WHERE outcome = 'won'
   GROUP BY GROUPING SETS ((currency), (sequence, currency), (grade, currency), (week, currency))`;

interface RevenueRow {
  all_sequences: number;
  all_grades: number;
  all_weeks: number;
  sequence: string | null;
  grade: string | null;
  week: string | null;
}
const revenueSliceOf = (row: RevenueRow): string =>
  row.all_sequences === 0 ? `sequence:${row.sequence}` : row.all_grades === 0 ? `grade:${row.grade}` : row.all_weeks === 0 ? `week:${row.week}` : 'all';

/** Accepted → won, amounts per currency: overall, by sequence, by grade, by week. */
async function revenueReport(pool: Pool, params: unknown[]): Promise<RevenueReport> {
  const [figureRows, amountRows] = await Promise.all([pool.query(REVENUE_FIGURES, params), pool.query(REVENUE_AMOUNTS, params)]);
  const amounts = new Map<string, Record<string, number>>();
  for (const row of amountRows.rows as Array<RevenueRow & { currency: string; amount: string }>) {
    const slice = revenueSliceOf(row);
    amounts.set(slice, { ...amounts.get(slice), [row.currency]: Number(row.amount) });
  }
  const figures = (row: RevenueRow & { accepted: number; won: number; lost: number }): RevenueFigures => ({
    accepted: row.accepted,
    won: row.won,
    lost: row.lost,
    open: row.accepted - row.won - row.lost,
    winRate: row.won + row.lost > 0 ? row.won / (row.won + row.lost) : null,
    amount: amounts.get(revenueSliceOf(row)) ?? {},
  });
  let totals: RevenueFigures = { accepted: 0, won: 0, lost: 0, open: 0, winRate: null, amount: {} };
  const report: Omit<RevenueReport, keyof RevenueFigures> = { bySequence: [], byGrade: [], byWeek: [] };
  for (const row of figureRows.rows as Array<RevenueRow & { accepted: number; won: number; lost: number }>) {
    const slice = revenueSliceOf(row);
    if (slice === 'all') totals = figures(row);
    else if (slice.startsWith('sequence:')) report.bySequence.push({ sequence: row.sequence!, ...figures(row) });
    else if (slice.startsWith('grade:')) report.byGrade.push({ grade: row.grade!, ...figures(row) });
    else report.byWeek.push({ week: row.week!, ...figures(row) });
  }
  report.bySequence.sort((a, b) => a.sequence.localeCompare(b.sequence));
  report.byGrade.sort((a, b) => a.grade.localeCompare(b.grade));
  report.byWeek.sort((a, b) => a.week.localeCompare(b.week));
  return { ...totals, ...report };
}

interface Row {
  all_sequences: number;
  all_weeks: number;
  sequence: string | null;
  week: string | null;
}

/** Which slice a grouping-set row belongs to. */
const sliceOf = (row: Row): string => (row.all_sequences === 0 ? `sequence:${row.sequence}` : row.all_weeks === 0 ? `week:${row.week}` : 'all');

const round = (value: number | string | null): number | null => (value === null ? null : Math.round(Number(value)));

/**
 * The funnel, computed in SQL over the read model: counts per stage, escalations, decisions and
 * their reasons, recycling, SLA breaches, and how long escalation and decision take; overall,
 * by enrolment sequence and by enrolment week.
 */
export async function funnelReport(pool: Pool, filter: FunnelFilter = {}): Promise<FunnelReport> {
  const params = [filter.sequence ?? null, filter.from ?? null, filter.to ?? null];
  const [leadRows, decisionRows, reasonRows, revenue] = await Promise.all([
    pool.query(LEAD_FIGURES, params),
    pool.query(DECISION_FIGURES, params),
    pool.query(REJECTION_REASONS, params),
    revenueReport(pool, params),
  ]);
  const decisions = new Map<string, Record<string, unknown>>();
  for (const row of decisionRows.rows) decisions.set(sliceOf(row), row);
  const reasons = new Map<string, Record<string, number>>();
  for (const row of reasonRows.rows as Array<Row & { reason: string; n: number }>) {
    const slice = sliceOf(row);
    reasons.set(slice, { ...reasons.get(slice), [row.reason]: row.n });
  }

  const figures = (row: Record<string, unknown> & Row): FunnelFigures => {
    const d = decisions.get(sliceOf(row));
    const accepted = Number(d?.accepted ?? 0);
    const rejected = Number(d?.rejected ?? 0);
    return {
      enrolled: Number(row.enrolled),
      byStage: {
        nurturing: Number(row.nurturing),
        sales_review: Number(row.sales_review),
        accepted: Number(row.accepted_stage),
        disqualified: Number(row.disqualified_stage),
      },
      escalated: Number(row.escalated),
      escalations: Number(row.escalations),
      accepted,
      rejected,
      rejectedByReason: reasons.get(sliceOf(row)) ?? {},
      disqualified: Number(d?.disqualified ?? 0),
      recycled: Number(row.recycled),
      reEscalated: Number(row.re_escalated),
      unsubscribed: Number(row.unsubscribed),
      hardBounced: Number(row.hard_bounced),
      softBounced: Number(row.soft_bounced),
      complained: Number(row.complained),
      acceptanceRate: accepted + rejected > 0 ? accepted / (accepted + rejected) : null,
      timeToEscalation: {
        count: Number(row.escalation_count),
        medianSeconds: round(row.escalation_p50 as number | null),
        p90Seconds: round(row.escalation_p90 as number | null),
        histogram: histogramOf(row, 'escalation_h'),
      },
      timeToDecision: {
        count: Number(d?.decision_count ?? 0),
        medianSeconds: round((d?.decision_p50 as number | null) ?? null),
        p90Seconds: round((d?.decision_p90 as number | null) ?? null),
        histogram: histogramOf(d, 'decision_h'),
      },
      slaBreaches: Number(row.sla_breaches),
    };
  };

  const empty: FunnelFigures = figures({ all_sequences: 1, all_weeks: 1, sequence: null, week: null, enrolled: 0, nurturing: 0, sales_review: 0, accepted_stage: 0, disqualified_stage: 0, escalated: 0, escalations: 0, recycled: 0, re_escalated: 0, unsubscribed: 0, hard_bounced: 0, soft_bounced: 0, complained: 0, sla_breaches: 0, escalation_count: 0, escalation_p50: null, escalation_p90: null });
  let totals = empty;
  const bySequence: FunnelReport['bySequence'] = [];
  const byWeek: FunnelReport['byWeek'] = [];
  for (const row of leadRows.rows as Array<Record<string, unknown> & Row>) {
    const slice = sliceOf(row);
    if (slice === 'all') totals = figures(row);
    else if (slice.startsWith('sequence:')) bySequence.push({ sequence: row.sequence!, ...figures(row) });
    else byWeek.push({ week: row.week!, ...figures(row) });
  }
  bySequence.sort((a, b) => a.sequence.localeCompare(b.sequence));
  byWeek.sort((a, b) => a.week.localeCompare(b.week));
  for (const stage of STAGES) totals.byStage[stage] ??= 0;

  return {
    ...totals,
    filter: { sequence: filter.sequence ?? null, from: filter.from?.toISOString() ?? null, to: filter.to?.toISOString() ?? null },
    bySequence,
    byWeek,
    revenue,
  };
}
