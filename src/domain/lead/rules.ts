import type { EngagementEvent, Grade, LeadProfile } from '../lead.js';
import { GRADES } from '../lead.js';
import type { Condition, FitModel, Rules, ScoringRule } from '../../sequences/model.js';
import { durationMs } from '../../sequences/steps.js';

/**
 * The qualification model: conditions over event properties and profile fields, conditional
 * scoring rules (first match wins, capped per period), fit rules summed into a grade A–D, and
 * the minimum grade sales review needs. Pure: the lead machine, the check and the tests run it.
 */

/** Domains of free mail providers: `businessEmail` is false for an address at one of them. */
export const FREE_MAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'ymail.com',
  'hotmail.com',
  'outlook.com',
  'live.com',
  'msn.com',
  'icloud.com',
  'me.com',
  'aol.com',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'web.de',
  'mail.com',
  'proton.me',
  'protonmail.com',
  'yandex.ru',
  'yandex.com',
  'mail.ru',
  'qq.com',
  '163.com',
  'zoho.com',
];

/** The value at a dotted path of own keys (`attributes.employees`), or undefined. */
export function valueAt(source: unknown, field: string): unknown {
  let value: unknown = source;
  for (const key of field.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A number, or a string that is one (CSV imports give attributes as strings); else undefined. */
function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

const present = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

/** Whether one condition holds of a value (the field's, read by the caller). */
export function conditionHolds(condition: Condition, value: unknown): boolean {
  if ('equals' in condition) return value === condition.equals;
  if ('oneOf' in condition) return (typeof value === 'string' || typeof value === 'number') && condition.oneOf.includes(value);
  if ('atLeast' in condition) {
    const n = numberOf(value);
    return n !== undefined && n >= condition.atLeast;
  }
  if ('atMost' in condition) {
    const n = numberOf(value);
    return n !== undefined && n <= condition.atMost;
  }
  if ('exists' in condition) return present(value) === condition.exists;
  if ('startsWith' in condition) return typeof value === 'string' && value.startsWith(condition.startsWith);
  const at = typeof value === 'string' ? value.lastIndexOf('@') : -1;
  return at > 0 && !FREE_MAIL_DOMAINS.includes((value as string).slice(at + 1).toLowerCase());
}

/** Whether every condition holds of `source` (event properties or the profile). */
export const allHold = (when: readonly Condition[] | undefined, source: unknown): boolean => (when ?? []).every((c) => conditionHolds(c, valueAt(source, c.field)));

/** Fit points of a profile and the rules that gave them (every matching rule counts). */
export function fitOf(profile: LeadProfile, fit: FitModel): { points: number; rules: string[] } {
  const matched = fit.rules.filter((rule) => allHold(rule.when, profile));
  return { points: matched.reduce((sum, rule) => sum + rule.points, 0), rules: matched.map((rule) => rule.id) };
}

/** The grade of fit points: A, B, C from the model's thresholds, D below C's. */
export function gradeFor(points: number, grades: FitModel['grades']): Grade {
  return points >= grades.A ? 'A' : points >= grades.B ? 'B' : points >= grades.C ? 'C' : 'D';
}

/** The lead's grade under `rules`, or null when they have no fit rules. */
export function gradeOf(profile: LeadProfile, rules: Rules | undefined): Grade | null {
  return rules?.fit ? gradeFor(fitOf(profile, rules.fit).points, rules.fit.grades) : null;
}

/** Whether `grade` is `min` or better (no requirement: always). */
export const gradeAtLeast = (grade: Grade | null, min: Grade | undefined): boolean => min === undefined || (grade !== null && GRADES.indexOf(grade) <= GRADES.indexOf(min));

/** The points a capped rule gave in its current period, which opened with its first points. */
export interface CapPeriod {
  since: number;
  points: number;
}

/** What one event scores: the points, the rule that gave them, and whether a cap cut them. */
export interface EventScore {
  points: number;
  /** A rule id, or the event type for the flat table's entry. */
  rule: string;
  /** Points the rule would have given without its cap (only when the cap cut them). */
  cappedFrom?: number;
  /** The caps' periods after this event (only when a capped rule matched). */
  caps?: Record<string, CapPeriod>;
}

/** The first conditional rule that matches the event, or undefined. */
export const matchingRule = (rules: Rules | undefined, event: Pick<EngagementEvent, 'type' | 'properties'>): ScoringRule | undefined =>
  rules?.scoring?.find((rule) => rule.event === event.type && allHold(rule.when, event.properties ?? {}));

/**
 * Scores one event: the first conditional rule that matches gives its points (within its cap),
 * else the flat table does. Undefined for an event type the flat table does not name (unknown).
 */
export function scoreEvent(scoring: Record<string, number>, rules: Rules | undefined, event: Pick<EngagementEvent, 'type' | 'properties'>, caps: Record<string, CapPeriod>, now: number): EventScore | undefined {
  if (!Object.hasOwn(scoring, event.type)) return undefined;
  const rule = matchingRule(rules, event);
  if (!rule) return { points: scoring[event.type]!, rule: event.type };
  if (!rule.cap) return { points: rule.points, rule: rule.id };
  const period = Object.hasOwn(caps, rule.id) ? caps[rule.id]! : undefined;
  const open = period && now < period.since + durationMs(rule.cap.per) ? period : { since: now, points: 0 };
  const room = Math.max(0, rule.cap.points - open.points);
  const given = Math.sign(rule.points) * Math.min(Math.abs(rule.points), room);
  return {
    points: given,
    rule: rule.id,
    ...(given !== rule.points ? { cappedFrom: rule.points } : {}),
    caps: { ...caps, [rule.id]: { since: open.since, points: open.points + Math.abs(given) } },
  };
}

/** `+10`, `-10`. */
export const signed = (points: number): string => (points < 0 ? `${points}` : `+${points}`);
