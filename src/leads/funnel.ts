import type { Pool } from '../infra/db.js';

export interface FunnelReport {
  enrolled: number;
  byStage: Record<string, number>;
  escalations: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  disqualified: number;
  unsubscribed: number;
  /** accepted / (accepted + rejected), null before any decision. */
  acceptanceRate: number | null;
}

/** Funnel counts computed in SQL over the read model. */
export async function funnelReport(pool: Pool): Promise<FunnelReport> {
  const [stages, escalations, decisions] = await Promise.all([
    pool.query<{ stage: string; n: string; unsubscribed: string }>(
      'SELECT stage, count(*) AS n, count(*) FILTER (WHERE unsubscribed) AS unsubscribed FROM leads GROUP BY stage',
    ),
    pool.query<{ n: string }>(`SELECT count(*) AS n FROM lead_transitions WHERE to_stage = 'sales_review'`),
    pool.query<{ decision: string; reason: string | null; n: string }>(
      'SELECT decision, reason, count(*) AS n FROM sales_decisions GROUP BY decision, reason',
    ),
  ]);
  const byStage: Record<string, number> = { nurturing: 0, sales_review: 0, accepted: 0, disqualified: 0 };
  let enrolled = 0;
  let unsubscribed = 0;
  for (const row of stages.rows) {
    byStage[row.stage] = Number(row.n);
    enrolled += Number(row.n);
    unsubscribed += Number(row.unsubscribed);
  }
  const rejectedByReason: Record<string, number> = {};
  let accepted = 0;
  let rejected = 0;
  let disqualified = 0;
  for (const row of decisions.rows) {
    const n = Number(row.n);
    if (row.decision === 'accepted') accepted += n;
    if (row.decision === 'disqualified') disqualified += n;
    if (row.decision === 'rejected') {
      rejected += n;
      rejectedByReason[row.reason ?? 'other'] = (rejectedByReason[row.reason ?? 'other'] ?? 0) + n;
    }
  }
  return {
    enrolled,
    byStage,
    escalations: Number(escalations.rows[0]?.n ?? 0),
    accepted,
    rejected,
    rejectedByReason,
    disqualified,
    unsubscribed,
    acceptanceRate: accepted + rejected > 0 ? accepted / (accepted + rejected) : null,
  };
}
