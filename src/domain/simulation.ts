import type { EngagementEvent, Grade, LeadProfile, OutcomeReport, RejectReason } from './lead.js';
import { hasOwnName } from './own-key.js';
import { reduce, wakeAt, type LeadInput } from './lead/reduce.js';
import { checkDecision, type Decision } from './lead/review.js';
import { checkOutcome } from './lead/outcome.js';
import { newLeadState, type LeadMachineState } from './lead/state.js';
import type { FitModel, ProgramSnapshot } from '../sequences/model.js';

/**
 * What-if: the recorded inputs of past leads replayed through the lead machine the workflow runs
 * (src/domain/lead/), under the lead's program and under a changed one. Pure: the loader
 * (src/leads/simulation.ts) reads Postgres, this decides. docs/decisions.md says what the replay
 * reproduces exactly and where it cannot.
 */

/** A change to the program: the threshold, points of flat-table entries or conditional rules (by name), the fit model. */
export interface ProgramChange {
  threshold?: number;
  /** Event type of the flat table, or id of a conditional scoring rule → its new points. */
  scoring?: Record<string, number>;
  /** Replaces the fit rules and grades. */
  fit?: FitModel;
  /** The grade sales review needs (with fit rules). */
  minGrade?: Grade;
}

/** One thing wrong with a change, as a field path under the request body and a sentence. */
export interface ChangeProblem {
  path: string;
  message: string;
}

/** What a change cannot mean under `program`: unknown names, flat points below 0, a rule at 0, minGrade without fit rules. */
export function checkProgramChange(program: Pick<ProgramSnapshot, 'scoring' | 'rules'>, change: ProgramChange, at = 'body.program'): ChangeProblem[] {
  const problems: ChangeProblem[] = [];
  const ruleIds = (program.rules?.scoring ?? []).map((r) => r.id);
  for (const [name, points] of Object.entries(change.scoring ?? {})) {
    const path = `${at}.scoring.${name}`;
    if (hasOwnName(program.scoring, name)) {
      if (points < 0) problems.push({ path, message: `points of the flat table are 0 or more (got ${points})` });
    } else if (ruleIds.includes(name)) {
      if (points === 0) problems.push({ path, message: 'a conditional rule gives or takes points (0 would remove it)' });
    } else {
      problems.push({ path, message: `"${name}" is neither an event type of the flat table (${Object.keys(program.scoring).join(', ')}) nor a conditional rule${ruleIds.length ? ` (${ruleIds.join(', ')})` : ''}` });
    }
  }
  if (change.minGrade !== undefined && !(change.fit ?? program.rules?.fit)) problems.push({ path: `${at}.minGrade`, message: 'minGrade needs fit rules to grade leads' });
  return problems;
}

/** The program with the change applied (checked first with checkProgramChange). */
export function withChange(program: ProgramSnapshot, change: ProgramChange): ProgramSnapshot {
  const points = change.scoring ?? {};
  const flat = Object.fromEntries(Object.entries(program.scoring).map(([type, p]) => [type, hasOwnName(points, type) ? points[type]! : p]));
  const rules = program.rules;
  const touchesRules = change.fit !== undefined || change.minGrade !== undefined || (rules?.scoring ?? []).some((r) => hasOwnName(points, r.id));
  return {
    ...program,
    ...(change.threshold !== undefined ? { threshold: change.threshold } : {}),
    scoring: flat,
    ...(touchesRules
      ? {
          rules: {
            ...(rules ?? { version: 1 }),
            ...(rules?.scoring ? { scoring: rules.scoring.map((r) => (hasOwnName(points, r.id) ? { ...r, points: points[r.id]! } : r)) } : {}),
            ...(change.fit ? { fit: change.fit } : {}),
            ...(change.minGrade ? { minGrade: change.minGrade } : {}),
          },
        }
      : {}),
  };
}

/** A sales decision as recorded (sales_decisions). */
export interface RecordedDecision {
  at: number;
  reviewNo: number;
  decision: 'accepted' | 'rejected' | 'disqualified';
  reason: string | null;
  by: string;
}

/** An outcome sales reported on an accepted lead, as recorded (lead_outcomes). */
export interface RecordedOutcome {
  at: number;
  reviewNo: number;
  report: OutcomeReport;
}

/** A past lead as the replay needs it: its inputs with the times the lead took them, and what really happened. */
export interface RecordedLead {
  profile: LeadProfile;
  /** The program the lead runs (its snapshot as a new enrolment in its sequence would get it now). */
  program: ProgramSnapshot;
  /** When the lead was enrolled (epoch ms). */
  enrolledAt: number;
  /** Engagement events its workflow received, in the order it received them, each at the time it was delivered (epoch ms). */
  events: Array<{ at: number; event: EngagementEvent }>;
  decisions: RecordedDecision[];
  /** Its real escalations (lead_transitions to sales_review), oldest first. */
  escalations: Array<{ at: number; score: number }>;
  /** Reviews that ended won (lead_outcomes). */
  won: number[];
  /** The outcomes sales reported (won, lost, lost and recycled to nurturing), oldest first; absent: none. */
  outcomes?: RecordedOutcome[];
}

/** One escalation of a replayed lead: when, at which score, in which review, and the event that crossed the threshold. */
export interface ReplayedEscalation {
  at: number;
  score: number;
  reviewNo: number;
  eventId: string | null;
}

/** Where the replay's inputs come from: an event or a decision, at its time. */
type Step = { at: number; input: LeadInput; eventId?: string };

function decisionOf(d: RecordedDecision): Decision {
  if (d.decision === 'accepted') return { kind: 'accept', by: d.by };
  if (d.decision === 'rejected') return { kind: 'reject', by: d.by, reason: (d.reason ?? 'other') as RejectReason };
  return { kind: 'disqualify', by: d.by, reason: d.reason ?? 'disqualified' };
}

/**
 * Replays one lead under `program`: its events and the decisions sales took (each one taken only
 * when the replayed lead is in review at that moment, as the Update validator would), the timers
 * the lead asked for in between (decay, SLA, sequence), and answers its escalations.
 */
export function replayLead(lead: RecordedLead, program: ProgramSnapshot): ReplayedEscalation[] {
  const steps: Step[] = [
    ...lead.events.map((e): Step => ({ at: e.at, input: { kind: 'engagement', event: e.event }, eventId: e.event.eventId })),
    ...lead.decisions.map((d): Step => ({ at: d.at, input: { kind: 'decision', decision: decisionOf(d) } })),
    ...(lead.outcomes ?? []).map((o): Step => ({ at: o.at, input: { kind: 'outcome', report: o.report } })),
  ]
    // Stable: at the same millisecond an event goes before a decision, a decision before an outcome (listed in that order).
    .sort((a, b) => a.at - b.at);
  let state: LeadMachineState = newLeadState(lead.profile, { now: lead.enrolledAt, program });
  state = reduce(state, { kind: 'enrolment' }, { now: lead.enrolledAt, program }).state;
  const escalations: ReplayedEscalation[] = [];
  for (const step of steps) {
    // Timers due before this input fire first, as the workflow's would (decay drops points at its time).
    for (let wake = wakeAt(state, { now: step.at, program }).lead; wake !== undefined && wake <= step.at; wake = wakeAt(state, { now: wake, program }).lead) {
      const next = reduce(state, { kind: 'timerDue' }, { now: wake, program }).state;
      if (wakeAt(next, { now: wake, program }).lead === wake) break; // nothing moved: never spin
      state = next;
    }
    if (step.input.kind === 'decision' && checkDecision(state, step.input.decision) !== undefined) continue;
    // An outcome only on a replayed lead that is accepted and waiting for one, as the Update validator takes it.
    if (step.input.kind === 'outcome' && checkOutcome(state, step.input.report) !== undefined) continue;
    const before = state.reviewCount;
    state = reduce(state, step.input, { now: step.at, program }).state;
    if (state.reviewCount > before) escalations.push({ at: step.at, score: state.engagement.score, reviewNo: state.reviewCount, eventId: step.eventId ?? null });
  }
  return escalations;
}

/** How a lead's escalations change: the first one earlier, later, new, gone, or the same first one and different later reviews. */
export type EscalationChange = 'earlier' | 'later' | 'new' | 'gone' | 'reviews';

export interface LeadSimulation {
  leadId: string;
  /** Real escalation times (ISO-8601), oldest first. */
  now: string[];
  /** Escalation times under the changed program. */
  simulated: string[];
  /** Scores at the simulated escalations. */
  simulatedScores: number[];
  /** The events that crossed the threshold at the simulated escalations. */
  simulatedBy: Array<string | null>;
  /** Differs from the replay under the lead's own program (undefined: the same escalations). */
  change?: EscalationChange;
  /** The replay under the lead's own program did not give its real escalations (count or score): the why. */
  unreproduced?: string;
  accepted: boolean;
  rejected: boolean;
  won: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const sameEscalations = (a: ReplayedEscalation[], b: ReplayedEscalation[]): boolean => a.length === b.length && a.every((e, i) => e.eventId === b[i]!.eventId && e.at === b[i]!.at);

function changeOf(baseline: ReplayedEscalation[], simulated: ReplayedEscalation[]): EscalationChange | undefined {
  if (sameEscalations(baseline, simulated)) return undefined;
  const [was, will] = [baseline[0], simulated[0]];
  if (!was) return 'new';
  if (!will) return 'gone';
  return will.at < was.at ? 'earlier' : will.at > was.at ? 'later' : 'reviews';
}

/** Why the replay under the lead's own program differs from its record, or undefined when it reproduces it. */
function unreproducedBy(lead: RecordedLead, baseline: ReplayedEscalation[]): string | undefined {
  const real = lead.escalations;
  if (real.length !== baseline.length) return `escalated ${real.length} time(s), the replay ${baseline.length}`;
  const i = real.findIndex((e, k) => e.score !== baseline[k]!.score);
  return i < 0 ? undefined : `review #${i + 1} escalated at score ${real[i]!.score}, the replay at ${baseline[i]!.score}`;
}

/**
 * Simulates one lead: the replay under its own program (which must give its real escalations)
 * and under the changed one. An escalation both replays owe to the same event is the recorded one
 * and carries its recorded time; a new one carries the time of the event that caused it.
 */
export function simulateLead(lead: RecordedLead, change: ProgramChange): LeadSimulation {
  const baseline = replayLead(lead, lead.program);
  const simulated = replayLead(lead, withChange(lead.program, change));
  const unreproduced = unreproducedBy(lead, baseline);
  const recordedAt = (e: ReplayedEscalation): number => {
    const k = baseline.findIndex((b) => b.eventId === e.eventId && b.reviewNo === e.reviewNo);
    return !unreproduced && k >= 0 ? lead.escalations[k]!.at : e.at;
  };
  const shift = changeOf(baseline, simulated);
  return {
    leadId: lead.profile.id,
    now: lead.escalations.map((e) => iso(e.at)),
    simulated: simulated.map((e) => iso(recordedAt(e))),
    simulatedScores: simulated.map((e) => e.score),
    simulatedBy: simulated.map((e) => e.eventId),
    ...(shift ? { change: shift } : {}),
    ...(unreproduced ? { unreproduced } : {}),
    accepted: lead.decisions.some((d) => d.decision === 'accepted'),
    rejected: lead.decisions.some((d) => d.decision === 'rejected'),
    won: lead.won.length > 0,
  };
}

/** What POST /v1/simulations answers. */
export interface SimulationReport {
  leads: number;
  /** Escalations (reviews) in all: real, and under the changed program. */
  escalations: { now: number; simulated: number };
  /** Leads that escalated at least once: real, and under the changed program. */
  leadsEscalated: { now: number; simulated: number };
  /** Leads whose escalations change, with their first escalation now and simulated (ISO-8601 or null) and all of them. */
  changed: Array<{ leadId: string; change: EscalationChange; now: string | null; simulated: string | null; escalationsNow: string[]; escalationsSimulated: string[] }>;
  /** Leads that escalate earlier than they did, or that never did. */
  newlyEscalated: number;
  /** Of the newly escalated: how many sales actually accepted, rejected (at least once), won. */
  acceptedAmongNew: number;
  rejectedAmongNew: number;
  wonAmongNew: number;
  /** Leads whose own program did not replay into their real escalations: their results are not to be trusted. */
  unreproduced: Array<{ leadId: string; reason: string }>;
}

/** Sums the simulated leads into the report. */
export function simulationReport(results: LeadSimulation[]): SimulationReport {
  const changed = results
    .filter((r) => r.change)
    .map((r) => ({ leadId: r.leadId, change: r.change!, now: r.now[0] ?? null, simulated: r.simulated[0] ?? null, escalationsNow: r.now, escalationsSimulated: r.simulated }));
  const isNew = new Set(changed.filter((c) => c.change === 'earlier' || c.change === 'new').map((c) => c.leadId));
  const newly = results.filter((r) => isNew.has(r.leadId));
  return {
    leads: results.length,
    escalations: { now: results.reduce((n, r) => n + r.now.length, 0), simulated: results.reduce((n, r) => n + r.simulated.length, 0) },
    leadsEscalated: { now: results.filter((r) => r.now.length > 0).length, simulated: results.filter((r) => r.simulated.length > 0).length },
    changed,
    newlyEscalated: newly.length,
    acceptedAmongNew: newly.filter((r) => r.accepted).length,
    rejectedAmongNew: newly.filter((r) => r.rejected).length,
    wonAmongNew: newly.filter((r) => r.won).length,
    unreproduced: results.filter((r) => r.unreproduced).map((r) => ({ leadId: r.leadId, reason: r.unreproduced! })),
  };
}
