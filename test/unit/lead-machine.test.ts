import { describe, expect, it } from 'vitest';
import { addDuration } from '../../src/domain/duration.js';
import { ErrorCodes } from '../../src/domain/errors.js';
import type { LeadStage } from '../../src/domain/lead.js';
import {
  RECENT_ITEMS_KEPT,
  SCORE_WRITE_DELAY_MS,
  STEPS_WITHOUT_WAIT_MAX,
  checkDecision,
  fromV1,
  leadView,
  newLeadState,
  reduce,
  scoreOf,
  wakeAt,
  type LeadContext,
  type LeadEffect,
  type LeadInput,
  type LeadMachineState,
} from '../../src/domain/lead/index.js';
import { defaultProgram, onboarding, programSnapshot, sequences } from '../../src/sequences/catalog.js';
import { SequenceSchema, type Program, type ProgramSnapshot, type SequenceDefinition } from '../../src/sequences/model.js';

/** The lead machine, pure: table-driven over (stage, input), then the rules one by one. */

const DAY = 86_400_000;
/** Monday 5 January 2026, 10:00 UTC. */
const T0 = Date.UTC(2026, 0, 5, 10);
const anyHour: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };
const program = programSnapshot('onboarding', anyHour);
const profile = { id: 'L1', email: 'l1@example.com', firstName: 'Ada' };
const sequence = (definition: SequenceDefinition) => SequenceSchema.parse(definition);

/** Feeds inputs to the machine, collecting every effect; `at` moves the clock. */
class Lead {
  state: LeadMachineState;
  effects: LeadEffect[] = [];
  now: number;
  constructor(
    readonly program: ProgramSnapshot = programSnapshot('onboarding', anyHour),
    now = T0,
  ) {
    this.now = now;
    this.state = newLeadState(profile, this.ctx());
    this.send({ kind: 'enrolment' });
  }
  ctx(extra: Partial<LeadContext> = {}): LeadContext {
    return { now: this.now, program: this.program, ...extra };
  }
  send(input: LeadInput, extra: Partial<LeadContext> = {}): LeadEffect[] {
    const { state, effects } = reduce(this.state, input, this.ctx(extra));
    this.state = state;
    this.effects.push(...effects);
    return effects;
  }
  /** Moves the clock to `at` and delivers the timer input, as the workflow does when a timer fires. */
  at(at: number): LeadEffect[] {
    this.now = at;
    return this.send({ kind: 'timerDue' });
  }
  /** Answers the marketing email in flight. */
  answer(outcome: 'sent' | 'templateMissing' = 'sent'): LeadEffect[] {
    const sendKey = this.state.emailInFlight!.sendKey;
    return this.send({ kind: 'effectResult', result: { kind: 'emailAnswered', sendKey, outcome } });
  }
  event(type: string, eventId = `e-${++eventNo}`): LeadEffect[] {
    return this.send({ kind: 'engagement', event: { eventId, type, occurredAt: new Date(this.now).toISOString() } });
  }
  sent(): string[] {
    return this.effects.flatMap((e) => (e.kind === 'sendMarketingEmail' ? [e.template] : []));
  }
}
let eventNo = 0;
const kinds = (effects: LeadEffect[]) => effects.map((e) => e.kind);

/** A lead in each stage, parked (nothing in flight, the read model up to date). */
function leadIn(stage: LeadStage | 'unsubscribed'): Lead {
  const lead = new Lead();
  lead.answer();
  if (stage === 'nurturing') return lead;
  if (stage === 'unsubscribed') {
    lead.send({ kind: 'unsubscribe' });
    return lead;
  }
  if (stage === 'disqualified') {
    lead.send({ kind: 'decision', decision: { kind: 'disqualify', by: 'admin', reason: 'spam' } });
    return lead;
  }
  lead.event('product.compared');
  lead.event('product.compared');
  lead.event('pricing.viewed');
  lead.send({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: 1, owner: 'olga@example.com' } });
  if (stage === 'accepted') lead.send({ kind: 'decision', decision: { kind: 'accept', by: 'sam' } });
  return lead;
}

const v2 = sequence({ ...onboarding, version: 2 });
const webinarInvite = sequences['webinar-invite']!;
const inputs: Record<string, (lead: Lead) => LeadInput> = {
  'engagement (scored)': (lead) => ({ kind: 'engagement', event: { eventId: `x-${lead.now}`, type: 'page.viewed', occurredAt: '2026-01-05T10:00:00.000Z' } }),
  'engagement (repeated eventId)': () => ({ kind: 'engagement', event: { eventId: 'e-1', type: 'product.compared', occurredAt: '2026-01-05T10:00:00.000Z' } }),
  'engagement (constructor)': () => ({ kind: 'engagement', event: { eventId: 'proto-1', type: 'constructor', occurredAt: '2026-01-05T10:00:00.000Z' } }),
  'profile change': () => ({ kind: 'profileChange', profile: { firstName: 'Grace' } }),
  accept: () => ({ kind: 'decision', decision: { kind: 'accept', by: 'sam' } }),
  reject: () => ({ kind: 'decision', decision: { kind: 'reject', by: 'sam', reason: 'no_budget' } }),
  disqualify: () => ({ kind: 'decision', decision: { kind: 'disqualify', by: 'sam', reason: 'spam' } }),
  unsubscribe: () => ({ kind: 'unsubscribe' }),
  'migration request': () => ({ kind: 'migrationRequest', sequence: v2 }),
  'campaign enrolment': () => ({ kind: 'campaignEnrolment', campaignId: 'spring', sequence: webinarInvite }),
  'timer due (nothing due)': () => ({ kind: 'timerDue' }),
  'effect result (stale email)': () => ({ kind: 'effectResult', result: { kind: 'emailAnswered', sendKey: 'nope', outcome: 'sent' } }),
  'effect result (owner of a review that never was)': () => ({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: 9, owner: 'x' } }),
};

const W = ['recordReadModel', 'setSearchAttributes'];
/** stage after, effects, per (stage, input). */
const table: Record<string, Record<string, [LeadStage, string[]]>> = {
  nurturing: {
    'engagement (scored)': ['nurturing', []],
    'engagement (repeated eventId)': ['nurturing', []],
    'engagement (constructor)': ['nurturing', []],
    'profile change': ['nurturing', []],
    accept: ['nurturing', []],
    reject: ['nurturing', []],
    disqualify: ['disqualified', W],
    unsubscribe: ['nurturing', W],
    'migration request': ['nurturing', W], // applied at once: the lead sits at a wait
    'campaign enrolment': ['nurturing', [...W, 'sendMarketingEmail']], // onboarding ends, the invite goes
    'timer due (nothing due)': ['nurturing', []],
    'effect result (stale email)': ['nurturing', []],
    'effect result (owner of a review that never was)': ['nurturing', []],
  },
  unsubscribed: {
    'engagement (scored)': ['nurturing', []],
    'engagement (repeated eventId)': ['nurturing', []],
    'engagement (constructor)': ['nurturing', []],
    'profile change': ['nurturing', []],
    accept: ['nurturing', []],
    reject: ['nurturing', []],
    disqualify: ['disqualified', W],
    unsubscribe: ['nurturing', []],
    'migration request': ['nurturing', W],
    'campaign enrolment': ['nurturing', []], // refused: unsubscribed
    'timer due (nothing due)': ['nurturing', []],
    'effect result (stale email)': ['nurturing', []],
    'effect result (owner of a review that never was)': ['nurturing', []],
  },
  sales_review: {
    'engagement (scored)': ['sales_review', []],
    'engagement (repeated eventId)': ['sales_review', []],
    'engagement (constructor)': ['sales_review', []],
    'profile change': ['sales_review', []],
    accept: ['accepted', W],
    reject: ['nurturing', W],
    disqualify: ['disqualified', W],
    unsubscribe: ['sales_review', W],
    'migration request': ['sales_review', []], // kept for the next wait: the sequence pauses in review
    'campaign enrolment': ['sales_review', []], // refused: in review
    'timer due (nothing due)': ['sales_review', []],
    'effect result (stale email)': ['sales_review', []],
    'effect result (owner of a review that never was)': ['sales_review', []],
  },
  accepted: Object.fromEntries(Object.keys(inputs).map((name) => [name, ['accepted', []]])),
  disqualified: Object.fromEntries(Object.keys(inputs).map((name) => [name, ['disqualified', []]])),
};

describe('reduce: every input in every stage', () => {
  for (const [stage, row] of Object.entries(table)) {
    for (const [name, [after, effects]] of Object.entries(row)) {
      it(`${stage} + ${name} → ${after}, effects [${effects.join(', ')}]`, () => {
        const lead = leadIn(stage as LeadStage);
        lead.now += 60_000;
        const before = structuredClone(lead.state);
        const out = lead.send(inputs[name]!(lead));
        expect(lead.state.stage).toBe(after);
        expect(kinds(out)).toEqual(effects);
        // reduce never changes the state it was given.
        expect(before).toEqual(structuredClone(before));
        if (['accepted', 'disqualified'].includes(stage)) expect(lead.state.published).toEqual(before.published);
      });
    }
  }
});

describe('reduce: the rules', () => {
  it('enrols: records the lead, sets the search attributes that differ, sends the first email at once', () => {
    const lead = new Lead();
    expect(kinds(lead.effects)).toEqual(['recordReadModel', 'setSearchAttributes', 'sendMarketingEmail']);
    // As the API starts a lead: its search attributes, the fit grade among them, in the start options.
    const seeded = newLeadState(profile, { now: T0, program }, { stage: 'nurturing', score: 0, sequence: 'onboarding@v1', reviewCount: 0, unsubscribed: false, grade: 'C' });
    expect(kinds(reduce(seeded, { kind: 'enrolment' }, { now: T0, program }).effects)).toEqual(['recordReadModel', 'sendMarketingEmail']);
    // The welcome went: the lead parks at the 2-day wait, the read model shows step 1.
    const parked = lead.answer();
    expect(kinds(parked)).toEqual(['recordReadModel']);
    expect(parked[0]).toMatchObject({ revision: 2, view: { sequence: { step: 1 }, nextActionAt: new Date(T0 + 2 * DAY).toISOString() } });
    expect(wakeAt(lead.state, lead.ctx())).toEqual({ lead: T0 + 2 * DAY });
  });

  it('a fired timer is due even when the clock reads earlier (a worker that took over read a stale clock)', () => {
    const lead = new Lead();
    lead.answer();
    const due = wakeAt(lead.state, lead.ctx()).lead!;
    expect(due).toBe(T0 + 2 * DAY);
    // The clock of the workflow task says seconds before the wake time; the timer says it is due.
    lead.now = due - 3_000;
    expect(kinds(lead.send({ kind: 'timerDue', at: due }))).toContain('sendMarketingEmail');
    // Without a timer's time, an input at that clock sends nothing: the step is not due yet.
    const other = new Lead();
    other.answer();
    other.now = due - 3_000;
    expect(kinds(other.send({ kind: 'timerDue' }))).not.toContain('sendMarketingEmail');
  });

  it('a change of the score alone is written once, coalesced, with a newer revision', () => {
    const lead = leadIn('nurturing');
    const revision = lead.state.published.revision;
    expect(lead.event('page.viewed')).toEqual([]);
    expect(wakeAt(lead.state, lead.ctx())).toEqual({ lead: T0 + 2 * DAY, readModel: T0 + SCORE_WRITE_DELAY_MS });
    lead.now += 500;
    expect(lead.event('email.opened')).toEqual([]);
    expect(wakeAt(lead.state, lead.ctx()).readModel).toBe(T0 + SCORE_WRITE_DELAY_MS);
    const flush = lead.at(T0 + SCORE_WRITE_DELAY_MS);
    expect(flush).toEqual([
      expect.objectContaining({ kind: 'recordReadModel', revision: revision + 1, view: expect.objectContaining({ score: 2 }) }),
      { kind: 'setSearchAttributes', changes: { score: 2 } },
    ]);
    expect(wakeAt(lead.state, lead.ctx())).toEqual({ lead: T0 + 2 * DAY });
  });

  it('escalates at the threshold: written at once, the owner assigned, then sales notified', () => {
    const lead = leadIn('nurturing');
    lead.event('product.compared');
    lead.event('product.compared');
    const crossing = lead.event('pricing.viewed');
    expect(kinds(crossing)).toEqual(['recordReadModel', 'setSearchAttributes', 'assignOwner']);
    expect(crossing[1]).toEqual({ kind: 'setSearchAttributes', changes: { stage: 'sales_review', score: 50, reviewCount: 1 } });
    const owned = lead.send({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: 1, owner: 'olga@example.com' } });
    expect(kinds(owned)).toEqual(['recordReadModel', 'setSearchAttributes', 'notifySales']);
    expect(owned[2]).toMatchObject({ sendKey: 'L1:sales-review:1', score: 50, owner: 'olga@example.com', events: [{ type: 'product.compared' }, { type: 'product.compared' }, { type: 'pricing.viewed' }] });
  });

  it('refuses decisions through the same check the Update validator runs', () => {
    const nurturing = leadIn('nurturing').state;
    expect(checkDecision(nurturing, { kind: 'accept', by: 'sam' })).toMatchObject({ code: 'not_in_review' });
    const review = leadIn('sales_review').state;
    expect(checkDecision(review, { kind: 'accept', by: 'sam' })).toBeUndefined();
    expect(checkDecision(review, { kind: 'accept', by: '  ' })).toMatchObject({ code: ErrorCodes.invalidDecision });
    for (const reason of ['__proto__', 'constructor', 'toString', 'maybe']) {
      expect(checkDecision(review, { kind: 'reject', by: 'sam', reason } as never)).toMatchObject({ code: ErrorCodes.invalidDecision });
    }
    expect(checkDecision(leadIn('accepted').state, { kind: 'disqualify', by: 'sam', reason: 'x' })).toMatchObject({ code: 'lead_closed' });
  });

  it('takes names only as own keys: constructor, __proto__, toString score nothing and crash nothing', () => {
    const lead = leadIn('nurturing');
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) lead.event(type);
    expect(lead.state.engagement.score).toBe(0);
    expect(Object.keys(lead.state.engagement.lastSeen)).toEqual([]);
    expect(Object.getPrototypeOf(lead.state.engagement.lastSeen)).toBe(Object.prototype);
  });

  it('defect: no marketing email while in review, even one whose send time was set before the escalation', () => {
    // Window 09:00-10:00 UTC: the second email (after 2 days) waits for it.
    const windowed: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '09:00', end: '10:00' } } };
    const lead = new Lead(programSnapshot('onboarding', windowed));
    lead.answer();
    lead.at(T0 + 2 * DAY); // 10:00: past the window, the email waits for tomorrow 09:00
    expect(lead.state.sequence.sendAt).toBe(T0 + 3 * DAY - 3_600_000);
    lead.event('product.compared');
    lead.event('product.compared');
    lead.event('pricing.viewed');
    expect(lead.state.stage).toBe('sales_review');
    lead.at(T0 + 3 * DAY);
    lead.at(T0 + 20 * DAY);
    expect(lead.sent()).toEqual(['welcome']);
  });

  it('defect: the SLA keeps working after the manager was told (again every SLA period)', () => {
    const lead = leadIn('sales_review');
    const since = lead.state.review!.since;
    let due = addDuration(since, '2 business days')!;
    const levels: Array<[number, string]> = [];
    for (let i = 0; i < 4; i++) {
      for (const e of lead.at(due)) if (e.kind === 'remindSales') levels.push([e.level, e.sendKey]);
      expect(lead.state.review!.dueAt).toBe(addDuration(due, '2 business days'));
      due = lead.state.review!.dueAt!;
    }
    expect(levels).toEqual([
      [1, 'L1:sales-review:1:sla-1'],
      [2, 'L1:sales-review:1:sla-2'],
      [2, 'L1:sales-review:1:sla-2-r1'],
      [2, 'L1:sales-review:1:sla-2-r2'],
    ]);
    expect(leadView(lead.state, lead.ctx()).review).toMatchObject({ slaState: 'escalated' });
    expect(lead.state.slaBreaches).toBe(1);
  });

  it('defect: read-model revisions only grow, whatever the inputs', () => {
    const lead = leadIn('sales_review');
    lead.send({ kind: 'decision', decision: { kind: 'reject', by: 'sam', reason: 'not_ready' } });
    lead.event('page.viewed');
    lead.at(lead.now + DAY);
    lead.send({ kind: 'unsubscribe' });
    const revisions = lead.effects.flatMap((e) => (e.kind === 'recordReadModel' ? [e.revision] : []));
    expect(revisions.length).toBeGreaterThan(5);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
  });

  it('defect: the owner is cleared on reject (view and search attribute)', () => {
    const lead = leadIn('sales_review');
    expect(lead.state.owner).toBe('olga@example.com');
    const out = lead.send({ kind: 'decision', decision: { kind: 'reject', by: 'sam', reason: 'no_fit' } });
    expect(lead.state.owner).toBeNull();
    expect(out.find((e) => e.kind === 'setSearchAttributes')).toMatchObject({ changes: { stage: 'nurturing', score: 0, sequence: 'recycle@v1', owner: null } });
    expect(out.find((e) => e.kind === 'recordReadModel')).toMatchObject({ view: { owner: null, review: null, score: 0 } });
  });

  it('defect: `exit when eventSeen` counts the current enrolment only', () => {
    const recycle = sequence({
      id: 'recycle-exit',
      version: 1,
      description: 'test',
      steps: [
        { kind: 'exit', when: { eventSeen: 'form.submitted' } },
        { kind: 'email', template: 'recycle-checkin' },
      ],
    });
    const lead = new Lead({ ...programSnapshot('onboarding', anyHour), recycleSequence: recycle });
    lead.answer();
    lead.event('form.submitted');
    lead.event('product.compared');
    lead.event('product.compared');
    lead.now += 60_000;
    lead.send({ kind: 'decision', decision: { kind: 'reject', by: 'sam', reason: 'other' } });
    // The form came in the first enrolment: the recycle sequence does not exit on it.
    expect(lead.sent()).toEqual(['welcome', 'recycle-checkin']);
  });

  it('defect: the loop guard cannot be evaded by frequency-cap waits', () => {
    const loop = sequence({ id: 'no-wait-loop', version: 1, description: 'test', steps: [{ label: 'top', kind: 'email', template: 'welcome' }, { kind: 'goto', to: 'top' }] });
    const lead = new Lead({ ...anyHour, enrolSequence: loop });
    for (let i = 0; i < 200 && (lead.state.emailInFlight || wakeAt(lead.state, lead.ctx()).lead !== undefined); i++) {
      if (lead.state.emailInFlight) lead.answer();
      else lead.at(wakeAt(lead.state, lead.ctx()).lead!);
    }
    expect(lead.sent()).toHaveLength(STEPS_WITHOUT_WAIT_MAX / 2);
    expect(lead.state.timeline.at(-1)!.text).toBe(`no-wait-loop@v1 stopped at step 0: ${STEPS_WITHOUT_WAIT_MAX} steps without a wait`);
    expect(lead.now - T0).toBeGreaterThan(7 * DAY); // the cap did make it wait in between
  });

  it('a missing template skips the step with a line in the timeline', () => {
    const lead = new Lead();
    lead.answer('templateMissing');
    expect(lead.state.sequence.step).toBe(1);
    expect(lead.state.timeline.at(-1)!.text).toBe('welcome skipped: the template does not exist (onboarding@v1 step 0)');
  });

  it('asks to continue as new when the history is long, never with an email in flight', () => {
    const lead = new Lead();
    expect(lead.send({ kind: 'timerDue' }, { historyIsLong: true }).map((e) => e.kind)).not.toContain('continueAsNew');
    lead.answer();
    expect(lead.send({ kind: 'timerDue' }, { historyIsLong: true }).map((e) => e.kind)).toContain('continueAsNew');
  });

  it('notes its rollover once per run, however many inputs come while it waits to roll over', () => {
    const lead = new Lead();
    lead.answer();
    const continued = () => lead.state.timeline.filter((t) => t.kind === 'continued').length;
    for (let i = 0; i < 5; i++) lead.send({ kind: 'engagement', event: { eventId: `wait-${i}`, type: 'page.viewed', occurredAt: new Date(lead.now).toISOString() } }, { historyIsLong: true });
    expect(continued()).toBe(1);
    // The next run starts from this state: its own rollover gets its own line.
    lead.send({ kind: 'enrolment', resumed: {} });
    lead.send({ kind: 'engagement', event: { eventId: 'next-run', type: 'page.viewed', occurredAt: new Date(lead.now).toISOString() } }, { historyIsLong: true });
    lead.send({ kind: 'engagement', event: { eventId: 'next-run-2', type: 'page.viewed', occurredAt: new Date(lead.now).toISOString() } }, { historyIsLong: true });
    expect(continued()).toBe(2);
  });

  it('keeps its state bounded: 20,000 events to a lead in review', () => {
    const lead = leadIn('sales_review');
    const types = Object.keys(defaultProgram.scoring);
    for (let i = 0; i < 20_000; i++) {
      lead.now += 60_000;
      lead.event(types[i % types.length]!, `bulk-${i}`);
    }
    const size = JSON.stringify(lead.state).length;
    expect(size).toBeLessThan(128 * 1024);
    expect(lead.state.engagement.recent).toHaveLength(RECENT_ITEMS_KEPT);
    expect(lead.state.engagement.score).toBe(scoreOf(lead.state.engagement));
    // Every activity input is bounded too: the read model and the notification carry the breakdown.
    const view = leadView(lead.state, lead.ctx());
    expect(JSON.stringify(view).length).toBeLessThan(64 * 1024);
  });

  it('converts a first-engine state at continue-as-new', () => {
    const v1 = {
      stage: 'sales_review' as const,
      score: 50,
      reviewCount: 1,
      unsubscribed: false,
      enrolledAt: new Date(T0).toISOString(),
      sequence: { id: 'onboarding', version: 1, step: 1, enrolment: 1 },
      scoredEvents: [{ eventId: 'a', type: 'product.compared', points: 50, occurredAt: 'x' }],
      seenEventIds: ['a'],
      review: { reviewNo: 1, since: T0, owner: 'olga', dueAt: T0 + DAY, expiries: 0 },
      owner: 'olga',
    };
    const state = fromV1(profile, v1, { transitions: [], decisions: [], escalations: [], slaBreaches: [] });
    const { effects } = reduce(state, { kind: 'enrolment', resumed: { escalations: [] } }, { now: T0 + 1000, program });
    expect(state.engagement.score).toBe(50);
    expect(kinds(effects)).toEqual(['recordReadModel', 'setSearchAttributes']);
    const reminded = reduce(state, { kind: 'timerDue' }, { now: T0 + DAY, program });
    expect(kinds(reminded.effects)).toContain('remindSales');
  });
});
