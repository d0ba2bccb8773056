import { describe, expect, it } from 'vitest';
import { checkProgramChange, replayLead, simulateLead, simulationReport, withChange, type RecordedDecision, type RecordedLead } from '../../src/domain/simulation.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';
import type { ProgramSnapshot } from '../../src/sequences/model.js';

const program: ProgramSnapshot = programSnapshot('onboarding', defaultProgram);
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const MINUTE = 60_000;

/** A past lead: events of `types` one minute apart from T0 (+ `offsets` in minutes where given), with decisions and real escalations. */
function lead(id: string, types: Array<string | [string, number]>, extra: Partial<RecordedLead> = {}): RecordedLead {
  return {
    profile: { id, email: `${id}@example.com` },
    program,
    enrolledAt: T0,
    events: types.map((t, i) => {
      const [type, minute] = typeof t === 'string' ? [t, i + 1] : t;
      return { at: T0 + minute * MINUTE, event: { eventId: `${id}-e${i + 1}`, type, occurredAt: new Date(T0 + minute * MINUTE).toISOString() } };
    }),
    decisions: [],
    escalations: [],
    won: [],
    ...extra,
  };
}
const at = (minute: number) => T0 + minute * MINUTE;
const decision = (minute: number, reviewNo: number, kind: RecordedDecision['decision'], reason: string | null = null): RecordedDecision => ({ at: at(minute), reviewNo, decision: kind, reason, by: 'olga@example.com' });

describe('the replay of a past lead through the lead machine', () => {
  it('escalates where the threshold is crossed, at the score the machine reached', () => {
    const ada = lead('ada', ['product.compared', 'product.compared', 'pricing.viewed', 'page.viewed']);
    expect(replayLead(ada, program)).toEqual([{ at: at(3), score: 50, reviewNo: 1, eventId: 'ada-e3' }]);
    expect(replayLead(ada, withChange(program, { threshold: 40 }))).toEqual([{ at: at(2), score: 40, reviewNo: 1, eventId: 'ada-e2' }]);
    expect(replayLead(ada, withChange(program, { scoring: { 'product.compared': 25 } }))).toEqual([{ at: at(2), score: 50, reviewNo: 1, eventId: 'ada-e2' }]);
  });

  it('takes a decision only while the replayed lead is in review; a rejection resets the score and the lead can escalate again', () => {
    // Real: 50 at e3 → review 1, rejected at minute 10; then 40 more points: no second review at 50.
    const grace = lead('grace', ['product.compared', 'product.compared', 'pricing.viewed', ['product.compared', 11], ['product.compared', 12]], { decisions: [decision(10, 1, 'rejected', 'not_ready')] });
    expect(replayLead(grace, program).map((e) => [e.reviewNo, e.eventId, e.score])).toEqual([[1, 'grace-e3', 50]]);
    // At 40: review 1 at e2, the rejection still comes at minute 10, and e4 + e5 reach 40 again: review 2.
    expect(replayLead(grace, withChange(program, { threshold: 40 })).map((e) => [e.reviewNo, e.eventId, e.score])).toEqual([
      [1, 'grace-e2', 40],
      [2, 'grace-e5', 40],
    ]);
    // At 100 the lead never reaches review: the rejection (and an acceptance) have nothing to decide.
    const accepted = { ...grace, decisions: [decision(10, 1, 'accepted')] };
    expect(replayLead(accepted, withChange(program, { threshold: 100 }))).toEqual([]);
    // Accepted for real at 50: the later events score nothing (a closed lead).
    expect(replayLead(accepted, withChange(program, { threshold: 40 })).map((e) => e.eventId)).toEqual(['grace-e2']);
  });

  it('lets points older than the decay age stop counting, as the workflow does at its timer', () => {
    const late = lead('late', [
      ['product.compared', 1],
      ['product.compared', 2],
      ['pricing.viewed', 91 * 24 * 60],
    ]);
    expect(replayLead(late, program)).toEqual([]);
    const { decay: _decay, ...noDecay } = program;
    expect(replayLead(late, noDecay).map((e) => e.score)).toEqual([50]);
    // Within the decay age the points add up.
    expect(replayLead(lead('soon', [['product.compared', 1], ['product.compared', 2], ['pricing.viewed', 89 * 24 * 60]]), program).map((e) => e.score)).toEqual([50]);
  });

  it('keeps a capped rule within its cap per period, counted from the events\' times', () => {
    // Pricing pages give 15 each, at most 30 a day.
    const capped: ProgramSnapshot = { ...program, rules: { version: 1, scoring: [{ id: 'pricing-visits', event: 'pricing.viewed', points: 15, cap: { points: 30, per: '1 day' } }] } };
    const sameDay = lead('cap', ['pricing.viewed', 'pricing.viewed', 'pricing.viewed', 'pricing.viewed', 'product.compared']);
    // 15 + 15 + 0 + 0 + 20 = 50 at the fifth event.
    expect(replayLead(sameDay, capped).map((e) => [e.eventId, e.score])).toEqual([['cap-e5', 50]]);
    // Two a day, a day apart: the second day's period opens with its first visit, 60 at the fourth.
    const spread = lead('spread', [['pricing.viewed', 1], ['pricing.viewed', 2], ['pricing.viewed', 24 * 60 + 1], ['pricing.viewed', 24 * 60 + 2]]);
    expect(replayLead(spread, capped).map((e) => [e.eventId, e.score])).toEqual([['spread-e4', 60]]);
    // A capped rule's points change like any rule's: at 25 points and a threshold of 25 the first visit escalates, at 15 the second.
    expect(replayLead(sameDay, withChange(capped, { threshold: 25, scoring: { 'pricing-visits': 25 } })).map((e) => [e.eventId, e.score])).toEqual([['cap-e1', 25]]);
    expect(replayLead(sameDay, withChange(capped, { threshold: 25 })).map((e) => [e.eventId, e.score])).toEqual([['cap-e2', 30]]);
  });

  it('replays a lost outcome that recycled the lead: back to nurturing at its time, and the second escalation where it really was', () => {
    // Review 1 at e3, accepted at minute 10, lost and recycled at minute 20 (score back to 0), then 50 new points: review 2 at e6.
    const back = lead('back', ['product.compared', 'product.compared', 'pricing.viewed', ['product.compared', 30], ['product.compared', 31], ['pricing.viewed', 32]], {
      decisions: [decision(10, 1, 'accepted')],
      outcomes: [{ at: at(20), reviewNo: 1, report: { by: 'olga@example.com', outcome: 'lost', reason: 'went_dark', recycle: true } }],
      escalations: [
        { at: at(3), score: 50 },
        { at: at(32), score: 50 },
      ],
    });
    expect(replayLead(back, program).map((e) => [e.reviewNo, e.eventId, e.score])).toEqual([
      [1, 'back-e3', 50],
      [2, 'back-e6', 50],
    ]);
    expect(simulateLead(back, {}).unreproduced).toBeUndefined();
    // Without the outcome the replay keeps the lead accepted, and says it cannot give the second review.
    expect(simulateLead({ ...back, outcomes: [] }, {}).unreproduced).toBe('escalated 2 time(s), the replay 1');
    // At 200 (100 points in all: never in review) the acceptance and the outcome have nothing to decide.
    expect(replayLead(back, withChange(program, { threshold: 200 }))).toEqual([]);
    // At 100: no review until e6, when the acceptance and the outcome are long past; one review, never recycled.
    expect(replayLead(back, withChange(program, { threshold: 100 })).map((e) => [e.reviewNo, e.eventId])).toEqual([[1, 'back-e6']]);
  });
});

describe('a simulation over a population', () => {
  // Recorded escalations as the workflow wrote them (a few ms after the event's delivery).
  const population: RecordedLead[] = [
    // 41 points: never escalated; at 40 it does (a new escalation).
    lead('ada', ['product.compared', 'product.compared', 'page.viewed']),
    // 50 at e3, accepted, won: at 40 it escalates a minute earlier.
    lead('ben', ['product.compared', 'product.compared', 'pricing.viewed'], { decisions: [decision(5, 1, 'accepted')], escalations: [{ at: at(3) + 7, score: 50 }], won: [1] }),
    // 20 points: never, at 40 neither.
    lead('cleo', ['form.submitted', 'pricing.viewed']),
    // 50 at e3, rejected; at 40 earlier and once more after the rejection.
    lead('dan', ['product.compared', 'product.compared', 'pricing.viewed', ['product.compared', 11], ['product.compared', 12]], {
      decisions: [decision(10, 1, 'rejected', 'no_budget')],
      escalations: [{ at: at(3) + 4, score: 50 }],
    }),
    // 50 at e3 (20+10+20), then 5 more points: escalates at e3 at 40 too (unchanged); at 55 later, at e8.
    lead('eve', ['product.compared', 'pricing.viewed', 'product.compared', 'page.viewed', 'page.viewed', 'page.viewed', 'page.viewed', 'page.viewed'], { escalations: [{ at: at(3) + 3, score: 50 }] }),
  ];

  it('under the program as it is, reproduces every recorded escalation, with its recorded time', () => {
    const results = population.map((l) => simulateLead(l, {}));
    const report = simulationReport(results);
    expect(report).toMatchObject({ leads: 5, escalations: { now: 3, simulated: 3 }, leadsEscalated: { now: 3, simulated: 3 }, changed: [], newlyEscalated: 0, unreproduced: [] });
    for (const [i, r] of results.entries()) expect(r.simulated).toEqual(population[i]!.escalations.map((e) => new Date(e.at).toISOString()));
  });

  it('with a lower threshold, escalates exactly the expected extra leads and says what sales did with them', () => {
    const report = simulationReport(population.map((l) => simulateLead(l, { threshold: 40 })));
    expect(report.changed).toEqual([
      { leadId: 'ada', change: 'new', now: null, simulated: new Date(at(2)).toISOString(), escalationsNow: [], escalationsSimulated: [new Date(at(2)).toISOString()] },
      { leadId: 'ben', change: 'earlier', now: new Date(at(3) + 7).toISOString(), simulated: new Date(at(2)).toISOString(), escalationsNow: [new Date(at(3) + 7).toISOString()], escalationsSimulated: [new Date(at(2)).toISOString()] },
      {
        leadId: 'dan',
        change: 'earlier',
        now: new Date(at(3) + 4).toISOString(),
        simulated: new Date(at(2)).toISOString(),
        escalationsNow: [new Date(at(3) + 4).toISOString()],
        escalationsSimulated: [new Date(at(2)).toISOString(), new Date(at(12)).toISOString()],
      },
    ]);
    expect(report).toMatchObject({ escalations: { now: 3, simulated: 5 }, leadsEscalated: { now: 3, simulated: 4 }, newlyEscalated: 3, acceptedAmongNew: 1, rejectedAmongNew: 1, wonAmongNew: 1, unreproduced: [] });
  });

  it('with a higher threshold, says which leads no longer escalate', () => {
    const report = simulationReport(population.map((l) => simulateLead(l, { threshold: 55 })));
    expect(report.changed.map((c) => [c.leadId, c.change])).toEqual([
      ['ben', 'gone'],
      // Never in review before the rejection, so nothing resets its 50 points: 70 at e4.
      ['dan', 'later'],
      ['eve', 'later'],
    ]);
    expect(report.changed.find((c) => c.leadId === 'dan')?.simulated).toBe(new Date(at(11)).toISOString());
    expect(report.newlyEscalated).toBe(0);
  });

  it('names the leads whose own program does not give their real escalations', () => {
    const wrong = { ...population[1]!, escalations: [{ at: at(3), score: 45 }] };
    expect(simulateLead(wrong, {}).unreproduced).toBe('review #1 escalated at score 45, the replay at 50');
    expect(simulateLead({ ...population[0]!, escalations: [{ at: at(2), score: 41 }] }, {}).unreproduced).toBe('escalated 1 time(s), the replay 0');
  });
});

describe('a change to the program', () => {
  it('names what it cannot mean as a field of the request', () => {
    const rules = { version: 1, scoring: [{ id: 'docs-pricing', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 8 }] };
    const withRules = { ...program, rules: { ...program.rules!, ...rules } };
    expect(checkProgramChange(withRules, { scoring: { 'product.compared': 25, 'docs-pricing': 12 } })).toEqual([]);
    expect(checkProgramChange(withRules, { scoring: { constructor: 5, 'pricing.viewed': -1, 'docs-pricing': 0 } }).map((p) => p.path)).toEqual([
      'body.program.scoring.constructor',
      'body.program.scoring.pricing.viewed',
      'body.program.scoring.docs-pricing',
    ]);
    const { rules: _rules, ...bare } = program;
    expect(checkProgramChange(bare, { minGrade: 'B' })).toEqual([{ path: 'body.program.minGrade', message: 'minGrade needs fit rules to grade leads' }]);
    const changed = withChange(withRules, { scoring: { 'docs-pricing': 12, 'email.opened': 2 }, minGrade: 'B' });
    expect(changed.rules?.scoring?.[0]?.points).toBe(12);
    expect(changed.rules?.minGrade).toBe('B');
    expect(changed.scoring['email.opened']).toBe(2);
    expect(withRules.rules.scoring[0]!.points).toBe(8);
  });

  it('holds a lead back from review with a stricter grade, as the machine does', () => {
    const student = { ...lead('kid', ['product.compared', 'product.compared', 'pricing.viewed']), profile: { id: 'kid', email: 'kid@gmail.com', attributes: { role: 'student' } } };
    expect(replayLead(student, program)).toHaveLength(1);
    expect(replayLead(student, withChange(program, { minGrade: 'C' }))).toEqual([]);
  });
});
