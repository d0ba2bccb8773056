import { describe, expect, it } from 'vitest';
import type { LeadProfile } from '../../src/domain/lead.js';
import { leadView, newLeadState, reduce, type LeadContext, type LeadEffect, type LeadInput, type LeadMachineState } from '../../src/domain/lead/index.js';
import { conditionHolds, gradeOf, scoreEvent, valueAt, type CapPeriod } from '../../src/domain/lead/rules.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';
import { ConditionSchema, RulesSchema, type Program, type ProgramSnapshot, type Rules } from '../../src/sequences/model.js';
import { checkRules } from '../../src/sequences/rules-check.js';
import { DEFAULT_RULES, DEFAULT_SCORING, KNOWN_ATTRIBUTES } from '../../src/sequences/scoring.js';

/** The qualification model, pure: conditions, conditional scoring with caps, fit grades, the minimum grade, the check. */

const DAY = 86_400_000;
/** Monday 5 January 2026, 10:00 UTC. */
const T0 = Date.UTC(2026, 0, 5, 10);

const rules: Rules = RulesSchema.parse({
  version: 2,
  scoring: [
    { id: 'pricing-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 10 },
    { id: 'careers-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/careers' }], points: -10 },
    { id: 'opens-capped', event: 'email.opened', points: 1, cap: { points: 5, per: '7 days' } },
    { id: 'careers-capped', event: 'webinar.viewed', when: [{ field: 'topic', equals: 'hiring' }], points: -4, cap: { points: 6, per: '1 day' } },
  ],
  fit: {
    rules: [
      { id: 'business-email', when: [{ field: 'email', businessEmail: true }], points: 20 },
      { id: 'decision-maker', when: [{ field: 'attributes.role', oneOf: ['ceo', 'vp'] }], points: 30 },
      { id: 'company-size', when: [{ field: 'attributes.employees', atLeast: 50 }], points: 20 },
      { id: 'student', when: [{ field: 'attributes.role', equals: 'student' }], points: -40 },
    ],
    grades: { A: 60, B: 40, C: 20 },
  },
});
const base: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };
const snapshot = (extra: Partial<Rules> = {}, decay = true): ProgramSnapshot =>
  programSnapshot('onboarding', { ...base, rules: { ...rules, ...extra }, ...(decay ? {} : { decay: undefined }) });

/** Feeds inputs to the machine; `now` moves the clock. */
class Lead {
  state: LeadMachineState;
  effects: LeadEffect[] = [];
  now = T0;
  private n = 0;
  constructor(
    readonly program: ProgramSnapshot,
    profile: LeadProfile = { id: 'Q1', email: 'q1@gmail.com' },
  ) {
    this.state = newLeadState(profile, this.ctx());
    this.send({ kind: 'enrolment' });
  }
  ctx(): LeadContext {
    return { now: this.now, program: this.program };
  }
  send(input: LeadInput): LeadEffect[] {
    const { state, effects } = reduce(this.state, input, this.ctx());
    this.state = state;
    this.effects.push(...effects);
    return effects;
  }
  event(type: string, properties?: Record<string, unknown>): LeadEffect[] {
    return this.send({ kind: 'engagement', event: { eventId: `q-${++this.n}`, type, occurredAt: new Date(this.now).toISOString(), ...(properties ? { properties } : {}) } });
  }
  lastView() {
    return leadView(this.state, this.ctx());
  }
  timeline(): string[] {
    return this.state.timeline.map((t) => t.text);
  }
}

describe('conditions: every operator', () => {
  const holds = (condition: unknown, value: unknown) => conditionHolds(ConditionSchema.parse(condition), value);
  it('equals, oneOf', () => {
    expect(holds({ field: 'x', equals: 'ceo' }, 'ceo')).toBe(true);
    expect(holds({ field: 'x', equals: 'ceo' }, 'CEO')).toBe(false);
    expect(holds({ field: 'x', equals: 3 }, 3)).toBe(true);
    expect(holds({ field: 'x', equals: true }, 'true')).toBe(false);
    expect(holds({ field: 'x', oneOf: ['a', 'b'] }, 'b')).toBe(true);
    expect(holds({ field: 'x', oneOf: ['a', 'b'] }, 'c')).toBe(false);
    expect(holds({ field: 'x', oneOf: ['a'] }, undefined)).toBe(false);
  });
  it('atLeast, atMost: numbers and numeric strings (CSV attributes), nothing else', () => {
    expect(holds({ field: 'x', atLeast: 50 }, 50)).toBe(true);
    expect(holds({ field: 'x', atLeast: 50 }, '120')).toBe(true);
    expect(holds({ field: 'x', atLeast: 50 }, 49)).toBe(false);
    expect(holds({ field: 'x', atLeast: 0 }, 'many')).toBe(false);
    expect(holds({ field: 'x', atLeast: 0 }, '')).toBe(false);
    expect(holds({ field: 'x', atMost: 10 }, 10)).toBe(true);
    expect(holds({ field: 'x', atMost: 10 }, 11)).toBe(false);
    expect(holds({ field: 'x', atMost: 10 }, undefined)).toBe(false);
  });
  it('exists, startsWith, businessEmail', () => {
    expect(holds({ field: 'x', exists: true }, 'Acme')).toBe(true);
    expect(holds({ field: 'x', exists: true }, '')).toBe(false);
    expect(holds({ field: 'x', exists: false }, undefined)).toBe(true);
    expect(holds({ field: 'x', exists: false }, null)).toBe(true);
    expect(holds({ field: 'x', exists: false }, 0)).toBe(false);
    expect(holds({ field: 'x', startsWith: '/pricing' }, '/pricing/teams')).toBe(true);
    expect(holds({ field: 'x', startsWith: '/pricing' }, '/blog/pricing')).toBe(false);
    expect(holds({ field: 'x', startsWith: '/pricing' }, 42)).toBe(false);
    expect(holds({ field: 'x', businessEmail: true }, 'ada@acme.io')).toBe(true);
    expect(holds({ field: 'x', businessEmail: true }, 'ada@GMail.com')).toBe(false);
    expect(holds({ field: 'x', businessEmail: true }, 'ada@outlook.com')).toBe(false);
    expect(holds({ field: 'x', businessEmail: true }, 'not an address')).toBe(false);
  });
  it('a condition has exactly one operator', () => {
    expect(ConditionSchema.safeParse({ field: 'x', equals: 1, atLeast: 2 }).success).toBe(false);
    expect(ConditionSchema.safeParse({ field: 'x' }).success).toBe(false);
    expect(ConditionSchema.safeParse({ field: 'x', oneOf: [] }).success).toBe(false);
  });
  it('fields are dotted paths of own keys: an inherited name is no value', () => {
    expect(valueAt({ attributes: { employees: 80 } }, 'attributes.employees')).toBe(80);
    expect(valueAt({ attributes: {} }, 'attributes.constructor')).toBeUndefined();
    expect(valueAt({ path: '/x' }, 'path.length')).toBeUndefined();
  });
});

describe('conditional scoring: first match, else the flat table', () => {
  const caps: Record<string, CapPeriod> = {};
  it('the first matching rule gives its points; no match scores by the table; unknown types score nothing', () => {
    expect(scoreEvent(DEFAULT_SCORING, rules, { type: 'page.viewed', properties: { path: '/pricing/teams' } }, caps, T0)).toEqual({ points: 10, rule: 'pricing-page' });
    expect(scoreEvent(DEFAULT_SCORING, rules, { type: 'page.viewed', properties: { path: '/careers' } }, caps, T0)).toEqual({ points: -10, rule: 'careers-page' });
    expect(scoreEvent(DEFAULT_SCORING, rules, { type: 'page.viewed', properties: { path: '/blog' } }, caps, T0)).toEqual({ points: 1, rule: 'page.viewed' });
    expect(scoreEvent(DEFAULT_SCORING, rules, { type: 'page.viewed' }, caps, T0)).toEqual({ points: 1, rule: 'page.viewed' });
    expect(scoreEvent(DEFAULT_SCORING, rules, { type: 'constructor' }, caps, T0)).toBeUndefined();
  });
  it('without rules the numbers are the DESIGN.md table exactly', () => {
    for (const [type, points] of Object.entries(DEFAULT_SCORING)) expect(scoreEvent(DEFAULT_SCORING, undefined, { type, properties: { path: '/pricing' } }, {}, T0)).toEqual({ points, rule: type });
    expect(defaultProgram.rules?.scoring).toBeUndefined();
  });
});

describe('the lead machine under the rules', () => {
  it('negative points subtract, and every line of the breakdown names its rule and when it stops counting', () => {
    const lead = new Lead(snapshot());
    lead.event('pricing.viewed');
    lead.event('page.viewed', { path: '/careers/engineering' });
    expect(lead.state.engagement.score).toBe(0);
    lead.event('page.viewed', { path: '/pricing' });
    expect(lead.state.engagement.score).toBe(10);
    const lines = lead.lastView().scoreBreakdown;
    expect(lines.map((l) => [l.rule, l.type, l.points])).toEqual([
      ['pricing.viewed', 'pricing.viewed', 10],
      ['careers-page', 'page.viewed', -10],
      ['pricing-page', 'page.viewed', 10],
    ]);
    expect(lines.every((l) => l.count === 1 && l.countsUntil === new Date(T0 + 90 * DAY).toISOString())).toBe(true);
    expect(lead.timeline()).toContain('page.viewed -10 (rule careers-page) → score 0');
  });

  it('a decayed negative item stops taking its points: the score rises back', () => {
    const lead = new Lead(snapshot());
    lead.event('product.compared');
    lead.now = T0 + 10 * DAY;
    lead.event('page.viewed', { path: '/careers' });
    expect(lead.state.engagement.score).toBe(10);
    lead.now = T0 + 90 * DAY;
    lead.send({ kind: 'timerDue' });
    expect(lead.state.engagement.score).toBe(-10);
    lead.now = T0 + 100 * DAY;
    lead.send({ kind: 'timerDue' });
    expect(lead.state.engagement.score).toBe(0);
    expect(lead.lastView().scoreBreakdown).toEqual([]);
  });

  it('caps: at most 5 points per rule per period, counted again once the period is over', () => {
    const lead = new Lead(snapshot({}, false));
    for (let i = 0; i < 7; i++) {
      lead.now = T0 + i * 3600_000;
      lead.event('email.opened');
    }
    expect(lead.state.engagement.score).toBe(5);
    expect(lead.timeline()).toContain('email.opened +0 (rule opens-capped, capped from +1) → score 5');
    // 7 days after the period opened (at the first open), a new one begins.
    lead.now = T0 + 7 * DAY - 1;
    lead.event('email.opened');
    expect(lead.state.engagement.score).toBe(5);
    lead.now = T0 + 7 * DAY;
    lead.event('email.opened');
    lead.event('email.opened');
    expect(lead.state.engagement.score).toBe(7);
    expect(lead.state.engagement.caps).toEqual({ 'opens-capped': { since: T0 + 7 * DAY, points: 2 } });
    expect(lead.lastView().scoreBreakdown.every((l) => l.rule === 'opens-capped')).toBe(true);
  });

  it('a capped negative rule takes at most its cap, then a part, then nothing until the next period', () => {
    const lead = new Lead(snapshot({}, false));
    lead.event('product.compared');
    const hiring = { topic: 'hiring' };
    lead.event('webinar.viewed', hiring);
    lead.event('webinar.viewed', hiring);
    lead.event('webinar.viewed', hiring);
    expect(lead.state.engagement.score).toBe(20 - 4 - 2);
    expect(lead.lastView().scoreBreakdown.map((l) => l.points)).toEqual([20, -4, -2]);
    lead.now = T0 + DAY;
    lead.event('webinar.viewed', hiring);
    expect(lead.state.engagement.score).toBe(10);
  });

  it('a reject starts the caps again with the score', () => {
    const lead = new Lead(snapshot({}, false));
    lead.event('email.opened');
    expect(lead.state.engagement.caps).toBeDefined();
    lead.event('product.compared');
    lead.event('product.compared');
    lead.event('pricing.viewed');
    expect(lead.state.stage).toBe('sales_review');
    lead.send({ kind: 'decision', decision: { kind: 'reject', by: 'sam', reason: 'not_ready' } });
    expect(lead.state.engagement.caps).toBeUndefined();
  });
});

describe('fit grade and the minimum grade', () => {
  it('fit points of every matching rule add up, mapped to A–D; null without fit rules', () => {
    const grade = (profile: Partial<LeadProfile>) => gradeOf({ id: 'g', email: 'g@gmail.com', ...profile }, rules);
    expect(grade({})).toBe('D');
    expect(grade({ email: 'g@acme.io' })).toBe('C');
    expect(grade({ email: 'g@acme.io', attributes: { role: 'vp' } })).toBe('B');
    expect(grade({ email: 'g@acme.io', attributes: { role: 'ceo', employees: '200' } })).toBe('A');
    expect(grade({ email: 'g@acme.io', attributes: { role: 'student', employees: 500 } })).toBe('D');
    expect(gradeOf({ id: 'g', email: 'g@acme.io' }, undefined)).toBeNull();
    expect(gradeOf({ id: 'g', email: 'g@acme.io' }, { version: 1 })).toBeNull();
  });

  it('a lead below the minimum grade stays in nurturing and its timeline says why, once; a profile change that fits escalates it', () => {
    const lead = new Lead(snapshot({ minGrade: 'C' }));
    expect(lead.lastView().grade).toBe('D');
    lead.event('product.compared');
    lead.event('product.compared');
    lead.event('pricing.viewed');
    lead.event('webinar.viewed');
    expect(lead.state.engagement.score).toBe(55);
    expect(lead.state.stage).toBe('nurturing');
    expect(lead.timeline().filter((t) => t.includes('below'))).toEqual(['score 50 reached the threshold (50), but grade D is below the C sales review needs: stays in nurturing']);
    const effects = lead.send({ kind: 'profileChange', profile: { email: 'q1@acme.io' } });
    expect(lead.state.stage).toBe('sales_review');
    expect(lead.timeline()).toContain('grade D → C');
    expect(effects.map((e) => e.kind)).toContain('assignOwner');
    // The grade is written with the stage, and kept as the LeadGrade search attribute.
    const attributes = effects.find((e) => e.kind === 'setSearchAttributes');
    expect(attributes).toMatchObject({ changes: { stage: 'sales_review', grade: 'C' } });
    // The owner's answer sends the notification with the grade and each point's rule.
    const notify = lead.send({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: 1, owner: 'olga@example.com' } }).find((e) => e.kind === 'notifySales');
    expect(notify).toMatchObject({ grade: 'C', events: [{ type: 'product.compared', points: 20 }, { type: 'product.compared' }, { type: 'pricing.viewed' }, { type: 'webinar.viewed' }] });
  });

  it('a grade that drops below the requirement while nurturing keeps the lead from review', () => {
    const lead = new Lead(snapshot({ minGrade: 'B' }), { id: 'Q2', email: 'q2@acme.io', attributes: { role: 'vp' } });
    expect(lead.lastView().grade).toBe('B');
    lead.send({ kind: 'profileChange', profile: { attributes: { role: 'student' } } });
    expect(lead.lastView().grade).toBe('D');
    for (let i = 0; i < 3; i++) lead.event('product.compared');
    expect(lead.state.stage).toBe('nurturing');
    expect(lead.timeline().at(-1)).toContain('grade D is below the B sales review needs');
  });

  it('without a minimum grade the threshold alone decides (the default)', () => {
    const lead = new Lead(programSnapshot('onboarding', base));
    expect(lead.lastView().grade).toBe('D');
    for (let i = 0; i < 3; i++) lead.event('product.compared');
    expect(lead.state.stage).toBe('sales_review');
  });
});

describe('rule versions: pinned at enrolment, newer ones through the migration route', () => {
  it('a migration request carrying newer rules applies them from then on; older or equal ones change nothing', () => {
    const lead = new Lead(programSnapshot('onboarding', base));
    lead.event('page.viewed', { path: '/pricing' });
    expect(lead.state.engagement.score).toBe(1);
    const sequence = lead.program.enrolSequence;
    const adopted = lead.send({ kind: 'migrationRequest', sequence, rules });
    // Only the rules are new: no line about the sequence, one about the rules, written at once.
    expect(lead.timeline().at(-1)).toBe('rules v2 apply from now on (were v1)');
    expect(lead.timeline().filter((t) => t.includes('migration'))).toEqual([]);
    expect(lead.lastView().rulesVersion).toBe(2);
    expect(adopted.find((e) => e.kind === 'recordReadModel')).toMatchObject({ view: { rulesVersion: 2 } });
    lead.event('page.viewed', { path: '/pricing' });
    expect(lead.state.engagement.score).toBe(11);
    lead.send({ kind: 'migrationRequest', sequence, rules: DEFAULT_RULES });
    expect(lead.state.rules?.version).toBe(2);
  });
});

describe('the rules check', () => {
  const check = (definition: unknown) => checkRules(definition, Object.keys(DEFAULT_SCORING), KNOWN_ATTRIBUTES);
  it('the default rules pass', () => {
    expect(check(DEFAULT_RULES)).toEqual([]);
  });
  it('unknown event types are errors, unknown attributes warnings', () => {
    const problems = check({
      version: 1,
      scoring: [{ id: 'demo', event: 'demo.booked', points: 30 }],
      fit: { rules: [{ id: 'shoe-size', when: [{ field: 'attributes.shoeSize', atLeast: 40 }], points: 5 }, { id: 'title', when: [{ field: 'jobTitle', exists: true }], points: 5 }], grades: { A: 3, B: 2, C: 1 } },
    });
    expect(problems.map((p) => [p.rule, p.kind, p.severity])).toEqual([
      ['demo', 'unknown-event', 'error'],
      ['shoe-size', 'unknown-attribute', 'warning'],
      ['title', 'unknown-attribute', 'warning'],
    ]);
  });
  it('rules that can never match are flagged: contradictions, shadowed rules, an unreachable minimum grade', () => {
    const problems = check({
      version: 1,
      scoring: [
        { id: 'pricing', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 10 },
        { id: 'pricing-teams', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }, { field: 'plan', equals: 'teams' }], points: 15 },
        { id: 'both-pages', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }, { field: 'path', startsWith: '/careers' }], points: 1 },
        { id: 'range', event: 'form.submitted', when: [{ field: 'seats', atLeast: 10 }, { field: 'seats', atMost: 5 }], points: 1 },
        { id: 'absent', event: 'form.submitted', when: [{ field: 'seats', exists: false }, { field: 'seats', atLeast: 1 }], points: 1 },
        { id: 'either', event: 'form.submitted', when: [{ field: 'form', equals: 'demo' }, { field: 'form', oneOf: ['trial', 'contact'] }], points: 1 },
      ],
      fit: { rules: [{ id: 'big', when: [{ field: 'attributes.employees', atLeast: 50 }], points: 20 }], grades: { A: 60, B: 40, C: 20 } },
      minGrade: 'B',
    });
    expect(problems.map((p) => [p.rule, p.kind])).toEqual([
      ['pricing-teams', 'never-matches'],
      ['both-pages', 'never-matches'],
      ['range', 'never-matches'],
      ['absent', 'never-matches'],
      ['either', 'never-matches'],
      ['rules', 'never-matches'],
    ]);
    expect(problems[0]!.message).toContain('rule "pricing" comes first');
  });
  it('a malformed model is one error per issue', () => {
    expect(check({ version: 1, minGrade: 'B' }).map((p) => p.kind)).toEqual(['invalid']);
  });
});
