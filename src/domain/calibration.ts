import type { EngagementEvent } from './lead.js';
import { REJECT_REASONS } from './lead.js';
import { hasOwnName } from './own-key.js';
import { matchingRule } from './lead/rules.js';
import type { Program } from '../sequences/model.js';

/**
 * Scoring calibration: for every scoring rule of the program (the flat table's entries and the
 * conditional rules), how the leads that had it fared with sales against the leads that did not,
 * and the points that evidence suggests. Pure: src/leads/calibration.ts feeds it from Postgres.
 * The definitions (lift, shrinkage, minimum sample) are in docs/decisions.md.
 */

/** Below this many leads with a rule (or without it), the report warns that its lift is not to be trusted. */
export const MIN_SAMPLE = 30;

/** A lead as calibration sees it: the rules its events met, and what sales made of it. */
export interface CalibrationLead {
  /** Rule names (flat-table event types, conditional rule ids) at least one of its events scored by. */
  rules: string[];
  escalated: boolean;
  accepted: boolean;
  /** Reasons sales rejected it for (each once). */
  rejectedFor: string[];
  won: boolean;
}

/** The rule an event scores by under the program (the first matching conditional rule, else its flat-table entry), or undefined for an unknown type. */
export function ruleOfEvent(program: Pick<Program, 'scoring' | 'rules'>, event: Pick<EngagementEvent, 'type' | 'properties'>): string | undefined {
  if (!hasOwnName(program.scoring, event.type)) return undefined;
  return matchingRule(program.rules, event)?.id ?? event.type;
}

export interface RuleCalibration {
  /** The flat-table event type or the conditional rule id. */
  rule: string;
  eventType: string;
  kind: 'flat' | 'conditional';
  currentPoints: number;
  /** Leads with the rule, and of those: escalated, accepted, rejected (at least once), by reason, won. */
  leads: number;
  escalated: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  won: number;
  /** Share of leads with / without the rule that sales accepted (or won); null without leads. */
  acceptedRate: number | null;
  acceptedRateWithout: number | null;
  /** acceptedRate / acceptedRateWithout; null when either is unknown or the rate without is 0. */
  lift: number | null;
  suggestedPoints: number | null;
  /** Leads the lift is computed from: with the rule, and without. */
  sampleSize: { with: number; without: number };
  /** A plain sentence when the sample is too small to trust (or the lift cannot be computed), else null. */
  warning: string | null;
}

export interface ScoringCalibration {
  rules: RuleCalibration[];
  threshold: { points: number; leads: number; escalated: number; accepted: number; rejected: number; won: number; acceptanceRate: number | null };
  minSample: number;
}

/**
 * Points the evidence suggests for a rule: its current points scaled by the lift, shrunk towards
 * "no change" for small samples (weight n / (n + MIN_SAMPLE)), a rule that takes points scaled
 * the other way, and bounded by the threshold (one event never escalates a lead alone by suggestion).
 */
export function suggestedPoints(current: number, lift: number | null, leadsWith: number, threshold: number): number | null {
  if (lift === null) return null;
  const weight = leadsWith / (leadsWith + MIN_SAMPLE);
  const shrunk = 1 + weight * (lift - 1);
  const raw = current >= 0 ? current * shrunk : current / shrunk;
  return Math.max(-threshold, Math.min(threshold, Math.round(raw)));
}

const rate = (good: number, of: number): number | null => (of > 0 ? good / of : null);
const isGood = (lead: CalibrationLead): boolean => lead.accepted || lead.won;

function warningOf(rule: string, withRule: number, without: number, lift: number | null, rateWithout: number | null): string | null {
  if (withRule < MIN_SAMPLE) return `only ${withRule} lead(s) had ${rule} (fewer than ${MIN_SAMPLE}): too few to trust its lift`;
  if (without < MIN_SAMPLE) return `only ${without} lead(s) lacked ${rule} (fewer than ${MIN_SAMPLE}): nothing to compare its leads with`;
  if (lift === null && rateWithout === 0) return `no lead without ${rule} was accepted: the lift cannot be computed`;
  return null;
}

/** The calibration report over a population of leads, for the program's rules. */
export function calibrate(program: Pick<Program, 'scoring' | 'rules' | 'threshold'>, leads: CalibrationLead[]): ScoringCalibration {
  const rules = [
    ...Object.entries(program.scoring).map(([type, points]) => ({ rule: type, eventType: type, kind: 'flat' as const, currentPoints: points })),
    ...(program.rules?.scoring ?? []).map((r) => ({ rule: r.id, eventType: r.event, kind: 'conditional' as const, currentPoints: r.points })),
  ];
  const good = leads.filter(isGood).length;
  return {
    rules: rules.map((r) => {
      const having = leads.filter((l) => l.rules.includes(r.rule));
      const goodWith = having.filter(isGood).length;
      const without = leads.length - having.length;
      const acceptedRate = rate(goodWith, having.length);
      const acceptedRateWithout = rate(good - goodWith, without);
      const lift = acceptedRate !== null && acceptedRateWithout ? acceptedRate / acceptedRateWithout : null;
      const rejectedByReason: Record<string, number> = {};
      for (const reason of REJECT_REASONS) {
        const n = having.filter((l) => l.rejectedFor.includes(reason)).length;
        if (n > 0) rejectedByReason[reason] = n;
      }
      return {
        ...r,
        leads: having.length,
        escalated: having.filter((l) => l.escalated).length,
        accepted: having.filter((l) => l.accepted).length,
        rejected: having.filter((l) => l.rejectedFor.length > 0).length,
        rejectedByReason,
        won: having.filter((l) => l.won).length,
        acceptedRate,
        acceptedRateWithout,
        lift,
        suggestedPoints: suggestedPoints(r.currentPoints, lift, having.length, program.threshold),
        sampleSize: { with: having.length, without },
        warning: warningOf(r.rule, having.length, without, lift, acceptedRateWithout),
      };
    }),
    threshold: {
      points: program.threshold,
      leads: leads.length,
      escalated: leads.filter((l) => l.escalated).length,
      accepted: leads.filter((l) => l.accepted).length,
      rejected: leads.filter((l) => l.rejectedFor.length > 0).length,
      won: leads.filter((l) => l.won).length,
      acceptanceRate: rate(leads.filter((l) => l.accepted).length, leads.filter((l) => l.escalated).length),
    },
    minSample: MIN_SAMPLE,
  };
}
