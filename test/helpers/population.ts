import type { Pool } from '../../src/infra/db.js';

/**
 * A population of past leads written straight into Postgres, row by row (leads, events,
 * transitions, decisions, outcomes), for the read side's reports: what the workflows and the
 * outcome route would have recorded, without running them.
 */
export interface ScriptedLead {
  id: string;
  createdAt?: string;
  /** Events: [type, minutes after creation, properties?, delivered?] */
  events?: Array<[string, number, Record<string, unknown>?, boolean?]>;
  /** Escalations: [minutes after creation, score]. */
  escalations?: Array<[number, number]>;
  decisions?: Array<{ minute: number; reviewNo: number; decision: 'accepted' | 'rejected' | 'disqualified'; reason?: string }>;
  outcome?: { reviewNo: number; outcome: 'won' | 'lost'; amount?: number; recycle?: boolean; minute: number };
}

export const CREATED = '2026-11-02T09:00:00.000Z';
export const plus = (iso: string, minutes: number) => new Date(Date.parse(iso) + minutes * 60_000).toISOString();

export async function scriptLeads(pool: Pool, leads: ScriptedLead[]): Promise<void> {
  const rows = (f: (l: ScriptedLead, created: string) => unknown[]) => JSON.stringify(leads.flatMap((l) => f(l, l.createdAt ?? CREATED)));
  await pool.query(
    `INSERT INTO leads (id, email, enrol_sequence, created_at)
     SELECT id, id || '@example.com', 'onboarding', created_at FROM jsonb_to_recordset($1::jsonb) AS x(id text, created_at timestamptz)`,
    [rows((l, created) => [{ id: l.id, created_at: created }])],
  );
  await pool.query(
    `INSERT INTO lead_events (lead_id, event_id, type, occurred_at, received_at, delivered_at, properties)
     SELECT lead_id, event_id, type, at, at, CASE WHEN delivered THEN at END, properties
       FROM jsonb_to_recordset($1::jsonb) AS x(lead_id text, event_id text, type text, at timestamptz, delivered boolean, properties jsonb)
      ORDER BY at`,
    [rows((l, created) => (l.events ?? []).map(([type, minute, properties, delivered], i) => ({ lead_id: l.id, event_id: `${l.id}-e${i + 1}`, type, at: plus(created, minute), delivered: delivered ?? true, properties: properties ?? {} })))],
  );
  await pool.query(
    `INSERT INTO lead_transitions (lead_id, from_stage, to_stage, reason, score, at)
     SELECT lead_id, 'nurturing', 'sales_review', 'threshold_reached', score, at FROM jsonb_to_recordset($1::jsonb) AS x(lead_id text, score int, at timestamptz)`,
    [rows((l, created) => (l.escalations ?? []).map(([minute, score]) => ({ lead_id: l.id, score, at: plus(created, minute) })))],
  );
  await pool.query(
    `INSERT INTO sales_decisions (lead_id, review_no, decision, reason, decided_by, at)
     SELECT lead_id, review_no, decision, reason, 'olga@example.com', at FROM jsonb_to_recordset($1::jsonb) AS x(lead_id text, review_no int, decision text, reason text, at timestamptz)`,
    [rows((l, created) => (l.decisions ?? []).map((d) => ({ lead_id: l.id, review_no: d.reviewNo, decision: d.decision, reason: d.reason ?? null, at: plus(created, d.minute) })))],
  );
  await pool.query(
    `INSERT INTO lead_outcomes (lead_id, review_no, outcome, amount, currency, recycle, decided_by, decided_at)
     SELECT lead_id, review_no, outcome, amount, 'EUR', recycle, 'olga@example.com', at FROM jsonb_to_recordset($1::jsonb) AS x(lead_id text, review_no int, outcome text, amount numeric, recycle boolean, at timestamptz)`,
    [rows((l, created) => (l.outcome ? [{ lead_id: l.id, review_no: l.outcome.reviewNo, outcome: l.outcome.outcome, amount: l.outcome.amount ?? null, recycle: l.outcome.recycle ?? false, at: plus(created, l.outcome.minute) }] : []))],
  );
}


const id = (prefix: string, i: number) => `${prefix}-${String(i).padStart(2, '0')}`;
const accepted = (minute = 30) => ({ minute, reviewNo: 1, decision: 'accepted' as const });
const rejected = (reason: string, minute = 30) => ({ minute, reviewNo: 1, decision: 'rejected' as const, reason });

/**
 * 40 leads compared products (30 escalated, 20 accepted, 5 of them won, 10 rejected for
 * no_budget); 60 only viewed pages (20 of them /pricing: 15 accepted, 5 rejected not_ready);
 * 10 more compared products in 2025 (none accepted). Since 2026: product.compared has lift 2
 * (50 % accepted against 25 %), suggested 31 points.
 */
export function calibrationPopulation(): ScriptedLead[] {
  return [
    // 40 leads compared products: 30 escalated, 20 accepted (5 won), 10 rejected for no_budget.
    ...Array.from({ length: 40 }, (_, i): ScriptedLead => ({
      id: id('cmp', i),
      events: [
        ['page.viewed', 1, { path: '/features' }],
        ['product.compared', 2],
        ['product.compared', 3],
      ],
      ...(i < 30 ? { escalations: [[10, 50]] as Array<[number, number]> } : {}),
      ...(i < 20 ? { decisions: [accepted()] } : i < 30 ? { decisions: [rejected('no_budget')] } : {}),
      ...(i < 5 ? { outcome: { reviewNo: 1, outcome: 'won' as const, amount: 12_000, minute: 60 } } : i < 8 ? { outcome: { reviewNo: 1, outcome: 'lost' as const, minute: 60 } } : {}),
    })),
    // 60 leads only viewed pages: 15 accepted, 5 rejected (not_ready), 40 never escalated. 25 % against 50 %: lift 2.
    ...Array.from({ length: 60 }, (_, i): ScriptedLead => ({
      id: id('pv', i),
      events: [['page.viewed', 1, { path: i < 20 ? '/pricing' : '/blog' }]],
      ...(i < 20 ? { escalations: [[10, 50]] as Array<[number, number]> } : {}),
      ...(i < 15 ? { decisions: [accepted()] } : i < 20 ? { decisions: [rejected('not_ready')] } : {}),
    })),
    // Enrolled in 2025, before the window of `since`: all compared products, none accepted.
    ...Array.from({ length: 10 }, (_, i): ScriptedLead => ({ id: id('old', i), createdAt: '2025-03-03T09:00:00.000Z', events: [['product.compared', 2]] })),
  ];
}
