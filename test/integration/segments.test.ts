import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Segment } from '../../src/domain/segment.js';
import { segmentDryRun, segmentPage } from '../../src/leads/segment.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** Segments over a scripted population in a real PostgreSQL: each filter alone, then combined, then paged. */

let pg: TestPostgres;

interface Scripted {
  id: string;
  stage?: string;
  score?: number;
  grade?: string | null;
  attributes?: Record<string, unknown>;
  /** Days since the lead was created. */
  ageDays?: number;
  /** Days since each of its events occurred. */
  eventsDaysAgo?: number[];
}

const population: Scripted[] = [
  { id: 'a-fintech-hot', stage: 'nurturing', score: 35, grade: 'A', attributes: { industry: 'fintech', seats: 20 }, ageDays: 90, eventsDaysAgo: [45, 40] },
  { id: 'b-fintech-cold', stage: 'nurturing', score: 5, grade: 'B', attributes: { industry: 'fintech' }, ageDays: 90, eventsDaysAgo: [60] },
  { id: 'c-fintech-busy', stage: 'nurturing', score: 25, grade: 'A', attributes: { industry: 'fintech', seats: '20' }, ageDays: 90, eventsDaysAgo: [50, 2] },
  { id: 'd-retail', stage: 'nurturing', score: 40, grade: 'C', attributes: { industry: 'retail' }, ageDays: 90 },
  { id: 'e-review', stage: 'sales_review', score: 55, grade: 'A', attributes: { industry: 'fintech' }, ageDays: 10, eventsDaysAgo: [1] },
  { id: 'f-accepted', stage: 'accepted', score: 70, grade: null, attributes: { industry: 'fintech', vip: true }, ageDays: 200 },
  { id: 'g-new', stage: 'nurturing', score: 20, grade: null, attributes: { industry: 'fintech' }, ageDays: 3 },
  { id: 'h-nested', stage: 'nurturing', score: 0, grade: 'D', attributes: { industry: ['fintech'] }, ageDays: 90 },
];

beforeAll(async () => {
  pg = await startTestPostgres();
  for (const lead of population) {
    await pg.pool.query(
      `INSERT INTO leads (id, email, enrol_sequence, stage, score, grade, attributes, created_at)
       VALUES ($1, $1 || '@example.com', 'onboarding', $2, $3, $4, $5, now() - make_interval(days => $6))`,
      [lead.id, lead.stage ?? 'nurturing', lead.score ?? 0, lead.grade ?? null, JSON.stringify(lead.attributes ?? {}), lead.ageDays ?? 0],
    );
    for (const [i, days] of (lead.eventsDaysAgo ?? []).entries()) {
      await pg.pool.query(`INSERT INTO lead_events (lead_id, event_id, type, occurred_at) VALUES ($1, $2, 'page.viewed', now() - make_interval(days => $3))`, [lead.id, `ev-${i}`, days]);
    }
  }
});
afterAll(async () => {
  await pg?.stop();
});

const ids = async (segment: Segment) => (await segmentDryRun(pg.pool, segment)).sample;

describe('segment filters over the read model', () => {
  it('an empty segment is every lead, in id order', async () => {
    expect(await segmentDryRun(pg.pool, {})).toEqual({ matched: population.length, sample: population.map((l) => l.id).sort() });
  });

  it('stages', async () => {
    expect(await ids({ stages: ['sales_review', 'accepted'] })).toEqual(['e-review', 'f-accepted']);
  });

  it('score range, both ends inclusive', async () => {
    expect(await ids({ scoreMin: 20 })).toEqual(['a-fintech-hot', 'c-fintech-busy', 'd-retail', 'e-review', 'f-accepted', 'g-new']);
    expect(await ids({ scoreMin: 20, scoreMax: 35 })).toEqual(['a-fintech-hot', 'c-fintech-busy', 'g-new']);
    expect(await ids({ scoreMax: 5 })).toEqual(['b-fintech-cold', 'h-nested']);
  });

  it('grades: a lead without a grade matches none', async () => {
    expect(await ids({ grades: ['A'] })).toEqual(['a-fintech-hot', 'c-fintech-busy', 'e-review']);
    expect(await ids({ grades: ['C', 'D'] })).toEqual(['d-retail', 'h-nested']);
  });

  it('attributes: JSON equality per key (a number is not its string, an array is not its element)', async () => {
    expect(await ids({ attributes: { industry: 'fintech' } })).toEqual(['a-fintech-hot', 'b-fintech-cold', 'c-fintech-busy', 'e-review', 'f-accepted', 'g-new']);
    expect(await ids({ attributes: { industry: 'fintech', seats: 20 } })).toEqual(['a-fintech-hot']);
    expect(await ids({ attributes: { seats: '20' } })).toEqual(['c-fintech-busy']);
    expect(await ids({ attributes: { vip: true } })).toEqual(['f-accepted']);
    expect(await ids({ attributes: { industry: 'none' } })).toEqual([]);
  });

  it('inactivity: no event occurred for that long, and a lead without events is at least that old', async () => {
    // c had an event 2 days ago; e one yesterday; g is 3 days old with none.
    expect(await ids({ inactiveFor: '30 days' })).toEqual(['a-fintech-hot', 'b-fintech-cold', 'd-retail', 'f-accepted', 'h-nested']);
    expect(await ids({ inactiveFor: '42 days' })).toEqual(['b-fintech-cold', 'd-retail', 'f-accepted', 'h-nested']);
    expect(await ids({ inactiveFor: '36 hours' })).toEqual(['a-fintech-hot', 'b-fintech-cold', 'c-fintech-busy', 'd-retail', 'f-accepted', 'g-new', 'h-nested']);
  });

  it('explicit lead ids, unknown ones ignored', async () => {
    expect(await ids({ leadIds: ['g-new', 'a-fintech-hot', 'nobody'] })).toEqual(['a-fintech-hot', 'g-new']);
  });

  it("marketing's everyday segment: nurturing fintech leads with 20 points or more, quiet for 30 days", async () => {
    expect(await segmentDryRun(pg.pool, { stages: ['nurturing'], attributes: { industry: 'fintech' }, scoreMin: 20, inactiveFor: '30 days' })).toEqual({ matched: 1, sample: ['a-fintech-hot'] });
  });

  it('pages by id: every match once, in order, the last page short', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: string[] = await segmentPage(pg.pool, { attributes: { industry: 'fintech' } }, { after, limit: 4 });
      seen.push(...page);
      if (page.length < 4) break;
      after = page.at(-1)!;
    }
    expect(seen).toEqual(['a-fintech-hot', 'b-fintech-cold', 'c-fintech-busy', 'e-review', 'f-accepted', 'g-new']);
  });
});
