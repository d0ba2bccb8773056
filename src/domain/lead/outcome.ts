import { ErrorCodes } from '../errors.js';
import { OUTCOMES, type OutcomeRecord, type OutcomeReport } from '../lead.js';
import type { LeadMachineState } from './state.js';

/**
 * What sales reports after accepting a lead: the opportunity was won (with an amount) or lost
 * (with a reason); a lost lead may recycle into nurturing. One outcome per review: the same
 * report again (a retried request) is a duplicate that changes nothing.
 */

export { OUTCOMES, type Outcome, type OutcomeRecord, type OutcomeReport } from '../lead.js';

export interface OutcomeRefusal {
  code: string;
  message: string;
  /** The outcome already recorded for the lead's latest review, when there is one. */
  recorded?: OutcomeRecord;
}

/** The fields that make two reports the same report (who, what, how much, why, recycle or not). */
export const sameReport = (a: OutcomeReport, b: OutcomeReport): boolean =>
  a.by === b.by && a.outcome === b.outcome && (a.amount ?? null) === (b.amount ?? null) && (a.currency ?? null) === (b.currency ?? null) && (a.reason ?? null) === (b.reason ?? null) && Boolean(a.recycle) === Boolean(b.recycle);

/** The last outcome recorded for the lead's latest review, if any. */
export const currentOutcome = (state: Pick<LeadMachineState, 'outcome' | 'reviewCount'>): OutcomeRecord | undefined =>
  state.outcome && state.outcome.reviewNo === state.reviewCount ? state.outcome : undefined;

/** What is wrong with the report itself (the API checks the same at its edge, naming the field). */
export function invalidOutcome(report: OutcomeReport): string | undefined {
  if (typeof report.by !== 'string' || !report.by.trim()) return 'an outcome names who reported it (by)';
  if (!(OUTCOMES as readonly string[]).includes(report.outcome)) return `unknown outcome "${String(report.outcome)}": won or lost`;
  if (report.outcome === 'won') {
    if (typeof report.amount !== 'number' || !Number.isFinite(report.amount) || report.amount < 0) return 'a won outcome carries its amount (0 or more)';
    if (report.reason !== undefined || report.recycle) return 'a won outcome carries no reason and does not recycle';
  } else {
    if (typeof report.reason !== 'string' || !report.reason.trim()) return 'a lost outcome carries its reason';
    if (report.amount !== undefined || report.currency !== undefined) return 'a lost outcome carries no amount';
  }
  return undefined;
}

/**
 * The check both the Update validator and the handler run. `duplicate`: this very report is the
 * one recorded for the latest review (a retry): answered again, nothing changes. Otherwise a
 * refusal unless the lead is accepted and its latest review has no outcome yet.
 */
export function checkOutcome(state: Pick<LeadMachineState, 'stage' | 'profile' | 'outcome' | 'reviewCount'>, report: OutcomeReport): OutcomeRefusal | 'duplicate' | undefined {
  const recorded = currentOutcome(state);
  if (recorded && sameReport(recorded, report)) return 'duplicate';
  if (state.stage !== 'accepted' || recorded) {
    const why = recorded ? `its review #${recorded.reviewNo} was already reported ${recorded.outcome} by ${recorded.by}` : `it is ${state.stage}`;
    return { code: ErrorCodes.notAccepted, message: `lead ${state.profile.id} has no accepted review waiting for an outcome: ${why}`, ...(recorded ? { recorded } : {}) };
  }
  const invalid = invalidOutcome(report);
  return invalid ? { code: ErrorCodes.invalidDecision, message: invalid } : undefined;
}

/** True once the lead's story is over: disqualified, or accepted with its outcome reported (won, or lost without recycling). */
export const isClosed = (state: Pick<LeadMachineState, 'stage' | 'outcome' | 'reviewCount'>): boolean =>
  state.stage === 'disqualified' || (state.stage === 'accepted' && currentOutcome(state) !== undefined);
