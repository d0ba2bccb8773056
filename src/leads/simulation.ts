import type { Pool } from '../infra/db.js';
import type { LeadProfile } from '../domain/lead.js';
import { simulateLead, simulationReport, type LeadSimulation, type ProgramChange, type RecordedDecision, type RecordedLead, type SimulationReport } from '../domain/simulation.js';
import { DEFAULT_SEQUENCE_ID, programSnapshot, sequences } from '../sequences/catalog.js';
import type { Program, ProgramSnapshot } from '../sequences/model.js';
import { hasOwnName } from '../domain/own-key.js';

/** Leads loaded and replayed per query. */
const PAGE = 200;

/** Which past leads a simulation replays: enrolled since an instant, or these ids (both: both hold). */
export interface SimulationScope {
  since?: Date;
  leadIds?: string[];
}

interface Row {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  timezone: string | null;
  attributes: Record<string, unknown>;
  enrol_sequence: string;
  enrolled_at: number;
  events: Array<{ at: number; eventId: string; type: string; occurredAt: string; properties: Record<string, unknown> }>;
  decisions: Array<{ at: number; reviewNo: number; decision: RecordedDecision['decision']; reason: string | null; by: string }>;
  escalations: Array<{ at: number; score: number }>;
  won: number[];
  outcomes: Array<{ at: number; reviewNo: number; outcome: 'won' | 'lost'; amount: string | number | null; currency: string | null; reason: string | null; recycle: boolean; by: string }>;
}

/** An instant column as epoch milliseconds (a JSON number). */
function epochMs(column: string): string {
  return `floor(extract(epoch FROM ${column}) * 1000)::float8`;
}

/**
 * One page of past leads with everything the replay needs: events the workflow received (in the
 * order the relay and the API delivered them, at their delivery time), sales decisions, real
 * escalations, won reviews, and every outcome sales reported (a lost one may recycle the lead).
 */
const LEADS = `
  SELECT l.id, l.email, l.first_name, l.last_name, l.company, l.timezone, l.attributes, l.enrol_sequence,
         ${epochMs('l.created_at')} AS enrolled_at,
         coalesce((SELECT json_agg(json_build_object('at', ${epochMs('e.delivered_at')}, 'eventId', e.event_id, 'type', e.type,
                                   'occurredAt', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'properties', e.properties) ORDER BY e.seq)
                     FROM lead_events e WHERE e.lead_id = l.id AND e.delivered_at IS NOT NULL), '[]'::json) AS events,
         coalesce((SELECT json_agg(json_build_object('at', ${epochMs('d.at')}, 'reviewNo', d.review_no, 'decision', d.decision, 'reason', d.reason, 'by', d.decided_by) ORDER BY d.at)
                     FROM sales_decisions d WHERE d.lead_id = l.id), '[]'::json) AS decisions,
         coalesce((SELECT json_agg(json_build_object('at', ${epochMs('t.at')}, 'score', t.score) ORDER BY t.at, t.id)
                     FROM lead_transitions t WHERE t.lead_id = l.id AND t.to_stage = 'sales_review'), '[]'::json) AS escalations,
         ARRAY(SELECT o.review_no FROM lead_outcomes o WHERE o.lead_id = l.id AND o.outcome = 'won' ORDER BY o.review_no) AS won,
         coalesce((SELECT json_agg(json_build_object('at', ${epochMs('o.decided_at')}, 'reviewNo', o.review_no, 'outcome', o.outcome, 'amount', o.amount, 'currency', o.currency,
                                   'reason', o.reason, 'recycle', o.recycle, 'by', o.decided_by) ORDER BY o.decided_at, o.review_no)
                     FROM lead_outcomes o WHERE o.lead_id = l.id), '[]'::json) AS outcomes
    FROM leads l
   WHERE ($1::timestamptz IS NULL OR l.created_at >= $1) AND ($2::text[] IS NULL OR l.id = ANY($2)) AND ($3::text IS NULL OR l.id > $3)
   ORDER BY l.id
   LIMIT $4`;

const profileOf = (row: Row): LeadProfile => ({
  id: row.id,
  email: row.email,
  ...(row.first_name ? { firstName: row.first_name } : {}),
  ...(row.last_name ? { lastName: row.last_name } : {}),
  ...(row.company ? { company: row.company } : {}),
  ...(row.timezone ? { timezone: row.timezone } : {}),
  ...(row.attributes && Object.keys(row.attributes).length ? { attributes: row.attributes } : {}),
});

/** The past lead as the replay takes it, under `program` as a new enrolment in its sequence gets it. */
function recordedLead(row: Row, snapshotOf: (sequence: string) => ProgramSnapshot): RecordedLead {
  return {
    profile: profileOf(row),
    program: snapshotOf(row.enrol_sequence),
    enrolledAt: row.enrolled_at,
    events: row.events.map(({ at, eventId, type, occurredAt, properties }) => ({ at, event: { eventId, type, occurredAt, ...(Object.keys(properties).length ? { properties } : {}) } })),
    decisions: row.decisions,
    escalations: row.escalations,
    won: row.won,
    outcomes: row.outcomes.map(({ at, reviewNo, outcome, amount, currency, reason, recycle, by }) => ({
      at,
      reviewNo,
      report: { by, outcome, ...(amount !== null ? { amount: Number(amount) } : {}), ...(currency ? { currency } : {}), ...(reason ? { reason } : {}), ...(recycle ? { recycle } : {}) },
    })),
  };
}

/** What POST /v1/simulations answers: the report over runSimulation's leads. */
export async function simulationOf(pool: Pool, program: Program, change: ProgramChange, scope: SimulationScope = {}, onProgress?: (done: number) => void): Promise<SimulationReport> {
  return simulationReport(await runSimulation(pool, program, change, scope, onProgress));
}

/**
 * Replays the past leads in scope through the lead machine under `change`, a page at a time, and
 * answers each lead's result; `onProgress` hears how many leads are done.
 */
export async function runSimulation(pool: Pool, program: Program, change: ProgramChange, scope: SimulationScope = {}, onProgress?: (done: number) => void): Promise<LeadSimulation[]> {
  const snapshots = new Map<string, ProgramSnapshot>();
  const snapshotOf = (sequence: string): ProgramSnapshot => {
    // A lead of a sequence since removed from the library runs the default one (its escalations do not depend on it).
    const id = hasOwnName(sequences, sequence) ? sequence : DEFAULT_SEQUENCE_ID;
    if (!snapshots.has(id)) snapshots.set(id, programSnapshot(id, program));
    return snapshots.get(id)!;
  };
  const results: LeadSimulation[] = [];
  for (let after: string | null = null; ; ) {
    const { rows }: { rows: Row[] } = await pool.query<Row>(LEADS, [scope.since ?? null, scope.leadIds ?? null, after, PAGE]);
    for (const row of rows) results.push(simulateLead(recordedLead(row, snapshotOf), change));
    onProgress?.(results.length);
    if (rows.length < PAGE) break;
    after = rows.at(-1)!.id;
  }
  return results;
}
