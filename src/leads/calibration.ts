import type { Pool } from '../infra/db.js';
import { calibrate, ruleOfEvent, type CalibrationLead, type ScoringCalibration } from '../domain/calibration.js';
import type { Program } from '../sequences/model.js';

/** Leads read per query: the population is paged by id. */
const PAGE = 1000;

interface Row {
  id: string;
  types: string[];
  conditional: Array<{ type: string; properties: Record<string, unknown> }>;
  escalated: boolean;
  accepted: boolean;
  rejected_for: string[];
  won: boolean;
}

/**
 * Per lead enrolled since `$1`: the event types it sent; for the event types conditional rules
 * look at (`$2`), each distinct set of properties; whether it escalated, was accepted, what it was
 * rejected for, whether it was won. Keyset-paged by id (`$3`, `$4`).
 */
const LEADS = `
  SELECT l.id,
         ARRAY(SELECT DISTINCT e.type FROM lead_events e WHERE e.lead_id = l.id) AS types,
         coalesce((SELECT jsonb_agg(DISTINCT jsonb_build_object('type', e.type, 'properties', e.properties))
                     FROM lead_events e WHERE e.lead_id = l.id AND e.type = ANY($2::text[])), '[]'::jsonb) AS conditional,
         EXISTS (SELECT 1 FROM lead_transitions t WHERE t.lead_id = l.id AND t.to_stage = 'sales_review') AS escalated,
         EXISTS (SELECT 1 FROM sales_decisions d WHERE d.lead_id = l.id AND d.decision = 'accepted') AS accepted,
         ARRAY(SELECT DISTINCT d.reason FROM sales_decisions d WHERE d.lead_id = l.id AND d.decision = 'rejected' AND d.reason IS NOT NULL) AS rejected_for,
         EXISTS (SELECT 1 FROM lead_outcomes o WHERE o.lead_id = l.id AND o.outcome = 'won') AS won
    FROM leads l
   WHERE ($1::timestamptz IS NULL OR l.created_at >= $1) AND ($3::text IS NULL OR l.id > $3)
   ORDER BY l.id
   LIMIT $4`;

/** The calibration report (GET /v1/reports/scoring) over the leads enrolled since `since` (all without). */
export async function scoringReport(pool: Pool, program: Program, filter: { since?: Date } = {}): Promise<ScoringCalibration & { since: string | null }> {
  const conditionalTypes = [...new Set((program.rules?.scoring ?? []).map((r) => r.event))];
  const leads: CalibrationLead[] = [];
  for (let after: string | null = null; ; ) {
    const { rows }: { rows: Row[] } = await pool.query<Row>(LEADS, [filter.since ?? null, conditionalTypes, after, PAGE]);
    for (const row of rows) {
      const rules = new Set<string>();
      for (const type of row.types) if (!conditionalTypes.includes(type)) add(rules, ruleOfEvent(program, { type }));
      for (const event of row.conditional) add(rules, ruleOfEvent(program, event));
      leads.push({ rules: [...rules], escalated: row.escalated, accepted: row.accepted, rejectedFor: row.rejected_for, won: row.won });
    }
    if (rows.length < PAGE) break;
    after = rows.at(-1)!.id;
  }
  return { ...calibrate(program, leads), since: filter.since?.toISOString() ?? null };
}

const add = (set: Set<string>, rule: string | undefined): void => {
  if (rule !== undefined) set.add(rule);
};
