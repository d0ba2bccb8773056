import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoringReport } from '../../src/leads/calibration.js';
import { simulationOf } from '../../src/leads/simulation.js';
import { defaultProgram } from '../../src/sequences/catalog.js';
import { calibrationPopulation, CREATED, plus, scriptLeads } from '../helpers/population.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * The read side of sales results against a real PostgreSQL: a population scripted row by row
 * (leads, events, transitions, decisions, outcomes), the calibration report's numbers, and the
 * simulation's loader (delivery order and times, undelivered events left out).
 */
let pg: TestPostgres;

beforeAll(async () => {
  pg = await startTestPostgres();
  await scriptLeads(pg.pool, calibrationPopulation());
});

afterAll(async () => {
  await pg?.stop();
});

describe('GET /v1/reports/scoring: the calibration report', () => {
  it('on a scripted population: per rule its leads, their escalations, decisions and wins, the lift and the suggested points', async () => {
    const report = await scoringReport(pg.pool, defaultProgram, { since: new Date('2026-01-01T00:00:00Z') });
    const compared = report.rules.find((r) => r.rule === 'product.compared')!;
    expect(compared).toEqual({
      rule: 'product.compared',
      eventType: 'product.compared',
      kind: 'flat',
      currentPoints: 20,
      leads: 40,
      escalated: 30,
      accepted: 20,
      rejected: 10,
      rejectedByReason: { no_budget: 10 },
      won: 5,
      acceptedRate: 0.5,
      acceptedRateWithout: 0.25,
      lift: 2,
      suggestedPoints: 31,
      sampleSize: { with: 40, without: 60 },
      warning: null,
    });
    // Every lead viewed a page: nobody to compare with.
    expect(report.rules.find((r) => r.rule === 'page.viewed')).toMatchObject({ leads: 100, accepted: 35, lift: null, suggestedPoints: null, warning: 'only 0 lead(s) lacked page.viewed (fewer than 30): nothing to compare its leads with' });
    expect(report.threshold).toEqual({ points: 50, leads: 100, escalated: 50, accepted: 35, rejected: 15, won: 5, acceptanceRate: 0.7 });
    expect(report.since).toBe('2026-01-01T00:00:00.000Z');

    // Without `since` the 2025 leads count: 50 compared products, still 20 accepted → 40 % against 15/60 = 25 %.
    const all = await scoringReport(pg.pool, defaultProgram);
    expect(all.rules.find((r) => r.rule === 'product.compared')).toMatchObject({ leads: 50, accepted: 20, acceptedRate: 0.4, acceptedRateWithout: 0.25 });
    expect(all.rules.find((r) => r.rule === 'product.compared')!.lift).toBeCloseTo(1.6, 10);
  });

  it('covers the conditional rules of the program: an event scored by a rule counts for the rule, not its flat entry', async () => {
    const program = { ...defaultProgram, rules: { version: 2, scoring: [{ id: 'pricing-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 8 }] } };
    const report = await scoringReport(pg.pool, program, { since: new Date('2026-01-01T00:00:00Z') });
    // pv-00..19 viewed /pricing: 15 accepted of 20 (75 %) against 20 of 80 (25 %): lift 3.
    expect(report.rules.find((r) => r.rule === 'pricing-page')).toMatchObject({
      kind: 'conditional',
      eventType: 'page.viewed',
      leads: 20,
      escalated: 20,
      accepted: 15,
      rejectedByReason: { not_ready: 5 },
      lift: 3,
      warning: 'only 20 lead(s) had pricing-page (fewer than 30): too few to trust its lift',
    });
    // 8 × (1 + 20/50 × 2) = 14.4.
    expect(report.rules.find((r) => r.rule === 'pricing-page')!.suggestedPoints).toBe(14);
    // The other 80 still viewed pages by the flat table (cmp-* /features, pv-20..59 /blog).
    expect(report.rules.find((r) => r.rule === 'page.viewed')!.leads).toBe(80);
  });
});

describe('the simulation loader', () => {
  it('replays delivered events in delivery order, leaves undelivered ones out, and applies the recorded decisions', async () => {
    await scriptLeads(pg.pool, [
      // Real: 20+20+10 = 50 at minute 3, rejected at 5, 20+20 = 40 after: no second review. An undelivered event never reached the workflow.
      {
        id: 'sim-dan',
        events: [
          ['product.compared', 1],
          ['product.compared', 2],
          ['pricing.viewed', 3],
          ['product.compared', 6],
          ['product.compared', 7],
          ['pricing.viewed', 8, {}, false],
        ],
        escalations: [[3, 50]],
        decisions: [{ minute: 5, reviewNo: 1, decision: 'rejected', reason: 'not_ready' }],
      },
      // Real: 41 points, never escalated.
      { id: 'sim-ada', events: [['product.compared', 1], ['product.compared', 2], ['page.viewed', 3]] },
    ]);
    const scope = { leadIds: ['sim-dan', 'sim-ada'] };
    const same = await simulationOf(pg.pool, defaultProgram, {}, scope);
    expect(same).toMatchObject({ leads: 2, escalations: { now: 1, simulated: 1 }, changed: [], unreproduced: [] });

    const done: number[] = [];
    const lower = await simulationOf(pg.pool, defaultProgram, { threshold: 40 }, scope, (n) => done.push(n));
    expect(lower.changed).toEqual([
      { leadId: 'sim-ada', change: 'new', now: null, simulated: plus(CREATED, 2), escalationsNow: [], escalationsSimulated: [plus(CREATED, 2)] },
      // Earlier (minute 2), rejected at 5 all the same, then 40 again at minute 7: a second review.
      { leadId: 'sim-dan', change: 'earlier', now: plus(CREATED, 3), simulated: plus(CREATED, 2), escalationsNow: [plus(CREATED, 3)], escalationsSimulated: [plus(CREATED, 2), plus(CREATED, 7)] },
    ]);
    expect(lower).toMatchObject({ newlyEscalated: 2, acceptedAmongNew: 0, rejectedAmongNew: 1, wonAmongNew: 0 });
    expect(done).toEqual([2]);

    // The calibration population's escalations were scripted, not earned (41 or 1 point, escalated at 50):
    // the simulation names each of those 50 leads rather than trust its replay of them.
    const population = await simulationOf(pg.pool, defaultProgram, {}, { since: new Date('2026-01-01T00:00:00Z') });
    expect(population.leads).toBe(102);
    expect(population.unreproduced).toHaveLength(50);
    expect(population.unreproduced[0]).toEqual({ leadId: 'cmp-00', reason: 'escalated 1 time(s), the replay 0' });
  });
});
