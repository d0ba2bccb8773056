import type { Condition, FitRule, ScoringRule } from './model.js';
import { RulesSchema } from './model.js';
import { conditionHolds } from '../domain/lead/rules.js';
import { LEAD_FIELDS } from './check.js';

/**
 * Static checks of the qualification rules (`npm run sequences -- check`): event types the flat
 * table does not know are errors, fit rules reading attributes nobody sends are warnings, rules
 * that can never match (contradictory conditions, shadowed by an earlier rule under first-match,
 * a minimum grade no lead can reach) are errors. Pure: the CLI prints what it finds.
 */

export type RuleProblemKind = 'invalid' | 'unknown-event' | 'unknown-attribute' | 'never-matches';

export interface RuleProblem {
  kind: RuleProblemKind;
  severity: 'error' | 'warning';
  /** The rule's id, or `rules` for the model as a whole. */
  rule: string;
  message: string;
}

/** `rule "careers-page": message [kind]`, warnings marked. */
export function formatRuleProblem(p: RuleProblem): string {
  return `${p.severity === 'warning' ? 'warning: ' : ''}rule "${p.rule}": ${p.message} [${p.kind}]`;
}

const operatorOf = (c: Condition): string => Object.keys(c).find((k) => k !== 'field')!;
const describe = (c: Condition): string => `${c.field} ${operatorOf(c)} ${JSON.stringify((c as Record<string, unknown>)[operatorOf(c)])}`;

/** Why no value can meet every condition on one field, or undefined when some value can. */
function contradiction(conditions: Condition[]): string | undefined {
  const text = conditions.map(describe).join(' and ');
  const absent = conditions.some((c) => 'exists' in c && !c.exists);
  if (absent && conditions.some((c) => !('exists' in c && !c.exists))) return `${text}: an absent value meets no other condition`;
  // With equals or oneOf the candidates are known: try each against every condition.
  const candidates = conditions.flatMap((c) => ('equals' in c ? [[c.equals]] : 'oneOf' in c ? [c.oneOf] : []));
  if (candidates.length) {
    const values = candidates.reduce((a, b) => a.filter((v) => b.includes(v)));
    return values.some((v) => conditions.every((c) => conditionHolds(c, v))) ? undefined : `${text}: no value meets them all`;
  }
  const lows = conditions.flatMap((c) => ('atLeast' in c ? [c.atLeast] : []));
  const highs = conditions.flatMap((c) => ('atMost' in c ? [c.atMost] : []));
  if (lows.length && highs.length && Math.max(...lows) > Math.min(...highs)) return `${text}: no number is at least ${Math.max(...lows)} and at most ${Math.min(...highs)}`;
  const prefixes = conditions.flatMap((c) => ('startsWith' in c ? [c.startsWith] : []));
  const longest = prefixes.reduce((a, b) => (b.length > a.length ? b : a), '');
  if (prefixes.some((p) => !longest.startsWith(p))) return `${text}: no text starts with all of these`;
  if ((lows.length || highs.length) && (prefixes.length || conditions.some((c) => 'businessEmail' in c))) return `${text}: a number is no text`;
  return undefined;
}

/** Contradictions among a rule's conditions, field by field. */
function neverHolds(when: readonly Condition[]): string | undefined {
  const byField = new Map<string, Condition[]>();
  for (const c of when) byField.set(c.field, [...(byField.get(c.field) ?? []), c]);
  for (const conditions of byField.values()) {
    const why = contradiction(conditions);
    if (why) return why;
  }
  return undefined;
}

const sameCondition = (a: Condition, b: Condition): boolean => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** Checks the program's rules against the event types of the flat table and the attributes leads have. */
export function checkRules(definition: unknown, eventTypes: readonly string[], knownAttributes: readonly string[]): RuleProblem[] {
  const parsed = RulesSchema.safeParse(definition);
  if (!parsed.success) return parsed.error.issues.map((issue) => ({ kind: 'invalid', severity: 'error', rule: 'rules', message: `${issue.path.join('.') || '(rules)'}: ${issue.message}` }));
  const rules = parsed.data;
  const problems: RuleProblem[] = [];
  const error = (rule: string, kind: RuleProblemKind, message: string) => problems.push({ kind, severity: 'error', rule, message });

  const scoring: ScoringRule[] = rules.scoring ?? [];
  scoring.forEach((rule, i) => {
    if (!eventTypes.includes(rule.event)) error(rule.id, 'unknown-event', `event type "${rule.event}" is unknown (known: ${eventTypes.join(', ')})`);
    const why = neverHolds(rule.when ?? []);
    // First match wins: an earlier rule for the event whose conditions are all among this one's takes every event first.
    const shadow = scoring.slice(0, i).find((earlier) => earlier.event === rule.event && (earlier.when ?? []).every((c) => (rule.when ?? []).some((d) => sameCondition(c, d))));
    if (why) error(rule.id, 'never-matches', why);
    else if (shadow) error(rule.id, 'never-matches', `rule "${shadow.id}" comes first and matches every ${rule.event} event this one would (first match wins): move this rule above it`);
  });

  const fit: FitRule[] = rules.fit?.rules ?? [];
  for (const rule of fit) {
    for (const { field } of rule.when) {
      const [head, name, ...rest] = field.split('.');
      if (head === 'attributes' && name !== undefined && rest.length === 0) {
        if (!knownAttributes.includes(name)) problems.push({ kind: 'unknown-attribute', severity: 'warning', rule: rule.id, message: `reads attributes.${name}, an attribute no source is known to send (known: ${knownAttributes.join(', ')})` });
      } else if (!(LEAD_FIELDS as readonly string[]).includes(field) || field === 'attributes') {
        problems.push({ kind: 'unknown-attribute', severity: 'warning', rule: rule.id, message: `reads "${field}", which is no lead field (${LEAD_FIELDS.filter((f) => f !== 'attributes').join(', ')}) nor attributes.<name>` });
      }
    }
    const why = neverHolds(rule.when);
    if (why) error(rule.id, 'never-matches', why);
  }
  if (rules.fit && rules.minGrade && rules.minGrade !== 'D') {
    const best = fit.filter((r) => r.points > 0).reduce((sum, r) => sum + r.points, 0);
    const needed = rules.fit.grades[rules.minGrade];
    if (best < needed) error('rules', 'never-matches', `minGrade ${rules.minGrade} needs ${needed} fit points, but all positive fit rules together give ${best}: no lead can reach sales review`);
  }
  return problems;
}
